//! The rows read on every request, kept between changes: what the gate reads (sessions,
//! principals, role assignments, custom roles, personal access tokens, run tokens and whose each
//! run is, web services and their tokens), and, for read-only requests, the resources and vault
//! items handlers read (resources, secrets, secret versions, data keys).
//!
//! Triggers count every change to those tables, whoever makes it: the gate's tables in
//! `installation.gate_generation` (migration 0007), resources and vault items in
//! `installation.resource_generation` (migration 0015). `refresh_gate_cache` reads both counts,
//! one query per request, and drops what is kept under a count that has moved. A row is kept only
//! under the counts seen before it was read, so a read that raced a change is never kept past it.
//! A revocation, a disabled principal, a removed role assignment, a disabled secret version or a
//! deleted workspace therefore takes effect on the next request, as it did without the cache.
//!
//! The resources and vault items are answered from what is kept only inside
//! [`Store::reading_kept`], which the gate wraps around read-only requests after refreshing: a
//! background task, or a request that changes what it then reads back, reads the database.
use crate::backend::on_db;

use crate::{
    CustomRoleRecord, DataKeyRecord, PatRecord, PrincipalRecord, ResourceRecord,
    RoleAssignmentRecord, RunTokenRecord, SecretRecord, SecretVersionRecord, ServiceTokenRecord,
    SessionRecord, Store, StoreResult, WebServiceRecord,
};
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use uuid::Uuid;

/// Past this many rows of one kind, that kind is dropped and read afresh: memory stays bounded
/// whatever ids clients present.
pub(crate) const MAX_ROWS_PER_KIND: usize = 10_000;
/// Secret versions carry their sealed value (up to 25 KiB): fewer are kept, so what is kept
/// stays a few MiB at most.
pub(crate) const MAX_SECRET_VERSIONS_KEPT: usize = 256;

/// Whose run a run token belongs to: what the gate needs of the run, none of which changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOwner {
    pub workspace_id: String,
    pub submitted_by: Uuid,
}

/// The two change counts, as last read.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Generations {
    gate: i64,
    resources: i64,
}

tokio::task_local! {
    /// Set around a read-only request, after the counts were read for it.
    static READING_KEPT: ();
}

#[derive(Default)]
pub(crate) struct Kept {
    generations: Generations,
    pub(crate) gate: GateRows,
    pub(crate) resources: ResourceRows,
}

#[derive(Default)]
pub(crate) struct GateRows {
    pub(crate) sessions: HashMap<Uuid, Option<SessionRecord>>,
    pub(crate) principals: HashMap<Uuid, Option<PrincipalRecord>>,
    /// Shared, not copied, with each request that authorizes by them.
    pub(crate) assignments: HashMap<Uuid, Arc<[RoleAssignmentRecord]>>,
    /// Keyed by `()`: there is one list, kept the way every other kind is.
    pub(crate) custom_roles: HashMap<(), Vec<CustomRoleRecord>>,
    pub(crate) pats: HashMap<Uuid, Option<PatRecord>>,
    pub(crate) run_tokens: HashMap<Uuid, Option<RunTokenRecord>>,
    pub(crate) run_owners: HashMap<Uuid, Option<RunOwner>>,
    /// Keyed by workspace id and service name, both lower-cased.
    pub(crate) web_services: HashMap<(String, String), Option<WebServiceRecord>>,
    pub(crate) service_tokens: HashMap<String, Option<ServiceTokenRecord>>,
}

#[derive(Default)]
pub(crate) struct ResourceRows {
    pub(crate) resources: HashMap<String, Option<ResourceRecord>>,
    /// Keyed by vault id and secret name.
    pub(crate) secrets: HashMap<(String, String), Option<SecretRecord>>,
    /// Keyed by vault id, secret name and version (`None`: the latest).
    pub(crate) secret_versions:
        HashMap<(String, String, Option<String>), Option<SecretVersionRecord>>,
    pub(crate) data_keys: HashMap<String, Option<DataKeyRecord>>,
}

