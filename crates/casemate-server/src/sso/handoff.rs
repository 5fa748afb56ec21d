//! `casemate login --sso`: the CLI listens on a loopback port (RFC 8252), the browser signs in
//! as usual, and the callback sends it to the CLI with a one-use code that only the holder of
//! the verifier whose challenge began the sign-in can trade for a session.

use super::service::refused;
use crate::error::{Error, Result};
use crate::services::Services;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use casemate_crypto::{constant_time_eq, pkce_challenge, sha256};
use casemate_store::{CliHandoffRequest, PrincipalRecord, SsoHandoffRecord};
use casemate_types::Sensitive;
use casemate_types::wire::{PrincipalKind, TokenResponse, TokenScope};

/// How long the CLI has to trade its code.
const HANDOFF_SECONDS: i64 = 120;

/// Checks what `/console/sso/start` was given for a CLI: both or neither.
pub fn cli_request(
    port: Option<u16>,
    challenge: Option<String>,
) -> Result<Option<CliHandoffRequest>> {
    match (port, challenge) {
        (None, None) => Ok(None),
        (Some(port), Some(challenge)) => {
            if port < 1024 {
                return Err(Error::invalid(
                    "cli_port",
                    "must be a port from 1024 to 65535",
                ));
            }
            let decoded = URL_SAFE_NO_PAD.decode(&challenge).ok();
            if decoded.is_none_or(|bytes| bytes.len() != 32) {
                return Err(Error::invalid(
                    "cli_challenge",
                    "must be the base64url (unpadded) SHA-256 of the CLI's verifier",
                ));
            }
            Ok(Some(CliHandoffRequest { port, challenge }))
        }
        (Some(_), None) => Err(Error::invalid("cli_challenge", "is required with cli_port")),
        (None, Some(_)) => Err(Error::invalid("cli_port", "is required with cli_challenge")),
    }
}

impl Services {
    /// A one-use code for the CLI that began the sign-in, bound to its challenge.
    pub(super) async fn hand_off_to_cli(
        &self,
        principal: &PrincipalRecord,
        challenge: String,
    ) -> Result<Sensitive> {
        let code = casemate_crypto::random_text()?;
        let now = self.now_unix();
        self.store
            .insert_sso_handoff(
                &SsoHandoffRecord {
                    code_hash: sha256(code.expose().as_bytes()).to_vec(),
                    principal_id: principal.id,
                    challenge,
                    created_at: now,
                },
                now - HANDOFF_SECONDS,
            )
            .await?;
        crate::services::sign_ins::note_signed_in(principal);
        Ok(code)
    }

    /// The token endpoint's `sso_handoff` grant: the code, once, young, with its verifier.
    pub(crate) async fn sso_handoff_grant(
        &self,
        code: &Sensitive,
        verifier: &Sensitive,
    ) -> Result<TokenResponse> {
        let handoff = self
            .store
            .take_sso_handoff(&sha256(code.expose().as_bytes()))
            .await?
            .ok_or_else(|| {
                refused("the code is not one this server handed out, or it was used already")
            })?;
        if self.now_unix() - handoff.created_at > HANDOFF_SECONDS {
            return Err(refused(format!(
                "the code is more than {HANDOFF_SECONDS} seconds old; sign in again"
            )));
        }
        let presented = pkce_challenge(verifier);
        if !constant_time_eq(presented.as_bytes(), handoff.challenge.as_bytes()) {
            return Err(refused(
                "the code_verifier does not match the challenge the sign-in began with",
            ));
        }
        let principal = self
            .store
            .principal_by_id(handoff.principal_id)
            .await?
            .filter(|p| p.enabled && p.kind == PrincipalKind::User.as_str())
            .ok_or_else(|| refused("the user is disabled or gone"))?;
        self.start_session(&principal, TokenScope::Full, true).await
    }
}
