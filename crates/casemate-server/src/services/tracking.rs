//! Tracking as MLflow's clients see it, over casemate's own experiments and runs: one store, so
//! what `mlflow` logs is what the native API, the CLI and the SDK show, and the other way round.
//!
//! - An experiment is the workspace's `experiments` resource; its MLflow id is derived from its
//!   resource id (the `Default` experiment is `0`), and its tags and lifecycle stage live in the
//!   resource's properties.
//! - A run made by a tracking client has origin `tracked`: no snapshot or executor, and the
//!   client sets its status. A submitted run's status belongs to its executor; a client may log
//!   to it (with the run token, through `MLFLOW_RUN_ID`) but not end it.
//! - A run's artifacts are the workspace artifacts under `runs/{run}/outputs/`, where a
//!   submitted run's `outputs/` directory lands too.

use super::computes::experiment_resource_id;
use super::search_filter::{self, Clause, Entity, Field, SortKey};
use super::{Caller, Services};
use crate::error::{Error, Result};
use casemate_store::{MetricRecord, ORIGIN_TRACKED, RunRecord, TrackingBatch};
use casemate_types::clock::unix_millis;
use casemate_types::wire::RunStatus;
use casemate_types::wire::mlflow::{
    CreateRun, KeyValue, LogBatch, Metric, MetricHistoryQuery, MetricHistoryResponse, Run, RunData,
    RunInfo, SearchRuns, SearchRunsResponse, UpdateRun,
};
use serde::Deserialize;
use std::collections::HashMap;
use uuid::Uuid;

mod experiments;
use experiments::experiment_id;

const ACTIVE: &str = "active";
const DELETED: &str = "deleted";
const DEFAULT_EXPERIMENT: &str = "Default";
const DEFAULT_EXPERIMENT_ID: &str = "0";
pub const RUN_NAME_TAG: &str = "mlflow.runName";
/// MLflow's limits on one `log-batch` call.
const MAX_BATCH_METRICS: usize = 1000;
const MAX_BATCH_PARAMS_AND_TAGS: usize = 100;
const MAX_KEY_CHARS: usize = 250;
const MAX_PARAM_VALUE_CHARS: usize = 6000;
pub(super) const MAX_TAG_VALUE_CHARS: usize = 8000;
const MAX_SEARCH_RESULTS: i64 = 50_000;
const DEFAULT_SEARCH_RESULTS: i64 = 1000;

/// A run id as MLflow clients write it (32 hex digits; the hyphenated form is accepted too).
pub fn parse_run_id(field: &'static str, text: Option<&str>) -> Result<Uuid> {
    let text = text
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Error::invalid(field, "is required"))?;
    Uuid::parse_str(text).map_err(|_| Error::invalid(field, "must be a run id: 32 hex digits"))
}

pub fn required<'a>(field: &'static str, value: Option<&'a str>) -> Result<&'a str> {
    value
        .filter(|v| !v.is_empty())
        .ok_or_else(|| Error::invalid(field, "is required"))
}

fn mlflow_status(status: &str) -> &'static str {
    match RunStatus::parse(status) {
        Some(RunStatus::Queued | RunStatus::Preparing) => "SCHEDULED",
        Some(RunStatus::Running) | None => "RUNNING",
        Some(RunStatus::Completed) => "FINISHED",
        Some(RunStatus::Failed) => "FAILED",
        Some(RunStatus::Canceled) => "KILLED",
    }
}

fn casemate_status(status: &str) -> Result<RunStatus> {
    match status {
        "RUNNING" => Ok(RunStatus::Running),
        "SCHEDULED" => Ok(RunStatus::Queued),
        "FINISHED" => Ok(RunStatus::Completed),
        "FAILED" => Ok(RunStatus::Failed),
        "KILLED" => Ok(RunStatus::Canceled),
        _ => Err(Error::invalid(
            "status",
            "must be RUNNING, SCHEDULED, FINISHED, FAILED or KILLED",
        )),
    }
}

