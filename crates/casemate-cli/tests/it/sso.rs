//! ID tokens from a real OpenID provider (authlib's authorization server from PyPI, started on
//! loopback: tests/oidc/provider.py), obtained by the authorization-code flow with PKCE and
//! checked by casemate's verifier: a good sign-in gives its subject and groups; another issuer,
//! a wrong audience, an expired token and a replayed nonce are refused.

use crate::free_port;
use crate::mlflow::venv_with;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use casemate_crypto::id_token::{self, Expected, IdToken, IdTokenError, Jwks};
use serde_json::{Value, json};
use std::path::Path;
use std::process::{Child, Command};
use std::time::Duration;

const CLIENT_ID: &str = "casemate";
const REDIRECT_URI: &str = "https://127.0.0.1:8443/console/sso/callback";

struct Provider {
    issuer: String,
    http: reqwest::Client,
    child: Child,
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn random_text() -> String {
    URL_SAFE_NO_PAD.encode(*casemate_crypto::random_bytes::<32>().unwrap())
}

impl Provider {
    async fn start() -> Self {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let venv = tokio::task::spawn_blocking(|| {
            venv_with("oidc-provider-venv", &["authlib>=1.6,<2", "flask>=3,<4"])
        })
        .await
        .unwrap();
        let port = free_port();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oidc/provider.py");
        let child = Command::new(venv.join("bin/python"))
            .arg(script)
            .args([&port.to_string(), CLIENT_ID, REDIRECT_URI])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let provider = Self {
            issuer: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            child,
        };
        for _ in 0..300 {
            if provider.discovery().await.is_some() {
                return provider;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the OpenID provider at {} never answered", provider.issuer);
    }

    async fn discovery(&self) -> Option<Value> {
        let url = format!("{}/.well-known/openid-configuration", self.issuer);
        let response = self.http.get(url).send().await.ok()?;
        response.json().await.ok()
    }

    async fn keys(&self) -> Jwks {
        let discovery = self.discovery().await.unwrap();
        let jwks_uri = discovery["jwks_uri"].as_str().unwrap();
        self.http
            .get(jwks_uri)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Makes the provider's next ID token carry `claims` over the ones it would issue.
    async fn misbehave(&self, claims: Value) {
        let url = format!("{}/_test/next-claims", self.issuer);
        let response = self.http.post(url).json(&claims).send().await.unwrap();
        assert!(response.status().is_success());
    }

    /// One sign-in: the authorization request with a fresh nonce and PKCE challenge, the
    /// redirect's code traded for tokens. Returns the ID token and the nonce sent.
    async fn sign_in(&self) -> (String, String) {
        let discovery = self.discovery().await.unwrap();
        let (nonce, state, verifier) = (random_text(), random_text(), random_text());
        let challenge = URL_SAFE_NO_PAD.encode(casemate_crypto::sha256(verifier.as_bytes()));
        let authorize = self
            .http
            .get(discovery["authorization_endpoint"].as_str().unwrap())
            .query(&[
                ("response_type", "code"),
                ("client_id", CLIENT_ID),
                ("redirect_uri", REDIRECT_URI),
                ("scope", "openid profile groups"),
                ("state", &state),
                ("nonce", &nonce),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(authorize.status(), 302, "{:?}", authorize.text().await);
        let location = authorize.headers()["location"].to_str().unwrap();
        let redirect = reqwest::Url::parse(location).unwrap();
        let param = |name: &str| {
            redirect
                .query_pairs()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.into_owned())
        };
        assert_eq!(param("state").as_deref(), Some(state.as_str()));
        let code = param("code").unwrap();
        let tokens: Value = self
            .http
            .post(discovery["token_endpoint"].as_str().unwrap())
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT_URI),
                ("client_id", CLIENT_ID),
                ("code_verifier", &verifier),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id_token = tokens["id_token"]
            .as_str()
            .unwrap_or_else(|| panic!("{tokens}"));
        (id_token.to_owned(), nonce)
    }

    async fn verified(&self, id_token: &str, nonce: &str) -> Result<IdToken, IdTokenError> {
        let expected = Expected {
            issuer: &self.issuer,
            client_id: CLIENT_ID,
            nonce,
            now: time::OffsetDateTime::now_utc(),
            max_skew: time::Duration::seconds(60),
        };
        id_token::verify(id_token, &self.keys().await, &expected)
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_real_providers_id_token_verifies_and_each_bad_one_is_refused() {
    let provider = Provider::start().await;

    let (good, nonce) = provider.sign_in().await;
    let signed_in = provider.verified(&good, &nonce).await.unwrap();
    assert_eq!(signed_in.subject, "idp-user-7f3a");
    assert_eq!(signed_in.string_claim("preferred_username"), Some("ada"));
    assert_eq!(signed_in.strings_claim("groups"), ["ml-team", "auditors"]);

    // A good token presented with another sign-in's nonce: a replay.
    let (_, later_nonce) = provider.sign_in().await;
    assert_eq!(
        provider.verified(&good, &later_nonce).await.unwrap_err(),
        IdTokenError::Nonce
    );
    // The provider echoing an earlier sign-in's nonce into a new token.
    provider.misbehave(json!({"nonce": nonce})).await;
    let (replayed, fresh_nonce) = provider.sign_in().await;
    assert_eq!(
        provider
            .verified(&replayed, &fresh_nonce)
            .await
            .unwrap_err(),
        IdTokenError::Nonce
    );

    let other_issuer = "http://127.0.0.1:1/another-issuer";
    provider.misbehave(json!({"iss": other_issuer})).await;
    let (foreign, nonce) = provider.sign_in().await;
    assert_eq!(
        provider.verified(&foreign, &nonce).await.unwrap_err(),
        IdTokenError::Issuer(other_issuer.into())
    );

    provider.misbehave(json!({"aud": "another-client"})).await;
    let (misaddressed, nonce) = provider.sign_in().await;
    assert_eq!(
        provider.verified(&misaddressed, &nonce).await.unwrap_err(),
        IdTokenError::Audience
    );

    let hour_ago = time::OffsetDateTime::now_utc().unix_timestamp() - 3600;
    provider
        .misbehave(json!({"iat": hour_ago - 300, "exp": hour_ago}))
        .await;
    let (expired, nonce) = provider.sign_in().await;
    assert_eq!(
        provider.verified(&expired, &nonce).await.unwrap_err(),
        IdTokenError::Expired
    );
}
