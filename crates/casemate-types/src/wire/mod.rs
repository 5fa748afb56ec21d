//! Request and response bodies of the HTTP API.

pub mod auth;
pub mod identities;
pub mod mlflow;
pub mod mlflow_io;
pub mod monitoring;
pub mod principals;
pub mod registries;
pub mod resources;
pub mod runs;
pub mod vault;
pub mod webservices;

pub use auth::*;
pub use identities::*;
pub use monitoring::*;
pub use principals::*;
pub use registries::*;
pub use resources::*;
pub use runs::*;
pub use vault::*;
pub use webservices::*;
