//! Start to first answer: the `casemate` binary started on an existing data directory (one that
//! already holds its database, keys and certificate), timed from spawn to the first `GET
//! /health` answered over TLS; then its resident memory once idle.
//! Target (issue 19): at most 200 ms to the first answer, idle RSS at most 32 MiB.

use crate::server::{CasemateServer, casemate_binary, memory_kib};
use crate::stats::summarize;
use crate::symbol_order::listed_functions_found;
use std::time::{Duration, Instant};

const STARTS: usize = 10;

pub async fn run() -> anyhow::Result<()> {
    let home = tempfile::tempdir()?;
    // The first start makes the home; it is not measured.
    drop(CasemateServer::start(home.path())?);
    let mut first_answer = Vec::with_capacity(STARTS);
    let mut idle_rss = Vec::with_capacity(STARTS);
    for _ in 0..STARTS {
        let started = Instant::now();
        let server = CasemateServer::start(home.path())?;
        let client = server.client()?;
        client.health().await?;
        first_answer.push(started.elapsed());
        tokio::time::sleep(Duration::from_secs(1)).await;
        idle_rss.push(memory_kib(server.pid(), "VmRSS:"));
    }
    let times = summarize(first_answer.clone());
    let slowest = first_answer.iter().max().copied().unwrap_or_default();
    idle_rss.sort_unstable();
    let median_rss = idle_rss.get(idle_rss.len() / 2).copied().unwrap_or(0);
    println!("Start to first answer on an existing home, {STARTS} starts");
    println!(
        "start to first /health: median {:.0} ms, slowest {:.0} ms (target at most 200 ms)",
        times.median.as_secs_f64() * 1e3,
        slowest.as_secs_f64() * 1e3
    );
    println!(
        "idle RSS after 1 s: median {:.1} MiB (target at most 32 MiB)",
        median_rss as f64 / 1024.0
    );
    // The idle figure rests on the start's code being placed together; a stale list shows here.
    let (found, listed) = listed_functions_found(&casemate_binary()?)?;
    println!(
        "symbol order: {found} of {listed} listed functions are in the binary (`casemate-bench symbol-order` rewrites the list)"
    );
    Ok(())
}
