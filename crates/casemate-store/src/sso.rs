//! Single sign-on: sign-ins begun and awaiting their callback, and the provider subjects linked
//! to casemate users.

use crate::backend::{Conn, StoreRow, on_db};
use crate::principals::insert_principal_in;
use crate::records::parse_uuid;
use crate::{PrincipalRecord, Store, StoreError, StoreResult};
use uuid::Uuid;

/// A sign-in sent to the provider and not yet back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsoSignInRecord {
    /// SHA-256 of the `state` sent to the provider.
    pub state_hash: Vec<u8>,
    /// SHA-256 of the binding value in the browser's cookie.
    pub binding_hash: Vec<u8>,
    pub nonce: String,
    pub created_at: i64,
    /// For `casemate login --sso`: where the CLI listens, and its verifier's challenge.
    pub cli: Option<CliHandoffRequest>,
}

/// A command line waiting on a loopback port for its sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliHandoffRequest {
    pub port: u16,
    /// base64url SHA-256 of the verifier the CLI will present with the code.
    pub challenge: String,
}

/// A one-use code handed to the CLI at the end of a sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsoHandoffRecord {
    pub code_hash: Vec<u8>,
    pub principal_id: Uuid,
    pub challenge: String,
    pub created_at: i64,
}

fn conflict_on_link(error: sqlx::Error) -> StoreError {
    match StoreError::from(error) {
        StoreError::Conflict(_) => {
            StoreError::Conflict("this provider subject is already linked to a user".into())
        }
        other => other,
    }
}

