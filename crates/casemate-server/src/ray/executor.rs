//! The Ray executor: a run becomes a Ray job whose working directory is the run's snapshot
//! (with the SDK and the CA certificate), whose entrypoint is the run's command and whose
//! environment is the run's own (`CASEMATE_*`, the run token; never a secret value: the run
//! fetches secrets itself). Its log is followed by polling, its end read from the job's status,
//! and a stop stops the job.

use super::jobs::{JobInfo, JobSubmission, RayCluster};
use super::package::{self, CA_FILE, SDK_DIR};
use crate::error::{Error, Result};
use crate::services::executor::{Execution, Executor, Exit, Launch, OutputStream};
use bytes::Bytes;
use casemate_types::Sensitive;
use futures_util::future::BoxFuture;
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

const POLL: Duration = Duration::from_millis(300);
/// Polls in a row that may fail before the job is given up as lost.
const UNANSWERED_POLLS: u32 = 40;
/// Variables that name paths on the server's machine, which a Ray node does not have.
const CA_VARIABLES: [&str; 2] = ["CASEMATE_CA_CERT", "MLFLOW_TRACKING_SERVER_CERT_PATH"];
const HOST_ONLY: [&str; 2] = ["PATH", "HOME"];

pub struct RayExecutor {
    python_sdk_dir: PathBuf,
}

impl RayExecutor {
    pub fn new(python_sdk_dir: PathBuf) -> Self {
        Self { python_sdk_dir }
    }
}

/// The run's environment as the job gets it, and the CA file to carry in its package.
fn job_environment(
    launch: &Launch,
    sdk_dir: &std::path::Path,
) -> (serde_json::Map<String, serde_json::Value>, Option<PathBuf>) {
    let mut env = serde_json::Map::new();
    let mut ca = None;
    let sdk = sdk_dir.display().to_string();
    for (name, value) in &launch.environment {
        let value = value.expose();
        let carried = if HOST_ONLY.contains(&name.as_str()) {
            continue;
        } else if CA_VARIABLES.contains(&name.as_str()) {
            ca = Some(PathBuf::from(value));
            CA_FILE.to_owned()
        } else if name == "PYTHONPATH" {
            value
                .split(':')
                .map(|entry| if entry == sdk { SDK_DIR } else { entry })
                .collect::<Vec<_>>()
                .join(":")
        } else {
            value.to_owned()
        };
        env.insert(name.clone(), serde_json::Value::String(carried));
    }
    (env, ca)
}

/// The Ray job a run is: named by the run, so a restarted server finds it.
fn submission_id(run: uuid::Uuid) -> String {
    format!("casemate-{}", run.simple())
}

/// Stops the Ray job of a run a previous server process left in flight, in the background: a
/// cluster that does not answer must not hold up the start.
pub fn stop_orphaned_job(address: &str, credential: Option<Sensitive>, run: uuid::Uuid) {
    let cluster = match RayCluster::new(address, credential) {
        Ok(cluster) => cluster,
        Err(error) => {
            tracing::warn!(%run, %error, "could not stop the Ray job of an interrupted run");
            return;
        }
    };
    tokio::spawn(async move {
        let job = submission_id(run);
        match cluster.stop(&job).await {
            Ok(()) => tracing::info!(%run, %job, "stopped the Ray job of an interrupted run"),
            Err(error) => {
                tracing::warn!(%run, %job, %error, "could not stop the Ray job of an interrupted run");
            }
        }
    });
}

/// The run's command, then the upload of what it left in `outputs/` (the job's directory is on
/// a Ray node, out of the server's reach), ending with the command's own status. With
/// `remove_working_directory` the job's directory goes as the job ends, also when it is
/// stopped (Ray sends SIGTERM first).
fn entrypoint(command: &str, remove_working_directory: bool) -> String {
    let quoted = format!("'{}'", command.replace('\'', r"'\''"));
    let run = format!(
        "/bin/sh -c {quoted}; status=$?; python3 -m casemate._upload_outputs; exit $status"
    );
    if remove_working_directory {
        format!(
            r#"work="$PWD"; trap 'cd / && rm -rf "$work"' EXIT; trap 'exit 143' TERM INT HUP; {run}"#
        )
    } else {
        run
    }
}

fn exit_of(info: &JobInfo) -> Exit {
    match (info.status.as_str(), info.driver_exit_code) {
        (_, Some(code)) => Exit::Code(code),
        ("SUCCEEDED", None) => Exit::Code(0),
        ("STOPPED", None) => Exit::Lost("the Ray job was stopped".into()),
        _ => Exit::Lost(format!(
            "the Ray job failed: {}",
            info.message.as_deref().unwrap_or("no reason given")
        )),
    }
}

