//! Keeps each service's scoring process running: lays out its files, starts it through the
//! compute's [`Executor`](crate::services::executor::Executor), waits until it answers, restarts
//! it with back-off when it dies, and hands over to a new process (a rolling update) only once the
//! new one answers.

use super::proxy::{Backend, InFlight};
use super::service::{Definition, STATE_HEALTHY, STATE_UNHEALTHY};
use crate::error::{Error, Result};
use crate::services::Services;
use crate::services::executor::{Exit, Launch, kill_process_group, make_private_dir};
use casemate_store::ServiceState;
use casemate_types::Sensitive;
use casemate_types::clock::unix_millis;
use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::sync::{oneshot, watch};

/// How long a new process may take to answer its first health check (importing mlflow and
/// scikit-learn takes seconds).
const READY_TIMEOUT: Duration = Duration::from_secs(300);
const READY_POLL: Duration = Duration::from_millis(100);
/// Back-off between restarts: doubling from the first to the last.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const LAST_BACKOFF: Duration = Duration::from_secs(60);
/// A process that answered this long before dying restarts after the first back-off again.
const STABLE_AFTER: Duration = Duration::from_secs(60);
/// How long an old process may finish its requests after a newer one took over.
const DRAIN: Duration = Duration::from_secs(30);
/// The console keeps this many bytes of the process's latest output.
const CONSOLE_BYTES: usize = 64 * 1024;
/// A unix socket's path must fit in `sockaddr_un` (108 bytes with its terminator).
const MAX_SOCKET_PATH: usize = 100;

/// The process answering a service's requests now.
pub struct Live {
    pub generation: u64,
    pub pid: Option<u32>,
    pub backend: Backend,
}

/// The latest output of a service's processes, oldest first.
#[derive(Default)]
struct Console {
    bytes: VecDeque<u8>,
}

impl Console {
    fn push(&mut self, chunk: &[u8]) {
        self.bytes.extend(chunk);
        let excess = self.bytes.len().saturating_sub(CONSOLE_BYTES);
        self.bytes.drain(..excess);
    }

    fn text(&self) -> String {
        let (front, back) = self.bytes.as_slices();
        let mut all = front.to_vec();
        all.extend_from_slice(back);
        String::from_utf8_lossy(&all).into_owned()
    }

    /// Why a process that ended early gave up: its `casemate-scoring:` line, or its last lines.
    fn last_words(&self) -> String {
        let text = self.text();
        if let Some(line) = text
            .lines()
            .rev()
            .find_map(|line| line.strip_prefix("casemate-scoring: "))
            .filter(|line| !line.starts_with("ready on "))
        {
            return line.to_owned();
        }
        let lines: Vec<&str> = text.lines().rev().take(5).collect();
        lines.into_iter().rev().collect::<Vec<_>>().join(" | ")
    }
}

/// One service on this server: the process in charge, its console, and the supervisor to stop.
#[derive(Default)]
pub struct Deployment {
    current: RwLock<Option<Arc<Live>>>,
    console: Mutex<Console>,
    generations: AtomicU64,
    /// The stop signal of each supervisor still running, by generation.
    supervisors: Mutex<HashMap<u64, watch::Sender<bool>>>,
    /// Held by whoever changes what runs (deploy, update, delete), one at a time.
    pub changing: tokio::sync::Mutex<()>,
}

impl Deployment {
    /// The process in charge, with a request counted in flight on it: counted under the same
    /// lock a hand-over takes, so a process taken out of service drains exactly what it was given.
    pub fn acquire(&self) -> Option<(Arc<Live>, InFlight)> {
        let current = self.current.read().unwrap_or_else(|p| p.into_inner());
        current.as_ref().map(|live| {
            let counted = live.backend.enter();
            (live.clone(), counted)
        })
    }

    fn install(&self, live: Arc<Live>) -> Option<Arc<Live>> {
        self.current
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .replace(live)
    }

    /// Takes the process of `generation` out of service, if it is the one in charge.
    fn withdraw(&self, generation: u64) {
        let mut current = self.current.write().unwrap_or_else(|p| p.into_inner());
        if current
            .as_ref()
            .is_some_and(|live| live.generation == generation)
        {
            *current = None;
        }
    }

    fn console(&self) -> std::sync::MutexGuard<'_, Console> {
        self.console.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn console_text(&self) -> String {
        self.console().text()
    }

