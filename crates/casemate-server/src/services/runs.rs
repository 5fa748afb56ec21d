//! Runs: submission (the run id and its token), the lifecycle Queued → Preparing → Running →
//! Completed / Failed / Canceled persisted at each step, and what a run writes back: metrics,
//! tags and outputs. Its captured output is `run_logs`'s.
//!
//! The lifecycle knows executors only through [`Executor`]; it never asks which engine runs it.

use super::computes::ComputeTarget;
use super::executor::Executor;
use super::masking::FetchedSecrets;
use super::resources::WorkspaceStorage;
use super::{Caller, Credential, Services};
use crate::error::{Error, Result};
use casemate_crypto::opaque;
use casemate_store::{MetricRecord, RunRecord, RunTokenRecord};
use casemate_types::Sensitive;
use casemate_types::clock::{from_unix_millis, unix_millis};
use casemate_types::names::validate_child_name;
use casemate_types::wire::{Metric, MetricPoint, Run, RunStatus, SubmitRunRequest};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use time::OffsetDateTime;
use tokio::sync::{Semaphore, watch};
use uuid::Uuid;

mod execution;
use execution::Prepared;

pub const RUN_TOKEN_PREFIX: &str = "cmrun";
const MAX_ENVIRONMENT: usize = 100;
const MAX_METRICS: usize = 1000;
const MAX_TAGS: usize = 100;
/// How long stopping a run waits for its lifecycle to record the end.
const RECORD_END_WAIT: Duration = Duration::from_secs(10);

/// Why a run is being stopped from outside.
#[derive(Debug, Clone, PartialEq, Eq)]
enum StopRequest {
    Cancel {
        by: String,
    },
    Shutdown,
    /// The database says the run has ended: canceled through another replica, or failed by
    /// one after this replica's lease ran out.
    EndedElsewhere,
}

struct ActiveRun {
    workspace: String,
    secrets: Arc<FetchedSecrets>,
    stop: watch::Sender<Option<StopRequest>>,
    /// Turns true once the run's end is recorded.
    ended: watch::Receiver<bool>,
}

/// Waits until a run's end is recorded (or its lifecycle is gone), at most `RECORD_END_WAIT`.
async fn recorded_end(mut ended: watch::Receiver<bool>) {
    let _ = tokio::time::timeout(RECORD_END_WAIT, ended.wait_for(|done| *done)).await;
}

/// The runs this process drives, their queues and the engines it has.
pub struct RunRegistry {
    pub(crate) executors: HashMap<&'static str, Arc<dyn Executor>>,
    pub(super) local_max_concurrent_runs: u32,
    pub(super) local_max_run_seconds: u64,
    runs_dir: PathBuf,
    /// Where the Python SDK is written at start; on every local run's `PYTHONPATH`.
    pub python_sdk_dir: PathBuf,
    active: Mutex<HashMap<Uuid, ActiveRun>>,
    queues: Mutex<HashMap<String, Arc<Semaphore>>>,
    endpoint: std::sync::OnceLock<RunEndpoint>,
}

/// Where a run reaches the server, set once the listener is bound.
#[derive(Debug, Clone)]
pub struct RunEndpoint {
    pub url: String,
    pub ca_cert: Option<PathBuf>,
}

impl RunRegistry {
    pub fn new(
        runs_dir: PathBuf,
        python_sdk_dir: PathBuf,
        local_max_concurrent_runs: u32,
        local_max_run_seconds: u64,
    ) -> Self {
        let local: Arc<dyn Executor> = Arc::new(super::executor::LocalExecutor);
        let ray: Arc<dyn Executor> = Arc::new(crate::ray::RayExecutor::new(python_sdk_dir.clone()));
        Self {
            executors: HashMap::from([(local.kind(), local), (ray.kind(), ray)]),
            local_max_concurrent_runs,
            local_max_run_seconds,
            runs_dir,
            python_sdk_dir,
            active: Mutex::new(HashMap::new()),
            queues: Mutex::new(HashMap::new()),
            endpoint: std::sync::OnceLock::new(),
        }
    }

