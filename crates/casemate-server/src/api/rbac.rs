//! Role assignments, role definitions, effective access, and the activity log.

use super::ApiResult;
use crate::gate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::services::activity::ActivityQuery;
use crate::services::{Caller, Services};
use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use casemate_types::ErrorBody;
use casemate_types::wire::{
    ActivityPage, CreateRoleAssignmentRequest, PermissionCheck, Permissions, RoleAssignment,
    RoleDefinitionDocument, VerifyReport,
};
use serde::Deserialize;
use std::sync::Arc;
use uuid::Uuid;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ScopeQuery {
    /// The scope, e.g. `/resourceGroups/rg/workspaces/ws`.
    pub scope: String,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AssignmentQuery {
    pub scope: String,
    pub assignee: Option<String>,
    pub role: Option<String>,
    /// Also list assignments made above the scope that apply to it.
    #[serde(default, rename = "includeInherited")]
    pub include_inherited: bool,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct CheckQuery {
    pub scope: String,
    pub action: String,
}

/// Assigns a role at `scope`. The caller must hold `roleAssignments/write` there and every action the role grants.
#[utoipa::path(post, path = "/roleAssignments", tag = "rbac", params(ScopeQuery), request_body = CreateRoleAssignmentRequest,
    responses((status = 201, body = RoleAssignment), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create_assignment(
    State(services): State<Arc<Services>>,
    Extension(caller): Extension<Caller>,
    ApiQuery(query): ApiQuery<ScopeQuery>,
    ApiJson(request): ApiJson<CreateRoleAssignmentRequest>,
) -> ApiResult<(StatusCode, Json<RoleAssignment>)> {
    Ok((
        StatusCode::CREATED,
        Json(
            services
                .create_role_assignment(&caller, &query.scope, &request)
                .await?,
        ),
    ))
}

#[utoipa::path(get, path = "/roleAssignments", tag = "rbac", params(AssignmentQuery),
    responses((status = 200, body = Vec<RoleAssignment>), (status = 403, body = ErrorBody)))]
pub async fn list_assignments(
    State(services): State<Arc<Services>>,
    ApiQuery(query): ApiQuery<AssignmentQuery>,
) -> ApiResult<Json<Vec<RoleAssignment>>> {
    Ok(Json(
        services
            .list_role_assignments(
                &query.scope,
                query.assignee.as_deref(),
                query.role.as_deref(),
                query.include_inherited,
            )
            .await?,
    ))
}

#[utoipa::path(delete, path = "/roleAssignments/{assignment_id}", tag = "rbac",
    params(("assignment_id" = Uuid, Path), ScopeQuery),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete_assignment(
    State(services): State<Arc<Services>>,
    ApiPath(assignment_id): ApiPath<Uuid>,
    ApiQuery(query): ApiQuery<ScopeQuery>,
) -> ApiResult<StatusCode> {
    services
        .delete_role_assignment(&query.scope, assignment_id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/roleDefinitions", tag = "rbac", responses((status = 200, body = Vec<RoleDefinitionDocument>)))]
pub async fn list_definitions(
    State(services): State<Arc<Services>>,
) -> ApiResult<Json<Vec<RoleDefinitionDocument>>> {
    Ok(Json(services.list_role_definitions().await?))
}

#[utoipa::path(get, path = "/roleDefinitions/{name}", tag = "rbac", params(("name" = String, Path)),
    responses((status = 200, body = RoleDefinitionDocument), (status = 404, body = ErrorBody)))]
pub async fn get_definition(
    State(services): State<Arc<Services>>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<RoleDefinitionDocument>> {
    Ok(Json(services.role_definition(&name).await?))
}

/// Creates a custom role from the cloud platform's JSON shape.
#[utoipa::path(post, path = "/roleDefinitions", tag = "rbac", request_body = RoleDefinitionDocument,
    responses((status = 201, body = RoleDefinitionDocument), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create_definition(
    State(services): State<Arc<Services>>,
    ApiJson(document): ApiJson<RoleDefinitionDocument>,
) -> ApiResult<(StatusCode, Json<RoleDefinitionDocument>)> {
    Ok((
        StatusCode::CREATED,
        Json(services.create_role_definition(&document).await?),
    ))
}

#[utoipa::path(put, path = "/roleDefinitions/{name}", tag = "rbac", params(("name" = String, Path)), request_body = RoleDefinitionDocument,
    responses((status = 200, body = RoleDefinitionDocument), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn update_definition(
    State(services): State<Arc<Services>>,
    ApiPath(name): ApiPath<String>,
    ApiJson(document): ApiJson<RoleDefinitionDocument>,
) -> ApiResult<Json<RoleDefinitionDocument>> {
    Ok(Json(
        services.update_role_definition(&name, &document).await?,
    ))
}

/// Deletes a custom role that is no longer assigned.
#[utoipa::path(delete, path = "/roleDefinitions/{name}", tag = "rbac", params(("name" = String, Path)),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete_definition(
    State(services): State<Arc<Services>>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<StatusCode> {
    services.delete_role_definition(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Whether the caller may perform `action` at `scope`, and which assignments grant it.
#[utoipa::path(get, path = "/permissions/check", tag = "rbac", params(CheckQuery),
    responses((status = 200, body = PermissionCheck), (status = 400, body = ErrorBody)))]
pub async fn check_own(
    State(services): State<Arc<Services>>,
    Extension(caller): Extension<Caller>,
    ApiQuery(query): ApiQuery<CheckQuery>,
) -> ApiResult<Json<PermissionCheck>> {
    Ok(Json(
        services
            .check_permission(None, &caller, &query.action, &query.scope)
            .await?,
    ))
}

/// The caller's effective actions at `scope`.
#[utoipa::path(get, path = "/permissions", tag = "rbac", params(ScopeQuery),
    responses((status = 200, body = Permissions), (status = 400, body = ErrorBody)))]
pub async fn list_own(
    State(services): State<Arc<Services>>,
    Extension(caller): Extension<Caller>,
    ApiQuery(query): ApiQuery<ScopeQuery>,
) -> ApiResult<Json<Permissions>> {
    Ok(Json(
        services
            .list_permissions(None, &caller, &query.scope)
            .await?,
    ))
}

/// Another principal's access (needs `roleAssignments/read` at the scope).
#[utoipa::path(get, path = "/principals/{principal}/permissions/check", tag = "rbac",
    params(("principal" = String, Path), CheckQuery),
    responses((status = 200, body = PermissionCheck), (status = 404, body = ErrorBody)))]
