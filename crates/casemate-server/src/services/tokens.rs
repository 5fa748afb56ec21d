//! Token issuance: the password, client-credentials and refresh-token grants; sign-out.

use super::limiter;
use super::{Caller, Services};
use crate::error::{Error, Result};
use casemate_crypto::opaque;
use casemate_crypto::token::AccessClaims;
use casemate_store::{PrincipalRecord, RefreshOutcome, RefreshTokenRecord, SessionRecord};
use casemate_types::Sensitive;
use casemate_types::wire::{GrantType, PrincipalKind, TokenRequest, TokenResponse, TokenScope};
use std::net::IpAddr;
use time::Duration;
use uuid::Uuid;

/// An enrolment-only token lives just long enough to set up a second factor.
const ENROLLMENT_TOKEN_SECONDS: i64 = 600;

fn required<'a, T>(value: &'a Option<T>, field: &str, grant: &str) -> Result<&'a T> {
    value
        .as_ref()
        .ok_or_else(|| Error::invalid(field, format!("is required for grant_type={grant}")))
}

/// Refuses, by name, the first field given that `grant` does not take.
fn only_fields(request: &TokenRequest, grant: &str, takes: &[&str]) -> Result<()> {
    let given = [
        ("username", request.username.is_some()),
        ("password", request.password.is_some()),
        ("totp", request.totp.is_some()),
        ("client_id", request.client_id.is_some()),
        ("client_secret", request.client_secret.is_some()),
        ("refresh_token", request.refresh_token.is_some()),
        ("code", request.code.is_some()),
        ("code_verifier", request.code_verifier.is_some()),
        ("device_code", request.device_code.is_some()),
    ];
    match given
        .iter()
        .find(|(field, present)| *present && !takes.contains(field))
    {
        Some((field, _)) => Err(Error::invalid(
            *field,
            format!("is not allowed with grant_type={grant}"),
        )),
        None => Ok(()),
    }
}

impl Services {
    pub async fn issue_token(
        &self,
        request: &TokenRequest,
        client_address: IpAddr,
    ) -> Result<TokenResponse> {
        match request.grant_type {
            GrantType::Password => {
                let grant = "password";
                only_fields(request, grant, &["username", "password", "totp"])?;
                if !self.settings.password_sign_in {
                    return Err(Error::ForbiddenOther(
                        "password sign-in is turned off on this server: sign in through single \
                         sign-on"
                            .into(),
                    ));
                }
                let username = required(&request.username, "username", grant)?;
                let password = required(&request.password, "password", grant)?;
                self.password_grant(username, password, request.totp.as_ref(), client_address)
                    .await
            }
            GrantType::ClientCredentials => {
                let grant = "client_credentials";
                only_fields(request, grant, &["client_id", "client_secret"])?;
                let client_id = required(&request.client_id, "client_id", grant)?;
                let secret = required(&request.client_secret, "client_secret", grant)?;
                self.client_credentials_grant(client_id, secret, client_address)
                    .await
            }
            GrantType::RefreshToken => {
                let grant = "refresh_token";
                only_fields(request, grant, &["refresh_token"])?;
                let refresh = required(&request.refresh_token, "refresh_token", grant)?;
                self.refresh_grant(refresh).await
            }
            GrantType::SsoHandoff => {
                let grant = "sso_handoff";
                only_fields(request, grant, &["code", "code_verifier"])?;
                let code = required(&request.code, "code", grant)?;
                let verifier = required(&request.code_verifier, "code_verifier", grant)?;
                self.sso_handoff_grant(code, verifier).await
            }
            GrantType::DeviceCode => {
                let grant = casemate_types::wire::DEVICE_CODE_GRANT_TYPE;
                only_fields(request, grant, &["device_code"])?;
                let device_code = required(&request.device_code, "device_code", grant)?;
                self.sso_device_grant(device_code).await
            }
        }
    }

