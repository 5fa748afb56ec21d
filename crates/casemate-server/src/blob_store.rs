//! Where sealed blobs live: a directory under the home (the embedded default) or an
//! S3-compatible bucket, both behind `object_store`. Only ciphertext ever reaches either: blobs
//! are sealed before they are written (services/blobs.rs), so the bucket's operator sees
//! nothing but sealed bytes and object names.

use casemate_types::Sensitive;
use object_store::ObjectStore;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The blob store as configured (`blob_url` and the `s3_*` settings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobConfig {
    /// `{home}/blobs`.
    Local,
    S3 {
        bucket: String,
        /// Object names start with `prefix/` (empty: at the bucket's root).
        prefix: String,
        /// An S3-compatible server's URL; none for AWS itself.
        endpoint: Option<String>,
        region: String,
        /// A TOML file with `access_key_id` and `secret_access_key` (and optionally
        /// `session_token`); without it, `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`.
        credentials_file: Option<PathBuf>,
    },
}

pub const DEFAULT_S3_REGION: &str = "us-east-1";

impl BlobConfig {
    /// Reads `blob_url` (`s3://BUCKET[/PREFIX]`; absent: local) with the S3 settings, refusing
    /// each wrong one by name.
    pub fn resolve(
        blob_url: Option<&str>,
        endpoint: Option<&str>,
        region: Option<&str>,
        credentials_file: Option<&Path>,
    ) -> Result<Self, String> {
        let Some(url) = blob_url else {
            if endpoint.is_some() || region.is_some() || credentials_file.is_some() {
                return Err(
                    "blob_url: s3_* settings are given but blob_url is not an s3:// URL".into(),
                );
            }
            return Ok(Self::Local);
        };
        let rest = url.strip_prefix("s3://").ok_or_else(|| {
            format!("blob_url: must be s3://BUCKET[/PREFIX] (or absent, for {{home}}/blobs), not '{url}'")
        })?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let prefix = prefix.trim_end_matches('/');
        let bucket_ok = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
        if !bucket_ok {
            return Err(format!(
                "blob_url: '{bucket}' is not a bucket name (3 to 63 lowercase letters, digits, '-' or '.')"
            ));
        }
        if prefix
            .split('/')
            .any(|part| part.is_empty() && !prefix.is_empty() || part == "." || part == "..")
        {
            return Err(format!(
                "blob_url: the prefix '{prefix}' must be plain path segments"
            ));
        }
        if let Some(endpoint) = endpoint {
            let parsed = crate::config::https_or_loopback_url("s3_endpoint", endpoint)?;
            if !parsed.username().is_empty() || parsed.password().is_some() {
                return Err(
                    "s3_endpoint: must not hold credentials; use s3_credentials_file or AWS_ACCESS_KEY_ID"
                        .into(),
                );
            }
        }
        Ok(Self::S3 {
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
            endpoint: endpoint.map(str::to_owned),
            region: region.unwrap_or(DEFAULT_S3_REGION).to_owned(),
            credentials_file: credentials_file.map(Path::to_path_buf),
        })
    }
}

/// Access to a bucket.
struct S3Credentials {
    access_key_id: String,
    secret_access_key: Sensitive,
    session_token: Option<Sensitive>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct CredentialsFile {
    access_key_id: String,
    secret_access_key: Sensitive,
    #[serde(default)]
    session_token: Option<Sensitive>,
}

fn credentials(file: Option<&Path>) -> Result<S3Credentials, String> {
    if let Some(path) = file {
        use std::os::unix::fs::MetadataExt;
        let shown = path.display();
        let metadata =
            std::fs::metadata(path).map_err(|e| format!("s3_credentials_file: {shown}: {e}"))?;
        if metadata.mode() & 0o077 != 0 {
            return Err(format!(
                "s3_credentials_file: {shown} is readable by others (mode {:o}); make it 0600",
                metadata.mode() & 0o777
            ));
        }
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("s3_credentials_file: {shown}: {e}"))?;
        // toml's message may quote the offending line, which can be the secret: not shown.
        let parsed: CredentialsFile = toml::from_str(&text).map_err(|_| {
            format!("s3_credentials_file: {shown} must hold access_key_id and secret_access_key (TOML strings), and nothing else")
        })?;
        return Ok(S3Credentials {
            access_key_id: parsed.access_key_id,
            secret_access_key: parsed.secret_access_key,
            session_token: parsed.session_token,
        });
    }
    match (
        std::env::var("AWS_ACCESS_KEY_ID"),
        std::env::var("AWS_SECRET_ACCESS_KEY"),
    ) {
        (Ok(access_key_id), Ok(secret)) => Ok(S3Credentials {
            access_key_id,
            secret_access_key: Sensitive::new(secret),
            session_token: std::env::var("AWS_SESSION_TOKEN").ok().map(Sensitive::new),
        }),
        _ => Err("blob_url: an S3 bucket needs credentials: s3_credentials_file, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment".into()),
    }
}

/// Opens the configured store; a bucket that cannot be reached fails here, not at the first
/// upload.
pub async fn open(config: &BlobConfig, home: &Path) -> Result<Arc<dyn ObjectStore>, String> {
    let BlobConfig::S3 {
        bucket,
        prefix,
        endpoint,
        region,
        credentials_file,
    } = config
    else {
        let directory = home.join("blobs");
        let local = object_store::local::LocalFileSystem::new_with_prefix(&directory)
            .map_err(|e| format!("blob store {}: {e}", directory.display()))?;
        return Ok(Arc::new(local));
    };
    let credentials = credentials(credentials_file.as_deref())?;
    // Transient failures are retried for a while, not the crate's three minutes: a request
    // waiting on the bucket holds a client, and a start against a wrong endpoint should say so.
    let retry = object_store::RetryConfig {
        max_retries: 4,
        retry_timeout: std::time::Duration::from_secs(20),
        ..Default::default()
    };
    let client = object_store::ClientOptions::new()
        .with_connect_timeout(std::time::Duration::from_secs(5))
        .with_timeout(std::time::Duration::from_secs(300));
    let mut builder = object_store::aws::AmazonS3Builder::new()
        .with_retry(retry)
        .with_client_options(client)
        .with_bucket_name(bucket)
        .with_region(region)
        .with_access_key_id(&credentials.access_key_id)
        .with_secret_access_key(credentials.secret_access_key.expose());
    if let Some(token) = &credentials.session_token {
        builder = builder.with_token(token.expose());
    }
    if let Some(endpoint) = endpoint {
        builder = builder
            .with_endpoint(endpoint)
            .with_virtual_hosted_style_request(false)
            .with_allow_http(endpoint.starts_with("http://"));
    }
    let s3 = builder
        .build()
        .map_err(|e| format!("blob_url: s3://{bucket}: {e}"))?;
    let store: Arc<dyn ObjectStore> = if prefix.is_empty() {
        Arc::new(s3)
    } else {
        Arc::new(object_store::prefix::PrefixStore::new(s3, prefix.as_str()))
    };
    store.list_with_delimiter(None).await.map_err(|e| {
        format!("blob_url: the bucket s3://{bucket} did not answer as expected: {e}")
    })?;
    Ok(store)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(url: Option<&str>, endpoint: Option<&str>) -> String {
        BlobConfig::resolve(url, endpoint, None, None).unwrap_err()
    }

    #[test]
    fn blob_settings_are_refused_by_name() {
        assert_eq!(
            BlobConfig::resolve(None, None, None, None).unwrap(),
            BlobConfig::Local
        );
        assert!(refused(Some("file:///x"), None).starts_with("blob_url: must be s3://"));
        assert!(refused(Some("s3://A_B"), None).starts_with("blob_url: 'A_B' is not a bucket"));
        assert!(refused(Some("s3://bucket/a/../b"), None).starts_with("blob_url: the prefix"));
        assert!(
            refused(Some("s3://bucket"), Some("http://10.0.0.5:9000"))
                .starts_with("s3_endpoint: must be an https URL")
        );
        assert!(
            refused(Some("s3://bucket"), Some("https://k:s@s3.example"))
                .starts_with("s3_endpoint: must not hold credentials")
        );
        assert!(refused(None, Some("https://s3.example")).starts_with("blob_url: s3_* settings"));
        let resolved = BlobConfig::resolve(
            Some("s3://models.prod/casemate/"),
            Some("http://127.0.0.1:9000"),
            None,
            None,
        )
        .unwrap();
        assert_eq!(
            resolved,
            BlobConfig::S3 {
                bucket: "models.prod".into(),
                prefix: "casemate".into(),
                endpoint: Some("http://127.0.0.1:9000".into()),
                region: DEFAULT_S3_REGION.into(),
                credentials_file: None,
            }
        );
    }

    #[test]
    fn a_credentials_file_readable_by_others_is_refused_and_its_secret_never_shown() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s3.toml");
        std::fs::write(
            &path,
            "access_key_id = \"AKIA\"\nsecret = \"hunter2-secret\"\n",
        )
        .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let error = credentials(Some(&path)).err().unwrap();
        assert!(error.contains("readable by others (mode 644)"), "{error}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let error = credentials(Some(&path)).err().unwrap();
        assert!(error.starts_with("s3_credentials_file: "), "{error}");
        assert!(!error.contains("hunter2"), "{error}");
        std::fs::write(
            &path,
            "access_key_id = \"AKIA\"\nsecret_access_key = \"hunter2-secret\"\n",
        )
        .unwrap();
        let read = credentials(Some(&path)).ok().unwrap();
        assert_eq!(read.access_key_id, "AKIA");
        assert_eq!(read.secret_access_key.expose(), "hunter2-secret");
    }
}
