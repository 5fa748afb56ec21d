//! The gate: every request passes here, in this order: request id, the route-to-action table,
//! authentication, authorization. Then, and only then, the handler.

pub mod extract;
mod middleware;
mod scoring;
pub mod session_cookie;
mod sign_in;
pub mod table;

pub use middleware::{RequestContext, gate, request_context};
pub use table::{Access, ROUTES, RouteRule};

/// The id of one request: taken from `x-request-id` when well-formed, made otherwise.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// The client's address, as the listener saw it.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddress(pub std::net::IpAddr);

/// The request body limit in force, for error messages.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

/// Which table row answered a request, for the metrics the outer layer records.
#[derive(Debug, Clone, Copy)]
pub struct AnsweredRoute {
    pub route: &'static str,
    /// The action the row demands, when it demands one.
    pub action: Option<&'static str>,
}
