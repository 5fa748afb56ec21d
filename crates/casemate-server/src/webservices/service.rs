//! Web services: deploy, update, delete, keys and tokens, the scoring log, and who may score.

use super::credentials::key_context;
use super::supervisor;
use crate::error::{Error, Result};
use crate::monitoring::MetricOutcome;
use crate::monitoring::service::DEPLOYMENT;
use crate::services::executor::{kill_process_group, process_has_environment};
use crate::services::resources::{WorkspaceStorage, workspace_id};
use crate::services::{Caller, Services};
use casemate_store::WebServiceRecord;
use casemate_types::clock::{from_unix_millis, unix_millis};
use casemate_types::wire::{
    CreateServiceRequest, ScoringLog, ScoringLogEntry, ServiceConsole, ServiceModel,
    UpdateServiceRequest, WebService,
};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tokio::sync::oneshot;
use uuid::Uuid;

pub const STATE_TRANSITIONING: &str = "Transitioning";
pub const STATE_HEALTHY: &str = "Healthy";
pub const STATE_UNHEALTHY: &str = "Unhealthy";
pub const STATE_FAILED: &str = "Failed";

pub const KIND_MLFLOW: &str = "mlflow";
pub const KIND_ENTRY_SCRIPT: &str = "entry_script";

pub(super) const AUTH_KEY: &str = "key";
pub(super) const AUTH_TOKEN: &str = "token";
pub(super) const KEY_SLOTS: [&str; 2] = ["primary", "secondary"];
const DEFAULT_PYTHON: &str = "python3";
const DEFAULT_MAX_REQUEST_BYTES: u64 = 1024 * 1024;
const DEFAULT_TOKEN_SECONDS: u64 = 3600;
const TOKEN_SECONDS: std::ops::RangeInclusive<u64> = 60..=86_400;
const MAX_LOG_ENTRIES: i64 = 10_000;

/// One model version as a service keeps it: where its files are among the workspace's blobs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelFiles {
    pub name: String,
    pub version: u32,
    /// The blob directory holding the version's files, e.g. `artifacts/models/m-…/artifacts`.
    pub files: String,
}

/// What a scoring process is started from.
#[derive(Debug, Clone)]
pub struct Definition {
    pub id: String,
    pub uuid: Uuid,
    pub name: String,
    pub workspace_id: String,
    pub kind: String,
    pub models: Vec<ModelFiles>,
    pub snapshot: Option<String>,
    pub entry_script: Option<String>,
    pub python: String,
    pub compute_type: String,
}

impl Definition {
    fn of(record: &WebServiceRecord) -> Result<Self> {
        Ok(Self {
            id: record.id.clone(),
            uuid: Uuid::try_parse(&record.id).map_err(Error::internal)?,
            name: record.name.clone(),
            workspace_id: record.workspace_id.clone(),
            kind: record.kind.clone(),
            models: serde_json::from_str(&record.models).map_err(Error::internal)?,
            snapshot: Some(record.snapshot.clone()).filter(|s| !s.is_empty()),
            entry_script: Some(record.entry_script.clone()).filter(|s| !s.is_empty()),
            python: record.python.clone(),
            compute_type: record.compute_type.clone(),
        })
    }
}

/// Service names: 3-32 lower-case letters, digits and hyphens, starting with a letter and not
/// ending with a hyphen (the seed platform's rule).
pub fn validate_service_name(name: &str) -> Result<()> {
    let chars_ok = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !(3..=32).contains(&name.len())
        || !chars_ok
        || !name.starts_with(|c: char| c.is_ascii_lowercase())
        || name.ends_with('-')
    {
        return Err(Error::invalid(
            "name",
            "must be 3-32 lower-case letters, digits and hyphens, starting with a letter and not ending with a hyphen",
        ));
    }
    Ok(())
}

