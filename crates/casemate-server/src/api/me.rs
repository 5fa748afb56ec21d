//! Self-service: the caller's own second factor and personal access tokens.

use super::ApiResult;
use crate::gate::extract::{ApiJson, ApiPath};
use crate::services::{Caller, Services};
use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use casemate_types::ErrorBody;
use casemate_types::wire::{
    CreatePatRequest, PatCreated, PersonalAccessToken, TotpConfirmRequest, TotpEnrollment,
};
use std::sync::Arc;
use uuid::Uuid;

/// Starts TOTP enrolment: returns the `otpauth://` URI to load into an authenticator app.
#[utoipa::path(post, path = "/me/mfa/totp", tag = "me",
    responses((status = 200, body = TotpEnrollment), (status = 409, body = ErrorBody)))]
pub async fn begin_totp(
    State(services): State<Arc<Services>>,
    Extension(caller): Extension<Caller>,
) -> ApiResult<Json<TotpEnrollment>> {
    Ok(Json(services.begin_totp_enrollment(&caller).await?))
}

/// Completes enrolment with a current code. From then on, sign-in needs a code.
#[utoipa::path(post, path = "/me/mfa/totp/confirm", tag = "me", request_body = TotpConfirmRequest,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn confirm_totp(
    State(services): State<Arc<Services>>,
    Extension(caller): Extension<Caller>,
    ApiJson(request): ApiJson<TotpConfirmRequest>,
) -> ApiResult<StatusCode> {
    services
        .confirm_totp_enrollment(&caller, &request.code)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Creates a personal access token, shown once.
#[utoipa::path(post, path = "/me/tokens", tag = "me", request_body = CreatePatRequest,
    responses((status = 201, body = PatCreated), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn create_pat(
    State(services): State<Arc<Services>>,
    Extension(caller): Extension<Caller>,
    ApiJson(request): ApiJson<CreatePatRequest>,
) -> ApiResult<(StatusCode, Json<PatCreated>)> {
    Ok((
        StatusCode::CREATED,
        Json(services.create_pat(&caller, &request).await?),
    ))
}

#[utoipa::path(get, path = "/me/tokens", tag = "me", responses((status = 200, body = Vec<PersonalAccessToken>)))]
pub async fn list_pats(
    State(services): State<Arc<Services>>,
    Extension(caller): Extension<Caller>,
) -> ApiResult<Json<Vec<PersonalAccessToken>>> {
    Ok(Json(services.list_pats(&caller).await?))
}

#[utoipa::path(delete, path = "/me/tokens/{token_id}", tag = "me", params(("token_id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn revoke_pat(
    State(services): State<Arc<Services>>,
    Extension(caller): Extension<Caller>,
    ApiPath(token_id): ApiPath<Uuid>,
) -> ApiResult<StatusCode> {
    services.revoke_pat(&caller, token_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