    async fn password_grant(
        &self,
        username: &str,
        password: &Sensitive,
        totp: Option<&Sensitive>,
        client_address: IpAddr,
    ) -> Result<TokenResponse> {
        let now = self.now();
        let code_sent = totp.is_some();
        let keys = limiter::keys(username, client_address);
        self.limiter.check(&keys, now)?;
        let principal = self
            .store
            .principal_by_name(username)
            .await?
            .filter(|p| p.kind == PrincipalKind::User.as_str());
        let password_ok = self
            .verify_password(
                password,
                principal.as_ref().and_then(|p| p.password_hash.as_deref()),
            )
            .await?;
        let principal = match principal {
            Some(principal) if password_ok && principal.enabled => principal,
            Some(principal) if password_ok => {
                tracing::info!(principal = %principal.id, "sign-in refused: principal is disabled");
                self.limiter.record_failure(&keys, now);
                return Err(Error::InvalidCredentials { code_sent });
            }
            _ => {
                tracing::info!(%client_address, "sign-in refused: unknown user or wrong password");
                self.limiter.record_failure(&keys, now);
                return Err(Error::InvalidCredentials { code_sent });
            }
        };
        let factor = self
            .store
            .totp_factor(principal.id)
            .await?
            .filter(|f| f.confirmed);
        let scope = match (factor, totp) {
            (Some(_), None) => return Err(Error::MfaRequired),
            (Some(factor), Some(code)) => {
                let secret = self.root_key.unwrap(
                    &factor.sealed_secret,
                    &super::principals::totp_context(principal.id),
                )?;
                let unix = u64::try_from(now.unix_timestamp()).map_err(Error::internal)?;
                let step =
                    casemate_crypto::totp::verify(&secret, code.expose(), unix, factor.last_step)?;
                let accepted = match step {
                    Some(step) => self.store.accept_totp_step(principal.id, step).await?,
                    None => false,
                };
                if !accepted {
                    tracing::info!(principal = %principal.id, "sign-in refused: TOTP code wrong or already used");
                    self.limiter.record_failure(&keys, now);
                    return Err(Error::InvalidCredentials { code_sent });
                }
                TokenScope::Full
            }
            (None, _) if self.settings.require_mfa => TokenScope::MfaEnrollment,
            (None, _) => TokenScope::Full,
        };
        self.limiter.record_success(&keys[0].0);
        self.start_session(&principal, scope, true).await
    }

    pub(crate) async fn client_credentials_grant(
        &self,
        client_id: &str,
        presented: &Sensitive,
        client_address: IpAddr,
    ) -> Result<TokenResponse> {
        let now = self.now();
        let keys = limiter::keys(client_id, client_address);
        self.limiter.check(&keys, now)?;
        let client_uuid = Uuid::try_parse(client_id)
            .map_err(|_| Error::invalid("client_id", "must be a UUID"))?;
        let principal = self.store.principal_by_client_id(client_uuid).await?;
        let parsed = opaque::parse(opaque::CLIENT_SECRET_PREFIX, presented.expose());
        let verified = match (&principal, parsed) {
            (Some(principal), Some((secret_id, hash))) if principal.enabled => {
                let secrets = self.store.client_secrets_for(principal.id).await?;
                secrets.iter().any(|secret| {
                    secret.id == secret_id
                        && opaque::hash_matches(&secret.secret_hash, &hash)
                        && now.unix_timestamp() < secret.expires_at
                })
            }
            _ => false,
        };
        match principal {
            Some(principal) if verified => {
                self.limiter.record_success(&keys[0].0);
                self.start_session(&principal, TokenScope::Full, false)
                    .await
            }
            _ => {
                tracing::info!(%client_address, "client credentials refused: unknown client, disabled, wrong or expired secret");
                self.limiter.record_failure(&keys, now);
                Err(Error::InvalidCredentials { code_sent: false })
            }
        }
    }

    async fn refresh_grant(&self, presented: &Sensitive) -> Result<TokenResponse> {
        let now = self.now_unix();
        let refused = |reason: &str| {
            tracing::info!(reason, "refresh refused");
            Error::InvalidCredentials { code_sent: false }
        };
        let (token_id, hash) = opaque::parse(opaque::REFRESH_TOKEN_PREFIX, presented.expose())
            .ok_or_else(|| refused("malformed"))?;
        let record = self
            .store
            .refresh_token(token_id)
            .await?
            .ok_or_else(|| refused("unknown token"))?;
        if !opaque::hash_matches(&record.secret_hash, &hash) {
            return Err(refused("wrong secret"));
        }
        if now >= record.expires_at {
            return Err(refused("expired"));
        }
        let next_credential = opaque::mint(opaque::REFRESH_TOKEN_PREFIX)?;
        let next = RefreshTokenRecord {
            id: next_credential.id,
            session_id: record.session_id,
            secret_hash: next_credential.secret_hash.to_vec(),
            created_at: now,
            expires_at: record.expires_at,
            used_at: None,
        };
        let session = match self.store.rotate_refresh_token(&record, &next, now).await? {
            RefreshOutcome::Rotated { session } => session,
            RefreshOutcome::ReuseDetected { session_id } => {
                tracing::warn!(%session_id, "refresh token reused: the whole session is revoked");
                return Err(Error::InvalidCredentials { code_sent: false });
            }
        };
        if session.revoked_at.is_some() {
            return Err(refused("session revoked"));
        }
        let principal = self
            .store
            .principal_by_id(session.principal_id)
            .await?
            .filter(|p| p.enabled)
            .ok_or_else(|| refused("principal disabled or deleted"))?;
        let mut response = self
            .sign_access_token(&principal, session.id, TokenScope::Full)
            .await?;
        response.refresh_token = Some(next_credential.token);
        Ok(response)
    }

