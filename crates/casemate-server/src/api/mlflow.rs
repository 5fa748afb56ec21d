//! The MLflow-compatible API, mounted per workspace at `/mlflow/resourceGroups/{rg}/workspaces/{ws}`
//! so that `MLFLOW_TRACKING_URI` names the workspace. Every endpoint is a row of the
//! route-to-action table and passes the gate like any other route; these handlers only translate
//! MLflow's shapes (`casemate_types::wire::mlflow`) to the tracking and registry services.
//! Errors take MLflow's shape in [`errors`]; the model registry's endpoints are in [`registry`].

pub mod changes;
pub mod errors;
pub mod registry;

use super::ApiResult;
use crate::gate::extract::{ApiPath, MlflowRequest, RequestHost};
use crate::services::tracking::{parse_run_id, required};
use crate::services::{Caller, Services};
use axum::Json;
use axum::body::Body;
use axum::extract::{Extension, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use casemate_types::wire::mlflow::{
    CreateExperiment, CreateLoggedModel, CreateRun, ExperimentRef, ExperimentTag, KeyValue,
    ListArtifactsResponse, LogBatch, LogMetric, Metric, MetricHistoryQuery, RunItem,
    SearchExperiments, SearchLoggedModels, SearchRuns, UpdateLoggedModel, UpdateRun,
};
use futures_util::TryStreamExt;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use uuid::Uuid;

pub(super) type Workspace = ApiPath<(String, String)>;

fn run_of(request: &RunItem) -> crate::error::Result<Uuid> {
    parse_run_id(
        "run_id",
        request.run_id.as_deref().or(request.run_uuid.as_deref()),
    )
}

enum ItemKind {
    Param,
    Tag,
}

/// `log-parameter` and `set-tag` are one-item batches, checked and stored the same way.
fn item_batch(request: RunItem, kind: ItemKind) -> crate::error::Result<LogBatch> {
    let run = run_of(&request)?;
    let item = KeyValue {
        key: required("key", request.key.as_deref())?.to_owned(),
        value: request.value.unwrap_or_default(),
    };
    let (params, tags) = match kind {
        ItemKind::Param => (vec![item], Vec::new()),
        ItemKind::Tag => (Vec::new(), vec![item]),
    };
    Ok(LogBatch {
        run_id: Some(run.simple().to_string()),
        metrics: Vec::new(),
        params,
        tags,
    })
}

fn metric_batch(request: LogMetric) -> crate::error::Result<LogBatch> {
    let run = parse_run_id(
        "run_id",
        request.run_id.as_deref().or(request.run_uuid.as_deref()),
    )?;
    let value = request
        .value
        .ok_or_else(|| crate::error::Error::invalid("value", "is required"))?;
    Ok(LogBatch {
        run_id: Some(run.simple().to_string()),
        metrics: vec![Metric {
            key: required("key", request.key.as_deref())?.to_owned(),
            value,
            timestamp: request.timestamp.unwrap_or(0),
            step: request.step.unwrap_or(0),
        }],
        params: Vec::new(),
        tags: Vec::new(),
    })
}

/// MLflow GetExperimentByName.
#[utoipa::path(get, path = "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/experiments/get-by-name", tag = "mlflow",
    params(("rg" = String, Path), ("ws" = String, Path)),
    responses((status = 200, description = "MLflow's response message as JSON"),
        (status = 400, description = "INVALID_PARAMETER_VALUE or RESOURCE_ALREADY_EXISTS"),
        (status = 404, description = "RESOURCE_DOES_NOT_EXIST")))]
pub async fn experiment_by_name(
    State(s): State<Arc<Services>>,
    ApiPath((rg, ws)): Workspace,
    MlflowRequest(r): MlflowRequest<ExperimentRef>,
) -> ApiResult<Json<Value>> {
    Ok(Json(
        json!({"experiment": s.mlflow_experiment_by_name(&rg, &ws, required("experiment_name", r.experiment_name.as_deref())?).await?}),
    ))
}

/// MLflow CreateExperiment.
#[utoipa::path(post, path = "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/experiments/create", tag = "mlflow",
    params(("rg" = String, Path), ("ws" = String, Path)),
    responses((status = 200, description = "MLflow's response message as JSON"),
        (status = 400, description = "INVALID_PARAMETER_VALUE or RESOURCE_ALREADY_EXISTS"),
        (status = 404, description = "RESOURCE_DOES_NOT_EXIST")))]
