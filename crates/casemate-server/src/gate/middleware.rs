use super::table::{self, Access};
use super::{BodyLimit, ClientAddress, RequestId};
use crate::error::Error;
use crate::services::{Caller, Services};
use axum::extract::{ConnectInfo, MatchedPath, RawPathParams, Request, State};
use axum::http::HeaderValue;
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use casemate_authz::Scope;
use casemate_types::Sensitive;
use casemate_types::wire::TokenScope;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

fn well_formed_request_id(value: &str) -> bool {
    (1..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Outermost layer, on every request: assigns the request id, notes the client address and the
/// body limit, and writes the access-log line.
pub async fn request_context(
    State(body_limit): State<usize>,
    mut request: Request,
    next: Next,
) -> Response {
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| well_formed_request_id(v))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let address = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let extensions = request.extensions_mut();
    extensions.insert(RequestId(request_id.clone()));
    extensions.insert(ClientAddress(address));
    extensions.insert(BodyLimit(body_limit));
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let started = Instant::now();
    let span = tracing::info_span!("request", request_id = %request_id);
    let mut response = tracing::Instrument::instrument(next.run(request), span.clone()).await;
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-request-id", value);
    }
    let status = response.status().as_u16();
    let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    span.in_scope(
        || tracing::info!(%method, %path, status, elapsed_ms, client = %address, "request"),
    );
    response
}

enum Presented {
    Bearer(Sensitive),
    Basic { username: String, secret: Sensitive },
}

fn presented_credential(headers: &axum::http::HeaderMap) -> Result<Option<Presented>, Error> {
    let Some(value) = headers.get(AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| Error::unauthenticated("Authorization header is not ASCII"))?;
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") && !rest.is_empty() {
        return Ok(Some(Presented::Bearer(Sensitive::new(rest))));
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .map(Sensitive::new)
            .ok_or_else(|| Error::unauthenticated("Basic credentials are not base64 of UTF-8"))?;
        let (username, secret) = decoded
            .expose()
            .split_once(':')
            .ok_or_else(|| Error::unauthenticated("Basic credentials lack a ':'"))?;
        return Ok(Some(Presented::Basic {
            username: username.to_owned(),
            secret: Sensitive::new(secret),
        }));
    }
    Err(Error::unauthenticated(
        "Authorization scheme is neither Bearer nor Basic",
    ))
}

async fn authenticate(
    services: &Services,
    presented: Result<Option<Presented>, Error>,
) -> Result<Caller, Error> {
    match presented? {
        None => Err(Error::unauthenticated("no credential presented")),
        Some(Presented::Bearer(token)) => services.authenticate_bearer(&token).await,
        // Basic carries a personal access token, never a password: no password hashing per request.
        Some(Presented::Basic { username, secret }) => {
            services.authenticate_pat(Some(&username), &secret).await
        }
    }
}

/// The gate proper, on every matched route. No handler runs unless this lets it.
pub async fn gate(
    State(services): State<Arc<Services>>,
    matched: MatchedPath,
    params: RawPathParams,
    mut request: Request,
    next: Next,
) -> Response {
    let method = request.method().as_str().to_owned();
    let Some(rule) = table::lookup(&method, matched.as_str()) else {
        tracing::error!(
            method,
            path = matched.as_str(),
            "route has no row in the action table; refusing"
        );
        return Error::internal(format!(
            "route {method} {} is not in the action table",
            matched.as_str()
        ))
        .into_response();
    };
    if rule.access == Access::Public {
        return next.run(request).await;
    }
    let presented = presented_credential(request.headers());
    let caller = match authenticate(&services, presented).await {
        Ok(caller) => caller,
        Err(error) => return error.into_response(),
    };
    let enrollment_ok = matches!(rule.access, Access::SignedIn { enrollment: true });
    if caller.token_scope() == TokenScope::MfaEnrollment && !enrollment_ok {
        return Error::ForbiddenOther(
            "this token may only enrol a second factor: run `casemate user mfa enable`, then sign in again".into(),
        )
        .into_response();
    }
    if let Access::Action { action, scope } = rule.access {
        let pairs: Vec<(&str, &str)> = params.iter().collect();
        let scope = match table::resolve_scope(scope, &pairs).map(|s| Scope::parse(&s)) {
            Some(Ok(scope)) => scope,
            Some(Err(error)) => return Error::invalid("path", error.to_string()).into_response(),
            None => {
                return Error::internal(format!("scope template {scope} has unfilled parameters"))
                    .into_response();
            }
        };
        if let Err(error) = services.authorize(&caller, action, &scope).await {
            tracing::info!(caller = %caller.principal_id, action, %scope, "denied");
            return error.into_response();
        }
    }
    request.extensions_mut().insert(caller);
    next.run(request).await
}
