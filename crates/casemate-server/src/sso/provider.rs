//! The OpenID provider as casemate reaches it: its discovery document and keys (fetched when
//! first needed and kept for an hour; the keys again at once when a token names a key not among
//! them, as after the provider rotates), and the token endpoint a code is traded at.

use super::config::SsoSettings;
use crate::config::https_or_loopback_url;
use crate::error::{Error, Result};
use casemate_crypto::id_token::Jwks;
use casemate_types::Sensitive;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;
use tokio::sync::Mutex;

const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// No discovery document, key set or token response is anywhere near this big.
const MAX_RESPONSE_BYTES: usize = 1 << 20;
const METADATA_LIFETIME: time::Duration = time::Duration::hours(1);
/// The least time between two key fetches forced by unknown key ids, so tokens naming made-up
/// keys cannot make casemate hammer the provider.
const MIN_KEY_REFETCH: time::Duration = time::Duration::seconds(30);

/// A provider's OAuth error code (RFC 6749 §4.1.2.1, §5.2) fit to show: printable ASCII, at
/// most 64 characters; whatever else a hostile provider put there is dropped.
pub(crate) fn error_code(error: &str) -> String {
    error
        .chars()
        .filter(char::is_ascii_graphic)
        .take(64)
        .collect()
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
    #[serde(default)]
    code_challenge_methods_supported: Option<Vec<String>>,
    /// RFC 8628 §4: present when the provider offers the device flow.
    #[serde(default)]
    device_authorization_endpoint: Option<String>,
    #[serde(default)]
    userinfo_endpoint: Option<String>,
}

/// What discovery said, with the keys.
#[derive(Clone)]
pub(crate) struct ProviderMetadata {
    pub authorization_endpoint: url::Url,
    pub token_endpoint: url::Url,
    pub device_authorization_endpoint: Option<url::Url>,
    pub userinfo_endpoint: Option<url::Url>,
    jwks_uri: url::Url,
    pub keys: Jwks,
    fetched_at: OffsetDateTime,
}

#[derive(Deserialize)]
struct TokenResponse {
    id_token: Option<Sensitive>,
    access_token: Option<Sensitive>,
    error: Option<String>,
}

/// What the token endpoint gave: the ID token, and the access token the userinfo endpoint takes.
pub(crate) struct ProviderTokens {
    pub id_token: Sensitive,
    pub access_token: Option<Sensitive>,
}

/// The provider's answer to a device authorization request (RFC 8628 §3.2).
#[derive(Deserialize)]
pub(crate) struct DeviceAuthorization {
    pub device_code: Sensitive,
    pub user_code: String,
    pub verification_uri: String,
    #[serde(default)]
    pub verification_uri_complete: Option<String>,
    pub expires_in: i64,
    #[serde(default)]
    pub interval: Option<i64>,
}

/// Where a device sign-in stands at the provider (RFC 8628 §3.5).
pub(crate) enum DevicePoll {
    Signed(ProviderTokens),
    Pending,
    SlowDown,
    /// It will not finish: denied, expired, or not a code of this client.
    Ended(String),
}

pub struct Provider {
    pub settings: SsoSettings,
    client_secret: Option<Sensitive>,
    pub(super) http: reqwest::Client,
    metadata: Mutex<Option<Arc<ProviderMetadata>>>,
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider")
            .field("issuer", &self.settings.issuer)
            .finish_non_exhaustive()
    }
}

fn trust_roots(
    ca_file: Option<&std::path::Path>,
) -> std::result::Result<rustls::RootCertStore, String> {
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(native.certs);
    if let Some(path) = ca_file {
        let certificates = CertificateDer::pem_file_iter(path)
            .and_then(|certs| certs.collect::<std::result::Result<Vec<_>, _>>())
            .map_err(|e| format!("sso.ca_file: {}: {e}", path.display()))?;
        if certificates.is_empty() {
            return Err(format!(
                "sso.ca_file: {} holds no certificate",
                path.display()
            ));
        }
        for certificate in certificates {
            roots
                .add(certificate)
                .map_err(|e| format!("sso.ca_file: {}: {e}", path.display()))?;
        }
    }
    Ok(roots)
}

impl Provider {
    /// Reads the client secret and trust roots; nothing is fetched until a sign-in needs it.
    pub fn new(settings: SsoSettings) -> std::result::Result<Self, String> {
        let client_secret = settings.client_secret()?;
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("sso: TLS: {e}"))?
        .with_root_certificates(trust_roots(settings.ca_file.as_deref())?)
        .with_no_client_auth();
        let http = reqwest::Client::builder()
            .timeout(CALL_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .tls_backend_preconfigured(tls)
            .build()
            .map_err(|e| format!("sso: HTTP client: {e}"))?;
        Ok(Self {
            settings,
            client_secret,
            http,
            metadata: Mutex::new(None),
        })
    }

