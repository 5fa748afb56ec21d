//! `casemate server`.

use anyhow::Context;
use casemate_server::config::{ConfigLayer, KeyProviderKind, LogFormat, ServerConfig};
use casemate_types::{Sensitive, SystemClock};
use clap::Args;
use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Args)]
pub struct ServerArgs {
    /// TOML settings file; defaults to $CASEMATE_HOME/casemate.toml when that exists.
    #[arg(long, env = "CASEMATE_CONFIG")]
    config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8443].
    #[arg(long, env = "CASEMATE_LISTEN")]
    listen: Option<SocketAddr>,
    /// Data directory [default: ./.casemate].
    #[arg(long, env = "CASEMATE_HOME")]
    home: Option<PathBuf>,
    /// PEM certificate chain to serve instead of the self-signed one.
    #[arg(long, env = "CASEMATE_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert (must not be readable by others).
    #[arg(long, env = "CASEMATE_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Serve plain HTTP. Only allowed on a loopback address.
    #[arg(long, env = "CASEMATE_INSECURE_HTTP")]
    insecure_http: bool,
    /// Log filter, e.g. `info` or `casemate_server=debug`.
    #[arg(long, env = "CASEMATE_LOG_LEVEL")]
    log_level: Option<String>,
    /// `text` or `json`.
    #[arg(long, env = "CASEMATE_LOG_FORMAT")]
    log_format: Option<LogFormat>,
    /// Make a TOTP second factor mandatory for every user.
    #[arg(long, env = "CASEMATE_REQUIRE_MFA")]
    require_mfa: bool,
    /// Access token lifetime in seconds [default: 3600].
    #[arg(long, env = "CASEMATE_ACCESS_TOKEN_TTL_SECONDS")]
    access_token_ttl_seconds: Option<i64>,
    /// Where the root key lives: `file` (default) or `pkcs11`.
    #[arg(long, env = "CASEMATE_KEY_PROVIDER")]
    key_provider: Option<KeyProviderKind>,
    /// The PKCS#11 module (shared library), e.g. /usr/lib/softhsm/libsofthsm2.so.
    #[arg(long, env = "CASEMATE_PKCS11_MODULE")]
    pkcs11_module: Option<PathBuf>,
    /// The label of the token that holds the root key.
    #[arg(long, env = "CASEMATE_PKCS11_TOKEN_LABEL")]
    pkcs11_token_label: Option<String>,
    /// The root key's label in the token [default: casemate-root].
    #[arg(long, env = "CASEMATE_PKCS11_KEY_LABEL")]
    pkcs11_key_label: Option<String>,
    /// A file (mode 0600) holding the token's user PIN; or set CASEMATE_PKCS11_PIN.
    #[arg(long, env = "CASEMATE_PKCS11_PIN_FILE")]
    pkcs11_pin_file: Option<PathBuf>,
    /// Metadata in PostgreSQL, postgres://USER@HOST/DB [default: SQLite in $CASEMATE_HOME]. A
    /// password belongs in ~/.pgpass or PGPASSWORD, not on the command line.
    #[arg(long, env = "CASEMATE_DATABASE_URL")]
    database_url: Option<String>,
    /// Blobs in an S3-compatible bucket, s3://BUCKET[/PREFIX] [default: $CASEMATE_HOME/blobs].
    #[arg(long, env = "CASEMATE_BLOB_URL")]
    blob_url: Option<String>,
    /// The S3-compatible server's URL (https; http only on loopback) [default: AWS].
    #[arg(long, env = "CASEMATE_S3_ENDPOINT")]
    s3_endpoint: Option<String>,
    /// The bucket's region [default: us-east-1].
    #[arg(long, env = "CASEMATE_S3_REGION")]
    s3_region: Option<String>,
    /// A TOML file (mode 0600) with access_key_id and secret_access_key; or set
    /// AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.
    #[arg(long, env = "CASEMATE_S3_CREDENTIALS_FILE")]
    s3_credentials_file: Option<PathBuf>,
}

