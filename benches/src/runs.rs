//! Training runs through the real `casemate` binary, on the built-in `local` target or (with
//! `--compute ray` and `CASEMATE_BENCH_RAY_ADDRESS` naming a running Ray head's dashboard) on a
//! `ray` compute: the time from a client's submit to the user's process starting (the process
//! prints its own start time, so the figure is what a user waits for, not what the server
//! records), median of runs one at a time; and runs per minute for trivial runs submitted
//! together, two at a time (the local target's default `local_max_concurrent_runs`, and the ray
//! compute's `max_concurrent_runs`).

use crate::server::CasemateServer;
use crate::stats::summarize;
use anyhow::{Context, bail};
use casemate_client::Client;
use casemate_types::wire::{
    CreateComputeRequest, CreateWorkspaceRequest, RayCompute, Run, Snapshot, SubmitRunRequest,
};
use std::collections::BTreeMap;
use std::io::Read;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const RESOURCE_GROUP: &str = "bench";
const WORKSPACE: &str = "bench-ws";
const EXPERIMENT: &str = "bench";
/// Where the runs go, and how many of each measurement.
struct Target {
    compute: Option<String>,
    label: &'static str,
    latency_runs: usize,
    throughput_runs: usize,
}
const POLL: Duration = Duration::from_millis(20);
const GIVE_UP: Duration = Duration::from_secs(600);

fn request(target: &Target, snapshot: &Snapshot, command: &str) -> SubmitRunRequest {
    SubmitRunRequest {
        resources: None,
        image: None,
        snapshot_id: snapshot.id.clone(),
        command: command.to_owned(),
        compute: target.compute.clone(),
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
    target: &Target,
    snapshot: &Snapshot,
) -> anyhow::Result<(Duration, Duration)> {
    let submitted = since_epoch(SystemTime::now())?;
    let run = client
        .submit_run(
            RESOURCE_GROUP,
            WORKSPACE,
            EXPERIMENT,
            &request(target, snapshot, "date +%s%N"),
        )
        .await?;
    let ended = wait_final(client, &run).await?;
    if !ended.status.is_final() || ended.exit_code != Some(0) {
        bail!("a benchmark run did not complete: {:?}", ended.reason);
    }
    let logs = client
        .run_logs(RESOURCE_GROUP, WORKSPACE, run.id, 0)
        .await?;
    // A Ray job's log also holds Ray's own lines: the start time is the line that is a number.
    let printed: u64 = logs
        .chunks
        .iter()
        .filter(|chunk| chunk.stream == "stdout")
        .map(|chunk| chunk.text.as_str())
        .collect::<String>()
        .lines()
        .find_map(|line| line.trim().parse().ok())
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

/// `runs [--compute local|ray]`.
pub async fn run(args: &[String]) -> anyhow::Result<()> {
    let target = match args {
        [] => Target {
            compute: None,
            label: "local target",
            latency_runs: 20,
            throughput_runs: 200,
        },
        [flag, compute] if flag == "--compute" && compute == "local" => Target {
            compute: None,
            label: "local target",
            latency_runs: 20,
            throughput_runs: 200,
        },
        [flag, compute] if flag == "--compute" && compute == "ray" => Target {
            compute: Some("ray".into()),
            label: "ray compute",
            latency_runs: 10,
            throughput_runs: 40,
        },
        _ => bail!("usage: casemate-bench runs [--compute local|ray]"),
    };
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
    if target.compute.is_some() {
        let address = std::env::var("CASEMATE_BENCH_RAY_ADDRESS").context(
            "--compute ray needs CASEMATE_BENCH_RAY_ADDRESS=http://HOST:PORT, a Ray head's dashboard",
        )?;
        let compute = CreateComputeRequest {
            kind: Some("ray".into()),
            max_concurrent_runs: Some(2),
            ray: Some(RayCompute {
                address,
                entrypoint_num_cpus: Some(0.5),
                entrypoint_num_gpus: None,
                entrypoint_memory: None,
                credential_secret: None,
            }),
            ..Default::default()
        };
        admin
            .create_compute(RESOURCE_GROUP, WORKSPACE, "ray", &compute)
            .await?;
    }
    let source = tempfile::tempdir()?;
    std::fs::write(source.path().join("train.sh"), "true\n")?;
    let (mut archive, _) = casemate_client::archive_directory(source.path())?;
    let mut tar = Vec::new();
    archive.read_to_end(&mut tar)?;
    let snapshot = admin
        .upload_snapshot(RESOURCE_GROUP, WORKSPACE, reqwest::Body::from(tar))
        .await?;

    let mut user_waits = Vec::with_capacity(target.latency_runs);
    let mut recorded = Vec::with_capacity(target.latency_runs);
    for _ in 0..target.latency_runs {
        let (user_wait, server_recorded) = one_start_latency(&admin, &target, &snapshot).await?;
        user_waits.push(user_wait);
        recorded.push(server_recorded);
    }
    let slowest = user_waits.iter().max().copied().unwrap_or_default();
    let user_waits = summarize(user_waits);
    let recorded = summarize(recorded);
    println!(
        "submit to process start, {}, {} runs one at a time: \
         median {:.1} ms (slowest {:.1} ms); recorded by the server (submitted_at to started_at): \
         median {:.1} ms   target: under 200 ms (local)",
        target.label,
        target.latency_runs,
        user_waits.median.as_secs_f64() * 1e3,
        slowest.as_secs_f64() * 1e3,
        recorded.median.as_secs_f64() * 1e3,
    );

    let began = Instant::now();
    let mut runs = Vec::with_capacity(target.throughput_runs);
    for _ in 0..target.throughput_runs {
        runs.push(
            admin
                .submit_run(
                    RESOURCE_GROUP,
                    WORKSPACE,
                    EXPERIMENT,
                    &request(&target, &snapshot, "true"),
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
        "{} trivial runs (`true`) on the {} at concurrency 2: {:.0} runs per minute \
         ({:.1} s in all; submitting took {:.1} s)   target: over 300 runs per minute (local)",
        target.throughput_runs,
        target.label,
        target.throughput_runs as f64 / elapsed.as_secs_f64() * 60.0,
        elapsed.as_secs_f64(),
        submitted.as_secs_f64(),
    );
    Ok(())
}
