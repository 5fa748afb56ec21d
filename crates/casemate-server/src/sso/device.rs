//! `casemate login --sso --device`: RFC 8628's device flow, with the server as the provider's
//! client, as in the browser flow. The server asks the provider for a device code and a user
//! code and keeps only the device code's SHA-256; the CLI shows the user code (the user signs in
//! at the provider on any device) and polls casemate's token endpoint with the device code,
//! which the server passes on to the provider's. The ID token comes straight from the provider's
//! token endpoint, so no nonce is sent or checked; issuer, audience, times and signature are.
//! A device code opens one session, and only one this server began, before it expires.

use super::provider::DevicePoll;
use super::service::refused;
use crate::config::https_or_loopback_url;
use crate::error::{Error, Result};
use crate::services::Services;
use casemate_crypto::sha256;
use casemate_types::Sensitive;
use casemate_types::wire::{DeviceAuthorizationResponse, TokenResponse, TokenScope};

/// The longest a device sign-in stays open, whatever the provider allows.
const DEVICE_SIGN_IN_SECONDS: i64 = 900;
/// RFC 8628 §3.2: the interval when the provider names none.
const DEFAULT_INTERVAL_SECONDS: i64 = 5;

/// A user code fit to show on a terminal: printable ASCII, at most 64 characters.
fn showable_user_code(code: &str) -> bool {
    !code.is_empty() && code.len() <= 64 && code.bytes().all(|b| b.is_ascii_graphic())
}

impl Services {
    /// Begins a device sign-in at the provider and records it.
    pub async fn begin_sso_device_sign_in(
        &self,
        address: std::net::IpAddr,
    ) -> Result<DeviceAuthorizationResponse> {
        let provider = self.sso_provider()?;
        self.spend_sso_begin(address)?;
        let metadata = provider.metadata(self.now()).await?;
        let device = provider
            .authorize_device(&metadata, &provider.scope())
            .await?;
        let unusable = |what: &str| {
            provider.unreachable(
                "device authorization endpoint",
                format!("it answered {what}"),
            )
        };
        if !showable_user_code(&device.user_code) {
            return Err(unusable(
                "a user_code that is not 1-64 printable characters",
            ));
        }
        let verification_uri = https_or_loopback_url("verification_uri", &device.verification_uri)
            .map_err(|e| unusable(&e.to_string()))?;
        let verification_uri_complete = device
            .verification_uri_complete
            .as_deref()
            .map(|uri| https_or_loopback_url("verification_uri_complete", uri))
            .transpose()
            .map_err(|e| unusable(&e.to_string()))?;
        if device.expires_in < 1 || device.device_code.expose().is_empty() {
            return Err(unusable("no device_code or no positive expires_in"));
        }
        let now = self.now_unix();
        let expires_in = device.expires_in.min(DEVICE_SIGN_IN_SECONDS);
        self.store
            .begin_sso_device_sign_in(
                &sha256(device.device_code.expose().as_bytes()),
                now,
                now + expires_in,
            )
            .await?;
        Ok(DeviceAuthorizationResponse {
            device_code: device.device_code,
            user_code: device.user_code,
            verification_uri: verification_uri.into(),
            verification_uri_complete: verification_uri_complete.map(Into::into),
            expires_in,
            interval: device
                .interval
                .unwrap_or(DEFAULT_INTERVAL_SECONDS)
                .clamp(1, 60),
        })
    }

    /// The token endpoint's device-code grant: pending until the user has signed in at the
    /// provider, then a session, once.
    pub(crate) async fn sso_device_grant(&self, device_code: &Sensitive) -> Result<TokenResponse> {
        let provider = self.sso_provider()?;
        let hash = sha256(device_code.expose().as_bytes());
        let expires_at = self
            .store
            .sso_device_sign_in_expiry(&hash)
            .await?
            .ok_or_else(|| {
                refused(
                    "the device code is not one this server began a sign-in with, or that \
                     sign-in was finished already",
                )
            })?;
        if self.now_unix() > expires_at {
            self.store.take_sso_device_sign_in(&hash).await?;
            return Err(refused("the device sign-in expired; begin again"));
        }
        let metadata = provider.metadata(self.now()).await?;
        match provider.poll_device(&metadata, device_code).await? {
            DevicePoll::Pending => Err(Error::DeviceSignInPending { slow_down: false }),
            DevicePoll::SlowDown => Err(Error::DeviceSignInPending { slow_down: true }),
            DevicePoll::Ended(error) => {
                self.store.take_sso_device_sign_in(&hash).await?;
                Err(refused(format!(
                    "the provider ended the device sign-in ({error})"
                )))
            }
            DevicePoll::Signed(tokens) => {
                // Taken before the token is checked: a refused token ends the sign-in too.
                if !self.store.take_sso_device_sign_in(&hash).await? {
                    return Err(refused("that device sign-in was finished already"));
                }
                let verified = self
                    .verified_id_token(provider, &metadata, &tokens.id_token, None)
                    .await?;
                let principal = self
                    .signed_in_user(provider, &metadata, &tokens, &verified)
                    .await?;
                self.start_session(&principal, TokenScope::Full, true).await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::showable_user_code;

    #[test]
    fn only_short_printable_user_codes_are_shown() {
        assert!(showable_user_code("WDJB-MJHT"));
        for bad in ["", "two words", "code\u{1b}[2J", &"X".repeat(65)] {
            assert!(!showable_user_code(bad), "{bad:?}");
        }
    }
}
