//! Experiments, code snapshots, compute targets and runs.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use time::OffsetDateTime;
use uuid::Uuid;

/// A run's place in its lifecycle. The last three are final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum RunStatus {
    Queued,
    Preparing,
    Running,
    Completed,
    Failed,
    Canceled,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Queued => "Queued",
            RunStatus::Preparing => "Preparing",
            RunStatus::Running => "Running",
            RunStatus::Completed => "Completed",
            RunStatus::Failed => "Failed",
            RunStatus::Canceled => "Canceled",
        }
    }

    /// Every status, in lifecycle order.
    pub const ALL: [RunStatus; 6] = [
        RunStatus::Queued,
        RunStatus::Preparing,
        RunStatus::Running,
        RunStatus::Completed,
        RunStatus::Failed,
        RunStatus::Canceled,
    ];

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == text)
    }

    pub fn is_final(self) -> bool {
        matches!(
            self,
            RunStatus::Completed | RunStatus::Failed | RunStatus::Canceled
        )
    }
}

/// An immutable, content-addressed code snapshot: its id is the SHA-256 of the tar.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Snapshot {
    pub id: String,
    pub size: u64,
    pub files: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub created_by: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Experiment {
    pub id: String,
    pub name: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub created_by: String,
}

/// `PUT …/computes/{name}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateComputeRequest {
    /// The engine: `local` (child processes on the server's machine) is the one built in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Runs at once on this target; more wait as Queued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrent_runs: Option<u32>,
    /// The longest a run may take, and the default time limit of runs submitted to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_run_seconds: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Identities for the compute: `[system]` for a system-assigned one (granted AcrPull on the
    /// workspace's registry), and user-assigned identities' resource ids (the caller needs
    /// `identities/assign/action` on each).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub assign_identity: Vec<String>,
    /// For `kind: ray`: the Ray cluster runs are submitted to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ray: Option<RayCompute>,
}

/// A compute backed by an existing Ray cluster, reached through the Ray Jobs API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RayCompute {
    /// The Ray dashboard's address, `http://HOST:PORT` (Ray's dashboard speaks plain HTTP).
    pub address: String,
    /// CPUs, GPUs and bytes of memory Ray reserves for each run's entrypoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint_num_cpus: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint_num_gpus: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint_memory: Option<u64>,
    /// A secret in the workspace's vault holding Ray's credential: a token (sent as
    /// `Authorization: Bearer TOKEN`, Ray's own token authentication) or a whole header,
    /// `Name: value`, for a proxy in front of the dashboard. The value is never stored here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_secret: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Compute {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub max_concurrent_runs: u32,
    pub max_run_seconds: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The `local` target every workspace has without creating it.
    pub built_in: bool,
    /// The compute's managed identities (system-assigned and user-assigned).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub identities: Vec<super::ComputeIdentity>,
    /// A Ray compute's cluster and reservations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ray: Option<RayCompute>,
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub created_at: Option<OffsetDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
}

/// `POST …/experiments/{experiment}/runs`. The experiment is created on first use.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmitRunRequest {
    /// The snapshot (uploaded first) whose files the run starts in.
    pub snapshot_id: String,
    /// Run with `/bin/sh -c` in the snapshot's directory.
    pub command: String,
    /// Defaults to `local`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compute: Option<String>,
    /// Defaults to the compute's `max_run_seconds`, and may not exceed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_limit_seconds: Option<u64>,
    /// Extra environment variables for the run (names may not start with `CASEMATE_`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub environment: BTreeMap<String, String>,
    /// The image the run's environment is based on, pulled through the compute's identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<RunImage>,
    /// For a run on a ray compute: what Ray reserves for its entrypoint, in place of the
    /// compute's defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<RunResources>,
}

/// A run's own Ray reservations; each one given replaces the compute's.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RunResources {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint_num_cpus: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint_num_gpus: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint_memory: Option<u64>,
}

/// A run's base image in a casemate registry, as `Environment.docker.base_image` names it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RunImage {
    /// `RG/REGISTRY/REPOSITORY:TAG` or `RG/REGISTRY/REPOSITORY@sha256:DIGEST`, optionally with
    /// this server's host in front.
    pub base_image: String,
    /// Which of the compute's identities pulls it (`RegistryIdentity`); by default its
    /// system-assigned identity, or its only one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<Uuid>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Run {
    pub id: Uuid,
    pub experiment: String,
    pub workspace: String,
    pub compute: String,
    pub snapshot_id: String,
    pub command: String,
    pub status: RunStatus,
    /// Why a run failed or was canceled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i64>,
    pub submitted_by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub submitted_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub started_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub ended_at: Option<OffsetDateTime>,
    pub time_limit_seconds: u64,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// The environment the run was given, without its token; absent in hbi workspaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<BTreeMap<String, String>>,
    /// The base image the run named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// The manifest digest the image resolved to before the run started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_digest: Option<String>,
}

/// One metric value as a run logs it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MetricPoint {
    pub name: String,
    pub value: f64,
    /// Defaults to 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<i64>,
    /// Unix milliseconds; defaults to the server's time of receipt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<i64>,
}

/// `POST …/runs/{run}/metrics`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LogMetricsRequest {
    pub metrics: Vec<MetricPoint>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Metric {
    pub name: String,
    pub value: f64,
    pub step: i64,
    /// Unix milliseconds.
    pub timestamp: i64,
}

/// `PATCH …/runs/{run}/tags`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetRunTagsRequest {
    pub tags: BTreeMap<String, String>,
}

/// Part of a run's captured output, secret values already masked.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LogChunk {
    pub seq: i64,
    /// `stdout`, `stderr`, or `casemate` for what the server itself noted.
    pub stream: String,
    pub text: String,
}

/// `GET …/runs/{run}/logs?after=SEQ`: the chunks after `after`, and whether more can come.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RunLogs {
    pub chunks: Vec<LogChunk>,
    /// Pass as `after` to get what follows.
    pub next: i64,
    pub status: RunStatus,
    /// True once the run has ended and every chunk has been returned.
    pub complete: bool,
}
