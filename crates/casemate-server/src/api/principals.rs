//! Users and service principals (administration).

use super::ApiResult;
use crate::gate::extract::{ApiJson, ApiPath};
use crate::services::{Caller, Services};
use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use casemate_types::ErrorBody;
use casemate_types::wire::{
    AddClientSecretRequest, ClientSecretCreated, CreateServicePrincipalRequest, CreateUserRequest,
    ServicePrincipal, User,
};
use std::sync::Arc;
use uuid::Uuid;

#[utoipa::path(post, path = "/users", tag = "principals", request_body = CreateUserRequest,
    responses((status = 201, body = User), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create_user(
    State(services): State<Arc<Services>>,
    ApiJson(request): ApiJson<CreateUserRequest>,
) -> ApiResult<(StatusCode, Json<User>)> {
    Ok((
        StatusCode::CREATED,
        Json(services.create_user(&request).await?),
    ))
}

#[utoipa::path(get, path = "/users", tag = "principals",
    responses((status = 200, body = Vec<User>), (status = 403, body = ErrorBody)))]
pub async fn list_users(State(services): State<Arc<Services>>) -> ApiResult<Json<Vec<User>>> {
    Ok(Json(services.list_users().await?))
}

/// `{user}` is a user name or object id.
#[utoipa::path(get, path = "/users/{user}", tag = "principals", params(("user" = String, Path)),
    responses((status = 200, body = User), (status = 404, body = ErrorBody)))]
pub async fn get_user(
    State(services): State<Arc<Services>>,
    ApiPath(user): ApiPath<String>,
) -> ApiResult<Json<User>> {
    Ok(Json(services.get_user(&user).await?))
}

#[utoipa::path(delete, path = "/users/{user}", tag = "principals", params(("user" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete_user(
    State(services): State<Arc<Services>>,
    Extension(caller): Extension<Caller>,
    ApiPath(user): ApiPath<String>,
) -> ApiResult<StatusCode> {
    services.delete_user(&caller, &user).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Disables the user and ends all its sessions at once.
#[utoipa::path(post, path = "/users/{user}/disable", tag = "principals", params(("user" = String, Path)),
    responses((status = 200, body = User), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn disable_user(
    State(services): State<Arc<Services>>,
    Extension(caller): Extension<Caller>,
    ApiPath(user): ApiPath<String>,
) -> ApiResult<Json<User>> {
    Ok(Json(
        services.set_user_enabled(&caller, &user, false).await?,
    ))
}

#[utoipa::path(post, path = "/users/{user}/enable", tag = "principals", params(("user" = String, Path)),
    responses((status = 200, body = User), (status = 404, body = ErrorBody)))]
pub async fn enable_user(
    State(services): State<Arc<Services>>,
    Extension(caller): Extension<Caller>,
    ApiPath(user): ApiPath<String>,
) -> ApiResult<Json<User>> {
    Ok(Json(services.set_user_enabled(&caller, &user, true).await?))
}

/// Removes the user's second factor (e.g. a lost device); they enrol again.
#[utoipa::path(delete, path = "/users/{user}/mfa", tag = "principals", params(("user" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn reset_user_mfa(
    State(services): State<Arc<Services>>,
    ApiPath(user): ApiPath<String>,
) -> ApiResult<StatusCode> {
    services.reset_user_mfa(&user).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/service-principals", tag = "principals", request_body = CreateServicePrincipalRequest,
    responses((status = 201, body = ServicePrincipal), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create_service_principal(
    State(services): State<Arc<Services>>,
    ApiJson(request): ApiJson<CreateServicePrincipalRequest>,
) -> ApiResult<(StatusCode, Json<ServicePrincipal>)> {
    Ok((
        StatusCode::CREATED,
        Json(services.create_service_principal(&request).await?),
    ))
}

#[utoipa::path(get, path = "/service-principals", tag = "principals",
    responses((status = 200, body = Vec<ServicePrincipal>)))]
pub async fn list_service_principals(
    State(services): State<Arc<Services>>,
) -> ApiResult<Json<Vec<ServicePrincipal>>> {
    Ok(Json(services.list_service_principals().await?))
}

/// `{sp}` is a service principal name or object id.
#[utoipa::path(get, path = "/service-principals/{sp}", tag = "principals", params(("sp" = String, Path)),
    responses((status = 200, body = ServicePrincipal), (status = 404, body = ErrorBody)))]
pub async fn get_service_principal(
    State(services): State<Arc<Services>>,
    ApiPath(sp): ApiPath<String>,
) -> ApiResult<Json<ServicePrincipal>> {
    Ok(Json(services.get_service_principal(&sp).await?))
}

#[utoipa::path(delete, path = "/service-principals/{sp}", tag = "principals", params(("sp" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete_service_principal(
    State(services): State<Arc<Services>>,
    ApiPath(sp): ApiPath<String>,
) -> ApiResult<StatusCode> {
    services.delete_service_principal(&sp).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Adds a client secret, shown once. Existing secrets keep working: rotate without downtime.
#[utoipa::path(post, path = "/service-principals/{sp}/secrets", tag = "principals", params(("sp" = String, Path)),
    request_body = AddClientSecretRequest,
    responses((status = 201, body = ClientSecretCreated), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn add_client_secret(
    State(services): State<Arc<Services>>,
    ApiPath(sp): ApiPath<String>,
    ApiJson(request): ApiJson<AddClientSecretRequest>,
) -> ApiResult<(StatusCode, Json<ClientSecretCreated>)> {
    Ok((
        StatusCode::CREATED,
        Json(services.add_client_secret(&sp, &request).await?),
    ))
}

#[utoipa::path(delete, path = "/service-principals/{sp}/secrets/{secret_id}", tag = "principals",
    params(("sp" = String, Path), ("secret_id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn remove_client_secret(
    State(services): State<Arc<Services>>,
    ApiPath((sp, secret_id)): ApiPath<(String, Uuid)>,
) -> ApiResult<StatusCode> {
    services.remove_client_secret(&sp, secret_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
