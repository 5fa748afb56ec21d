//! The gate's sign-in path: the password, client-secret, refresh, device and hand-off grants,
//! the console's session and the single sign-on callback need no credential (they are how one
//! is got), but each answer is in the activity log before it is sent: by the principal signed
//! in, or, refused, as unauthenticated with the reason the client was given. Refusals spend the
//! address's budget of unauthenticated records, as any request without a valid credential does;
//! a 429 (the sign-in throttle's, or that budget's) is not recorded, so nobody can make the
//! server write without bound. A device sign-in's "not finished yet" is no answer either: the
//! CLI polls until the user is done, and the poll that ends it is recorded.

use super::middleware::{Audit, client_address_of, request_id_of, user_agent_of};
use crate::error::AnsweredError;
use crate::services::Services;
use crate::services::activity::Outcome;
use crate::services::sign_ins::noting_sign_in;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use casemate_authz::Scope;

pub(super) async fn admit(
    services: &Services,
    operation: &'static str,
    request: Request,
    next: Next,
) -> Response {
    let client_address = client_address_of(&request);
    let correlation_id = request_id_of(&request);
    let user_agent = user_agent_of(&request);
    let (response, signed_in) = noting_sign_in(next.run(request)).await;
    let status = response.status();
    let answered = response.extensions().get::<AnsweredError>();
    if status == StatusCode::TOO_MANY_REQUESTS || answered.is_some_and(|a| a.pending) {
        return response;
    }
    let detail = answered.map(|a| a.message.clone()).unwrap_or_default();
    let refused = status.is_client_error() || status.is_server_error();
    if refused && let Err(throttled) = services.spend_unauthenticated(client_address) {
        return throttled.into_response();
    }
    let outcome = match status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Outcome::Denied,
        _ if refused => Outcome::Failed,
        _ => Outcome::Succeeded,
    };
    let audit = Audit {
        services,
        caller: None,
        signed_in,
        operation,
        resource_id: Scope::root().to_string(),
        correlation_id,
        client_address: client_address.to_string(),
        user_agent,
    };
    match audit.record(outcome, status.as_u16(), detail).await {
        Ok(()) => response,
        Err(unavailable) => unavailable.into_response(),
    }
}
