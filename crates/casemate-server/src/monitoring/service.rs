//! Workspace metrics (counts over time) and the Prometheus scrape.

use super::metrics::MetricOutcome;
use crate::error::{Error, Result};
use crate::services::Services;
use crate::services::resources::WorkspaceStorage;
use casemate_store::WorkspaceEventRecord;
use casemate_types::clock::{from_unix_millis, unix_millis};
use casemate_types::span::parse_span;
use casemate_types::wire::{RunStatus, WorkspaceCounts, WorkspaceMetrics, WorkspaceMetricsBucket};
use std::collections::BTreeMap;

/// Kinds of workspace event.
pub const MODEL_REGISTRATION: &str = "model_registration";
pub const DEPLOYMENT: &str = "deployment";

const MAX_SINCE_SECONDS: u64 = 400 * 86_400;
const MAX_BUCKETS: u64 = 1_000;

/// `?since=24h&interval=1h`.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceMetricsQuery {
    /// How far back: a whole number and s, m, h or d (default 24h, at most 400d).
    pub since: Option<String>,
    /// The width of each bucket, in the same form (default: the whole window in 24 buckets).
    pub interval: Option<String>,
}

/// The window's length and its buckets' width, in seconds.
fn window(query: &WorkspaceMetricsQuery) -> Result<(u64, u64)> {
    let since = parse_span("since", query.since.as_deref().unwrap_or("24h"))?;
    if !(60..=MAX_SINCE_SECONDS).contains(&since) {
        return Err(Error::invalid("since", "must be between 1m and 400d"));
    }
    let interval = match query.interval.as_deref() {
        Some(text) => parse_span("interval", text)?,
        None => since.div_ceil(24),
    };
    if interval == 0 || interval > since {
        return Err(Error::invalid(
            "interval",
            "must be at least 1s and at most the window given by since",
        ));
    }
    if since.div_ceil(interval) > MAX_BUCKETS {
        return Err(Error::invalid(
            "interval",
            format!("gives more than {MAX_BUCKETS} buckets over the window: choose a wider one"),
        ));
    }
    Ok((since, interval))
}

fn time_of(millis: i64) -> Result<time::OffsetDateTime> {
    from_unix_millis(millis).ok_or_else(|| Error::internal(format!("{millis} ms is not a time")))
}

fn count_event(counts: &mut WorkspaceCounts, event: &WorkspaceEventRecord) {
    let succeeded = event.outcome == MetricOutcome::Succeeded.as_str();
    let slot = match (event.kind.as_str(), succeeded) {
        (MODEL_REGISTRATION, true) => &mut counts.model_registrations_succeeded,
        (MODEL_REGISTRATION, false) => &mut counts.model_registrations_failed,
        (DEPLOYMENT, true) => &mut counts.deployments_succeeded,
        (DEPLOYMENT, false) => &mut counts.deployments_failed,
        _ => return,
    };
    *slot += 1;
}

/// Counts kept per bucket, and for the whole window beside them.
struct Tally {
    start_ms: i64,
    /// The window's end, which the last bucket includes: what happened this very millisecond counts.
    end_ms: i64,
    width_ms: i64,
    buckets: Vec<WorkspaceCounts>,
    totals: WorkspaceCounts,
}

impl Tally {
    /// Adds one to the bucket holding `at` (and to the totals) when it is in the window.
    fn add(&mut self, at: Option<i64>, add: impl Fn(&mut WorkspaceCounts)) {
        let Some(at) = at.filter(|at| (self.start_ms..=self.end_ms).contains(at)) else {
            return;
        };
        let last = self.buckets.len().saturating_sub(1);
        let index = usize::try_from((at - self.start_ms) / self.width_ms)
            .unwrap_or(usize::MAX)
            .min(last);
        if let Some(bucket) = self.buckets.get_mut(index) {
            add(bucket);
            add(&mut self.totals);
        }
    }
}

