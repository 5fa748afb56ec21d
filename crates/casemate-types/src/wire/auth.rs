//! OAuth2-style token issuance, the published verification keys, and who-am-I.

use crate::secret::Sensitive;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

/// RFC 8628 §3.4's grant type, at casemate's token endpoint and at the provider's.
pub const DEVICE_CODE_GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:device_code";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GrantType {
    Password,
    ClientCredentials,
    RefreshToken,
    /// casemate's own: the code single sign-on hands `casemate login --sso` on its loopback
    /// port, traded with the CLI's PKCE verifier.
    SsoHandoff,
    /// RFC 8628's device flow: the device code `POST /console/sso/device` gave, polled until
    /// the user has signed in at the provider.
    #[serde(rename = "urn:ietf:params:oauth:grant-type:device_code")]
    DeviceCode,
}

/// `POST /oauth2/token`, as a form (`application/x-www-form-urlencoded`) or as JSON.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    pub grant_type: GrantType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<Sensitive>,
    /// The current TOTP code, for users enrolled in (or required to use) a second factor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totp: Option<Sensitive>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<Sensitive>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<Sensitive>,
    /// The code single sign-on handed to the CLI (grant `sso_handoff`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<Sensitive>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_verifier: Option<Sensitive>,
    /// The device code of a device sign-in (grant `urn:ietf:params:oauth:grant-type:device_code`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_code: Option<Sensitive>,
}

impl TokenRequest {
    /// A request of `grant_type` with no fields yet.
    fn of(grant_type: GrantType) -> Self {
        Self {
            grant_type,
            username: None,
            password: None,
            totp: None,
            client_id: None,
            client_secret: None,
            refresh_token: None,
            code: None,
            code_verifier: None,
            device_code: None,
        }
    }

    pub fn password(username: &str, password: Sensitive, totp: Option<Sensitive>) -> Self {
        Self {
            username: Some(username.to_owned()),
            password: Some(password),
            totp,
            ..Self::of(GrantType::Password)
        }
    }

    pub fn client_credentials(client_id: &str, client_secret: Sensitive) -> Self {
        Self {
            client_id: Some(client_id.to_owned()),
            client_secret: Some(client_secret),
            ..Self::of(GrantType::ClientCredentials)
        }
    }

    pub fn refresh(refresh_token: Sensitive) -> Self {
        Self {
            refresh_token: Some(refresh_token),
            ..Self::of(GrantType::RefreshToken)
        }
    }

    /// Trades the code single sign-on handed `casemate login --sso`, with the verifier whose
    /// challenge began the sign-in.
    pub fn sso_handoff(code: Sensitive, code_verifier: Sensitive) -> Self {
        Self {
            code: Some(code),
            code_verifier: Some(code_verifier),
            ..Self::of(GrantType::SsoHandoff)
        }
    }

    /// Polls a device sign-in (RFC 8628 §3.4).
    pub fn device_code(device_code: Sensitive) -> Self {
        Self {
            device_code: Some(device_code),
            ..Self::of(GrantType::DeviceCode)
        }
    }
}

/// `POST /console/sso/device`: a device sign-in begun at the OpenID provider (RFC 8628 §3.2).
/// The user opens `verification_uri` on any device and enters `user_code`; meanwhile the CLI
/// polls the token endpoint with `device_code`, no more often than every `interval` seconds.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeviceAuthorizationResponse {
    pub device_code: Sensitive,
    pub user_code: String,
    pub verification_uri: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification_uri_complete: Option<String>,
    /// Seconds until the device code expires.
    pub expires_in: i64,
    /// Seconds to wait between polls.
    pub interval: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TokenResponse {
    pub access_token: Sensitive,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<Sensitive>,
    /// What the token may do: `full`, or `mfa_enrollment` when the second factor must be set up first.
    pub scope: TokenScope,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TokenScope {
    Full,
    MfaEnrollment,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PrincipalKind {
    User,
    ServicePrincipal,
    ManagedIdentity,
    Run,
    /// A container registry's admin user, when it is enabled.
    RegistryAdmin,
    /// Holds role assignments for its members; never signs in.
    Group,
}

impl PrincipalKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::ServicePrincipal => "service_principal",
            Self::ManagedIdentity => "managed_identity",
            Self::Run => "run",
            Self::RegistryAdmin => "registry_admin",
            Self::Group => "group",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "user" => Some(Self::User),
            "service_principal" => Some(Self::ServicePrincipal),
            "managed_identity" => Some(Self::ManagedIdentity),
            "run" => Some(Self::Run),
            "registry_admin" => Some(Self::RegistryAdmin),
            "group" => Some(Self::Group),
            _ => None,
        }
    }
}

/// `GET /oauth2/userinfo`: who the caller is and what its token says.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UserInfo {
    pub object_id: Uuid,
    pub name: String,
    pub display_name: String,
    pub kind: PrincipalKind,
    pub token: TokenInfo,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TokenInfo {
    /// `access_token` or `personal_access_token`.
    pub token_type: String,
    pub scope: TokenScope,
    #[serde(with = "time::serde::rfc3339")]
    pub issued_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<Uuid>,
}

/// `GET /.well-known/casemate-keys`: every key a valid access token may be signed with.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PublicKeySet {
    /// The token issuer, as it appears in the `iss` claim.
    pub issuer: String,
    pub keys: Vec<PublicKey>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PublicKey {
    /// PASERK public key id (`k4.pid.…`), the `kid` in every token's footer.
    pub kid: String,
    /// Always `v4.public` (PASETO version 4, Ed25519).
    pub alg: String,
    /// The PASERK-encoded public key (`k4.public.…`).
    pub public_key: String,
    /// `active` signs new tokens; `retired` only verifies tokens signed before rotation.
    pub status: SigningKeyStatus,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// After this instant no token signed by the key can be valid.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub verify_until: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SigningKeyStatus {
    Active,
    Retired,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Health {
    pub status: String,
    pub version: String,
}

/// `POST /console/session`: the web console's password sign-in. The session it opens lives in
/// HttpOnly cookies, never in what the page's script can read.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsoleSignIn {
    pub username: String,
    pub password: Sensitive,
    /// The current TOTP code, for users with a second factor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totp: Option<Sensitive>,
}

/// The console's session as its page sees it: who is signed in, and the value every
/// state-changing request must carry in `x-csrf-token`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ConsoleSession {
    pub name: String,
    pub display_name: String,
    pub object_id: Uuid,
    pub scope: TokenScope,
    pub csrf_token: String,
    /// Seconds until the access token in the cookie expires; the page refreshes before then.
    pub expires_in: i64,
}

/// Links an OpenID provider's subject (its `sub` for a person) to a casemate user, so that
/// signing in through the configured provider as that subject signs in as the user.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkSsoIdentityRequest {
    pub subject: String,
}

/// How users may sign in to this server, for the console's sign-in page.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ConsoleSignInOptions {
    /// With a user name and password (and TOTP code).
    pub password: bool,
    /// Through the configured OpenID provider, starting at `/console/sso/start`.
    pub sso: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_device_code_grant_is_named_as_rfc_8628_names_it() {
        let named = serde_json::to_value(GrantType::DeviceCode).unwrap();
        assert_eq!(named, DEVICE_CODE_GRANT_TYPE);
        let read: GrantType = serde_json::from_value(named).unwrap();
        assert_eq!(read, GrantType::DeviceCode);
    }
}
