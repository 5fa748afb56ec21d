//! The MLflow endpoints that change what exists (experiment renames, registry updates, tags and
//! deletions) and record what a run read and wrote (inputs, outputs, log-model), plus the
//! client's `server-info` probe and a clear answer for the MLflow features casemate lacks.

use crate::api::ApiResult;
use crate::error::Error;
use crate::gate::extract::{ApiPath, MlflowRequest};
use crate::services::Services;
use crate::services::tracking::required;
use axum::Json;
use axum::extract::State;
use axum::http::Uri;
use casemate_types::wire::mlflow_io::{
    LogInputs, LogModel, LogOutputs, LoggedModelParams, RegistryChange, UpdateExperiment,
};
use serde_json::{Value, json};
use std::sync::Arc;

type Workspace = ApiPath<(String, String)>;

/// MLflow UpdateExperiment: renames an experiment; its id, runs and models stay.
#[utoipa::path(post, path = "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/experiments/update", tag = "mlflow",
    params(("rg" = String, Path), ("ws" = String, Path)),
    responses((status = 200, description = "MLflow's response message as JSON"),
        (status = 400, description = "INVALID_PARAMETER_VALUE or RESOURCE_ALREADY_EXISTS"),
        (status = 404, description = "RESOURCE_DOES_NOT_EXIST")))]
pub async fn update_experiment(
    State(s): State<Arc<Services>>,
    ApiPath((rg, ws)): Workspace,
    MlflowRequest(r): MlflowRequest<UpdateExperiment>,
) -> ApiResult<Json<Value>> {
    let id = required("experiment_id", r.experiment_id.as_deref())?;
    let new_name = required("new_name", r.new_name.as_deref())?;
    s.mlflow_rename_experiment(&rg, &ws, id, new_name).await?;
    Ok(Json(json!({})))
}

/// MLflow LogInputs: datasets and logged models the run read.
#[utoipa::path(post, path = "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/runs/log-inputs", tag = "mlflow",
    params(("rg" = String, Path), ("ws" = String, Path)),
    responses((status = 200, description = "MLflow's response message as JSON"),
        (status = 400, description = "INVALID_PARAMETER_VALUE"),
        (status = 404, description = "RESOURCE_DOES_NOT_EXIST")))]
pub async fn log_inputs(
    State(s): State<Arc<Services>>,
    ApiPath((rg, ws)): Workspace,
    MlflowRequest(r): MlflowRequest<LogInputs>,
) -> ApiResult<Json<Value>> {
    s.mlflow_log_inputs(&rg, &ws, &r).await?;
    Ok(Json(json!({})))
}

/// MLflow LogOutputs: logged models the run produced (every `log_model` ends here).
#[utoipa::path(post, path = "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/runs/outputs", tag = "mlflow",
    params(("rg" = String, Path), ("ws" = String, Path)),
    responses((status = 200, description = "MLflow's response message as JSON"),
        (status = 400, description = "INVALID_PARAMETER_VALUE"),
        (status = 404, description = "RESOURCE_DOES_NOT_EXIST")))]
pub async fn log_outputs(
    State(s): State<Arc<Services>>,
    ApiPath((rg, ws)): Workspace,
    MlflowRequest(r): MlflowRequest<LogOutputs>,
) -> ApiResult<Json<Value>> {
    s.mlflow_log_outputs(&rg, &ws, &r).await?;
    Ok(Json(json!({})))
}

/// MLflow LogModel: the MLmodel record, kept in the run's `mlflow.log-model.history` tag.
#[utoipa::path(post, path = "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/runs/log-model", tag = "mlflow",
    params(("rg" = String, Path), ("ws" = String, Path)),
    responses((status = 200, description = "MLflow's response message as JSON"),
        (status = 400, description = "INVALID_PARAMETER_VALUE"),
        (status = 404, description = "RESOURCE_DOES_NOT_EXIST")))]
pub async fn log_model(
    State(s): State<Arc<Services>>,
    ApiPath((rg, ws)): Workspace,
    MlflowRequest(r): MlflowRequest<LogModel>,
) -> ApiResult<Json<Value>> {
    s.mlflow_log_model(&rg, &ws, &r).await?;
    Ok(Json(json!({})))
}