/// `mlflow-artifacts:` URIs name workspace artifact paths, which the proxy serves.
pub fn run_artifact_uri(run: Uuid) -> String {
    format!("mlflow-artifacts:/runs/{run}/outputs")
}

fn validate_key(field: &'static str, key: &str) -> Result<()> {
    if key.is_empty() || key.chars().count() > MAX_KEY_CHARS || key.contains(['\0', '\n']) {
        return Err(Error::invalid(
            field,
            format!("keys must be 1-{MAX_KEY_CHARS} characters without newlines"),
        ));
    }
    if key.split('/').any(|part| part == "..") {
        return Err(Error::invalid(
            field,
            "keys may not contain '..' path parts",
        ));
    }
    Ok(())
}

fn validate_value(field: &'static str, value: &str, limit: usize) -> Result<()> {
    if value.chars().count() > limit {
        return Err(Error::invalid(
            field,
            format!("values may be at most {limit} characters"),
        ));
    }
    Ok(())
}

/// Items as (key, value), each key and value checked against MLflow's limits.
fn validated_pairs(
    field: &'static str,
    items: &[KeyValue],
    value_limit: usize,
) -> Result<Vec<(String, String)>> {
    items
        .iter()
        .map(|item| {
            validate_key(field, &item.key)?;
            validate_value(field, &item.value, value_limit)?;
            Ok((item.key.clone(), item.value.clone()))
        })
        .collect()
}

pub fn validated_tags(field: &'static str, tags: &[KeyValue]) -> Result<Vec<(String, String)>> {
    validated_pairs(field, tags, MAX_TAG_VALUE_CHARS)
}

pub fn validated_params(params: &[KeyValue]) -> Result<Vec<(String, String)>> {
    validated_pairs("params", params, MAX_PARAM_VALUE_CHARS)
}

/// The value of tag `key`, for searches.
pub fn tag_field(tags: &[KeyValue], key: &str) -> Option<Field> {
    tags.iter()
        .find(|tag| tag.key == key)
        .map(|tag| Field::Text(tag.value.clone()))
}

pub fn key_values(pairs: impl IntoIterator<Item = (String, String)>) -> Vec<KeyValue> {
    pairs
        .into_iter()
        .map(|(key, value)| KeyValue { key, value })
        .collect()
}

/// `page_token` is an offset; MLflow's own servers write base64 of `{"offset": N}`.
fn page_offset(token: Option<&str>) -> Result<usize> {
    #[derive(Deserialize)]
    struct Page {
        offset: usize,
    }
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return Ok(0);
    };
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(token)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Page>(&bytes).ok())
        .map(|page| page.offset)
        .ok_or_else(|| Error::invalid("page_token", "is not a token this server issued"))
}

fn page_token(offset: usize) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("{{\"offset\": {offset}}}"))
}

/// `max_results`: `default` when absent, refused outside 1..=`max`.
pub fn max_results(requested: Option<i64>, default: i64, max: i64) -> Result<usize> {
    let wanted = requested.unwrap_or(default);
    if !(1..=max).contains(&wanted) {
        return Err(Error::invalid(
            "max_results",
            format!("must be between 1 and {max}"),
        ));
    }
    usize::try_from(wanted).map_err(Error::internal)
}

/// One page of `items` and the token for the next, if there is more.
pub fn paginate<T>(
    mut items: Vec<T>,
    token: Option<&str>,
    limit: usize,
) -> Result<(Vec<T>, Option<String>)> {
    let offset = page_offset(token)?;
    if offset >= items.len() {
        return Ok((Vec::new(), None));
    }
    let rest = items.split_off(offset);
    let more = rest.len() > limit;
    let page: Vec<T> = rest.into_iter().take(limit).collect();
    Ok((page, more.then(|| page_token(offset + limit))))
}

pub fn parse_filter(filter: Option<&str>) -> Result<Vec<Clause>> {
    search_filter::parse_filter(filter.unwrap_or("")).map_err(|rule| Error::invalid("filter", rule))
}

