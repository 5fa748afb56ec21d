//! Web services: registered model versions deployed as scoring endpoints.

use crate::Sensitive;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// One registered model version a service serves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceModel {
    pub name: String,
    pub version: u32,
}

/// `PUT …/services/{name}`: deploys a service.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateServiceRequest {
    /// The registered model versions served: exactly one for an MLflow model, one or more for
    /// an entry script (each under `CASEMATE_MODEL_DIR/{name}/{version}`).
    pub models: Vec<ServiceModel>,
    /// `score.py`-style entry script (with `init()` and `run(raw_data)`), a path inside
    /// `snapshot_id`. Without it, the model is an MLflow pyfunc model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry_script: Option<String>,
    /// The code snapshot (uploaded first) holding the entry script.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_id: Option<String>,
    /// `key` (primary and secondary keys) or `token` (short-lived service tokens); never both.
    pub auth_mode: String,
    /// The Python interpreter that runs the scoring process (on the server's machine).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub python: Option<String>,
    /// Defaults to `local`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compute: Option<String>,
    /// The largest scoring request body accepted, in bytes (default 1 MiB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_request_bytes: Option<u64>,
    /// How long a service token lives, in seconds (token auth; default 3600).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_lifetime_seconds: Option<u64>,
}

/// `PATCH …/services/{name}`: a rolling update; fields left out keep their values.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateServiceRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub models: Option<Vec<ServiceModel>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry_script: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub python: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_request_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_lifetime_seconds: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebService {
    pub id: String,
    pub name: String,
    /// `mlflow` or `entry_script`.
    pub kind: String,
    pub models: Vec<ServiceModel>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry_script: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_id: Option<String>,
    pub auth_mode: String,
    pub python: String,
    pub compute: String,
    /// `compute`'s kind (`local`), as the scoring log records it.
    pub compute_type: String,
    pub max_request_bytes: u64,
    pub token_lifetime_seconds: u64,
    /// `Transitioning`, `Healthy`, `Unhealthy` (restarting after a crash) or `Failed`.
    pub state: String,
    /// Why the service is not Healthy, or what its last update failed on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_reason: Option<String>,
    pub restarts: u64,
    /// The path to POST scoring requests to (also `…/invocations`).
    pub scoring_uri: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    pub created_by: String,
}

/// `POST …/services/{name}/listkeys`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceKeys {
    pub primary_key: Sensitive,
    pub secondary_key: Sensitive,
}

/// `POST …/services/{name}/regenerateKeys`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegenerateKeyRequest {
    /// `primary` or `secondary`.
    pub key_type: String,
}

/// `POST …/services/{name}/token`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceToken {
    pub access_token: Sensitive,
    pub token_type: String,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_on: OffsetDateTime,
    /// Ask for a new token after this time; the old one works until `expires_on`.
    #[serde(with = "time::serde::rfc3339")]
    pub refresh_after: OffsetDateTime,
}

/// One scoring request in the scoring log. Never the request or response body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScoringLogEntry {
    #[serde(with = "time::serde::rfc3339")]
    pub time: OffsetDateTime,
    pub method: String,
    pub url: String,
    pub user_agent: String,
    pub compute_type: String,
    pub status: u16,
    pub request_id: String,
    /// Microseconds spent in the scoring process.
    pub model_us: u64,
    /// Microseconds casemate added (credential check, proxying, the log record).
    pub overhead_us: u64,
    pub client_address: String,
    /// `key:primary`, `key:secondary`, `token:NAME`, or `none` when no valid credential came.
    pub credential: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScoringLog {
    pub service: String,
    pub entries: Vec<ScoringLogEntry>,
}

/// The last lines the scoring process wrote (stdout and stderr): its prints and tracebacks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceConsole {
    pub service: String,
    pub text: String,
}