    /// Where this server answers, once its listener is bound.
    pub fn endpoint(&self) -> Option<&RunEndpoint> {
        self.endpoint.get()
    }

    pub fn set_endpoint(&self, endpoint: RunEndpoint) {
        let _ = self.endpoint.set(endpoint);
    }

    fn queue(&self, target: &ComputeTarget) -> Arc<Semaphore> {
        let mut queues = self.queues.lock().unwrap_or_else(|p| p.into_inner());
        queues
            .entry(target.queue.clone())
            .or_insert_with(|| Arc::new(Semaphore::new(target.max_concurrent_runs as usize)))
            .clone()
    }

    fn secrets_of(&self, run: Uuid) -> Option<Arc<FetchedSecrets>> {
        let active = self.active.lock().unwrap_or_else(|p| p.into_inner());
        active.get(&run).map(|a| a.secrets.clone())
    }

    /// The runs this process drives now.
    pub(super) fn driven_runs(&self) -> Vec<Uuid> {
        let active = self.active.lock().unwrap_or_else(|p| p.into_inner());
        active.keys().copied().collect()
    }

    /// Stops the runs this process drives that the database says have ended.
    pub(super) fn stop_ended_elsewhere(&self, ended: impl Iterator<Item = Uuid>) {
        let ended: std::collections::HashSet<Uuid> = ended.collect();
        if !ended.is_empty() {
            self.request_stop(StopRequest::EndedElsewhere, |id, _| ended.contains(id));
        }
    }

    /// Asks the runs `select`ed to stop; returns what tells when each has recorded its end.
    fn request_stop(
        &self,
        request: StopRequest,
        select: impl Fn(&Uuid, &ActiveRun) -> bool,
    ) -> Vec<watch::Receiver<bool>> {
        let active = self.active.lock().unwrap_or_else(|p| p.into_inner());
        active
            .iter()
            .filter(|(id, run)| select(id, run))
            .map(|(_, run)| {
                run.stop.send_replace(Some(request.clone()));
                run.ended.clone()
            })
            .collect()
    }
}

fn from_millis(value: i64) -> Result<OffsetDateTime> {
    from_unix_millis(value)
        .ok_or_else(|| Error::internal(format!("stored time {value} is out of range")))
}

fn environment_context(workspace: &str, run: Uuid) -> Vec<u8> {
    format!("{}/runs/{run}/environment", workspace.to_ascii_lowercase()).into_bytes()
}

fn validate_command(command: &str) -> Result<()> {
    if command.trim().is_empty() || command.len() > 8192 || command.contains('\0') {
        return Err(Error::invalid(
            "command",
            "must be 1-8192 characters of shell command line, with no NUL",
        ));
    }
    Ok(())
}

fn validate_environment(environment: &BTreeMap<String, String>) -> Result<()> {
    if environment.len() > MAX_ENVIRONMENT {
        return Err(Error::invalid(
            "environment",
            format!("may hold at most {MAX_ENVIRONMENT} variables"),
        ));
    }
    for (name, value) in environment {
        let well_formed = (1..=128).contains(&name.len())
            && name
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !well_formed {
            return Err(Error::invalid(
                "environment",
                "names must be 1-128 letters, digits or '_', not starting with a digit",
            ));
        }
        if name.to_ascii_uppercase().starts_with("CASEMATE_") {
            return Err(Error::invalid(
                "environment",
                format!("'{name}': names starting with CASEMATE_ are set by casemate"),
            ));
        }
        if value.len() > 32 * 1024 || value.contains('\0') {
            return Err(Error::invalid(
                "environment",
                format!("'{name}': values must be at most 32768 bytes, with no NUL"),
            ));
        }
    }
    Ok(())
}