    fn supervisors(&self) -> std::sync::MutexGuard<'_, HashMap<u64, watch::Sender<bool>>> {
        self.supervisors.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Stops every supervisor, and so every process, of this service. The process in charge
    /// is killed here and now, so none outlives a server that exits right after.
    fn stop(&self) {
        for (_, stop) in self.supervisors().drain() {
            let _ = stop.send(true);
        }
        let current = self
            .current
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(pid) = current.and_then(|live| live.pid) {
            kill_process_group(pid);
        }
    }
}

/// Every service this server runs, by service id, and where their files go.
pub struct Runtime {
    directory: PathBuf,
    python_sdk_dir: PathBuf,
    deployments: Mutex<HashMap<String, Arc<Deployment>>>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("directory", &self.directory)
            .finish_non_exhaustive()
    }
}

impl Runtime {
    pub fn new(directory: PathBuf, python_sdk_dir: PathBuf) -> Self {
        Self {
            directory,
            python_sdk_dir,
            deployments: Mutex::new(HashMap::new()),
        }
    }

    fn deployments(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Deployment>>> {
        self.deployments.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn deployment(&self, service_id: &str) -> Arc<Deployment> {
        self.deployments()
            .entry(service_id.to_owned())
            .or_default()
            .clone()
    }

    pub fn existing(&self, service_id: &str) -> Option<Arc<Deployment>> {
        self.deployments().get(service_id).cloned()
    }

    /// Stops a service's processes and forgets it.
    pub fn remove(&self, service_id: &str) {
        if let Some(deployment) = self.deployments().remove(service_id) {
            deployment.stop();
        }
    }

    /// Stops every service's processes (server shutdown).
    pub fn stop_all(&self) {
        for deployment in self.deployments().drain().map(|(_, d)| d) {
            deployment.stop();
        }
    }
}

/// Resolves once the supervisor is told to stop (or its stopper is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

fn backoff_after(restarts: u32) -> Duration {
    FIRST_BACKOFF
        .saturating_mul(1u32 << restarts.min(6))
        .min(LAST_BACKOFF)
}

/// Starts a supervisor for `definition` and returns its generation. With `first`, it reports
/// whether its first process came up, and gives up if not; otherwise it restarts every process
/// that dies, with back-off. It is in charge (its process answers) from its first answer on;
/// the ones before it stop when [`take_charge`] is called.
pub fn supervise(
    services: &Arc<Services>,
    deployment: &Arc<Deployment>,
    definition: Definition,
    first: Option<oneshot::Sender<std::result::Result<(), String>>>,
) -> u64 {
    let (stop_sender, stop) = watch::channel(false);
    let generation = deployment.generations.fetch_add(1, Ordering::AcqRel) + 1;
    deployment.supervisors().insert(generation, stop_sender);
    let supervisor = Supervisor {
        services: services.clone(),
        deployment: deployment.clone(),
        definition,
        stop,
    };
    tokio::spawn(supervisor.run(generation, first));
    generation
}

/// Stops every supervisor of `deployment` but the one of `generation`.
pub fn take_charge(deployment: &Deployment, generation: u64) {
    deployment.supervisors().retain(|other, stop| {
        let keep = *other == generation;
        if !keep {
            let _ = stop.send(true);
        }
        keep
    });
}

/// Stops the supervisor of `generation` (one whose first process failed).
pub fn abandon(deployment: &Deployment, generation: u64) {
    if let Some(stop) = deployment.supervisors().remove(&generation) {
        let _ = stop.send(true);
    }
}

struct Supervisor {
    services: Arc<Services>,
    deployment: Arc<Deployment>,
    definition: Definition,
    stop: watch::Receiver<bool>,
}

/// How one process ended.
enum Ended {
    /// casemate stopped it (delete, shutdown, or a newer process took over).
    Stopped,
    /// It died or never answered; the reason is for the service's state.
    Died(String),
}

impl Supervisor {
    async fn run(
        mut self,
        generation: u64,
        mut first: Option<oneshot::Sender<std::result::Result<(), String>>>,
    ) {
        let mut restarts: u32 = 0;
        loop {
            let started = tokio::time::Instant::now();
            let mut answered = false;
            let ended = self
                .one_process(generation, &mut first, &mut answered)
                .await;
            let Ended::Died(reason) = ended else {
                return;
            };
            if let Some(first) = first.take() {
                let _ = first.send(Err(reason));
                return;
            }
            if answered && started.elapsed() >= STABLE_AFTER {
                restarts = 0;
            }
            let wait = backoff_after(restarts);
            restarts = restarts.saturating_add(1);
            let reason = format!(
                "{reason}; restarting in {} s (restart {restarts})",
                wait.as_secs()
            );
            tracing::warn!(service = %self.definition.name, %reason, "scoring process ended");
            self.note_state(STATE_UNHEALTHY, &reason, None, true).await;
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = stopped(&mut self.stop) => return,
            }
        }
    }

    async fn note_state(&self, state: &str, reason: &str, pid: Option<u32>, restarted: bool) {
        let change = ServiceState {
            state,
            reason,
            pid: pid.map(i64::from),
            restarted,
            time_ms: unix_millis(self.services.now()),
        };
        if let Err(error) = self
            .services
            .store
            .set_web_service_state(&self.definition.id, &change)
            .await
        {
            tracing::warn!(service = %self.definition.name, %error, "could not record the service's state");
        }
    }

    /// Starts one process and follows it until it ends or is stopped.
    async fn one_process(
        &mut self,
        generation: u64,
        first: &mut Option<oneshot::Sender<std::result::Result<(), String>>>,
        answered: &mut bool,
    ) -> Ended {
        let runtime = &self.services.webservices;
        let directory = runtime
            .directory
            .join(&self.definition.id)
            .join(generation.to_string());
        let socket = runtime.directory.join(format!(
            "{}-{generation}.sock",
            &self.definition.id[..12.min(self.definition.id.len())]
        ));
        let ended = match self.prepare(&directory, &socket).await {
            Ok(launch) => {
                self.follow(launch, generation, socket.clone(), first, answered)
                    .await
            }
            Err(error) => Ended::Died(format!("cannot prepare the scoring process: {error}")),
        };
        if let Err(error) = tokio::fs::remove_dir_all(&directory).await
            && error.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(directory = %directory.display(), %error, "could not remove a scoring process's files");
        }
        let _ = tokio::fs::remove_file(&socket).await;
        // The service's own directory goes with its last process (removing a non-empty one fails).
        if let Some(parent) = directory.parent() {
            let _ = tokio::fs::remove_dir(parent).await;
        }
        ended
    }

