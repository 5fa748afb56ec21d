//! The OCI distribution API at `/v2/`: `/v2/{rg}/{registry}/{repository}/…`. The gate
//! authorizes `registries/pull/read` (GET, HEAD) or `registries/push/write` (the rest) at the
//! registry the path names.

use super::route::{self, Endpoint, RegistryRoute};
use super::service::UploadStarted;
use crate::api::ApiResult;
use crate::error::Error;
use crate::gate::extract::ApiQuery;
use crate::services::Services;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use casemate_types::ErrorBody;
use futures_util::TryStreamExt;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::Arc;

const API_VERSION: (&str, &str) = ("docker-distribution-api-version", "registry/2.0");

fn with_headers(status: StatusCode, headers: &[(&str, String)], body: Body) -> Response {
    let mut response = (status, body).into_response();
    let map = response.headers_mut();
    map.insert(API_VERSION.0, HeaderValue::from_static(API_VERSION.1));
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (
            header::HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            map.insert(name, value);
        }
    }
    response
}

fn parse(rest: &str) -> ApiResult<RegistryRoute> {
    route::parse(rest)
}

fn upload_location(route: &RegistryRoute, id: uuid::Uuid) -> String {
    format!("/v2/{}/blobs/uploads/{id}", route.name())
}

fn body_stream(
    body: Body,
) -> impl futures_util::Stream<Item = std::io::Result<bytes::Bytes>> + Send + Unpin {
    body.into_data_stream().map_err(std::io::Error::other)
}

/// The API's root: 200 to a signed-in caller, so clients know they may go on.
#[utoipa::path(get, path = "/v2/", tag = "registries",
    responses((status = 200, description = "the registry speaks OCI distribution v1.1"), (status = 401, body = ErrorBody)))]
pub async fn base() -> Response {
    with_headers(StatusCode::OK, &[], Body::from("{}"))
}

/// Every repository the caller may pull from, as `{rg}/{registry}/{repository}`.
#[utoipa::path(get, path = "/v2/_catalog", tag = "registries",
    params(("n" = Option<i64>, Query), ("last" = Option<String>, Query)),
    responses((status = 200, description = "{\"repositories\": [...]}"), (status = 401, body = ErrorBody)))]
pub async fn catalog(
    State(s): State<Arc<Services>>,
    axum::extract::Extension(caller): axum::extract::Extension<crate::services::Caller>,
    ApiQuery(query): ApiQuery<BTreeMap<String, String>>,
) -> ApiResult<Response> {
    let n = match query.get("n") {
        Some(n) => Some(
            n.parse::<i64>()
                .map_err(|_| Error::invalid("n", "must be a whole number"))?,
        ),
        None => None,
    };
    let repositories = s
        .registry_catalog(&caller, n, query.get("last").map(String::as_str))
        .await?;
    Ok(with_headers(
        StatusCode::OK,
        &[("content-type", "application/json".to_owned())],
        Body::from(serde_json::json!({ "repositories": repositories }).to_string()),
    ))
}

