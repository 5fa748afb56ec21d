//! The distribution spec's error shape for everything under `/v2/`, the gate's 401s and 403s
//! included: `{"errors": [{"code": "...", "message": "...", "detail": null}]}`, and a Basic
//! challenge on 401 (registry clients then send a personal access token as the password).

use axum::body::to_bytes;
use axum::extract::Request;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use casemate_types::ErrorBody;

const MAX_ERROR_BODY: usize = 64 * 1024;

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

pub async fn oci_error_shape(request: Request, next: Next) -> Response {
    let registry = request.uri().path().starts_with("/v2/") || request.uri().path() == "/v2";
    let response = next.run(request).await;
    if !registry || !(response.status().is_client_error() || response.status().is_server_error()) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let bytes = to_bytes(body, MAX_ERROR_BODY).await.unwrap_or_default();
    let (code, message) = match serde_json::from_slice::<ErrorBody>(&bytes) {
        Ok(body) => (body.error.code, body.error.message),
        Err(_) => (
            String::new(),
            parts
                .status
                .canonical_reason()
                .unwrap_or("request failed")
                .to_owned(),
        ),
    };
    if parts.status == StatusCode::UNAUTHORIZED {
        parts.headers.insert(
            WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"casemate registry\""),
        );
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
