//! The gate's scoring path: a web service's scoring routes are admitted by the service's own
//! key or token, never by a general access token. Every scoring request, admitted or not, is
//! in the service's scoring log before it is answered (fail closed); a refused one is in the
//! activity log too, as every refusal is.

use super::middleware::{
    Audit, Presented, client_address_of, presented_credential, refuse_unauthenticated,
    request_id_of, user_agent_of,
};
use crate::error::Error;
use crate::services::Services;
use crate::webservices::api::ModelTime;
use crate::webservices::credentials::SCORE_ACTION;
use axum::extract::{RawPathParams, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use casemate_store::ScoringRecord;
use casemate_types::Sensitive;
use casemate_types::clock::unix_millis;
use std::time::Instant;

fn micros(duration: std::time::Duration) -> i64 {
    i64::try_from(duration.as_micros()).unwrap_or(i64::MAX)
}

pub(super) async fn admit(
    services: &Services,
    params: RawPathParams,
    mut request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let param = |name: &str| {
        params
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.to_owned())
            .unwrap_or_default()
    };
    let (rg, ws, name) = (param("rg"), param("ws"), param("name"));
    let client_address = client_address_of(&request);
    let request_id = request_id_of(&request);
    let user_agent = user_agent_of(&request);
    let method = request.method().to_string();
    let url = request.uri().path().to_owned();
    if let Err(error) = services.refresh_gate_cache().await {
        return error.into_response();
    }
    // Basic credentials never carry a service's key or token.
    let presented: Option<Sensitive> = match presented_credential(request.headers()) {
        Ok(Some(Presented::Bearer(token))) => Some(token),
        Ok(_) | Err(_) => None,
    };
    let admitted = services
        .authenticate_scoring(&rg, &ws, &name, presented.as_ref())
        .await;
    let (response, service_id, compute_type, credential) = match admitted {
        Ok(target) => {
            let (id, compute) = (
                target.service.id.clone(),
                target.service.compute_type.clone(),
            );
            let credential = target.credential.clone();
            request.extensions_mut().insert(target);
            (next.run(request).await, id, compute, credential)
        }
        Err(Error::NotFound(what)) => return Error::NotFound(what).into_response(),
        Err(error) => {
            let audit = Audit {
                services,
                caller: None,
                signed_in: None,
                operation: SCORE_ACTION,
                resource_id: format!("/resourceGroups/{rg}/workspaces/{ws}/services/{name}"),
                correlation_id: request_id.clone(),
                client_address: client_address.to_string(),
                user_agent: user_agent.clone(),
            };
            let refused = match error {
                Error::Unauthenticated { .. } => {
                    refuse_unauthenticated(&audit, client_address, error).await
                }
                other => audit.deny(other, "").await,
            };
            let service = services
                .store
                .web_service_for_gate(&crate::services::resources::workspace_id(&rg, &ws), &name)
                .await
                .ok()
                .flatten();
            let (id, compute) = service.map(|s| (s.id, s.compute_type)).unwrap_or_default();
            (refused, id, compute, "none".to_owned())
        }
    };
    let model_us = response
        .extensions()
        .get::<ModelTime>()
        .map_or(0, |t| i64::try_from(t.micros).unwrap_or(i64::MAX));
    let record = ScoringRecord {
        service_id,
        workspace_id: crate::services::resources::workspace_id(&rg, &ws),
        time_ms: unix_millis(services.now()),
        method,
        url,
        user_agent,
        compute_type,
        status: i64::from(response.status().as_u16()),
        request_id,
        model_us,
        overhead_us: micros(started.elapsed()).saturating_sub(model_us).max(0),
        client_address: client_address.to_string(),
        credential,
    };
    match services.record_scoring(record).await {
        Ok(()) => response,
        Err(unavailable) => unavailable.into_response(),
    }
}
