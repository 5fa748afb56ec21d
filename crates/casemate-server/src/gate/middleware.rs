use super::session_cookie;
use super::table::{self, Access};
use super::{AnsweredRoute, BodyLimit, ClientAddress, RequestId};
use crate::error::Error;
use crate::monitoring::Metrics;
use crate::services::activity::{NewActivity, Outcome, time_ordered_id};
use crate::services::sign_ins::SignedIn;
use crate::services::{Caller, Services};
use axum::extract::{ConnectInfo, MatchedPath, RawPathParams, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use casemate_authz::Scope;
use casemate_types::wire::TokenScope;
use casemate_types::{Clock, Sensitive};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

fn well_formed_request_id(value: &str) -> bool {
    (1..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// What the outermost layer needs: the body limit to note and the metrics to count in.
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub body_limit: usize,
    pub metrics: Arc<Metrics>,
    pub clock: Arc<dyn Clock>,
}

/// Outermost layer, on every request: assigns the request id, notes the client address and the
/// body limit, writes the access-log line and counts the request in the metrics.
pub async fn request_context(
    State(context): State<RequestContext>,
    mut request: Request,
    next: Next,
) -> Response {
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| well_formed_request_id(v))
        .map(str::to_owned)
        .unwrap_or_else(|| time_ordered_id(context.clock.now()));
    let address = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let extensions = request.extensions_mut();
    extensions.insert(RequestId(request_id.clone()));
    extensions.insert(ClientAddress(address));
    extensions.insert(BodyLimit(context.body_limit));
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let started = Instant::now();
    let span = tracing::info_span!("request", request_id = %request_id);
    let mut response = tracing::Instrument::instrument(next.run(request), span.clone()).await;
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-request-id", value);
    }
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    let answered = response.extensions().get::<AnsweredRoute>().copied();
    context.metrics.request(
        answered.map_or("unmatched", |a| a.route),
        answered.and_then(|a| a.action),
        &method,
        status,
        elapsed,
    );
    let elapsed_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
    span.in_scope(
        || tracing::info!(%method, %path, status, elapsed_ms, client = %address, "request"),
    );
    response
}

pub(super) enum Presented {
    Bearer(Sensitive),
    /// The web console's access token, from its HttpOnly cookie.
    SessionCookie(Sensitive),
    Basic {
        username: String,
        secret: Sensitive,
    },
}

pub(super) fn presented_credential(
    headers: &axum::http::HeaderMap,
) -> Result<Option<Presented>, Error> {
    // An Authorization header wins over the console's cookie: a script client is never
    // mistaken for a browser session (and so never needs the CSRF token).
    let Some(value) = headers.get(AUTHORIZATION) else {
        return Ok(
            session_cookie::cookie(headers, session_cookie::ACCESS_COOKIE)
                .map(Presented::SessionCookie),
        );
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
        Some(Presented::Bearer(token) | Presented::SessionCookie(token)) => {
            services.authenticate_bearer(&token).await
        }
        // Basic carries a personal access token, never a password: no password hashing per request.
        Some(Presented::Basic { username, secret }) => {
            services.authenticate_pat(Some(&username), &secret).await
        }
    }
}

fn query_scope(request: &Request) -> Option<String> {
    let query = request.uri().query()?;
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).ok()?;
    pairs
        .into_iter()
        .find(|(name, _)| name == "scope")
        .map(|(_, value)| value)
}

/// The client's address as the listener saw it (unspecified if none was recorded).
pub(super) fn client_address_of(request: &Request) -> IpAddr {
    request
        .extensions()
        .get::<ClientAddress>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |a| a.0)
}

/// The request's id, for the activity record's correlation id.
pub(super) fn request_id_of(request: &Request) -> String {
    request
        .extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default()
}

/// The client's user agent, at most 256 characters of it.
pub(super) fn user_agent_of(request: &Request) -> String {
    request
        .headers()
        .get("user-agent")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .chars()
        .take(256)
        .collect()
}

/// The caller name of records of requests without a valid credential; no principal can have it.
const UNAUTHENTICATED_CALLER: &str = "(unauthenticated)";

/// Who, from where, about what: the parts of an activity record the gate knows before the handler.
/// `caller` is `None` when no valid credential came with the request.
pub(super) struct Audit<'a> {
    pub(super) services: &'a Services,
    pub(super) caller: Option<&'a Caller>,
    /// Whom a sign-in route signed in: the record's caller when there is no `caller`.
    pub(super) signed_in: Option<SignedIn>,
    pub(super) operation: &'a str,
    pub(super) resource_id: String,
    pub(super) correlation_id: String,
    pub(super) client_address: String,
    pub(super) user_agent: String,
}