#[derive(Default)]
pub(crate) struct GateCache {
    kept: Mutex<Kept>,
    hits: AtomicU64,
    misses: AtomicU64,
    /// One read of the counts at a time; requests that arrived before it began share it.
    reading: tokio::sync::Mutex<()>,
    /// How many reads of the counts have begun, and the number of the last one that finished.
    reads_begun: AtomicU64,
    last_read_finished: AtomicU64,
}

/// How often the gate's reads were answered from what was kept, since the process started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GateCacheCounts {
    pub hits: u64,
    pub misses: u64,
}

/// The count only: the rows hold password and token hashes, which no Debug output shows.
impl std::fmt::Debug for GateCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GateCache")
            .field("generations", &self.kept().generations)
            .finish_non_exhaustive()
    }
}

impl GateCache {
    fn kept(&self) -> std::sync::MutexGuard<'_, Kept> {
        self.kept.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Store {
    pub fn gate_cache_counts(&self) -> GateCacheCounts {
        GateCacheCounts {
            hits: self.gate_cache.hits.load(Ordering::Relaxed),
            misses: self.gate_cache.misses.load(Ordering::Relaxed),
        }
    }

    /// Reads the change counts; drops every kept row under a count that has moved.
    ///
    /// Concurrent requests share reads as group commit shares syncs: a request waits for the
    /// read in progress, then is answered by the next read, which began after it arrived, so
    /// it sees every change committed before it arrived. One read serves a whole queue.
    pub async fn refresh_gate_cache(&self) -> StoreResult<()> {
        let cache = &self.gate_cache;
        let arrived_after = cache.reads_begun.load(Ordering::SeqCst);
        let _reading = cache.reading.lock().await;
        if cache.last_read_finished.load(Ordering::SeqCst) > arrived_after {
            return Ok(());
        }
        let read = cache.reads_begun.fetch_add(1, Ordering::SeqCst) + 1;
        self.read_change_counts().await?;
        cache.last_read_finished.store(read, Ordering::SeqCst);
        Ok(())
    }

    /// On SQLite an inline read (see `inline`) answers when it can.
    async fn read_change_counts(&self) -> StoreResult<()> {
        const CHANGE_COUNTS: &str = "SELECT key, CAST(value AS BIGINT) FROM installation \
             WHERE key IN ('gate_generation', 'resource_generation')";
        let inline = self
            .pools
            .inline_rows(CHANGE_COUNTS, (), |row| Ok((row.get(0)?, row.get(1)?)));
        let counts: Vec<(String, i64)> = match inline {
            Some(counts) => counts,
            None => on_db!(self, |pool, durable| {
                sqlx::query_as(CHANGE_COUNTS).fetch_all(pool).await?
            }),
        };
        let count = |key: &str| {
            counts
                .iter()
                .find(|(k, _)| k == key)
                .map_or(0, |(_, value)| *value)
        };
        let (gate, resources) = (count("gate_generation"), count("resource_generation"));
        let mut kept = self.gate_cache.kept();
        // Counts only grow; a smaller one would be a database restored from a backup, and
        // dropping what is kept is right then too.
        if gate != kept.generations.gate {
            kept.generations.gate = gate;
            kept.gate = GateRows::default();
        }
        if resources != kept.generations.resources {
            kept.generations.resources = resources;
            kept.resources = ResourceRows::default();
        }
        Ok(())
    }

    /// Runs `work` (a read-only request, after [`Store::refresh_gate_cache`]) with resources and
    /// vault items answered from what is kept.
    pub async fn reading_kept<F: Future>(work: F) -> F::Output {
        READING_KEPT.scope((), work).await
    }

    /// `read` answered from what is kept when inside [`Store::reading_kept`], else as is.
    /// Keys are lower-cased ids and names where the tables compare them without case.
    pub(crate) async fn kept_when_reading<K: Eq + Hash, V: Clone>(
        &self,
        rows: fn(&mut Kept) -> &mut HashMap<K, V>,
        limit: usize,
        key: K,
        read: impl Future<Output = StoreResult<V>>,
    ) -> StoreResult<V> {
        if READING_KEPT.try_with(|()| ()).is_ok() {
            self.kept_under_counts(rows, limit, key, read).await
        } else {
            read.await
        }
    }

    async fn gate_cached<K: Eq + Hash, V: Clone>(
        &self,
        rows: fn(&mut Kept) -> &mut HashMap<K, V>,
        key: K,
        read: impl Future<Output = StoreResult<V>>,
    ) -> StoreResult<V> {
        self.kept_under_counts(rows, MAX_ROWS_PER_KIND, key, read)
            .await
    }

    async fn kept_under_counts<K: Eq + Hash, V: Clone>(
        &self,
        rows: fn(&mut Kept) -> &mut HashMap<K, V>,
        limit: usize,
        key: K,
        read: impl Future<Output = StoreResult<V>>,
    ) -> StoreResult<V> {
        let generations = {
            let mut kept = self.gate_cache.kept();
            if let Some(value) = rows(&mut kept).get(&key) {
                self.gate_cache.hits.fetch_add(1, Ordering::Relaxed);
                return Ok(value.clone());
            }
            self.gate_cache.misses.fetch_add(1, Ordering::Relaxed);
            kept.generations
        };
        let value = read.await?;
        let mut kept = self.gate_cache.kept();
        if kept.generations == generations {
            let rows = rows(&mut kept);
            if rows.len() >= limit {
                rows.clear();
            }
            rows.insert(key, value.clone());
        }
        Ok(value)
    }

    pub async fn session_for_gate(&self, id: Uuid) -> StoreResult<Option<SessionRecord>> {
        self.gate_cached(|k| &mut k.gate.sessions, id, self.session(id))
            .await
    }

    pub async fn principal_for_gate(&self, id: Uuid) -> StoreResult<Option<PrincipalRecord>> {
        self.gate_cached(|k| &mut k.gate.principals, id, self.principal_row(id))
            .await
    }

    /// What the gate authorizes by: the principal's own assignments and its groups'.
    pub async fn role_assignments_for_gate(
        &self,
        principal_id: Uuid,
    ) -> StoreResult<Arc<[RoleAssignmentRecord]>> {
        self.gate_cached(|k| &mut k.gate.assignments, principal_id, async {
            Ok(self
                .effective_role_assignments_for(principal_id)
                .await?
                .into())
        })
        .await
    }

    pub async fn custom_roles_for_gate(&self) -> StoreResult<Vec<CustomRoleRecord>> {
        self.gate_cached(|k| &mut k.gate.custom_roles, (), self.custom_roles())
            .await
    }

    pub async fn pat_for_gate(&self, id: Uuid) -> StoreResult<Option<PatRecord>> {
        self.gate_cached(|k| &mut k.gate.pats, id, self.pat(id))
            .await
    }

    pub async fn run_token_for_gate(&self, id: Uuid) -> StoreResult<Option<RunTokenRecord>> {
        self.gate_cached(|k| &mut k.gate.run_tokens, id, self.run_token(id))
            .await
    }

    pub async fn run_owner_for_gate(&self, run_id: Uuid) -> StoreResult<Option<RunOwner>> {
        self.gate_cached(|k| &mut k.gate.run_owners, run_id, async {
            Ok(self.run(run_id).await?.map(|run| RunOwner {
                workspace_id: run.workspace_id,
                submitted_by: run.submitted_by,
            }))
        })
        .await
    }

    pub async fn web_service_for_gate(
        &self,
        workspace_id: &str,
        name: &str,
    ) -> StoreResult<Option<WebServiceRecord>> {
        let key = (workspace_id.to_ascii_lowercase(), name.to_ascii_lowercase());
        self.gate_cached(
            |k| &mut k.gate.web_services,
            key,
            self.web_service(workspace_id, name),
        )
        .await
    }

    pub async fn service_token_for_gate(
        &self,
        id: &str,
    ) -> StoreResult<Option<ServiceTokenRecord>> {
        self.gate_cached(
            |k| &mut k.gate.service_tokens,
            id.to_owned(),
            self.service_token(id),
        )
        .await
    }
}
