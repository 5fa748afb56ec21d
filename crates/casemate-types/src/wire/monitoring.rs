//! Workspace metrics: what happened in a workspace over time, counted.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use time::OffsetDateTime;

/// The counts of one time bucket (or of the whole window).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceCounts {
    /// Runs submitted (or started by a tracking client) in the bucket.
    pub runs_submitted: u64,
    /// Runs whose process started in the bucket.
    pub runs_started: u64,
    pub runs_completed: u64,
    pub runs_failed: u64,
    pub runs_canceled: u64,
    pub model_registrations_succeeded: u64,
    pub model_registrations_failed: u64,
    pub deployments_succeeded: u64,
    pub deployments_failed: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceMetricsBucket {
    /// Inclusive start of the bucket; it lasts `interval_seconds`.
    #[serde(with = "time::serde::rfc3339")]
    pub start: OffsetDateTime,
    pub counts: WorkspaceCounts,
}

/// `GET …/workspaces/WS/metrics?since=24h&interval=1h`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceMetrics {
    /// The workspace's resource id.
    pub workspace: String,
    #[serde(with = "time::serde::rfc3339")]
    pub since: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub until: OffsetDateTime,
    pub interval_seconds: u64,
    /// The runs of the workspace now, by status (every status listed, zeros included).
    pub runs_by_status: BTreeMap<String, u64>,
    /// The whole window's counts.
    pub totals: WorkspaceCounts,
    /// Oldest first; the last bucket ends at `until`.
    pub buckets: Vec<WorkspaceMetricsBucket>,
}