/// The interpreter: a command name found on the server's PATH, or an absolute path, of
/// letters, digits and `/._+-` (it is put in a shell command line).
fn validate_python(python: &str) -> Result<()> {
    let chars_ok = python
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '_' | '+' | '-'));
    let shape_ok = python.starts_with('/') || !python.contains('/');
    if python.is_empty() || python.len() > 1024 || !chars_ok || !shape_ok {
        return Err(Error::invalid(
            "python",
            "must be a command name on the server's PATH (python3) or an absolute path, of letters, digits and '/._+-'",
        ));
    }
    Ok(())
}

fn validate_entry_script(script: &str) -> Result<()> {
    let parts_ok = script
        .split('/')
        .all(|part| !part.is_empty() && part != "." && part != "..");
    if script.len() > 1024 || !parts_ok || !script.ends_with(".py") || script.starts_with('/') {
        return Err(Error::invalid(
            "entry_script",
            "must be a relative path inside the snapshot to a .py file, without '.' or '..' parts",
        ));
    }
    Ok(())
}

fn validate_auth_mode(mode: &str) -> Result<&'static str> {
    match mode {
        AUTH_KEY => Ok(AUTH_KEY),
        AUTH_TOKEN => Ok(AUTH_TOKEN),
        _ => Err(Error::invalid(
            "auth_mode",
            "must be 'key' (primary and secondary keys) or 'token' (short-lived tokens); a service uses one, never both",
        )),
    }
}

/// Where a model version's files are among the workspace's blobs, from its `source`.
fn files_of_source(field: &str, source: &str) -> Result<String> {
    let files = if let Some(model) = source
        .strip_prefix("models:/")
        .filter(|m| m.starts_with("m-"))
    {
        format!("artifacts/models/{model}/artifacts")
    } else if let Some(path) = source.strip_prefix("mlflow-artifacts:/") {
        format!("artifacts/{}", path.trim_matches('/'))
    } else if let Some(rest) = source.strip_prefix("runs:/") {
        let (run, path) = rest.split_once('/').unwrap_or((rest, ""));
        let run = Uuid::try_parse(run)
            .map_err(|_| Error::invalid(field, format!("source '{source}' names no run id")))?;
        format!("artifacts/runs/{run}/outputs/{}", path.trim_matches('/'))
    } else {
        return Err(Error::invalid(
            field,
            format!(
                "source '{source}' is not in this workspace: casemate serves versions whose files it holds (models:/m-…, runs:/…, mlflow-artifacts:/…)"
            ),
        ));
    };
    let files = files.trim_end_matches('/').to_owned();
    if files.split('/').any(|part| part.is_empty() || part == "..") {
        return Err(Error::invalid(
            field,
            format!("source '{source}' is not a plain path"),
        ));
    }
    Ok(files)
}

fn time_of(millis: i64) -> Result<time::OffsetDateTime> {
    from_unix_millis(millis)
        .ok_or_else(|| Error::internal(format!("stored time {millis} is out of range")))
}

pub(super) fn service_resource_id(workspace: &str, name: &str) -> String {
    format!("{workspace}/services/{name}")
}

impl Services {
    pub(super) async fn service_record(
        &self,
        storage: &WorkspaceStorage,
        name: &str,
    ) -> Result<WebServiceRecord> {
        self.store
            .web_service(&storage.id, name)
            .await?
            .ok_or_else(|| Error::NotFound(format!("web service '{name}'")))
    }

    fn service_view(&self, rg: &str, ws: &str, record: &WebServiceRecord) -> Result<WebService> {
        let models: Vec<ModelFiles> =
            serde_json::from_str(&record.models).map_err(Error::internal)?;
        let count = |v: i64| u64::try_from(v).unwrap_or(0);
        Ok(WebService {
            id: service_resource_id(&workspace_id(rg, ws), &record.name),
            name: record.name.clone(),
            kind: record.kind.clone(),
            models: models
                .into_iter()
                .map(|m| ServiceModel {
                    name: m.name,
                    version: m.version,
                })
                .collect(),
            entry_script: Some(record.entry_script.clone()).filter(|s| !s.is_empty()),
            snapshot_id: Some(record.snapshot.clone()).filter(|s| !s.is_empty()),
            auth_mode: record.auth_mode.clone(),
            python: record.python.clone(),
            compute: record.compute.clone(),
            compute_type: record.compute_type.clone(),
            max_request_bytes: count(record.max_body_bytes),
            token_lifetime_seconds: count(record.token_ttl_seconds),
            state: record.state.clone(),
            state_reason: Some(record.state_reason.clone()).filter(|s| !s.is_empty()),
            restarts: count(record.restarts),
            scoring_uri: format!(
                "/resourceGroups/{rg}/workspaces/{ws}/services/{}/score",
                record.name
            ),
            created_at: time_of(record.created_at)?,
            updated_at: time_of(record.updated_at)?,
            created_by: record.created_by.clone(),
        })
    }