/// MLflow UpdateRegisteredModel: the description.
#[utoipa::path(patch, path = "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/registered-models/update", tag = "mlflow",
    params(("rg" = String, Path), ("ws" = String, Path)),
    responses((status = 200, description = "MLflow's response message as JSON"),
        (status = 400, description = "INVALID_PARAMETER_VALUE"),
        (status = 404, description = "RESOURCE_DOES_NOT_EXIST")))]
pub async fn update_registered_model(
    State(s): State<Arc<Services>>,
    ApiPath((rg, ws)): Workspace,
    MlflowRequest(r): MlflowRequest<RegistryChange>,
) -> ApiResult<Json<Value>> {
    let model = s.update_registered_model(&rg, &ws, &r).await?;
    Ok(Json(json!({ "registered_model": model })))
}

/// MLflow RenameRegisteredModel: versions, tags and aliases move with it.
#[utoipa::path(post, path = "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/registered-models/rename", tag = "mlflow",
    params(("rg" = String, Path), ("ws" = String, Path)),
    responses((status = 200, description = "MLflow's response message as JSON"),
        (status = 400, description = "INVALID_PARAMETER_VALUE or RESOURCE_ALREADY_EXISTS"),
        (status = 404, description = "RESOURCE_DOES_NOT_EXIST")))]
pub async fn rename_registered_model(
    State(s): State<Arc<Services>>,
    ApiPath((rg, ws)): Workspace,
    MlflowRequest(r): MlflowRequest<RegistryChange>,
) -> ApiResult<Json<Value>> {
    let model = s.rename_registered_model(&rg, &ws, &r).await?;
    Ok(Json(json!({ "registered_model": model })))
}

/// MLflow DeleteRegisteredModel: with its versions, tags and aliases.
#[utoipa::path(delete, path = "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/registered-models/delete", tag = "mlflow",
    params(("rg" = String, Path), ("ws" = String, Path)),
    responses((status = 200, description = "MLflow's response message as JSON"),
        (status = 404, description = "RESOURCE_DOES_NOT_EXIST")))]
pub async fn delete_registered_model(
    State(s): State<Arc<Services>>,
    ApiPath((rg, ws)): Workspace,
    MlflowRequest(r): MlflowRequest<RegistryChange>,
) -> ApiResult<Json<Value>> {
    s.delete_registry_item(&rg, &ws, &r, false).await?;
    Ok(Json(json!({})))
}

/// MLflow SetRegisteredModelTag.
#[utoipa::path(post, path = "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/registered-models/set-tag", tag = "mlflow",
    params(("rg" = String, Path), ("ws" = String, Path)),
    responses((status = 200, description = "MLflow's response message as JSON"),
        (status = 400, description = "INVALID_PARAMETER_VALUE"),
        (status = 404, description = "RESOURCE_DOES_NOT_EXIST")))]
pub async fn set_registered_model_tag(
    State(s): State<Arc<Services>>,
    ApiPath((rg, ws)): Workspace,
    MlflowRequest(r): MlflowRequest<RegistryChange>,
) -> ApiResult<Json<Value>> {
    s.set_registry_tag(&rg, &ws, &r, false).await?;
    Ok(Json(json!({})))
}

/// MLflow DeleteRegisteredModelTag.
#[utoipa::path(delete, path = "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/registered-models/delete-tag", tag = "mlflow",
    params(("rg" = String, Path), ("ws" = String, Path)),
    responses((status = 200, description = "MLflow's response message as JSON"),
        (status = 404, description = "RESOURCE_DOES_NOT_EXIST")))]
pub async fn delete_registered_model_tag(
    State(s): State<Arc<Services>>,
    ApiPath((rg, ws)): Workspace,
    MlflowRequest(r): MlflowRequest<RegistryChange>,
) -> ApiResult<Json<Value>> {
    s.delete_registry_tag(&rg, &ws, &r, false).await?;
    Ok(Json(json!({})))
}

