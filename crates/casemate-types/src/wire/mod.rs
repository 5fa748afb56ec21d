//! Request and response bodies of the HTTP API.

pub mod auth;
pub mod principals;

pub use auth::*;
pub use principals::*;
