//! Workspace artifacts: blobs streamed in and out, sealed at rest under the workspace's data key;
//! and `rewrap`, which moves the workspace's data keys to the newest version of its key.

use super::ApiResult;
use crate::gate::extract::{ApiPath, RequestHost};
use crate::services::Services;
use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use casemate_types::ErrorBody;
use casemate_types::wire::{Artifact, RewrapReport};
use futures_util::TryStreamExt;
use std::sync::Arc;

type ArtifactPath = (String, String, String);

/// Stores the request body as an artifact (replacing one at that path), sealed as it streams in.
#[utoipa::path(put, path = "/resourceGroups/{rg}/workspaces/{ws}/artifacts/{*path}", tag = "artifacts",
    params(("rg" = String, Path), ("ws" = String, Path), ("path" = String, Path)),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, body = Artifact), (status = 400, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 423, body = ErrorBody)))]
pub async fn put(
    State(s): State<Arc<Services>>,
    RequestHost(host): RequestHost,
    ApiPath((rg, ws, path)): ApiPath<ArtifactPath>,
    body: Body,
) -> ApiResult<(StatusCode, Json<Artifact>)> {
    let stream = body.into_data_stream().map_err(std::io::Error::other);
    let artifact = s.put_artifact(&host, &rg, &ws, &path, stream).await?;
    Ok((StatusCode::CREATED, Json(artifact)))
}

/// Streams an artifact's plaintext.
#[utoipa::path(get, path = "/resourceGroups/{rg}/workspaces/{ws}/artifacts/{*path}", tag = "artifacts",
    params(("rg" = String, Path), ("ws" = String, Path), ("path" = String, Path)),
    responses((status = 200, content_type = "application/octet-stream", body = Vec<u8>),
        (status = 404, body = ErrorBody), (status = 423, body = ErrorBody)))]
pub async fn get(
    State(s): State<Arc<Services>>,
    RequestHost(host): RequestHost,
    ApiPath((rg, ws, path)): ApiPath<ArtifactPath>,
) -> ApiResult<Response> {
    let (size, stream) = s.get_artifact(&host, &rg, &ws, &path).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            (header::CONTENT_LENGTH, size.to_string()),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

#[utoipa::path(get, path = "/resourceGroups/{rg}/workspaces/{ws}/artifacts", tag = "artifacts",
    params(("rg" = String, Path), ("ws" = String, Path)),
    responses((status = 200, body = Vec<Artifact>), (status = 404, body = ErrorBody)))]
pub async fn list(
    State(s): State<Arc<Services>>,
    ApiPath((rg, ws)): ApiPath<(String, String)>,
) -> ApiResult<Json<Vec<Artifact>>> {
    Ok(Json(s.list_artifacts(&rg, &ws).await?))
}

/// Re-wraps the workspace's data keys under the newest version of its key; blobs are untouched.
#[utoipa::path(post, path = "/resourceGroups/{rg}/workspaces/{ws}/rewrap", tag = "resources",
    params(("rg" = String, Path), ("ws" = String, Path)),
    responses((status = 200, body = RewrapReport), (status = 404, body = ErrorBody), (status = 423, body = ErrorBody)))]
pub async fn rewrap(
    State(s): State<Arc<Services>>,
    RequestHost(host): RequestHost,
    ApiPath((rg, ws)): ApiPath<(String, String)>,
) -> ApiResult<Json<RewrapReport>> {
    Ok(Json(s.rewrap_workspace(&host, &rg, &ws).await?))
}
