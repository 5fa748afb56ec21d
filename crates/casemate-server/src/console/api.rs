//! The console's routes: its page and files (public), and its cookie session.

use super::assets::{self, Asset};
use crate::api::ApiResult;
use crate::error::Error;
use crate::gate::ClientAddress;
use crate::gate::extract::{ApiJson, ApiPath, require_json};
use crate::gate::session_cookie::{self, CookieSession, REFRESH_COOKIE};
use crate::services::{Caller, Services};
use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use casemate_types::wire::{
    ConsoleSession, ConsoleSignIn, ConsoleSignInOptions, TokenRequest, TokenResponse,
};
use casemate_types::{ErrorBody, Sensitive};
use std::sync::Arc;

/// The console's page.
#[utoipa::path(get, path = "/", tag = "console",
    responses((status = 200, description = "The web console", content_type = "text/html")))]
pub async fn page() -> ApiResult<&'static Asset> {
    assets::find("index.html").ok_or_else(|| Error::NotFound("console page".into()))
}

/// One of the console's scripts or its stylesheet.
#[utoipa::path(get, path = "/console/{file}", tag = "console", params(("file" = String, Path)),
    responses((status = 200, description = "A console file"), (status = 404, body = ErrorBody)))]
pub async fn file(ApiPath(name): ApiPath<String>) -> ApiResult<&'static Asset> {
    assets::find(&name).ok_or_else(|| Error::NotFound(format!("console file {name}")))
}

/// How users may sign in here: the page offers what this says.
#[utoipa::path(get, path = "/console/sign-in-options", tag = "console",
    responses((status = 200, body = ConsoleSignInOptions)))]
pub async fn sign_in_options(State(services): State<Arc<Services>>) -> Json<ConsoleSignInOptions> {
    Json(ConsoleSignInOptions {
        password: services.settings.password_sign_in,
        sso: services.sso_issuer().is_some(),
    })
}

/// Signs in with a password (and TOTP code): the tokens go into HttpOnly cookies, and the page
/// gets who signed in and the CSRF token its state-changing requests must carry.
#[utoipa::path(post, path = "/console/session", tag = "console", request_body = ConsoleSignIn,
    responses((status = 200, body = ConsoleSession), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn sign_in(
    State(services): State<Arc<Services>>,
    Extension(address): Extension<ClientAddress>,
    ApiJson(request): ApiJson<ConsoleSignIn>,
) -> ApiResult<Response> {
    let grant = TokenRequest::password(&request.username, request.password, request.totp);
    let tokens = services.issue_token(&grant, address.0).await?;
    opened_session(&services, tokens).await
}

/// Trades the refresh cookie for new tokens. Needs no CSRF token: it must be declared JSON (which
/// no cross-site form can send), SameSite=Strict keeps the cookie off cross-site requests, and all
/// it does is renew the caller's own cookies.
#[utoipa::path(post, path = "/console/session/refresh", tag = "console",
    responses((status = 200, body = ConsoleSession), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody)))]
pub async fn refresh(
    State(services): State<Arc<Services>>,
    Extension(address): Extension<ClientAddress>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    require_json(&headers)?;
    let refresh_token = session_cookie::cookie(&headers, REFRESH_COOKIE)
        .ok_or_else(|| Error::unauthenticated("no console refresh cookie"))?;
    let tokens = services
        .issue_token(&TokenRequest::refresh(refresh_token), address.0)
        .await?;
    opened_session(&services, tokens).await
}

/// The signed-in session, for a page that has just loaded.
#[utoipa::path(get, path = "/console/session", tag = "console",
    responses((status = 200, body = ConsoleSession), (status = 401, body = ErrorBody)))]
pub async fn show(
    State(services): State<Arc<Services>>,
    Extension(caller): Extension<Caller>,
    session: Option<Extension<CookieSession>>,
) -> ApiResult<Response> {
    let Some(Extension(CookieSession(token))) = session else {
        return Err(Error::invalid(
            "Authorization",
            "this route describes the console's cookie session: send the session cookie, not an \
             Authorization header",
        ));
    };
    let body = session_of(&services, &caller, &token);
    Ok(([(CACHE_CONTROL, "no-store")], Json(body)).into_response())
}

/// Signs out: the session's tokens stop working and the browser forgets its cookies.
#[utoipa::path(delete, path = "/console/session", tag = "console",
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn sign_out(
    State(services): State<Arc<Services>>,
    Extension(caller): Extension<Caller>,
) -> ApiResult<Response> {
    services.sign_out(&caller).await?;
    with_cookies(StatusCode::NO_CONTENT, session_cookie::clear_cookies())
}

fn session_of(services: &Services, caller: &Caller, access_token: &Sensitive) -> ConsoleSession {
    let token = caller.token_info();
    ConsoleSession {
        name: caller.name.clone(),
        display_name: caller.display_name.clone(),
        object_id: caller.principal_id,
        scope: token.scope,
        csrf_token: session_cookie::csrf_token(access_token),
        expires_in: (token.expires_at - services.now()).whole_seconds().max(0),
    }
}

async fn opened_session(services: &Services, tokens: TokenResponse) -> ApiResult<Response> {
    let caller = services.authenticate_bearer(&tokens.access_token).await?;
    let body = session_of(services, &caller, &tokens.access_token);
    with_cookies(Json(body), session_cookies(services, &tokens))
}

/// The cookies that hold a new session's tokens.
pub(crate) fn session_cookies(services: &Services, tokens: &TokenResponse) -> Vec<String> {
    session_cookie::set_cookies(
        &tokens.access_token,
        tokens.expires_in,
        tokens.refresh_token.as_ref(),
        services.settings.session_ttl_seconds,
    )
}

/// `body` with `cookies` set, and kept out of any cache.
pub(crate) fn with_cookies(body: impl IntoResponse, cookies: Vec<String>) -> ApiResult<Response> {
    let mut response = ([(CACHE_CONTROL, "no-store")], body).into_response();
    for cookie in cookies {
        let mut value = HeaderValue::from_str(&cookie)
            .map_err(|_| Error::internal("a session token is not a valid cookie value"))?;
        // The value is a token: kept out of any Debug of the headers.
        value.set_sensitive(true);
        response.headers_mut().append(SET_COOKIE, value);
    }
    Ok(response)
}