/// A registry or logged-model filter, whose attributes are named bare.
pub fn parse_bare_filter(filter: Option<&str>) -> Result<Vec<Clause>> {
    search_filter::parse_registry_filter(filter.unwrap_or(""))
        .map_err(|rule| Error::invalid("filter", rule))
}

pub fn parse_order_by(order_by: &[String]) -> Result<Vec<SortKey>> {
    order_by
        .iter()
        .map(|entry| {
            search_filter::parse_order_by(entry, false)
                .map_err(|rule| Error::invalid("order_by", rule))
        })
        .collect()
}

fn view_type_includes(view: Option<&str>, deleted: bool) -> Result<bool> {
    match view.unwrap_or("ACTIVE_ONLY") {
        "ACTIVE_ONLY" | "" => Ok(!deleted),
        "DELETED_ONLY" => Ok(deleted),
        "ALL" => Ok(true),
        _ => Err(Error::invalid(
            "view_type",
            "must be ACTIVE_ONLY, DELETED_ONLY or ALL",
        )),
    }
}

fn run_field(run: &Run, entity: Entity, key: &str) -> Option<Field> {
    let text = |value: &str| Some(Field::Text(value.to_owned()));
    match entity {
        Entity::Metric => run
            .data
            .metrics
            .iter()
            .find(|m| m.key == key)
            .map(|m| Field::Number(m.value)),
        Entity::Param => run
            .data
            .params
            .iter()
            .find(|p| p.key == key)
            .and_then(|p| text(&p.value)),
        Entity::Tag => tag_field(&run.data.tags, key),
        Entity::Attribute => match key {
            "run_id" | "run_uuid" => text(&run.info.run_id),
            "run_name" => text(&run.info.run_name),
            "status" => text(&run.info.status),
            "user_id" => text(&run.info.user_id),
            "artifact_uri" => text(&run.info.artifact_uri),
            "lifecycle_stage" => text(&run.info.lifecycle_stage),
            "experiment_id" => text(&run.info.experiment_id),
            "start_time" | "created" => run.info.start_time.map(|t| Field::Number(t as f64)),
            "end_time" => run.info.end_time.map(|t| Field::Number(t as f64)),
            _ => None,
        },
    }
}

fn to_metric(record: &MetricRecord) -> Metric {
    Metric {
        key: record.name.clone(),
        value: record.value,
        timestamp: record.timestamp,
        step: record.step,
    }
}

/// A run's parts as the search reads them in bulk.
#[derive(Default)]
struct RunParts {
    metrics: Vec<Metric>,
    params: Vec<(String, String)>,
    tags: Vec<(String, String)>,
}

impl Services {
    fn mlflow_run_view(&self, run: &RunRecord, experiment_id: String, parts: RunParts) -> Run {
        let run_name = parts
            .tags
            .iter()
            .find(|(k, _)| k == RUN_NAME_TAG)
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        let run_id = run.id.simple().to_string();
        Run {
            info: RunInfo {
                run_uuid: run_id.clone(),
                run_id,
                run_name,
                experiment_id,
                user_id: run.submitted_by_name.clone(),
                status: mlflow_status(&run.status).to_owned(),
                start_time: Some(run.started_at.unwrap_or(run.submitted_at)),
                end_time: run.ended_at,
                artifact_uri: run_artifact_uri(run.id),
                lifecycle_stage: run.lifecycle.clone(),
            },
            data: RunData {
                metrics: parts.metrics,
                params: key_values(parts.params),
                tags: key_values(parts.tags),
            },
            ..Run::default()
        }
    }