    /// The scopes a sign-in asks for: `openid` and the configured ones.
    pub(crate) fn scope(&self) -> String {
        std::iter::once("openid")
            .chain(
                self.settings
                    .scopes
                    .iter()
                    .map(String::as_str)
                    .filter(|s| *s != "openid"),
            )
            .collect::<Vec<_>>()
            .join(" ")
    }

    pub(super) fn unreachable(&self, what: &str, error: impl std::fmt::Display) -> Error {
        Error::BadGateway(format!(
            "the OpenID provider {} ({what}): {error}",
            self.settings.issuer
        ))
    }

    async fn body(&self, what: &str, response: reqwest::Response) -> Result<Vec<u8>> {
        let mut response = response;
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| self.unreachable(what, e))?
        {
            if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(self.unreachable(what, "the response is larger than 1 MiB"));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        what: &str,
        url: &url::Url,
    ) -> Result<T> {
        self.json_answer(what, self.http.get(url.clone())).await
    }

    /// The JSON answer to `request`, which must succeed.
    pub(super) async fn json_answer<T: serde::de::DeserializeOwned>(
        &self,
        what: &str,
        request: reqwest::RequestBuilder,
    ) -> Result<T> {
        let response = request
            .send()
            .await
            .map_err(|e| self.unreachable(what, e))?;
        let status = response.status();
        if !status.is_success() {
            return Err(self.unreachable(what, format!("answered {status}")));
        }
        let body = self.body(what, response).await?;
        serde_json::from_slice(&body).map_err(|e| self.unreachable(what, e))
    }

    fn endpoint(&self, field: &str, value: &str) -> Result<url::Url> {
        https_or_loopback_url(field, value).map_err(|e| self.unreachable("discovery", e))
    }

    async fn discover(&self, now: OffsetDateTime) -> Result<ProviderMetadata> {
        let issuer = self.settings.issuer.trim_end_matches('/');
        let url = url::Url::parse(&format!("{issuer}/.well-known/openid-configuration"))
            .map_err(|e| self.unreachable("discovery", e))?;
        let discovery: Discovery = self.get_json("discovery", &url).await?;
        // OpenID Connect Discovery 1.0 §4.3: the document must name the issuer it came from.
        if discovery.issuer != self.settings.issuer {
            return Err(self.unreachable(
                "discovery",
                format!("its document names the issuer '{}'", discovery.issuer),
            ));
        }
        if let Some(methods) = &discovery.code_challenge_methods_supported
            && !methods.iter().any(|method| method == "S256")
        {
            return Err(self.unreachable("discovery", "it does not offer PKCE with S256"));
        }
        let jwks_uri = self.endpoint("jwks_uri", &discovery.jwks_uri)?;
        Ok(ProviderMetadata {
            authorization_endpoint: self
                .endpoint("authorization_endpoint", &discovery.authorization_endpoint)?,
            token_endpoint: self.endpoint("token_endpoint", &discovery.token_endpoint)?,
            device_authorization_endpoint: discovery
                .device_authorization_endpoint
                .as_deref()
                .map(|url| self.endpoint("device_authorization_endpoint", url))
                .transpose()?,
            userinfo_endpoint: discovery
                .userinfo_endpoint
                .as_deref()
                .map(|url| self.endpoint("userinfo_endpoint", url))
                .transpose()?,
            keys: self.get_json("keys", &jwks_uri).await?,
            jwks_uri,
            fetched_at: now,
        })
    }

    /// Discovery and keys, from the provider when not fetched within the hour.
    pub(crate) async fn metadata(&self, now: OffsetDateTime) -> Result<Arc<ProviderMetadata>> {
        let mut kept = self.metadata.lock().await;
        if let Some(metadata) = kept.as_ref()
            && now - metadata.fetched_at < METADATA_LIFETIME
        {
            return Ok(metadata.clone());
        }
        let fresh = Arc::new(self.discover(now).await?);
        *kept = Some(fresh.clone());
        Ok(fresh)
    }

    /// The keys fetched again, after a token named one not among them; `None` when they were
    /// fetched too recently to ask again.
    pub(crate) async fn refetched_keys(
        &self,
        now: OffsetDateTime,
    ) -> Result<Option<Arc<ProviderMetadata>>> {
        let mut kept = self.metadata.lock().await;
        let Some(current) = kept.as_ref() else {
            return Ok(None);
        };
        if now - current.fetched_at < MIN_KEY_REFETCH {
            return Ok(None);
        }
        let keys = self.get_json("keys", &current.jwks_uri).await?;
        let fresh = Arc::new(ProviderMetadata {
            keys,
            fetched_at: now,
            ..ProviderMetadata::clone(current)
        });
        *kept = Some(fresh.clone());
        Ok(Some(fresh))
    }

