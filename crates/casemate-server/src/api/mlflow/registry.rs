//! MLflow's model registry: registered models, their versions, aliases and stages, over
//! casemate's registry service.

use super::Workspace;
use crate::api::ApiResult;
use crate::gate::extract::{ApiPath, MlflowRequest};
use crate::services::tracking::required;
use crate::services::{Caller, Services};
use axum::Json;
use axum::extract::{Extension, State};
use casemate_types::wire::mlflow::{
    CreateModelVersion, CreateRegisteredModel, ModelRef, ModelVersionsResponse,
    SearchRegisteredModelsResponse, SearchRegistry,
};
use serde_json::{Value, json};
use std::sync::Arc;

/// MLflow CreateRegisteredModel.
#[utoipa::path(post, path = "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/registered-models/create", tag = "mlflow",
    params(("rg" = String, Path), ("ws" = String, Path)),
    responses((status = 200, description = "MLflow's response message as JSON"),
        (status = 400, description = "INVALID_PARAMETER_VALUE or RESOURCE_ALREADY_EXISTS"),
        (status = 404, description = "RESOURCE_DOES_NOT_EXIST")))]
pub async fn create_registered_model(
    State(s): State<Arc<Services>>,
    Extension(caller): Extension<Caller>,
    ApiPath((rg, ws)): Workspace,
    MlflowRequest(r): MlflowRequest<CreateRegisteredModel>,
) -> ApiResult<Json<Value>> {
    Ok(Json(
        json!({"registered_model": s.create_registered_model(&caller, &rg, &ws, &r).await?}),
    ))
}

/// MLflow GetRegisteredModel.
#[utoipa::path(get, path = "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/registered-models/get", tag = "mlflow",
    params(("rg" = String, Path), ("ws" = String, Path)),
    responses((status = 200, description = "MLflow's response message as JSON"),
        (status = 400, description = "INVALID_PARAMETER_VALUE or RESOURCE_ALREADY_EXISTS"),
        (status = 404, description = "RESOURCE_DOES_NOT_EXIST")))]
pub async fn get_registered_model(
    State(s): State<Arc<Services>>,
    ApiPath((rg, ws)): Workspace,
    MlflowRequest(r): MlflowRequest<ModelRef>,
) -> ApiResult<Json<Value>> {
    Ok(Json(
        json!({"registered_model": s.registered_model(&rg, &ws, required("name", r.name.as_deref())?).await?}),
    ))
}

/// MLflow SearchRegisteredModels.
#[utoipa::path(get, path = "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/registered-models/search", tag = "mlflow",
    params(("rg" = String, Path), ("ws" = String, Path)),
    responses((status = 200, description = "MLflow's response message as JSON"),
        (status = 400, description = "INVALID_PARAMETER_VALUE or RESOURCE_ALREADY_EXISTS"),
        (status = 404, description = "RESOURCE_DOES_NOT_EXIST")))]
pub async fn search_registered_models(
    State(s): State<Arc<Services>>,
    ApiPath((rg, ws)): Workspace,
    MlflowRequest(r): MlflowRequest<SearchRegistry>,
) -> ApiResult<Json<Value>> {
    Ok({
        let (registered_models, next_page_token) = s.search_registered_models(&rg, &ws, &r).await?;
        Json(json!(SearchRegisteredModelsResponse {
            registered_models,
            next_page_token
        }))
    })
}

/// MLflow GetLatestVersions.
#[utoipa::path(post, path = "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/registered-models/get-latest-versions", tag = "mlflow",
    params(("rg" = String, Path), ("ws" = String, Path)),
    responses((status = 200, description = "MLflow's response message as JSON"),
        (status = 400, description = "INVALID_PARAMETER_VALUE or RESOURCE_ALREADY_EXISTS"),
        (status = 404, description = "RESOURCE_DOES_NOT_EXIST")))]
