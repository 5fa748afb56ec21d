//! Web services, their tokens and their scoring log (migration 0010).
use crate::backend::on_db;

use crate::{Store, StoreError, StoreResult};

/// One deployed service. Key columns are empty for token-auth services.
#[derive(Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct WebServiceRecord {
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    pub kind: String,
    pub models: String,
    pub snapshot: String,
    pub entry_script: String,
    pub python: String,
    pub compute: String,
    pub compute_type: String,
    pub auth_mode: String,
    pub primary_key: Vec<u8>,
    pub primary_key_hash: Vec<u8>,
    pub secondary_key: Vec<u8>,
    pub secondary_key_hash: Vec<u8>,
    pub max_body_bytes: i64,
    pub token_ttl_seconds: i64,
    pub state: String,
    pub state_reason: String,
    pub pid: Option<i64>,
    pub restarts: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub created_by: String,
}

/// Names and state only: the key columns (sealed keys and their hashes) are never shown.
impl std::fmt::Debug for WebServiceRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebServiceRecord")
            .field("id", &self.id)
            .field("workspace_id", &self.workspace_id)
            .field("name", &self.name)
            .field("auth_mode", &self.auth_mode)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

#[derive(Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ServiceTokenRecord {
    pub id: String,
    pub service_id: String,
    pub principal_id: String,
    pub secret_hash: Vec<u8>,
    /// Unix seconds.
    pub expires_at: i64,
}

impl std::fmt::Debug for ServiceTokenRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceTokenRecord")
            .field("id", &self.id)
            .field("service_id", &self.service_id)
            .finish_non_exhaustive()
    }
}

/// One scoring request, as the scoring log keeps it (never its body).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ScoringRecord {
    pub service_id: String,
    pub workspace_id: String,
    pub time_ms: i64,
    pub method: String,
    pub url: String,
    pub user_agent: String,
    pub compute_type: String,
    pub status: i64,
    pub request_id: String,
    pub model_us: i64,
    pub overhead_us: i64,
    pub client_address: String,
    pub credential: String,
}

/// A change of a service's running state, as its supervisor sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceState<'a> {
    pub state: &'a str,
    pub reason: &'a str,
    pub pid: Option<i64>,
    pub restarted: bool,
    pub time_ms: i64,
}

impl Store {
    pub async fn insert_web_service(&self, service: &WebServiceRecord) -> StoreResult<()> {
        on_db!(self, |pool, durable| {
            sqlx::query(
            "INSERT INTO web_services (id, workspace_id, name, kind, models, snapshot, entry_script, \
             python, compute, compute_type, auth_mode, primary_key, primary_key_hash, \
             secondary_key, secondary_key_hash, max_body_bytes, token_ttl_seconds, state, \
             state_reason, pid, restarts, created_at, updated_at, created_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24)",
        )
        .bind(&service.id)
        .bind(&service.workspace_id)
        .bind(&service.name)
        .bind(&service.kind)
        .bind(&service.models)
        .bind(&service.snapshot)
        .bind(&service.entry_script)
        .bind(&service.python)
        .bind(&service.compute)
        .bind(&service.compute_type)
        .bind(&service.auth_mode)
        .bind(&service.primary_key)
        .bind(&service.primary_key_hash)
        .bind(&service.secondary_key)
        .bind(&service.secondary_key_hash)
        .bind(service.max_body_bytes)
        .bind(service.token_ttl_seconds)
        .bind(&service.state)
        .bind(&service.state_reason)
        .bind(service.pid)
        .bind(service.restarts)
        .bind(service.created_at)
        .bind(service.updated_at)
        .bind(&service.created_by)
        .execute(pool)
        .await
        .map_err(|error| match StoreError::from(error) {
            StoreError::Conflict(_) => {
                StoreError::Conflict(format!("a service named '{}' exists", service.name))
            }
            other => other,
        })?;
            Ok(())
        })
    }

