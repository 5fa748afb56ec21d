//! Resource groups and workspaces.

use super::ApiResult;
use crate::gate::extract::{ApiJson, ApiPath};
use crate::services::{Caller, Services};
use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use casemate_types::ErrorBody;
use casemate_types::wire::{
    CreateWorkspaceRequest, ResourceGroup, ResyncReport, UpdateWorkspaceRequest, Workspace,
};
use std::sync::Arc;

#[utoipa::path(get, path = "/resourceGroups", tag = "resources",
    responses((status = 200, body = Vec<ResourceGroup>), (status = 403, body = ErrorBody)))]
pub async fn list_groups(
    State(services): State<Arc<Services>>,
) -> ApiResult<Json<Vec<ResourceGroup>>> {
    Ok(Json(services.list_resource_groups().await?))
}

#[utoipa::path(put, path = "/resourceGroups/{rg}", tag = "resources", params(("rg" = String, Path)),
    responses((status = 201, body = ResourceGroup), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create_group(
    State(services): State<Arc<Services>>,
    Extension(caller): Extension<Caller>,
    ApiPath(rg): ApiPath<String>,
) -> ApiResult<(StatusCode, Json<ResourceGroup>)> {
    Ok((
        StatusCode::CREATED,
        Json(services.create_resource_group(&caller, &rg).await?),
    ))
}

#[utoipa::path(get, path = "/resourceGroups/{rg}", tag = "resources", params(("rg" = String, Path)),
    responses((status = 200, body = ResourceGroup), (status = 404, body = ErrorBody)))]
pub async fn get_group(
    State(services): State<Arc<Services>>,
    ApiPath(rg): ApiPath<String>,
) -> ApiResult<Json<ResourceGroup>> {
    Ok(Json(services.get_resource_group(&rg).await?))
}

/// Deletes an empty resource group.
#[utoipa::path(delete, path = "/resourceGroups/{rg}", tag = "resources", params(("rg" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete_group(
    State(services): State<Arc<Services>>,
    ApiPath(rg): ApiPath<String>,
) -> ApiResult<StatusCode> {
    services.delete_resource_group(&rg).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/resourceGroups/{rg}/workspaces", tag = "resources", params(("rg" = String, Path)),
    responses((status = 200, body = Vec<Workspace>), (status = 404, body = ErrorBody)))]
pub async fn list_workspaces(
    State(services): State<Arc<Services>>,
    ApiPath(rg): ApiPath<String>,
) -> ApiResult<Json<Vec<Workspace>>> {
    Ok(Json(services.list_workspaces(&rg).await?))
}

/// Creates a workspace with its key vault, storage, registry, monitoring sink and system identity.
#[utoipa::path(put, path = "/resourceGroups/{rg}/workspaces/{ws}", tag = "resources",
    params(("rg" = String, Path), ("ws" = String, Path)), request_body = CreateWorkspaceRequest,
    responses((status = 201, body = Workspace), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create_workspace(
    State(services): State<Arc<Services>>,
    Extension(caller): Extension<Caller>,
    ApiPath((rg, ws)): ApiPath<(String, String)>,
    ApiJson(request): ApiJson<CreateWorkspaceRequest>,
) -> ApiResult<(StatusCode, Json<Workspace>)> {
    Ok((
        StatusCode::CREATED,
        Json(
            services
                .create_workspace(&caller, &rg, &ws, &request)
                .await?,
        ),
    ))
}

#[utoipa::path(get, path = "/resourceGroups/{rg}/workspaces/{ws}", tag = "resources",
    params(("rg" = String, Path), ("ws" = String, Path)),
    responses((status = 200, body = Workspace), (status = 404, body = ErrorBody)))]
pub async fn get_workspace(
    State(services): State<Arc<Services>>,
    ApiPath((rg, ws)): ApiPath<(String, String)>,
) -> ApiResult<Json<Workspace>> {
    Ok(Json(services.get_workspace(&rg, &ws).await?))
}

/// Changes description and tags; the options fixed at creation are refused by name.
#[utoipa::path(patch, path = "/resourceGroups/{rg}/workspaces/{ws}", tag = "resources",
    params(("rg" = String, Path), ("ws" = String, Path)), request_body = UpdateWorkspaceRequest,
    responses((status = 200, body = Workspace), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn update_workspace(
    State(services): State<Arc<Services>>,
    ApiPath((rg, ws)): ApiPath<(String, String)>,
    ApiJson(request): ApiJson<UpdateWorkspaceRequest>,
) -> ApiResult<Json<Workspace>> {
    Ok(Json(services.update_workspace(&rg, &ws, &request).await?))
}

#[utoipa::path(delete, path = "/resourceGroups/{rg}/workspaces/{ws}", tag = "resources",
    params(("rg" = String, Path), ("ws" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete_workspace(
    State(services): State<Arc<Services>>,
    ApiPath((rg, ws)): ApiPath<(String, String)>,
) -> ApiResult<StatusCode> {
    services.delete_workspace(&rg, &ws).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Restores any of the workspace identity's grants that were removed.
#[utoipa::path(post, path = "/resourceGroups/{rg}/workspaces/{ws}/resynckeys", tag = "resources",
    params(("rg" = String, Path), ("ws" = String, Path)),
    responses((status = 200, body = ResyncReport), (status = 404, body = ErrorBody)))]
pub async fn resync_keys(
    State(services): State<Arc<Services>>,
    ApiPath((rg, ws)): ApiPath<(String, String)>,
) -> ApiResult<Json<ResyncReport>> {
    Ok(Json(services.resync_keys(&rg, &ws).await?))
}
