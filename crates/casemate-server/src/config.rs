//! Server configuration: flags and `CASEMATE_*` variables (parsed by the CLI) over a TOML file
//! over defaults. Unknown keys in the file are errors naming the key.

use casemate_types::Sensitive;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;
    fn from_str(value: &str) -> Result<Self, String> {
        match value {
            "text" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            other => Err(format!(
                "log format must be 'text' or 'json', not '{other}'"
            )),
        }
    }
}

/// Where the root key lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum KeyProviderKind {
    /// `{home}/root.key`, mode 0600: the embedded default.
    #[default]
    File,
    /// A non-extractable AES key inside a PKCS#11 token.
    Pkcs11,
}

impl std::str::FromStr for KeyProviderKind {
    type Err = String;
    fn from_str(value: &str) -> Result<Self, String> {
        match value {
            "file" => Ok(Self::File),
            "pkcs11" => Ok(Self::Pkcs11),
            other => Err(format!(
                "key provider must be 'file' or 'pkcs11', not '{other}'"
            )),
        }
    }
}

/// One layer of settings; every field optional so layers can be merged.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigLayer {
    pub listen: Option<SocketAddr>,
    pub home: Option<PathBuf>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub insecure_http: Option<bool>,
    pub log_level: Option<String>,
    pub log_format: Option<LogFormat>,
    pub access_token_ttl_seconds: Option<i64>,
    pub session_ttl_seconds: Option<i64>,
    pub require_mfa: Option<bool>,
    pub max_body_bytes: Option<usize>,
    pub max_artifact_bytes: Option<u64>,
    pub max_snapshot_bytes: Option<u64>,
    pub local_max_concurrent_runs: Option<u32>,
    pub local_max_run_seconds: Option<u64>,
    /// How long a replica's lease holds without renewal.
    pub replica_lease_seconds: Option<u64>,
    pub signing_key_rotation_days: Option<i64>,
    pub key_provider: Option<KeyProviderKind>,
    pub pkcs11_module: Option<PathBuf>,
    pub pkcs11_token_label: Option<String>,
    pub pkcs11_key_label: Option<String>,
    /// A file (mode 0600) holding the token's user PIN.
    pub pkcs11_pin_file: Option<PathBuf>,
    /// The PIN itself, from `CASEMATE_PKCS11_PIN`; never read from a settings file.
    #[serde(skip)]
    pub pkcs11_pin: Option<Sensitive>,
    /// `postgres://USER[:PASSWORD]@HOST/DB` for metadata in PostgreSQL; absent:
    /// `{home}/casemate.db` (SQLite).
    pub database_url: Option<Sensitive>,
    /// `s3://BUCKET[/PREFIX]` for blobs in an S3-compatible bucket; absent: `{home}/blobs`.
    pub blob_url: Option<String>,
    /// An S3-compatible server's URL (https, or http on loopback).
    pub s3_endpoint: Option<String>,
    pub s3_region: Option<String>,
    /// A TOML file (mode 0600) with `access_key_id` and `secret_access_key`.
    pub s3_credentials_file: Option<PathBuf>,
    /// Whether users may sign in with a password; turning it off needs `[sso]`.
    pub password_sign_in: Option<bool>,
    /// The OpenID provider users sign in through.
    pub sso: Option<crate::sso::config::SsoLayer>,
}

