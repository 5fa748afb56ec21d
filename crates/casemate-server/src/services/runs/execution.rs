//! How a submitted run is carried out: queued for its compute, prepared, executed while its
//! output is captured, then ended and recorded, each step persisted.

use super::StopRequest;
use crate::error::{Error, Result};
use crate::registries::image::RunImagePull;
use crate::services::Services;
use crate::services::computes::ComputeTarget;
use crate::services::executor::{Execution, Exit, Launch, make_private_dir};
use crate::services::masking::FetchedSecrets;
use crate::services::resources::WorkspaceStorage;
use crate::services::run_logs::LogWriter;
use casemate_store::{RunRecord, SnapshotRecord};
use casemate_types::Sensitive;
use casemate_types::clock::unix_millis;
use casemate_types::wire::RunStatus;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use uuid::Uuid;

/// Output is sealed and stored at least this often while a run writes.
const LOG_FLUSH: Duration = Duration::from_millis(250);

/// How a run ended, before it is recorded.
pub(super) struct Ending {
    status: RunStatus,
    reason: Option<String>,
    exit_code: Option<i64>,
}

impl Ending {
    fn failed(reason: impl Into<String>) -> Self {
        Self {
            status: RunStatus::Failed,
            reason: Some(reason.into()),
            exit_code: None,
        }
    }

    fn stopped(request: &StopRequest, phase: &str) -> Self {
        match request {
            StopRequest::Cancel { by } => Self {
                status: RunStatus::Canceled,
                reason: Some(format!("canceled by {by} while {phase}")),
                exit_code: None,
            },
            StopRequest::Shutdown => {
                Self::failed(format!("the server shut down while the run was {phase}"))
            }
            StopRequest::EndedElsewhere => Self::failed(format!(
                "the run was ended through another replica while it was {phase}"
            )),
        }
    }
}

/// What the lifecycle task carries.
pub(super) struct Prepared {
    pub(super) run: RunRecord,
    pub(super) storage: WorkspaceStorage,
    pub(super) snapshot: SnapshotRecord,
    pub(super) target: ComputeTarget,
    pub(super) environment: Vec<(String, Sensitive)>,
    pub(super) image: Option<RunImagePull>,
    /// The Ray cluster and this run's reservations, on a ray compute.
    pub(super) ray: Option<casemate_types::wire::RayCompute>,
    pub(super) secrets: Arc<FetchedSecrets>,
    pub(super) stop: watch::Receiver<Option<StopRequest>>,
    pub(super) ended: watch::Sender<bool>,
}