/// Manifests by tag or digest, blobs, tag lists and upload status (GET and HEAD).
#[utoipa::path(get, path = "/v2/{*rest}", tag = "registries",
    params(("rest" = String, Path, description = "RG/REGISTRY/REPOSITORY/(manifests/REF|blobs/DIGEST|tags/list|blobs/uploads/ID)")),
    responses((status = 200, description = "content"), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(s): State<Arc<Services>>,
    method: Method,
    Path(rest): Path<String>,
    ApiQuery(query): ApiQuery<BTreeMap<String, String>>,
) -> ApiResult<Response> {
    let route = parse(&rest)?;
    match &route.endpoint {
        Endpoint::Manifest(reference) => {
            let manifest = s.registry_manifest(&route, reference).await?;
            let headers = [
                ("content-type", manifest.media_type.clone()),
                ("docker-content-digest", manifest.digest.clone()),
                ("content-length", manifest.content.len().to_string()),
            ];
            Ok(with_headers(
                StatusCode::OK,
                &headers,
                Body::from(manifest.content),
            ))
        }
        Endpoint::Blob(digest) => {
            let digest_header = ("docker-content-digest", digest.clone());
            if method == Method::HEAD {
                let size = s.registry_blob_size(&route, digest).await?;
                let headers = [digest_header, ("content-length", size.to_string())];
                return Ok(with_headers(StatusCode::OK, &headers, Body::empty()));
            }
            let (size, stream) = s.registry_blob(&route, digest).await?;
            let headers = [
                digest_header,
                ("content-length", size.to_string()),
                ("content-type", "application/octet-stream".to_owned()),
            ];
            Ok(with_headers(
                StatusCode::OK,
                &headers,
                Body::from_stream(stream),
            ))
        }
        Endpoint::Tags => {
            let n = match query.get("n") {
                Some(n) => Some(
                    n.parse::<i64>()
                        .map_err(|_| Error::invalid("n", "must be a whole number"))?,
                ),
                None => None,
            };
            let tags = s
                .registry_tags(&route, n, query.get("last").map(String::as_str))
                .await?;
            let body = serde_json::json!({"name": route.name(), "tags": tags});
            Ok(with_headers(
                StatusCode::OK,
                &[("content-type", "application/json".to_owned())],
                Body::from(body.to_string()),
            ))
        }
        Endpoint::Upload(id) => {
            let id = *id;
            let size = s.registry_upload_size(&route, id).await?;
            let headers = [
                ("location", upload_location(&route, id)),
                ("range", format!("0-{}", size.saturating_sub(1))),
                ("docker-upload-uuid", id.to_string()),
            ];
            Ok(with_headers(
                StatusCode::NO_CONTENT,
                &headers,
                Body::empty(),
            ))
        }
        Endpoint::StartUpload => Err(Error::MethodNotAllowed),
    }
}

#[derive(Debug, Deserialize)]
pub struct UploadQuery {
    digest: Option<String>,
    mount: Option<String>,
    from: Option<String>,
}

/// Starts an upload: monolithic (`?digest=`), a mount (`?mount=DIGEST&from=REPO`), or a session.
#[utoipa::path(post, path = "/v2/{*rest}", tag = "registries",
    params(("rest" = String, Path, description = "RG/REGISTRY/REPOSITORY/blobs/uploads/")),
    responses((status = 201, description = "stored or mounted"), (status = 202, description = "a session"),
        (status = 400, body = ErrorBody)))]
pub async fn post(
    State(s): State<Arc<Services>>,
    Path(rest): Path<String>,
    ApiQuery(query): ApiQuery<UploadQuery>,
    body: Body,
) -> ApiResult<Response> {
    let route = parse(&rest)?;
    if route.endpoint != Endpoint::StartUpload {
        return Err(Error::MethodNotAllowed);
    }
    let mount = query.mount.as_deref().filter(|_| query.from.is_some());
    let started = s
        .start_registry_upload(&route, query.digest.as_deref(), mount, body_stream(body))
        .await?;
    Ok(match started {
        UploadStarted::Stored(digest) | UploadStarted::Mounted(digest) => with_headers(
            StatusCode::CREATED,
            &[
                ("location", format!("/v2/{}/blobs/{digest}", route.name())),
                ("docker-content-digest", digest.clone()),
            ],
            Body::empty(),
        ),
        UploadStarted::Session(id) => with_headers(
            StatusCode::ACCEPTED,
            &[
                ("location", upload_location(&route, id)),
                ("range", "0-0".to_owned()),
                ("docker-upload-uuid", id.to_string()),
            ],
            Body::empty(),
        ),
    })
}

