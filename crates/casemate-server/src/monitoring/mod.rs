//! Monitoring: this process's Prometheus metrics, and each workspace's metrics over time
//! (runs by status, model registrations, deployments). `api` is its HTTP face, `service` its
//! logic, `casemate_store::monitoring` its queries.

pub mod api;
pub mod metrics;
pub mod service;

pub use metrics::{MetricOutcome, Metrics};
