//! Runs on Ray: a compute of kind `ray` names an existing cluster's dashboard, and its runs are
//! submitted as Ray jobs through the Ray Jobs API. `package` builds the job's working
//! directory, `jobs` speaks the API, `executor` follows a job as the run lifecycle expects.

mod executor;
mod jobs;
mod package;

pub use executor::{RayExecutor, stop_orphaned_job};