/// MLflow UpdateModelVersion: the description.
#[utoipa::path(patch, path = "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/model-versions/update", tag = "mlflow",
    params(("rg" = String, Path), ("ws" = String, Path)),
    responses((status = 200, description = "MLflow's response message as JSON"),
        (status = 400, description = "INVALID_PARAMETER_VALUE"),
        (status = 404, description = "RESOURCE_DOES_NOT_EXIST")))]
pub async fn update_model_version(
    State(s): State<Arc<Services>>,
    ApiPath((rg, ws)): Workspace,
    MlflowRequest(r): MlflowRequest<RegistryChange>,
) -> ApiResult<Json<Value>> {
    let version = s.update_model_version(&rg, &ws, &r).await?;
    Ok(Json(json!({ "model_version": version })))
}

/// MLflow DeleteModelVersion: with its tags and aliases.
#[utoipa::path(delete, path = "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/model-versions/delete", tag = "mlflow",
    params(("rg" = String, Path), ("ws" = String, Path)),
    responses((status = 200, description = "MLflow's response message as JSON"),
        (status = 404, description = "RESOURCE_DOES_NOT_EXIST")))]
pub async fn delete_model_version(
    State(s): State<Arc<Services>>,
    ApiPath((rg, ws)): Workspace,
    MlflowRequest(r): MlflowRequest<RegistryChange>,
) -> ApiResult<Json<Value>> {
    s.delete_registry_item(&rg, &ws, &r, true).await?;
    Ok(Json(json!({})))
}

/// MLflow SetModelVersionTag.
#[utoipa::path(post, path = "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/model-versions/set-tag", tag = "mlflow",
    params(("rg" = String, Path), ("ws" = String, Path)),
    responses((status = 200, description = "MLflow's response message as JSON"),
        (status = 400, description = "INVALID_PARAMETER_VALUE"),
        (status = 404, description = "RESOURCE_DOES_NOT_EXIST")))]
pub async fn set_model_version_tag(
    State(s): State<Arc<Services>>,
    ApiPath((rg, ws)): Workspace,
    MlflowRequest(r): MlflowRequest<RegistryChange>,
) -> ApiResult<Json<Value>> {
    s.set_registry_tag(&rg, &ws, &r, true).await?;
    Ok(Json(json!({})))
}

/// MLflow DeleteModelVersionTag.
#[utoipa::path(delete, path = "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/model-versions/delete-tag", tag = "mlflow",
    params(("rg" = String, Path), ("ws" = String, Path)),
    responses((status = 200, description = "MLflow's response message as JSON"),
        (status = 404, description = "RESOURCE_DOES_NOT_EXIST")))]
pub async fn delete_model_version_tag(
    State(s): State<Arc<Services>>,
    ApiPath((rg, ws)): Workspace,
    MlflowRequest(r): MlflowRequest<RegistryChange>,
) -> ApiResult<Json<Value>> {
    s.delete_registry_tag(&rg, &ws, &r, true).await?;
    Ok(Json(json!({})))
}

/// MLflow DeleteLoggedModelTag.
#[utoipa::path(delete, path = "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/logged-models/{model_id}/tags/{tag_key}", tag = "mlflow",
    params(("rg" = String, Path), ("ws" = String, Path), ("model_id" = String, Path), ("tag_key" = String, Path)),
    responses((status = 200, description = "MLflow's response message as JSON"),
        (status = 404, description = "RESOURCE_DOES_NOT_EXIST")))]
pub async fn delete_logged_model_tag(
    State(s): State<Arc<Services>>,
    ApiPath((rg, ws, model_id, key)): ApiPath<(String, String, String, String)>,
) -> ApiResult<Json<Value>> {
    s.delete_logged_model_tag(&rg, &ws, &model_id, &key).await?;
    Ok(Json(json!({})))
}

/// MLflow LogLoggedModelParams: write-once, as a run's params.
#[utoipa::path(post, path = "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/logged-models/{model_id}/params", tag = "mlflow",
    params(("rg" = String, Path), ("ws" = String, Path), ("model_id" = String, Path)),
    responses((status = 200, description = "MLflow's response message as JSON"),
        (status = 400, description = "INVALID_PARAMETER_VALUE"),
        (status = 404, description = "RESOURCE_DOES_NOT_EXIST")))]
