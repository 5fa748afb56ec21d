//! Groups and their members.

use crate::api::ApiResult;
use crate::gate::extract::{ApiJson, ApiPath};
use crate::services::Services;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use casemate_types::ErrorBody;
use casemate_types::wire::{CreateGroupRequest, Group, GroupMember};
use std::sync::Arc;

#[utoipa::path(post, path = "/groups", tag = "principals", request_body = CreateGroupRequest,
    responses((status = 201, body = Group), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create(
    State(services): State<Arc<Services>>,
    ApiJson(request): ApiJson<CreateGroupRequest>,
) -> ApiResult<(StatusCode, Json<Group>)> {
    Ok((
        StatusCode::CREATED,
        Json(services.create_group(&request).await?),
    ))
}

#[utoipa::path(get, path = "/groups", tag = "principals", responses((status = 200, body = Vec<Group>)))]
pub async fn list(State(services): State<Arc<Services>>) -> ApiResult<Json<Vec<Group>>> {
    Ok(Json(services.list_groups().await?))
}

#[utoipa::path(get, path = "/groups/{group}", tag = "principals", params(("group" = String, Path)),
    responses((status = 200, body = Group), (status = 404, body = ErrorBody)))]
pub async fn show(
    State(services): State<Arc<Services>>,
    ApiPath(group): ApiPath<String>,
) -> ApiResult<Json<Group>> {
    Ok(Json(services.get_group(&group).await?))
}

/// Deletes the group; its members lose what it was assigned.
#[utoipa::path(delete, path = "/groups/{group}", tag = "principals", params(("group" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(services): State<Arc<Services>>,
    ApiPath(group): ApiPath<String>,
) -> ApiResult<StatusCode> {
    services.delete_group(&group).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/groups/{group}/members", tag = "principals",
    params(("group" = String, Path)),
    responses((status = 200, body = Vec<GroupMember>), (status = 404, body = ErrorBody)))]
pub async fn members(
    State(services): State<Arc<Services>>,
    ApiPath(group): ApiPath<String>,
) -> ApiResult<Json<Vec<GroupMember>>> {
    Ok(Json(services.group_members(&group).await?))
}

/// Adds a user or service principal, by name or object id.
#[utoipa::path(put, path = "/groups/{group}/members/{member}", tag = "principals",
    params(("group" = String, Path), ("member" = String, Path)),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn add_member(
    State(services): State<Arc<Services>>,
    ApiPath((group, member)): ApiPath<(String, String)>,
) -> ApiResult<StatusCode> {
    services.add_group_member(&group, &member).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(delete, path = "/groups/{group}/members/{member}", tag = "principals",
    params(("group" = String, Path), ("member" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn remove_member(
    State(services): State<Arc<Services>>,
    ApiPath((group, member)): ApiPath<(String, String)>,
) -> ApiResult<StatusCode> {
    services.remove_group_member(&group, &member).await?;
    Ok(StatusCode::NO_CONTENT)
}