fn validate_metric(point: &MetricPoint) -> Result<()> {
    let name_ok = (1..=250).contains(&point.name.len())
        && point
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/' | ' ' | ':'));
    if !name_ok {
        return Err(Error::invalid(
            "metrics.name",
            "must be 1-250 letters, digits, spaces or '_', '-', '.', '/', ':'",
        ));
    }
    if !point.value.is_finite() {
        return Err(Error::invalid("metrics.value", "must be a finite number"));
    }
    if point.step.is_some_and(|step| step < 0) {
        return Err(Error::invalid("metrics.step", "must not be negative"));
    }
    if point.timestamp.is_some_and(|t| t < 0) {
        return Err(Error::invalid(
            "metrics.timestamp",
            "must be Unix milliseconds, not negative",
        ));
    }
    Ok(())
}

impl Services {
    fn run_view(
        &self,
        record: &RunRecord,
        tags: BTreeMap<String, String>,
        environment: Option<BTreeMap<String, String>>,
    ) -> Result<Run> {
        Ok(Run {
            id: record.id,
            experiment: record.experiment.clone(),
            workspace: record.workspace_id.clone(),
            compute: record.compute.clone(),
            snapshot_id: record.snapshot.clone(),
            command: record.command.clone(),
            status: RunStatus::parse(&record.status).ok_or_else(|| {
                Error::internal(format!("run {} has status {}", record.id, record.status))
            })?,
            reason: record.reason.clone(),
            exit_code: record.exit_code,
            submitted_by: record.submitted_by_name.clone(),
            submitted_at: from_millis(record.submitted_at)?,
            started_at: record.started_at.map(from_millis).transpose()?,
            ended_at: record.ended_at.map(from_millis).transpose()?,
            time_limit_seconds: u64::try_from(record.time_limit_seconds)
                .map_err(Error::internal)?,
            tags,
            environment,
            image: record.image.clone(),
            image_digest: record.image_digest.clone(),
        })
    }

    /// The run, which must belong to the workspace.
    pub(crate) async fn run_in(&self, storage: &WorkspaceStorage, run: Uuid) -> Result<RunRecord> {
        self.store
            .run(run)
            .await?
            .filter(|r| r.workspace_id.eq_ignore_ascii_case(&storage.id))
            .ok_or_else(|| Error::NotFound(format!("run '{run}' in this workspace")))
    }

