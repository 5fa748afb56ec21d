//! The HTTP face of container registries as resources.

use crate::api::ApiResult;
use crate::gate::extract::{ApiJson, ApiPath};
use crate::services::{Caller, Services};
use axum::Json;
use axum::extract::{Extension, State};
use axum::http::StatusCode;
use casemate_types::ErrorBody;
use casemate_types::wire::{
    CreateRegistryRequest, RegenerateCredentialRequest, Registry, RegistryCredentials,
    UpdateRegistryRequest,
};
use std::sync::Arc;

/// Creates a registry of its own, outside any workspace; its admin user is off unless asked for.
#[utoipa::path(put, path = "/resourceGroups/{rg}/registries/{name}", tag = "registries",
    params(("rg" = String, Path), ("name" = String, Path)),
    request_body = CreateRegistryRequest,
    responses((status = 201, body = Registry), (status = 400, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub async fn create(
    State(s): State<Arc<Services>>,
    Extension(caller): Extension<Caller>,
    ApiPath((rg, name)): ApiPath<(String, String)>,
    ApiJson(request): ApiJson<CreateRegistryRequest>,
) -> ApiResult<(StatusCode, Json<Registry>)> {
    let registry = s.create_registry(&caller, &rg, &name, &request).await?;
    Ok((StatusCode::CREATED, Json(registry)))
}

#[utoipa::path(get, path = "/resourceGroups/{rg}/registries", tag = "registries",
    params(("rg" = String, Path)),
    responses((status = 200, body = Vec<Registry>), (status = 404, body = ErrorBody)))]
pub async fn list(
    State(s): State<Arc<Services>>,
    ApiPath(rg): ApiPath<String>,
) -> ApiResult<Json<Vec<Registry>>> {
    Ok(Json(s.list_registries(&rg).await?))
}

#[utoipa::path(get, path = "/resourceGroups/{rg}/registries/{name}", tag = "registries",
    params(("rg" = String, Path), ("name" = String, Path)),
    responses((status = 200, body = Registry), (status = 404, body = ErrorBody)))]
pub async fn show(
    State(s): State<Arc<Services>>,
    ApiPath((rg, name)): ApiPath<(String, String)>,
) -> ApiResult<Json<Registry>> {
    Ok(Json(s.get_registry(&rg, &name).await?))
}

/// Turns the admin user on or off, or changes the description.
#[utoipa::path(patch, path = "/resourceGroups/{rg}/registries/{name}", tag = "registries",
    params(("rg" = String, Path), ("name" = String, Path)),
    request_body = UpdateRegistryRequest,
    responses((status = 200, body = Registry), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn update(
    State(s): State<Arc<Services>>,
    ApiPath((rg, name)): ApiPath<(String, String)>,
    ApiJson(request): ApiJson<UpdateRegistryRequest>,
) -> ApiResult<Json<Registry>> {
    Ok(Json(s.update_registry(&rg, &name, &request).await?))
}

#[utoipa::path(delete, path = "/resourceGroups/{rg}/registries/{name}", tag = "registries",
    params(("rg" = String, Path), ("name" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete(
    State(s): State<Arc<Services>>,
    ApiPath((rg, name)): ApiPath<(String, String)>,
) -> ApiResult<StatusCode> {
    s.delete_registry(&rg, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The admin user's name and passwords (409 while it is disabled).
#[utoipa::path(post, path = "/resourceGroups/{rg}/registries/{name}/listCredentials", tag = "registries",
    params(("rg" = String, Path), ("name" = String, Path)),
    responses((status = 200, body = RegistryCredentials), (status = 409, body = ErrorBody)))]
pub async fn list_credentials(
    State(s): State<Arc<Services>>,
    ApiPath((rg, name)): ApiPath<(String, String)>,
) -> ApiResult<Json<RegistryCredentials>> {
    Ok(Json(s.list_registry_credentials(&rg, &name).await?))
}

#[utoipa::path(post, path = "/resourceGroups/{rg}/registries/{name}/regenerateCredential", tag = "registries",
    params(("rg" = String, Path), ("name" = String, Path)),
    request_body = RegenerateCredentialRequest,
    responses((status = 200, body = RegistryCredentials), (status = 400, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub async fn regenerate_credential(
    State(s): State<Arc<Services>>,
    ApiPath((rg, name)): ApiPath<(String, String)>,
    ApiJson(request): ApiJson<RegenerateCredentialRequest>,
) -> ApiResult<Json<RegistryCredentials>> {
    Ok(Json(
        s.regenerate_registry_credential(&rg, &name, &request.name)
            .await?,
    ))
}
