//! The metadata store: SQLite (WAL, synchronous commits) with forward-only migrations.
//! Plain data in, plain data out; no policy lives here.

mod activity;
mod credentials;
mod keys;
mod principals;
mod records;
mod registry;
mod resources;
mod runs;
mod secrets;
mod sessions;
pub use sessions::RefreshOutcome;
mod signing_keys;
mod vault_items;

pub use activity::{ActivityFilter, ActivityRecord};
pub use keys::{VaultKeyRecord, VaultKeyVersionRecord};
pub use records::*;
pub use registry::{LoggedModelRecord, ModelVersionRecord, RegisteredModelRecord};
pub use resources::{CustomRoleRecord, Provisioning, ResourceRecord};
pub use runs::{
    IN_FLIGHT, LatestMetric, LogChunkRecord, MetricRecord, ORIGIN_SUBMITTED, ORIGIN_TRACKED,
    RunRecord, RunTokenRecord, SnapshotRecord, TrackingBatch,
};
pub use secrets::{DataKeyRecord, SecretAttributeChange, SecretRecord, SecretVersionRecord};
pub use vault_items::VaultItemKind;

use sqlx::SqlitePool;
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

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

#[derive(Debug, Clone)]
pub struct Store {
    pool: SqlitePool,
}

impl Store {
    /// Opens (creating if needed) the database at `path` and applies pending migrations.
    pub async fn open(path: &Path) -> StoreResult<Self> {
        create_private_file(path)?;
        let options = SqliteConnectOptions::from_str("sqlite:")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL in WAL mode syncs the log on every commit: an acknowledged write survives a power cut.
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?;
        MIGRATOR.run(&pool).await?;
        Ok(Self { pool })
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    pub async fn installation_value(&self, key: &str) -> StoreResult<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT value FROM installation WHERE key = ?")
                .bind(key)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Sets `key` only if it is unset; returns whether this call set it.
    pub async fn set_installation_value_once(&self, key: &str, value: &str) -> StoreResult<bool> {
        let result = sqlx::query(
            "INSERT INTO installation (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
        )
        .bind(key)
        .bind(value)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// First start: the installation id, the first administrator and its Owner assignment at `/`,
    /// all or nothing. Returns false (changing nothing) when the installation already exists.
    pub async fn bootstrap_installation(
        &self,
        installation_id: &str,
        admin: &PrincipalRecord,
        owner: &RoleAssignmentRecord,
    ) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        let claimed = sqlx::query("INSERT INTO installation (key, value) VALUES ('installation_id', ?) ON CONFLICT (key) DO NOTHING")
            .bind(installation_id)
            .execute(&mut *tx)
            .await?;
        if claimed.rows_affected() == 0 {
            return Ok(false);
        }
        principals::insert_principal_in(&mut tx, admin).await?;
        principals::insert_role_assignment_in(&mut tx, owner).await?;
        tx.commit().await?;
        Ok(true)
    }

    pub async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
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
