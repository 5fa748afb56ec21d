//! The activity log. One writer task appends records in batches (one statement, one sync per
//! batch: group commit) and chains each record to the one before by SHA-256. A request waits for
//! its record to be durable; if it cannot be written, the request fails closed.

use super::Services;
use crate::error::{Error, Result};
use crate::monitoring::Metrics;
use casemate_store::{ActivityFilter, ActivityRecord, Durability, Store, StoreError, StoreResult};
use casemate_types::clock::{from_unix_millis, unix_millis};
use casemate_types::wire::{ActivityEntry, ActivityPage, VerifyProblem, VerifyReport};
use std::sync::Arc;
use std::time::Instant;
use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot};
use uuid::{NoContext, Timestamp, Uuid};

const MAX_BATCH: usize = 512;
const QUEUE: usize = 4096;

/// One record to append, before it has a place in the chain.
#[derive(Debug, Clone)]
pub struct NewActivity {
    pub time: OffsetDateTime,
    pub operation: String,
    pub outcome: Outcome,
    pub status: u16,
    pub caller_id: String,
    pub caller_name: String,
    pub resource_id: String,
    pub correlation_id: String,
    pub client_address: String,
    pub user_agent: String,
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Started,
    Succeeded,
    Failed,
    Denied,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Started => "Started",
            Outcome::Succeeded => "Succeeded",
            Outcome::Failed => "Failed",
            Outcome::Denied => "Denied",
        }
    }
}

struct Pending {
    activity: NewActivity,
    written: oneshot::Sender<Result<(), String>>,
}

#[derive(Debug, Clone)]
pub struct ActivityLog {
    queue: mpsc::Sender<Pending>,
}

fn push_field(buffer: &mut Vec<u8>, field: &[u8]) {
    buffer.extend_from_slice(&(field.len() as u64).to_be_bytes());
    buffer.extend_from_slice(field);
}

/// SHA-256 over the previous hash and every field, each length-prefixed.
pub fn chain_hash(record: &ActivityRecord) -> [u8; 32] {
    let mut buffer = Vec::with_capacity(512);
    push_field(&mut buffer, &record.prev_hash);
    push_field(&mut buffer, &record.seq.to_be_bytes());
    for field in [
        &record.id,
        &record.operation,
        &record.phase,
        &record.caller_id,
        &record.caller_name,
        &record.resource_id,
        &record.correlation_id,
        &record.client_address,
        &record.user_agent,
        &record.detail,
    ] {
        push_field(&mut buffer, field.as_bytes());
    }
    push_field(&mut buffer, &record.time_ms.to_be_bytes());
    push_field(&mut buffer, &record.status.to_be_bytes());
    casemate_crypto::sha256(&buffer)
}

/// A version 7 UUID of `time` (the rest random), for a record's id and a request id the gate
/// makes: ids made one after another sort together, so each batch adds to the last pages of the
/// log's indexes on `id` and `correlation_id`. With random ids every record wrote a page of each
/// at random, a page of write-ahead log to sync.
pub fn time_ordered_id(time: OffsetDateTime) -> String {
    let seconds = u64::try_from(time.unix_timestamp()).unwrap_or(0);
    Uuid::new_v7(Timestamp::from_unix(NoContext, seconds, time.nanosecond())).to_string()
}

fn to_record(activity: &NewActivity, seq: i64, prev_hash: &[u8]) -> ActivityRecord {
    let mut record = ActivityRecord {
        seq,
        id: time_ordered_id(activity.time),
        time_ms: unix_millis(activity.time),
        operation: activity.operation.clone(),
        phase: activity.outcome.as_str().to_owned(),
        status: i64::from(activity.status),
        caller_id: activity.caller_id.clone(),
        caller_name: activity.caller_name.clone(),
        resource_id: activity.resource_id.clone(),
        correlation_id: activity.correlation_id.clone(),
        client_address: activity.client_address.clone(),
        user_agent: activity.user_agent.clone(),
        detail: activity.detail.clone(),
        prev_hash: prev_hash.to_vec(),
        hash: vec![],
    };
    record.hash = chain_hash(&record).to_vec();
    record
}

/// Where the chain continues: the last record's sequence number and hash.
type Head = (i64, Vec<u8>);