impl ConfigLayer {
    /// Reads a TOML file; an unknown key or a wrong type is an error naming it.
    pub fn from_file(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("config file {}: {e}", path.display()))?;
        Self::from_file_text(&text).map_err(|e| format!("config file {}: {e}", path.display()))
    }

    fn from_file_text(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| e.message().trim().to_owned())
    }

    /// Fields of `self` win; `lower` fills the gaps.
    pub fn over(self, lower: ConfigLayer) -> ConfigLayer {
        ConfigLayer {
            listen: self.listen.or(lower.listen),
            home: self.home.or(lower.home),
            tls_cert: self.tls_cert.or(lower.tls_cert),
            tls_key: self.tls_key.or(lower.tls_key),
            insecure_http: self.insecure_http.or(lower.insecure_http),
            log_level: self.log_level.or(lower.log_level),
            log_format: self.log_format.or(lower.log_format),
            access_token_ttl_seconds: self
                .access_token_ttl_seconds
                .or(lower.access_token_ttl_seconds),
            session_ttl_seconds: self.session_ttl_seconds.or(lower.session_ttl_seconds),
            require_mfa: self.require_mfa.or(lower.require_mfa),
            max_body_bytes: self.max_body_bytes.or(lower.max_body_bytes),
            max_artifact_bytes: self.max_artifact_bytes.or(lower.max_artifact_bytes),
            max_snapshot_bytes: self.max_snapshot_bytes.or(lower.max_snapshot_bytes),
            local_max_concurrent_runs: self
                .local_max_concurrent_runs
                .or(lower.local_max_concurrent_runs),
            local_max_run_seconds: self.local_max_run_seconds.or(lower.local_max_run_seconds),
            replica_lease_seconds: self.replica_lease_seconds.or(lower.replica_lease_seconds),
            signing_key_rotation_days: self
                .signing_key_rotation_days
                .or(lower.signing_key_rotation_days),
            key_provider: self.key_provider.or(lower.key_provider),
            pkcs11_module: self.pkcs11_module.or(lower.pkcs11_module),
            pkcs11_token_label: self.pkcs11_token_label.or(lower.pkcs11_token_label),
            pkcs11_key_label: self.pkcs11_key_label.or(lower.pkcs11_key_label),
            pkcs11_pin_file: self.pkcs11_pin_file.or(lower.pkcs11_pin_file),
            pkcs11_pin: self.pkcs11_pin.or(lower.pkcs11_pin),
            database_url: self.database_url.or(lower.database_url),
            blob_url: self.blob_url.or(lower.blob_url),
            s3_endpoint: self.s3_endpoint.or(lower.s3_endpoint),
            s3_region: self.s3_region.or(lower.s3_region),
            s3_credentials_file: self.s3_credentials_file.or(lower.s3_credentials_file),
            password_sign_in: self.password_sign_in.or(lower.password_sign_in),
            // The table moves as one: a provider's settings are not mixed from two layers.
            sso: self.sso.or(lower.sso),
        }
    }
}

/// An `https` URL, or plain `http` to a loopback address (a service on this machine).
pub(crate) fn https_or_loopback_url(field: &str, value: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(value).map_err(|e| format!("{field}: not a URL ({e})"))?;
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name == "localhost",
        None => false,
    };
    match url.scheme() {
        "https" if url.host().is_some() => Ok(url),
        "http" if loopback => Ok(url),
        _ => Err(format!(
            "{field}: must be an https URL (http only to a loopback address), not '{value}'"
        )),
    }
}

#[derive(Debug, Clone)]
pub enum TlsSource {
    /// Made on first start under `{home}/tls/`.
    SelfSigned,
    Files {
        cert: PathBuf,
        key: PathBuf,
    },
    /// Plain HTTP, only on loopback and only when asked for.
    PlainHttp,
}

#[derive(Debug, Clone)]
pub enum KeyProviderConfig {
    File,
    Pkcs11 {
        module: PathBuf,
        token_label: String,
        key_label: String,
        pin: PinSource,
    },
}

#[derive(Debug, Clone)]
pub enum PinSource {
    Value(Sensitive),
    File(PathBuf),
}

pub const DEFAULT_PKCS11_KEY_LABEL: &str = "casemate-root";

