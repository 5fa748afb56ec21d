//! Managed identities: user-assigned identities as resources, computes' identities, and tokens
//! minted as an identity for the runs that hold it. `api` is the HTTP face, `service` the logic;
//! identities are resources and principals in the store, so they need no queries of their own.

pub mod api;
pub mod service;
