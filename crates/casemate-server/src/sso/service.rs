//! Signing in through the OpenID provider: the authorization-code flow with PKCE, a nonce and a
//! state bound to the browser that began it, ending in the same cookie session a password
//! sign-in opens.

use super::provider::{Provider, ProviderMetadata, ProviderTokens};
use crate::error::{Error, Result};
use crate::services::Services;
use crate::services::limiter::SSO_BEGINS_PER_ADDRESS;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use casemate_crypto::id_token::{self, Expected, IdToken, IdTokenError};
use casemate_crypto::{constant_time_eq, pkce_challenge, random_text, sha256};
use casemate_store::{CliHandoffRequest, PrincipalRecord, SsoSignInRecord, StoreError};
use casemate_types::Sensitive;
use casemate_types::names::validate_label;
use casemate_types::wire::{PrincipalKind, TokenResponse, TokenScope};
use std::net::IpAddr;

/// How long a sign-in may spend at the provider before its state is no longer accepted.
pub const SIGN_IN_SECONDS: i64 = 600;

/// Where to send the browser, and the value its binding cookie must hold when it comes back.
pub struct SsoRedirect {
    pub location: String,
    pub binding: Sensitive,
}

/// How a sign-in ended: a session for the browser, or a code for the CLI on its loopback port.
pub enum SsoFinished {
    Browser(TokenResponse),
    Cli { port: u16, code: Sensitive },
}

/// What the provider sent back to the callback.
pub struct SsoCallback {
    pub code: Sensitive,
    pub state: Sensitive,
    /// RFC 9207: the issuer of the response, when the provider says.
    pub issuer: Option<String>,
}

/// The PKCE verifier is derived from the browser's binding value, so the server keeps no copy:
/// the code is worthless without the cookie of the browser that asked for it.
fn pkce_verifier(binding: &Sensitive) -> Sensitive {
    let mut input = zeroize::Zeroizing::new(b"casemate/sso/pkce-verifier/".to_vec());
    input.extend_from_slice(binding.expose().as_bytes());
    Sensitive::new(URL_SAFE_NO_PAD.encode(sha256(&input)))
}

pub(super) fn refused(reason: impl std::fmt::Display) -> Error {
    tracing::info!(%reason, "single sign-on refused");
    Error::SignInRefused(reason.to_string())
}

impl Services {
    pub(super) fn sso_provider(&self) -> Result<&Provider> {
        self.sso
            .as_ref()
            .ok_or_else(|| Error::NotFound("single sign-on (no [sso] issuer is configured)".into()))
    }

    /// Counts a sign-in begun from `address`, refused with 429 past the window's budget.
    pub(super) fn spend_sso_begin(&self, address: IpAddr) -> Result<()> {
        let budget = (format!("sso-begin:{address}"), SSO_BEGINS_PER_ADDRESS);
        let reason = "too many single sign-ins begun from this address";
        self.limiter.spend(&budget, reason, self.now()).map(drop)
    }

