//! The HTTP face of single sign-on: the browser is sent to the provider and comes back to the
//! callback, which opens the console's cookie session; the CLI begins device sign-ins;
//! administrators link subjects to users.

use super::service::{SIGN_IN_SECONDS, SsoCallback, SsoFinished};
use super::{handoff, provider, refusal_page};
use crate::api::ApiResult;
use crate::console::api::{session_cookies, with_cookies};
use crate::error::Error;
use crate::gate::ClientAddress;
use crate::gate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::gate::session_cookie::{self, SSO_BINDING_COOKIE};
use crate::services::Services;
use axum::extract::State;
use axum::http::header::LOCATION;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use casemate_types::wire::{DeviceAuthorizationResponse, LinkSsoIdentityRequest};
use casemate_types::{ErrorBody, Sensitive};
use serde::Deserialize;
use std::sync::Arc;

/// What a provider sends to the callback. Not strict about other parameters: providers add
/// their own (`session_state`, `scope`).
#[derive(Deserialize)]
pub struct CallbackQuery {
    code: Option<Sensitive>,
    state: Option<Sensitive>,
    /// RFC 9207: the issuer of the response, when the provider says.
    iss: Option<String>,
    error: Option<String>,
}

/// For `casemate login --sso`: where the CLI listens, and its verifier's challenge.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartQuery {
    cli_port: Option<u16>,
    cli_challenge: Option<String>,
}

/// Sends the browser to the OpenID provider to sign in.
#[utoipa::path(get, path = "/console/sso/start", tag = "console",
    params(("cli_port" = Option<u16>, Query), ("cli_challenge" = Option<String>, Query)),
    responses((status = 303, description = "To the provider's authorization endpoint"),
        (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "No provider is configured"),
        (status = 429, body = ErrorBody, description = "Too many sign-ins begun from this address"),
        (status = 502, body = ErrorBody)))]
pub async fn start(
    State(services): State<Arc<Services>>,
    Extension(address): Extension<ClientAddress>,
    ApiQuery(query): ApiQuery<StartQuery>,
) -> ApiResult<Response> {
    let cli = handoff::cli_request(query.cli_port, query.cli_challenge)?;
    let redirect = services.begin_sso_sign_in(cli, address.0).await?;
    with_cookies(
        (StatusCode::SEE_OTHER, [(LOCATION, redirect.location)]),
        vec![session_cookie::sso_binding_cookie(
            &redirect.binding,
            SIGN_IN_SECONDS,
        )],
    )
}

/// Begins a device sign-in (RFC 8628) at the provider, for `casemate login --sso --device`.
#[utoipa::path(post, path = "/console/sso/device", tag = "console",
    responses((status = 200, body = DeviceAuthorizationResponse),
        (status = 404, body = ErrorBody, description = "No provider is configured"),
        (status = 429, body = ErrorBody, description = "Too many sign-ins begun from this address"),
        (status = 501, body = ErrorBody, description = "The provider offers no device flow"),
        (status = 502, body = ErrorBody)))]
pub async fn device(
    State(services): State<Arc<Services>>,
    Extension(address): Extension<ClientAddress>,
) -> ApiResult<Json<DeviceAuthorizationResponse>> {
    Ok(Json(services.begin_sso_device_sign_in(address.0).await?))
}

/// Where the provider sends the browser back: opens the console session and goes to the page.
#[utoipa::path(get, path = "/console/sso/callback", tag = "console",
    params(("code" = Option<String>, Query), ("state" = Option<String>, Query),
        ("iss" = Option<String>, Query), ("error" = Option<String>, Query)),
    responses((status = 303, description = "Signed in: to the console"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 502, body = ErrorBody)))]
pub async fn callback(
    State(services): State<Arc<Services>>,
    headers: HeaderMap,
    query: Result<ApiQuery<CallbackQuery>, Error>,
) -> Response {
    let finished = match query {
        Ok(ApiQuery(query)) => finish(&services, &headers, query).await,
        Err(error) => Err(error),
    };
    match finished {
        Ok(response) => response,
        Err(error) if refusal_page::wants_a_page(&headers) => {
            refusal_page::as_page(error.into_response())
        }
        Err(error) => error.into_response(),
    }
}

async fn finish(
    services: &Arc<Services>,
    headers: &HeaderMap,
    query: CallbackQuery,
) -> ApiResult<Response> {
    if let Some(error) = query.error {
        // RFC 6749 §4.1.2.1; its free-text description is not shown.
        return Err(Error::SignInRefused(format!(
            "the provider answered {}",
            provider::error_code(&error)
        )));
    }
    let required = |value: Option<Sensitive>, field: &str| {
        value.filter(|v| !v.expose().is_empty()).ok_or_else(|| {
            Error::invalid(field, "is required (the provider's redirect carries it)")
        })
    };
    let callback = SsoCallback {
        code: required(query.code, "code")?,
        state: required(query.state, "state")?,
        issuer: query.iss,
    };
    let binding = session_cookie::cookie(headers, SSO_BINDING_COOKIE);
    match services
        .finish_sso_sign_in(&callback, binding.as_ref())
        .await?
    {
        SsoFinished::Browser(tokens) => {
            let mut cookies = session_cookies(services, &tokens);
            cookies.push(session_cookie::clear_sso_binding_cookie());
            with_cookies((StatusCode::SEE_OTHER, [(LOCATION, "/")]), cookies)
        }
        SsoFinished::Cli { port, code } => {
            // To the CLI on this machine's loopback (RFC 8252 §7.3); the code is a credential.
            let mut location =
                HeaderValue::from_str(&format!("http://127.0.0.1:{port}/?code={}", code.expose()))
                    .map_err(Error::internal)?;
            location.set_sensitive(true);
            with_cookies(
                (StatusCode::SEE_OTHER, [(LOCATION, location)]),
                vec![session_cookie::clear_sso_binding_cookie()],
            )
        }
    }
}

/// Links a subject of the configured provider to a user.
#[utoipa::path(put, path = "/users/{user}/sso-identity", tag = "principals",
    params(("user" = String, Path)), request_body = LinkSsoIdentityRequest,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub async fn link(
    State(services): State<Arc<Services>>,
    ApiPath(user): ApiPath<String>,
    ApiJson(request): ApiJson<LinkSsoIdentityRequest>,
) -> ApiResult<StatusCode> {
    services.link_sso_identity(&user, &request.subject).await?;
    Ok(StatusCode::NO_CONTENT)
}