pub async fn create_experiment(
    State(s): State<Arc<Services>>,
    Extension(caller): Extension<Caller>,
    ApiPath((rg, ws)): Workspace,
    MlflowRequest(r): MlflowRequest<CreateExperiment>,
) -> ApiResult<Json<Value>> {
    Ok(Json(
        json!({"experiment_id": s.mlflow_create_experiment(&caller, &rg, &ws, &r).await?}),
    ))
}

/// MLflow GetExperiment.
#[utoipa::path(get, path = "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/experiments/get", tag = "mlflow",
    params(("rg" = String, Path), ("ws" = String, Path)),
    responses((status = 200, description = "MLflow's response message as JSON"),
        (status = 400, description = "INVALID_PARAMETER_VALUE or RESOURCE_ALREADY_EXISTS"),
        (status = 404, description = "RESOURCE_DOES_NOT_EXIST")))]
pub async fn get_experiment(
    State(s): State<Arc<Services>>,
    ApiPath((rg, ws)): Workspace,
    MlflowRequest(r): MlflowRequest<ExperimentRef>,
) -> ApiResult<Json<Value>> {
    Ok(Json(
        json!({"experiment": s.mlflow_experiment(&rg, &ws, required("experiment_id", r.experiment_id.as_deref())?).await?}),
    ))
}

/// MLflow SearchExperiments.
#[utoipa::path(post, path = "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/experiments/search", tag = "mlflow",
    params(("rg" = String, Path), ("ws" = String, Path)),
    responses((status = 200, description = "MLflow's response message as JSON"),
        (status = 400, description = "INVALID_PARAMETER_VALUE or RESOURCE_ALREADY_EXISTS"),
        (status = 404, description = "RESOURCE_DOES_NOT_EXIST")))]
pub async fn search_experiments(
    State(s): State<Arc<Services>>,
    ApiPath((rg, ws)): Workspace,
    MlflowRequest(r): MlflowRequest<SearchExperiments>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!(
        s.mlflow_search_experiments(&rg, &ws, &r).await?
    )))
}

/// MLflow DeleteExperiment (soft).
#[utoipa::path(post, path = "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/experiments/delete", tag = "mlflow",
    params(("rg" = String, Path), ("ws" = String, Path)),
    responses((status = 200, description = "MLflow's response message as JSON"),
        (status = 400, description = "INVALID_PARAMETER_VALUE or RESOURCE_ALREADY_EXISTS"),
        (status = 404, description = "RESOURCE_DOES_NOT_EXIST")))]
pub async fn delete_experiment(
    State(s): State<Arc<Services>>,
    ApiPath((rg, ws)): Workspace,
    MlflowRequest(r): MlflowRequest<ExperimentRef>,
) -> ApiResult<Json<Value>> {
    Ok({
        s.mlflow_set_experiment_deleted(
            &rg,
            &ws,
            required("experiment_id", r.experiment_id.as_deref())?,
            true,
        )
        .await?;
        Json(json!({}))
    })
}

/// MLflow RestoreExperiment.
#[utoipa::path(post, path = "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/experiments/restore", tag = "mlflow",
    params(("rg" = String, Path), ("ws" = String, Path)),
    responses((status = 200, description = "MLflow's response message as JSON"),
        (status = 400, description = "INVALID_PARAMETER_VALUE or RESOURCE_ALREADY_EXISTS"),
        (status = 404, description = "RESOURCE_DOES_NOT_EXIST")))]
pub async fn restore_experiment(
    State(s): State<Arc<Services>>,
    ApiPath((rg, ws)): Workspace,
    MlflowRequest(r): MlflowRequest<ExperimentRef>,
) -> ApiResult<Json<Value>> {
    Ok({
        s.mlflow_set_experiment_deleted(
            &rg,
            &ws,
            required("experiment_id", r.experiment_id.as_deref())?,
            false,
        )
        .await?;
        Json(json!({}))
    })
}

/// MLflow SetExperimentTag.
#[utoipa::path(post, path = "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/experiments/set-experiment-tag", tag = "mlflow",
    params(("rg" = String, Path), ("ws" = String, Path)),
    responses((status = 200, description = "MLflow's response message as JSON"),
        (status = 400, description = "INVALID_PARAMETER_VALUE or RESOURCE_ALREADY_EXISTS"),
        (status = 404, description = "RESOURCE_DOES_NOT_EXIST")))]