    /// Submits a run: records it Queued with its token, and starts its lifecycle.
    pub async fn submit_run(
        self: &Arc<Self>,
        caller: &Caller,
        rg: &str,
        ws: &str,
        experiment: &str,
        request: &SubmitRunRequest,
    ) -> Result<Run> {
        validate_child_name("experiment", experiment)?;
        super::snapshots::validate_snapshot_id("snapshot_id", &request.snapshot_id)?;
        validate_command(&request.command)?;
        validate_environment(&request.environment)?;
        let storage = self.workspace_storage(rg, ws).await?;
        let compute = request
            .compute
            .as_deref()
            .unwrap_or(super::computes::BUILT_IN_LOCAL);
        let target = self.compute_target(rg, ws, compute).await?;
        let ray = super::computes::ray_for_run(&target, request.resources.as_ref())?;
        let time_limit = request.time_limit_seconds.unwrap_or(target.max_run_seconds);
        if time_limit == 0 || time_limit > target.max_run_seconds {
            return Err(Error::invalid(
                "time_limit_seconds",
                format!(
                    "must be between 1 and {} (the limit of compute '{}')",
                    target.max_run_seconds, target.name
                ),
            ));
        }
        let snapshot = self.snapshot_record(&storage, &request.snapshot_id).await?;
        let endpoint = self
            .runs
            .endpoint
            .get()
            .cloned()
            .ok_or_else(|| Error::Unavailable("the server is still starting".into()))?;
        let image = match &request.image {
            Some(image) => Some(
                self.run_image(rg, ws, &target.name, &endpoint.url, image)
                    .await?,
            ),
            None => None,
        };
        self.ensure_experiment(&storage.id, experiment, &caller.name)
            .await?;

        let now = self.now();
        let run_id = Uuid::new_v4();
        let time_limit_i64 = i64::try_from(time_limit).map_err(Error::internal)?;
        let expires_at = now.unix_timestamp() + time_limit_i64;
        let credential = opaque::mint(RUN_TOKEN_PREFIX)?;
        let scratch = self.runs.runs_dir.join(run_id.simple().to_string());
        let expiry = OffsetDateTime::from_unix_timestamp(expires_at)
            .ok()
            .and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
            .unwrap_or_default();
        let mut environment: Vec<(String, Sensitive)> = vec![
            (
                "PATH".into(),
                Sensitive::new(
                    std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".into()),
                ),
            ),
            ("HOME".into(), Sensitive::new(scratch.display().to_string())),
            ("LANG".into(), Sensitive::new("C.UTF-8")),
            ("PYTHONUNBUFFERED".into(), Sensitive::new("1")),
            ("CASEMATE_RUN_ID".into(), Sensitive::new(run_id.to_string())),
            ("CASEMATE_RUN_TOKEN_EXPIRY".into(), Sensitive::new(expiry)),
            (
                "CASEMATE_ENDPOINT".into(),
                Sensitive::new(endpoint.url.clone()),
            ),
            ("CASEMATE_WORKSPACE".into(), Sensitive::new(ws)),
            ("CASEMATE_RESOURCE_GROUP".into(), Sensitive::new(rg)),
            ("CASEMATE_EXPERIMENT".into(), Sensitive::new(experiment)),
        ];
        if target.has_identity {
            environment.push((
                "CASEMATE_IDENTITY_ENDPOINT".into(),
                Sensitive::new(format!(
                    "{}/resourceGroups/{rg}/workspaces/{ws}/runs/{run_id}/identityToken",
                    endpoint.url.trim_end_matches('/')
                )),
            ));
        }
        // The unmodified `mlflow` client logs to this run, in this workspace, with the run token.
        environment.push((
            "MLFLOW_TRACKING_URI".into(),
            Sensitive::new(format!(
                "{}/mlflow/resourceGroups/{rg}/workspaces/{ws}",
                endpoint.url.trim_end_matches('/')
            )),
        ));
        environment.push((
            "MLFLOW_RUN_ID".into(),
            Sensitive::new(run_id.simple().to_string()),
        ));
        if let Some(ca) = &endpoint.ca_cert {
            for name in ["CASEMATE_CA_CERT", "MLFLOW_TRACKING_SERVER_CERT_PATH"] {
                environment.push((name.into(), Sensitive::new(ca.display().to_string())));
            }
        }
        environment.push((
            "PYTHONPATH".into(),
            Sensitive::new(super::python_sdk::python_path(
                &self.runs.python_sdk_dir,
                request.environment.get("PYTHONPATH"),
            )),
        ));
        for (name, value) in &request.environment {
            if name != "PYTHONPATH" {
                environment.push((name.clone(), Sensitive::new(value.clone())));
            }
        }
        // Recorded without the token, and not at all in an hbi workspace.
        let recorded = if storage.hbi {
            None
        } else {
            let shown: BTreeMap<&str, &str> = environment
                .iter()
                .map(|(name, value)| (name.as_str(), value.expose()))
                .collect();
            Some(self.seal_environment(&storage, run_id, &shown).await?)
        };
        environment.push((
            "MLFLOW_TRACKING_TOKEN".into(),
            Sensitive::new(credential.token.expose()),
        ));
        environment.push(("CASEMATE_RUN_TOKEN".into(), credential.token));
        let record = RunRecord {
            id: run_id,
            workspace_id: storage.id.clone(),
            experiment: experiment.to_owned(),
            compute: target.name.clone(),
            snapshot: snapshot.sha256.clone(),
            command: request.command.clone(),
            status: RunStatus::Queued.as_str().to_owned(),
            reason: None,
            exit_code: None,
            submitted_by: caller.principal_id,
            submitted_by_name: caller.name.clone(),
            submitted_at: unix_millis(now),
            started_at: None,
            ended_at: None,
            time_limit_seconds: time_limit_i64,
            pid: None,
            scratch: None,
            environment: recorded,
            origin: casemate_store::ORIGIN_SUBMITTED.to_owned(),
            lifecycle: "active".to_owned(),
            image: image.as_ref().map(|i| i.reference.to_string()),
            image_digest: None,
            owner_replica: Some(self.replica.id.clone()),
        };
        let token = RunTokenRecord {
            id: credential.id,
            run_id,
            secret_hash: credential.secret_hash.to_vec(),
            expires_at,
            revoked_at: None,
        };
        self.store.insert_run(&record, &token).await?;

        let secrets = Arc::new(FetchedSecrets::default());
        let (stop_sender, stop) = watch::channel(None);
        let (ended, ended_receiver) = watch::channel(false);
        self.runs
            .active
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(
                run_id,
                ActiveRun {
                    workspace: storage.id.clone(),
                    secrets: secrets.clone(),
                    stop: stop_sender,
                    ended: ended_receiver,
                },
            );
        let prepared = Prepared {
            run: record.clone(),
            storage,
            snapshot,
            target,
            environment,
            image,
            ray,
            secrets,
            stop,
            ended,
        };
        let services = self.clone();
        tokio::spawn(async move { services.drive(prepared).await });
        self.run_view(&record, BTreeMap::new(), None)
    }

