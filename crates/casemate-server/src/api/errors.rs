//! The one table from service errors to HTTP statuses and error codes.

use crate::error::{AnsweredError, Error};
use axum::Json;
use axum::http::header::{RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use casemate_types::ErrorBody;

impl Error {
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Error::InvalidInput { .. } => (StatusCode::BAD_REQUEST, "InvalidInput"),
            Error::Unauthenticated { .. } => (StatusCode::UNAUTHORIZED, "Unauthenticated"),
            Error::InvalidCredentials { .. } => (StatusCode::UNAUTHORIZED, "InvalidCredentials"),
            Error::MfaRequired => (StatusCode::UNAUTHORIZED, "MfaRequired"),
            // RFC 8628 §3.5's authorization_pending and slow_down, in casemate's code style.
            Error::DeviceSignInPending { slow_down: false } => {
                (StatusCode::BAD_REQUEST, "AuthorizationPending")
            }
            Error::DeviceSignInPending { slow_down: true } => (StatusCode::BAD_REQUEST, "SlowDown"),
            Error::SignInRefused(_) => (StatusCode::UNAUTHORIZED, "SignInRefused"),
            Error::Forbidden { .. } | Error::ForbiddenOther(_) => {
                (StatusCode::FORBIDDEN, "Forbidden")
            }
            Error::SecretDisabled(_) => (StatusCode::FORBIDDEN, "SecretDisabled"),
            Error::KeyDisabled(_) => (StatusCode::LOCKED, "KeyDisabled"),
            Error::NotFound(_) => (StatusCode::NOT_FOUND, "NotFound"),
            Error::Conflict(_) => (StatusCode::CONFLICT, "Conflict"),
            Error::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed"),
            Error::PayloadTooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "PayloadTooLarge"),
            Error::Throttled { .. } => (StatusCode::TOO_MANY_REQUESTS, "Throttled"),
            Error::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailable"),
            Error::NotSupported(_) => (StatusCode::NOT_IMPLEMENTED, "NotImplemented"),
            Error::BadGateway(_) => (StatusCode::BAD_GATEWAY, "BadGateway"),
            Error::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "InternalError"),
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let message = match &self {
            Error::Unauthenticated { reason } => {
                tracing::info!(reason, "unauthenticated");
                self.to_string()
            }
            Error::Internal(detail) => {
                tracing::error!(detail, "internal error");
                "internal error; the server log has the details under this response's x-request-id"
                    .to_owned()
            }
            Error::Unavailable(detail) => {
                tracing::warn!(detail, "unavailable");
                self.to_string()
            }
            _ => self.to_string(),
        };
        let mut response = (status, Json(ErrorBody::new(code, message.clone()))).into_response();
        response.extensions_mut().insert(AnsweredError {
            message,
            pending: matches!(self, Error::DeviceSignInPending { .. }),
        });
        let headers = response.headers_mut();
        match &self {
            Error::Unauthenticated { .. }
            | Error::InvalidCredentials { .. }
            | Error::MfaRequired => {
                headers.insert(
                    WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"casemate\""),
                );
            }
            Error::Throttled {
                retry_after_seconds,
                ..
            } => {
                if let Ok(value) = HeaderValue::from_str(&retry_after_seconds.to_string()) {
                    headers.insert(RETRY_AFTER, value);
                }
            }
            _ => {}
        }
        response
    }
}

/// The largest error body read back for reshaping; casemate's are a few hundred bytes.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// Takes an error response apart for a layer that answers in a client's own error shape
/// (MLflow's, the registry spec's): its parts, and casemate's error code and message (or the
/// status's reason when the body is not casemate's).
pub async fn error_parts(response: Response) -> (axum::http::response::Parts, String, String) {
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_ERROR_BODY)
        .await
        .unwrap_or_default();
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
    (parts, code, message)
}