impl Store {
    /// Records a sign-in begun, dropping those begun before `expired_before` that never came
    /// back.
    pub async fn begin_sso_sign_in(
        &self,
        sign_in: &SsoSignInRecord,
        expired_before: i64,
    ) -> StoreResult<()> {
        on_db!(self, |pool, durable| {
            let mut tx = pool.begin().await?;
            sqlx::query("DELETE FROM sso_sign_ins WHERE created_at < $1")
                .bind(expired_before)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO sso_sign_ins \
                 (state_hash, binding_hash, nonce, created_at, cli_port, cli_challenge) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&sign_in.state_hash)
            .bind(&sign_in.binding_hash)
            .bind(&sign_in.nonce)
            .bind(sign_in.created_at)
            .bind(sign_in.cli.as_ref().map(|cli| i64::from(cli.port)))
            .bind(sign_in.cli.as_ref().map(|cli| cli.challenge.clone()))
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(())
        })
    }

    /// Takes the sign-in a callback's `state` names: it is gone afterwards, so a state is good
    /// for one callback, however many replicas see it.
    pub async fn take_sso_sign_in(
        &self,
        state_hash: &[u8],
    ) -> StoreResult<Option<SsoSignInRecord>> {
        on_db!(self, |pool, durable| {
            let row = sqlx::query(
                "DELETE FROM sso_sign_ins WHERE state_hash = $1 \
                 RETURNING state_hash, binding_hash, nonce, created_at, cli_port, cli_challenge",
            )
            .bind(state_hash)
            .fetch_optional(pool)
            .await?;
            row.map(|row| {
                let port: Option<i64> = row.value("cli_port")?;
                let challenge: Option<String> = row.value("cli_challenge")?;
                let cli = match (port.map(u16::try_from), challenge) {
                    (Some(Ok(port)), Some(challenge)) => {
                        Some(CliHandoffRequest { port, challenge })
                    }
                    (None, None) => None,
                    _ => return Err(StoreError::Corrupt("sso_sign_ins.cli_port".into())),
                };
                Ok(SsoSignInRecord {
                    state_hash: row.value("state_hash")?,
                    binding_hash: row.value("binding_hash")?,
                    nonce: row.value("nonce")?,
                    created_at: row.value("created_at")?,
                    cli,
                })
            })
            .transpose()
        })
    }

    /// Keeps a code for the CLI, dropping those made before `expired_before` and never taken.
    pub async fn insert_sso_handoff(
        &self,
        handoff: &SsoHandoffRecord,
        expired_before: i64,
    ) -> StoreResult<()> {
        on_db!(self, |pool, durable| {
            let mut tx = pool.begin().await?;
            sqlx::query("DELETE FROM sso_handoffs WHERE created_at < $1")
                .bind(expired_before)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO sso_handoffs (code_hash, principal_id, challenge, created_at) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(&handoff.code_hash)
            .bind(handoff.principal_id.to_string())
            .bind(&handoff.challenge)
            .bind(handoff.created_at)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(())
        })
    }

    /// Takes the code a CLI presents: it is gone afterwards, whatever comes of the exchange.
    pub async fn take_sso_handoff(
        &self,
        code_hash: &[u8],
    ) -> StoreResult<Option<SsoHandoffRecord>> {
        on_db!(self, |pool, durable| {
            let row = sqlx::query(
                "DELETE FROM sso_handoffs WHERE code_hash = $1 \
                 RETURNING code_hash, principal_id, challenge, created_at",
            )
            .bind(code_hash)
            .fetch_optional(pool)
            .await?;
            row.map(|row| {
                Ok(SsoHandoffRecord {
                    code_hash: row.value("code_hash")?,
                    principal_id: parse_uuid(
                        "sso_handoffs.principal_id",
                        row.value("principal_id")?,
                    )?,
                    challenge: row.value("challenge")?,
                    created_at: row.value("created_at")?,
                })
            })
            .transpose()
        })
    }

    /// Records a device sign-in begun at the provider (the SHA-256 of its device code), and
    /// drops those expired by `now`.
    pub async fn begin_sso_device_sign_in(
        &self,
        device_code_hash: &[u8],
        now: i64,
        expires_at: i64,
    ) -> StoreResult<()> {
        on_db!(self, |pool, durable| {
            let mut tx = pool.begin().await?;
            sqlx::query("DELETE FROM sso_device_sign_ins WHERE expires_at < $1")
                .bind(now)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO sso_device_sign_ins (device_code_hash, created_at, expires_at) \
                 VALUES ($1, $2, $3)",
            )
            .bind(device_code_hash)
            .bind(now)
            .bind(expires_at)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(())
        })
    }

    /// When a device sign-in this server began expires; `None` when it began none such, or
    /// the sign-in was finished (taken) already.
    pub async fn sso_device_sign_in_expiry(
        &self,
        device_code_hash: &[u8],
    ) -> StoreResult<Option<i64>> {
        on_db!(self, |pool, durable| {
            Ok(sqlx::query_scalar(
                "SELECT expires_at FROM sso_device_sign_ins WHERE device_code_hash = $1",
            )
            .bind(device_code_hash)
            .fetch_optional(pool)
            .await?)
        })
    }

    /// Ends a device sign-in; true for the one caller that ended it.
    pub async fn take_sso_device_sign_in(&self, device_code_hash: &[u8]) -> StoreResult<bool> {
        on_db!(self, |pool, durable| {
            let taken = sqlx::query("DELETE FROM sso_device_sign_ins WHERE device_code_hash = $1")
                .bind(device_code_hash)
                .execute(pool)
                .await?;
            Ok(taken.rows_affected() == 1)
        })
    }

    /// The user a provider's subject signs in as, if one is linked.
    pub async fn external_identity_principal(
        &self,
        issuer: &str,
        subject: &str,
    ) -> StoreResult<Option<Uuid>> {
        on_db!(self, |pool, durable| {
            let row = sqlx::query(
                "SELECT principal_id FROM external_identities WHERE issuer = $1 AND subject = $2",
            )
            .bind(issuer)
            .bind(subject)
            .fetch_optional(pool)
            .await?;
            row.map(|row| {
                parse_uuid(
                    "external_identities.principal_id",
                    row.value("principal_id")?,
                )
            })
            .transpose()
        })
    }

    /// Links a provider's subject to an existing user.
    pub async fn link_external_identity(
        &self,
        issuer: &str,
        subject: &str,
        principal_id: Uuid,
        now: i64,
    ) -> StoreResult<()> {
        on_db!(self, |pool, durable| {
            sqlx::query(
                "INSERT INTO external_identities (issuer, subject, principal_id, created_at) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(issuer)
            .bind(subject)
            .bind(principal_id.to_string())
            .bind(now)
            .execute(pool)
            .await
            .map_err(conflict_on_link)?;
            Ok(())
        })
    }

    /// Creates a user and links a provider's subject to it, together or not at all.
    pub async fn insert_user_for_external_identity(
        &self,
        user: &PrincipalRecord,
        issuer: &str,
        subject: &str,
    ) -> StoreResult<()> {
        on_db!(self, |pool, durable| {
            let mut tx = pool.begin().await?;
            insert_principal_in(Conn::from(&mut *tx), user).await?;
            sqlx::query(
                "INSERT INTO external_identities (issuer, subject, principal_id, created_at) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(issuer)
            .bind(subject)
            .bind(user.id.to_string())
            .bind(user.created_at)
            .execute(&mut *tx)
            .await
            .map_err(conflict_on_link)?;
            tx.commit().await?;
            Ok(())
        })
    }
}
