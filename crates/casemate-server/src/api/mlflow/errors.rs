//! MLflow's error shape for everything under `/mlflow/`, the gate's 401s and 403s included:
//! `{"error_code": "...", "message": "..."}`. One table from casemate's error codes to MLflow's
//! codes and statuses. A deterministic refusal is never a 5xx, since the client retries those.

use axum::Json;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use casemate_types::wire::mlflow::MlflowError;

/// casemate's error code to MLflow's code and status.
fn mlflow_code(code: &str, status: StatusCode) -> (&'static str, StatusCode) {
    match code {
        "InvalidInput" => ("INVALID_PARAMETER_VALUE", StatusCode::BAD_REQUEST),
        "Unauthenticated" | "InvalidCredentials" | "MfaRequired" => {
            ("UNAUTHENTICATED", StatusCode::UNAUTHORIZED)
        }
        "Forbidden" | "SecretDisabled" => ("PERMISSION_DENIED", StatusCode::FORBIDDEN),
        "NotFound" => ("RESOURCE_DOES_NOT_EXIST", StatusCode::NOT_FOUND),
        // MLflow answers an existing name with 400.
        "Conflict" => ("RESOURCE_ALREADY_EXISTS", StatusCode::BAD_REQUEST),
        "KeyDisabled" => ("INVALID_STATE", StatusCode::LOCKED),
        "MethodNotAllowed" => ("ENDPOINT_NOT_FOUND", StatusCode::METHOD_NOT_ALLOWED),
        "PayloadTooLarge" => ("INVALID_PARAMETER_VALUE", StatusCode::PAYLOAD_TOO_LARGE),
        "Throttled" => ("REQUEST_LIMIT_EXCEEDED", StatusCode::TOO_MANY_REQUESTS),
        "ServiceUnavailable" => ("TEMPORARILY_UNAVAILABLE", StatusCode::SERVICE_UNAVAILABLE),
        // Not among the statuses MLflow's client retries.
        "NotImplemented" => ("NOT_IMPLEMENTED", StatusCode::NOT_IMPLEMENTED),
        _ if status.is_client_error() => ("BAD_REQUEST", status),
        _ => ("INTERNAL_ERROR", StatusCode::INTERNAL_SERVER_ERROR),
    }
}

/// Rewrites error responses under `/mlflow/` into MLflow's shape, keeping their headers
/// (`WWW-Authenticate`, `Retry-After`, `x-request-id`).
pub async fn mlflow_error_shape(request: Request, next: Next) -> Response {
    let mlflow = request.uri().path().starts_with("/mlflow/");
    let response = next.run(request).await;
    if !mlflow || !(response.status().is_client_error() || response.status().is_server_error()) {
        return response;
    }
    let (mut parts, code, message) = crate::api::errors::error_parts(response).await;
    // The router's fallback answers an unknown path as the resource "route".
    let (error_code, status) = if code == "NotFound" && message == "route not found" {
        ("ENDPOINT_NOT_FOUND", StatusCode::NOT_FOUND)
    } else {
        mlflow_code(&code, parts.status)
    };
    parts.status = status;
    parts.headers.remove(CONTENT_LENGTH);
    parts.headers.remove(CONTENT_TYPE);
    let body = Json(MlflowError {
        error_code: error_code.to_owned(),
        message,
    });
    (parts, body).into_response()
}
