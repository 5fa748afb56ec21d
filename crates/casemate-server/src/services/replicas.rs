//! This process as one replica of those sharing the database. It holds a lease, renewed on a
//! timer; the runs it drives carry its id. A replica whose lease runs out (killed, cut off) has
//! its runs marked Failed by a live one: the end is a conditional update, so a run is ended once
//! however many replicas try, and none is left in flight.
//!
//! The replica's id lives in its home, so a restarted replica knows the runs of its previous life
//! at once instead of waiting for that lease to run out.

use super::Services;
use super::executor::{kill_process_group, process_has_environment};
use crate::error::{Error, Result};
use casemate_store::{ReplicaRecord, RunRecord};
use casemate_types::clock::unix_millis;
use casemate_types::wire::RunStatus;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// Who this process is among the replicas, fixed at start.
#[derive(Debug, Clone)]
pub struct Replica {
    pub id: String,
    pub host: String,
    /// How long a renewal holds; it is renewed three times within it.
    pub lease: Duration,
}

impl Replica {
    /// This home's replica: its id read from `{home}/replica-id`, written once on first start.
    pub fn of_home(home: &Path, lease: Duration) -> Result<Self> {
        let path = home.join("replica-id");
        let id = match std::fs::read_to_string(&path) {
            Ok(text) => Uuid::parse_str(text.trim())
                .map_err(|e| Error::internal(format!("{}: {e}", path.display())))?,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let id = Uuid::new_v4();
                let mut file = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&path)
                    .map_err(|e| Error::internal(format!("{}: {e}", path.display())))?;
                writeln!(file, "{id}")
                    .and_then(|()| file.sync_all())
                    .map_err(|e| Error::internal(format!("{}: {e}", path.display())))?;
                id
            }
            Err(error) => return Err(Error::internal(format!("{}: {error}", path.display()))),
        };
        Ok(Self {
            id: id.to_string(),
            host: gethostname::gethostname().to_string_lossy().into_owned(),
            lease,
        })
    }

    /// How often the lease is renewed and the other replicas' runs looked at.
    pub fn heartbeat(&self) -> Duration {
        (self.lease / 3).max(Duration::from_millis(500))
    }
}

impl Services {
    fn lease_expiry(&self) -> i64 {
        let lease = i64::try_from(self.replica.lease.as_millis()).unwrap_or(i64::MAX);
        unix_millis(self.now()).saturating_add(lease)
    }

    async fn register_replica(&self) -> Result<()> {
        let record = ReplicaRecord {
            id: self.replica.id.clone(),
            host: self.replica.host.clone(),
            pid: i64::from(std::process::id()),
            started_at: unix_millis(self.now()),
            lease_expires_at: self.lease_expiry(),
        };
        Ok(self.store.register_replica(&record).await?)
    }

    /// Start-up: takes a lease and ends the runs left in flight by this replica's previous life
    /// and by replicas whose lease ran out. An SQLite database is this process's alone, so every
    /// other lease ends first. Returns how many runs were ended.
    pub async fn join_replicas(&self) -> Result<usize> {
        if !self.store.is_shared() {
            self.store.expire_other_replicas(&self.replica.id).await?;
        }
        self.register_replica().await?;
        self.end_orphaned_runs(true).await
    }

    /// One beat: renews the lease (taking a new one if it ran out), ends the runs of replicas
    /// whose lease ran out, and stops the runs this process drives that were ended elsewhere.
    pub async fn replica_heartbeat(&self) -> Result<()> {
        let now = unix_millis(self.now());
        if !self
            .store
            .renew_replica_lease(&self.replica.id, now, self.lease_expiry())
            .await?
        {
            tracing::warn!(
                replica = %self.replica.id,
                "this replica's lease ran out before it was renewed; taking a new one"
            );
            self.register_replica().await?;
        }
        self.end_orphaned_runs(false).await?;
        // Read the runs this process drives before the database: a run is recorded before it
        // is driven, so one seen here and not in flight there has truly ended.
        let driven = self.runs.driven_runs();
        let in_flight = self.store.in_flight_runs_of(&self.replica.id).await?;
        self.runs
            .stop_ended_elsewhere(driven.into_iter().filter(|id| !in_flight.contains(id)));
        self.store.forget_expired_replicas(now).await?;
        Ok(())
    }

    /// Renews the lease every heartbeat until the server stops.
    pub fn spawn_replica_heartbeat(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let services = self.clone();
        tokio::spawn(async move {
            let mut beat = tokio::time::interval(services.replica.heartbeat());
            beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            beat.tick().await;
            loop {
                beat.tick().await;
                if let Err(error) = services.replica_heartbeat().await {
                    tracing::error!(%error, "replica heartbeat failed");
                }
            }
        })
    }

    /// Shutdown, once this process's runs have ended: the replica leaves.
    pub async fn leave_replicas(&self) {
        if let Err(error) = self.store.remove_replica(&self.replica.id).await {
            tracing::warn!(%error, "could not remove this replica's lease");
        }
    }

    async fn end_orphaned_runs(&self, at_start: bool) -> Result<usize> {
        let orphans = self
            .store
            .orphaned_runs(unix_millis(self.now()), &self.replica.id, at_start)
            .await?;
        let mut ended = 0;
        for run in &orphans {
            if self.end_orphaned_run(run).await? {
                ended += 1;
            }
        }
        Ok(ended)
    }

    /// Marks one orphaned run Failed (unless another replica just did) and stops what is left
    /// of it: its process group if it is on this machine, its Ray job.
    async fn end_orphaned_run(&self, run: &RunRecord) -> Result<bool> {
        let reason = match run.owner_replica.as_deref() {
            Some(owner) if owner == self.replica.id => format!(
                "the server stopped while the run was {}; casemate restarted and marked it Failed",
                run.status
            ),
            Some(owner) => format!(
                "replica {owner}, which drove the run, stopped renewing its lease while the run \
                 was {}; replica {} marked it Failed",
                run.status, self.replica.id
            ),
            None => format!(
                "the server that drove the run stopped while it was {}; replica {} marked it Failed",
                run.status, self.replica.id
            ),
        };
        let ended = self
            .store
            .finish_run(
                run.id,
                RunStatus::Failed.as_str(),
                Some(&reason),
                None,
                unix_millis(self.now()),
            )
            .await?;
        if !ended {
            return Ok(false);
        }
        if let Some(pid) = run.pid.and_then(|p| u32::try_from(p).ok())
            && process_has_environment(pid, &format!("CASEMATE_RUN_ID={}", run.id))
        {
            kill_process_group(pid);
        }
        if let Some(ray) = self.ray_of_compute(&run.workspace_id, &run.compute).await? {
            match self.ray_credential(&run.workspace_id, &ray).await {
                Ok(credential) => {
                    crate::ray::stop_orphaned_job(&ray.address, credential, run.id);
                }
                Err(error) => {
                    tracing::warn!(run = %run.id, %error, "could not stop the Ray job of an orphaned run");
                }
            }
        }
        // The scratch directory is in this home only if this replica drove the run.
        if run.owner_replica.as_deref() == Some(self.replica.id.as_str()) {
            let storage = self.workspace_storage_by_id(&run.workspace_id).await?;
            if storage.is_some_and(|s| s.hbi) {
                self.wipe_scratch(run.id).await;
            }
        }
        tracing::warn!(run = %run.id, owner = ?run.owner_replica, "orphaned run marked Failed");
        Ok(true)
    }
}