pub async fn set_experiment_tag(
    State(s): State<Arc<Services>>,
    ApiPath((rg, ws)): Workspace,
    MlflowRequest(r): MlflowRequest<ExperimentTag>,
) -> ApiResult<Json<Value>> {
    Ok({
        s.mlflow_experiment_tag(
            &rg,
            &ws,
            required("experiment_id", r.experiment_id.as_deref())?,
            required("key", r.key.as_deref())?,
            Some(r.value.as_deref().unwrap_or("")),
        )
        .await?;
        Json(json!({}))
    })
}

/// MLflow DeleteExperimentTag.
#[utoipa::path(post, path = "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/experiments/delete-experiment-tag", tag = "mlflow",
    params(("rg" = String, Path), ("ws" = String, Path)),
    responses((status = 200, description = "MLflow's response message as JSON"),
        (status = 400, description = "INVALID_PARAMETER_VALUE or RESOURCE_ALREADY_EXISTS"),
        (status = 404, description = "RESOURCE_DOES_NOT_EXIST")))]
pub async fn delete_experiment_tag(
    State(s): State<Arc<Services>>,
    ApiPath((rg, ws)): Workspace,
    MlflowRequest(r): MlflowRequest<ExperimentTag>,
) -> ApiResult<Json<Value>> {
    Ok({
        s.mlflow_experiment_tag(
            &rg,
            &ws,
            required("experiment_id", r.experiment_id.as_deref())?,
            required("key", r.key.as_deref())?,
            None,
        )
        .await?;
        Json(json!({}))
    })
}

/// MLflow CreateRun.
#[utoipa::path(post, path = "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/runs/create", tag = "mlflow",
    params(("rg" = String, Path), ("ws" = String, Path)),
    responses((status = 200, description = "MLflow's response message as JSON"),
        (status = 400, description = "INVALID_PARAMETER_VALUE or RESOURCE_ALREADY_EXISTS"),
        (status = 404, description = "RESOURCE_DOES_NOT_EXIST")))]
pub async fn create_run(
    State(s): State<Arc<Services>>,
    Extension(caller): Extension<Caller>,
    ApiPath((rg, ws)): Workspace,
    MlflowRequest(r): MlflowRequest<CreateRun>,
) -> ApiResult<Json<Value>> {
    Ok(Json(
        json!({"run": s.mlflow_create_run(&caller, &rg, &ws, &r).await?}),
    ))
}

/// MLflow UpdateRun.
#[utoipa::path(post, path = "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/runs/update", tag = "mlflow",
    params(("rg" = String, Path), ("ws" = String, Path)),
    responses((status = 200, description = "MLflow's response message as JSON"),
        (status = 400, description = "INVALID_PARAMETER_VALUE or RESOURCE_ALREADY_EXISTS"),
        (status = 404, description = "RESOURCE_DOES_NOT_EXIST")))]
pub async fn update_run(
    State(s): State<Arc<Services>>,
    ApiPath((rg, ws)): Workspace,
    MlflowRequest(r): MlflowRequest<UpdateRun>,
) -> ApiResult<Json<Value>> {
    Ok(Json(
        json!({"run_info": s.mlflow_update_run(&rg, &ws, &r).await?}),
    ))
}

/// MLflow DeleteRun (soft).
#[utoipa::path(post, path = "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/runs/delete", tag = "mlflow",
    params(("rg" = String, Path), ("ws" = String, Path)),
    responses((status = 200, description = "MLflow's response message as JSON"),
        (status = 400, description = "INVALID_PARAMETER_VALUE or RESOURCE_ALREADY_EXISTS"),
        (status = 404, description = "RESOURCE_DOES_NOT_EXIST")))]
pub async fn delete_run(
    State(s): State<Arc<Services>>,
    ApiPath((rg, ws)): Workspace,
    MlflowRequest(r): MlflowRequest<RunItem>,
) -> ApiResult<Json<Value>> {
    Ok({
        s.mlflow_set_run_deleted(&rg, &ws, run_of(&r)?, true)
            .await?;
        Json(json!({}))
    })
}

/// MLflow RestoreRun.
#[utoipa::path(post, path = "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/runs/restore", tag = "mlflow",
    params(("rg" = String, Path), ("ws" = String, Path)),
    responses((status = 200, description = "MLflow's response message as JSON"),
        (status = 400, description = "INVALID_PARAMETER_VALUE or RESOURCE_ALREADY_EXISTS"),
        (status = 404, description = "RESOURCE_DOES_NOT_EXIST")))]
