//! Web services: registered model versions deployed as scoring endpoints guarded by the
//! service's own keys or tokens, with every scoring request in the scoring log. `api` is the
//! HTTP face, `service` the logic, `credentials` its keys and tokens, `supervisor` keeps the scoring processes running, `proxy`
//! reaches them, `scoring_log` records each request, `casemate_store::webservices` the queries.

pub mod api;
pub mod credentials;
pub mod proxy;
pub mod scoring_log;
pub mod service;
pub mod supervisor;

pub use credentials::ScoringTarget;
pub use supervisor::Runtime;
