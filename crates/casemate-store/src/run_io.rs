//! A run's inputs (datasets, logged models) and outputs (logged models), as MLflow logs them.
use crate::backend::{StoreRow, on_db};

use crate::{Store, StoreResult};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RunIoRecord {
    /// `input` or `output`.
    pub direction: String,
    /// `dataset` or `model`.
    pub kind: String,
    /// What makes the item the same as one logged before (then it is not kept twice).
    pub item_key: String,
    pub body: String,
}

impl Store {
    /// Keeps each item not already kept for the run, after those it has, all or nothing.
    pub async fn add_run_io(&self, run_id: Uuid, items: &[RunIoRecord]) -> StoreResult<()> {
        on_db!(self, |pool, durable| {
            let mut tx = pool.begin().await?;
            for item in items {
                sqlx::query(
                "INSERT INTO run_io (run_id, seq, direction, kind, item_key, body) \
                 SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3, $4, $5 FROM run_io WHERE run_id = $1 \
                 ON CONFLICT (run_id, direction, kind, item_key) DO NOTHING",
            )
            .bind(run_id.to_string())
            .bind(&item.direction)
            .bind(&item.kind)
            .bind(&item.item_key)
            .bind(&item.body)
            .execute(&mut *tx)
            .await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// The run's items in the order they were first logged.
    pub async fn run_io(&self, run_id: Uuid) -> StoreResult<Vec<RunIoRecord>> {
        on_db!(self, |pool, durable| {
            Ok(sqlx::query_as(
                "SELECT direction, kind, item_key, body FROM run_io WHERE run_id = $1 ORDER BY seq",
            )
            .bind(run_id.to_string())
            .fetch_all(pool)
            .await?)
        })
    }

    /// The items of every run of the workspace, by run, each run's in the order first logged.
    pub async fn run_io_in(&self, workspace_id: &str) -> StoreResult<Vec<(Uuid, RunIoRecord)>> {
        on_db!(self, |pool, durable| {
            let rows = sqlx::query(
                "SELECT io.run_id, io.direction, io.kind, io.item_key, io.body FROM run_io io \
             JOIN runs r ON r.id = io.run_id WHERE r.workspace_id = $1 ORDER BY io.run_id, io.seq",
            )
            .bind(workspace_id)
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|row| {
                    let run: String = row.value("run_id")?;
                    let run = Uuid::try_parse(&run)
                        .map_err(|e| crate::StoreError::Corrupt(format!("run_io.run_id: {e}")))?;
                    Ok((
                        run,
                        RunIoRecord {
                            direction: row.value("direction")?,
                            kind: row.value("kind")?,
                            item_key: row.value("item_key")?,
                            body: row.value("body")?,
                        },
                    ))
                })
                .collect()
        })
    }
}
