//! Vault keys: create, rotate, enable/disable, wrap/unwrap, soft delete.

use super::ApiResult;
use crate::gate::extract::{ApiJson, ApiPath, RequestHost};
use crate::services::Services;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use casemate_types::ErrorBody;
use casemate_types::wire::{
    CreateKeyRequest, DeletedKey, KeyOperationRequest, KeyOperationResult, UpdateKeyRequest,
    VaultKey,
};
use std::sync::Arc;

type KeyPath = (String, String, String);

#[utoipa::path(get, path = "/resourceGroups/{rg}/vaults/{vault}/keys", tag = "keys",
    params(("rg" = String, Path), ("vault" = String, Path)), responses((status = 200, body = Vec<VaultKey>)))]
pub async fn list(
    State(s): State<Arc<Services>>,
    RequestHost(host): RequestHost,
    ApiPath((rg, vault)): ApiPath<(String, String)>,
) -> ApiResult<Json<Vec<VaultKey>>> {
    let vault = s.vault(&rg, &vault).await?;
    Ok(Json(s.list_keys(&host, &vault).await?))
}

/// Creates an AES-256 key with its first version.
#[utoipa::path(put, path = "/resourceGroups/{rg}/vaults/{vault}/keys/{name}", tag = "keys",
    params(("rg" = String, Path), ("vault" = String, Path), ("name" = String, Path)), request_body = CreateKeyRequest,
    responses((status = 201, body = VaultKey), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create(
    State(s): State<Arc<Services>>,
    RequestHost(host): RequestHost,
    ApiPath((rg, vault, name)): ApiPath<KeyPath>,
    ApiJson(request): ApiJson<CreateKeyRequest>,
) -> ApiResult<(StatusCode, Json<VaultKey>)> {
    let vault = s.vault(&rg, &vault).await?;
    Ok((
        StatusCode::CREATED,
        Json(s.create_key(&host, &vault, &name, &request).await?),
    ))
}

#[utoipa::path(get, path = "/resourceGroups/{rg}/vaults/{vault}/keys/{name}", tag = "keys",
    params(("rg" = String, Path), ("vault" = String, Path), ("name" = String, Path)),
    responses((status = 200, body = VaultKey), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(s): State<Arc<Services>>,
    RequestHost(host): RequestHost,
    ApiPath((rg, vault, name)): ApiPath<KeyPath>,
) -> ApiResult<Json<VaultKey>> {
    let vault = s.vault(&rg, &vault).await?;
    Ok(Json(s.get_key(&host, &vault, &name).await?))
}

/// Enables or disables the whole key: every operation that needs it fails at once while disabled.
#[utoipa::path(patch, path = "/resourceGroups/{rg}/vaults/{vault}/keys/{name}", tag = "keys",
    params(("rg" = String, Path), ("vault" = String, Path), ("name" = String, Path)), request_body = UpdateKeyRequest,
    responses((status = 200, body = VaultKey), (status = 404, body = ErrorBody)))]
pub async fn update(
    State(s): State<Arc<Services>>,
    RequestHost(host): RequestHost,
    ApiPath((rg, vault, name)): ApiPath<KeyPath>,
    ApiJson(request): ApiJson<UpdateKeyRequest>,
) -> ApiResult<Json<VaultKey>> {
    let vault = s.vault(&rg, &vault).await?;
    Ok(Json(
        s.set_key_enabled(&host, &vault, &name, None, request.enabled)
            .await?,
    ))
}

#[utoipa::path(patch, path = "/resourceGroups/{rg}/vaults/{vault}/keys/{name}/{version}", tag = "keys",
    params(("rg" = String, Path), ("vault" = String, Path), ("name" = String, Path), ("version" = String, Path)), request_body = UpdateKeyRequest,
    responses((status = 200, body = VaultKey), (status = 404, body = ErrorBody)))]
pub async fn update_version(
    State(s): State<Arc<Services>>,
    RequestHost(host): RequestHost,
    ApiPath((rg, vault, name, version)): ApiPath<(String, String, String, String)>,
    ApiJson(request): ApiJson<UpdateKeyRequest>,
) -> ApiResult<Json<VaultKey>> {
    let vault = s.vault(&rg, &vault).await?;
    Ok(Json(
        s.set_key_enabled(&host, &vault, &name, Some(&version), request.enabled)
            .await?,
    ))
}