/// Sends one chunk of an upload session.
#[utoipa::path(patch, path = "/v2/{*rest}", tag = "registries",
    params(("rest" = String, Path, description = "RG/REGISTRY/REPOSITORY/blobs/uploads/ID")),
    responses((status = 202, description = "received"), (status = 404, body = ErrorBody)))]
pub async fn patch(
    State(s): State<Arc<Services>>,
    Path(rest): Path<String>,
    body: Body,
) -> ApiResult<Response> {
    let route = parse(&rest)?;
    let Endpoint::Upload(id) = route.endpoint else {
        return Err(Error::MethodNotAllowed);
    };
    let size = s
        .append_registry_upload(&route, id, body_stream(body))
        .await?;
    Ok(with_headers(
        StatusCode::ACCEPTED,
        &[
            ("location", upload_location(&route, id)),
            ("range", format!("0-{}", size.saturating_sub(1))),
            ("docker-upload-uuid", id.to_string()),
        ],
        Body::empty(),
    ))
}

/// Pushes a manifest (by tag or digest), or closes an upload session (`?digest=`).
#[utoipa::path(put, path = "/v2/{*rest}", tag = "registries",
    params(("rest" = String, Path, description = "RG/REGISTRY/REPOSITORY/(manifests/REF|blobs/uploads/ID)")),
    responses((status = 201, description = "stored"), (status = 400, body = ErrorBody)))]
pub async fn put(
    State(s): State<Arc<Services>>,
    Path(rest): Path<String>,
    ApiQuery(query): ApiQuery<UploadQuery>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let route = parse(&rest)?;
    match &route.endpoint {
        Endpoint::Manifest(reference) => {
            let content = axum::body::to_bytes(body, 4 * 1024 * 1024 + 1)
                .await
                .map_err(|_| Error::PayloadTooLarge {
                    limit: 4 * 1024 * 1024,
                })?;
            let media_type = headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.split(';').next().unwrap_or(v).trim().to_owned());
            let digest = s
                .put_registry_manifest(&route, reference, media_type.as_deref(), content)
                .await?;
            Ok(with_headers(
                StatusCode::CREATED,
                &[
                    (
                        "location",
                        format!("/v2/{}/manifests/{digest}", route.name()),
                    ),
                    ("docker-content-digest", digest),
                ],
                Body::empty(),
            ))
        }
        Endpoint::Upload(id) => {
            let id = *id;
            let digest = query
                .digest
                .ok_or_else(|| Error::invalid("digest", "is required to close an upload"))?;
            let digest = s
                .finish_registry_upload(&route, id, &digest, body_stream(body))
                .await?;
            Ok(with_headers(
                StatusCode::CREATED,
                &[
                    ("location", format!("/v2/{}/blobs/{digest}", route.name())),
                    ("docker-content-digest", digest),
                ],
                Body::empty(),
            ))
        }
        _ => Err(Error::MethodNotAllowed),
    }
}

/// Deletes a manifest (by digest, with its tags), a tag, a blob, or an upload session.
#[utoipa::path(delete, path = "/v2/{*rest}", tag = "registries",
    params(("rest" = String, Path, description = "RG/REGISTRY/REPOSITORY/(manifests/REF|blobs/DIGEST|blobs/uploads/ID)")),
    responses((status = 202, description = "deleted"), (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(s): State<Arc<Services>>,
    Path(rest): Path<String>,
) -> ApiResult<Response> {
    let route = parse(&rest)?;
    match &route.endpoint {
        Endpoint::Manifest(reference) => s.delete_registry_manifest(&route, reference).await?,
        Endpoint::Blob(digest) => s.delete_registry_blob(&route, digest).await?,
        Endpoint::Upload(id) => {
            let id = *id;
            s.cancel_registry_upload(&route, id).await?;
            return Ok(with_headers(StatusCode::NO_CONTENT, &[], Body::empty()));
        }
        _ => return Err(Error::MethodNotAllowed),
    }
    Ok(with_headers(StatusCode::ACCEPTED, &[], Body::empty()))
}