impl Audit<'_> {
    pub(super) async fn record(
        &self,
        outcome: Outcome,
        status: u16,
        detail: String,
    ) -> Result<(), Error> {
        // A run token's calls carry the run's id beside the submitter's name.
        let detail = match (self.caller.and_then(Caller::run_id), detail.is_empty()) {
            (Some(run), true) => format!("run {run}"),
            (Some(run), false) => format!("run {run}: {detail}"),
            (None, _) => detail,
        };
        self.services
            .activity
            .record(NewActivity {
                time: self.services.now(),
                operation: self.operation.to_owned(),
                outcome,
                status,
                caller_id: match (self.caller, &self.signed_in) {
                    (Some(caller), _) => caller.principal_id.to_string(),
                    (None, Some(signed_in)) => signed_in.principal_id.to_string(),
                    (None, None) => String::new(),
                },
                caller_name: match (self.caller, &self.signed_in) {
                    (Some(caller), _) => caller.name.clone(),
                    (None, Some(signed_in)) => signed_in.name.clone(),
                    (None, None) => UNAUTHENTICATED_CALLER.to_owned(),
                },
                resource_id: self.resource_id.clone(),
                correlation_id: self.correlation_id.clone(),
                client_address: self.client_address.clone(),
                user_agent: self.user_agent.clone(),
                detail,
            })
            .await
    }

    /// Records a refusal (with `note` after the reason, if any), then answers with it; if even
    /// that cannot be recorded, 503.
    pub(super) async fn deny(&self, error: Error, note: &str) -> Response {
        let (status, _) = error.status_and_code();
        let detail = if note.is_empty() {
            error.to_string()
        } else {
            format!("{error}; {note}")
        };
        match self.record(Outcome::Denied, status.as_u16(), detail).await {
            Ok(()) => error.into_response(),
            Err(unavailable) => unavailable.into_response(),
        }
    }
}

/// A request without a valid credential is recorded as refused, until its address has spent its
/// budget for the window; from then on it is refused with 429 and not recorded.
pub(super) async fn refuse_unauthenticated(
    audit: &Audit<'_>,
    address: IpAddr,
    error: Error,
) -> Response {
    match audit.services.spend_unauthenticated(address) {
        Ok(0) => {
            let note = "this address has no unauthenticated requests left in this window: \
                        further ones are refused with 429 and not recorded until it ends";
            audit.deny(error, note).await
        }
        Ok(_) => audit.deny(error, "").await,
        Err(throttled) => throttled.into_response(),
    }
}

/// What a registry request needs, by method: reading is pull, everything else push.
fn registry_action(method: &Method) -> &'static str {
    if matches!(*method, Method::GET | Method::HEAD) {
        "registries/pull/read"
    } else {
        "registries/push/write"
    }
}

/// The registry a `/v2/{rg}/{registry}/…` path names, as a scope.
fn registry_scope(request: &Request) -> Result<Scope, Error> {
    let rest = request.uri().path().strip_prefix("/v2/").unwrap_or("");
    let route = crate::registries::route::parse(rest)?;
    Scope::parse(&route.registry_id()).map_err(|e| Error::invalid("name", e.to_string()))
}

/// The gate proper, on every matched route. No handler runs unless this lets it, and no
/// authorized request is answered before its activity record is durable.
pub async fn gate(
    State(services): State<Arc<Services>>,
    matched: MatchedPath,
    params: RawPathParams,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().clone();
    let Some(rule) = table::lookup(method.as_str(), matched.as_str()) else {
        tracing::error!(%method, path = matched.as_str(), "route has no row in the action table; refusing");
        return Error::internal(format!(
            "route {method} {} is not in the action table",
            matched.as_str()
        ))
        .into_response();
    };
    let mut response = admit(&services, rule, params, request, next).await;
    response.extensions_mut().insert(AnsweredRoute {
        route: rule.path,
        action: match rule.access {
            Access::Action { action, .. } => Some(action),
            Access::Public | Access::SignedIn { .. } | Access::SignIn { .. } | Access::Scoring => {
                None
            }
            Access::Registry => Some(registry_action(&method)),
        },
    });
    response
}

