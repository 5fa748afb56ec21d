//! Sign-in sessions and their rotating refresh tokens.
use crate::backend::{Conn, StoreRow, on_conn, on_db};

use crate::records::parse_uuid;
use crate::{RefreshTokenRecord, SessionRecord, Store, StoreResult};
use uuid::Uuid;

/// What happened when a refresh token was presented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshOutcome {
    /// The token was fresh; it is now spent and `next` replaces it.
    Rotated { session: SessionRecord },
    /// The token had been spent before: its whole session was revoked.
    ReuseDetected { session_id: Uuid },
}

impl Store {
    /// Starts a session, with its first refresh token when the grant issues one.
    pub async fn insert_session(
        &self,
        session: &SessionRecord,
        first_refresh: Option<&RefreshTokenRecord>,
    ) -> StoreResult<()> {
        on_db!(self, |pool, durable| {
            let mut tx = pool.begin().await?;
            sqlx::query("INSERT INTO sessions (id, principal_id, created_at, expires_at, revoked_at) VALUES ($1, $2, $3, $4, NULL)")
            .bind(session.id.to_string())
            .bind(session.principal_id.to_string())
            .bind(session.created_at)
            .bind(session.expires_at)
            .execute(&mut *tx)
            .await?;
            if let Some(first_refresh) = first_refresh {
                insert_refresh(Conn::from(&mut *tx), first_refresh).await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    pub async fn session(&self, id: Uuid) -> StoreResult<Option<SessionRecord>> {
        on_db!(self, |pool, durable| {
            let row = sqlx::query("SELECT id, principal_id, created_at, expires_at, revoked_at FROM sessions WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(pool)
            .await?;
            row.map(|row| {
                Ok(SessionRecord {
                    id: parse_uuid("sessions.id", row.value("id")?)?,
                    principal_id: parse_uuid("sessions.principal_id", row.value("principal_id")?)?,
                    created_at: row.value("created_at")?,
                    expires_at: row.value("expires_at")?,
                    revoked_at: row.value("revoked_at")?,
                })
            })
            .transpose()
        })
    }

    pub async fn revoke_session(&self, id: Uuid, now: i64) -> StoreResult<()> {
        on_db!(self, |pool, durable| {
            sqlx::query("UPDATE sessions SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2")
                .bind(now)
                .bind(id.to_string())
                .execute(pool)
                .await?;
            Ok(())
        })
    }

    pub async fn refresh_token(&self, id: Uuid) -> StoreResult<Option<RefreshTokenRecord>> {
        on_db!(self, |pool, durable| {
            let row = sqlx::query("SELECT id, session_id, secret_hash, created_at, expires_at, used_at FROM refresh_tokens WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(pool)
            .await?;
            row.map(|row| {
                Ok(RefreshTokenRecord {
                    id: parse_uuid("refresh_tokens.id", row.value("id")?)?,
                    session_id: parse_uuid("refresh_tokens.session_id", row.value("session_id")?)?,
                    secret_hash: row.value("secret_hash")?,
                    created_at: row.value("created_at")?,
                    expires_at: row.value("expires_at")?,
                    used_at: row.value("used_at")?,
                })
            })
            .transpose()
        })
    }

    /// Spends `presented` and stores `next` in one transaction. If `presented` was already spent
    /// (a stolen token replayed, or the thief beat the owner to it), revokes the whole session instead.
    pub async fn rotate_refresh_token(
        &self,
        presented: &RefreshTokenRecord,
        next: &RefreshTokenRecord,
        now: i64,
    ) -> StoreResult<RefreshOutcome> {
        on_db!(self, |pool, durable| {
            let mut tx = pool.begin().await?;
            let spent = sqlx::query(
                "UPDATE refresh_tokens SET used_at = $1 WHERE id = $2 AND used_at IS NULL",
            )
            .bind(now)
            .bind(presented.id.to_string())
            .execute(&mut *tx)
            .await?;
            if spent.rows_affected() == 0 {
                sqlx::query(
                    "UPDATE sessions SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2",
                )
                .bind(now)
                .bind(presented.session_id.to_string())
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                return Ok(RefreshOutcome::ReuseDetected {
                    session_id: presented.session_id,
                });
            }
            insert_refresh(Conn::from(&mut *tx), next).await?;
            tx.commit().await?;
            let session = self
                .session(presented.session_id)
                .await?
                .ok_or(crate::StoreError::NotFound("session"))?;
            Ok(RefreshOutcome::Rotated { session })
        })
    }
}

async fn insert_refresh(tx: Conn<'_>, token: &RefreshTokenRecord) -> StoreResult<()> {
    on_conn!(tx, |tx| {
        sqlx::query("INSERT INTO refresh_tokens (id, session_id, secret_hash, created_at, expires_at, used_at) VALUES ($1, $2, $3, $4, $5, NULL)")
        .bind(token.id.to_string())
        .bind(token.session_id.to_string())
        .bind(&token.secret_hash)
        .bind(token.created_at)
        .bind(token.expires_at)
        .execute(tx)
        .await?;
        Ok(())
    })
}