    async fn mlflow_run_full(&self, workspace_id: &str, record: &RunRecord) -> Result<Run> {
        let parts = RunParts {
            metrics: self
                .store
                .latest_metrics(workspace_id, Some(record.id))
                .await?
                .iter()
                .map(|latest| to_metric(&latest.metric))
                .collect(),
            params: self.store.run_params(record.id).await?,
            tags: self.store.run_tags(record.id).await?,
        };
        let (inputs, outputs) = self.mlflow_run_io(record.id).await?;
        Ok(Run {
            inputs,
            outputs,
            ..self.mlflow_run_view(
                record,
                self.mlflow_experiment_id_of(workspace_id, &record.experiment)
                    .await?,
                parts,
            )
        })
    }

    pub async fn mlflow_get_run(&self, rg: &str, ws: &str, run: Uuid) -> Result<Run> {
        let storage = self.workspace_storage(rg, ws).await?;
        let record = self.run_in(&storage, run).await?;
        self.mlflow_run_full(&storage.id, &record).await
    }

    pub async fn mlflow_create_run(
        &self,
        caller: &Caller,
        rg: &str,
        ws: &str,
        request: &CreateRun,
    ) -> Result<Run> {
        let experiment = required("experiment_id", request.experiment_id.as_deref())?;
        let mut tags = validated_tags("tags", &request.tags)?;
        let storage = self.workspace_storage(rg, ws).await?;
        let entry = self.experiment_entry(&storage.id, experiment).await?;
        if entry.deleted() {
            return Err(Error::invalid(
                "experiment_id",
                format!(
                    "experiment '{}' is deleted; restore it first",
                    entry.record.name
                ),
            ));
        }
        let id = Uuid::new_v4();
        let run_name = match request.run_name.as_deref().filter(|n| !n.is_empty()) {
            Some(name) => name.to_owned(),
            None => tags
                .iter()
                .find(|(k, _)| k == RUN_NAME_TAG)
                .map(|(_, v)| v.clone())
                .unwrap_or_else(|| format!("run-{}", &id.simple().to_string()[..8])),
        };
        validate_value("run_name", &run_name, MAX_KEY_CHARS)?;
        tags.retain(|(k, _)| k != RUN_NAME_TAG);
        tags.push((RUN_NAME_TAG.to_owned(), run_name));
        let now = unix_millis(self.now());
        let record = RunRecord {
            id,
            workspace_id: storage.id.clone(),
            experiment: entry.record.name.clone(),
            compute: String::new(),
            snapshot: String::new(),
            command: String::new(),
            status: RunStatus::Running.as_str().to_owned(),
            reason: None,
            exit_code: None,
            submitted_by: caller.principal_id,
            // The run is the signed-in caller's, whatever `user_id` the client claims.
            submitted_by_name: caller.name.clone(),
            submitted_at: now,
            started_at: Some(request.start_time.unwrap_or(now)),
            ended_at: None,
            time_limit_seconds: 0,
            pid: None,
            scratch: None,
            environment: None,
            origin: ORIGIN_TRACKED.to_owned(),
            lifecycle: ACTIVE.to_owned(),
            image: None,
            image_digest: None,
            owner_replica: None,
        };
        self.store.insert_tracked_run(&record, &tags).await?;
        self.mlflow_run_full(&storage.id, &record).await
    }

    /// Sets a run's name; and, for a tracked run, its status and end time.
    pub async fn mlflow_update_run(
        &self,
        rg: &str,
        ws: &str,
        request: &UpdateRun,
    ) -> Result<RunInfo> {
        let run = parse_run_id(
            "run_id",
            request.run_id.as_deref().or(request.run_uuid.as_deref()),
        )?;
        let status = request.status.as_deref().map(casemate_status).transpose()?;
        let storage = self.workspace_storage(rg, ws).await?;
        let record = self.run_in(&storage, run).await?;
        if let Some(name) = request.run_name.as_deref().filter(|n| !n.is_empty()) {
            validate_value("run_name", name, MAX_KEY_CHARS)?;
            self.store
                .set_run_tags(run, &[(RUN_NAME_TAG.to_owned(), name.to_owned())])
                .await?;
        }
        if let Some(status) = status
            && record.origin == ORIGIN_TRACKED
        {
            let ended_at = status
                .is_final()
                .then(|| request.end_time.unwrap_or_else(|| unix_millis(self.now())));
            self.store
                .update_tracked_run(run, status.as_str(), ended_at)
                .await?;
        }
        let record = self.run_in(&storage, run).await?;
        Ok(self.mlflow_run_full(&storage.id, &record).await?.info)
    }