    /// Checks each version exists and finds its files; an MLflow service needs exactly one
    /// version, with an `MLmodel` file.
    async fn resolve_models(
        &self,
        storage: &WorkspaceStorage,
        models: &[ServiceModel],
        kind: &str,
    ) -> Result<Vec<ModelFiles>> {
        if models.is_empty() || models.len() > 16 {
            return Err(Error::invalid(
                "models",
                "must name 1-16 registered model versions",
            ));
        }
        if kind == KIND_MLFLOW && models.len() != 1 {
            return Err(Error::invalid(
                "models",
                "an MLflow model service serves exactly one model version; use an entry script to serve several",
            ));
        }
        let mut resolved = Vec::with_capacity(models.len());
        for (index, model) in models.iter().enumerate() {
            let field = format!("models[{index}]");
            let version = self
                .model_version_record(&storage.id, &model.name, i64::from(model.version))
                .await
                .map_err(|error| match error {
                    Error::NotFound(what) => {
                        Error::invalid(&field, format!("{what}: no such model version"))
                    }
                    other => other,
                })?;
            let files = files_of_source(&field, &version.source)?;
            if kind == KIND_MLFLOW
                && !self
                    .blob_exists(storage, &format!("{files}/MLmodel"))
                    .await?
            {
                return Err(Error::invalid(
                    &field,
                    format!(
                        "version {} of '{}' is not an MLflow model (no MLmodel file at {}): deploy it with an entry script",
                        model.version, model.name, version.source
                    ),
                ));
            }
            resolved.push(ModelFiles {
                name: version.model.clone(),
                version: model.version,
                files,
            });
        }
        Ok(resolved)
    }

    /// Checks the entry script is in its snapshot.
    async fn check_entry_script(
        &self,
        storage: &WorkspaceStorage,
        snapshot: Option<&str>,
        script: &str,
    ) -> Result<String> {
        validate_entry_script(script)?;
        let snapshot = snapshot.ok_or_else(|| {
            Error::invalid(
                "snapshot_id",
                "is required with an entry script: upload the source directory first",
            )
        })?;
        crate::services::snapshots::validate_snapshot_id("snapshot_id", snapshot)?;
        let record =
            self.snapshot_record(storage, snapshot)
                .await
                .map_err(|error| match error {
                    Error::NotFound(what) => {
                        Error::invalid("snapshot_id", format!("{what} does not exist"))
                    }
                    other => other,
                })?;
        if !self.snapshot_contains(storage, &record, script).await? {
            return Err(Error::invalid(
                "entry_script",
                format!("'{script}' is not a file in snapshot {snapshot}"),
            ));
        }
        Ok(snapshot.to_owned())
    }

    fn request_limit(&self, requested: Option<u64>) -> Result<i64> {
        let ceiling = u64::try_from(self.webservices_max_body).unwrap_or(u64::MAX);
        let limit = requested.unwrap_or(DEFAULT_MAX_REQUEST_BYTES.min(ceiling));
        if limit == 0 || limit > ceiling {
            return Err(Error::invalid(
                "max_request_bytes",
                format!("must be between 1 and {ceiling} (the server's body limit)"),
            ));
        }
        i64::try_from(limit).map_err(Error::internal)
    }