pub async fn latest_versions(
    State(s): State<Arc<Services>>,
    ApiPath((rg, ws)): Workspace,
    MlflowRequest(r): MlflowRequest<ModelRef>,
) -> ApiResult<Json<Value>> {
    Ok(Json(
        json!({"model_versions": s.latest_model_versions(&rg, &ws, required("name", r.name.as_deref())?, &r.stages).await?}),
    ))
}

/// MLflow SetRegisteredModelAlias.
#[utoipa::path(post, path = "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/registered-models/alias", tag = "mlflow",
    params(("rg" = String, Path), ("ws" = String, Path)),
    responses((status = 200, description = "MLflow's response message as JSON"),
        (status = 400, description = "INVALID_PARAMETER_VALUE or RESOURCE_ALREADY_EXISTS"),
        (status = 404, description = "RESOURCE_DOES_NOT_EXIST")))]
pub async fn set_alias(
    State(s): State<Arc<Services>>,
    ApiPath((rg, ws)): Workspace,
    MlflowRequest(r): MlflowRequest<ModelRef>,
) -> ApiResult<Json<Value>> {
    Ok({
        s.set_model_alias(
            &rg,
            &ws,
            required("name", r.name.as_deref())?,
            required("alias", r.alias.as_deref())?,
            r.version.as_deref(),
        )
        .await?;
        Json(json!({}))
    })
}

/// MLflow DeleteRegisteredModelAlias.
#[utoipa::path(delete, path = "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/registered-models/alias", tag = "mlflow",
    params(("rg" = String, Path), ("ws" = String, Path)),
    responses((status = 200, description = "MLflow's response message as JSON"),
        (status = 400, description = "INVALID_PARAMETER_VALUE or RESOURCE_ALREADY_EXISTS"),
        (status = 404, description = "RESOURCE_DOES_NOT_EXIST")))]
pub async fn delete_alias(
    State(s): State<Arc<Services>>,
    ApiPath((rg, ws)): Workspace,
    MlflowRequest(r): MlflowRequest<ModelRef>,
) -> ApiResult<Json<Value>> {
    Ok({
        s.delete_model_alias(
            &rg,
            &ws,
            required("name", r.name.as_deref())?,
            required("alias", r.alias.as_deref())?,
        )
        .await?;
        Json(json!({}))
    })
}

/// MLflow GetModelVersionByAlias.
#[utoipa::path(get, path = "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/registered-models/alias", tag = "mlflow",
    params(("rg" = String, Path), ("ws" = String, Path)),
    responses((status = 200, description = "MLflow's response message as JSON"),
        (status = 400, description = "INVALID_PARAMETER_VALUE or RESOURCE_ALREADY_EXISTS"),
        (status = 404, description = "RESOURCE_DOES_NOT_EXIST")))]
pub async fn version_by_alias(
    State(s): State<Arc<Services>>,
    ApiPath((rg, ws)): Workspace,
    MlflowRequest(r): MlflowRequest<ModelRef>,
) -> ApiResult<Json<Value>> {
    Ok(Json(
        json!({"model_version": s.model_version_by_alias(&rg, &ws, required("name", r.name.as_deref())?, required("alias", r.alias.as_deref())?).await?}),
    ))
}

/// MLflow CreateModelVersion.
#[utoipa::path(post, path = "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/model-versions/create", tag = "mlflow",
    params(("rg" = String, Path), ("ws" = String, Path)),
    responses((status = 200, description = "MLflow's response message as JSON"),
        (status = 400, description = "INVALID_PARAMETER_VALUE or RESOURCE_ALREADY_EXISTS"),
        (status = 404, description = "RESOURCE_DOES_NOT_EXIST")))]
pub async fn create_model_version(
    State(s): State<Arc<Services>>,
    Extension(caller): Extension<Caller>,
    ApiPath((rg, ws)): Workspace,
    MlflowRequest(r): MlflowRequest<CreateModelVersion>,
) -> ApiResult<Json<Value>> {
    Ok(Json(
        json!({"model_version": s.create_model_version(&caller, &rg, &ws, &r).await?}),
    ))
}