pub async fn restore_run(
    State(s): State<Arc<Services>>,
    ApiPath((rg, ws)): Workspace,
    MlflowRequest(r): MlflowRequest<RunItem>,
) -> ApiResult<Json<Value>> {
    Ok({
        s.mlflow_set_run_deleted(&rg, &ws, run_of(&r)?, false)
            .await?;
        Json(json!({}))
    })
}

/// MLflow LogMetric.
#[utoipa::path(post, path = "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/runs/log-metric", tag = "mlflow",
    params(("rg" = String, Path), ("ws" = String, Path)),
    responses((status = 200, description = "MLflow's response message as JSON"),
        (status = 400, description = "INVALID_PARAMETER_VALUE or RESOURCE_ALREADY_EXISTS"),
        (status = 404, description = "RESOURCE_DOES_NOT_EXIST")))]
pub async fn log_metric(
    State(s): State<Arc<Services>>,
    ApiPath((rg, ws)): Workspace,
    MlflowRequest(r): MlflowRequest<LogMetric>,
) -> ApiResult<Json<Value>> {
    Ok({
        s.mlflow_log_batch(&rg, &ws, metric_batch(r)?).await?;
        Json(json!({}))
    })
}

/// MLflow LogParam.
#[utoipa::path(post, path = "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/runs/log-parameter", tag = "mlflow",
    params(("rg" = String, Path), ("ws" = String, Path)),
    responses((status = 200, description = "MLflow's response message as JSON"),
        (status = 400, description = "INVALID_PARAMETER_VALUE or RESOURCE_ALREADY_EXISTS"),
        (status = 404, description = "RESOURCE_DOES_NOT_EXIST")))]
pub async fn log_param(
    State(s): State<Arc<Services>>,
    ApiPath((rg, ws)): Workspace,
    MlflowRequest(r): MlflowRequest<RunItem>,
) -> ApiResult<Json<Value>> {
    Ok({
        s.mlflow_log_batch(&rg, &ws, item_batch(r, ItemKind::Param)?)
            .await?;
        Json(json!({}))
    })
}

/// MLflow LogBatch: at most 1,000 metrics and 100 params and tags.
#[utoipa::path(post, path = "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/runs/log-batch", tag = "mlflow",
    params(("rg" = String, Path), ("ws" = String, Path)),
    responses((status = 200, description = "MLflow's response message as JSON"),
        (status = 400, description = "INVALID_PARAMETER_VALUE or RESOURCE_ALREADY_EXISTS"),
        (status = 404, description = "RESOURCE_DOES_NOT_EXIST")))]
pub async fn log_batch(
    State(s): State<Arc<Services>>,
    ApiPath((rg, ws)): Workspace,
    MlflowRequest(r): MlflowRequest<LogBatch>,
) -> ApiResult<Json<Value>> {
    Ok({
        s.mlflow_log_batch(&rg, &ws, r).await?;
        Json(json!({}))
    })
}

/// MLflow SetTag.
#[utoipa::path(post, path = "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/runs/set-tag", tag = "mlflow",
    params(("rg" = String, Path), ("ws" = String, Path)),
    responses((status = 200, description = "MLflow's response message as JSON"),
        (status = 400, description = "INVALID_PARAMETER_VALUE or RESOURCE_ALREADY_EXISTS"),
        (status = 404, description = "RESOURCE_DOES_NOT_EXIST")))]
pub async fn set_tag(
    State(s): State<Arc<Services>>,
    ApiPath((rg, ws)): Workspace,
    MlflowRequest(r): MlflowRequest<RunItem>,
) -> ApiResult<Json<Value>> {
    Ok({
        s.mlflow_log_batch(&rg, &ws, item_batch(r, ItemKind::Tag)?)
            .await?;
        Json(json!({}))
    })
}

/// MLflow DeleteTag.
#[utoipa::path(post, path = "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/runs/delete-tag", tag = "mlflow",
    params(("rg" = String, Path), ("ws" = String, Path)),
    responses((status = 200, description = "MLflow's response message as JSON"),
        (status = 400, description = "INVALID_PARAMETER_VALUE or RESOURCE_ALREADY_EXISTS"),
        (status = 404, description = "RESOURCE_DOES_NOT_EXIST")))]
pub async fn delete_tag(
    State(s): State<Arc<Services>>,
    ApiPath((rg, ws)): Workspace,
    MlflowRequest(r): MlflowRequest<RunItem>,
) -> ApiResult<Json<Value>> {
    Ok({
        s.mlflow_delete_tag(&rg, &ws, run_of(&r)?, required("key", r.key.as_deref())?)
            .await?;
        Json(json!({}))
    })
}

