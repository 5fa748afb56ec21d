//! Runs and what they need: code snapshots, experiments, compute targets, submission, the run's
//! logs, metrics, tags and outputs.

use super::ApiResult;
use crate::gate::extract::{ApiJson, ApiPath, ApiQuery, RequestHost};
use crate::services::{Caller, Services};
use axum::Json;
use axum::body::Body;
use axum::extract::{Extension, State};
use axum::http::StatusCode;
use casemate_types::ErrorBody;
use casemate_types::wire::{
    Artifact, Compute, CreateComputeRequest, Experiment, LogMetricsRequest, Metric, Run, RunLogs,
    SetRunTagsRequest, Snapshot, SubmitRunRequest,
};
use futures_util::TryStreamExt;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use uuid::Uuid;

type RunPath = (String, String, Uuid);

/// Uploads a tar of the run's source directory. Checked entry by entry, stored sealed, named by
/// its SHA-256: 201 when new, 200 when the workspace already had these bytes.
#[utoipa::path(post, path = "/resourceGroups/{rg}/workspaces/{ws}/snapshots", tag = "runs",
    params(("rg" = String, Path), ("ws" = String, Path)),
    request_body(content = Vec<u8>, content_type = "application/x-tar"),
    responses((status = 201, body = Snapshot), (status = 200, body = Snapshot), (status = 400, body = ErrorBody),
        (status = 413, body = ErrorBody)))]
pub async fn upload_snapshot(
    State(s): State<Arc<Services>>,
    RequestHost(host): RequestHost,
    Extension(caller): Extension<Caller>,
    ApiPath((rg, ws)): ApiPath<(String, String)>,
    body: Body,
) -> ApiResult<(StatusCode, Json<Snapshot>)> {
    let stream = body.into_data_stream().map_err(std::io::Error::other);
    let (snapshot, created) = s
        .upload_snapshot(&host, &rg, &ws, &caller.name, stream)
        .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(snapshot)))
}

#[utoipa::path(get, path = "/resourceGroups/{rg}/workspaces/{ws}/snapshots/{snapshot}", tag = "runs",
    params(("rg" = String, Path), ("ws" = String, Path), ("snapshot" = String, Path)),
    responses((status = 200, body = Snapshot), (status = 404, body = ErrorBody)))]
pub async fn get_snapshot(
    State(s): State<Arc<Services>>,
    ApiPath((rg, ws, snapshot)): ApiPath<(String, String, String)>,
) -> ApiResult<Json<Snapshot>> {
    Ok(Json(s.get_snapshot(&rg, &ws, &snapshot).await?))
}

#[utoipa::path(get, path = "/resourceGroups/{rg}/workspaces/{ws}/experiments", tag = "runs",
    params(("rg" = String, Path), ("ws" = String, Path)),
    responses((status = 200, body = Vec<Experiment>), (status = 404, body = ErrorBody)))]
pub async fn list_experiments(
    State(s): State<Arc<Services>>,
    ApiPath((rg, ws)): ApiPath<(String, String)>,
) -> ApiResult<Json<Vec<Experiment>>> {
    Ok(Json(s.list_experiments(&rg, &ws).await?))
}

/// Submits a run (creating the experiment on first use). The run gets its own token; the
/// submitter never sees it.
#[utoipa::path(post, path = "/resourceGroups/{rg}/workspaces/{ws}/experiments/{experiment}/runs", tag = "runs",
    params(("rg" = String, Path), ("ws" = String, Path), ("experiment" = String, Path)),
    request_body = SubmitRunRequest,
    responses((status = 201, body = Run), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn submit(
    State(s): State<Arc<Services>>,
    Extension(caller): Extension<Caller>,
    ApiPath((rg, ws, experiment)): ApiPath<(String, String, String)>,
    ApiJson(request): ApiJson<SubmitRunRequest>,
) -> ApiResult<(StatusCode, Json<Run>)> {
    let run = s
        .submit_run(&caller, &rg, &ws, &experiment, &request)
        .await?;
    Ok((StatusCode::CREATED, Json(run)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RunFilter {
    /// Only the runs of this experiment.
    experiment: Option<String>,
}

#[utoipa::path(get, path = "/resourceGroups/{rg}/workspaces/{ws}/runs", tag = "runs",
    params(("rg" = String, Path), ("ws" = String, Path), RunFilter),
    responses((status = 200, body = Vec<Run>), (status = 404, body = ErrorBody)))]
pub async fn list_runs(
    State(s): State<Arc<Services>>,
    ApiPath((rg, ws)): ApiPath<(String, String)>,
    ApiQuery(filter): ApiQuery<RunFilter>,
) -> ApiResult<Json<Vec<Run>>> {
    Ok(Json(
        s.list_runs(&rg, &ws, filter.experiment.as_deref()).await?,
    ))
}

#[utoipa::path(get, path = "/resourceGroups/{rg}/workspaces/{ws}/runs/{run}", tag = "runs",
    params(("rg" = String, Path), ("ws" = String, Path), ("run" = Uuid, Path)),
    responses((status = 200, body = Run), (status = 404, body = ErrorBody)))]