#[utoipa::path(delete, path = "/resourceGroups/{rg}/vaults/{vault}/keys/{name}", tag = "keys",
    params(("rg" = String, Path), ("vault" = String, Path), ("name" = String, Path)),
    responses((status = 200, body = DeletedKey), (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(s): State<Arc<Services>>,
    ApiPath((rg, vault, name)): ApiPath<KeyPath>,
) -> ApiResult<Json<DeletedKey>> {
    let vault = s.vault(&rg, &vault).await?;
    Ok(Json(s.delete_key(&vault, &name).await?))
}

/// Adds a version; new encryption uses it from the next request on.
#[utoipa::path(post, path = "/resourceGroups/{rg}/vaults/{vault}/keys/{name}/rotate", tag = "keys",
    params(("rg" = String, Path), ("vault" = String, Path), ("name" = String, Path)),
    responses((status = 200, body = VaultKey), (status = 404, body = ErrorBody)))]
pub async fn rotate(
    State(s): State<Arc<Services>>,
    RequestHost(host): RequestHost,
    ApiPath((rg, vault, name)): ApiPath<KeyPath>,
) -> ApiResult<Json<VaultKey>> {
    let vault = s.vault(&rg, &vault).await?;
    Ok(Json(s.rotate_key(&host, &vault, &name).await?))
}

/// Wraps `value` with the newest enabled version.
#[utoipa::path(post, path = "/resourceGroups/{rg}/vaults/{vault}/keys/{name}/wrapkey", tag = "keys",
    params(("rg" = String, Path), ("vault" = String, Path), ("name" = String, Path)), request_body = KeyOperationRequest,
    responses((status = 200, body = KeyOperationResult), (status = 400, body = ErrorBody), (status = 423, body = ErrorBody)))]
pub async fn wrap(
    State(s): State<Arc<Services>>,
    RequestHost(host): RequestHost,
    ApiPath((rg, vault, name)): ApiPath<KeyPath>,
    ApiJson(request): ApiJson<KeyOperationRequest>,
) -> ApiResult<Json<KeyOperationResult>> {
    let vault = s.vault(&rg, &vault).await?;
    Ok(Json(
        s.wrap_key(&host, &vault, &name, None, &request.value)
            .await?,
    ))
}

#[utoipa::path(post, path = "/resourceGroups/{rg}/vaults/{vault}/keys/{name}/{version}/unwrapkey", tag = "keys",
    params(("rg" = String, Path), ("vault" = String, Path), ("name" = String, Path), ("version" = String, Path)), request_body = KeyOperationRequest,
    responses((status = 200, body = KeyOperationResult), (status = 400, body = ErrorBody), (status = 423, body = ErrorBody)))]
pub async fn unwrap(
    State(s): State<Arc<Services>>,
    RequestHost(host): RequestHost,
    ApiPath((rg, vault, name, version)): ApiPath<(String, String, String, String)>,
    ApiJson(request): ApiJson<KeyOperationRequest>,
) -> ApiResult<Json<KeyOperationResult>> {
    let vault = s.vault(&rg, &vault).await?;
    Ok(Json(
        s.unwrap_key(&host, &vault, &name, &version, &request.value)
            .await?,
    ))
}

#[utoipa::path(get, path = "/resourceGroups/{rg}/vaults/{vault}/deletedkeys", tag = "keys",
    params(("rg" = String, Path), ("vault" = String, Path)), responses((status = 200, body = Vec<DeletedKey>)))]
pub async fn list_deleted(
    State(s): State<Arc<Services>>,
    ApiPath((rg, vault)): ApiPath<(String, String)>,
) -> ApiResult<Json<Vec<DeletedKey>>> {
    let vault = s.vault(&rg, &vault).await?;
    Ok(Json(s.list_deleted_keys(&vault).await?))
}

#[utoipa::path(post, path = "/resourceGroups/{rg}/vaults/{vault}/deletedkeys/{name}/recover", tag = "keys",
    params(("rg" = String, Path), ("vault" = String, Path), ("name" = String, Path)),
    responses((status = 200, body = VaultKey), (status = 404, body = ErrorBody)))]
pub async fn recover(
    State(s): State<Arc<Services>>,
    RequestHost(host): RequestHost,
    ApiPath((rg, vault, name)): ApiPath<KeyPath>,
) -> ApiResult<Json<VaultKey>> {
    let vault = s.vault(&rg, &vault).await?;
    Ok(Json(s.recover_key(&host, &vault, &name).await?))
}

#[utoipa::path(delete, path = "/resourceGroups/{rg}/vaults/{vault}/deletedkeys/{name}", tag = "keys",
    params(("rg" = String, Path), ("vault" = String, Path), ("name" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn purge(
    State(s): State<Arc<Services>>,
    ApiPath((rg, vault, name)): ApiPath<KeyPath>,
) -> ApiResult<StatusCode> {
    let vault = s.vault(&rg, &vault).await?;
    s.purge_key(&vault, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}
