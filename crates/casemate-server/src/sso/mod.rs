//! Single sign-on through an OpenID provider (OpenID Connect's authorization-code flow with
//! PKCE). `config` is the `[sso]` settings, `provider` reaches the provider, `service` runs the
//! flow and maps subjects to users, `api` is the HTTP face; `casemate_store::sso` the queries.

pub mod api;
pub mod config;
pub mod device;
pub mod handoff;
pub mod provider;
pub mod service;

pub use provider::Provider;