    async fn seal_environment(
        &self,
        storage: &WorkspaceStorage,
        run: Uuid,
        environment: &BTreeMap<&str, &str>,
    ) -> Result<Vec<u8>> {
        let plaintext =
            zeroize::Zeroizing::new(serde_json::to_vec(environment).map_err(Error::internal)?);
        self.seal_small(storage, &plaintext, &environment_context(&storage.id, run))
            .await
    }

    async fn open_environment(
        &self,
        storage: &WorkspaceStorage,
        run: Uuid,
        sealed: &[u8],
    ) -> Result<BTreeMap<String, String>> {
        let plaintext = self
            .open_small(sealed, &environment_context(&storage.id, run))
            .await
            .map_err(|e| Error::internal(format!("run {run} environment: {e}")))?;
        // Environments sealed by earlier builds hold `[data key id, environment]`.
        serde_json::from_slice(&plaintext)
            .or_else(|_| {
                serde_json::from_slice::<(String, BTreeMap<String, String>)>(&plaintext)
                    .map(|(_, environment)| environment)
            })
            .map_err(Error::internal)
    }

    pub async fn list_runs(
        &self,
        rg: &str,
        ws: &str,
        experiment: Option<&str>,
    ) -> Result<Vec<Run>> {
        let storage = self.workspace_storage(rg, ws).await?;
        self.store
            .runs_of(&storage.id)
            .await?
            .iter()
            .filter(|r| experiment.is_none_or(|e| r.experiment.eq_ignore_ascii_case(e)))
            .map(|r| self.run_view(r, BTreeMap::new(), None))
            .collect()
    }

    pub async fn get_run(&self, rg: &str, ws: &str, run: Uuid) -> Result<Run> {
        let storage = self.workspace_storage(rg, ws).await?;
        let record = self.run_in(&storage, run).await?;
        let tags = self.store.run_tags(run).await?.into_iter().collect();
        let environment = match &record.environment {
            Some(sealed) => Some(self.open_environment(&storage, run, sealed).await?),
            None => None,
        };
        self.run_view(&record, tags, environment)
    }

