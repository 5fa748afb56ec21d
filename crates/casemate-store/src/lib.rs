//! The metadata store: SQLite (WAL, the embedded default) or PostgreSQL, each with its own
//! forward-only migrations, behind one set of operations (see `backend`).
//! Plain data in, plain data out; no policy lives here.
//!
//! Durability: SQLite appends every commit, from any connection, to one write-ahead log in commit
//! order, and a sync of that file makes everything appended before it durable. So ordinary
//! commits go through `pool` without a sync of their own (`synchronous = NORMAL`: never torn,
//! but not yet durable), and commits that must be durable when they return go through
//! `durable`, one connection with `synchronous = FULL`, whose sync also carries every earlier
//! commit. The activity log's outcome records are such commits, and the gate answers no request
//! before its outcome is recorded, so whatever a request changed is durable before its response.
//! On PostgreSQL every commit is durable when it returns (`synchronous_commit = on`).

use crate::backend::Conn;

mod backend;
use backend::{Pools, on_db};

mod activity;
mod container_registries;
pub use container_registries::RegistryManifestRecord;
mod credentials;
mod gate_cache;
mod groups;
mod inline;
pub use gate_cache::{GateCacheCounts, RunOwner};
pub use groups::{GroupMemberRecord, MembershipSource};
pub use inline::InlineReadCounts;
mod keys;
mod monitoring;
pub use monitoring::{RunStatusCount, RunTimes, WorkspaceEventRecord};
mod principals;
mod records;
mod registry;
mod registry_changes;
mod replicas;
pub use registry_changes::RegistryItem;
pub use replicas::ReplicaRecord;
mod run_io;
pub use run_io::RunIoRecord;
mod resources;
mod run_metrics;
pub use run_metrics::{LatestMetric, MetricRecord};
mod runs;
mod secrets;
mod sessions;
pub use sessions::RefreshOutcome;
mod signing_keys;
mod sso;
pub use sso::{CliHandoffRequest, SsoHandoffRecord, SsoSignInRecord};
mod vault_items;
mod webservices;
pub use webservices::{ScoringRecord, ServiceState, ServiceTokenRecord, WebServiceRecord};

pub use activity::{ActivityFilter, ActivityRecord};
pub use keys::{VaultKeyRecord, VaultKeyVersionRecord};
pub use records::*;
pub use registry::{LoggedModelRecord, ModelVersionRecord, RegisteredModelRecord};
pub use resources::{CustomRoleRecord, Provisioning, ResourceRecord};
pub use runs::{
    IN_FLIGHT, LogChunkRecord, ORIGIN_SUBMITTED, ORIGIN_TRACKED, RunRecord, RunTokenRecord,
    SnapshotRecord, TrackingBatch,
};
pub use secrets::{DataKeyRecord, SecretAttributeChange, SecretRecord, SecretVersionRecord};
pub use vault_items::VaultItemKind;