impl KeyProviderConfig {
    fn resolve(layer: &ConfigLayer) -> Result<Self, String> {
        let pkcs11_settings_given = layer.pkcs11_module.is_some()
            || layer.pkcs11_token_label.is_some()
            || layer.pkcs11_key_label.is_some()
            || layer.pkcs11_pin_file.is_some();
        match layer.key_provider.unwrap_or_default() {
            KeyProviderKind::File if pkcs11_settings_given => Err(
                "key_provider: pkcs11_* settings are given but key_provider is 'file'; set key_provider = \"pkcs11\""
                    .into(),
            ),
            KeyProviderKind::File => Ok(Self::File),
            KeyProviderKind::Pkcs11 => {
                let module = layer
                    .pkcs11_module
                    .clone()
                    .ok_or("pkcs11_module: required when key_provider is 'pkcs11'")?;
                let token_label = layer
                    .pkcs11_token_label
                    .clone()
                    .filter(|label| !label.is_empty())
                    .ok_or("pkcs11_token_label: required when key_provider is 'pkcs11'")?;
                let key_label = layer
                    .pkcs11_key_label
                    .clone()
                    .unwrap_or_else(|| DEFAULT_PKCS11_KEY_LABEL.into());
                if key_label.is_empty() || key_label.len() > 32 {
                    return Err("pkcs11_key_label: must be 1 to 32 bytes".into());
                }
                let pin = match (&layer.pkcs11_pin, &layer.pkcs11_pin_file) {
                    (Some(pin), None) => PinSource::Value(pin.clone()),
                    (None, Some(path)) => PinSource::File(path.clone()),
                    (Some(_), Some(_)) => {
                        return Err("pkcs11_pin_file: give the PIN either in CASEMATE_PKCS11_PIN or in a file, not both".into());
                    }
                    (None, None) => {
                        return Err("pkcs11_pin_file: the token's PIN is required (pkcs11_pin_file or CASEMATE_PKCS11_PIN)".into());
                    }
                };
                Ok(Self::Pkcs11 {
                    module,
                    token_label,
                    key_label,
                    pin,
                })
            }
        }
    }
}

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub home: PathBuf,
    pub tls: TlsSource,
    pub log_level: String,
    pub log_format: LogFormat,
    pub access_token_ttl_seconds: i64,
    pub session_ttl_seconds: i64,
    pub require_mfa: bool,
    pub max_body_bytes: usize,
    pub max_artifact_bytes: u64,
    /// The largest code snapshot accepted, in bytes.
    pub max_snapshot_bytes: u64,
    /// The built-in `local` target's concurrent runs and time limit.
    pub local_max_concurrent_runs: u32,
    pub local_max_run_seconds: u64,
    /// How long a replica's lease holds: a replica silent this long has its runs failed.
    pub replica_lease_seconds: u64,
    pub signing_key_rotation_days: i64,
    pub key_provider: KeyProviderConfig,
    pub blobs: crate::blob_store::BlobConfig,
    /// PostgreSQL's URL (it may hold a password); none: SQLite in the home.
    pub database_url: Option<Sensitive>,
    /// The first administrator's password; generated and printed once when absent.
    pub admin_password: Option<Sensitive>,
    pub password_sign_in: bool,
    pub sso: Option<crate::sso::config::SsoSettings>,
}

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8443";

