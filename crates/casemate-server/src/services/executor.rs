//! Executors run a prepared run somewhere. The run lifecycle talks only to [`Executor`], so an
//! engine other than the built-in local one (Ray's, in `crate::ray`) plugs in here.

use crate::error::{Error, Result};
use bytes::Bytes;
use casemate_types::Sensitive;
use futures_util::future::BoxFuture;
use std::path::PathBuf;
use std::process::Stdio;
use tokio::io::AsyncReadExt;
use tokio::sync::{mpsc, oneshot};

/// Everything an executor needs to start one run or one web service's scoring process.
pub struct Launch {
    /// The run's or the service's id, for the engine's own records.
    pub id: uuid::Uuid,
    /// The directory holding the unpacked snapshot; the command starts here.
    pub working_directory: PathBuf,
    /// A shell command line.
    pub command: String,
    /// The whole environment of the run: nothing else is inherited.
    pub environment: Vec<(String, Sensitive)>,
    /// A Ray compute's cluster, for the Ray executor.
    pub ray: Option<casemate_types::wire::RayCompute>,
    /// The credential that cluster's dashboard wants (from the workspace's vault).
    pub ray_credential: Option<Sensitive>,
    /// The engine removes the working directory as the run ends (hbi workspaces). The local
    /// executor's is the run's scratch, which the run's lifecycle wipes itself.
    pub remove_working_directory: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputStream {
    Stdout,
    Stderr,
}

impl OutputStream {
    pub fn as_str(self) -> &'static str {
        match self {
            OutputStream::Stdout => "stdout",
            OutputStream::Stderr => "stderr",
        }
    }
}

/// How the user's process ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(i32),
    Lost(String),
}

/// A started run: its output as it comes, its end, and a way to stop it.
pub struct Execution {
    /// The process id on this machine, when the engine has one (recorded so a restarted server
    /// can stop what a crashed one left behind).
    pub pid: Option<u32>,
    pub output: mpsc::Receiver<(OutputStream, Bytes)>,
    pub exit: oneshot::Receiver<Exit>,
    pub stop: Box<dyn Fn() + Send + Sync>,
}

pub trait Executor: Send + Sync {
    /// The engine's name, as computes name it (`local`).
    fn kind(&self) -> &'static str;
    fn launch(&self, launch: Launch) -> BoxFuture<'static, Result<Execution>>;
}

/// Runs each run as a child process in its own process group, so stopping it stops everything
/// it started.
pub struct LocalExecutor;

/// Kills a whole process group; a group already gone is fine.
pub fn kill_process_group(pid: u32) {
    let Some(pid) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    else {
        return;
    };
    let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
}

/// Whether process `pid` has `entry` (`NAME=value`) in its environment: how a restarted server
/// tells a process it started (a run's, a service's) from another that reused the pid.
pub fn process_has_environment(pid: u32, entry: &str) -> bool {
    std::fs::read(format!("/proc/{pid}/environ"))
        .map(|environ| {
            environ
                .split(|b| *b == 0)
                .any(|found| found == entry.as_bytes())
        })
        .unwrap_or(false)
}

/// Creates `path` (and its parents) readable by the server's user only.
pub fn make_private_dir(path: &std::path::Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .map_err(|e| Error::internal(format!("creating {}: {e}", path.display())))
}

fn pump<R: tokio::io::AsyncRead + Unpin + Send + 'static>(
    mut reader: R,
    stream: OutputStream,
    sender: mpsc::Sender<(OutputStream, Bytes)>,
) {
    tokio::spawn(async move {
        let mut buffer = vec![0u8; 16 * 1024];
        loop {
            match reader.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(read) => {
                    let bytes = Bytes::copy_from_slice(&buffer[..read]);
                    if sender.send((stream, bytes)).await.is_err() {
                        break;
                    }
                }
            }
        }
    });
}

impl Executor for LocalExecutor {
    fn kind(&self) -> &'static str {
        "local"
    }

    fn launch(&self, launch: Launch) -> BoxFuture<'static, Result<Execution>> {
        Box::pin(async move {
            let mut command = tokio::process::Command::new("/bin/sh");
            command
                .arg("-c")
                .arg(&launch.command)
                .current_dir(&launch.working_directory)
                .env_clear()
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .process_group(0)
                .kill_on_drop(false);
            for (name, value) in &launch.environment {
                command.env(name, value.expose());
            }
            let mut child = command
                .spawn()
                .map_err(|e| Error::internal(format!("cannot start the run's process: {e}")))?;
            let pid = child.id();
            let (sender, output) = mpsc::channel(64);
            if let Some(stdout) = child.stdout.take() {
                pump(stdout, OutputStream::Stdout, sender.clone());
            }
            if let Some(stderr) = child.stderr.take() {
                pump(stderr, OutputStream::Stderr, sender);
            }
            let (exit_sender, exit) = oneshot::channel();
            tokio::spawn(async move {
                let status = child.wait().await;
                // Whatever the run left running in its group goes with it.
                if let Some(pid) = pid {
                    kill_process_group(pid);
                }
                let exit = match status {
                    Ok(status) => match (
                        status.code(),
                        std::os::unix::process::ExitStatusExt::signal(&status),
                    ) {
                        (Some(code), _) => Exit::Code(code),
                        (None, Some(signal)) => Exit::Signal(signal),
                        (None, None) => Exit::Lost("no exit status".into()),
                    },
                    Err(error) => Exit::Lost(error.to_string()),
                };
                let _ = exit_sender.send(exit);
            });
            let stop: Box<dyn Fn() + Send + Sync> = match pid {
                Some(pid) => Box::new(move || kill_process_group(pid)),
                None => Box::new(|| {}),
            };
            tracing::info!(id = %launch.id, pid, "process started");
            Ok(Execution {
                pid,
                output,
                exit,
                stop,
            })
        })
    }
}