    pub async fn mlflow_set_run_deleted(
        &self,
        rg: &str,
        ws: &str,
        run: Uuid,
        deleted: bool,
    ) -> Result<()> {
        let storage = self.workspace_storage(rg, ws).await?;
        self.run_in(&storage, run).await?;
        self.store
            .set_run_lifecycle(run, if deleted { DELETED } else { ACTIVE })
            .await?;
        Ok(())
    }

    /// Stores metrics, params and tags for a run in one transaction, after checking every item.
    pub async fn mlflow_log_batch(&self, rg: &str, ws: &str, request: LogBatch) -> Result<()> {
        let run = parse_run_id("run_id", request.run_id.as_deref())?;
        if request.metrics.len() > MAX_BATCH_METRICS {
            return Err(Error::invalid(
                "metrics",
                format!("at most {MAX_BATCH_METRICS} metrics per batch"),
            ));
        }
        if request.params.len() + request.tags.len() > MAX_BATCH_PARAMS_AND_TAGS {
            return Err(Error::invalid(
                "params",
                format!("at most {MAX_BATCH_PARAMS_AND_TAGS} params and tags together per batch"),
            ));
        }
        let now = unix_millis(self.now());
        let mut batch = TrackingBatch::default();
        for metric in request.metrics {
            validate_key("metrics", &metric.key)?;
            if metric.value.is_nan() {
                return Err(Error::invalid(
                    "metrics",
                    format!("metric '{}' is NaN, which is not stored", metric.key),
                ));
            }
            batch.metrics.push(MetricRecord {
                name: metric.key,
                value: metric.value,
                step: metric.step,
                timestamp: if metric.timestamp == 0 {
                    now
                } else {
                    metric.timestamp
                },
            });
        }
        batch.params = validated_params(&request.params)?;
        let mut seen = HashMap::new();
        for (key, value) in &batch.params {
            if seen.insert(key, value).is_some_and(|v| v != value) {
                return Err(Error::invalid(
                    "params",
                    format!("param '{key}' appears twice with different values"),
                ));
            }
        }
        batch.tags = validated_tags("tags", &request.tags)?;
        // Metrics alone (what a training loop sends) take one statement that checks the run too.
        if batch.params.is_empty()
            && batch.tags.is_empty()
            && self
                .store
                .insert_metrics_for_live_run(
                    &super::resources::workspace_id(rg, ws),
                    run,
                    &batch.metrics,
                )
                .await?
        {
            return Ok(());
        }
        let storage = self.workspace_storage(rg, ws).await?;
        let record = self.run_in(&storage, run).await?;
        if record.lifecycle == DELETED {
            return Err(Error::invalid(
                "run_id",
                format!("run '{}' is deleted; restore it first", run.simple()),
            ));
        }
        match self.store.log_batch(run, &batch).await {
            Err(casemate_store::StoreError::Conflict(rule)) => Err(Error::invalid("params", rule)),
            other => Ok(other?),
        }
    }

    pub async fn mlflow_delete_tag(&self, rg: &str, ws: &str, run: Uuid, key: &str) -> Result<()> {
        let storage = self.workspace_storage(rg, ws).await?;
        self.run_in(&storage, run).await?;
        if !self.store.delete_run_tag(run, key).await? {
            return Err(Error::NotFound(format!(
                "tag '{key}' on run '{}'",
                run.simple()
            )));
        }
        Ok(())
    }