/// MLflow GetRun.
#[utoipa::path(get, path = "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/runs/get", tag = "mlflow",
    params(("rg" = String, Path), ("ws" = String, Path)),
    responses((status = 200, description = "MLflow's response message as JSON"),
        (status = 400, description = "INVALID_PARAMETER_VALUE or RESOURCE_ALREADY_EXISTS"),
        (status = 404, description = "RESOURCE_DOES_NOT_EXIST")))]
pub async fn get_run(
    State(s): State<Arc<Services>>,
    ApiPath((rg, ws)): Workspace,
    MlflowRequest(r): MlflowRequest<RunItem>,
) -> ApiResult<Json<Value>> {
    Ok(Json(
        json!({"run": s.mlflow_get_run(&rg, &ws, run_of(&r)?).await?}),
    ))
}

/// MLflow SearchRuns: MLflow's filter grammar, order_by and page tokens.
#[utoipa::path(post, path = "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/runs/search", tag = "mlflow",
    params(("rg" = String, Path), ("ws" = String, Path)),
    responses((status = 200, description = "MLflow's response message as JSON"),
        (status = 400, description = "INVALID_PARAMETER_VALUE or RESOURCE_ALREADY_EXISTS"),
        (status = 404, description = "RESOURCE_DOES_NOT_EXIST")))]
pub async fn search_runs(
    State(s): State<Arc<Services>>,
    ApiPath((rg, ws)): Workspace,
    MlflowRequest(r): MlflowRequest<SearchRuns>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!(s.mlflow_search_runs(&rg, &ws, &r).await?)))
}

/// MLflow GetMetricHistory.
#[utoipa::path(get, path = "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/metrics/get-history", tag = "mlflow",
    params(("rg" = String, Path), ("ws" = String, Path)),
    responses((status = 200, description = "MLflow's response message as JSON"),
        (status = 400, description = "INVALID_PARAMETER_VALUE or RESOURCE_ALREADY_EXISTS"),
        (status = 404, description = "RESOURCE_DOES_NOT_EXIST")))]
pub async fn metric_history(
    State(s): State<Arc<Services>>,
    ApiPath((rg, ws)): Workspace,
    MlflowRequest(r): MlflowRequest<MetricHistoryQuery>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!(s.mlflow_metric_history(&rg, &ws, &r).await?)))
}

/// MLflow CreateLoggedModel.
#[utoipa::path(post, path = "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/logged-models", tag = "mlflow",
    params(("rg" = String, Path), ("ws" = String, Path)),
    responses((status = 200, description = "MLflow's response message as JSON"),
        (status = 400, description = "INVALID_PARAMETER_VALUE"),
        (status = 404, description = "RESOURCE_DOES_NOT_EXIST")))]
pub async fn create_logged_model(
    State(s): State<Arc<Services>>,
    ApiPath((rg, ws)): Workspace,
    MlflowRequest(r): MlflowRequest<CreateLoggedModel>,
) -> ApiResult<Json<Value>> {
    Ok(Json(
        json!({"model": s.create_logged_model(&rg, &ws, &r).await?}),
    ))
}

/// MLflow GetLoggedModel.
#[utoipa::path(get, path = "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/logged-models/{model_id}", tag = "mlflow",
    params(("rg" = String, Path), ("ws" = String, Path), ("model_id" = String, Path)),
    responses((status = 200, description = "MLflow's response message as JSON"),
        (status = 400, description = "INVALID_PARAMETER_VALUE"),
        (status = 404, description = "RESOURCE_DOES_NOT_EXIST")))]
pub async fn get_logged_model(
    State(s): State<Arc<Services>>,
    ApiPath((rg, ws, model_id)): ApiPath<(String, String, String)>,
) -> ApiResult<Json<Value>> {
    Ok(Json(
        json!({"model": s.get_logged_model(&rg, &ws, &model_id).await?}),
    ))
}

/// MLflow FinalizeLoggedModel.
#[utoipa::path(patch, path = "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/logged-models/{model_id}", tag = "mlflow",
    params(("rg" = String, Path), ("ws" = String, Path), ("model_id" = String, Path)),
    responses((status = 200, description = "MLflow's response message as JSON"),
        (status = 400, description = "INVALID_PARAMETER_VALUE"),
        (status = 404, description = "RESOURCE_DOES_NOT_EXIST")))]
