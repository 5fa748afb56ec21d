//! The casemate processes sharing one database. Each holds a lease it renews; each submitted run
//! names the replica that drives it. When a lease runs out, a live replica ends that replica's
//! runs, and ending a run is a conditional update, so a run is ended once whoever tries.
use crate::backend::{Pools, on_db};

use crate::runs::run_from_row;
use crate::{RunRecord, Store, StoreResult};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaRecord {
    pub id: String,
    pub host: String,
    pub pid: i64,
    /// Unix milliseconds, as is the lease.
    pub started_at: i64,
    pub lease_expires_at: i64,
}

impl Store {
    /// Whether other processes may share this database: PostgreSQL's, yes; an SQLite file is
    /// one process's.
    pub fn is_shared(&self) -> bool {
        matches!(self.pools, Pools::Postgres { .. })
    }

    /// Records this replica (again, after a restart or a lost lease) with a fresh lease.
    pub async fn register_replica(&self, replica: &ReplicaRecord) -> StoreResult<()> {
        on_db!(self, |pool, durable| {
            sqlx::query(
                "INSERT INTO replicas (id, host, pid, started_at, lease_expires_at) \
                 VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (id) DO UPDATE SET host = excluded.host, pid = excluded.pid, \
                 started_at = excluded.started_at, lease_expires_at = excluded.lease_expires_at",
            )
            .bind(&replica.id)
            .bind(&replica.host)
            .bind(replica.pid)
            .bind(replica.started_at)
            .bind(replica.lease_expires_at)
            .execute(durable)
            .await?;
            Ok(())
        })
    }

    /// Extends a lease that still holds at `now`; false once it has run out (live replicas may
    /// already be ending this one's runs) or the replica was forgotten.
    pub async fn renew_replica_lease(
        &self,
        id: &str,
        now: i64,
        expires_at: i64,
    ) -> StoreResult<bool> {
        on_db!(self, |pool, durable| {
            let renewed = sqlx::query(
                "UPDATE replicas SET lease_expires_at = $1 WHERE id = $2 AND lease_expires_at > $3",
            )
            .bind(expires_at)
            .bind(id)
            .bind(now)
            .execute(durable)
            .await?;
            Ok(renewed.rows_affected() == 1)
        })
    }

    /// Ends every other replica's lease at once: for a database only one process can use.
    pub async fn expire_other_replicas(&self, id: &str) -> StoreResult<()> {
        on_db!(self, |pool, durable| {
            sqlx::query("UPDATE replicas SET lease_expires_at = 0 WHERE id <> $1")
                .bind(id)
                .execute(durable)
                .await?;
            Ok(())
        })
    }

    /// A replica that stops cleanly, its runs already ended.
    pub async fn remove_replica(&self, id: &str) -> StoreResult<()> {
        on_db!(self, |pool, durable| {
            sqlx::query("DELETE FROM replicas WHERE id = $1")
                .bind(id)
                .execute(durable)
                .await?;
            Ok(())
        })
    }

    pub async fn replica(&self, id: &str) -> StoreResult<Option<ReplicaRecord>> {
        on_db!(self, |pool, durable| {
            let row: Option<(String, String, i64, i64, i64)> = sqlx::query_as(
                "SELECT id, host, pid, started_at, lease_expires_at FROM replicas WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(pool)
            .await?;
            Ok(row.map(
                |(id, host, pid, started_at, lease_expires_at)| ReplicaRecord {
                    id,
                    host,
                    pid,
                    started_at,
                    lease_expires_at,
                },
            ))
        })
    }

    /// Submitted runs in flight whose replica is not `me` and holds no lease at `now` (or that
    /// name none, from before replicas were recorded); with `mine`, also those `me` drove in its
    /// previous life.
    pub async fn orphaned_runs(
        &self,
        now: i64,
        me: &str,
        mine: bool,
    ) -> StoreResult<Vec<RunRecord>> {
        on_db!(self, |pool, durable| {
            let rows = sqlx::query(
                "SELECT runs.* FROM runs \
                 LEFT JOIN replicas ON replicas.id = runs.owner_replica \
                 WHERE runs.origin = 'submitted' AND runs.status IN ('Queued', 'Preparing', 'Running') \
                 AND (replicas.id IS NULL OR (replicas.id <> $2 AND replicas.lease_expires_at <= $1) \
                      OR (replicas.id = $2 AND $3)) \
                 ORDER BY runs.submitted_at",
            )
            .bind(now)
            .bind(me)
            .bind(mine)
            .fetch_all(pool)
            .await?;
            rows.iter().map(run_from_row).collect()
        })
    }

    /// The runs `replica` drives that are still in flight in the database.
    pub async fn in_flight_runs_of(&self, replica: &str) -> StoreResult<Vec<Uuid>> {
        on_db!(self, |pool, durable| {
            let ids: Vec<String> = sqlx::query_scalar(
                "SELECT id FROM runs WHERE owner_replica = $1 \
                 AND status IN ('Queued', 'Preparing', 'Running')",
            )
            .bind(replica)
            .fetch_all(pool)
            .await?;
            ids.into_iter()
                .map(|id| crate::records::parse_uuid("runs.id", &id))
                .collect()
        })
    }

    /// Forgets replicas whose lease ran out and that drive no run in flight any more.
    pub async fn forget_expired_replicas(&self, now: i64) -> StoreResult<u64> {
        on_db!(self, |pool, durable| {
            let forgotten = sqlx::query(
                "DELETE FROM replicas WHERE lease_expires_at <= $1 AND NOT EXISTS \
                 (SELECT 1 FROM runs WHERE runs.owner_replica = replicas.id \
                  AND runs.status IN ('Queued', 'Preparing', 'Running'))",
            )
            .bind(now)
            .execute(durable)
            .await?;
            Ok(forgotten.rows_affected())
        })
    }
}