pub async fn log_logged_model_params(
    State(s): State<Arc<Services>>,
    ApiPath((rg, ws, model_id)): ApiPath<(String, String, String)>,
    MlflowRequest(r): MlflowRequest<LoggedModelParams>,
) -> ApiResult<Json<Value>> {
    s.log_logged_model_params(&rg, &ws, &model_id, &r.params)
        .await?;
    Ok(Json(json!({})))
}

/// MLflow DeleteLoggedModel: refused by name. A logged model's files are sealed workspace
/// artifacts that versions may still point at; removing them safely is not built yet.
#[utoipa::path(delete, path = "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/logged-models/{model_id}", tag = "mlflow",
    params(("rg" = String, Path), ("ws" = String, Path), ("model_id" = String, Path)),
    responses((status = 501, description = "NOT_IMPLEMENTED")))]
pub async fn delete_logged_model() -> ApiResult<Json<Value>> {
    Err(Error::NotSupported(
        "casemate does not support deleting logged models; the model and its artifacts are kept"
            .into(),
    ))
}

/// MLflow 3's capability probe: what this server offers the client (no multipart uploads, no
/// trace archival, no AI gateway).
#[utoipa::path(get, path = "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/3.0/mlflow/server-info", tag = "mlflow",
    params(("rg" = String, Path), ("ws" = String, Path)),
    responses((status = 200, description = "The capabilities as JSON")))]
pub async fn server_info() -> ApiResult<Json<Value>> {
    Ok(Json(json!({
        "store_type": "casemate",
        "workspaces_enabled": false,
        "trace_archival_enabled": false,
        "multipart_uploads_enabled": false,
        "multipart_downloads_enabled": false,
        "presigned_upload_run_id_supported": false,
        "presigned_upload_model_id_supported": false,
        "features_enabled": {"gateway": false},
    })))
}

/// What an MLflow API path casemate does not serve is for, to name it in the refusal.
fn feature_of(path: &str) -> &'static str {
    const FEATURES: [(&str, &str); 12] = [
        ("/traces", "tracing (traces, spans and assessments)"),
        ("/unified-traces", "tracing (traces, spans and assessments)"),
        (
            "/get-online-trace-details",
            "tracing (traces, spans and assessments)",
        ),
        ("/datasets", "evaluation datasets"),
        ("/scorers", "GenAI scorers"),
        ("/gateway", "the AI gateway"),
        ("/prompt-optimization", "prompt optimization"),
        ("/review-queues", "review queues"),
        ("/label-schemas", "label schemas"),
        ("/issues", "issues"),
        ("/mpu/", "multipart artifact uploads"),
        (
            "/workspaces",
            "MLflow workspaces (each casemate workspace has its own MLflow URI)",
        ),
    ];
    FEATURES
        .iter()
        .find(|(marker, _)| path.contains(marker))
        .map_or("this endpoint", |(_, feature)| feature)
}

/// Any other MLflow API path: an MLflow-shaped NOT_IMPLEMENTED naming the feature, never a bare
/// "route not found", so a client that calls it says what is missing.
fn unsupported(uri: &Uri) -> ApiResult<Json<Value>> {
    let path = uri.path();
    let api = path.find("/api/").map_or(path, |at| &path[at..]);
    Err(Error::NotSupported(format!(
        "casemate does not support MLflow's {} ({api}); the README's MLflow section lists what it serves",
        feature_of(api)
    )))
}

/// One handler per method: the router keeps one handler per path and method.
macro_rules! unsupported_for {
    ($($name:ident => $method:ident),+ $(,)?) => {$(
        /// Any other MLflow API path: 501 NOT_IMPLEMENTED naming the feature.
        #[utoipa::path($method, path = "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/{*rest}", tag = "mlflow",
            params(("rg" = String, Path), ("ws" = String, Path), ("rest" = String, Path)),
            responses((status = 501, description = "NOT_IMPLEMENTED, naming the feature")))]
        pub async fn $name(uri: Uri) -> ApiResult<Json<Value>> {
            unsupported(&uri)
        }
    )+};
}

unsupported_for!(
    unsupported_get => get,
    unsupported_post => post,
    unsupported_put => put,
    unsupported_patch => patch,
    unsupported_delete => delete,
);
