//! Who is calling: resolving a presented credential to a principal.

use super::Services;
use super::signing::VerifiedToken;
use crate::error::{Error, Result};
use casemate_crypto::opaque;
use casemate_crypto::token::AccessClaims;
use casemate_store::PrincipalRecord;
use casemate_types::Sensitive;
use casemate_types::wire::{PrincipalKind, TokenInfo, TokenScope};
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Debug, Clone)]
pub enum Credential {
    AccessToken {
        claims: AccessClaims,
        kid: String,
    },
    PersonalAccessToken {
        token_id: Uuid,
        issued_at: OffsetDateTime,
        expires_at: OffsetDateTime,
    },
    /// A run's token: the submitter's rights, confined to the run's workspace, for the run's life.
    RunToken {
        run_id: Uuid,
        workspace: String,
        expires_at: OffsetDateTime,
    },
    /// casemate acting as a managed identity on a caller's behalf; never presented by a client.
    Internal,
}

/// An authenticated caller, as the gate hands it to handlers.
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal_id: Uuid,
    pub name: String,
    pub display_name: String,
    pub kind: PrincipalKind,
    pub credential: Credential,
}

impl Caller {
    pub fn token_scope(&self) -> TokenScope {
        match &self.credential {
            Credential::AccessToken { claims, .. } => claims.scp,
            Credential::PersonalAccessToken { .. }
            | Credential::RunToken { .. }
            | Credential::Internal => TokenScope::Full,
        }
    }

    /// The run whose token this is, if it is a run token.
    pub fn run_id(&self) -> Option<Uuid> {
        match &self.credential {
            Credential::RunToken { run_id, .. } => Some(*run_id),
            _ => None,
        }
    }

    pub fn session_id(&self) -> Option<Uuid> {
        match &self.credential {
            Credential::AccessToken { claims, .. } => claims.sid,
            Credential::PersonalAccessToken { .. }
            | Credential::RunToken { .. }
            | Credential::Internal => None,
        }
    }

    pub fn token_info(&self) -> TokenInfo {
        match &self.credential {
            Credential::AccessToken { claims, kid } => TokenInfo {
                token_type: "access_token".into(),
                scope: claims.scp,
                issued_at: claims.iat,
                expires_at: claims.exp,
                key_id: Some(kid.clone()),
                session_id: claims.sid,
            },
            Credential::Internal => TokenInfo {
                token_type: "internal".into(),
                scope: TokenScope::Full,
                issued_at: OffsetDateTime::UNIX_EPOCH,
                expires_at: OffsetDateTime::UNIX_EPOCH,
                key_id: None,
                session_id: None,
            },
            Credential::RunToken { expires_at, .. } => TokenInfo {
                token_type: "run_token".into(),
                scope: TokenScope::Full,
                issued_at: OffsetDateTime::UNIX_EPOCH,
                expires_at: *expires_at,
                key_id: None,
                session_id: None,
            },
            Credential::PersonalAccessToken {
                issued_at,
                expires_at,
                ..
            } => TokenInfo {
                token_type: "personal_access_token".into(),
                scope: TokenScope::Full,
                issued_at: *issued_at,
                expires_at: *expires_at,
                key_id: None,
                session_id: None,
            },
        }
    }
}

pub(crate) fn caller_from(principal: PrincipalRecord, credential: Credential) -> Result<Caller> {
    let kind = PrincipalKind::parse(&principal.kind)
        .ok_or_else(|| Error::internal(format!("principal {} has unknown kind", principal.id)))?;
    Ok(Caller {
        principal_id: principal.id,
        name: principal.name,
        display_name: principal.display_name,
        kind,
        credential,
    })
}

impl Services {
    /// Counts a request refused for want of a valid credential against its address: how many more
    /// this window will be answered (and recorded) before the address is refused with 429.
    pub fn spend_unauthenticated(&self, address: std::net::IpAddr) -> Result<u32> {
        self.limiter.spend(
            &(
                format!("unauthenticated:{address}"),
                super::limiter::UNAUTHENTICATED_PER_ADDRESS,
            ),
            "too many requests without a valid credential from this address",
            self.now(),
        )
    }

