//! The HTTP face of managed identities.

use crate::api::ApiResult;
use crate::gate::extract::{ApiJson, ApiPath};
use crate::services::{Caller, Services};
use axum::Json;
use axum::extract::{Extension, State};
use axum::http::StatusCode;
use casemate_types::ErrorBody;
use casemate_types::wire::{CreateIdentityRequest, Identity, IdentityTokenRequest, TokenResponse};
use std::sync::Arc;
use uuid::Uuid;

/// Creates a user-assigned managed identity: a principal with a client id and no credentials.
#[utoipa::path(put, path = "/resourceGroups/{rg}/identities/{name}", tag = "identities",
    params(("rg" = String, Path), ("name" = String, Path)),
    request_body = CreateIdentityRequest,
    responses((status = 201, body = Identity), (status = 400, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub async fn create(
    State(s): State<Arc<Services>>,
    Extension(caller): Extension<Caller>,
    ApiPath((rg, name)): ApiPath<(String, String)>,
    ApiJson(request): ApiJson<CreateIdentityRequest>,
) -> ApiResult<(StatusCode, Json<Identity>)> {
    let identity = s.create_identity(&caller, &rg, &name, &request).await?;
    Ok((StatusCode::CREATED, Json(identity)))
}

#[utoipa::path(get, path = "/resourceGroups/{rg}/identities", tag = "identities",
    params(("rg" = String, Path)),
    responses((status = 200, body = Vec<Identity>), (status = 404, body = ErrorBody)))]
pub async fn list(
    State(s): State<Arc<Services>>,
    ApiPath(rg): ApiPath<String>,
) -> ApiResult<Json<Vec<Identity>>> {
    Ok(Json(s.list_identities(&rg).await?))
}

#[utoipa::path(get, path = "/resourceGroups/{rg}/identities/{name}", tag = "identities",
    params(("rg" = String, Path), ("name" = String, Path)),
    responses((status = 200, body = Identity), (status = 404, body = ErrorBody)))]
pub async fn show(
    State(s): State<Arc<Services>>,
    ApiPath((rg, name)): ApiPath<(String, String)>,
) -> ApiResult<Json<Identity>> {
    Ok(Json(s.get_identity(&rg, &name).await?))
}

#[utoipa::path(delete, path = "/resourceGroups/{rg}/identities/{name}", tag = "identities",
    params(("rg" = String, Path), ("name" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(s): State<Arc<Services>>,
    ApiPath((rg, name)): ApiPath<(String, String)>,
) -> ApiResult<StatusCode> {
    s.delete_identity(&rg, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A token as one of the identities of the run's compute. Only the run's own token may ask
/// (it is given this endpoint as `CASEMATE_IDENTITY_ENDPOINT`).
#[utoipa::path(post, path = "/resourceGroups/{rg}/workspaces/{ws}/runs/{run}/identityToken", tag = "identities",
    params(("rg" = String, Path), ("ws" = String, Path), ("run" = Uuid, Path)),
    request_body = IdentityTokenRequest,
    responses((status = 200, body = TokenResponse), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody)))]
pub async fn run_token(
    State(s): State<Arc<Services>>,
    Extension(caller): Extension<Caller>,
    ApiPath((rg, ws, run)): ApiPath<(String, String, Uuid)>,
    ApiJson(request): ApiJson<IdentityTokenRequest>,
) -> ApiResult<Json<TokenResponse>> {
    Ok(Json(
        s.identity_token(&caller, &rg, &ws, run, &request).await?,
    ))
}