impl ServerArgs {
    fn layer(&self) -> ConfigLayer {
        ConfigLayer {
            listen: self.listen,
            home: self.home.clone(),
            tls_cert: self.tls_cert.clone(),
            tls_key: self.tls_key.clone(),
            insecure_http: self.insecure_http.then_some(true),
            log_level: self.log_level.clone(),
            log_format: self.log_format,
            access_token_ttl_seconds: self.access_token_ttl_seconds,
            require_mfa: self.require_mfa.then_some(true),
            key_provider: self.key_provider,
            pkcs11_module: self.pkcs11_module.clone(),
            pkcs11_token_label: self.pkcs11_token_label.clone(),
            pkcs11_key_label: self.pkcs11_key_label.clone(),
            pkcs11_pin_file: self.pkcs11_pin_file.clone(),
            database_url: self.database_url.clone().map(Sensitive::new),
            blob_url: self.blob_url.clone(),
            s3_endpoint: self.s3_endpoint.clone(),
            s3_region: self.s3_region.clone(),
            s3_credentials_file: self.s3_credentials_file.clone(),
            // Read from the environment only, so the PIN is never on a command line.
            pkcs11_pin: std::env::var("CASEMATE_PKCS11_PIN")
                .ok()
                .map(Sensitive::new),
            ..Default::default()
        }
    }
}

fn init_logging(config: &ServerConfig) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log_level)
        .with_context(|| format!("log_level: '{}' is not a valid filter", config.log_level))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        // Colour codes only for a person at a terminal, never into a file or a log collector.
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let result = match config.log_format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    result.map_err(|e| anyhow::anyhow!("logging: {e}"))
}

/// Installs the SIGTERM and SIGINT handlers at once (so a signal that arrives while starting is
/// not lost to the default action) and resolves when either arrives.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = &'static str>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate()).context("SIGTERM handler")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("SIGINT handler")?;
    Ok(async move {
        tokio::select! {
            _ = terminate.recv() => "SIGTERM",
            _ = interrupt.recv() => "SIGINT",
        }
    })
}

pub async fn run(args: ServerArgs) -> anyhow::Result<()> {
    let flags = args.layer();
    let home = flags
        .home
        .clone()
        .unwrap_or_else(|| PathBuf::from(".casemate"));
    let file = match args
        .config
        .clone()
        .or_else(|| Some(home.join("casemate.toml")).filter(|p| p.exists()))
    {
        Some(path) => ConfigLayer::from_file(&path).map_err(anyhow::Error::msg)?,
        None => ConfigLayer::default(),
    };
    let admin_password = std::env::var("CASEMATE_ADMIN_PASSWORD")
        .ok()
        .map(Sensitive::new);
    let config =
        ServerConfig::resolve(flags.over(file), admin_password).map_err(anyhow::Error::msg)?;
    init_logging(&config)?;
    let signal = shutdown_signal()?;
    let server = casemate_server::start(&config, Arc::new(SystemClock)).await?;
    println!("casemate server listening on {}", server.url);
    println!("data directory: {}", config.home.display());
    if let (Some(path), Some(fingerprint)) = (&server.cert_path, &server.fingerprint) {
        println!("TLS certificate: {}", path.display());
        println!("SHA-256 fingerprint: {fingerprint}");
    }
    if let Some(password) = &server.generated_admin_password {
        // Printed to the terminal once; never logged.
        println!();
        println!("First start: user 'admin' (Owner at '/') was created with this password:");
        println!("    {}", password.expose());
        println!(
            "It is shown only this once. Sign in with: casemate login {} --username admin",
            server.url
        );
        println!();
    }
    println!("casemate is ready; stop it with Ctrl-C or SIGTERM.");
    let signal = signal.await;
    tracing::info!(
        signal,
        "shutting down: no new connections, finishing in-flight requests"
    );
    server.shutdown().await;
    tracing::info!("stopped");
    Ok(())
}
