//! Single sign-on through an OpenID provider (OpenID Connect's authorization-code flow with
//! PKCE). `config` is the `[sso]` settings, `provider` reaches the provider, `service` runs the
//! flow and maps subjects to users, `device` runs RFC 8628's device flow, `userinfo` reads the
//! groups claim a provider keeps out of its ID tokens, `api` is the HTTP face;
//! `casemate_store::sso` the queries.

pub mod api;
pub mod config;
pub mod device;
pub mod handoff;
pub mod provider;
pub mod refusal_page;
pub mod service;
pub mod userinfo;

pub use provider::Provider;