    fn token_lifetime(requested: Option<u64>) -> Result<i64> {
        let seconds = requested.unwrap_or(DEFAULT_TOKEN_SECONDS);
        if !TOKEN_SECONDS.contains(&seconds) {
            return Err(Error::invalid(
                "token_lifetime_seconds",
                format!(
                    "must be between {} and {}",
                    TOKEN_SECONDS.start(),
                    TOKEN_SECONDS.end()
                ),
            ));
        }
        i64::try_from(seconds).map_err(Error::internal)
    }

    /// Starts `definition` and waits for its first process to answer (or fail).
    async fn start_and_wait(
        self: &Arc<Self>,
        definition: Definition,
    ) -> (u64, std::result::Result<(), String>) {
        let deployment = self.webservices.deployment(&definition.id);
        let (first, came_up) = oneshot::channel();
        let generation = supervisor::supervise(self, &deployment, definition, Some(first));
        let outcome = came_up
            .await
            .unwrap_or_else(|_| Err("the supervisor stopped".into()));
        match &outcome {
            Ok(()) => supervisor::take_charge(&deployment, generation),
            Err(_) => supervisor::abandon(&deployment, generation),
        }
        (generation, outcome)
    }

    /// Deploys a service and waits until its scoring process answers. A process that does not
    /// come up leaves the service Failed with the reason (fix it with an update, or delete it).
    pub async fn create_service(
        self: &Arc<Self>,
        caller: &Caller,
        rg: &str,
        ws: &str,
        name: &str,
        request: &CreateServiceRequest,
    ) -> Result<WebService> {
        validate_service_name(name)?;
        let auth_mode = validate_auth_mode(&request.auth_mode)?;
        let python = request
            .python
            .clone()
            .unwrap_or_else(|| DEFAULT_PYTHON.to_owned());
        validate_python(&python)?;
        let max_body_bytes = self.request_limit(request.max_request_bytes)?;
        let token_ttl_seconds = Self::token_lifetime(request.token_lifetime_seconds)?;
        let storage = self.workspace_storage(rg, ws).await?;
        let target = self
            .compute_target(
                rg,
                ws,
                request
                    .compute
                    .as_deref()
                    .unwrap_or(crate::services::computes::BUILT_IN_LOCAL),
            )
            .await?;
        if target.ray.is_some() {
            return Err(Error::invalid(
                "compute",
                format!(
                    "'{}' is a ray compute, which takes runs; web services run on local computes",
                    target.name
                ),
            ));
        }
        let (kind, snapshot, entry_script) = match &request.entry_script {
            Some(script) => {
                let snapshot = self
                    .check_entry_script(&storage, request.snapshot_id.as_deref(), script)
                    .await?;
                (KIND_ENTRY_SCRIPT, snapshot, script.clone())
            }
            None if request.snapshot_id.is_some() => {
                return Err(Error::invalid(
                    "entry_script",
                    "is required with a snapshot: name the script that has init() and run(raw_data)",
                ));
            }
            None => (KIND_MLFLOW, String::new(), String::new()),
        };
        let models = self.resolve_models(&storage, &request.models, kind).await?;
        let uuid = Uuid::new_v4();
        let id = uuid.simple().to_string();
        let now = unix_millis(self.now());
        let mut record = WebServiceRecord {
            id: id.clone(),
            workspace_id: storage.id.clone(),
            name: name.to_owned(),
            kind: kind.to_owned(),
            models: serde_json::to_string(&models).map_err(Error::internal)?,
            snapshot,
            entry_script,
            python,
            compute: target.name.clone(),
            compute_type: target.kind.clone(),
            auth_mode: auth_mode.to_owned(),
            primary_key: Vec::new(),
            primary_key_hash: Vec::new(),
            secondary_key: Vec::new(),
            secondary_key_hash: Vec::new(),
            max_body_bytes,
            token_ttl_seconds,
            state: STATE_TRANSITIONING.to_owned(),
            state_reason: String::new(),
            pid: None,
            restarts: 0,
            created_at: now,
            updated_at: now,
            created_by: caller.name.clone(),
        };
        if auth_mode == AUTH_KEY {
            for slot in KEY_SLOTS {
                let key = casemate_crypto::random_text()?;
                let sealed = self
                    .seal_small(&storage, key.expose().as_bytes(), &key_context(&id, slot))
                    .await?;
                let hash = casemate_crypto::sha256(key.expose().as_bytes()).to_vec();
                if slot == "primary" {
                    (record.primary_key, record.primary_key_hash) = (sealed, hash);
                } else {
                    (record.secondary_key, record.secondary_key_hash) = (sealed, hash);
                }
            }
        }
        self.store.insert_web_service(&record).await?;
        let deployment = self.webservices.deployment(&id);
        let _changing = deployment.changing.lock().await;
        let (_, outcome) = self.start_and_wait(Definition::of(&record)?).await;
        let metric = if let Err(reason) = &outcome {
            self.set_failed(&record, reason).await?;
            MetricOutcome::Failed
        } else {
            MetricOutcome::Succeeded
        };
        self.note_workspace_event(&storage, DEPLOYMENT, metric)
            .await;
        let record = self.service_record(&storage, name).await?;
        self.service_view(rg, ws, &record)
    }

