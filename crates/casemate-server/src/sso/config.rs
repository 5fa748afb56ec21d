//! The `[sso]` table of the settings file: which OpenID provider signs users in, and how its
//! users become casemate users.

use crate::config::https_or_loopback_url;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// `[sso]` as written in the settings file; every field optional so the errors can name the
/// missing one.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SsoLayer {
    /// The provider's issuer identifier, exactly as its discovery document and ID tokens state it.
    pub issuer: Option<String>,
    /// The client id casemate is registered under at the provider.
    pub client_id: Option<String>,
    /// A file (mode 0600) holding the client secret, for a confidential client; absent: a public
    /// client, kept safe by PKCE.
    pub client_secret_file: Option<PathBuf>,
    /// This server's callback as registered at the provider: `https://HOST/console/sso/callback`.
    pub redirect_url: Option<String>,
    /// Scopes asked for besides `openid`.
    pub scopes: Option<Vec<String>>,
    /// The claim naming a user created on first sign-in.
    pub username_claim: Option<String>,
    /// The claim listing the user's groups: at each sign-in the user becomes a member of the
    /// casemate groups of those names (and stops being one of those no longer listed).
    pub groups_claim: Option<String>,
    /// Whether a subject with no linked user gets one made on first sign-in.
    pub create_users: Option<bool>,
    /// How far the provider's clock may be from this one when checking `exp`, `iat` and `nbf`.
    pub max_clock_skew_seconds: Option<i64>,
    /// A PEM file of certificate authorities to trust for the provider, besides the system's.
    pub ca_file: Option<PathBuf>,
}

/// The provider settings, checked.
#[derive(Debug, Clone)]
pub struct SsoSettings {
    pub issuer: String,
    pub client_id: String,
    pub client_secret_file: Option<PathBuf>,
    pub redirect_url: String,
    pub scopes: Vec<String>,
    pub username_claim: String,
    pub groups_claim: String,
    pub create_users: bool,
    pub max_clock_skew_seconds: i64,
    pub ca_file: Option<PathBuf>,
}

/// The path of the callback route the redirect URL must end in.
pub const CALLBACK_PATH: &str = "/console/sso/callback";

fn required(field: &str, value: Option<String>) -> Result<String, String> {
    value
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| format!("{field}: required when [sso] is given"))
}

fn claim_name(field: &str, value: Option<String>, default: &str) -> Result<String, String> {
    let name = value.unwrap_or_else(|| default.into());
    if name.is_empty() || name.len() > 64 || name.chars().any(char::is_control) {
        return Err(format!(
            "{field}: must be a claim name of 1 to 64 characters"
        ));
    }
    Ok(name)
}

impl SsoSettings {
    pub fn resolve(layer: SsoLayer) -> Result<Self, String> {
        let issuer = required("sso.issuer", layer.issuer)?;
        let parsed = https_or_loopback_url("sso.issuer", &issuer)?;
        if parsed.query().is_some() || parsed.fragment().is_some() {
            return Err("sso.issuer: must have no query or fragment".into());
        }
        let client_id = required("sso.client_id", layer.client_id)?;
        if client_id.len() > 255 || client_id.chars().any(char::is_control) {
            return Err(
                "sso.client_id: must be at most 255 characters, none of them control characters"
                    .into(),
            );
        }
        let redirect_url = required("sso.redirect_url", layer.redirect_url)?;
        let redirect = https_or_loopback_url("sso.redirect_url", &redirect_url)?;
        if redirect.path() != CALLBACK_PATH || redirect.query().is_some() {
            return Err(format!(
                "sso.redirect_url: must be this server's {CALLBACK_PATH}, with no query"
            ));
        }
        let scopes = layer
            .scopes
            .unwrap_or_else(|| vec!["profile".into(), "email".into()]);
        if let Some(bad) = scopes.iter().find(|scope| {
            scope.is_empty()
                || !scope
                    .chars()
                    .all(|c| c.is_ascii_graphic() && c != '"' && c != '\\')
        }) {
            return Err(format!(
                "sso.scopes: '{bad}' is not a scope (printable ASCII, no spaces, quotes or backslashes)"
            ));
        }
        let max_clock_skew_seconds = layer.max_clock_skew_seconds.unwrap_or(60);
        if !(0..=300).contains(&max_clock_skew_seconds) {
            return Err("sso.max_clock_skew_seconds: must be between 0 and 300".into());
        }
        Ok(Self {
            issuer,
            client_id,
            client_secret_file: layer.client_secret_file,
            redirect_url,
            scopes,
            username_claim: claim_name(
                "sso.username_claim",
                layer.username_claim,
                "preferred_username",
            )?,
            groups_claim: claim_name("sso.groups_claim", layer.groups_claim, "groups")?,
            create_users: layer.create_users.unwrap_or(false),
            max_clock_skew_seconds,
            ca_file: layer.ca_file,
        })
    }