pub async fn get_run(
    State(s): State<Arc<Services>>,
    ApiPath((rg, ws, run)): ApiPath<RunPath>,
) -> ApiResult<Json<Run>> {
    Ok(Json(s.get_run(&rg, &ws, run).await?))
}

/// Deletes an ended run: its record, logs, metrics, outputs and kept scratch directory.
#[utoipa::path(delete, path = "/resourceGroups/{rg}/workspaces/{ws}/runs/{run}", tag = "runs",
    params(("rg" = String, Path), ("ws" = String, Path), ("run" = Uuid, Path)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete_run(
    State(s): State<Arc<Services>>,
    ApiPath((rg, ws, run)): ApiPath<RunPath>,
) -> ApiResult<StatusCode> {
    s.delete_run(&rg, &ws, run).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Cancels a run in flight; its whole process group is killed.
#[utoipa::path(post, path = "/resourceGroups/{rg}/workspaces/{ws}/runs/{run}/cancel", tag = "runs",
    params(("rg" = String, Path), ("ws" = String, Path), ("run" = Uuid, Path)),
    responses((status = 200, body = Run), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn cancel_run(
    State(s): State<Arc<Services>>,
    Extension(caller): Extension<Caller>,
    ApiPath((rg, ws, run)): ApiPath<RunPath>,
) -> ApiResult<Json<Run>> {
    Ok(Json(s.cancel_run(&caller, &rg, &ws, run).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct LogPosition {
    /// The `next` of the previous answer; 0 (the default) for the beginning.
    after: Option<i64>,
}

/// The run's captured output after `after`, secret values masked.
#[utoipa::path(get, path = "/resourceGroups/{rg}/workspaces/{ws}/runs/{run}/logs", tag = "runs",
    params(("rg" = String, Path), ("ws" = String, Path), ("run" = Uuid, Path), LogPosition),
    responses((status = 200, body = RunLogs), (status = 404, body = ErrorBody)))]
pub async fn run_logs(
    State(s): State<Arc<Services>>,
    ApiPath((rg, ws, run)): ApiPath<RunPath>,
    ApiQuery(position): ApiQuery<LogPosition>,
) -> ApiResult<Json<RunLogs>> {
    Ok(Json(
        s.run_logs(&rg, &ws, run, position.after.unwrap_or(0))
            .await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct MetricFilter {
    /// Only the values of this metric.
    name: Option<String>,
}

#[utoipa::path(post, path = "/resourceGroups/{rg}/workspaces/{ws}/runs/{run}/metrics", tag = "runs",
    params(("rg" = String, Path), ("ws" = String, Path), ("run" = Uuid, Path)),
    request_body = LogMetricsRequest,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn log_metrics(
    State(s): State<Arc<Services>>,
    ApiPath((rg, ws, run)): ApiPath<RunPath>,
    ApiJson(request): ApiJson<LogMetricsRequest>,
) -> ApiResult<StatusCode> {
    s.log_metrics(&rg, &ws, run, &request.metrics).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/resourceGroups/{rg}/workspaces/{ws}/runs/{run}/metrics", tag = "runs",
    params(("rg" = String, Path), ("ws" = String, Path), ("run" = Uuid, Path), MetricFilter),
    responses((status = 200, body = Vec<Metric>), (status = 404, body = ErrorBody)))]
pub async fn run_metrics(
    State(s): State<Arc<Services>>,
    ApiPath((rg, ws, run)): ApiPath<RunPath>,
    ApiQuery(filter): ApiQuery<MetricFilter>,
) -> ApiResult<Json<Vec<Metric>>> {
    Ok(Json(
        s.run_metrics(&rg, &ws, run, filter.name.as_deref()).await?,
    ))
}

/// Sets tags on a run (adding or replacing); answers with all of its tags.
#[utoipa::path(patch, path = "/resourceGroups/{rg}/workspaces/{ws}/runs/{run}/tags", tag = "runs",
    params(("rg" = String, Path), ("ws" = String, Path), ("run" = Uuid, Path)),
    request_body = SetRunTagsRequest,
    responses((status = 200, body = BTreeMap<String, String>), (status = 400, body = ErrorBody)))]
pub async fn set_tags(
    State(s): State<Arc<Services>>,
    ApiPath((rg, ws, run)): ApiPath<RunPath>,
    ApiJson(request): ApiJson<SetRunTagsRequest>,
) -> ApiResult<Json<BTreeMap<String, String>>> {
    Ok(Json(s.set_run_tags(&rg, &ws, run, &request.tags).await?))
}

/// Uploads a file as one of the run's outputs (the artifact `runs/{run}/outputs/{path}`).
#[utoipa::path(put, path = "/resourceGroups/{rg}/workspaces/{ws}/runs/{run}/outputs/{*path}", tag = "runs",
    params(("rg" = String, Path), ("ws" = String, Path), ("run" = Uuid, Path), ("path" = String, Path)),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, body = Artifact), (status = 400, body = ErrorBody), (status = 413, body = ErrorBody)))]