impl ServerConfig {
    pub fn resolve(layer: ConfigLayer, admin_password: Option<Sensitive>) -> Result<Self, String> {
        let default_listen: SocketAddr = DEFAULT_LISTEN
            .parse()
            .map_err(|e| format!("default listen address: {e}"))?;
        let listen = layer.listen.unwrap_or(default_listen);
        let key_provider = KeyProviderConfig::resolve(&layer)?;
        if let Some(url) = &layer.database_url
            && !(url.expose().starts_with("postgres://")
                || url.expose().starts_with("postgresql://"))
        {
            return Err(
                "database_url: must be a postgres:// URL (or absent, for SQLite in the home)"
                    .into(),
            );
        }
        let blobs = crate::blob_store::BlobConfig::resolve(
            layer.blob_url.as_deref(),
            layer.s3_endpoint.as_deref(),
            layer.s3_region.as_deref(),
            layer.s3_credentials_file.as_deref(),
        )?;
        let tls = match (
            layer.insecure_http.unwrap_or(false),
            layer.tls_cert,
            layer.tls_key,
        ) {
            (true, None, None) if listen.ip().is_loopback() => TlsSource::PlainHttp,
            (true, None, None) => {
                return Err(format!(
                    "insecure_http: plain HTTP is only allowed on a loopback address, not {listen}"
                ));
            }
            (true, _, _) => {
                return Err("insecure_http: cannot be combined with tls_cert or tls_key".into());
            }
            (false, Some(cert), Some(key)) => TlsSource::Files { cert, key },
            (false, None, None) => TlsSource::SelfSigned,
            (false, Some(_), None) => return Err("tls_key: required when tls_cert is given".into()),
            (false, None, Some(_)) => return Err("tls_cert: required when tls_key is given".into()),
        };
        let access_token_ttl_seconds = layer.access_token_ttl_seconds.unwrap_or(3600);
        if !(60..=86_400).contains(&access_token_ttl_seconds) {
            return Err("access_token_ttl_seconds: must be between 60 and 86400".into());
        }
        let session_ttl_seconds = layer.session_ttl_seconds.unwrap_or(30 * 86_400);
        if !(access_token_ttl_seconds..=365 * 86_400).contains(&session_ttl_seconds) {
            return Err(
                "session_ttl_seconds: must be between the access token lifetime and 365 days"
                    .into(),
            );
        }
        let max_body_bytes = layer.max_body_bytes.unwrap_or(1024 * 1024);
        if !(1024..=64 * 1024 * 1024).contains(&max_body_bytes) {
            return Err("max_body_bytes: must be between 1024 and 67108864".into());
        }
        let max_artifact_bytes = layer.max_artifact_bytes.unwrap_or(5 << 30);
        if !(1..=1 << 40).contains(&max_artifact_bytes) {
            return Err("max_artifact_bytes: must be between 1 and 1099511627776 (1 TiB)".into());
        }
        let max_snapshot_bytes = layer.max_snapshot_bytes.unwrap_or(300 << 20);
        if !(1..=1 << 40).contains(&max_snapshot_bytes) {
            return Err("max_snapshot_bytes: must be between 1 and 1099511627776 (1 TiB)".into());
        }
        let local_max_concurrent_runs = layer.local_max_concurrent_runs.unwrap_or(2);
        if !(1..=1024).contains(&local_max_concurrent_runs) {
            return Err("local_max_concurrent_runs: must be between 1 and 1024".into());
        }
        let local_max_run_seconds = layer.local_max_run_seconds.unwrap_or(86_400);
        if !(1..=30 * 86_400).contains(&local_max_run_seconds) {
            return Err("local_max_run_seconds: must be between 1 and 2592000 (30 days)".into());
        }
        let replica_lease_seconds = layer.replica_lease_seconds.unwrap_or(30);
        if !(3..=3600).contains(&replica_lease_seconds) {
            return Err("replica_lease_seconds: must be between 3 and 3600".into());
        }
        let signing_key_rotation_days = layer.signing_key_rotation_days.unwrap_or(30);
        if !(1..=365).contains(&signing_key_rotation_days) {
            return Err("signing_key_rotation_days: must be between 1 and 365".into());
        }
        let log_format = layer.log_format.unwrap_or_default();
        let sso = layer
            .sso
            .map(crate::sso::config::SsoSettings::resolve)
            .transpose()?;
        let password_sign_in = layer.password_sign_in.unwrap_or(true);
        if !password_sign_in && sso.is_none() {
            return Err(
                "password_sign_in: turning passwords off needs an [sso] provider to sign in through"
                    .into(),
            );
        }
        Ok(Self {
            listen,
            home: layer.home.unwrap_or_else(|| PathBuf::from(".casemate")),
            tls,
            log_level: layer.log_level.unwrap_or_else(|| "info".into()),
            log_format,
            access_token_ttl_seconds,
            session_ttl_seconds,
            require_mfa: layer.require_mfa.unwrap_or(false),
            max_body_bytes,
            max_artifact_bytes,
            max_snapshot_bytes,
            local_max_concurrent_runs,
            local_max_run_seconds,
            replica_lease_seconds,
            signing_key_rotation_days,
            key_provider,
            blobs,
            database_url: layer.database_url,
            admin_password,
            password_sign_in,
            sso,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_key_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("casemate.toml");
        std::fs::write(&path, "listen = \"127.0.0.1:1\"\nlisten_port = 5\n").unwrap();
        let err = ConfigLayer::from_file(&path).unwrap_err();
        assert!(err.contains("unknown field `listen_port`"), "{err}");
    }

    #[test]
    fn a_replica_lease_outside_its_range_is_refused() {
        for seconds in [2, 3601] {
            let layer = ConfigLayer {
                replica_lease_seconds: Some(seconds),
                ..Default::default()
            };
            let err = ServerConfig::resolve(layer, None).unwrap_err();
            assert_eq!(err, "replica_lease_seconds: must be between 3 and 3600");
        }
        let layer = ConfigLayer {
            replica_lease_seconds: Some(3),
            ..Default::default()
        };
        assert_eq!(
            ServerConfig::resolve(layer, None)
                .unwrap()
                .replica_lease_seconds,
            3
        );
    }

    #[test]
    fn passwords_go_off_only_with_a_provider_to_sign_in_through() {
        let layer = ConfigLayer {
            password_sign_in: Some(false),
            ..Default::default()
        };
        let err = ServerConfig::resolve(layer, None).unwrap_err();
        assert!(err.starts_with("password_sign_in: "), "{err}");
        let text = "password_sign_in = false\n[sso]\nissuer = \"https://idp.example\"\n\
                    client_id = \"casemate\"\n\
                    redirect_url = \"https://ml.example/console/sso/callback\"\n";
        let layer = ConfigLayer::from_file_text(text).unwrap();
        let config = ServerConfig::resolve(layer, None).unwrap();
        assert!(!config.password_sign_in);
        assert_eq!(config.sso.unwrap().issuer, "https://idp.example");
        let err = ConfigLayer::from_file_text("[sso]\nissuer_url = \"x\"\n").unwrap_err();
        assert!(err.contains("unknown field `issuer_url`"), "{err}");
    }

    #[test]
    fn plain_http_only_on_loopback() {
        let layer = ConfigLayer {
            insecure_http: Some(true),
            listen: "0.0.0.0:80".parse().ok(),
            ..Default::default()
        };
        let err = ServerConfig::resolve(layer, None).unwrap_err();
        assert!(err.starts_with("insecure_http:"), "{err}");
        let layer = ConfigLayer {
            insecure_http: Some(true),
            listen: "127.0.0.1:80".parse().ok(),
            ..Default::default()
        };
        assert!(matches!(
            ServerConfig::resolve(layer, None).unwrap().tls,
            TlsSource::PlainHttp
        ));
    }

    #[test]
    fn pkcs11_settings_are_checked_by_name() {
        let given = |layer: ConfigLayer| ServerConfig::resolve(layer, None).unwrap_err();
        let err = given(ConfigLayer {
            key_provider: Some(KeyProviderKind::Pkcs11),
            ..Default::default()
        });
        assert!(err.starts_with("pkcs11_module: required"), "{err}");
        let err = given(ConfigLayer {
            key_provider: Some(KeyProviderKind::Pkcs11),
            pkcs11_module: Some("/usr/lib/softhsm/libsofthsm2.so".into()),
            pkcs11_token_label: Some("casemate".into()),
            ..Default::default()
        });
        assert!(
            err.starts_with("pkcs11_pin_file: the token's PIN is required"),
            "{err}"
        );
        let err = given(ConfigLayer {
            pkcs11_token_label: Some("casemate".into()),
            ..Default::default()
        });
        assert!(err.starts_with("key_provider: pkcs11_* settings"), "{err}");
        let err = given(ConfigLayer {
            key_provider: Some(KeyProviderKind::Pkcs11),
            pkcs11_module: Some("/m.so".into()),
            pkcs11_token_label: Some("casemate".into()),
            pkcs11_key_label: Some("x".repeat(33)),
            pkcs11_pin: Some(Sensitive::new("1234")),
            ..Default::default()
        });
        assert!(
            err.starts_with("pkcs11_key_label: must be 1 to 32 bytes"),
            "{err}"
        );
        let file = ConfigLayer::from_file_text("key_provider = \"hsm\"").unwrap_err();
        assert!(file.contains("unknown variant `hsm`"), "{file}");
    }

    #[test]
    fn flags_win_over_the_file() {
        let file = ConfigLayer {
            log_level: Some("debug".into()),
            require_mfa: Some(true),
            ..Default::default()
        };
        let flags = ConfigLayer {
            log_level: Some("warn".into()),
            ..Default::default()
        };
        let merged = flags.over(file);
        assert_eq!(merged.log_level.as_deref(), Some("warn"));
        assert_eq!(merged.require_mfa, Some(true));
    }

    #[test]
    fn out_of_range_settings_are_named() {
        let layer = ConfigLayer {
            access_token_ttl_seconds: Some(5),
            ..Default::default()
        };
        assert!(
            ServerConfig::resolve(layer, None)
                .unwrap_err()
                .starts_with("access_token_ttl_seconds:")
        );
        let layer = ConfigLayer {
            tls_cert: Some("c.pem".into()),
            ..Default::default()
        };
        assert!(
            ServerConfig::resolve(layer, None)
                .unwrap_err()
                .starts_with("tls_key:")
        );
    }
}
