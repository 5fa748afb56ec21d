//! Training runs on the built-in `local` target of the real `casemate` binary: the time from a
//! client's submit to the user's process starting (the process prints its own start time, so the
//! figure is what a user waits for, not what the server records), median of 20 one at a time;
//! and runs per minute for 200 trivial runs submitted together, which the local target runs
//! two at a time (its default `local_max_concurrent_runs`).

use crate::server::CasemateServer;
use crate::stats::summarize;
use anyhow::{Context, bail};
use casemate_client::Client;
use casemate_types::wire::{CreateWorkspaceRequest, Run, Snapshot, SubmitRunRequest};
use std::collections::BTreeMap;
use std::io::Read;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const RESOURCE_GROUP: &str = "bench";
const WORKSPACE: &str = "bench-ws";
const EXPERIMENT: &str = "bench";
const LATENCY_RUNS: usize = 20;
const THROUGHPUT_RUNS: usize = 200;
const POLL: Duration = Duration::from_millis(20);
const GIVE_UP: Duration = Duration::from_secs(600);

fn request(snapshot: &Snapshot, command: &str) -> SubmitRunRequest {
    SubmitRunRequest {
        image: None,
        snapshot_id: snapshot.id.clone(),
        command: command.to_owned(),
        compute: None,
        time_limit_seconds: None,
        environment: BTreeMap::new(),
    }
}

async fn wait_final(client: &Client, run: &Run) -> anyhow::Result<Run> {
    let give_up = Instant::now() + GIVE_UP;
    loop {
        let current = client.get_run(RESOURCE_GROUP, WORKSPACE, run.id).await?;
        if current.status.is_final() {
            return Ok(current);
        }
        if Instant::now() > give_up {
            bail!("run {} did not end within {GIVE_UP:?}", run.id);
        }
        tokio::time::sleep(POLL).await;
    }
}

fn since_epoch(time: SystemTime) -> anyhow::Result<Duration> {
    Ok(time.duration_since(UNIX_EPOCH)?)
}

/// One run of `date +%s%N`: the client's submit instant to the instant the process printed.
async fn one_start_latency(
    client: &Client,
    snapshot: &Snapshot,
) -> anyhow::Result<(Duration, Duration)> {
    let submitted = since_epoch(SystemTime::now())?;
    let run = client
        .submit_run(
            RESOURCE_GROUP,
            WORKSPACE,
            EXPERIMENT,
            &request(snapshot, "date +%s%N"),
        )
        .await?;
    let ended = wait_final(client, &run).await?;
    if !ended.status.is_final() || ended.exit_code != Some(0) {
        bail!("a benchmark run did not complete: {:?}", ended.reason);
    }
    let logs = client
        .run_logs(RESOURCE_GROUP, WORKSPACE, run.id, 0)
        .await?;
    let printed: u64 = logs
        .chunks
        .iter()
        .filter(|chunk| chunk.stream == "stdout")
        .map(|chunk| chunk.text.as_str())
        .collect::<String>()
        .trim()
        .parse()
        .context("the run did not print its start time")?;
    let started = Duration::from_nanos(printed);
    let recorded = ended
        .started_at
        .context("a completed run has no start time")?
        - ended.submitted_at;
    Ok((
        started.saturating_sub(submitted),
        Duration::try_from(recorded).unwrap_or_default(),
    ))
}

pub async fn run() -> anyhow::Result<()> {
    let home = tempfile::tempdir()?;
    let server = CasemateServer::start(home.path())?;
    let (admin, _) = server.admin().await?;
    admin.create_resource_group(RESOURCE_GROUP).await?;
    admin
        .create_workspace(
            RESOURCE_GROUP,
            WORKSPACE,
            &CreateWorkspaceRequest::default(),
        )
        .await?;
    let source = tempfile::tempdir()?;
    std::fs::write(source.path().join("train.sh"), "true\n")?;
    let (mut archive, _) = casemate_client::archive_directory(source.path())?;
    let mut tar = Vec::new();
    archive.read_to_end(&mut tar)?;
    let snapshot = admin
        .upload_snapshot(RESOURCE_GROUP, WORKSPACE, reqwest::Body::from(tar))
        .await?;

    let mut user_waits = Vec::with_capacity(LATENCY_RUNS);
    let mut recorded = Vec::with_capacity(LATENCY_RUNS);
    for _ in 0..LATENCY_RUNS {
        let (user_wait, server_recorded) = one_start_latency(&admin, &snapshot).await?;
        user_waits.push(user_wait);
        recorded.push(server_recorded);
    }
    let slowest = user_waits.iter().max().copied().unwrap_or_default();
    let user_waits = summarize(user_waits);
    let recorded = summarize(recorded);
    println!(
        "submit to process start, local target, {LATENCY_RUNS} runs one at a time: \
         median {:.1} ms (slowest {:.1} ms); recorded by the server (submitted_at to started_at): \
         median {:.1} ms   target: under 200 ms",
        user_waits.median.as_secs_f64() * 1e3,
        slowest.as_secs_f64() * 1e3,
        recorded.median.as_secs_f64() * 1e3,
    );

    let began = Instant::now();
    let mut runs = Vec::with_capacity(THROUGHPUT_RUNS);
    for _ in 0..THROUGHPUT_RUNS {
        runs.push(
            admin
                .submit_run(
                    RESOURCE_GROUP,
                    WORKSPACE,
                    EXPERIMENT,
                    &request(&snapshot, "true"),
                )
                .await?,
        );
    }
    let submitted = began.elapsed();
    for run in &runs {
        let ended = wait_final(&admin, run).await?;
        if ended.exit_code != Some(0) {
            bail!("a benchmark run did not complete: {:?}", ended.reason);
        }
    }
    let elapsed = began.elapsed();
    println!(
        "{THROUGHPUT_RUNS} trivial runs (`true`) at concurrency 2: {:.0} runs per minute \
         ({:.1} s in all; submitting took {:.1} s)   target: over 300 runs per minute",
        THROUGHPUT_RUNS as f64 / elapsed.as_secs_f64() * 60.0,
        elapsed.as_secs_f64(),
        submitted.as_secs_f64(),
    );
    Ok(())
}