    pub async fn web_service(
        &self,
        workspace_id: &str,
        name: &str,
    ) -> StoreResult<Option<WebServiceRecord>> {
        on_db!(self, |pool, durable| {
            Ok(
                sqlx::query_as("SELECT * FROM web_services WHERE workspace_id = $1 AND name = $2")
                    .bind(workspace_id)
                    .bind(name)
                    .fetch_optional(pool)
                    .await?,
            )
        })
    }

    pub async fn web_service_by_id(&self, id: &str) -> StoreResult<Option<WebServiceRecord>> {
        on_db!(self, |pool, durable| {
            Ok(sqlx::query_as("SELECT * FROM web_services WHERE id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await?)
        })
    }

    pub async fn web_services(&self, workspace_id: &str) -> StoreResult<Vec<WebServiceRecord>> {
        on_db!(self, |pool, durable| {
            Ok(
                sqlx::query_as("SELECT * FROM web_services WHERE workspace_id = $1 ORDER BY name")
                    .bind(workspace_id)
                    .fetch_all(pool)
                    .await?,
            )
        })
    }

    /// Every service of the installation: those to start again when the server starts.
    pub async fn all_web_services(&self) -> StoreResult<Vec<WebServiceRecord>> {
        on_db!(self, |pool, durable| {
            Ok(sqlx::query_as("SELECT * FROM web_services ORDER BY id")
                .fetch_all(pool)
                .await?)
        })
    }

    /// Replaces what an update may change: models, code, interpreter, limits.
    pub async fn update_web_service_definition(
        &self,
        service: &WebServiceRecord,
    ) -> StoreResult<()> {
        on_db!(self, |pool, durable| {
            let changed = sqlx::query(
            "UPDATE web_services SET models = $1, snapshot = $2, entry_script = $3, python = $4, \
             max_body_bytes = $5, token_ttl_seconds = $6, updated_at = $7 WHERE id = $8",
        )
        .bind(&service.models)
        .bind(&service.snapshot)
        .bind(&service.entry_script)
        .bind(&service.python)
        .bind(service.max_body_bytes)
        .bind(service.token_ttl_seconds)
        .bind(service.updated_at)
        .bind(&service.id)
        .execute(durable)
        .await?;
            if changed.rows_affected() == 0 {
                return Err(StoreError::NotFound("web service"));
            }
            Ok(())
        })
    }

    pub async fn set_web_service_state(
        &self,
        id: &str,
        state: &ServiceState<'_>,
    ) -> StoreResult<()> {
        on_db!(self, |pool, durable| {
            sqlx::query(
                "UPDATE web_services SET state = $1, state_reason = $2, pid = $3, \
             restarts = restarts + $4, updated_at = $5 WHERE id = $6",
            )
            .bind(state.state)
            .bind(state.reason)
            .bind(state.pid)
            .bind(i64::from(state.restarted))
            .bind(state.time_ms)
            .bind(id)
            .execute(pool)
            .await?;
            Ok(())
        })
    }

    /// Replaces one key slot (`primary` or `secondary`): durable on return, so a regenerated
    /// key is never forgotten once the caller has seen it.
    pub async fn replace_web_service_key(
        &self,
        id: &str,
        slot: &str,
        sealed: &[u8],
        hash: &[u8],
        time_ms: i64,
    ) -> StoreResult<()> {
        on_db!(self, |pool, durable| {
            let statement = match slot {
                "primary" => {
                    "UPDATE web_services SET primary_key = $1, primary_key_hash = $2, updated_at = $3 WHERE id = $4"
                }
                "secondary" => {
                    "UPDATE web_services SET secondary_key = $1, secondary_key_hash = $2, updated_at = $3 WHERE id = $4"
                }
                _ => return Err(StoreError::Corrupt(format!("no key slot '{slot}'"))),
            };
            let changed = sqlx::query(statement)
                .bind(sealed)
                .bind(hash)
                .bind(time_ms)
                .bind(id)
                .execute(durable)
                .await?;
            if changed.rows_affected() == 0 {
                return Err(StoreError::NotFound("web service"));
            }
            Ok(())
        })
    }

    /// Deletes a service with its tokens; its scoring log stays for audit.
    pub async fn delete_web_service(&self, id: &str) -> StoreResult<()> {
        on_db!(self, |pool, durable| {
            sqlx::query("DELETE FROM web_services WHERE id = $1")
                .bind(id)
                .execute(durable)
                .await?;
            Ok(())
        })
    }

    /// Deletes every service of a workspace (workspace deletion).
    pub async fn delete_workspace_web_services(&self, workspace_id: &str) -> StoreResult<()> {
        on_db!(self, |pool, durable| {
            sqlx::query("DELETE FROM web_services WHERE workspace_id = $1")
                .bind(workspace_id)
                .execute(durable)
                .await?;
            Ok(())
        })
    }

    pub async fn insert_service_token(&self, token: &ServiceTokenRecord) -> StoreResult<()> {
        on_db!(self, |pool, durable| {
            sqlx::query(
            "INSERT INTO service_tokens (id, service_id, principal_id, secret_hash, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&token.id)
        .bind(&token.service_id)
        .bind(&token.principal_id)
        .bind(&token.secret_hash)
        .bind(token.expires_at)
        .execute(pool)
        .await?;
            Ok(())
        })
    }

    pub async fn service_token(&self, id: &str) -> StoreResult<Option<ServiceTokenRecord>> {
        on_db!(self, |pool, durable| {
            Ok(sqlx::query_as("SELECT * FROM service_tokens WHERE id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await?)
        })
    }

    /// Drops tokens that expired before `now` (Unix seconds).
    pub async fn delete_expired_service_tokens(&self, now: i64) -> StoreResult<u64> {
        on_db!(self, |pool, durable| {
            Ok(
                sqlx::query("DELETE FROM service_tokens WHERE expires_at < $1")
                    .bind(now)
                    .execute(pool)
                    .await?
                    .rows_affected(),
            )
        })
    }

    /// Appends scoring records, durable on return.
    pub async fn append_scoring_records(&self, records: &[ScoringRecord]) -> StoreResult<()> {
        on_db!(self, |pool, durable| {
            crate::insert_rows(
                durable,
                "INSERT INTO scoring_requests (service_id, workspace_id, time_ms, method, url, \
             user_agent, compute_type, status, request_id, model_us, overhead_us, \
             client_address, credential) ",
                13,
                records,
                |row, record| {
                    row.push_bind(record.service_id.clone())
                        .push_bind(record.workspace_id.clone())
                        .push_bind(record.time_ms)
                        .push_bind(record.method.clone())
                        .push_bind(record.url.clone())
                        .push_bind(record.user_agent.clone())
                        .push_bind(record.compute_type.clone())
                        .push_bind(record.status)
                        .push_bind(record.request_id.clone())
                        .push_bind(record.model_us)
                        .push_bind(record.overhead_us)
                        .push_bind(record.client_address.clone())
                        .push_bind(record.credential.clone());
                },
            )
            .await
        })
    }

    /// A service's scoring records at or after `since_ms`, oldest first, at most `limit`.
    pub async fn scoring_records(
        &self,
        service_id: &str,
        since_ms: i64,
        limit: i64,
    ) -> StoreResult<Vec<ScoringRecord>> {
        on_db!(self, |pool, durable| {
            Ok(sqlx::query_as(
                "SELECT service_id, workspace_id, time_ms, method, url, user_agent, compute_type, \
             status, request_id, model_us, overhead_us, client_address, credential \
             FROM scoring_requests WHERE service_id = $1 AND time_ms >= $2 ORDER BY seq LIMIT $3",
            )
            .bind(service_id)
            .bind(since_ms)
            .bind(limit)
            .fetch_all(pool)
            .await?)
        })
    }
}
