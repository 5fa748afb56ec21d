//! Container-registry throughput: a 200 MiB layer pushed (monolithic POST, and chunked in
//! 16 MiB PATCHes) and pulled through the real `casemate` binary (TLS, the gate, the digest
//! check, sealing and opening), beside a plain file copy of the same bytes, in MiB/s.

use crate::server::CasemateServer;
use crate::stats::Rng;
use casemate_types::wire::{CreatePatRequest, CreateWorkspaceRequest};
use std::time::Instant;

const SIZE: usize = 200 * 1024 * 1024;
const CHUNK: usize = 16 * 1024 * 1024;
const REPO: &str = "/v2/bench/bench-ws-registry/layers";

fn mib_per_second(bytes: usize, seconds: f64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0) / seconds.max(1e-9)
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex_of(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes).as_ref())
}

fn hex_of(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

pub async fn run() -> anyhow::Result<()> {
    let mut rng = Rng::new(7);
    let layer: Vec<u8> = (0..SIZE / 8)
        .flat_map(|_| rng.next().to_le_bytes())
        .collect();
    let digest = format!("sha256:{}", sha256_hex(&layer));

    let scratch = tempfile::tempdir()?;
    let source = scratch.path().join("layer");
    std::fs::write(&source, &layer)?;
    let started = Instant::now();
    std::fs::copy(&source, scratch.path().join("copy"))?;
    let copy = mib_per_second(SIZE, started.elapsed().as_secs_f64());

    let home = tempfile::tempdir()?;
    let server = CasemateServer::start(home.path())?;
    let (admin, _) = server.admin().await?;
    admin.create_resource_group("bench").await?;
    admin
        .create_workspace("bench", "bench-ws", &CreateWorkspaceRequest::default())
        .await?;
    let pat = admin
        .create_pat(&CreatePatRequest {
            name: "bench".into(),
            expires_in_days: None,
        })
        .await?
        .token;
    let client = server.client()?.with_basic("admin", pat);

    let started = Instant::now();
    let pushed = client
        .raw(
            "POST",
            &format!("{REPO}/blobs/uploads/?digest={digest}"),
            &[],
            layer.clone(),
        )
        .await?;
    let monolithic = mib_per_second(SIZE, started.elapsed().as_secs_f64());
    anyhow::ensure!(pushed.status == 201, "monolithic push: {}", pushed.status);

    let other = format!("{REPO}-chunked");
    let started = Instant::now();
    let opened = client
        .raw("POST", &format!("{other}/blobs/uploads/"), &[], Vec::new())
        .await?;
    let mut location = opened.header("location").unwrap_or_default().to_owned();
    for chunk in layer.chunks(CHUNK) {
        let sent = client.raw("PATCH", &location, &[], chunk.to_vec()).await?;
        anyhow::ensure!(sent.status == 202, "chunk: {}", sent.status);
        location = sent.header("location").unwrap_or_default().to_owned();
    }
    let closed = client
        .raw(
            "PUT",
            &format!("{location}?digest={digest}"),
            &[],
            Vec::new(),
        )
        .await?;
    let chunked = mib_per_second(SIZE, started.elapsed().as_secs_f64());
    anyhow::ensure!(closed.status == 201, "chunked push: {}", closed.status);

    let started = Instant::now();
    let pulled = client
        .raw("GET", &format!("{REPO}/blobs/{digest}"), &[], Vec::new())
        .await?;
    let pull = mib_per_second(SIZE, started.elapsed().as_secs_f64());
    anyhow::ensure!(
        pulled.status == 200 && pulled.body.len() == SIZE,
        "pull: {}",
        pulled.status
    );

    println!("registry: one 200 MiB layer (random bytes), MiB/s");
    println!("plain file copy            {copy:>8.0}");
    println!("push, monolithic POST      {monolithic:>8.0}");
    println!("push, 16 MiB PATCH chunks  {chunked:>8.0}");
    println!("pull, GET                  {pull:>8.0}");
    Ok(())
}