pub async fn finalize_logged_model(
    State(s): State<Arc<Services>>,
    ApiPath((rg, ws, model_id)): ApiPath<(String, String, String)>,
    MlflowRequest(r): MlflowRequest<UpdateLoggedModel>,
) -> ApiResult<Json<Value>> {
    Ok(Json(
        json!({"model": s.update_logged_model(&rg, &ws, &model_id, &UpdateLoggedModel { status: r.status, tags: Vec::new() }).await?}),
    ))
}

/// MLflow SetLoggedModelTags.
#[utoipa::path(patch, path = "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/logged-models/{model_id}/tags", tag = "mlflow",
    params(("rg" = String, Path), ("ws" = String, Path), ("model_id" = String, Path)),
    responses((status = 200, description = "MLflow's response message as JSON"),
        (status = 400, description = "INVALID_PARAMETER_VALUE"),
        (status = 404, description = "RESOURCE_DOES_NOT_EXIST")))]
pub async fn set_logged_model_tags(
    State(s): State<Arc<Services>>,
    ApiPath((rg, ws, model_id)): ApiPath<(String, String, String)>,
    MlflowRequest(r): MlflowRequest<UpdateLoggedModel>,
) -> ApiResult<Json<Value>> {
    Ok(Json(
        json!({"model": s.update_logged_model(&rg, &ws, &model_id, &UpdateLoggedModel { status: None, tags: r.tags }).await?}),
    ))
}

/// MLflow SearchLoggedModels.
#[utoipa::path(post, path = "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/logged-models/search", tag = "mlflow",
    params(("rg" = String, Path), ("ws" = String, Path)),
    responses((status = 200, description = "MLflow's response message as JSON"),
        (status = 400, description = "INVALID_PARAMETER_VALUE"),
        (status = 404, description = "RESOURCE_DOES_NOT_EXIST")))]
pub async fn search_logged_models(
    State(s): State<Arc<Services>>,
    ApiPath((rg, ws)): Workspace,
    MlflowRequest(r): MlflowRequest<SearchLoggedModels>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json!(s.search_logged_models(&rg, &ws, &r).await?)))
}

/// The artifact proxy's listing: `?path=DIR` names a directory of workspace artifacts.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ListQuery {
    path: Option<String>,
}

/// MLflow ListArtifacts (artifact proxy): the files and directories directly under `path`.
#[utoipa::path(get, path = "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow-artifacts/artifacts", tag = "mlflow",
    params(("rg" = String, Path), ("ws" = String, Path), ("path" = Option<String>, Query)),
    responses((status = 200, description = "`{\"files\": [{\"path\", \"is_dir\", \"file_size\"}]}`")))]
pub async fn list_artifacts(
    State(s): State<Arc<Services>>,
    ApiPath((rg, ws)): Workspace,
    MlflowRequest(query): MlflowRequest<ListQuery>,
) -> ApiResult<Json<ListArtifactsResponse>> {
    let files = s
        .list_artifact_directory(&rg, &ws, query.path.as_deref().unwrap_or(""))
        .await?;
    Ok(Json(ListArtifactsResponse { files }))
}

/// MLflow UploadArtifact (artifact proxy): stores the body, sealed, as a workspace artifact.
#[utoipa::path(put, path = "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow-artifacts/artifacts/{*path}", tag = "mlflow",
    params(("rg" = String, Path), ("ws" = String, Path), ("path" = String, Path)),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 200, description = "`{}`")))]
pub async fn upload_artifact(
    State(s): State<Arc<Services>>,
    RequestHost(host): RequestHost,
    ApiPath((rg, ws, path)): ApiPath<(String, String, String)>,
    body: Body,
) -> ApiResult<Json<Value>> {
    let stream = body.into_data_stream().map_err(std::io::Error::other);
    s.put_artifact(&host, &rg, &ws, &path, stream).await?;
    Ok(Json(json!({})))
}

/// MLflow DownloadArtifact (artifact proxy): streams a workspace artifact's plaintext.
#[utoipa::path(get, path = "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow-artifacts/artifacts/{*path}", tag = "mlflow",
    params(("rg" = String, Path), ("ws" = String, Path), ("path" = String, Path)),
    responses((status = 200, content_type = "application/octet-stream", body = Vec<u8>)))]
pub async fn download_artifact(
    State(s): State<Arc<Services>>,
    RequestHost(host): RequestHost,
    ApiPath((rg, ws, path)): ApiPath<(String, String, String)>,
) -> ApiResult<Response> {
    let (size, stream) = s.get_artifact(&host, &rg, &ws, &path).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            (header::CONTENT_LENGTH, size.to_string()),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}
