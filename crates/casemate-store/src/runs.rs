//! Runs and what hangs off them: code snapshots, run tokens, metrics, tags and sealed log chunks.
use crate::backend::{Conn, StoreRow, on_conn, on_db};

use crate::records::{name_values, parse_uuid};
use crate::run_metrics::{MetricRecord, MetricTarget, blocks_of, insert_metric_rows, stored_all};
use crate::{Store, StoreError, StoreResult};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotRecord {
    pub workspace_id: String,
    pub sha256: String,
    pub blob: String,
    pub size: i64,
    pub files: i64,
    pub created_at: i64,
    pub created_by: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    pub id: Uuid,
    pub workspace_id: String,
    pub experiment: String,
    pub compute: String,
    pub snapshot: String,
    pub command: String,
    pub status: String,
    pub reason: Option<String>,
    pub exit_code: Option<i64>,
    pub submitted_by: Uuid,
    pub submitted_by_name: String,
    /// Unix milliseconds, as are the other times of a run.
    pub submitted_at: i64,
    pub started_at: Option<i64>,
    pub ended_at: Option<i64>,
    pub time_limit_seconds: i64,
    pub pid: Option<i64>,
    pub scratch: Option<String>,
    pub environment: Option<Vec<u8>>,
    /// `submitted` (run by an executor) or `tracked` (made and driven by a tracking client).
    pub origin: String,
    /// `active` or `deleted`.
    pub lifecycle: String,
    /// The image reference the run names, if any.
    pub image: Option<String>,
    /// The manifest digest `image` resolved to before the run started.
    pub image_digest: Option<String>,
    /// The replica driving a submitted run (none for a tracked run).
    pub owner_replica: Option<String>,
}