    /// Lays out the model files and code, and says how to start the process.
    async fn prepare(&self, directory: &Path, socket: &Path) -> Result<Launch> {
        if socket.as_os_str().len() > MAX_SOCKET_PATH {
            return Err(Error::internal(format!(
                "the socket path {} is longer than {MAX_SOCKET_PATH} bytes: use a shorter CASEMATE_HOME",
                socket.display()
            )));
        }
        let definition = &self.definition;
        let models = directory.join("models");
        let source = directory.join("source");
        make_private_dir(&models)?;
        let storage = self
            .services
            .workspace_storage_by_id(&definition.workspace_id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("workspace {}", definition.workspace_id)))?;
        for model in &definition.models {
            let target = models.join(&model.name).join(model.version.to_string());
            make_private_dir(&target)?;
            let found = self
                .services
                .download_tree(&storage, &model.files, &target)
                .await?;
            if found == 0 {
                return Err(Error::internal(format!(
                    "version {} of model '{}' has no files at its source",
                    model.version, model.name
                )));
            }
        }
        make_private_dir(&source)?;
        if let Some(snapshot) = &definition.snapshot {
            let record = self.services.snapshot_record(&storage, snapshot).await?;
            self.services
                .unpack_snapshot(&storage, &record, source.clone())
                .await?;
        }
        let model_dir = match definition.models.as_slice() {
            [only] => models.join(&only.name).join(only.version.to_string()),
            _ => models.clone(),
        };
        let runtime = &self.services.webservices;
        let mut environment: Vec<(String, Sensitive)> = vec![
            (
                "PATH".into(),
                Sensitive::new(
                    std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".into()),
                ),
            ),
            (
                "HOME".into(),
                Sensitive::new(directory.display().to_string()),
            ),
            ("LANG".into(), Sensitive::new("C.UTF-8")),
            ("PYTHONUNBUFFERED".into(), Sensitive::new("1")),
            (
                "PYTHONPATH".into(),
                Sensitive::new(format!(
                    "{}:{}",
                    source.display(),
                    runtime.python_sdk_dir.display()
                )),
            ),
            (
                "CASEMATE_SERVICE_ID".into(),
                Sensitive::new(definition.id.clone()),
            ),
            (
                "CASEMATE_REPLICA_ID".into(),
                Sensitive::new(self.services.replica.id.clone()),
            ),
            (
                "CASEMATE_SERVICE_NAME".into(),
                Sensitive::new(definition.name.clone()),
            ),
            (
                "CASEMATE_MODEL_KIND".into(),
                Sensitive::new(definition.kind.clone()),
            ),
            (
                "CASEMATE_MODEL_DIR".into(),
                Sensitive::new(model_dir.display().to_string()),
            ),
            (
                "CASEMATE_SCORING_SOCKET".into(),
                Sensitive::new(socket.display().to_string()),
            ),
        ];
        if let Some(script) = &definition.entry_script {
            environment.push((
                "CASEMATE_ENTRY_SCRIPT".into(),
                Sensitive::new(source.join(script).display().to_string()),
            ));
        }
        Ok(Launch {
            id: definition.uuid,
            working_directory: source,
            command: format!("exec '{}' -m casemate._scoring_server", definition.python),
            environment,
            ray: None,
            ray_credential: None,
            remove_working_directory: false,
        })
    }

    /// Runs one process: waits until it answers, puts it in charge, then follows it to its end.
    async fn follow(
        &mut self,
        launch: Launch,
        generation: u64,
        socket: PathBuf,
        first: &mut Option<oneshot::Sender<std::result::Result<(), String>>>,
        answered: &mut bool,
    ) -> Ended {
        let executor = match self
            .services
            .runs
            .executors
            .get(self.definition.compute_type.as_str())
        {
            Some(executor) => executor.clone(),
            None => {
                return Ended::Died(format!(
                    "no executor for compute type '{}'",
                    self.definition.compute_type
                ));
            }
        };
        let execution = match executor.launch(launch).await {
            Ok(execution) => execution,
            Err(error) => return Ended::Died(error.to_string()),
        };
        let mut output = execution.output;
        let mut exit = execution.exit;
        let stop = execution.stop;
        let pid = execution.pid;
        let live = Arc::new(Live {
            generation,
            pid,
            backend: Backend::new(socket),
        });
        let deployment = self.deployment.clone();
        let deadline = tokio::time::Instant::now() + READY_TIMEOUT;
        let mut poll = tokio::time::interval(READY_POLL);
        let mut output_open = true;
        let mut exited: Option<Exit> = None;
        // Until it answers.
        while !*answered {
            tokio::select! {
                chunk = output.recv(), if output_open => match chunk {
                    Some((_, bytes)) => deployment.console().push(&bytes),
                    None => output_open = false,
                },
                status = &mut exit, if exited.is_none() => {
                    exited = Some(status.unwrap_or_else(|_| Exit::Lost("the executor went away".into())));
                }
                _ = poll.tick() => {
                    if exited.is_none() && live.backend.ping().await {
                        *answered = true;
                    }
                }
                () = stopped(&mut self.stop) => {
                    stop();
                    return Ended::Stopped;
                }
            }
            if let Some(status) = &exited
                && !output_open
            {
                return Ended::Died(self.died(status));
            }
            if tokio::time::Instant::now() >= deadline {
                stop();
                return Ended::Died(format!(
                    "the scoring process did not answer within {} s",
                    READY_TIMEOUT.as_secs()
                ));
            }
        }
        let previous = self.deployment.install(live.clone());
        self.note_state(STATE_HEALTHY, "", pid, false).await;
        if let Some(first) = first.take() {
            let _ = first.send(Ok(()));
        }
        if let Some(previous) = previous {
            tracing::info!(service = %self.definition.name, generation, "a newer scoring process took over");
            drop(previous);
        }
        // In charge until it dies or is stopped.
        loop {
            tokio::select! {
                chunk = output.recv(), if output_open => match chunk {
                    Some((_, bytes)) => deployment.console().push(&bytes),
                    None => output_open = false,
                },
                status = &mut exit, if exited.is_none() => {
                    exited = Some(status.unwrap_or_else(|_| Exit::Lost("the executor went away".into())));
                    self.deployment.withdraw(generation);
                }
                () = stopped(&mut self.stop) => {
                    self.deployment.withdraw(generation);
                    let drained = tokio::time::Instant::now() + DRAIN;
                    while live.backend.in_flight() > 0 && tokio::time::Instant::now() < drained {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    stop();
                    if let Some(pid) = pid {
                        kill_process_group(pid);
                    }
                    return Ended::Stopped;
                }
            }
            if let Some(status) = &exited
                && !output_open
            {
                return Ended::Died(self.died(status));
            }
        }
    }

    fn died(&self, status: &Exit) -> String {
        let how = match status {
            Exit::Code(code) => format!("the scoring process exited with code {code}"),
            Exit::Signal(signal) => format!("the scoring process was killed by signal {signal}"),
            Exit::Lost(why) => format!("the scoring process's end was not observed: {why}"),
        };
        let words = self.deployment.console().last_words();
        if words.is_empty() {
            how
        } else {
            format!("{how}: {words}")
        }
    }
}