/// Authenticates, authorizes and audits one request by its table row, then runs the handler.
async fn admit(
    services: &Services,
    rule: &table::RouteRule,
    params: RawPathParams,
    mut request: Request,
    next: Next,
) -> Response {
    let method = request.method().clone();
    let (operation, scope_template, enrollment_ok) = match rule.access {
        Access::Public => return next.run(request).await,
        Access::Scoring => return super::scoring::admit(services, params, request, next).await,
        Access::SignIn { operation } => {
            return super::sign_in::admit(services, operation, request, next).await;
        }
        Access::SignedIn {
            operation,
            enrollment,
        } => (operation, None, enrollment),
        Access::Action { action, scope } => (action, Some(scope), false),
        Access::Registry => (
            registry_action(&method),
            Some(table::SCOPE_FROM_REGISTRY_PATH),
            false,
        ),
    };
    let scope = match scope_template {
        None => Ok(Scope::root()),
        Some(table::SCOPE_FROM_REGISTRY_PATH) => registry_scope(&request),
        Some(table::SCOPE_FROM_QUERY) => match query_scope(&request) {
            Some(scope) => Scope::parse(&scope).map_err(|e| Error::invalid("scope", e.rule)),
            None => Err(Error::invalid(
                "scope",
                "is required as a query parameter, e.g. ?scope=/resourceGroups/rg",
            )),
        },
        Some(template) => {
            let pairs: Vec<(&str, &str)> = params.iter().collect();
            match table::resolve_scope(template, &pairs).map(|s| Scope::parse(&s)) {
                Some(Ok(scope)) => Ok(scope),
                Some(Err(error)) => Err(Error::invalid("path", error.to_string())),
                None => Err(Error::internal(format!(
                    "scope template {template} has unfilled parameters"
                ))),
            }
        }
    };
    let user_agent = user_agent_of(&request);
    let client_address = client_address_of(&request);
    let mut audit = Audit {
        services,
        caller: None,
        signed_in: None,
        operation,
        resource_id: scope
            .as_ref()
            .map_or_else(|_| Scope::root().to_string(), Scope::to_string),
        correlation_id: request_id_of(&request),
        client_address: client_address.to_string(),
        user_agent,
    };
    if let Err(error) = services.refresh_gate_cache().await {
        return error.into_response();
    }
    let presented = presented_credential(request.headers());
    let cookie_token = match &presented {
        Ok(Some(Presented::SessionCookie(token))) => Some(token.clone()),
        _ => None,
    };
    let caller = match authenticate(services, presented).await {
        Ok(caller) => caller,
        Err(error) => return refuse_unauthenticated(&audit, client_address, error).await,
    };
    audit.caller = Some(&caller);
    let scope = match scope {
        Ok(scope) => scope,
        Err(error) => return error.into_response(),
    };
    let changes_state = !matches!(method, Method::GET | Method::HEAD | Method::OPTIONS);
    if changes_state
        && let Some(token) = &cookie_token
        && !session_cookie::carries_csrf_token(request.headers(), token)
    {
        return audit
            .deny(
                Error::ForbiddenOther(format!(
                    "a request signed in by the console's cookie that may change state must carry \
                     the session's {} header",
                    session_cookie::CSRF_HEADER
                )),
                "",
            )
            .await;
    }
    if caller.token_scope() == TokenScope::MfaEnrollment && !enrollment_ok {
        return audit
            .deny(Error::ForbiddenOther(
                "this token may only enrol a second factor: run `casemate user mfa enable`, then sign in again".into(),
            ), "")
            .await;
    }
    if caller.run_id().is_some() && scope_template.is_none() && operation != "oauth2/userinfo/read"
    {
        return audit
            .deny(
                Error::ForbiddenOther("a run token may call only the APIs of its workspace".into()),
                "",
            )
            .await;
    }
    if scope_template.is_some()
        && let Err(error) = services.authorize(&caller, operation, &scope).await
    {
        tracing::info!(caller = %caller.principal_id, operation, %scope, "denied");
        return audit.deny(error, "").await;
    }
    // A request that may change something is recorded before it runs, so that if the log cannot
    // be written nothing happens.
    if changes_state
        && let Err(unavailable) = audit.record(Outcome::Started, 0, String::new()).await
    {
        return unavailable.into_response();
    }
    request.extensions_mut().insert(caller.clone());
    if let Some(token) = cookie_token {
        request
            .extensions_mut()
            .insert(session_cookie::CookieSession(token));
    }
    let response = if changes_state {
        next.run(request).await
    } else {
        Services::reading_kept(next.run(request)).await
    };
    let status = response.status();
    let outcome = if status.is_client_error() || status.is_server_error() {
        Outcome::Failed
    } else {
        Outcome::Succeeded
    };
    match audit.record(outcome, status.as_u16(), String::new()).await {
        Ok(()) => response,
        Err(unavailable) => unavailable.into_response(),
    }
}
