//! Services: plain Rust over the foundations, no HTTP types. The gate and the API call these.

pub mod activity;
pub mod blobs;
pub mod bootstrap;
pub mod computes;
pub mod data_keys;
pub mod executor;
pub mod groups;
pub mod identity;
pub mod keys;
pub mod limiter;
pub mod logged_models;
pub mod masking;
pub mod principals;
pub mod python_sdk;
pub mod rbac;
pub mod registry;
pub mod registry_changes;
pub mod replicas;
pub mod resources;
pub mod run_io;
mod run_logs;
pub mod runs;
pub mod search_filter;
pub mod sign_ins;
pub mod signing;
pub mod snapshots;
pub mod tokens;
pub mod tracking;
pub mod vault;

use crate::config::ServerConfig;
use crate::error::{Error, Result};
use casemate_crypto::KeyProvider;
use casemate_store::Store;
use casemate_types::Clock;
use object_store::ObjectStore;
use std::sync::Arc;
use time::OffsetDateTime;
use tokio::sync::Semaphore;

pub use identity::{Caller, Credential};

/// Token and sign-in policy, fixed at start.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    pub issuer: String,
    pub access_token_ttl_seconds: i64,
    pub session_ttl_seconds: i64,
    pub require_mfa: bool,
    pub signing_key_rotation_days: i64,
    /// Whether users may sign in with a password (service principals always use their secrets).
    pub password_sign_in: bool,
}

/// Everything the services share. One per server process.
pub struct Services {
    pub store: Store,
    pub blobs: Arc<dyn ObjectStore>,
    pub clock: Arc<dyn Clock>,
    pub root_key: Arc<dyn KeyProvider>,
    pub signing: signing::SigningKeyRing,
    pub activity: activity::ActivityLog,
    pub metrics: Arc<crate::monitoring::Metrics>,
    pub(crate) data_keys: data_keys::DataKeyCache,
    pub limiter: limiter::SignInLimiter,
    pub settings: AuthSettings,
    /// The largest artifact accepted, in bytes.
    pub max_artifact_bytes: u64,
    /// The largest code snapshot accepted, in bytes.
    pub max_snapshot_bytes: u64,
    /// The server's own secret files, which no snapshot may carry a copy of.
    pub(crate) own_key_material: snapshots::OwnKeyMaterial,
    pub runs: runs::RunRegistry,
    /// This process among the replicas sharing the database.
    pub replica: replicas::Replica,
    /// The web services this server runs.
    pub webservices: crate::webservices::Runtime,
    pub(crate) scoring_log: crate::webservices::scoring_log::ScoringLog,
    /// Where container-registry uploads wait (0700) until their digest is verified.
    pub(crate) registry_uploads: std::path::PathBuf,
    /// The server's request body limit: no service may accept more.
    pub(crate) webservices_max_body: usize,
    /// The OpenID provider users sign in through, when one is configured.
    pub(crate) sso: Option<crate::sso::Provider>,
    /// Bounds concurrent argon2 work so sign-in floods cannot starve the runtime of memory.
    hashing: Semaphore,
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Services {
    pub async fn new(
        store: Store,
        blobs: Arc<dyn ObjectStore>,
        clock: Arc<dyn Clock>,
        root_key: Arc<dyn KeyProvider>,
        config: &ServerConfig,
        installation_id: &str,
        own_key_material: snapshots::OwnKeyMaterial,
    ) -> Result<Self> {
        let settings = AuthSettings {
            issuer: format!("casemate:{installation_id}"),
            access_token_ttl_seconds: config.access_token_ttl_seconds,
            session_ttl_seconds: config.session_ttl_seconds,
            require_mfa: config.require_mfa,
            signing_key_rotation_days: config.signing_key_rotation_days,
            password_sign_in: config.password_sign_in,
        };
        let signing =
            signing::SigningKeyRing::load(&store, root_key.as_ref(), clock.now(), &settings)
                .await?;
        let metrics = Arc::new(crate::monitoring::Metrics::new(store.clone()));
        let scoring_log = crate::webservices::scoring_log::ScoringLog::start(store.clone());
        Ok(Self {
            activity: activity::ActivityLog::start(store.clone(), metrics.clone()),
            metrics,
            data_keys: data_keys::DataKeyCache::default(),
            store,
            blobs,
            clock,
            root_key,
            signing,
            limiter: limiter::SignInLimiter::default(),
            settings,
            max_artifact_bytes: config.max_artifact_bytes,
            max_snapshot_bytes: config.max_snapshot_bytes,
            own_key_material,
            replica: replicas::Replica::of_home(
                &config.home,
                std::time::Duration::from_secs(config.replica_lease_seconds),
            )?,
            runs: runs::RunRegistry::new(
                config.home.join("runs"),
                config.home.join("python"),
                config.local_max_concurrent_runs,
                config.local_max_run_seconds,
            ),
            webservices: crate::webservices::Runtime::new(
                config.home.join("services"),
                config.home.join("python"),
            ),
            scoring_log,
            webservices_max_body: config.max_body_bytes,
            registry_uploads: config.home.join("registry-uploads"),
            hashing: Semaphore::new(4),
            sso: None,
        })
    }

    /// These services, signing users in through `provider`.
    pub fn with_sso(self, provider: Option<crate::sso::Provider>) -> Self {
        Self {
            sso: provider,
            ..self
        }
    }

    /// The configured provider's issuer.
    pub fn sso_issuer(&self) -> Option<&str> {
        self.sso.as_ref().map(|p| p.settings.issuer.as_str())
    }

    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    pub fn now_unix(&self) -> i64 {
        self.clock.now().unix_timestamp()
    }

    /// Hashes a password on a blocking thread, at most four at a time.
    pub async fn hash_password(&self, password: &casemate_types::Sensitive) -> Result<String> {
        let _permit = self.hashing.acquire().await.map_err(Error::internal)?;
        let password = password.clone();
        tokio::task::spawn_blocking(move || {
            casemate_crypto::password::hash_password(password.expose())
        })
        .await
        .map_err(Error::internal)?
        .map_err(Error::from)
    }

    /// Verifies a password on a blocking thread. With no stored hash, verifies against a decoy
    /// so that unknown users take as long as wrong passwords.
    pub async fn verify_password(
        &self,
        password: &casemate_types::Sensitive,
        stored: Option<&str>,
    ) -> Result<bool> {
        let _permit = self.hashing.acquire().await.map_err(Error::internal)?;
        let password = password.clone();
        let known = stored.is_some();
        let hash = stored
            .unwrap_or(casemate_crypto::password::DECOY_HASH)
            .to_owned();
        let matched = tokio::task::spawn_blocking(move || {
            casemate_crypto::password::verify_password(password.expose(), &hash)
        })
        .await
        .map_err(Error::internal)?;
        Ok(known && matched)
    }

    /// Liveness of the stores this process depends on.
    pub async fn check_ready(&self) -> Result<()> {
        self.store
            .ping()
            .await
            .map_err(|e| Error::Unavailable(format!("metadata store: {e}")))?;
        self.blobs
            .list_with_delimiter(None)
            .await
            .map_err(|e| Error::Unavailable(format!("blob store: {e}")))?;
        Ok(())
    }
}
