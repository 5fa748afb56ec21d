//! The HTTP face of web services: deploy and manage them, their keys and tokens, their logs,
//! and scoring (which the gate admits by the service's own key or token).

use super::credentials::ScoringTarget;
use crate::api::ApiResult;
use crate::error::Error;
use crate::gate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::services::{Caller, Services};
use axum::Json;
use axum::body::Body;
use axum::extract::{Extension, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use casemate_types::ErrorBody;
use casemate_types::span::parse_span;
use casemate_types::wire::{
    CreateServiceRequest, RegenerateKeyRequest, ScoringLog, ServiceConsole, ServiceKeys,
    ServiceToken, UpdateServiceRequest, WebService,
};
use serde::Deserialize;
use std::sync::Arc;

type ServicePath = (String, String, String);

/// What the model took of a scoring request, for the gate's scoring record.
#[derive(Debug, Clone, Copy)]
pub struct ModelTime {
    pub micros: u64,
}

/// Deploys a registered model version as a web service and waits until it answers. A service
/// whose process does not come up is created Failed, with the reason in `state_reason`.
#[utoipa::path(put, path = "/resourceGroups/{rg}/workspaces/{ws}/services/{name}", tag = "services",
    params(("rg" = String, Path), ("ws" = String, Path), ("name" = String, Path)),
    request_body = CreateServiceRequest,
    responses((status = 201, body = WebService), (status = 400, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub async fn create(
    State(s): State<Arc<Services>>,
    Extension(caller): Extension<Caller>,
    ApiPath((rg, ws, name)): ApiPath<ServicePath>,
    ApiJson(request): ApiJson<CreateServiceRequest>,
) -> ApiResult<(StatusCode, Json<WebService>)> {
    let service = s.create_service(&caller, &rg, &ws, &name, &request).await?;
    Ok((StatusCode::CREATED, Json(service)))
}

#[utoipa::path(get, path = "/resourceGroups/{rg}/workspaces/{ws}/services", tag = "services",
    params(("rg" = String, Path), ("ws" = String, Path)),
    responses((status = 200, body = Vec<WebService>), (status = 404, body = ErrorBody)))]
pub async fn list(
    State(s): State<Arc<Services>>,
    ApiPath((rg, ws)): ApiPath<(String, String)>,
) -> ApiResult<Json<Vec<WebService>>> {
    Ok(Json(s.list_services(&rg, &ws).await?))
}

#[utoipa::path(get, path = "/resourceGroups/{rg}/workspaces/{ws}/services/{name}", tag = "services",
    params(("rg" = String, Path), ("ws" = String, Path), ("name" = String, Path)),
    responses((status = 200, body = WebService), (status = 404, body = ErrorBody)))]
pub async fn show(
    State(s): State<Arc<Services>>,
    ApiPath((rg, ws, name)): ApiPath<ServicePath>,
) -> ApiResult<Json<WebService>> {
    Ok(Json(s.get_service(&rg, &ws, &name).await?))
}