    pub(crate) async fn start_session(
        &self,
        principal: &PrincipalRecord,
        scope: TokenScope,
        with_refresh: bool,
    ) -> Result<TokenResponse> {
        let now = self.now_unix();
        let session = SessionRecord {
            id: Uuid::new_v4(),
            principal_id: principal.id,
            created_at: now,
            expires_at: now + self.settings.session_ttl_seconds,
            revoked_at: None,
        };
        let refresh = (with_refresh && scope == TokenScope::Full)
            .then(|| opaque::mint(opaque::REFRESH_TOKEN_PREFIX))
            .transpose()?;
        let refresh_record = refresh.as_ref().map(|credential| RefreshTokenRecord {
            id: credential.id,
            session_id: session.id,
            secret_hash: credential.secret_hash.to_vec(),
            created_at: now,
            expires_at: session.expires_at,
            used_at: None,
        });
        self.store
            .insert_session(&session, refresh_record.as_ref())
            .await?;
        let mut response = self.sign_access_token(principal, session.id, scope).await?;
        response.refresh_token = refresh.map(|credential| credential.token);
        Ok(response)
    }

    async fn sign_access_token(
        &self,
        principal: &PrincipalRecord,
        session_id: Uuid,
        scope: TokenScope,
    ) -> Result<TokenResponse> {
        let lifetime = match scope {
            TokenScope::Full => self.settings.access_token_ttl_seconds,
            TokenScope::MfaEnrollment => {
                ENROLLMENT_TOKEN_SECONDS.min(self.settings.access_token_ttl_seconds)
            }
        };
        let response = self
            .sign_claims(principal, Some(session_id), scope, lifetime)
            .await?;
        super::sign_ins::note_signed_in(principal);
        Ok(response)
    }

    async fn sign_claims(
        &self,
        principal: &PrincipalRecord,
        session_id: Option<Uuid>,
        scope: TokenScope,
        lifetime: i64,
    ) -> Result<TokenResponse> {
        let kind = PrincipalKind::parse(&principal.kind)
            .ok_or_else(|| Error::internal("principal of unknown kind"))?;
        let now = self.now();
        let claims = AccessClaims {
            iss: self.settings.issuer.clone(),
            sub: principal.id,
            kind,
            sid: session_id,
            scp: scope,
            iat: now,
            nbf: now,
            exp: now + Duration::seconds(lifetime),
            jti: Uuid::new_v4(),
        };
        let token = self
            .signing
            .active(&self.store, self.root_key.as_ref(), now)
            .await?
            .sign(&claims)?;
        Ok(TokenResponse {
            access_token: Sensitive::new(token),
            token_type: "Bearer".into(),
            expires_in: lifetime,
            refresh_token: None,
            scope,
        })
    }

    /// An access token for a managed identity, with no session, living at most `lifetime`
    /// seconds (and no longer than any access token may).
    pub(crate) async fn sign_identity_token(
        &self,
        identity: &PrincipalRecord,
        lifetime: i64,
    ) -> Result<TokenResponse> {
        let lifetime = lifetime.clamp(1, self.settings.access_token_ttl_seconds);
        self.sign_claims(identity, None, TokenScope::Full, lifetime)
            .await
    }

    /// Ends the caller's sign-in session: its access and refresh tokens stop working at once.
    pub async fn sign_out(&self, caller: &Caller) -> Result<()> {
        match caller.session_id() {
            Some(session_id) => Ok(self
                .store
                .revoke_session(session_id, self.now_unix())
                .await?),
            None => Err(Error::invalid(
                "authorization",
                "a personal access token has no session to sign out of; revoke the token instead",
            )),
        }
    }
}
