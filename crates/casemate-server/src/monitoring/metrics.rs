//! This process's Prometheus metrics: one registry per server (several servers in one process,
//! as the tests run them, each report their own). Every label value is a route template, an
//! action name, a status, an outcome or a workspace's resource id: bounded, and never a
//! secret, a token or free text a client chose.

use casemate_store::{GateCacheCounts, InlineReadCounts, RunStatusCount, Store};
use casemate_types::wire::RunStatus;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{
    DescriptorEncoder, EncodeLabelSet, EncodeLabelValue, EncodeMetric, LabelValueEncoder,
};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::time::Duration;

/// How something the metrics count ended.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub enum MetricOutcome {
    Succeeded,
    Failed,
    Denied,
}

impl EncodeLabelValue for MetricOutcome {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        EncodeLabelValue::encode(&self.as_str(), encoder)
    }
}

impl MetricOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Denied => "denied",
        }
    }

    /// The outcome of an HTTP answer: refused for want of a credential or a grant, failed
    /// otherwise at 400 and above.
    pub fn of_status(status: u16) -> Self {
        match status {
            401 | 403 => Self::Denied,
            400.. => Self::Failed,
            _ => Self::Succeeded,
        }
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: &'static str,
    method: &'static str,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: &'static str,
    method: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RunLabels {
    workspace: String,
    status: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: MetricOutcome,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VaultLabels {
    operation: &'static str,
    outcome: MetricOutcome,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LookupLabels {
    result: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct InlineReadLabels {
    outcome: &'static str,
}

fn latency_histogram() -> Histogram {
    // 0.25 ms to about 8 s.
    Histogram::new(exponential_buckets(0.000_25, 2.0, 16))
}

/// The gate cache's hit and miss counts, and on SQLite how its reads were made, read from the
/// store at each scrape.
#[derive(Debug)]
struct GateCacheCollector(Store);

impl Collector for GateCacheCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let GateCacheCounts { hits, misses } = self.0.gate_cache_counts();
        let counter = ConstCounter::new(0u64);
        let mut family = encoder.encode_descriptor(
            "casemate_gate_cache_lookups",
            "Reads of sessions, principals, role assignments and tokens by the gate, answered from memory (hit) or the database (miss)",
            None,
            counter.metric_type(),
        )?;
        for (result, count) in [("hit", hits), ("miss", misses)] {
            ConstCounter::new(count).encode(family.encode_family(&LookupLabels { result })?)?;
        }
        if let Some(InlineReadCounts {
            answered,
            passed_on,
        }) = self.0.inline_read_counts()
        {
            let mut family = encoder.encode_descriptor(
                "casemate_store_inline_reads",
                "The gate's SQLite reads made on the request's thread (answered) or handed to the database worker because every inline connection was in use or the database busy (passed_on)",
                None,
                counter.metric_type(),
            )?;
            for (outcome, count) in [("answered", answered), ("passed_on", passed_on)] {
                ConstCounter::new(count)
                    .encode(family.encode_family(&InlineReadLabels { outcome })?)?;
            }
        }
        Ok(())
    }
}

/// Every metric family casemate exports.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    http_requests: Family<RequestLabels, Counter>,
    http_duration: Family<RouteLabels, Histogram, fn() -> Histogram>,
    activity_appended: Counter,
    activity_sync: Histogram,
    activity_failures: Counter,
    runs: Family<RunLabels, Gauge>,
    registrations: Family<OutcomeLabels, Counter>,
    deployments: Family<OutcomeLabels, Counter>,
    scoring_requests: Counter,
    vault_operations: Family<VaultLabels, Counter>,
    key_disabled_refusals: Counter,
}

impl Metrics {
    pub fn new(store: Store) -> Self {
        let mut registry = Registry::default();
        let http_requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "casemate_http_requests",
            "HTTP requests answered, by route template, method and status",
            http_requests.clone(),
        );
        let http_duration: Family<RouteLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(latency_histogram);
        registry.register(
            "casemate_http_request_duration_seconds",
            "Time from a request's arrival to its response, by route template and method",
            http_duration.clone(),
        );
        let activity_appended = Counter::default();
        registry.register(
            "casemate_activity_records_appended",
            "Activity-log records appended to the hash chain",
            activity_appended.clone(),
        );
        let activity_sync = latency_histogram();
        registry.register(
            "casemate_activity_sync_duration_seconds",
            "Time to append and sync one batch of activity-log records that must be durable",
            activity_sync.clone(),
        );
        let activity_failures = Counter::default();
        registry.register(
            "casemate_activity_append_failures",
            "Batches of activity-log records that could not be written (their requests failed closed)",
            activity_failures.clone(),
        );
        let runs = Family::<RunLabels, Gauge>::default();
        registry.register(
            "casemate_runs",
            "Runs not deleted, by workspace and status",
            runs.clone(),
        );
        let registrations = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "casemate_model_registrations",
            "Model versions registered, by outcome",
            registrations.clone(),
        );
        let deployments = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "casemate_service_deployments",
            "Web-service deployments, by outcome",
            deployments.clone(),
        );
        let scoring_requests = Counter::default();
        registry.register(
            "casemate_scoring_requests",
            "Scoring requests to web services",
            scoring_requests.clone(),
        );
        let vault_operations = Family::<VaultLabels, Counter>::default();
        registry.register(
            "casemate_vault_operations",
            "Requests to vaults and workspace secrets, by action and outcome",
            vault_operations.clone(),
        );
        let key_disabled_refusals = Counter::default();
        registry.register(
            "casemate_key_disabled_refusals",
            "Requests refused because a key or key version they needed is disabled (423)",
            key_disabled_refusals.clone(),
        );
        registry.register_collector(Box::new(GateCacheCollector(store)));
        // Outcome families show every outcome from the start, zeros included.
        for outcome in [MetricOutcome::Succeeded, MetricOutcome::Failed] {
            let _ = registrations.get_or_create(&OutcomeLabels { outcome });
            let _ = deployments.get_or_create(&OutcomeLabels { outcome });
        }
        Self {
            registry,
            http_requests,
            http_duration,
            activity_appended,
            activity_sync,
            activity_failures,
            runs,
            registrations,
            deployments,
            scoring_requests,
            vault_operations,
            key_disabled_refusals,
        }
    }

    /// One answered request. `route` is the route template (or `unmatched`), `action` the
    /// action its table row demands, if any.
    pub fn request(
        &self,
        route: &'static str,
        action: Option<&'static str>,
        method: &axum::http::Method,
        status: u16,
        elapsed: Duration,
    ) {
        let method = method_label(method);
        self.http_requests
            .get_or_create(&RequestLabels {
                route,
                method,
                status,
            })
            .inc();
        self.http_duration
            .get_or_create(&RouteLabels { route, method })
            .observe(elapsed.as_secs_f64());
        if let Some(operation) = action.filter(|a| is_vault_action(a)) {
            self.vault_operations
                .get_or_create(&VaultLabels {
                    operation,
                    outcome: MetricOutcome::of_status(status),
                })
                .inc();
        }
        if status == 423 {
            self.key_disabled_refusals.inc();
        }
    }

    /// One batch of activity records appended; `synced` when it had to be durable at once.
    pub fn activity_batch(&self, records: usize, synced: bool, elapsed: Duration) {
        self.activity_appended.inc_by(records as u64);
        if synced {
            self.activity_sync.observe(elapsed.as_secs_f64());
        }
    }

    pub fn activity_failure(&self) {
        self.activity_failures.inc();
    }

    pub fn model_registration(&self, outcome: MetricOutcome) {
        self.registrations
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }

    pub fn deployment(&self, outcome: MetricOutcome) {
        self.deployments
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }

    pub fn scoring_request(&self) {
        self.scoring_requests.inc();
    }

    /// The whole exposition in Prometheus's text format, with the runs gauge set from `runs`.
    pub fn render(&self, runs: &[RunStatusCount]) -> Result<String, std::fmt::Error> {
        self.runs.clear();
        for count in runs {
            if let Some(status) = RunStatus::parse(&count.status) {
                self.runs
                    .get_or_create(&RunLabels {
                        workspace: count.workspace_id.clone(),
                        status: status.as_str(),
                    })
                    .set(count.runs);
            }
        }
        let mut text = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

/// The content type of [`Metrics::render`]'s text.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

fn is_vault_action(action: &str) -> bool {
    action.starts_with("vaults/") || action.starts_with("workspaces/metadata/secrets/")
}

fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        // Any other method a client invents is one label, not one per spelling.
        _ => "other",
    }
}
