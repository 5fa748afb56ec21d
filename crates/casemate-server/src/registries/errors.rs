//! The distribution spec's error shape for everything under `/v2/`, the gate's 401s and 403s
//! included: `{"errors": [{"code": "...", "message": "...", "detail": null}]}`, and on 401 the
//! Docker token flow's Bearer challenge naming the realm, the service and the scope.

use crate::services::Services;
use axum::extract::{Request, State};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// casemate's error to the spec's code: the field or the thing a message is about decides.
fn oci_code(code: &str, message: &str) -> &'static str {
    let about = |prefix: &str| message.starts_with(prefix);
    match code {
        "Unauthenticated" | "InvalidCredentials" | "MfaRequired" => "UNAUTHORIZED",
        "Forbidden" => "DENIED",
        "PayloadTooLarge" => "SIZE_INVALID",
        "MethodNotAllowed" => "UNSUPPORTED",
        "NotFound" if about("blob") => "BLOB_UNKNOWN",
        "NotFound" if about("manifest") => "MANIFEST_UNKNOWN",
        "NotFound" if about("upload") => "BLOB_UPLOAD_UNKNOWN",
        "NotFound" => "NAME_UNKNOWN",
        "InvalidInput" if about("digest:") => "DIGEST_INVALID",
        "InvalidInput" if about("name:") => "NAME_INVALID",
        "InvalidInput" if about("reference:") => "TAG_INVALID",
        "InvalidInput" if about("blob:") => "MANIFEST_BLOB_UNKNOWN",
        "InvalidInput" if about("manifest:") => "MANIFEST_INVALID",
        _ => "UNSUPPORTED",
    }
}

/// The challenge of a 401: where to get a token, and what for.
fn challenge(services: &Services, request: &Request) -> Option<HeaderValue> {
    let host = request
        .headers()
        .get(axum::http::header::HOST)
        .and_then(|v| v.to_str().ok())
        // HTTP/2 carries the host in the URI's authority, not in a Host header.
        .or_else(|| request.uri().authority().map(|a| a.as_str()))
        .filter(|h| {
            h.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        })?;
    let plain = services
        .runs
        .endpoint()
        .is_some_and(|endpoint| endpoint.url.starts_with("http://"));
    let scheme = if plain { "http" } else { "https" };
    let rest = request.uri().path().strip_prefix("/v2/").unwrap_or("");
    let scope = super::route::parse(rest).ok().map(|route| {
        let actions = if matches!(
            *request.method(),
            axum::http::Method::GET | axum::http::Method::HEAD
        ) {
            "pull"
        } else {
            "pull,push"
        };
        format!(",scope=\"repository:{}:{actions}\"", route.name())
    });
    HeaderValue::from_str(&format!(
        "Bearer realm=\"{scheme}://{host}/oauth2/registry-token\",service=\"casemate\"{}",
        scope.unwrap_or_default()
    ))
    .ok()
}

pub async fn oci_error_shape(
    State(services): State<Arc<Services>>,
    request: Request,
    next: Next,
) -> Response {
    let registry = request.uri().path().starts_with("/v2/") || request.uri().path() == "/v2";
    let challenge = registry.then(|| challenge(&services, &request)).flatten();
    let response = next.run(request).await;
    if !registry || !(response.status().is_client_error() || response.status().is_server_error()) {
        return response;
    }
    let (mut parts, code, message) = crate::api::errors::error_parts(response).await;
    if parts.status == StatusCode::UNAUTHORIZED
        && let Some(challenge) = challenge
    {
        parts.headers.insert(WWW_AUTHENTICATE, challenge);
    }
    parts.headers.remove(CONTENT_LENGTH);
    parts
        .headers
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    let body = serde_json::json!({
        "errors": [{"code": oci_code(&code, &message), "message": message, "detail": null}]
    });
    (parts, body.to_string()).into_response()
}