    /// A POST of `form` to one of the provider's endpoints, as this client (RFC 6749 §2.3.1:
    /// client_secret_basic when there is a secret, each part form-encoded first): the status
    /// and the body.
    async fn post_form(
        &self,
        what: &str,
        url: &url::Url,
        form: &[(&str, &str)],
    ) -> Result<(reqwest::StatusCode, Vec<u8>)> {
        let mut request = self.http.post(url.clone()).form(form);
        if let Some(secret) = &self.client_secret {
            let encode = |text: &str| {
                url::form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>()
            };
            request = request.basic_auth(
                encode(&self.settings.client_id),
                Some(encode(secret.expose())),
            );
        }
        let response = request
            .send()
            .await
            .map_err(|e| self.unreachable(what, e))?;
        let status = response.status();
        Ok((status, self.body(what, response).await?))
    }

    /// The token endpoint's answer to `form`: its tokens or its OAuth error code.
    async fn token_call(
        &self,
        metadata: &ProviderMetadata,
        form: &[(&str, &str)],
    ) -> Result<std::result::Result<ProviderTokens, String>> {
        let what = "token endpoint";
        let (status, body) = self.post_form(what, &metadata.token_endpoint, form).await?;
        let parsed: TokenResponse = serde_json::from_slice(&body).map_err(|_| {
            self.unreachable(
                what,
                format!("answered {status} with no JSON token response"),
            )
        })?;
        match (parsed.id_token, parsed.error) {
            (Some(id_token), None) if status.is_success() => Ok(Ok(ProviderTokens {
                id_token,
                access_token: parsed.access_token,
            })),
            (_, Some(error)) => Ok(Err(error_code(&error))),
            _ => Err(self.unreachable(what, format!("answered {status} with no id_token"))),
        }
    }

    /// Trades an authorization code (with its PKCE verifier) for the provider's tokens.
    pub(crate) async fn tokens_for(
        &self,
        metadata: &ProviderMetadata,
        code: &Sensitive,
        verifier: &Sensitive,
    ) -> Result<ProviderTokens> {
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code.expose()),
            ("redirect_uri", &self.settings.redirect_url),
            ("client_id", &self.settings.client_id),
            ("code_verifier", verifier.expose()),
        ];
        self.token_call(metadata, &form).await?.map_err(|error| {
            Error::SignInRefused(format!("the provider would not trade the code ({error})"))
        })
    }

    /// Begins a device sign-in at the provider (RFC 8628 §3.1).
    pub(crate) async fn authorize_device(
        &self,
        metadata: &ProviderMetadata,
        scope: &str,
    ) -> Result<DeviceAuthorization> {
        let what = "device authorization endpoint";
        let endpoint = metadata
            .device_authorization_endpoint
            .as_ref()
            .ok_or_else(|| {
                Error::NotSupported(format!(
                    "the OpenID provider {} does not offer the device flow (its discovery document \
                 names no device_authorization_endpoint); sign in through the browser instead",
                    self.settings.issuer
                ))
            })?;
        let form = [
            ("client_id", self.settings.client_id.as_str()),
            ("scope", scope),
        ];
        let (status, body) = self.post_form(what, endpoint, &form).await?;
        if !status.is_success() {
            let error = serde_json::from_slice::<TokenResponse>(&body)
                .ok()
                .and_then(|parsed| parsed.error)
                .map_or_else(|| status.to_string(), |error| error_code(&error));
            return Err(self.unreachable(what, format!("refused the request ({error})")));
        }
        serde_json::from_slice(&body).map_err(|e| self.unreachable(what, e))
    }

    /// Asks the token endpoint whether the user finished a device sign-in (RFC 8628 §3.4).
    pub(crate) async fn poll_device(
        &self,
        metadata: &ProviderMetadata,
        device_code: &Sensitive,
    ) -> Result<DevicePoll> {
        let form = [
            ("grant_type", casemate_types::wire::DEVICE_CODE_GRANT_TYPE),
            ("device_code", device_code.expose()),
            ("client_id", &self.settings.client_id),
        ];
        Ok(match self.token_call(metadata, &form).await? {
            Ok(tokens) => DevicePoll::Signed(tokens),
            Err(error) if error == "authorization_pending" => DevicePoll::Pending,
            Err(error) if error == "slow_down" => DevicePoll::SlowDown,
            Err(error) => DevicePoll::Ended(error),
        })
    }
}
