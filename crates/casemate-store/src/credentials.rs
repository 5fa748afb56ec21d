//! TOTP factors, client secrets and personal access tokens.
use crate::backend::{StoreRow, on_db};

use crate::records::parse_uuid;
use crate::{ClientSecretRecord, PatRecord, Store, StoreError, StoreResult, TotpFactorRecord};
use uuid::Uuid;

fn client_secret_from_row(row: &impl StoreRow) -> StoreResult<ClientSecretRecord> {
    Ok(ClientSecretRecord {
        id: parse_uuid("client_secrets.id", row.value("id")?)?,
        principal_id: parse_uuid("client_secrets.principal_id", row.value("principal_id")?)?,
        secret_hash: row.value("secret_hash")?,
        hint: row.value("hint")?,
        description: row.value("description")?,
        created_at: row.value("created_at")?,
        expires_at: row.value("expires_at")?,
    })
}

fn pat_from_row(row: &impl StoreRow) -> StoreResult<PatRecord> {
    Ok(PatRecord {
        id: parse_uuid("personal_access_tokens.id", row.value("id")?)?,
        principal_id: parse_uuid(
            "personal_access_tokens.principal_id",
            row.value("principal_id")?,
        )?,
        name: row.value("name")?,
        secret_hash: row.value("secret_hash")?,
        created_at: row.value("created_at")?,
        expires_at: row.value("expires_at")?,
        revoked_at: row.value("revoked_at")?,
    })
}

impl Store {
    /// Starts (or restarts) TOTP enrolment with an unconfirmed factor.
    pub async fn put_pending_totp(
        &self,
        principal_id: Uuid,
        sealed_secret: &[u8],
        now: i64,
    ) -> StoreResult<()> {
        on_db!(self, |pool, durable| {
            sqlx::query(
            "INSERT INTO totp_factors (principal_id, sealed_secret, confirmed, last_step, created_at) VALUES ($1, $2, FALSE, NULL, $3) \
             ON CONFLICT (principal_id) DO UPDATE SET sealed_secret = excluded.sealed_secret, confirmed = FALSE, last_step = NULL, created_at = excluded.created_at",
        )
        .bind(principal_id.to_string())
        .bind(sealed_secret)
        .bind(now)
        .execute(pool)
        .await?;
            Ok(())
        })
    }

    pub async fn totp_factor(&self, principal_id: Uuid) -> StoreResult<Option<TotpFactorRecord>> {
        on_db!(self, |pool, durable| {
            let row = sqlx::query(
            "SELECT sealed_secret, confirmed, last_step FROM totp_factors WHERE principal_id = $1",
        )
        .bind(principal_id.to_string())
        .fetch_optional(pool)
        .await?;
            row.map(|row| {
                Ok(TotpFactorRecord {
                    principal_id,
                    sealed_secret: row.value("sealed_secret")?,
                    confirmed: row.value("confirmed")?,
                    last_step: row.value("last_step")?,
                })
            })
            .transpose()
        })
    }

    /// Records `step` as used, only if no later-or-equal step was recorded meanwhile (so two
    /// concurrent sign-ins cannot both spend one code). Marks the factor confirmed. Returns success.
    pub async fn accept_totp_step(&self, principal_id: Uuid, step: i64) -> StoreResult<bool> {
        on_db!(self, |pool, durable| {
            let updated = sqlx::query(
            "UPDATE totp_factors SET last_step = $1, confirmed = TRUE WHERE principal_id = $2 AND (last_step IS NULL OR last_step < $3)",
        )
        .bind(step)
        .bind(principal_id.to_string())
        .bind(step)
        .execute(pool)
        .await?;
            Ok(updated.rows_affected() == 1)
        })
    }

    pub async fn delete_totp(&self, principal_id: Uuid) -> StoreResult<bool> {
        on_db!(self, |pool, durable| {
            let deleted = sqlx::query("DELETE FROM totp_factors WHERE principal_id = $1")
                .bind(principal_id.to_string())
                .execute(pool)
                .await?;
            Ok(deleted.rows_affected() == 1)
        })
    }

    pub async fn insert_client_secret(&self, secret: &ClientSecretRecord) -> StoreResult<()> {
        on_db!(self, |pool, durable| {
            sqlx::query(
            "INSERT INTO client_secrets (id, principal_id, secret_hash, hint, description, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(secret.id.to_string())
        .bind(secret.principal_id.to_string())
        .bind(&secret.secret_hash)
        .bind(&secret.hint)
        .bind(&secret.description)
        .bind(secret.created_at)
        .bind(secret.expires_at)
        .execute(pool)
        .await?;
            Ok(())
        })
    }

    pub async fn client_secrets_for(
        &self,
        principal_id: Uuid,
    ) -> StoreResult<Vec<ClientSecretRecord>> {
        on_db!(self, |pool, durable| {
            let rows = sqlx::query(
                "SELECT * FROM client_secrets WHERE principal_id = $1 ORDER BY created_at, id",
            )
            .bind(principal_id.to_string())
            .fetch_all(pool)
            .await?;
            rows.iter().map(client_secret_from_row).collect()
        })
    }

    pub async fn delete_client_secret(
        &self,
        principal_id: Uuid,
        secret_id: Uuid,
    ) -> StoreResult<()> {
        on_db!(self, |pool, durable| {
            let deleted =
                sqlx::query("DELETE FROM client_secrets WHERE id = $1 AND principal_id = $2")
                    .bind(secret_id.to_string())
                    .bind(principal_id.to_string())
                    .execute(pool)
                    .await?;
            if deleted.rows_affected() == 0 {
                return Err(StoreError::NotFound("client secret"));
            }
            Ok(())
        })
    }

    pub async fn insert_pat(&self, pat: &PatRecord) -> StoreResult<()> {
        on_db!(self, |pool, durable| {
            sqlx::query(
            "INSERT INTO personal_access_tokens (id, principal_id, name, secret_hash, created_at, expires_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(pat.id.to_string())
        .bind(pat.principal_id.to_string())
        .bind(&pat.name)
        .bind(&pat.secret_hash)
        .bind(pat.created_at)
        .bind(pat.expires_at)
        .bind(pat.revoked_at)
        .execute(pool)
        .await?;
            Ok(())
        })
    }

    pub async fn pat(&self, id: Uuid) -> StoreResult<Option<PatRecord>> {
        on_db!(self, |pool, durable| {
            let row = sqlx::query("SELECT * FROM personal_access_tokens WHERE id = $1")
                .bind(id.to_string())
                .fetch_optional(pool)
                .await?;
            row.as_ref().map(pat_from_row).transpose()
        })
    }

    pub async fn pats_for(&self, principal_id: Uuid) -> StoreResult<Vec<PatRecord>> {
        on_db!(self, |pool, durable| {
            let rows = sqlx::query(
            "SELECT * FROM personal_access_tokens WHERE principal_id = $1 ORDER BY created_at, id",
        )
        .bind(principal_id.to_string())
        .fetch_all(pool)
        .await?;
            rows.iter().map(pat_from_row).collect()
        })
    }

    pub async fn revoke_pat(&self, principal_id: Uuid, id: Uuid, now: i64) -> StoreResult<()> {
        on_db!(self, |pool, durable| {
            let updated = sqlx::query(
            "UPDATE personal_access_tokens SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2 AND principal_id = $3",
        )
        .bind(now)
        .bind(id.to_string())
        .bind(principal_id.to_string())
        .execute(pool)
        .await?;
            if updated.rows_affected() == 0 {
                return Err(StoreError::NotFound("personal access token"));
            }
            Ok(())
        })
    }
}
