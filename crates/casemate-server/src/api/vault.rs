//! Secrets: on a vault (data actions), and on a workspace (as the workspace's identity).

use super::ApiResult;
use crate::gate::extract::{ApiJson, ApiPath};
use crate::services::Caller;
use crate::services::Services;
use axum::Json;
use axum::extract::{Extension, State};
use axum::http::StatusCode;
use casemate_types::ErrorBody;
use casemate_types::wire::{
    DeletedSecret, SecretBundle, SecretItem, SecretNames, SecretValues, SetSecretRequest,
    SetSecretsRequest, UpdateSecretRequest, UpdateVaultRequest, VaultProperties,
};
use std::sync::Arc;

/// Sets the vault's soft-delete retention or turns on purge protection.
#[utoipa::path(patch, path = "/resourceGroups/{rg}/vaults/{vault}", tag = "vault",
    params(("rg" = String, Path), ("vault" = String, Path)), request_body = UpdateVaultRequest,
    responses((status = 200, body = VaultProperties), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn update_vault(
    State(s): State<Arc<Services>>,
    ApiPath((rg, vault)): ApiPath<(String, String)>,
    ApiJson(request): ApiJson<UpdateVaultRequest>,
) -> ApiResult<Json<VaultProperties>> {
    let vault = s.vault(&rg, &vault).await?;
    Ok(Json(s.update_vault(&vault, &request).await?.view()))
}

const GET: &str = "vaults/secrets/getSecret/action";
const SET: &str = "vaults/secrets/setSecret/action";
const META: &str = "vaults/secrets/readMetadata/action";
const DELETE: &str = "vaults/secrets/delete";

#[utoipa::path(get, path = "/resourceGroups/{rg}/vaults/{vault}/secrets", tag = "vault",
    params(("rg" = String, Path), ("vault" = String, Path)),
    responses((status = 200, body = Vec<SecretItem>), (status = 404, body = ErrorBody)))]
pub async fn list(
    State(s): State<Arc<Services>>,
    ApiPath((rg, vault)): ApiPath<(String, String)>,
) -> ApiResult<Json<Vec<SecretItem>>> {
    let vault = s.vault(&rg, &vault).await?;
    Ok(Json(s.list_secrets(&vault).await?))
}

/// Sets a secret: a new version on an existing name.
#[utoipa::path(put, path = "/resourceGroups/{rg}/vaults/{vault}/secrets/{name}", tag = "vault",
    params(("rg" = String, Path), ("vault" = String, Path), ("name" = String, Path)), request_body = SetSecretRequest,
    responses((status = 200, body = SecretItem), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn set(
    State(s): State<Arc<Services>>,
    ApiPath((rg, vault, name)): ApiPath<(String, String, String)>,
    ApiJson(request): ApiJson<SetSecretRequest>,
) -> ApiResult<Json<SecretItem>> {
    let vault = s.vault(&rg, &vault).await?;
    Ok(Json(s.set_secret(&vault, &name, &request).await?))
}

#[utoipa::path(get, path = "/resourceGroups/{rg}/vaults/{vault}/secrets/{name}", tag = "vault",
    params(("rg" = String, Path), ("vault" = String, Path), ("name" = String, Path)),
    responses((status = 200, body = SecretBundle), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(s): State<Arc<Services>>,
    Extension(caller): Extension<Caller>,
    ApiPath((rg, vault, name)): ApiPath<(String, String, String)>,
) -> ApiResult<Json<SecretBundle>> {
    let vault = s.vault(&rg, &vault).await?;
    Ok(Json(s.get_secret(&vault, &name, None, &caller).await?))
}

/// Changes the latest version's attributes (enabled, not_before, expires, content type, tags).
#[utoipa::path(patch, path = "/resourceGroups/{rg}/vaults/{vault}/secrets/{name}", tag = "vault",
    params(("rg" = String, Path), ("vault" = String, Path), ("name" = String, Path)), request_body = UpdateSecretRequest,
    responses((status = 200, body = SecretItem), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn update(
    State(s): State<Arc<Services>>,
    ApiPath((rg, vault, name)): ApiPath<(String, String, String)>,
    ApiJson(request): ApiJson<UpdateSecretRequest>,
) -> ApiResult<Json<SecretItem>> {
    let vault = s.vault(&rg, &vault).await?;
    Ok(Json(s.update_secret(&vault, &name, None, &request).await?))
}

/// Soft delete: kept for the vault's retention period; the name cannot be reused until purged.
#[utoipa::path(delete, path = "/resourceGroups/{rg}/vaults/{vault}/secrets/{name}", tag = "vault",
    params(("rg" = String, Path), ("vault" = String, Path), ("name" = String, Path)),
    responses((status = 200, body = DeletedSecret), (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(s): State<Arc<Services>>,
    ApiPath((rg, vault, name)): ApiPath<(String, String, String)>,
) -> ApiResult<Json<DeletedSecret>> {
    let vault = s.vault(&rg, &vault).await?;
    Ok(Json(s.delete_secret(&vault, &name).await?))
}

#[utoipa::path(get, path = "/resourceGroups/{rg}/vaults/{vault}/secrets/{name}/versions", tag = "vault",
    params(("rg" = String, Path), ("vault" = String, Path), ("name" = String, Path)),
    responses((status = 200, body = Vec<SecretItem>), (status = 404, body = ErrorBody)))]
pub async fn versions(
    State(s): State<Arc<Services>>,
    ApiPath((rg, vault, name)): ApiPath<(String, String, String)>,
) -> ApiResult<Json<Vec<SecretItem>>> {
    let vault = s.vault(&rg, &vault).await?;
    Ok(Json(s.list_secret_versions(&vault, &name).await?))
}

#[utoipa::path(get, path = "/resourceGroups/{rg}/vaults/{vault}/secrets/{name}/versions/{version}", tag = "vault",
    params(("rg" = String, Path), ("vault" = String, Path), ("name" = String, Path), ("version" = String, Path)),
    responses((status = 200, body = SecretBundle), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_version(
    State(s): State<Arc<Services>>,
    Extension(caller): Extension<Caller>,
    ApiPath((rg, vault, name, version)): ApiPath<(String, String, String, String)>,
) -> ApiResult<Json<SecretBundle>> {
    let vault = s.vault(&rg, &vault).await?;
    Ok(Json(
        s.get_secret(&vault, &name, Some(&version), &caller).await?,
    ))
}

#[utoipa::path(get, path = "/resourceGroups/{rg}/vaults/{vault}/deletedsecrets", tag = "vault",
    params(("rg" = String, Path), ("vault" = String, Path)),
    responses((status = 200, body = Vec<DeletedSecret>)))]