    /// Starts a request at the gate: rows it keeps between requests are dropped if anything
    /// changed them since the last request.
    pub async fn refresh_gate_cache(&self) -> Result<()> {
        Ok(self.store.refresh_gate_cache().await?)
    }

    /// Runs a read-only request's handler with resources and vault items read as kept under the
    /// counts [`Services::refresh_gate_cache`] just read.
    pub async fn reading_kept<F: Future>(work: F) -> F::Output {
        casemate_store::Store::reading_kept(work).await
    }

    pub(crate) async fn enabled_principal(&self, id: Uuid) -> Result<PrincipalRecord> {
        match self.store.principal_for_gate(id).await? {
            Some(principal) if principal.enabled => Ok(principal),
            Some(_) => Err(Error::unauthenticated(format!(
                "principal {id} is disabled"
            ))),
            None => Err(Error::unauthenticated(format!(
                "principal {id} no longer exists"
            ))),
        }
    }

    /// A bearer credential: a signed access token, or a personal access token.
    pub async fn authenticate_bearer(&self, presented: &Sensitive) -> Result<Caller> {
        let token = presented.expose();
        if token.starts_with("v4.public.") {
            return self.authenticate_access_token(token).await;
        }
        if token.starts_with(opaque::PERSONAL_ACCESS_TOKEN_PREFIX) {
            return self.authenticate_pat(None, presented).await;
        }
        if token.starts_with(super::runs::RUN_TOKEN_PREFIX) {
            return self.authenticate_run_token(presented).await;
        }
        Err(Error::unauthenticated(
            "bearer credential of unknown format",
        ))
    }

    async fn authenticate_access_token(&self, token: &str) -> Result<Caller> {
        let now = self.now();
        let VerifiedToken { kid, claims } = self
            .signing
            .verify(
                &self.store,
                self.root_key.as_ref(),
                token,
                &self.settings.issuer,
                now,
            )
            .await
            .map_err(|e| Error::unauthenticated(format!("access token: {e}")))?;
        if let Some(session_id) = claims.sid {
            let session = self
                .store
                .session_for_gate(session_id)
                .await?
                .ok_or_else(|| {
                    Error::unauthenticated(format!("session {session_id} does not exist"))
                })?;
            if session.revoked_at.is_some() {
                return Err(Error::unauthenticated(format!(
                    "session {session_id} was revoked"
                )));
            }
            if session.principal_id != claims.sub {
                return Err(Error::unauthenticated(
                    "session belongs to another principal",
                ));
            }
        }
        let principal = self.enabled_principal(claims.sub).await?;
        caller_from(principal, Credential::AccessToken { claims, kid })
    }

    /// A personal access token, optionally presented with the user name it must belong to (Basic).
    pub async fn authenticate_pat(
        &self,
        username: Option<&str>,
        presented: &Sensitive,
    ) -> Result<Caller> {
        let (token_id, presented_hash) =
            opaque::parse(opaque::PERSONAL_ACCESS_TOKEN_PREFIX, presented.expose())
                .ok_or_else(|| Error::unauthenticated("not a personal access token"))?;
        let record = self.store.pat_for_gate(token_id).await?.ok_or_else(|| {
            Error::unauthenticated(format!("personal access token {token_id} does not exist"))
        })?;
        if !opaque::hash_matches(&record.secret_hash, &presented_hash) {
            return Err(Error::unauthenticated(format!(
                "personal access token {token_id}: wrong secret"
            )));
        }
        if record.revoked_at.is_some() {
            return Err(Error::unauthenticated(format!(
                "personal access token {token_id} was revoked"
            )));
        }
        if self.now_unix() >= record.expires_at {
            return Err(Error::unauthenticated(format!(
                "personal access token {token_id} expired"
            )));
        }
        let principal = self.enabled_principal(record.principal_id).await?;
        if let Some(username) = username
            && !principal.name.eq_ignore_ascii_case(username)
        {
            return Err(Error::unauthenticated(format!(
                "personal access token {token_id} does not belong to the user named in Basic auth"
            )));
        }
        let credential = Credential::PersonalAccessToken {
            token_id,
            issued_at: super::signing::to_time(record.created_at)?,
            expires_at: super::signing::to_time(record.expires_at)?,
        };
        caller_from(principal, credential)
    }
}
