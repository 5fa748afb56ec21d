//! Sign-in, tokens, keys, health.

use super::ApiResult;
use crate::error::Error;
use crate::gate::ClientAddress;
use crate::gate::extract::FormOrJson;
use crate::services::{Caller, Services};
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::{CACHE_CONTROL, PRAGMA};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use casemate_types::ErrorBody;
use casemate_types::wire::{Health, PublicKeySet, TokenRequest, TokenResponse, UserInfo};
use std::sync::Arc;

/// Issues tokens: grant types `password`, `client_credentials` and `refresh_token`.
#[utoipa::path(post, path = "/oauth2/token", tag = "auth",
    request_body(content = TokenRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, body = TokenResponse),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn token(
    State(services): State<Arc<Services>>,
    Extension(address): Extension<ClientAddress>,
    FormOrJson(request): FormOrJson<TokenRequest>,
) -> ApiResult<Response> {
    let response = services.issue_token(&request, address.0).await?;
    Ok((
        [(CACHE_CONTROL, "no-store"), (PRAGMA, "no-cache")],
        Json(response),
    )
        .into_response())
}

/// The caller's identity and its token's claims.
#[utoipa::path(get, path = "/oauth2/userinfo", tag = "auth",
    responses((status = 200, body = UserInfo), (status = 401, body = ErrorBody)))]
pub async fn userinfo(Extension(caller): Extension<Caller>) -> ApiResult<Json<UserInfo>> {
    Ok(Json(UserInfo {
        object_id: caller.principal_id,
        name: caller.name.clone(),
        display_name: caller.display_name.clone(),
        kind: caller.kind,
        token: caller.token_info(),
    }))
}

/// Ends the caller's session: its access and refresh tokens stop working on the next request.
#[utoipa::path(post, path = "/oauth2/logout", tag = "auth",
    responses((status = 204), (status = 401, body = ErrorBody)))]
pub async fn logout(
    State(services): State<Arc<Services>>,
    Extension(caller): Extension<Caller>,
) -> ApiResult<StatusCode> {
    services.sign_out(&caller).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The public keys that verify casemate access tokens (PASETO v4.public, PASERK-encoded).
#[utoipa::path(get, path = "/.well-known/casemate-keys", tag = "auth",
    responses((status = 200, body = PublicKeySet)))]
pub async fn public_keys(State(services): State<Arc<Services>>) -> ApiResult<Json<PublicKeySet>> {
    Ok(Json(services.signing.public_key_set(
        &services.settings.issuer,
        services.now(),
    )?))
}

/// Makes a new signing key active. Tokens signed by the old key stay valid until they expire.
#[utoipa::path(post, path = "/signing-keys/rotate", tag = "auth",
    responses((status = 200, body = PublicKeySet), (status = 403, body = ErrorBody)))]
pub async fn rotate_signing_key(
    State(services): State<Arc<Services>>,
) -> ApiResult<Json<PublicKeySet>> {
    let kid = services
        .signing
        .rotate(
            &services.store,
            services.root_key.as_ref(),
            services.now(),
            &services.settings,
        )
        .await?;
    tracing::info!(kid, "token signing key rotated");
    Ok(Json(services.signing.public_key_set(
        &services.settings.issuer,
        services.now(),
    )?))
}

/// Readiness: the metadata and blob stores answer.
#[utoipa::path(get, path = "/health", tag = "meta",
    responses((status = 200, body = Health), (status = 503, body = ErrorBody)))]
pub async fn health(State(services): State<Arc<Services>>) -> ApiResult<Json<Health>> {
    services.check_ready().await?;
    Ok(Json(Health {
        status: "ok".into(),
        version: env!("CARGO_PKG_VERSION").into(),
    }))
}

/// This API's OpenAPI description.
#[utoipa::path(get, path = "/openapi.json", tag = "meta", responses((status = 200, description = "OpenAPI 3.1 document")))]
pub async fn openapi(
    Extension(document): Extension<Arc<utoipa::openapi::OpenApi>>,
) -> ApiResult<Json<utoipa::openapi::OpenApi>> {
    Ok(Json(document.as_ref().clone()))
}

pub async fn not_found() -> Error {
    Error::NotFound("route".into())
}

pub async fn method_not_allowed() -> Error {
    Error::MethodNotAllowed
}