    async fn set_failed(&self, record: &WebServiceRecord, reason: &str) -> Result<()> {
        let state = casemate_store::ServiceState {
            state: STATE_FAILED,
            reason,
            pid: None,
            restarted: false,
            time_ms: unix_millis(self.now()),
        };
        Ok(self.store.set_web_service_state(&record.id, &state).await?)
    }

    pub async fn list_services(&self, rg: &str, ws: &str) -> Result<Vec<WebService>> {
        let storage = self.workspace_storage(rg, ws).await?;
        self.store
            .web_services(&storage.id)
            .await?
            .iter()
            .map(|record| self.service_view(rg, ws, record))
            .collect()
    }

    pub async fn get_service(&self, rg: &str, ws: &str, name: &str) -> Result<WebService> {
        let storage = self.workspace_storage(rg, ws).await?;
        let record = self.service_record(&storage, name).await?;
        self.service_view(rg, ws, &record)
    }

    /// A rolling update: the new process must answer before the old one stops; if it does
    /// not, nothing changes and the old one keeps serving.
    pub async fn update_service(
        self: &Arc<Self>,
        rg: &str,
        ws: &str,
        name: &str,
        request: &UpdateServiceRequest,
    ) -> Result<WebService> {
        let storage = self.workspace_storage(rg, ws).await?;
        let mut record = self.service_record(&storage, name).await?;
        let deployment = self.webservices.deployment(&record.id);
        let _changing = deployment.changing.lock().await;
        if let Some(python) = &request.python {
            validate_python(python)?;
            record.python = python.clone();
        }
        if request.max_request_bytes.is_some() {
            record.max_body_bytes = self.request_limit(request.max_request_bytes)?;
        }
        if request.token_lifetime_seconds.is_some() {
            record.token_ttl_seconds = Self::token_lifetime(request.token_lifetime_seconds)?;
        }
        if request.entry_script.is_some() || request.snapshot_id.is_some() {
            if record.kind != KIND_ENTRY_SCRIPT {
                return Err(Error::invalid(
                    "entry_script",
                    "an MLflow model service has no entry script: deploy a new service instead",
                ));
            }
            let script = request
                .entry_script
                .clone()
                .unwrap_or_else(|| record.entry_script.clone());
            let snapshot = request
                .snapshot_id
                .clone()
                .unwrap_or_else(|| record.snapshot.clone());
            record.snapshot = self
                .check_entry_script(&storage, Some(&snapshot), &script)
                .await?;
            record.entry_script = script;
        }
        if let Some(models) = &request.models {
            let models = self.resolve_models(&storage, models, &record.kind).await?;
            record.models = serde_json::to_string(&models).map_err(Error::internal)?;
        }
        record.updated_at = unix_millis(self.now());
        let (_, outcome) = self.start_and_wait(Definition::of(&record)?).await;
        if let Err(reason) = outcome {
            self.note_workspace_event(&storage, DEPLOYMENT, MetricOutcome::Failed)
                .await;
            return Err(Error::Conflict(format!(
                "the update of service '{name}' was not applied, and the service keeps serving what it served: the new scoring process did not start: {reason}"
            )));
        }
        self.store.update_web_service_definition(&record).await?;
        self.note_workspace_event(&storage, DEPLOYMENT, MetricOutcome::Succeeded)
            .await;
        let record = self.service_record(&storage, name).await?;
        self.service_view(rg, ws, &record)
    }