/// A rolling update: the new process answers before the old one stops.
#[utoipa::path(patch, path = "/resourceGroups/{rg}/workspaces/{ws}/services/{name}", tag = "services",
    params(("rg" = String, Path), ("ws" = String, Path), ("name" = String, Path)),
    request_body = UpdateServiceRequest,
    responses((status = 200, body = WebService), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn update(
    State(s): State<Arc<Services>>,
    ApiPath((rg, ws, name)): ApiPath<ServicePath>,
    ApiJson(request): ApiJson<UpdateServiceRequest>,
) -> ApiResult<Json<WebService>> {
    Ok(Json(s.update_service(&rg, &ws, &name, &request).await?))
}

#[utoipa::path(delete, path = "/resourceGroups/{rg}/workspaces/{ws}/services/{name}", tag = "services",
    params(("rg" = String, Path), ("ws" = String, Path), ("name" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(s): State<Arc<Services>>,
    ApiPath((rg, ws, name)): ApiPath<ServicePath>,
) -> ApiResult<StatusCode> {
    s.delete_service(&rg, &ws, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The service's primary and secondary keys (key auth only).
#[utoipa::path(post, path = "/resourceGroups/{rg}/workspaces/{ws}/services/{name}/listkeys", tag = "services",
    params(("rg" = String, Path), ("ws" = String, Path), ("name" = String, Path)),
    responses((status = 200, body = ServiceKeys), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub async fn list_keys(
    State(s): State<Arc<Services>>,
    ApiPath((rg, ws, name)): ApiPath<ServicePath>,
) -> ApiResult<Json<ServiceKeys>> {
    Ok(Json(s.list_service_keys(&rg, &ws, &name).await?))
}

/// Replaces the primary or secondary key; the old one is refused from the next request on.
#[utoipa::path(post, path = "/resourceGroups/{rg}/workspaces/{ws}/services/{name}/regenerateKeys", tag = "services",
    params(("rg" = String, Path), ("ws" = String, Path), ("name" = String, Path)),
    request_body = RegenerateKeyRequest,
    responses((status = 200, body = ServiceKeys), (status = 400, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub async fn regenerate_key(
    State(s): State<Arc<Services>>,
    ApiPath((rg, ws, name)): ApiPath<ServicePath>,
    ApiJson(request): ApiJson<RegenerateKeyRequest>,
) -> ApiResult<Json<ServiceKeys>> {
    Ok(Json(
        s.regenerate_service_key(&rg, &ws, &name, &request.key_type)
            .await?,
    ))
}

/// A short-lived scoring token for a token-auth service.
#[utoipa::path(post, path = "/resourceGroups/{rg}/workspaces/{ws}/services/{name}/token", tag = "services",
    params(("rg" = String, Path), ("ws" = String, Path), ("name" = String, Path)),
    responses((status = 200, body = ServiceToken), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub async fn token(
    State(s): State<Arc<Services>>,
    Extension(caller): Extension<Caller>,
    ApiPath((rg, ws, name)): ApiPath<ServicePath>,
) -> ApiResult<Json<ServiceToken>> {
    Ok(Json(s.service_token(&caller, &rg, &ws, &name).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct LogsQuery {
    /// How far back, e.g. `30m`, `24h`, `7d` (default 24h).
    pub since: Option<String>,
}

/// The scoring log: one entry per scoring request, oldest first.
#[utoipa::path(get, path = "/resourceGroups/{rg}/workspaces/{ws}/services/{name}/logs", tag = "services",
    params(("rg" = String, Path), ("ws" = String, Path), ("name" = String, Path), LogsQuery),
    responses((status = 200, body = ScoringLog), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn logs(
    State(s): State<Arc<Services>>,
    ApiPath((rg, ws, name)): ApiPath<ServicePath>,
    ApiQuery(query): ApiQuery<LogsQuery>,
) -> ApiResult<Json<ScoringLog>> {
    let seconds = parse_span("since", query.since.as_deref().unwrap_or("24h"))?;
    let since_ms = casemate_types::clock::unix_millis(s.now())
        .saturating_sub(i64::try_from(seconds.saturating_mul(1000)).unwrap_or(i64::MAX));
    Ok(Json(s.scoring_log(&rg, &ws, &name, since_ms).await?))
}

/// The latest output of the service's scoring process: its prints and tracebacks.
#[utoipa::path(get, path = "/resourceGroups/{rg}/workspaces/{ws}/services/{name}/console", tag = "services",
    params(("rg" = String, Path), ("ws" = String, Path), ("name" = String, Path)),
    responses((status = 200, body = ServiceConsole), (status = 404, body = ErrorBody)))]
pub async fn console(
    State(s): State<Arc<Services>>,
    ApiPath((rg, ws, name)): ApiPath<ServicePath>,
) -> ApiResult<Json<ServiceConsole>> {
    Ok(Json(s.service_console(&rg, &ws, &name).await?))
}

/// Scores a request with the service's model. Authorized by the service's key or token
/// (`Authorization: Bearer …`), never by a general access token.
#[utoipa::path(post, path = "/resourceGroups/{rg}/workspaces/{ws}/services/{name}/score", tag = "services",
    params(("rg" = String, Path), ("ws" = String, Path), ("name" = String, Path)),
    request_body(content = String, content_type = "application/json"),
    responses((status = 200, description = "the model's answer"), (status = 401, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 502, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn score(
    State(s): State<Arc<Services>>,
    Extension(target): Extension<ScoringTarget>,
    request: Request,
) -> Response {
    forward(&s, &target, request).await
}

/// `/invocations`, the path MLflow's clients post to: the same as `/score`.
#[utoipa::path(post, path = "/resourceGroups/{rg}/workspaces/{ws}/services/{name}/invocations", tag = "services",
    params(("rg" = String, Path), ("ws" = String, Path), ("name" = String, Path)),
    request_body(content = String, content_type = "application/json"),
    responses((status = 200, description = "the model's answer"), (status = 401, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 502, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn invocations(
    State(s): State<Arc<Services>>,
    Extension(target): Extension<ScoringTarget>,
    request: Request,
) -> Response {
    forward(&s, &target, request).await
}

async fn forward(s: &Services, target: &ScoringTarget, request: Request) -> Response {
    let service = &target.service;
    let limit = usize::try_from(service.max_body_bytes).unwrap_or(usize::MAX);
    let content_type = request.headers().get(header::CONTENT_TYPE).cloned();
    let body = match axum::body::to_bytes(request.into_body(), limit).await {
        Ok(body) => body,
        Err(_) => return Error::PayloadTooLarge { limit }.into_response(),
    };
    let Some((live, _in_flight)) = s
        .webservices
        .existing(&service.id)
        .and_then(|deployment| deployment.acquire())
    else {
        let why = if service.state_reason.is_empty() {
            format!("it is {}", service.state)
        } else {
            service.state_reason.clone()
        };
        return Error::Unavailable(format!(
            "service '{}' is not answering: {why}",
            service.name
        ))
        .into_response();
    };
    let answer = match live
        .backend
        .send(
            axum::http::Method::POST,
            "/score",
            content_type.as_ref(),
            body,
        )
        .await
    {
        Ok(answer) => answer,
        Err(error) => {
            return Error::BadGateway(format!("service '{}': {error}", service.name))
                .into_response();
        }
    };
    let model_time = ModelTime {
        micros: answer.model_us,
    };
    let mut response = if answer.model_error || answer.status >= 500 {
        Error::BadGateway(format!(
            "service '{}': the model raised an error while scoring; its traceback is in the service's console (`casemate service logs {} --console`)",
            service.name, service.name
        ))
        .into_response()
    } else {
        let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::BAD_GATEWAY);
        let mut response = (status, Body::from(answer.body)).into_response();
        let content_type = answer
            .content_type
            .unwrap_or_else(|| HeaderValue::from_static("application/json"));
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, content_type);
        response
    };
    response.extensions_mut().insert(model_time);
    response
}