pub const ORIGIN_SUBMITTED: &str = "submitted";
pub const ORIGIN_TRACKED: &str = "tracked";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunTokenRecord {
    pub id: Uuid,
    pub run_id: Uuid,
    pub secret_hash: Vec<u8>,
    /// Unix seconds.
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogChunkRecord {
    pub seq: i64,
    pub stream: String,
    pub data_key: String,
    pub sealed: Vec<u8>,
}

/// The states a run can still leave.
pub const IN_FLIGHT: [&str; 3] = ["Queued", "Preparing", "Running"];

fn snapshot_from_row(row: &impl StoreRow) -> StoreResult<SnapshotRecord> {
    Ok(SnapshotRecord {
        workspace_id: row.value("workspace_id")?,
        sha256: row.value("sha256")?,
        blob: row.value("blob")?,
        size: row.value("size")?,
        files: row.value("files")?,
        created_at: row.value("created_at")?,
        created_by: row.value("created_by")?,
    })
}

pub(crate) fn run_from_row(row: &impl StoreRow) -> StoreResult<RunRecord> {
    Ok(RunRecord {
        id: parse_uuid("runs.id", row.value("id")?)?,
        workspace_id: row.value("workspace_id")?,
        experiment: row.value("experiment")?,
        compute: row.value("compute")?,
        snapshot: row.value("snapshot")?,
        command: row.value("command")?,
        status: row.value("status")?,
        reason: row.value("reason")?,
        exit_code: row.value("exit_code")?,
        submitted_by: parse_uuid("runs.submitted_by", row.value("submitted_by")?)?,
        submitted_by_name: row.value("submitted_by_name")?,
        submitted_at: row.value("submitted_at")?,
        started_at: row.value("started_at")?,
        ended_at: row.value("ended_at")?,
        time_limit_seconds: row.value("time_limit_seconds")?,
        pid: row.value("pid")?,
        scratch: row.value("scratch")?,
        environment: row.value("environment")?,
        origin: row.value("origin")?,
        lifecycle: row.value("lifecycle")?,
        image: row.value("image")?,
        image_digest: row.value("image_digest")?,
        owner_replica: row.value("owner_replica")?,
    })
}

async fn insert_run_row(tx: Conn<'_>, run: &RunRecord) -> StoreResult<()> {
    on_conn!(tx, |tx| {
        sqlx::query(
        "INSERT INTO runs (id, workspace_id, experiment, compute, snapshot, command, status, reason, \
         exit_code, submitted_by, submitted_by_name, submitted_at, started_at, ended_at, \
         time_limit_seconds, pid, scratch, environment, origin, lifecycle, image, image_digest, owner_replica) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23)",
    )
    .bind(run.id.to_string())
    .bind(&run.workspace_id)
    .bind(&run.experiment)
    .bind(&run.compute)
    .bind(&run.snapshot)
    .bind(&run.command)
    .bind(&run.status)
    .bind(&run.reason)
    .bind(run.exit_code)
    .bind(run.submitted_by.to_string())
    .bind(&run.submitted_by_name)
    .bind(run.submitted_at)
    .bind(run.started_at)
    .bind(run.ended_at)
    .bind(run.time_limit_seconds)
    .bind(run.pid)
    .bind(&run.scratch)
    .bind(&run.environment)
    .bind(&run.origin)
    .bind(&run.lifecycle)
    .bind(&run.image)
    .bind(&run.image_digest)
    .bind(&run.owner_replica)
    .execute(&mut *tx)
    .await?;
        Ok(())
    })
}

async fn upsert_tags(tx: Conn<'_>, run_id: Uuid, tags: &[(String, String)]) -> StoreResult<()> {
    on_conn!(tx, |tx| {
        for (name, value) in tags {
            sqlx::query(
                "INSERT INTO run_tags (run_id, name, value) VALUES ($1, $2, $3) \
             ON CONFLICT (run_id, name) DO UPDATE SET value = excluded.value",
            )
            .bind(run_id.to_string())
            .bind(name)
            .bind(value)
            .execute(&mut *tx)
            .await?;
        }
        Ok(())
    })
}

/// Parameters are write-once: the same value again is fine, another value is a conflict.
async fn insert_params(tx: Conn<'_>, run_id: Uuid, params: &[(String, String)]) -> StoreResult<()> {
    on_conn!(tx, |tx| {
        let run_id = run_id.to_string();
        for (name, value) in params {
            let existing: Option<String> =
                sqlx::query_scalar("SELECT value FROM run_params WHERE run_id = $1 AND name = $2")
                    .bind(&run_id)
                    .bind(name)
                    .fetch_optional(&mut *tx)
                    .await?;
            match existing {
                Some(old) if &old == value => {}
                Some(_) => {
                    return Err(StoreError::Conflict(format!(
                        "param '{name}' was already logged with another value; parameters cannot change"
                    )));
                }
                None => {
                    sqlx::query("INSERT INTO run_params (run_id, name, value) VALUES ($1, $2, $3)")
                        .bind(&run_id)
                        .bind(name)
                        .bind(value)
                        .execute(&mut *tx)
                        .await?;
                }
            }
        }
        Ok(())
    })
}

/// (run, name, value) rows of run_params or run_tags.
fn run_items(rows: &[impl StoreRow]) -> StoreResult<Vec<(Uuid, String, String)>> {
    rows.iter()
        .map(|row| {
            Ok((
                parse_uuid("run item run_id", row.value("run_id")?)?,
                row.value("name")?,
                row.value("value")?,
            ))
        })
        .collect()
}

/// What a tracking client logs in one call: all of it is stored, or none.
#[derive(Debug, Default)]
pub struct TrackingBatch {
    pub metrics: Vec<MetricRecord>,
    pub params: Vec<(String, String)>,
    pub tags: Vec<(String, String)>,
}

impl Store {
    /// Records a snapshot unless the workspace already has one with this digest; returns whether
    /// this call recorded it.
    pub async fn insert_snapshot(&self, snapshot: &SnapshotRecord) -> StoreResult<bool> {
        on_db!(self, |pool, durable| {
            let result = sqlx::query(
            "INSERT INTO snapshots (workspace_id, sha256, blob, size, files, created_at, created_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (workspace_id, sha256) DO NOTHING",
        )
        .bind(&snapshot.workspace_id)
        .bind(&snapshot.sha256)
        .bind(&snapshot.blob)
        .bind(snapshot.size)
        .bind(snapshot.files)
        .bind(snapshot.created_at)
        .bind(&snapshot.created_by)
        .execute(pool)
        .await?;
            Ok(result.rows_affected() == 1)
        })
    }

    pub async fn snapshot(
        &self,
        workspace_id: &str,
        sha256: &str,
    ) -> StoreResult<Option<SnapshotRecord>> {
        on_db!(self, |pool, durable| {
            let row =
                sqlx::query("SELECT * FROM snapshots WHERE workspace_id = $1 AND sha256 = $2")
                    .bind(workspace_id)
                    .bind(sha256)
                    .fetch_optional(pool)
                    .await?;
            row.as_ref().map(snapshot_from_row).transpose()
        })
    }

    /// A new run and its token, together or not at all.
    pub async fn insert_run(&self, run: &RunRecord, token: &RunTokenRecord) -> StoreResult<()> {
        on_db!(self, |pool, durable| {
            let mut tx = pool.begin().await?;
            insert_run_row(Conn::from(&mut *tx), run).await?;
            sqlx::query(
            "INSERT INTO run_tokens (id, run_id, secret_hash, expires_at, revoked_at) VALUES ($1, $2, $3, $4, NULL)",
        )
        .bind(token.id.to_string())
        .bind(token.run_id.to_string())
        .bind(&token.secret_hash)
        .bind(token.expires_at)
        .execute(&mut *tx)
        .await?;
            tx.commit().await?;
            Ok(())
        })
    }

    /// A run a tracking client made, with its first tags, together or not at all.
    pub async fn insert_tracked_run(
        &self,
        run: &RunRecord,
        tags: &[(String, String)],
    ) -> StoreResult<()> {
        on_db!(self, |pool, durable| {
            let mut tx = pool.begin().await?;
            insert_run_row(Conn::from(&mut *tx), run).await?;
            upsert_tags(Conn::from(&mut *tx), run.id, tags).await?;
            tx.commit().await?;
            Ok(())
        })
    }
    pub async fn run(&self, id: Uuid) -> StoreResult<Option<RunRecord>> {
        on_db!(self, |pool, durable| {
            let row = sqlx::query("SELECT * FROM runs WHERE id = $1")
                .bind(id.to_string())
                .fetch_optional(pool)
                .await?;
            row.as_ref().map(run_from_row).transpose()
        })
    }

    /// A workspace's runs, newest first.
    pub async fn runs_of(&self, workspace_id: &str) -> StoreResult<Vec<RunRecord>> {
        on_db!(self, |pool, durable| {
            let rows = sqlx::query(
                "SELECT * FROM runs WHERE workspace_id = $1 ORDER BY submitted_at DESC, id",
            )
            .bind(workspace_id)
            .fetch_all(pool)
            .await?;
            rows.iter().map(run_from_row).collect()
        })
    }

    /// Moves an in-flight run to Preparing or Running; false when it has already ended.
    pub async fn advance_run(
        &self,
        id: Uuid,
        status: &str,
        started_at: Option<i64>,
        pid: Option<i64>,
    ) -> StoreResult<bool> {
        on_db!(self, |pool, durable| {
            let result = sqlx::query(
            "UPDATE runs SET status = $1, started_at = COALESCE($2, started_at), pid = COALESCE($3, pid) \
             WHERE id = $4 AND status IN ('Queued', 'Preparing', 'Running')",
        )
        .bind(status)
        .bind(started_at)
        .bind(pid)
        .bind(id.to_string())
        .execute(pool)
        .await?;
            Ok(result.rows_affected() == 1)
        })
    }

    /// Ends an in-flight run and revokes its tokens in one durable transaction (no request
    /// waits on it to be synced); false (changing nothing) when it had already ended.
    pub async fn finish_run(
        &self,
        id: Uuid,
        status: &str,
        reason: Option<&str>,
        exit_code: Option<i64>,
        ended_at: i64,
    ) -> StoreResult<bool> {
        on_db!(self, |pool, durable| {
            let mut tx = durable.begin().await?;
            let result = sqlx::query(
                "UPDATE runs SET status = $1, reason = $2, exit_code = $3, ended_at = $4 \
             WHERE id = $5 AND status IN ('Queued', 'Preparing', 'Running')",
            )
            .bind(status)
            .bind(reason)
            .bind(exit_code)
            .bind(ended_at)
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
            if result.rows_affected() == 0 {
                return Ok(false);
            }
            sqlx::query(
                "UPDATE run_tokens SET revoked_at = COALESCE(revoked_at, $1) WHERE run_id = $2",
            )
            .bind(ended_at / 1000)
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(true)
        })
    }

    pub async fn set_run_scratch(&self, id: Uuid, scratch: Option<&str>) -> StoreResult<()> {
        on_db!(self, |pool, durable| {
            sqlx::query("UPDATE runs SET scratch = $1 WHERE id = $2")
                .bind(scratch)
                .bind(id.to_string())
                .execute(pool)
                .await?;
            Ok(())
        })
    }

    pub async fn set_run_image_digest(&self, id: Uuid, digest: &str) -> StoreResult<()> {
        on_db!(self, |pool, durable| {
            sqlx::query("UPDATE runs SET image_digest = $1 WHERE id = $2")
                .bind(digest)
                .bind(id.to_string())
                .execute(pool)
                .await?;
            Ok(())
        })
    }

    pub async fn set_run_environment(&self, id: Uuid, sealed: Option<&[u8]>) -> StoreResult<()> {
        on_db!(self, |pool, durable| {
            sqlx::query("UPDATE runs SET environment = $1 WHERE id = $2")
                .bind(sealed)
                .bind(id.to_string())
                .execute(pool)
                .await?;
            Ok(())
        })
    }

    pub async fn delete_run(&self, id: Uuid) -> StoreResult<()> {
        on_db!(self, |pool, durable| {
            sqlx::query("DELETE FROM runs WHERE id = $1")
                .bind(id.to_string())
                .execute(pool)
                .await?;
            Ok(())
        })
    }

    /// The scratch directories a workspace's runs still keep.
    pub async fn run_scratch_dirs(&self, workspace_id: &str) -> StoreResult<Vec<String>> {
        on_db!(self, |pool, durable| {
            Ok(sqlx::query_scalar(
                "SELECT scratch FROM runs WHERE workspace_id = $1 AND scratch IS NOT NULL",
            )
            .bind(workspace_id)
            .fetch_all(pool)
            .await?)
        })
    }

    pub async fn run_token(&self, id: Uuid) -> StoreResult<Option<RunTokenRecord>> {
        on_db!(self, |pool, durable| {
            let row = sqlx::query("SELECT * FROM run_tokens WHERE id = $1")
                .bind(id.to_string())
                .fetch_optional(pool)
                .await?;
            row.map(|row| {
                Ok(RunTokenRecord {
                    id: parse_uuid("run_tokens.id", row.value("id")?)?,
                    run_id: parse_uuid("run_tokens.run_id", row.value("run_id")?)?,
                    secret_hash: row.value("secret_hash")?,
                    expires_at: row.value("expires_at")?,
                    revoked_at: row.value("revoked_at")?,
                })
            })
            .transpose()
        })
    }

    pub async fn set_run_tags(&self, run_id: Uuid, tags: &[(String, String)]) -> StoreResult<()> {
        on_db!(self, |pool, durable| {
            let mut tx = pool.begin().await?;
            upsert_tags(Conn::from(&mut *tx), run_id, tags).await?;
            tx.commit().await?;
            Ok(())
        })
    }

    /// Stores a tracking client's metrics, parameters and tags in one transaction.
    pub async fn log_batch(&self, run_id: Uuid, batch: &TrackingBatch) -> StoreResult<()> {
        on_db!(self, |pool, durable| {
            if batch.params.is_empty() && batch.tags.is_empty() {
                return self.insert_metrics(run_id, &batch.metrics).await;
            }
            let mut tx = pool.begin().await?;
            let run = run_id.to_string();
            let target = MetricTarget {
                run: &run,
                live_in: None,
            };
            stored_all(insert_metric_rows(&mut *tx, &target, blocks_of(&batch.metrics)).await?)?;
            upsert_tags(Conn::from(&mut *tx), run_id, &batch.tags).await?;
            insert_params(Conn::from(&mut *tx), run_id, &batch.params).await?;
            tx.commit().await?;
            Ok(())
        })
    }

    pub async fn delete_run_tag(&self, run_id: Uuid, name: &str) -> StoreResult<bool> {
        on_db!(self, |pool, durable| {
            let result = sqlx::query("DELETE FROM run_tags WHERE run_id = $1 AND name = $2")
                .bind(run_id.to_string())
                .bind(name)
                .execute(pool)
                .await?;
            Ok(result.rows_affected() == 1)
        })
    }

    pub async fn run_params(&self, run_id: Uuid) -> StoreResult<Vec<(String, String)>> {
        on_db!(self, |pool, durable| {
            let rows =
                sqlx::query("SELECT name, value FROM run_params WHERE run_id = $1 ORDER BY name")
                    .bind(run_id.to_string())
                    .fetch_all(pool)
                    .await?;
            name_values(&rows)
        })
    }

    /// Every parameter of a workspace's runs, as (run, name, value), by run and name.
    pub async fn run_params_in(
        &self,
        workspace_id: &str,
    ) -> StoreResult<Vec<(Uuid, String, String)>> {
        on_db!(self, |pool, durable| {
            let rows = sqlx::query(
                "SELECT p.run_id, p.name, p.value FROM run_params p JOIN runs r ON r.id = p.run_id \
             WHERE r.workspace_id = $1 ORDER BY p.run_id, p.name",
            )
            .bind(workspace_id)
            .fetch_all(pool)
            .await?;
            run_items(&rows)
        })
    }

    /// Every tag of a workspace's runs, as (run, name, value), by run and name.
    pub async fn run_tags_in(
        &self,
        workspace_id: &str,
    ) -> StoreResult<Vec<(Uuid, String, String)>> {
        on_db!(self, |pool, durable| {
            let rows = sqlx::query(
                "SELECT t.run_id, t.name, t.value FROM run_tags t JOIN runs r ON r.id = t.run_id \
             WHERE r.workspace_id = $1 ORDER BY t.run_id, t.name",
            )
            .bind(workspace_id)
            .fetch_all(pool)
            .await?;
            run_items(&rows)
        })
    }

    /// Sets a tracked run's status (and end time); false when the run is not a tracked one.
    pub async fn update_tracked_run(
        &self,
        id: Uuid,
        status: &str,
        ended_at: Option<i64>,
    ) -> StoreResult<bool> {
        on_db!(self, |pool, durable| {
            let result = sqlx::query(
                "UPDATE runs SET status = $1, ended_at = $2 WHERE id = $3 AND origin = 'tracked'",
            )
            .bind(status)
            .bind(ended_at)
            .bind(id.to_string())
            .execute(pool)
            .await?;
            Ok(result.rows_affected() == 1)
        })
    }

    pub async fn set_run_lifecycle(&self, id: Uuid, lifecycle: &str) -> StoreResult<()> {
        on_db!(self, |pool, durable| {
            sqlx::query("UPDATE runs SET lifecycle = $1 WHERE id = $2")
                .bind(lifecycle)
                .bind(id.to_string())
                .execute(pool)
                .await?;
            Ok(())
        })
    }

    pub async fn run_tags(&self, run_id: Uuid) -> StoreResult<Vec<(String, String)>> {
        on_db!(self, |pool, durable| {
            let rows =
                sqlx::query("SELECT name, value FROM run_tags WHERE run_id = $1 ORDER BY name")
                    .bind(run_id.to_string())
                    .fetch_all(pool)
                    .await?;
            name_values(&rows)
        })
    }

    pub async fn insert_log_chunk(&self, run_id: Uuid, chunk: &LogChunkRecord) -> StoreResult<()> {
        on_db!(self, |pool, durable| {
            sqlx::query(
            "INSERT INTO run_log_chunks (run_id, seq, stream, data_key, sealed) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(run_id.to_string())
        .bind(chunk.seq)
        .bind(&chunk.stream)
        .bind(&chunk.data_key)
        .bind(&chunk.sealed)
        .execute(pool)
        .await?;
            Ok(())
        })
    }

    /// Up to `limit` log chunks after `after`, in order.
    pub async fn log_chunks(
        &self,
        run_id: Uuid,
        after: i64,
        limit: i64,
    ) -> StoreResult<Vec<LogChunkRecord>> {
        on_db!(self, |pool, durable| {
            let rows = sqlx::query(
            "SELECT seq, stream, data_key, sealed FROM run_log_chunks WHERE run_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        )
        .bind(run_id.to_string())
        .bind(after)
        .bind(limit)
        .fetch_all(pool)
        .await?;
            rows.iter()
                .map(|row| {
                    Ok(LogChunkRecord {
                        seq: row.value("seq")?,
                        stream: row.value("stream")?,
                        data_key: row.value("data_key")?,
                        sealed: row.value("sealed")?,
                    })
                })
                .collect()
        })
    }
}