/// MLflow GetModelVersion.
#[utoipa::path(get, path = "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/model-versions/get", tag = "mlflow",
    params(("rg" = String, Path), ("ws" = String, Path)),
    responses((status = 200, description = "MLflow's response message as JSON"),
        (status = 400, description = "INVALID_PARAMETER_VALUE or RESOURCE_ALREADY_EXISTS"),
        (status = 404, description = "RESOURCE_DOES_NOT_EXIST")))]
pub async fn get_model_version(
    State(s): State<Arc<Services>>,
    ApiPath((rg, ws)): Workspace,
    MlflowRequest(r): MlflowRequest<ModelRef>,
) -> ApiResult<Json<Value>> {
    Ok(Json(
        json!({"model_version": s.model_version(&rg, &ws, required("name", r.name.as_deref())?, r.version.as_deref()).await?}),
    ))
}

/// MLflow SearchModelVersions.
#[utoipa::path(get, path = "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/model-versions/search", tag = "mlflow",
    params(("rg" = String, Path), ("ws" = String, Path)),
    responses((status = 200, description = "MLflow's response message as JSON"),
        (status = 400, description = "INVALID_PARAMETER_VALUE or RESOURCE_ALREADY_EXISTS"),
        (status = 404, description = "RESOURCE_DOES_NOT_EXIST")))]
pub async fn search_model_versions(
    State(s): State<Arc<Services>>,
    ApiPath((rg, ws)): Workspace,
    MlflowRequest(r): MlflowRequest<SearchRegistry>,
) -> ApiResult<Json<Value>> {
    Ok({
        let (model_versions, next_page_token) = s.search_model_versions(&rg, &ws, &r).await?;
        Json(json!(ModelVersionsResponse {
            model_versions,
            next_page_token
        }))
    })
}

/// MLflow GetModelVersionDownloadUri.
#[utoipa::path(get, path = "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/model-versions/get-download-uri", tag = "mlflow",
    params(("rg" = String, Path), ("ws" = String, Path)),
    responses((status = 200, description = "MLflow's response message as JSON"),
        (status = 400, description = "INVALID_PARAMETER_VALUE or RESOURCE_ALREADY_EXISTS"),
        (status = 404, description = "RESOURCE_DOES_NOT_EXIST")))]
pub async fn download_uri(
    State(s): State<Arc<Services>>,
    ApiPath((rg, ws)): Workspace,
    MlflowRequest(r): MlflowRequest<ModelRef>,
) -> ApiResult<Json<Value>> {
    Ok(Json(
        json!({"artifact_uri": s.model_version_download_uri(&rg, &ws, required("name", r.name.as_deref())?, r.version.as_deref()).await?}),
    ))
}

/// MLflow TransitionModelVersionStage.
#[utoipa::path(post, path = "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/model-versions/transition-stage", tag = "mlflow",
    params(("rg" = String, Path), ("ws" = String, Path)),
    responses((status = 200, description = "MLflow's response message as JSON"),
        (status = 400, description = "INVALID_PARAMETER_VALUE or RESOURCE_ALREADY_EXISTS"),
        (status = 404, description = "RESOURCE_DOES_NOT_EXIST")))]
pub async fn transition_stage(
    State(s): State<Arc<Services>>,
    ApiPath((rg, ws)): Workspace,
    MlflowRequest(r): MlflowRequest<ModelRef>,
) -> ApiResult<Json<Value>> {
    Ok(Json(
        json!({"model_version": s.transition_model_version_stage(&rg, &ws, required("name", r.name.as_deref())?, r.version.as_deref(), required("stage", r.stage.as_deref())?, r.archive_existing_versions.unwrap_or(false)).await?}),
    ))
}
