//! The HTTP face of monitoring: the Prometheus scrape and a workspace's metrics.

use super::metrics::CONTENT_TYPE;
use super::service::WorkspaceMetricsQuery;
use crate::api::ApiResult;
use crate::gate::extract::{ApiPath, ApiQuery};
use crate::services::Services;
use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use casemate_types::ErrorBody;
use casemate_types::wire::WorkspaceMetrics;
use std::sync::Arc;

/// This server's metrics in Prometheus's text format. Needs `metrics/read` at `/` (the
/// built-in Monitoring Reader role).
#[utoipa::path(get, path = "/metrics", tag = "monitoring",
    responses((status = 200, description = "Prometheus text exposition (version 0.0.4)", content_type = "text/plain"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn scrape(State(s): State<Arc<Services>>) -> ApiResult<Response> {
    let text = s.scrape_metrics().await?;
    Ok(([(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response())
}

/// Counts over time of the workspace's runs by status, model registrations and deployments.
#[utoipa::path(get, path = "/resourceGroups/{rg}/workspaces/{ws}/metrics", tag = "monitoring",
    params(("rg" = String, Path), ("ws" = String, Path), WorkspaceMetricsQuery),
    responses((status = 200, body = WorkspaceMetrics), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn workspace_metrics(
    State(s): State<Arc<Services>>,
    ApiPath((rg, ws)): ApiPath<(String, String)>,
    ApiQuery(query): ApiQuery<WorkspaceMetricsQuery>,
) -> ApiResult<Json<WorkspaceMetrics>> {
    Ok(Json(s.workspace_metrics(&rg, &ws, &query).await?))
}
