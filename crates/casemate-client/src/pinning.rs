//! Certificate pinning: the server's leaf certificate must have the SHA-256 fingerprint the user
//! accepted at login. Handshake signatures are still verified with the certificate's key.

use crate::{ClientError, ClientResult};
use rustls::DigitallySignedStruct;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use std::sync::{Arc, Mutex};

/// `AB:CD:…` or `abcd…` → `ABCD…`; `None` unless it is 64 hex digits.
pub fn normalize_fingerprint(value: &str) -> Option<String> {
    let hex: String = value
        .chars()
        .filter(|c| *c != ':')
        .collect::<String>()
        .to_ascii_uppercase();
    (hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit())).then_some(hex)
}

fn fingerprint_of(der: &[u8]) -> String {
    hex::encode_upper(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der).as_ref())
}

#[derive(Debug)]
enum Expectation {
    /// Only the certificate with this fingerprint (normalized hex).
    Pinned(String),
    /// Anything, recording what was seen: only to show the user the fingerprint at login.
    Probe,
    /// Nothing: for plain-HTTP clients, so a redirect to https cannot reach an unverified server.
    RefuseAll,
}

#[derive(Debug)]
struct PinnedVerifier {
    expected: Expectation,
    seen: Arc<Mutex<Option<String>>>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinnedVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let actual = fingerprint_of(end_entity.as_ref());
        *self.seen.lock().unwrap_or_else(|p| p.into_inner()) = Some(actual.clone());
        match &self.expected {
            Expectation::Pinned(expected) if *expected == actual => {
                Ok(ServerCertVerified::assertion())
            }
            Expectation::Pinned(expected) => Err(rustls::Error::General(format!(
                "the server certificate's fingerprint {actual} is not the pinned {expected}; \
                 if the server's certificate was replaced on purpose, log in again"
            ))),
            Expectation::Probe => Ok(ServerCertVerified::assertion()),
            Expectation::RefuseAll => Err(rustls::Error::General(
                "this client was made for plain HTTP and trusts no certificate".into(),
            )),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

fn config_with(verifier: PinnedVerifier) -> ClientResult<rustls::ClientConfig> {
    let provider = verifier.provider.clone();
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| ClientError::Tls(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// TLS that trusts exactly the certificate with `fingerprint`, or, with `None`, no certificate at all.
pub(crate) fn pinned_config(fingerprint: Option<&str>) -> ClientResult<rustls::ClientConfig> {
    let expected = match fingerprint {
        Some(value) => Expectation::Pinned(normalize_fingerprint(value).ok_or_else(|| {
            ClientError::Tls(format!(
                "'{value}' is not a SHA-256 fingerprint (64 hex digits)"
            ))
        })?),
        None => Expectation::RefuseAll,
    };
    config_with(PinnedVerifier {
        expected,
        seen: Arc::default(),
        provider: Arc::new(rustls::crypto::aws_lc_rs::default_provider()),
    })
}

/// Connects without trusting anything yet and returns the certificate fingerprint the server
/// presents (`AB:CD:…`), for the user to compare with what the server printed at start.
pub async fn probe_fingerprint(base_url: &str) -> ClientResult<String> {
    let seen = Arc::new(Mutex::new(None));
    let config = config_with(PinnedVerifier {
        expected: Expectation::Probe,
        seen: seen.clone(),
        provider: Arc::new(rustls::crypto::aws_lc_rs::default_provider()),
    })?;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .tls_backend_preconfigured(config)
        .build()
        .map_err(|e| ClientError::Transport(e.to_string()))?;
    let url = url::Url::parse(base_url)
        .and_then(|base| base.join("health"))
        .map_err(|e| ClientError::Url(e.to_string()))?;
    // Only the handshake matters; the health answer is not trusted or used.
    let _ = http
        .get(url)
        .send()
        .await
        .map_err(|e| ClientError::Transport(e.to_string()))?;
    let hex = seen
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone()
        .ok_or_else(|| ClientError::Tls("the server presented no certificate".into()))?;
    Ok(hex
        .as_bytes()
        .chunks(2)
        .map(|pair| String::from_utf8_lossy(pair).into_owned())
        .collect::<Vec<_>>()
        .join(":"))
}
