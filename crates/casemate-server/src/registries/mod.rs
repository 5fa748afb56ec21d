//! Container registries: the OCI distribution API for each registry resource. `api` is the HTTP
//! face, `service` the logic, `route` reads the path, `errors` the spec's error shape, `token` the Docker token flow,
//! `casemate_store::container_registries` the queries.

pub mod api;
pub mod errors;
pub mod route;
pub mod service;
pub mod token;