/// Chains `batch` after `head` (read from the store when not known) and appends it. A batch of
/// Started records alone waits for the next sync: the requests they begin answer only after
/// their outcome is durable, which carries them too. Any other record is durable before this
/// returns.
async fn append_batch(
    store: &Store,
    metrics: &Metrics,
    head: Option<Head>,
    batch: &[Pending],
) -> StoreResult<Head> {
    let (mut seq, mut hash) = match head {
        Some(head) => head,
        None => store.activity_head().await?.unwrap_or((0, vec![0u8; 32])),
    };
    let mut records = Vec::with_capacity(batch.len());
    for pending in batch {
        seq += 1;
        let record = to_record(&pending.activity, seq, &hash);
        hash.clone_from(&record.hash);
        records.push(record);
    }
    let durability = if batch.iter().all(|p| p.activity.outcome == Outcome::Started) {
        Durability::WithNextSync
    } else {
        Durability::Now
    };
    let started = Instant::now();
    store.append_activity(&records, durability).await?;
    metrics.activity_batch(
        records.len(),
        durability == Durability::Now,
        started.elapsed(),
    );
    Ok((seq, hash))
}

/// Appends refused because another replica took the sequence number first, retried each on
/// the head read afresh: replicas appending at once each win within a few tries.
const CONFLICT_RETRIES: u32 = 32;

async fn writer(store: Store, metrics: Arc<Metrics>, mut queue: mpsc::Receiver<Pending>) {
    // The head is kept between batches and read from the store again after any failure, so a
    // failed batch leaves no gap. Another process appending to the same log (a replica on the
    // same PostgreSQL) takes a sequence number this one expected: the append is refused as a
    // conflict (the sequence number is unique, so the chain never forks) and retried on the
    // head read afresh.
    let mut head: Option<Head> = None;
    while let Some(first) = queue.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let mut written = append_batch(&store, &metrics, head.take(), &batch).await;
        let mut retries = 0;
        while matches!(written, Err(StoreError::Conflict(_))) && retries < CONFLICT_RETRIES {
            retries += 1;
            written = append_batch(&store, &metrics, None, &batch).await;
        }
        let outcome = match written {
            Ok(new_head) => {
                head = Some(new_head);
                Ok(())
            }
            Err(error) => {
                metrics.activity_failure();
                tracing::error!(%error, records = batch.len(), "the activity log could not be written; failing the requests closed");
                Err(error.to_string())
            }
        };
        for pending in batch {
            let _ = pending.written.send(outcome.clone());
        }
    }
}

impl ActivityLog {
    pub fn start(store: Store, metrics: Arc<Metrics>) -> Self {
        let (queue, receiver) = mpsc::channel(QUEUE);
        tokio::spawn(writer(store, metrics, receiver));
        Self { queue }
    }

    /// Returns once the record is durable; fails (for the caller to fail closed) if it is not.
    pub async fn record(&self, activity: NewActivity) -> Result<()> {
        let (written, done) = oneshot::channel();
        self.queue
            .send(Pending { activity, written })
            .await
            .map_err(|_| {
                Error::Unavailable("the activity log writer has stopped; nothing was done".into())
            })?;
        match done.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) | Err(_) => Err(Error::Unavailable(
                "the activity log cannot be written, so the request was refused and nothing was done".into(),
            )),
        }
    }
}

fn entry_view(record: ActivityRecord) -> ActivityEntry {
    ActivityEntry {
        seq: record.seq,
        id: record.id,
        time: from_unix_millis(record.time_ms).unwrap_or(OffsetDateTime::UNIX_EPOCH),
        operation: record.operation,
        outcome: record.phase,
        status: u16::try_from(record.status).unwrap_or(0),
        caller_id: record.caller_id,
        caller_name: record.caller_name,
        resource_id: record.resource_id,
        correlation_id: record.correlation_id,
        client_address: record.client_address,
        user_agent: record.user_agent,
        detail: record.detail,
    }
}

/// Filters for `GET /activityLog`.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ActivityQuery {
    /// The scope whose records (and those below it) to list.
    pub scope: String,
    /// RFC 3339 start (inclusive).
    pub from: Option<String>,
    /// RFC 3339 end (exclusive).
    pub to: Option<String>,
    /// Caller object id or name.
    pub caller: Option<String>,
    pub operation: Option<String>,
    /// Started, Succeeded, Failed or Denied.
    pub outcome: Option<String>,
    /// 1-1000; 100 when absent.
    pub limit: Option<i64>,
    /// The `next_page` of the previous answer.
    pub page: Option<String>,
}

