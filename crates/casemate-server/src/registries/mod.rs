//! Container registries: the OCI distribution API for each registry resource. `api` is the HTTP
//! face, `service` the logic, `route` reads the path, `errors` the spec's error shape, `token` the Docker token flow,
//! `casemate_store::container_registries` the queries. The registries themselves, as resources
//! with an admin user, are `resource` (logic) and `resource_api` (HTTP); `image` resolves a run's
//! base image through its compute's identity.

pub mod api;
pub mod errors;
pub mod image;
pub mod resource;
pub mod resource_api;
pub mod route;
pub mod service;
pub mod token;
