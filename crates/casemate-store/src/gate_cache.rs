//! The rows the gate reads on every request (sessions, principals, role assignments, custom
//! roles, personal access tokens, run tokens and whose each run is), kept between changes.
//!
//! Triggers count every change to those tables in `installation.gate_generation` (migration
//! 0007), whoever makes it. `refresh_gate_cache` reads the count, one query per request, and
//! drops everything kept when it has moved. A row is kept only under the count seen before it
//! was read, so a read that raced a change is never kept past it. A revocation, a disabled
//! principal or a removed role assignment therefore takes effect on the next request, as it did
//! without the cache.
use crate::backend::on_db;

use crate::{
    CustomRoleRecord, PatRecord, PrincipalRecord, RoleAssignmentRecord, RunTokenRecord,
    ServiceTokenRecord, SessionRecord, Store, StoreResult, WebServiceRecord,
};
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use uuid::Uuid;

/// Past this many rows of one kind, that kind is dropped and read afresh: memory stays bounded
/// whatever ids clients present.
const MAX_ROWS_PER_KIND: usize = 10_000;

/// Whose run a run token belongs to: what the gate needs of the run, none of which changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOwner {
    pub workspace_id: String,
    pub submitted_by: Uuid,
}

#[derive(Default)]
struct Kept {
    generation: i64,
    sessions: HashMap<Uuid, Option<SessionRecord>>,
    principals: HashMap<Uuid, Option<PrincipalRecord>>,
    assignments: HashMap<Uuid, Vec<RoleAssignmentRecord>>,
    /// Keyed by `()`: there is one list, kept the way every other kind is.
    custom_roles: HashMap<(), Vec<CustomRoleRecord>>,
    pats: HashMap<Uuid, Option<PatRecord>>,
    run_tokens: HashMap<Uuid, Option<RunTokenRecord>>,
    run_owners: HashMap<Uuid, Option<RunOwner>>,
    /// Keyed by workspace id and service name, both lower-cased.
    web_services: HashMap<(String, String), Option<WebServiceRecord>>,
    service_tokens: HashMap<String, Option<ServiceTokenRecord>>,
}

#[derive(Default)]
pub(crate) struct GateCache {
    kept: Mutex<Kept>,
    hits: AtomicU64,
    misses: AtomicU64,
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
            .field("generation", &self.kept().generation)
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

    /// Reads the change count; if it has moved since the last request, drops every kept row.
    pub async fn refresh_gate_cache(&self) -> StoreResult<()> {
        on_db!(self, |pool, durable| {
            let generation: i64 = sqlx::query_scalar(
                "SELECT CAST(value AS BIGINT) FROM installation WHERE key = 'gate_generation'",
            )
            .fetch_one(pool)
            .await?;
            let mut kept = self.gate_cache.kept();
            // A slower request's older count never takes the cache back.
            if generation > kept.generation {
                *kept = Kept {
                    generation,
                    ..Kept::default()
                };
            }
            Ok(())
        })
    }

    async fn gate_cached<K: Eq + Hash, V: Clone>(
        &self,
        rows: fn(&mut Kept) -> &mut HashMap<K, V>,
        key: K,
        read: impl Future<Output = StoreResult<V>>,
    ) -> StoreResult<V> {
        let generation = {
            let mut kept = self.gate_cache.kept();
            if let Some(value) = rows(&mut kept).get(&key) {
                self.gate_cache.hits.fetch_add(1, Ordering::Relaxed);
                return Ok(value.clone());
            }
            self.gate_cache.misses.fetch_add(1, Ordering::Relaxed);
            kept.generation
        };
        let value = read.await?;
        let mut kept = self.gate_cache.kept();
        if kept.generation == generation {
            let rows = rows(&mut kept);
            if rows.len() >= MAX_ROWS_PER_KIND {
                rows.clear();
            }
            rows.insert(key, value.clone());
        }
        Ok(value)
    }

    pub async fn session_for_gate(&self, id: Uuid) -> StoreResult<Option<SessionRecord>> {
        self.gate_cached(|k| &mut k.sessions, id, self.session(id))
            .await
    }

    pub async fn principal_for_gate(&self, id: Uuid) -> StoreResult<Option<PrincipalRecord>> {
        self.gate_cached(|k| &mut k.principals, id, self.principal_by_id(id))
            .await
    }

    pub async fn role_assignments_for_gate(
        &self,
        principal_id: Uuid,
    ) -> StoreResult<Vec<RoleAssignmentRecord>> {
        self.gate_cached(
            |k| &mut k.assignments,
            principal_id,
            self.role_assignments_for(principal_id),
        )
        .await
    }

    pub async fn custom_roles_for_gate(&self) -> StoreResult<Vec<CustomRoleRecord>> {
        self.gate_cached(|k| &mut k.custom_roles, (), self.custom_roles())
            .await
    }

    pub async fn pat_for_gate(&self, id: Uuid) -> StoreResult<Option<PatRecord>> {
        self.gate_cached(|k| &mut k.pats, id, self.pat(id)).await
    }

    pub async fn run_token_for_gate(&self, id: Uuid) -> StoreResult<Option<RunTokenRecord>> {
        self.gate_cached(|k| &mut k.run_tokens, id, self.run_token(id))
            .await
    }

    pub async fn run_owner_for_gate(&self, run_id: Uuid) -> StoreResult<Option<RunOwner>> {
        self.gate_cached(|k| &mut k.run_owners, run_id, async {
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
            |k| &mut k.web_services,
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
            |k| &mut k.service_tokens,
            id.to_owned(),
            self.service_token(id),
        )
        .await
    }
}