use sqlx::SqlitePool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(String),
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    #[error("opening the inline readers failed: {0}")]
    InlineOpen(#[source] rusqlite::Error),
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &error
            && db.is_unique_violation()
        {
            return Self::Conflict(db.message().to_owned());
        }
        Self::Database(error)
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// The most values bound in one statement: well below SQLite's limit of 32,766, and enough for
/// the largest batches the services send (1,000 metrics, 512 activity records) in one statement.
const MAX_BINDS_PER_STATEMENT: usize = 8_000;

/// Whether a multi-row statement of this many rows stays prepared: one row (one activity
/// record, one tag) recurs; other sizes vary and would crowd the statement cache. (Metric
/// blocks decide for themselves, in `run_metrics`.)
fn keep_prepared(rows: usize) -> bool {
    rows == 1
}

/// Inserts `rows` with multi-row INSERTs (`insert` is `INSERT INTO table (columns) `, `bind`
/// pushes one row's `columns` values), as few as the bind limit allows. Each is one round trip
/// to the database, not one per row.
async fn insert_rows_in<DB, C, T>(
    connection: &mut C,
    insert: &'static str,
    columns: usize,
    rows: &[T],
    bind: impl Fn(&mut sqlx::query_builder::Separated<'_, DB, &'static str>, &T),
) -> StoreResult<()>
where
    DB: sqlx::Database + sqlx::database::HasStatementCache,
    for<'c> &'c mut C: sqlx::Executor<'c, Database = DB>,
    DB::Arguments: sqlx::IntoArguments<DB>,
{
    for chunk in rows.chunks(MAX_BINDS_PER_STATEMENT / columns) {
        let mut builder = sqlx::QueryBuilder::<DB>::new(insert);
        builder.push_values(chunk, |mut row, item| bind(&mut row, item));
        builder
            .build()
            .persistent(keep_prepared(chunk.len()))
            .execute(&mut *connection)
            .await?;
    }
    Ok(())
}

/// `insert_rows_in`, all or nothing: one statement stands alone (a statement applies whole or
/// not at all, so it needs no transaction and no round trips to begin and commit one); more run
/// in one transaction.
async fn insert_rows<DB, T>(
    pool: &sqlx::Pool<DB>,
    insert: &'static str,
    columns: usize,
    rows: &[T],
    bind: impl Fn(&mut sqlx::query_builder::Separated<'_, DB, &'static str>, &T),
) -> StoreResult<()>
where
    DB: sqlx::Database + sqlx::database::HasStatementCache,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    DB::Arguments: sqlx::IntoArguments<DB>,
{
    if rows.len() <= MAX_BINDS_PER_STATEMENT / columns {
        let mut connection = pool.acquire().await?;
        return insert_rows_in(&mut *connection, insert, columns, rows, bind).await;
    }
    let mut tx = pool.begin().await?;
    insert_rows_in(&mut *tx, insert, columns, rows, bind).await?;
    tx.commit().await?;
    Ok(())
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");
static POSTGRES_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations-postgres");

#[derive(Debug, Clone)]
pub struct Store {
    pools: Pools,
    gate_cache: std::sync::Arc<gate_cache::GateCache>,
}

/// Whether a write must be durable when it returns, or may wait for the next durable commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Synced before returning, together with every commit before it.
    Now,
    /// In the write-ahead log, durable with the next `Now` commit (or checkpoint).
    WithNextSync,
}

impl Store {
    /// Opens (creating if needed) the database at `path` and applies pending migrations.
    pub async fn open(path: &Path) -> StoreResult<Self> {
        create_private_file(path)?;
        let options = SqliteConnectOptions::from_str("sqlite:")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        // An SQLite connection is in-process: checking it before each use only costs a round trip
        // to its worker thread.
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .test_before_acquire(false)
            .connect_with(options.clone().synchronous(SqliteSynchronous::Normal))
            .await?;
        MIGRATOR.run(&pool).await?;
        let durable = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .connect_with(options.synchronous(SqliteSynchronous::Full))
            .await?;
        let inline = inline::InlineReads::open(path).map_err(StoreError::InlineOpen)?;
        Ok(Self {
            pools: Pools::Sqlite {
                pool,
                durable,
                inline: std::sync::Arc::new(inline),
            },
            gate_cache: Default::default(),
        })
    }

    /// Connects to the PostgreSQL database at `url` and applies pending migrations. Several
    /// casemate processes may share it.
    pub async fn open_postgres(url: &str) -> StoreResult<Self> {
        let options = PgConnectOptions::from_str(url)?
            .options([("synchronous_commit", "on")])
            .application_name("casemate");
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .connect_with(options)
            .await?;
        POSTGRES_MIGRATOR.run(&pool).await?;
        Ok(Self {
            pools: Pools::Postgres { pool },
            gate_cache: Default::default(),
        })
    }

    /// Creates the database `name` on the PostgreSQL server `admin_url` connects to, unless it
    /// exists, and returns the URL of it: for test harnesses that give each server its own.
    #[doc(hidden)]
    pub async fn create_postgres_database(admin_url: &str, name: &str) -> StoreResult<String> {
        if !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err(StoreError::Conflict(format!(
                "'{name}' is not a plain database name"
            )));
        }
        let options = PgConnectOptions::from_str(admin_url)?;
        let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect_with(&options).await?;
        let exists: Option<i32> =
            sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
                .bind(name)
                .fetch_optional(&mut admin)
                .await?;
        if exists.is_none() {
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&mut admin)
                .await?;
        }
        sqlx::Connection::close(admin).await?;
        let mut url =
            url::Url::parse(admin_url).map_err(|e| StoreError::Conflict(e.to_string()))?;
        url.set_path(&format!("/{name}"));
        Ok(url.to_string())
    }

    /// The SQLite pool, when the store is on SQLite (for tests that play an intruder).
    pub fn sqlite_pool(&self) -> Option<&SqlitePool> {
        match &self.pools {
            Pools::Sqlite { pool, .. } => Some(pool),
            Pools::Postgres { .. } => None,
        }
    }

    /// How the gate's inline reads have fared (SQLite only).
    pub fn inline_read_counts(&self) -> Option<InlineReadCounts> {
        match &self.pools {
            Pools::Sqlite { inline, .. } => Some(inline.counts()),
            Pools::Postgres { .. } => None,
        }
    }

    /// The PostgreSQL pool, when the store is on PostgreSQL.
    pub fn postgres_pool(&self) -> Option<&sqlx::PgPool> {
        match &self.pools {
            Pools::Postgres { pool } => Some(pool),
            Pools::Sqlite { .. } => None,
        }
    }

    pub async fn installation_value(&self, key: &str) -> StoreResult<Option<String>> {
        on_db!(self, |pool, durable| {
            Ok(
                sqlx::query_scalar("SELECT value FROM installation WHERE key = $1")
                    .bind(key)
                    .fetch_optional(pool)
                    .await?,
            )
        })
    }

    /// Sets `key` only if it is unset; returns whether this call set it.
    pub async fn set_installation_value_once(&self, key: &str, value: &str) -> StoreResult<bool> {
        on_db!(self, |pool, durable| {
            let result = sqlx::query(
            "INSERT INTO installation (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
        )
        .bind(key)
        .bind(value)
        .execute(pool)
        .await?;
            Ok(result.rows_affected() == 1)
        })
    }

    /// First start: the installation id, the first administrator and its Owner assignment at `/`,
    /// all or nothing, durable on return. Returns false (changing nothing) when the installation
    /// already exists.
    pub async fn bootstrap_installation(
        &self,
        installation_id: &str,
        admin: &PrincipalRecord,
        owner: &RoleAssignmentRecord,
    ) -> StoreResult<bool> {
        on_db!(self, |pool, durable| {
            let mut tx = durable.begin().await?;
            let claimed = sqlx::query("INSERT INTO installation (key, value) VALUES ('installation_id', $1) ON CONFLICT (key) DO NOTHING")
            .bind(installation_id)
            .execute(&mut *tx)
            .await?;
            if claimed.rows_affected() == 0 {
                return Ok(false);
            }
            principals::insert_principal_in(Conn::from(&mut *tx), admin).await?;
            principals::insert_role_assignment_in(Conn::from(&mut *tx), owner).await?;
            tx.commit().await?;
            Ok(true)
        })
    }

    pub async fn ping(&self) -> StoreResult<()> {
        on_db!(self, |pool, durable| {
            sqlx::query("SELECT 1").execute(pool).await?;
            Ok(())
        })
    }

    pub async fn close(&self) {
        on_db!(self, |pool, durable| {
            pool.close().await;
            durable.close().await;
        })
    }
}

/// Creates the database file with mode 0600 if absent; SQLite gives its WAL and shared-memory
/// files the same mode.
fn create_private_file(path: &Path) -> StoreResult<()> {
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(StoreError::Database(sqlx::Error::Io(e))),
    }
}

#[cfg(test)]
mod tests;