    /// Cancels a run still in flight: its process group is killed at once.
    pub async fn cancel_run(&self, caller: &Caller, rg: &str, ws: &str, run: Uuid) -> Result<Run> {
        let storage = self.workspace_storage(rg, ws).await?;
        let record = self.run_in(&storage, run).await?;
        let status = RunStatus::parse(&record.status).unwrap_or(RunStatus::Failed);
        if status.is_final() {
            return Err(Error::Conflict(format!(
                "run '{run}' has already ended ({})",
                status.as_str()
            )));
        }
        let request = StopRequest::Cancel {
            by: caller.name.clone(),
        };
        let ended = self.runs.request_stop(request, |id, _| *id == run);
        if ended.is_empty() {
            // Not driven by this process (its server died): record the end here.
            self.store
                .finish_run(
                    run,
                    RunStatus::Canceled.as_str(),
                    Some(&format!("canceled by {}", caller.name)),
                    None,
                    unix_millis(self.now()),
                )
                .await?;
        }
        for end in ended {
            recorded_end(end).await;
        }
        self.run_view(&self.run_in(&storage, run).await?, BTreeMap::new(), None)
    }

    /// Deletes a run that has ended, with its scratch directory, logs, metrics and outputs.
    pub async fn delete_run(&self, rg: &str, ws: &str, run: Uuid) -> Result<()> {
        let storage = self.workspace_storage(rg, ws).await?;
        let record = self.run_in(&storage, run).await?;
        if !RunStatus::parse(&record.status).is_some_and(RunStatus::is_final) {
            return Err(Error::Conflict(format!(
                "run '{run}' is {}: cancel it before deleting it",
                record.status
            )));
        }
        self.wipe_scratch(run).await;
        self.store.delete_run(run).await?;
        let prefix = format!("artifacts/runs/{run}/outputs");
        self.delete_blob_tree(&storage, &prefix).await;
        Ok(())
    }

    pub async fn log_metrics(
        &self,
        rg: &str,
        ws: &str,
        run: Uuid,
        points: &[MetricPoint],
    ) -> Result<usize> {
        if points.is_empty() || points.len() > MAX_METRICS {
            return Err(Error::invalid(
                "metrics",
                format!("must hold 1-{MAX_METRICS} values"),
            ));
        }
        for point in points {
            validate_metric(point)?;
        }
        let storage = self.workspace_storage(rg, ws).await?;
        self.run_in(&storage, run).await?;
        let now = unix_millis(self.now());
        let records: Vec<MetricRecord> = points
            .iter()
            .map(|p| MetricRecord {
                name: p.name.clone(),
                value: p.value,
                step: p.step.unwrap_or(0),
                timestamp: p.timestamp.unwrap_or(now),
            })
            .collect();
        self.store.insert_metrics(run, &records).await?;
        Ok(records.len())
    }

    pub async fn run_metrics(
        &self,
        rg: &str,
        ws: &str,
        run: Uuid,
        name: Option<&str>,
    ) -> Result<Vec<Metric>> {
        let storage = self.workspace_storage(rg, ws).await?;
        self.run_in(&storage, run).await?;
        let points = match name {
            Some(name) => self.store.metric_history(run, name).await?,
            None => self.store.metrics(run).await?,
        };
        Ok(points
            .into_iter()
            .map(|m| Metric {
                name: m.name,
                value: m.value,
                step: m.step,
                timestamp: m.timestamp,
            })
            .collect())
    }