/// Follows the job: new log text as it appears, then its end.
async fn follow(
    cluster: RayCluster,
    submission_id: String,
    output: mpsc::Sender<(OutputStream, Bytes)>,
    exit: oneshot::Sender<Exit>,
) {
    let mut sent = 0usize;
    let mut unanswered = 0u32;
    let ended = loop {
        tokio::time::sleep(POLL).await;
        let polled = async {
            let info = cluster.job(&submission_id).await?;
            let logs = cluster.logs(&submission_id).await?;
            Ok::<_, Error>((info, logs))
        }
        .await;
        match polled {
            Ok((info, logs)) => {
                unanswered = 0;
                if logs.len() > sent && logs.is_char_boundary(sent) {
                    let fresh = Bytes::copy_from_slice(&logs.as_bytes()[sent..]);
                    sent = logs.len();
                    if output.send((OutputStream::Stdout, fresh)).await.is_err() {
                        break Exit::Lost("the run stopped listening".into());
                    }
                }
                if info.is_final() {
                    break exit_of(&info);
                }
            }
            Err(error) => {
                unanswered += 1;
                if unanswered >= UNANSWERED_POLLS {
                    break Exit::Lost(error.to_string());
                }
            }
        }
    };
    drop(output);
    let _ = exit.send(ended);
}

impl Executor for RayExecutor {
    fn kind(&self) -> &'static str {
        crate::services::computes::RAY
    }

    fn launch(&self, mut launch: Launch) -> BoxFuture<'static, Result<Execution>> {
        let sdk_dir = self.python_sdk_dir.clone();
        Box::pin(async move {
            let ray = launch
                .ray
                .clone()
                .ok_or_else(|| Error::internal("a ray launch without its cluster"))?;
            let cluster = RayCluster::new(&ray.address, launch.ray_credential.take())?;
            let (env_vars, ca) = job_environment(&launch, &sdk_dir);
            let working_directory = launch.working_directory.clone();
            let sdk_package = sdk_dir.join("casemate");
            let package = tokio::task::spawn_blocking(move || {
                package::build(launch.id, &working_directory, &sdk_package, ca.as_deref())
            })
            .await
            .map_err(Error::internal)??;
            cluster.upload_package(&package.name, package.bytes).await?;
            let submission_id = submission_id(launch.id);
            let entrypoint = entrypoint(&launch.command, launch.remove_working_directory);
            cluster
                .submit(&JobSubmission {
                    submission_id: &submission_id,
                    entrypoint: &entrypoint,
                    package: &package.name,
                    env_vars,
                    ray: &ray,
                })
                .await?;
            tracing::info!(id = %launch.id, job = %submission_id, address = %ray.address, "Ray job submitted");
            let (sender, output) = mpsc::channel(64);
            let (exit_sender, exit) = oneshot::channel();
            tokio::spawn(follow(
                cluster.clone(),
                submission_id.clone(),
                sender,
                exit_sender,
            ));
            let stop: Box<dyn Fn() + Send + Sync> = Box::new(move || {
                let cluster = cluster.clone();
                let submission_id = submission_id.clone();
                tokio::spawn(async move {
                    if let Err(error) = cluster.stop(&submission_id).await {
                        tracing::warn!(job = %submission_id, %error, "could not stop a Ray job");
                    }
                });
            });
            Ok(Execution {
                pid: None,
                output,
                exit,
                stop,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_entrypoint_runs_the_command_as_given_and_ends_with_its_status() {
        let output = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(entrypoint(r#"echo "it's $((6 * 7))"; exit 7"#, false))
            .env("PYTHONPATH", "/nonexistent")
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&output.stdout), "it's 42\n");
        assert_eq!(output.status.code(), Some(7));
    }

    #[test]
    fn an_hbi_entrypoint_removes_its_directory_and_keeps_the_status() {
        let work = tempfile::tempdir().unwrap();
        let job = work.path().join("job");
        std::fs::create_dir(&job).unwrap();
        std::fs::write(job.join("train.py"), "data").unwrap();
        let output = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(entrypoint("cat train.py; exit 5", true))
            .current_dir(&job)
            .env("PYTHONPATH", "/nonexistent")
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&output.stdout), "data");
        assert_eq!(output.status.code(), Some(5));
        assert!(!job.exists());
    }
}