    pub async fn mlflow_search_runs(
        &self,
        rg: &str,
        ws: &str,
        request: &SearchRuns,
    ) -> Result<SearchRunsResponse> {
        let clauses = parse_filter(request.filter.as_deref())?;
        let mut order = parse_order_by(&request.order_by)?;
        let limit = max_results(
            request.max_results,
            DEFAULT_SEARCH_RESULTS,
            MAX_SEARCH_RESULTS,
        )?;
        view_type_includes(request.run_view_type.as_deref(), false)?;
        let storage = self.workspace_storage(rg, ws).await?;
        let experiments = self.experiment_entries(&storage.id).await?;
        let names: Vec<String> = request
            .experiment_ids
            .iter()
            .map(|id| {
                experiments
                    .iter()
                    .find(|entry| &entry.id == id)
                    .map(|entry| entry.record.name.to_ascii_lowercase())
                    .ok_or_else(|| Error::NotFound(format!("experiment with id '{id}'")))
            })
            .collect::<Result<_>>()?;
        let mut parts: HashMap<Uuid, RunParts> = HashMap::new();
        for latest in self.store.latest_metrics(&storage.id, None).await? {
            parts
                .entry(latest.run_id)
                .or_default()
                .metrics
                .push(to_metric(&latest.metric));
        }
        for (run, name, value) in self.store.run_params_in(&storage.id).await? {
            parts.entry(run).or_default().params.push((name, value));
        }
        for (run, name, value) in self.store.run_tags_in(&storage.id).await? {
            parts.entry(run).or_default().tags.push((name, value));
        }
        let mut io: HashMap<Uuid, Vec<casemate_store::RunIoRecord>> = HashMap::new();
        for (run, item) in self.store.run_io_in(&storage.id).await? {
            io.entry(run).or_default().push(item);
        }
        let mut runs = Vec::new();
        for record in self.store.runs_of(&storage.id).await? {
            if !names.contains(&record.experiment.to_ascii_lowercase())
                || !view_type_includes(
                    request.run_view_type.as_deref(),
                    record.lifecycle == DELETED,
                )?
            {
                continue;
            }
            // The store hands each run's parts over sorted by name.
            let own = parts.remove(&record.id).unwrap_or_default();
            let experiment = experiments
                .iter()
                .find(|entry| entry.record.name.eq_ignore_ascii_case(&record.experiment))
                .map_or_else(
                    || {
                        experiment_id(
                            &experiment_resource_id(&storage.id, &record.experiment),
                            &record.experiment,
                        )
                    },
                    |entry| entry.id.clone(),
                );
            let (inputs, outputs) =
                super::run_io::io_maps(io.get(&record.id).map_or(&[], Vec::as_slice))?;
            runs.push(Run {
                inputs,
                outputs,
                ..self.mlflow_run_view(&record, experiment, own)
            });
        }
        order.push(SortKey::attribute("start_time", false));
        order.push(SortKey::attribute("run_id", true));
        let found = search_filter::select(runs, &clauses, &order, run_field);
        let (runs, next_page_token) = paginate(found, request.page_token.as_deref(), limit)?;
        Ok(SearchRunsResponse {
            runs,
            next_page_token,
        })
    }

    pub async fn mlflow_metric_history(
        &self,
        rg: &str,
        ws: &str,
        request: &MetricHistoryQuery,
    ) -> Result<MetricHistoryResponse> {
        let run = parse_run_id(
            "run_id",
            request.run_id.as_deref().or(request.run_uuid.as_deref()),
        )?;
        let key = required("metric_key", request.metric_key.as_deref())?;
        let storage = self.workspace_storage(rg, ws).await?;
        self.run_in(&storage, run).await?;
        let history: Vec<Metric> = self
            .store
            .metric_history(run, key)
            .await?
            .iter()
            .map(to_metric)
            .collect();
        let limit = match request.max_results {
            None => history.len().max(1),
            Some(n) => usize::try_from(n)
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| Error::invalid("max_results", "must be a positive number"))?,
        };
        let (metrics, next_page_token) = paginate(history, request.page_token.as_deref(), limit)?;
        Ok(MetricHistoryResponse {
            metrics,
            next_page_token,
        })
    }
}