fn parse_time(field: &str, value: &Option<String>) -> Result<Option<i64>> {
    value
        .as_deref()
        .map(|text| {
            OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
                .map(unix_millis)
                .map_err(|_| {
                    Error::invalid(
                        field,
                        "must be an RFC 3339 time such as 2026-01-31T12:00:00Z",
                    )
                })
        })
        .transpose()
}

impl Services {
    pub async fn list_activity(&self, query: &ActivityQuery) -> Result<ActivityPage> {
        let scope = super::rbac::parse_scope("scope", &query.scope)?;
        let limit = query.limit.unwrap_or(100);
        if !(1..=1000).contains(&limit) {
            return Err(Error::invalid("limit", "must be between 1 and 1000"));
        }
        if let Some(outcome) = &query.outcome
            && !["Started", "Succeeded", "Failed", "Denied"]
                .iter()
                .any(|o| o.eq_ignore_ascii_case(outcome))
        {
            return Err(Error::invalid(
                "outcome",
                "must be Started, Succeeded, Failed or Denied",
            ));
        }
        let after_seq = query
            .page
            .as_deref()
            .map(|page| {
                page.parse::<i64>().map_err(|_| {
                    Error::invalid("page", "is not a page token from a previous answer")
                })
            })
            .transpose()?;
        let filter = ActivityFilter {
            from_ms: parse_time("from", &query.from)?,
            to_ms: parse_time("to", &query.to)?,
            scope: Some(scope.to_string()),
            caller_id: query.caller.clone(),
            operation: query.operation.clone(),
            phase: query.outcome.clone(),
            after_seq,
            limit: limit + 1,
        };
        let mut records = self.store.list_activity(&filter).await?;
        let more = records.len() > usize::try_from(limit).unwrap_or(usize::MAX);
        records.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        let next_page = more
            .then(|| records.last().map(|r| r.seq.to_string()))
            .flatten();
        Ok(ActivityPage {
            entries: records.into_iter().map(entry_view).collect(),
            next_page,
        })
    }

    /// Walks the whole chain and reports the first record that was altered, removed or reordered.
    pub async fn verify_activity(&self) -> Result<VerifyReport> {
        let mut checked = 0i64;
        let mut expected_seq = 1i64;
        let mut prev_hash = vec![0u8; 32];
        let problem = |seq: i64, problem: String, checked: i64| VerifyReport {
            records_checked: checked,
            intact: false,
            first_problem: Some(VerifyProblem { seq, problem }),
        };
        loop {
            let page = self.store.activity_page(expected_seq - 1, 1000).await?;
            if page.is_empty() {
                break;
            }
            for record in page {
                checked += 1;
                if record.seq != expected_seq {
                    return Ok(problem(
                        expected_seq,
                        format!("record {expected_seq} is missing: removed"),
                        checked,
                    ));
                }
                if record.prev_hash != prev_hash {
                    return Ok(problem(
                        record.seq,
                        "does not follow the record before it: removed or reordered records".into(),
                        checked,
                    ));
                }
                if chain_hash(&record).as_slice() != record.hash.as_slice() {
                    return Ok(problem(
                        record.seq,
                        "its contents do not match its hash: altered".into(),
                        checked,
                    ));
                }
                prev_hash = record.hash;
                expected_seq += 1;
            }
        }
        Ok(VerifyReport {
            records_checked: checked,
            intact: true,
            first_problem: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::time_ordered_id;
    use time::{Duration, OffsetDateTime};

    #[test]
    fn time_ordered_ids_sort_by_their_time_and_are_distinct_within_a_millisecond() {
        let earlier = OffsetDateTime::from_unix_timestamp(1_796_000_000).unwrap();
        let later = earlier + Duration::milliseconds(1);
        let (first, second) = (time_ordered_id(earlier), time_ordered_id(earlier));
        assert_ne!(first, second);
        assert!(time_ordered_id(later) > first && time_ordered_id(later) > second);
        assert!(uuid::Uuid::parse_str(&first).is_ok_and(|id| id.get_version_num() == 7));
    }
}
