//! The casemate server: the gate, the services and the HTTP API over the foundations.

pub mod api;
pub mod blob_store;
pub mod config;
pub mod console;
pub mod error;
pub mod gate;
pub mod identities;
mod listener;
pub mod monitoring;
pub mod ray;
pub mod registries;
pub mod services;
pub mod sso;
pub mod tls;
pub mod webservices;

use casemate_crypto::keyprovider::read_private_file;
use casemate_crypto::pkcs11::AuthPin;
use casemate_crypto::{FileKeyProvider, KeyProvider, Pkcs11KeyProvider, Pkcs11Settings};
use casemate_store::Store;
use casemate_types::{Clock, Sensitive};
use config::{KeyProviderConfig, PinSource, ServerConfig};
use services::Services;
use std::net::SocketAddr;
use std::os::unix::fs::DirBuilderExt;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("configuration: {0}")]
    Config(String),
    #[error("data directory {path}: {source}")]
    Home {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Crypto(#[from] casemate_crypto::CryptoError),
    #[error("metadata store: {0}")]
    Store(casemate_store::StoreError),
    #[error("blob store: {0}")]
    BlobStore(String),
    #[error("TLS: {0}")]
    Tls(String),
    #[error("cannot listen on {address}: {source}")]
    Listen {
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error("start-up: {0}")]
    Service(error::Error),
}

// Written out rather than `#[from]`, which would also make the inner error the source: the
// message already carries it, and `{:#}` would print it twice.
impl From<casemate_store::StoreError> for StartError {
    fn from(error: casemate_store::StoreError) -> Self {
        Self::Store(error)
    }
}

impl From<error::Error> for StartError {
    fn from(error: error::Error) -> Self {
        Self::Service(error)
    }
}

/// A server that is accepting connections.
pub struct RunningServer {
    pub local_addr: SocketAddr,
    /// `https://127.0.0.1:PORT` (or `http://` in plain-HTTP mode).
    pub url: String,
    pub fingerprint: Option<String>,
    pub cert_path: Option<PathBuf>,
    /// Set on first start when casemate chose the admin password: print it once, to the terminal only.
    pub generated_admin_password: Option<Sensitive>,
    pub services: Arc<Services>,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
    heartbeat: JoinHandle<()>,
}

impl RunningServer {
    /// Stops accepting, finishes in-flight requests, closes the store.
    pub async fn shutdown(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Err(error) = (&mut self.task).await {
            tracing::error!(%error, "server task failed");
        }
        self.heartbeat.abort();
        self.services.stop_all_runs().await;
        self.services.leave_replicas().await;
        self.services.webservices.stop_all();
        self.services.store.close().await;
    }
}

fn open_key_provider(
    config: &KeyProviderConfig,
    home: &std::path::Path,
) -> Result<Arc<dyn KeyProvider>, StartError> {
    Ok(match config {
        KeyProviderConfig::File => Arc::new(FileKeyProvider::load_or_create(
            &FileKeyProvider::path_for(home),
        )?),
        KeyProviderConfig::Pkcs11 {
            module,
            token_label,
            key_label,
            pin,
        } => {
            // Straight into the zeroizing type: no plain String copy of the PIN is left behind.
            let pin = match pin {
                PinSource::Value(pin) => AuthPin::from(pin.expose()),
                PinSource::File(path) => {
                    let bytes = read_private_file(path)?;
                    AuthPin::from(String::from_utf8_lossy(&bytes).trim_end())
                }
            };
            Arc::new(Pkcs11KeyProvider::open(&Pkcs11Settings {
                module: module.clone(),
                token_label: token_label.clone(),
                key_label: key_label.clone(),
                pin,
            })?)
        }
    })
}

/// The server's secret files (root key file, TLS key, HSM PIN file), which no snapshot may carry.
fn own_key_material(
    config: &ServerConfig,
    tls: Option<&tls::TlsMaterial>,
) -> Result<services::snapshots::OwnKeyMaterial, StartError> {
    let mut paths = Vec::new();
    match &config.key_provider {
        KeyProviderConfig::File => paths.push(FileKeyProvider::path_for(&config.home)),
        KeyProviderConfig::Pkcs11 {
            pin: PinSource::File(path),
            ..
        } => paths.push(path.clone()),
        KeyProviderConfig::Pkcs11 { .. } => {}
    }
    paths.extend(tls.map(|material| material.key_path.clone()));
    services::snapshots::OwnKeyMaterial::of_files(&paths).map_err(|source| StartError::Home {
        path: config.home.display().to_string(),
        source,
    })
}

/// Opens (or creates) everything under the data directory and starts serving.
pub async fn start(
    config: &ServerConfig,
    clock: Arc<dyn Clock>,
) -> Result<RunningServer, StartError> {
    let home = &config.home;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(home)
        .map_err(|source| StartError::Home {
            path: home.display().to_string(),
            source,
        })?;
    let root_key = open_key_provider(&config.key_provider, home)?;
    let store = match &config.database_url {
        Some(url) => Store::open_postgres(url.expose()).await?,
        None => Store::open(&home.join("casemate.db")).await?,
    };
    for directory in [&home.join("blobs"), &home.join("runs")] {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(directory)
            .map_err(|source| StartError::Home {
                path: directory.display().to_string(),
                source,
            })?;
    }
    let python_sdk = home.join("python");
    services::python_sdk::install(&python_sdk).map_err(|source| StartError::Home {
        path: python_sdk.display().to_string(),
        source,
    })?;
    let blobs = blob_store::open(&config.blobs, home)
        .await
        .map_err(StartError::BlobStore)?;
    let bootstrap = services::bootstrap::bootstrap(
        &store,
        config.admin_password.as_ref(),
        clock.now().unix_timestamp(),
    )
    .await?;
    let tls = tls::prepare(&config.tls, home).map_err(StartError::Tls)?;
    let own_key_material = own_key_material(config, tls.as_ref())?;
    let sso = config
        .sso
        .clone()
        .map(sso::Provider::new)
        .transpose()
        .map_err(StartError::Config)?;
    let services = Arc::new(
        Services::new(
            store,
            blobs,
            clock,
            root_key,
            config,
            &bootstrap.installation_id,
            own_key_material,
        )
        .await?
        .with_sso(sso),
    );
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| StartError::Listen {
            address: config.listen,
            source,
        })?;
    let local_addr = listener.local_addr().map_err(|source| StartError::Listen {
        address: config.listen,
        source,
    })?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    // Runs on this machine reach the server on loopback, whatever address it listens on.
    let loopback = if local_addr.ip().is_unspecified() || local_addr.ip().is_loopback() {
        SocketAddr::new(std::net::Ipv4Addr::LOCALHOST.into(), local_addr.port())
    } else {
        local_addr
    };
    services.runs.set_endpoint(services::runs::RunEndpoint {
        url: format!("{scheme}://{loopback}"),
        ca_cert: tls.as_ref().map(|material| material.cert_path.clone()),
    });
    let interrupted = services.join_replicas().await?;
    if interrupted > 0 {
        tracing::warn!(
            interrupted,
            "runs in flight when the server last stopped were marked Failed"
        );
    }
    let uploads = services.discard_interrupted_uploads().await?;
    if uploads > 0 {
        tracing::warn!(
            uploads,
            "registry uploads unfinished when the server last stopped were discarded"
        );
    }
    let services_back = services.recover_web_services().await?;
    if services_back > 0 {
        tracing::info!(services = services_back, "web services are starting again");
    }
    let heartbeat = services.spawn_replica_heartbeat();
    let app = api::app(services.clone(), config.max_body_bytes);
    let (shutdown_tx, shutdown_rx) = oneshot::channel();
    let acceptor = tls
        .as_ref()
        .map(|material| tokio_rustls::TlsAcceptor::from(material.config.clone()));
    let task = tokio::spawn(listener::serve(listener, acceptor, app, shutdown_rx));
    tracing::info!(address = %local_addr, scheme, "casemate server listening");
    Ok(RunningServer {
        local_addr,
        url: format!("{scheme}://{local_addr}"),
        fingerprint: tls.as_ref().map(|material| material.fingerprint.clone()),
        cert_path: tls.map(|material| material.cert_path),
        generated_admin_password: bootstrap.generated_password,
        services,
        shutdown: Some(shutdown_tx),
        task,
        heartbeat,
    })
}
