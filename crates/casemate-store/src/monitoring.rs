//! What workspace metrics and the Prometheus scrape read: run times and statuses, and the
//! events (registrations, deployments) no other table keeps.
use crate::backend::on_db;

use crate::{Store, StoreResult};

/// The times of one run that metrics count, in Unix milliseconds.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RunTimes {
    pub status: String,
    pub submitted_at: i64,
    pub started_at: Option<i64>,
    pub ended_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct WorkspaceEventRecord {
    pub workspace_id: String,
    pub time_ms: i64,
    pub kind: String,
    pub outcome: String,
}

/// How many runs one workspace has in one status.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RunStatusCount {
    pub workspace_id: String,
    pub status: String,
    pub runs: i64,
}

impl Store {
    pub async fn insert_workspace_event(&self, event: &WorkspaceEventRecord) -> StoreResult<()> {
        on_db!(self, |pool, durable| {
            sqlx::query(
            "INSERT INTO workspace_events (workspace_id, time_ms, kind, outcome) VALUES ($1, $2, $3, $4)",
        )
        .bind(&event.workspace_id)
        .bind(event.time_ms)
        .bind(&event.kind)
        .bind(&event.outcome)
        .execute(pool)
        .await?;
            Ok(())
        })
    }

    /// The workspace's events at or after `since_ms`, oldest first.
    pub async fn workspace_events_since(
        &self,
        workspace_id: &str,
        since_ms: i64,
    ) -> StoreResult<Vec<WorkspaceEventRecord>> {
        on_db!(self, |pool, durable| {
            Ok(sqlx::query_as(
                "SELECT workspace_id, time_ms, kind, outcome FROM workspace_events \
             WHERE workspace_id = $1 AND time_ms >= $2 ORDER BY time_ms",
            )
            .bind(workspace_id)
            .bind(since_ms)
            .fetch_all(pool)
            .await?)
        })
    }

    /// The runs of the workspace (deleted ones too: they happened) with any time at or after
    /// `since_ms`.
    pub async fn run_times_since(
        &self,
        workspace_id: &str,
        since_ms: i64,
    ) -> StoreResult<Vec<RunTimes>> {
        on_db!(self, |pool, durable| {
            Ok(sqlx::query_as(
            "SELECT status, submitted_at, started_at, ended_at FROM runs \
             WHERE workspace_id = $1 AND (submitted_at >= $2 OR started_at >= $2 OR ended_at >= $2)",
        )
        .bind(workspace_id)
        .bind(since_ms)
        .fetch_all(pool)
        .await?)
        })
    }

    /// Runs not deleted, by workspace and status; one workspace when `workspace_id` is given.
    pub async fn run_status_counts(
        &self,
        workspace_id: Option<&str>,
    ) -> StoreResult<Vec<RunStatusCount>> {
        on_db!(self, |pool, durable| {
            Ok(sqlx::query_as(
                "SELECT workspace_id, status, COUNT(*) AS runs FROM runs \
             WHERE lifecycle = 'active' AND ($1 IS NULL OR workspace_id = $1) \
             GROUP BY workspace_id, status ORDER BY workspace_id, status",
            )
            .bind(workspace_id)
            .fetch_all(pool)
            .await?)
        })
    }
}
