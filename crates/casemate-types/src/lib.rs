//! Types shared by the casemate server and its clients: wire shapes, errors, names, the clock.

pub mod clock;
pub mod error;
pub mod names;
pub mod secret;
pub mod span;
pub mod wire;

pub use clock::{Clock, ManualClock, SystemClock};
pub use error::{ErrorBody, ErrorDetail};
pub use secret::Sensitive;