pub async fn list_deleted(
    State(s): State<Arc<Services>>,
    ApiPath((rg, vault)): ApiPath<(String, String)>,
) -> ApiResult<Json<Vec<DeletedSecret>>> {
    let vault = s.vault(&rg, &vault).await?;
    Ok(Json(s.list_deleted_secrets(&vault).await?))
}

#[utoipa::path(post, path = "/resourceGroups/{rg}/vaults/{vault}/deletedsecrets/{name}/recover", tag = "vault",
    params(("rg" = String, Path), ("vault" = String, Path), ("name" = String, Path)),
    responses((status = 200, body = SecretItem), (status = 404, body = ErrorBody)))]
pub async fn recover(
    State(s): State<Arc<Services>>,
    ApiPath((rg, vault, name)): ApiPath<(String, String, String)>,
) -> ApiResult<Json<SecretItem>> {
    let vault = s.vault(&rg, &vault).await?;
    Ok(Json(s.recover_secret(&vault, &name).await?))
}

/// Destroys a deleted secret for good (refused under purge protection).
#[utoipa::path(delete, path = "/resourceGroups/{rg}/vaults/{vault}/deletedsecrets/{name}", tag = "vault",
    params(("rg" = String, Path), ("vault" = String, Path), ("name" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn purge(
    State(s): State<Arc<Services>>,
    ApiPath((rg, vault, name)): ApiPath<(String, String, String)>,
) -> ApiResult<StatusCode> {
    let vault = s.vault(&rg, &vault).await?;
    s.purge_secret(&vault, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The values of several secrets, and which names were not found.
#[utoipa::path(post, path = "/resourceGroups/{rg}/vaults/{vault}/batchGetSecrets", tag = "vault",
    params(("rg" = String, Path), ("vault" = String, Path)), request_body = SecretNames,
    responses((status = 200, body = SecretValues), (status = 400, body = ErrorBody)))]
pub async fn batch_get(
    State(s): State<Arc<Services>>,
    Extension(caller): Extension<Caller>,
    ApiPath((rg, vault)): ApiPath<(String, String)>,
    ApiJson(request): ApiJson<SecretNames>,
) -> ApiResult<Json<SecretValues>> {
    let vault = s.vault(&rg, &vault).await?;
    Ok(Json(s.get_secrets(&vault, &request.names, &caller).await?))
}

#[utoipa::path(post, path = "/resourceGroups/{rg}/vaults/{vault}/batchSetSecrets", tag = "vault",
    params(("rg" = String, Path), ("vault" = String, Path)), request_body = SetSecretsRequest,
    responses((status = 200, body = Vec<SecretItem>), (status = 400, body = ErrorBody)))]
pub async fn batch_set(
    State(s): State<Arc<Services>>,
    ApiPath((rg, vault)): ApiPath<(String, String)>,
    ApiJson(request): ApiJson<SetSecretsRequest>,
) -> ApiResult<Json<Vec<SecretItem>>> {
    let vault = s.vault(&rg, &vault).await?;
    Ok(Json(s.set_secrets(&vault, &request.secrets).await?))
}