    /// Workspace deletion: its services' processes stop (their files go with them) and their
    /// records and tokens are deleted, before the workspace's keys are destroyed.
    pub(crate) async fn remove_workspace_services(&self, workspace_id: &str) -> Result<()> {
        for record in self.store.web_services(workspace_id).await? {
            self.webservices.remove(&record.id);
        }
        Ok(self
            .store
            .delete_workspace_web_services(workspace_id)
            .await?)
    }

    pub async fn delete_service(&self, rg: &str, ws: &str, name: &str) -> Result<()> {
        let storage = self.workspace_storage(rg, ws).await?;
        let record = self.service_record(&storage, name).await?;
        self.webservices.remove(&record.id);
        self.store.delete_web_service(&record.id).await?;
        Ok(())
    }

    pub async fn scoring_log(
        &self,
        rg: &str,
        ws: &str,
        name: &str,
        since_ms: i64,
    ) -> Result<ScoringLog> {
        let storage = self.workspace_storage(rg, ws).await?;
        let record = self.service_record(&storage, name).await?;
        let entries = self
            .store
            .scoring_records(&record.id, since_ms, MAX_LOG_ENTRIES)
            .await?
            .into_iter()
            .map(|r| {
                Ok(ScoringLogEntry {
                    time: time_of(r.time_ms)?,
                    method: r.method,
                    url: r.url,
                    user_agent: r.user_agent,
                    compute_type: r.compute_type,
                    status: u16::try_from(r.status).unwrap_or(0),
                    request_id: r.request_id,
                    model_us: u64::try_from(r.model_us).unwrap_or(0),
                    overhead_us: u64::try_from(r.overhead_us).unwrap_or(0),
                    client_address: r.client_address,
                    credential: r.credential,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(ScoringLog {
            service: name.to_owned(),
            entries,
        })
    }

    pub async fn service_console(&self, rg: &str, ws: &str, name: &str) -> Result<ServiceConsole> {
        let storage = self.workspace_storage(rg, ws).await?;
        let record = self.service_record(&storage, name).await?;
        let text = self
            .webservices
            .existing(&record.id)
            .map(|deployment| deployment.console_text())
            .unwrap_or_default();
        Ok(ServiceConsole {
            service: name.to_owned(),
            text,
        })
    }

    /// Start-up: every service comes back. A process this replica left running is stopped
    /// first; one another replica on the same machine started is its own and stays.
    pub async fn recover_web_services(self: &Arc<Self>) -> Result<usize> {
        // A service that never came up stays Failed until it is updated or deleted.
        let records: Vec<WebServiceRecord> = self
            .store
            .all_web_services()
            .await?
            .into_iter()
            .filter(|record| record.state != STATE_FAILED)
            .collect();
        for record in &records {
            if let Some(pid) = record.pid.and_then(|p| u32::try_from(p).ok())
                && process_has_environment(pid, &format!("CASEMATE_SERVICE_ID={}", record.id))
                && process_has_environment(pid, &format!("CASEMATE_REPLICA_ID={}", self.replica.id))
            {
                kill_process_group(pid);
            }
            let state = casemate_store::ServiceState {
                state: STATE_TRANSITIONING,
                reason: "casemate restarted; the scoring process is starting",
                pid: None,
                restarted: false,
                time_ms: unix_millis(self.now()),
            };
            self.store.set_web_service_state(&record.id, &state).await?;
            let deployment = self.webservices.deployment(&record.id);
            let generation =
                supervisor::supervise(self, &deployment, Definition::of(record)?, None);
            supervisor::take_charge(&deployment, generation);
        }
        Ok(records.len())
    }
}