pub async fn put_output(
    State(s): State<Arc<Services>>,
    RequestHost(host): RequestHost,
    ApiPath((rg, ws, run, path)): ApiPath<(String, String, Uuid, String)>,
    body: Body,
) -> ApiResult<(StatusCode, Json<Artifact>)> {
    let stream = body.into_data_stream().map_err(std::io::Error::other);
    let artifact = s
        .put_run_output(&host, &rg, &ws, run, &path, stream)
        .await?;
    Ok((StatusCode::CREATED, Json(artifact)))
}

#[utoipa::path(get, path = "/resourceGroups/{rg}/workspaces/{ws}/computes", tag = "computes",
    params(("rg" = String, Path), ("ws" = String, Path)),
    responses((status = 200, body = Vec<Compute>), (status = 404, body = ErrorBody)))]
pub async fn list_computes(
    State(s): State<Arc<Services>>,
    ApiPath((rg, ws)): ApiPath<(String, String)>,
) -> ApiResult<Json<Vec<Compute>>> {
    Ok(Json(s.list_computes(&rg, &ws).await?))
}

#[utoipa::path(put, path = "/resourceGroups/{rg}/workspaces/{ws}/computes/{name}", tag = "computes",
    params(("rg" = String, Path), ("ws" = String, Path), ("name" = String, Path)),
    request_body = CreateComputeRequest,
    responses((status = 201, body = Compute), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create_compute(
    State(s): State<Arc<Services>>,
    Extension(caller): Extension<Caller>,
    ApiPath((rg, ws, name)): ApiPath<(String, String, String)>,
    ApiJson(request): ApiJson<CreateComputeRequest>,
) -> ApiResult<(StatusCode, Json<Compute>)> {
    let compute = s.create_compute(&rg, &ws, &name, &request, &caller).await?;
    Ok((StatusCode::CREATED, Json(compute)))
}

#[utoipa::path(get, path = "/resourceGroups/{rg}/workspaces/{ws}/computes/{name}", tag = "computes",
    params(("rg" = String, Path), ("ws" = String, Path), ("name" = String, Path)),
    responses((status = 200, body = Compute), (status = 404, body = ErrorBody)))]
pub async fn get_compute(
    State(s): State<Arc<Services>>,
    ApiPath((rg, ws, name)): ApiPath<(String, String, String)>,
) -> ApiResult<Json<Compute>> {
    Ok(Json(s.get_compute(&rg, &ws, &name).await?))
}

#[utoipa::path(delete, path = "/resourceGroups/{rg}/workspaces/{ws}/computes/{name}", tag = "computes",
    params(("rg" = String, Path), ("ws" = String, Path), ("name" = String, Path)),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete_compute(
    State(s): State<Arc<Services>>,
    ApiPath((rg, ws, name)): ApiPath<(String, String, String)>,
) -> ApiResult<StatusCode> {
    s.delete_compute(&rg, &ws, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}