#[utoipa::path(get, path = "/resourceGroups/{rg}/workspaces/{ws}/secrets", tag = "workspace secrets",
    params(("rg" = String, Path), ("ws" = String, Path)),
    responses((status = 200, body = Vec<SecretItem>), (status = 403, body = ErrorBody)))]
pub async fn ws_list(
    State(s): State<Arc<Services>>,
    ApiPath((rg, ws)): ApiPath<(String, String)>,
) -> ApiResult<Json<Vec<SecretItem>>> {
    let vault = s.workspace_vault(&rg, &ws, META).await?;
    Ok(Json(s.list_secrets(&vault).await?))
}

#[utoipa::path(put, path = "/resourceGroups/{rg}/workspaces/{ws}/secrets/{name}", tag = "workspace secrets",
    params(("rg" = String, Path), ("ws" = String, Path), ("name" = String, Path)), request_body = SetSecretRequest,
    responses((status = 200, body = SecretItem), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn ws_set(
    State(s): State<Arc<Services>>,
    ApiPath((rg, ws, name)): ApiPath<(String, String, String)>,
    ApiJson(request): ApiJson<SetSecretRequest>,
) -> ApiResult<Json<SecretItem>> {
    let vault = s.workspace_vault(&rg, &ws, SET).await?;
    Ok(Json(s.set_secret(&vault, &name, &request).await?))
}

#[utoipa::path(get, path = "/resourceGroups/{rg}/workspaces/{ws}/secrets/{name}", tag = "workspace secrets",
    params(("rg" = String, Path), ("ws" = String, Path), ("name" = String, Path)),
    responses((status = 200, body = SecretBundle), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn ws_get(
    State(s): State<Arc<Services>>,
    Extension(caller): Extension<Caller>,
    ApiPath((rg, ws, name)): ApiPath<(String, String, String)>,
) -> ApiResult<Json<SecretBundle>> {
    let vault = s.workspace_vault(&rg, &ws, GET).await?;
    Ok(Json(s.get_secret(&vault, &name, None, &caller).await?))
}

#[utoipa::path(delete, path = "/resourceGroups/{rg}/workspaces/{ws}/secrets/{name}", tag = "workspace secrets",
    params(("rg" = String, Path), ("ws" = String, Path), ("name" = String, Path)),
    responses((status = 200, body = DeletedSecret), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn ws_delete(
    State(s): State<Arc<Services>>,
    ApiPath((rg, ws, name)): ApiPath<(String, String, String)>,
) -> ApiResult<Json<DeletedSecret>> {
    let vault = s.workspace_vault(&rg, &ws, DELETE).await?;
    Ok(Json(s.delete_secret(&vault, &name).await?))
}

#[utoipa::path(post, path = "/resourceGroups/{rg}/workspaces/{ws}/batchGetSecrets", tag = "workspace secrets",
    params(("rg" = String, Path), ("ws" = String, Path)), request_body = SecretNames,
    responses((status = 200, body = SecretValues), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn ws_batch_get(
    State(s): State<Arc<Services>>,
    Extension(caller): Extension<Caller>,
    ApiPath((rg, ws)): ApiPath<(String, String)>,
    ApiJson(request): ApiJson<SecretNames>,
) -> ApiResult<Json<SecretValues>> {
    let vault = s.workspace_vault(&rg, &ws, GET).await?;
    Ok(Json(s.get_secrets(&vault, &request.names, &caller).await?))
}

#[utoipa::path(post, path = "/resourceGroups/{rg}/workspaces/{ws}/batchSetSecrets", tag = "workspace secrets",
    params(("rg" = String, Path), ("ws" = String, Path)), request_body = SetSecretsRequest,
    responses((status = 200, body = Vec<SecretItem>), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn ws_batch_set(
    State(s): State<Arc<Services>>,
    ApiPath((rg, ws)): ApiPath<(String, String)>,
    ApiJson(request): ApiJson<SetSecretsRequest>,
) -> ApiResult<Json<Vec<SecretItem>>> {
    let vault = s.workspace_vault(&rg, &ws, SET).await?;
    Ok(Json(s.set_secrets(&vault, &request.secrets).await?))
}

#[utoipa::path(post, path = "/resourceGroups/{rg}/workspaces/{ws}/batchDeleteSecrets", tag = "workspace secrets",
    params(("rg" = String, Path), ("ws" = String, Path)), request_body = SecretNames,
    responses((status = 200, body = Vec<DeletedSecret>), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn ws_batch_delete(
    State(s): State<Arc<Services>>,
    ApiPath((rg, ws)): ApiPath<(String, String)>,
    ApiJson(request): ApiJson<SecretNames>,
) -> ApiResult<Json<Vec<DeletedSecret>>> {
    let vault = s.workspace_vault(&rg, &ws, DELETE).await?;
    let mut deleted = Vec::new();
    for name in &request.names {
        deleted.push(s.delete_secret(&vault, name).await?);
    }
    Ok(Json(deleted))
}