    pub async fn set_run_tags(
        &self,
        rg: &str,
        ws: &str,
        run: Uuid,
        tags: &BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, String>> {
        if tags.is_empty() || tags.len() > MAX_TAGS {
            return Err(Error::invalid(
                "tags",
                format!("must hold 1-{MAX_TAGS} tags"),
            ));
        }
        for (name, value) in tags {
            if name.is_empty() || name.chars().count() > 250 || name.chars().any(char::is_control) {
                return Err(Error::invalid(
                    "tags",
                    "names must be 1-250 characters, with no control characters",
                ));
            }
            if value.chars().count() > 5000 {
                return Err(Error::invalid(
                    "tags",
                    format!("'{name}': values must be at most 5000 characters"),
                ));
            }
        }
        let storage = self.workspace_storage(rg, ws).await?;
        self.run_in(&storage, run).await?;
        let pairs: Vec<(String, String)> =
            tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        self.store.set_run_tags(run, &pairs).await?;
        Ok(self.store.run_tags(run).await?.into_iter().collect())
    }

    /// Stores a file a run uploads as the artifact `runs/{run}/outputs/{path}`.
    pub async fn put_run_output<S>(
        &self,
        host: &str,
        rg: &str,
        ws: &str,
        run: Uuid,
        path: &str,
        body: S,
    ) -> Result<casemate_types::wire::Artifact>
    where
        S: futures_util::Stream<Item = std::io::Result<bytes::Bytes>> + Send + Unpin + 'static,
    {
        let storage = self.workspace_storage(rg, ws).await?;
        self.run_in(&storage, run).await?;
        let artifact = format!("runs/{run}/outputs/{path}");
        super::blobs::validate_artifact_path(&artifact)?;
        let size = self
            .put_blob(
                host,
                &storage,
                &format!("artifacts/{artifact}"),
                body,
                self.max_artifact_bytes,
            )
            .await?;
        Ok(casemate_types::wire::Artifact {
            path: artifact,
            size,
        })
    }

    /// Notes the secret values a run token just read, so the run's output masks them.
    pub(super) fn remember_fetched(&self, caller: &Caller, value: &Sensitive) {
        if let Credential::RunToken { run_id, .. } = &caller.credential
            && let Some(secrets) = self.runs.secrets_of(*run_id)
        {
            secrets.add(value.expose());
        }
    }

    /// A run token: valid while its run is in flight, for the principal that submitted it.
    pub(super) async fn authenticate_run_token(&self, presented: &Sensitive) -> Result<Caller> {
        let (token_id, presented_hash) = opaque::parse(RUN_TOKEN_PREFIX, presented.expose())
            .ok_or_else(|| Error::unauthenticated("not a run token"))?;
        let record = self
            .store
            .run_token_for_gate(token_id)
            .await?
            .ok_or_else(|| {
                Error::unauthenticated(format!("run token {token_id} does not exist"))
            })?;
        if !opaque::hash_matches(&record.secret_hash, &presented_hash) {
            return Err(Error::unauthenticated(format!(
                "run token {token_id}: wrong secret"
            )));
        }
        if record.revoked_at.is_some() {
            return Err(Error::unauthenticated(format!(
                "run token {token_id} was revoked: run {} has ended",
                record.run_id
            )));
        }
        if self.now_unix() >= record.expires_at {
            return Err(Error::unauthenticated(format!(
                "run token {token_id} expired"
            )));
        }
        let run = self
            .store
            .run_owner_for_gate(record.run_id)
            .await?
            .ok_or_else(|| {
                Error::unauthenticated(format!("run {} no longer exists", record.run_id))
            })?;
        let principal = self.enabled_principal(run.submitted_by).await?;
        let credential = Credential::RunToken {
            run_id: record.run_id,
            workspace: run.workspace_id,
            expires_at: super::signing::to_time(record.expires_at)?,
        };
        super::identity::caller_from(principal, credential)
    }

    /// Shutdown: stops every run this process drives, and waits for each to record its end.
    pub async fn stop_all_runs(&self) {
        for end in self.runs.request_stop(StopRequest::Shutdown, |_, _| true) {
            recorded_end(end).await;
        }
    }

    /// Workspace deletion: its runs are stopped and their scratch directories removed.
    pub(super) async fn stop_workspace_runs(&self, workspace: &str) -> Result<()> {
        let request = StopRequest::Cancel {
            by: "workspace deletion".into(),
        };
        let ended = self.runs.request_stop(request, |_, run| {
            run.workspace.eq_ignore_ascii_case(workspace)
        });
        for end in ended {
            recorded_end(end).await;
        }
        for scratch in self.store.run_scratch_dirs(workspace).await? {
            if let Err(error) = tokio::fs::remove_dir_all(&scratch).await
                && error.kind() != std::io::ErrorKind::NotFound
            {
                tracing::warn!(%scratch, %error, "could not remove a deleted workspace's run scratch");
            }
        }
        Ok(())
    }
}