/// Resolves once a stop is requested (at once if one already was).
async fn expect_stop(stop: &mut watch::Receiver<Option<StopRequest>>) -> StopRequest {
    loop {
        if let Some(request) = stop.borrow_and_update().clone() {
            return request;
        }
        if stop.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

impl Services {
    /// The lifecycle of one run, from its queue to its end; every step is persisted.
    pub(super) async fn drive(self: Arc<Self>, mut prepared: Prepared) {
        let run_id = prepared.run.id;
        let mut log = LogWriter::new(run_id, &prepared.storage.id, prepared.secrets.clone());
        let ending = self.execute(&mut prepared, &mut log).await;
        let ending = match ending {
            Ok(ending) => ending,
            Err(error) => {
                tracing::warn!(run = %run_id, %error, "run failed in casemate");
                Ending::failed(format!("casemate could not run it: {error}"))
            }
        };
        if let Some(reason) = &ending.reason
            && let Err(error) = log.note(&self, &prepared.storage, reason).await
        {
            tracing::warn!(run = %run_id, %error, "could not store the run's last log line");
        }
        self.end_run(&prepared, ending).await;
    }

    async fn execute(&self, prepared: &mut Prepared, log: &mut LogWriter) -> Result<Ending> {
        let run_id = prepared.run.id;
        let deadline = tokio::time::Instant::now()
            + Duration::from_secs(u64::try_from(prepared.run.time_limit_seconds).unwrap_or(0));
        let limit_reached = || {
            Ending::failed(format!(
                "the time limit of {} seconds was reached",
                prepared.run.time_limit_seconds
            ))
        };

        let queue = self.runs.queue(&prepared.target);
        let _permit = tokio::select! {
            permit = queue.acquire_owned() => permit.map_err(Error::internal)?,
            request = expect_stop(&mut prepared.stop) => return Ok(Ending::stopped(&request, "Queued")),
            () = tokio::time::sleep_until(deadline) => return Ok(limit_reached()),
        };

        if !self
            .store
            .advance_run(run_id, RunStatus::Preparing.as_str(), None, None)
            .await?
        {
            return Ok(Ending::failed("the run ended while queued"));
        }
        let scratch = self.runs.runs_dir.join(run_id.simple().to_string());
        make_private_dir(&scratch)?;
        self.store
            .set_run_scratch(run_id, Some(&scratch.display().to_string()))
            .await?;
        if let Some(image) = &prepared.image {
            let resolved = tokio::select! {
                resolved = self.resolve_image(&image.reference, image.principal, &image.identity) => resolved,
                request = expect_stop(&mut prepared.stop) => return Ok(Ending::stopped(&request, "Preparing")),
                () = tokio::time::sleep_until(deadline) => return Ok(limit_reached()),
            };
            match resolved {
                Ok(digest) => {
                    self.store.set_run_image_digest(run_id, &digest).await?;
                    prepared.environment.extend([
                        (
                            "CASEMATE_IMAGE".into(),
                            Sensitive::new(image.reference.to_string()),
                        ),
                        ("CASEMATE_IMAGE_DIGEST".into(), Sensitive::new(digest)),
                    ]);
                }
                Err(reason) => return Ok(Ending::failed(reason)),
            }
        }
        tokio::select! {
            unpacked = self.unpack_snapshot(&prepared.storage, &prepared.snapshot, scratch.clone()) => unpacked?,
            request = expect_stop(&mut prepared.stop) => return Ok(Ending::stopped(&request, "Preparing")),
            () = tokio::time::sleep_until(deadline) => return Ok(limit_reached()),
        }
        make_private_dir(&scratch.join("outputs"))?;
        let ray_credential = match &prepared.ray {
            Some(ray) => match self.ray_credential(&prepared.storage.id, ray).await {
                Ok(credential) => credential,
                Err(error) => return Ok(Ending::failed(error.to_string())),
            },
            None => None,
        };

        let executor = self
            .runs
            .executors
            .get(prepared.target.kind.as_str())
            .cloned()
            .ok_or_else(|| {
                Error::internal(format!("no executor for kind {}", prepared.target.kind))
            })?;
        let execution = executor
            .launch(Launch {
                id: run_id,
                working_directory: scratch.clone(),
                command: prepared.run.command.clone(),
                environment: std::mem::take(&mut prepared.environment),
                ray: prepared.ray.clone(),
                ray_credential,
                remove_working_directory: prepared.storage.hbi,
            })
            .await?;
        let Execution {
            pid,
            mut output,
            mut exit,
            stop,
        } = execution;
        self.store
            .advance_run(
                run_id,
                RunStatus::Running.as_str(),
                Some(unix_millis(self.now())),
                pid.map(i64::from),
            )
            .await?;

        let mut flush = tokio::time::interval(LOG_FLUSH);
        let mut outcome: Option<Ending> = None;
        let mut exited: Option<Exit> = None;
        let mut output_open = true;
        while exited.is_none() || output_open {
            tokio::select! {
                chunk = output.recv(), if output_open => match chunk {
                    Some((stream, bytes)) => {
                        log.take(stream, &bytes);
                        if log.is_full() {
                            log.flush(self, &prepared.storage).await?;
                        }
                    }
                    None => output_open = false,
                },
                status = &mut exit, if exited.is_none() => {
                    exited = Some(status.unwrap_or_else(|_| Exit::Lost("the executor went away".into())));
                }
                _ = flush.tick() => log.flush(self, &prepared.storage).await?,
                request = expect_stop(&mut prepared.stop), if outcome.is_none() => {
                    stop();
                    outcome = Some(Ending::stopped(&request, "Running"));
                }
                () = tokio::time::sleep_until(deadline), if outcome.is_none() => {
                    stop();
                    outcome = Some(limit_reached());
                }
            }
        }
        log.finish(self, &prepared.storage).await?;
        self.upload_outputs(prepared, log, &scratch.join("outputs"))
            .await?;
        Ok(outcome.unwrap_or_else(|| match exited {
            Some(Exit::Code(0)) => Ending {
                status: RunStatus::Completed,
                reason: None,
                exit_code: Some(0),
            },
            Some(Exit::Code(code)) => Ending {
                status: RunStatus::Failed,
                reason: Some(format!("the command exited with code {code}")),
                exit_code: Some(i64::from(code)),
            },
            Some(Exit::Signal(signal)) => {
                Ending::failed(format!("the command was killed by signal {signal}"))
            }
            Some(Exit::Lost(why)) => {
                Ending::failed(format!("the command's end was not observed: {why}"))
            }
            None => Ending::failed("the command's end was not observed"),
        }))
    }

    /// Records the end (revoking the token), then tidies the scratch space and the registry.
    async fn end_run(&self, prepared: &Prepared, ending: Ending) {
        let run_id = prepared.run.id;
        let ended = self
            .store
            .finish_run(
                run_id,
                ending.status.as_str(),
                ending.reason.as_deref(),
                ending.exit_code,
                unix_millis(self.now()),
            )
            .await;
        if let Err(error) = ended {
            tracing::error!(run = %run_id, %error, "could not record the end of a run");
        }
        tracing::info!(run = %run_id, status = ending.status.as_str(), "run ended");
        if let Some(sealed) = &prepared.run.environment
            && let Err(error) = self.remask_environment(prepared, sealed).await
        {
            tracing::warn!(run = %run_id, %error, "could not re-mask the recorded environment");
        }
        if prepared.storage.hbi {
            self.wipe_scratch(run_id).await;
        }
        self.runs
            .active
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&run_id);
        prepared.ended.send_replace(true);
    }

    /// A secret the run fetched and then placed in its own environment is masked there too.
    async fn remask_environment(&self, prepared: &Prepared, sealed: &[u8]) -> Result<()> {
        let environment = self
            .open_environment(&prepared.storage, prepared.run.id, sealed)
            .await?;
        let masked: BTreeMap<String, String> = environment
            .iter()
            .map(|(name, value)| (name.clone(), prepared.secrets.mask_whole(value)))
            .collect();
        if masked != environment {
            let shown: BTreeMap<&str, &str> = masked
                .iter()
                .map(|(name, value)| (name.as_str(), value.as_str()))
                .collect();
            let resealed = self
                .seal_environment(&prepared.storage, prepared.run.id, &shown)
                .await?;
            self.store
                .set_run_environment(prepared.run.id, Some(&resealed))
                .await?;
        }
        Ok(())
    }

    pub(in crate::services) async fn wipe_scratch(&self, run_id: Uuid) {
        let scratch = self.runs.runs_dir.join(run_id.simple().to_string());
        match tokio::fs::remove_dir_all(&scratch).await {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => {
                tracing::warn!(run = %run_id, %error, "could not wipe a run's scratch directory");
                return;
            }
        }
        if let Err(error) = self.store.set_run_scratch(run_id, None).await {
            tracing::warn!(run = %run_id, %error, "could not record a wiped scratch directory");
        }
    }

    /// Uploads the files under `outputs/` as artifacts `runs/{run}/outputs/…`.
    async fn upload_outputs(
        &self,
        prepared: &Prepared,
        log: &mut LogWriter,
        outputs: &Path,
    ) -> Result<()> {
        let root = outputs.to_path_buf();
        let files = tokio::task::spawn_blocking(move || regular_files_under(&root))
            .await
            .map_err(Error::internal)?;
        for (relative, path) in files {
            let artifact = format!("runs/{}/outputs/{relative}", prepared.run.id);
            if let Err(error) = crate::services::blobs::validate_artifact_path(&artifact) {
                log.note(
                    self,
                    &prepared.storage,
                    &format!("output '{relative}' was not uploaded: {error}"),
                )
                .await?;
                continue;
            }
            let file = tokio::fs::File::open(&path)
                .await
                .map_err(|e| Error::internal(format!("reading output {relative}: {e}")))?;
            let body = tokio_util::io::ReaderStream::new(file);
            let stored = self
                .put_blob(
                    "",
                    &prepared.storage,
                    &format!("artifacts/{artifact}"),
                    body,
                    self.max_artifact_bytes,
                )
                .await;
            if let Err(error) = stored {
                log.note(
                    self,
                    &prepared.storage,
                    &format!("output '{relative}' was not uploaded: {error}"),
                )
                .await?;
            }
        }
        Ok(())
    }
}

/// The regular files under `root` (links are not followed), with their paths relative to it.
fn regular_files_under(root: &Path) -> Vec<(String, PathBuf)> {
    let mut found = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(directory) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&directory) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            let path = entry.path();
            if kind.is_dir() {
                pending.push(path);
            } else if kind.is_file()
                && let Ok(relative) = path.strip_prefix(root)
            {
                found.push((relative.to_string_lossy().into_owned(), path));
            }
        }
    }
    found.sort();
    found
}