    /// Begins a sign-in: records its state and nonce (and the CLI waiting for it, if one is),
    /// and says where to send the browser.
    pub async fn begin_sso_sign_in(
        &self,
        cli: Option<CliHandoffRequest>,
        address: IpAddr,
    ) -> Result<SsoRedirect> {
        let provider = self.sso_provider()?;
        self.spend_sso_begin(address)?;
        let metadata = provider.metadata(self.now()).await?;
        let (state, binding, nonce) = (random_text()?, random_text()?, random_text()?);
        let now = self.now_unix();
        self.store
            .begin_sso_sign_in(
                &SsoSignInRecord {
                    state_hash: sha256(state.expose().as_bytes()).to_vec(),
                    binding_hash: sha256(binding.expose().as_bytes()).to_vec(),
                    nonce: nonce.expose().to_owned(),
                    created_at: now,
                    cli,
                },
                now - SIGN_IN_SECONDS,
            )
            .await?;
        let challenge = pkce_challenge(&pkce_verifier(&binding));
        let settings = &provider.settings;
        let scope = provider.scope();
        let mut location = metadata.authorization_endpoint.clone();
        location
            .query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &settings.client_id)
            .append_pair("redirect_uri", &settings.redirect_url)
            .append_pair("scope", &scope)
            .append_pair("state", state.expose())
            .append_pair("nonce", nonce.expose())
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");
        Ok(SsoRedirect {
            location: location.into(),
            binding,
        })
    }

    /// Finishes a sign-in at the callback: the state must be one this server issued, unused,
    /// young enough and begun by this browser; the code is traded with its verifier; the ID
    /// token must be from the issuer, for this client, current and carry this sign-in's nonce.
    pub async fn finish_sso_sign_in(
        &self,
        callback: &SsoCallback,
        binding: Option<&Sensitive>,
    ) -> Result<SsoFinished> {
        let provider = self.sso_provider()?;
        if callback
            .issuer
            .as_ref()
            .is_some_and(|issuer| *issuer != provider.settings.issuer)
        {
            return Err(refused("the response names another issuer (iss)"));
        }
        let state_hash = sha256(callback.state.expose().as_bytes());
        let sign_in = self
            .store
            .take_sso_sign_in(&state_hash)
            .await?
            .ok_or_else(|| {
                refused("the state is not one this server issued, or it was used already")
            })?;
        if self.now_unix() - sign_in.created_at > SIGN_IN_SECONDS {
            return Err(refused(format!(
                "the sign-in was begun more than {SIGN_IN_SECONDS} seconds ago; begin again"
            )));
        }
        let binding = binding.ok_or_else(|| {
            refused("the browser's sign-in cookie is missing: begin the sign-in in this browser")
        })?;
        if !constant_time_eq(&sign_in.binding_hash, &sha256(binding.expose().as_bytes())) {
            return Err(refused("the sign-in was begun in another browser"));
        }
        let metadata = provider.metadata(self.now()).await?;
        let tokens = provider
            .tokens_for(&metadata, &callback.code, &pkce_verifier(binding))
            .await?;
        let verified = self
            .verified_id_token(provider, &metadata, &tokens.id_token, Some(&sign_in.nonce))
            .await?;
        let principal = self
            .signed_in_user(provider, &metadata, &tokens, &verified)
            .await?;
        match sign_in.cli {
            Some(cli) => Ok(SsoFinished::Cli {
                port: cli.port,
                code: self.hand_off_to_cli(&principal, cli.challenge).await?,
            }),
            None => Ok(SsoFinished::Browser(
                self.start_session(&principal, TokenScope::Full, true)
                    .await?,
            )),
        }
    }

    /// The user a verified token signs in as, their groups from the provider's claim
    /// replacing those of their last sign-in. The claim is the ID token's; when the ID token
    /// has none, the userinfo endpoint's, if the provider has one.
    pub(super) async fn signed_in_user(
        &self,
        provider: &Provider,
        metadata: &ProviderMetadata,
        tokens: &ProviderTokens,
        verified: &IdToken,
    ) -> Result<PrincipalRecord> {
        // The groups first: a userinfo answer that is refused must not leave a user made.
        let claim = &provider.settings.groups_claim;
        let groups = match (&metadata.userinfo_endpoint, &tokens.access_token) {
            (Some(endpoint), Some(access_token)) if !verified.claims.contains_key(claim) => {
                let claims = provider
                    .userinfo(endpoint, access_token, &verified.subject)
                    .await?;
                id_token::strings_in(&claims, claim)
            }
            _ => verified.strings_claim(claim),
        };
        let principal = self.principal_for(provider, verified).await?;
        self.store
            .replace_sso_memberships(principal.id, &groups)
            .await?;
        Ok(principal)
    }

    pub(super) async fn verified_id_token(
        &self,
        provider: &Provider,
        metadata: &ProviderMetadata,
        id_token: &Sensitive,
        nonce: Option<&str>,
    ) -> Result<IdToken> {
        let settings = &provider.settings;
        let expected = Expected {
            issuer: &settings.issuer,
            client_id: &settings.client_id,
            nonce,
            now: self.now(),
            max_skew: time::Duration::seconds(settings.max_clock_skew_seconds),
        };
        match id_token::verify(id_token.expose(), &metadata.keys, &expected) {
            Err(unknown @ IdTokenError::UnknownKey(_)) => {
                // The provider may have rotated its keys since they were fetched.
                match provider.refetched_keys(self.now()).await? {
                    Some(fresh) => {
                        id_token::verify(id_token.expose(), &fresh.keys, &expected).map_err(refused)
                    }
                    None => Err(refused(unknown)),
                }
            }
            verified => verified.map_err(refused),
        }
    }

    /// The user the token's subject is linked to, or one made for it when the settings allow.
    async fn principal_for(&self, provider: &Provider, token: &IdToken) -> Result<PrincipalRecord> {
        let settings = &provider.settings;
        let linked = self
            .store
            .external_identity_principal(&settings.issuer, &token.subject)
            .await?;
        if let Some(id) = linked {
            return self
                .store
                .principal_by_id(id)
                .await?
                .filter(|p| p.enabled && p.kind == PrincipalKind::User.as_str())
                .ok_or_else(|| refused("the user linked to this identity is disabled"));
        }
        if !settings.create_users {
            return Err(refused(format!(
                "no casemate user is linked to subject '{}' of this provider; an administrator \
                 links one (casemate user link-sso), or sets sso.create_users",
                token.subject
            )));
        }
        let claim = &settings.username_claim;
        let name = token.string_claim(claim).ok_or_else(|| {
            refused(format!(
                "the ID token has no '{claim}' claim to name a new user"
            ))
        })?;
        // The provider's display name when it is a fit one; the user name otherwise.
        let display_name = token
            .string_claim("name")
            .filter(|display| validate_label("name", display).is_ok())
            .map(str::to_owned);
        let user = self
            .new_principal(PrincipalKind::User, name, display_name.as_ref())
            .map_err(|e| refused(format!("the '{claim}' claim cannot name a user: {e}")))?;
        match self
            .store
            .insert_user_for_external_identity(&user, &settings.issuer, &token.subject)
            .await
        {
            Ok(()) => {
                tracing::info!(principal = %user.id, "user created on first single sign-on");
                Ok(user)
            }
            Err(StoreError::Conflict(_)) => Err(refused(format!(
                "a user named '{name}' exists already and is not linked to this identity; an \
                 administrator can link it (casemate user link-sso)"
            ))),
            Err(e) => Err(e.into()),
        }
    }

    /// Links a provider subject to a user, so it signs in as them.
    pub async fn link_sso_identity(&self, user: &str, subject: &str) -> Result<()> {
        let provider = self.sso_provider()?;
        if subject.is_empty() || subject.len() > 255 || subject.chars().any(char::is_control) {
            return Err(Error::invalid(
                "subject",
                "must be 1 to 255 characters, none of them control characters",
            ));
        }
        let principal = self.find_principal(user, PrincipalKind::User).await?;
        Ok(self
            .store
            .link_external_identity(
                &provider.settings.issuer,
                subject,
                principal.id,
                self.now_unix(),
            )
            .await?)
    }
}