    /// The client secret, read from its file when the server starts.
    pub fn client_secret(&self) -> Result<Option<casemate_types::Sensitive>, String> {
        self.client_secret_file
            .as_deref()
            .map(read_secret_file)
            .transpose()
    }
}

fn read_secret_file(path: &Path) -> Result<casemate_types::Sensitive, String> {
    let bytes = casemate_crypto::keyprovider::read_private_file(path)
        .map_err(|e| format!("sso.client_secret_file: {e}"))?;
    let text = std::str::from_utf8(&bytes).map_err(|_| {
        format!(
            "sso.client_secret_file: {} is not UTF-8 text",
            path.display()
        )
    })?;
    Ok(casemate_types::Sensitive::new(text.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer() -> SsoLayer {
        SsoLayer {
            issuer: Some("https://idp.example/realms/ml".into()),
            client_id: Some("casemate".into()),
            redirect_url: Some("https://casemate.example/console/sso/callback".into()),
            ..Default::default()
        }
    }

    #[test]
    fn defaults_fill_what_is_left_out() {
        let settings = SsoSettings::resolve(layer()).unwrap();
        assert_eq!(settings.username_claim, "preferred_username");
        assert_eq!(settings.groups_claim, "groups");
        assert_eq!(settings.max_clock_skew_seconds, 60);
        assert!(!settings.create_users);
    }

    #[test]
    fn each_wrong_field_is_named_with_its_rule() {
        let cases: Vec<(SsoLayer, &str)> = vec![
            (
                SsoLayer {
                    issuer: None,
                    ..layer()
                },
                "sso.issuer: required",
            ),
            (
                SsoLayer {
                    issuer: Some("http://idp.example".into()),
                    ..layer()
                },
                "sso.issuer: must be an https URL",
            ),
            (
                SsoLayer {
                    client_id: Some(" ".into()),
                    ..layer()
                },
                "sso.client_id: required",
            ),
            (
                SsoLayer {
                    redirect_url: None,
                    ..layer()
                },
                "sso.redirect_url: required",
            ),
            (
                SsoLayer {
                    redirect_url: Some("https://casemate.example/elsewhere".into()),
                    ..layer()
                },
                "sso.redirect_url: must be this server's /console/sso/callback",
            ),
            (
                SsoLayer {
                    scopes: Some(vec!["a b".into()]),
                    ..layer()
                },
                "sso.scopes: 'a b' is not a scope",
            ),
            (
                SsoLayer {
                    max_clock_skew_seconds: Some(301),
                    ..layer()
                },
                "sso.max_clock_skew_seconds: must be between 0 and 300",
            ),
            (
                SsoLayer {
                    username_claim: Some(String::new()),
                    ..layer()
                },
                "sso.username_claim: must be a claim name",
            ),
        ];
        for (layer, expected) in cases {
            let err = SsoSettings::resolve(layer).unwrap_err();
            assert!(
                err.starts_with(expected),
                "{err} should start with {expected}"
            );
        }
    }

    #[test]
    fn plain_http_only_to_loopback() {
        let loopback = SsoLayer {
            issuer: Some("http://127.0.0.1:9000".into()),
            redirect_url: Some("http://localhost:8443/console/sso/callback".into()),
            ..layer()
        };
        assert!(SsoSettings::resolve(loopback).is_ok());
    }
}