impl Services {
    /// What happened in the workspace over the window, by bucket.
    pub async fn workspace_metrics(
        &self,
        rg: &str,
        ws: &str,
        query: &WorkspaceMetricsQuery,
    ) -> Result<WorkspaceMetrics> {
        let (since, interval) = window(query)?;
        let storage = self.workspace_storage(rg, ws).await?;
        let until = self.now();
        let until_ms = unix_millis(until);
        let since_ms = until_ms - i64::try_from(since * 1_000).map_err(Error::internal)?;
        let width_ms = i64::try_from(interval * 1_000).map_err(Error::internal)?;
        let count = usize::try_from(since.div_ceil(interval)).map_err(Error::internal)?;
        // Buckets are laid back from `until`, so the last one ends now.
        let start_ms = until_ms - width_ms * i64::try_from(count).map_err(Error::internal)?;
        let mut tally = Tally {
            start_ms,
            end_ms: until_ms,
            width_ms,
            buckets: vec![WorkspaceCounts::default(); count],
            totals: WorkspaceCounts::default(),
        };
        for run in self.store.run_times_since(&storage.id, start_ms).await? {
            tally.add(Some(run.submitted_at), |c| c.runs_submitted += 1);
            tally.add(run.started_at, |c| c.runs_started += 1);
            match RunStatus::parse(&run.status) {
                Some(RunStatus::Completed) => tally.add(run.ended_at, |c| c.runs_completed += 1),
                Some(RunStatus::Failed) => tally.add(run.ended_at, |c| c.runs_failed += 1),
                Some(RunStatus::Canceled) => tally.add(run.ended_at, |c| c.runs_canceled += 1),
                _ => {}
            }
        }
        for event in self
            .store
            .workspace_events_since(&storage.id, start_ms)
            .await?
        {
            tally.add(Some(event.time_ms), |c| count_event(c, &event));
        }
        let mut runs_by_status: BTreeMap<String, u64> = RunStatus::ALL
            .iter()
            .map(|status| (status.as_str().to_owned(), 0))
            .collect();
        for count in self.store.run_status_counts(Some(&storage.id)).await? {
            runs_by_status.insert(count.status, u64::try_from(count.runs).unwrap_or(0));
        }
        let buckets = tally
            .buckets
            .into_iter()
            .enumerate()
            .map(|(index, counts)| {
                let offset = width_ms * i64::try_from(index).unwrap_or(0);
                Ok(WorkspaceMetricsBucket {
                    start: time_of(start_ms + offset)?,
                    counts,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(WorkspaceMetrics {
            workspace: storage.id,
            since: time_of(since_ms)?,
            until,
            interval_seconds: interval,
            runs_by_status,
            totals: tally.totals,
            buckets,
        })
    }

    /// Notes a registration or deployment for the workspace's metrics. A failure to note it
    /// is logged, not passed on: the operation itself is done and answered as it went.
    pub(crate) async fn note_workspace_event(
        &self,
        storage: &WorkspaceStorage,
        kind: &'static str,
        outcome: MetricOutcome,
    ) {
        match kind {
            MODEL_REGISTRATION => self.metrics.model_registration(outcome),
            DEPLOYMENT => self.metrics.deployment(outcome),
            _ => {}
        }
        let event = WorkspaceEventRecord {
            workspace_id: storage.id.clone(),
            time_ms: unix_millis(self.now()),
            kind: kind.to_owned(),
            outcome: outcome.as_str().to_owned(),
        };
        if let Err(error) = self.store.insert_workspace_event(&event).await {
            tracing::error!(%error, workspace = %storage.id, kind, "a workspace event could not be recorded");
        }
    }

    /// The Prometheus exposition of this process, with run counts read now.
    pub async fn scrape_metrics(&self) -> Result<String> {
        let runs = self.store.run_status_counts(None).await?;
        self.metrics.render(&runs).map_err(Error::internal)
    }
}