pub async fn check_other(
    State(services): State<Arc<Services>>,
    Extension(caller): Extension<Caller>,
    ApiPath(principal): ApiPath<String>,
    ApiQuery(query): ApiQuery<CheckQuery>,
) -> ApiResult<Json<PermissionCheck>> {
    Ok(Json(
        services
            .check_permission(Some(&principal), &caller, &query.action, &query.scope)
            .await?,
    ))
}

#[utoipa::path(get, path = "/principals/{principal}/permissions", tag = "rbac",
    params(("principal" = String, Path), ScopeQuery),
    responses((status = 200, body = Permissions), (status = 404, body = ErrorBody)))]
pub async fn list_other(
    State(services): State<Arc<Services>>,
    Extension(caller): Extension<Caller>,
    ApiPath(principal): ApiPath<String>,
    ApiQuery(query): ApiQuery<ScopeQuery>,
) -> ApiResult<Json<Permissions>> {
    Ok(Json(
        services
            .list_permissions(Some(&principal), &caller, &query.scope)
            .await?,
    ))
}

/// Activity records at `scope` and below, oldest first, with paging.
#[utoipa::path(get, path = "/activityLog", tag = "activity", params(ActivityQuery),
    responses((status = 200, body = ActivityPage), (status = 400, body = ErrorBody)))]
pub async fn list_activity(
    State(services): State<Arc<Services>>,
    ApiQuery(query): ApiQuery<ActivityQuery>,
) -> ApiResult<Json<ActivityPage>> {
    Ok(Json(services.list_activity(&query).await?))
}

/// Checks the hash chain; reports the first record altered, removed or reordered.
#[utoipa::path(post, path = "/activityLog/verify", tag = "activity", responses((status = 200, body = VerifyReport)))]
pub async fn verify_activity(
    State(services): State<Arc<Services>>,
) -> ApiResult<Json<VerifyReport>> {
    Ok(Json(services.verify_activity().await?))
}
