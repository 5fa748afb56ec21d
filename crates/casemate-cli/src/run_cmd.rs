//! `casemate run`, `casemate experiment` and `casemate compute`: submit code as a run, follow its
//! (masked) log, read its metrics; manage the compute targets runs go to.

use crate::commands::signed_in;
use crate::output::{OutputFormat, emit, record, table};
use anyhow::Context;
use casemate_client::{Client, archive_directory};
use casemate_types::wire::{
    CreateComputeRequest, RayCompute, Run, RunImage, RunResources, RunStatus, SubmitRunRequest,
};
use clap::{Args, Subcommand};
use futures_util::StreamExt;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;
use uuid::Uuid;

#[derive(Args, Clone)]
pub struct WorkspaceArgs {
    #[arg(short = 'g', long = "resource-group")]
    pub resource_group: String,
    #[arg(short = 'w', long = "workspace")]
    pub workspace: String,
}

// Parsed once per process from the command line: the size of a variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
pub enum RunCommand {
    /// Upload a source directory as a snapshot and run a command on a compute target.
    Submit {
        #[command(flatten)]
        at: WorkspaceArgs,
        #[arg(short = 'e', long)]
        experiment: String,
        /// The directory to snapshot (.gitignore and .casemateignore are honoured).
        #[arg(long, default_value = ".")]
        source_dir: PathBuf,
        /// Run with /bin/sh -c in the snapshot's directory.
        #[arg(long)]
        command: String,
        #[arg(long, default_value = "local")]
        compute: String,
        #[arg(long)]
        time_limit_seconds: Option<u64>,
        /// NAME=VALUE for the run's environment (repeatable). Not for secrets: use the vault.
        #[arg(long = "env")]
        environment: Vec<String>,
        /// A base image in a casemate registry (RG/REGISTRY/REPO:TAG), resolved through the
        /// compute's identity before the run starts.
        #[arg(long)]
        image: Option<String>,
        /// The client id of the compute identity that pulls --image (default: its system one).
        #[arg(long, requires = "image")]
        image_identity: Option<uuid::Uuid>,
        /// On a ray compute: CPUs Ray reserves for this run (instead of the compute's).
        #[arg(long)]
        entrypoint_num_cpus: Option<f64>,
        /// On a ray compute: GPUs Ray reserves for this run.
        #[arg(long)]
        entrypoint_num_gpus: Option<f64>,
        /// On a ray compute: bytes of memory Ray reserves for this run.
        #[arg(long)]
        entrypoint_memory: Option<u64>,
        /// Follow the log until the run ends; fail when it does not complete.
        #[arg(long)]
        wait: bool,
    },
    List {
        #[command(flatten)]
        at: WorkspaceArgs,
        #[arg(short = 'e', long)]
        experiment: Option<String>,
    },
    Show {
        run: Uuid,
        #[command(flatten)]
        at: WorkspaceArgs,
    },
    /// Cancel a run: its whole process group is killed.
    Cancel {
        run: Uuid,
        #[command(flatten)]
        at: WorkspaceArgs,
    },
    /// The run's captured output, secret values masked.
    Logs {
        run: Uuid,
        #[command(flatten)]
        at: WorkspaceArgs,
        /// Keep printing until the run ends.
        #[arg(long)]
        follow: bool,
    },
    Metrics {
        run: Uuid,
        #[command(flatten)]
        at: WorkspaceArgs,
    },
    /// Delete an ended run with its logs, metrics, outputs and scratch directory.
    Delete {
        run: Uuid,
        #[command(flatten)]
        at: WorkspaceArgs,
    },
}

#[derive(Subcommand)]
pub enum ExperimentCommand {
    List {
        #[command(flatten)]
        at: WorkspaceArgs,
    },
}

#[derive(Subcommand)]
pub enum ComputeCommand {
    Create {
        name: String,
        #[command(flatten)]
        at: WorkspaceArgs,
        /// `local`, or `ray` (with --address).
        #[arg(long, visible_alias = "type", default_value = "local")]
        kind: String,
        /// A ray compute's Ray dashboard address, http://HOST:8265.
        #[arg(long)]
        address: Option<String>,
        /// CPUs Ray reserves for each run's entrypoint (ray only).
        #[arg(long, requires = "address")]
        entrypoint_num_cpus: Option<f64>,
        /// GPUs Ray reserves for each run's entrypoint (ray only).
        #[arg(long, requires = "address")]
        entrypoint_num_gpus: Option<f64>,
        /// Bytes of memory Ray reserves for each run's entrypoint (ray only).
        #[arg(long, requires = "address")]
        entrypoint_memory: Option<u64>,
        /// A secret in the workspace's vault holding Ray's token, or a whole `Name: value`
        /// header for a proxy in front of the dashboard (ray only).
        #[arg(long, requires = "address")]
        credential_secret: Option<String>,
        #[arg(long)]
        max_concurrent_runs: Option<u32>,
        #[arg(long)]
        max_run_seconds: Option<u64>,
        #[arg(long)]
        description: Option<String>,
        /// `[system]` for a system-assigned identity, or a user-assigned identity's resource id
        /// (repeatable).
        #[arg(long = "assign-identity")]
        assign_identity: Vec<String>,
    },
    List {
        #[command(flatten)]
        at: WorkspaceArgs,
    },
    Show {
        name: String,
        #[command(flatten)]
        at: WorkspaceArgs,
    },
    Delete {
        name: String,
        #[command(flatten)]
        at: WorkspaceArgs,
    },
}

fn time_or_dash(time: Option<time::OffsetDateTime>) -> String {
    time.map_or_else(|| "-".into(), |t| t.to_string())
}

fn print_run(format: OutputFormat, run: &Run) -> anyhow::Result<()> {
    emit(format, run, |r| {
        record(&[
            ("id", r.id.to_string()),
            ("experiment", r.experiment.clone()),
            ("status", r.status.as_str().into()),
            ("reason", r.reason.clone().unwrap_or_default()),
            (
                "exit code",
                r.exit_code.map(|c| c.to_string()).unwrap_or_default(),
            ),
            ("compute", r.compute.clone()),
            ("snapshot", r.snapshot_id.clone()),
            ("command", r.command.clone()),
            ("image", r.image.clone().unwrap_or_default()),
            ("image digest", r.image_digest.clone().unwrap_or_default()),
            ("submitted by", r.submitted_by.clone()),
            ("submitted at", r.submitted_at.to_string()),
            ("started at", time_or_dash(r.started_at)),
            ("ended at", time_or_dash(r.ended_at)),
        ])
    })
}

fn parse_environment(pairs: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    pairs
        .iter()
        .map(|pair| {
            let (name, value) = pair
                .split_once('=')
                .with_context(|| format!("--env {pair}: must be NAME=VALUE"))?;
            Ok((name.to_owned(), value.to_owned()))
        })
        .collect()
}

/// Uploads the directory's archive with a progress bar on a terminal.
pub async fn upload(
    client: &Client,
    at: &WorkspaceArgs,
    source: &std::path::Path,
) -> anyhow::Result<String> {
    let directory = source.to_path_buf();
    let (file, size) = tokio::task::spawn_blocking(move || archive_directory(&directory))
        .await?
        .with_context(|| format!("archiving {}", source.display()))?;
    let bar = indicatif::ProgressBar::new(size);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "uploading snapshot {bar:30} {bytes}/{total_bytes}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let progress = bar.clone();
    let stream =
        tokio_util::io::ReaderStream::new(tokio::fs::File::from_std(file)).inspect(move |chunk| {
            if let Ok(bytes) = chunk {
                progress.inc(bytes.len() as u64);
            }
        });
    let snapshot = client
        .upload_snapshot(
            &at.resource_group,
            &at.workspace,
            reqwest::Body::wrap_stream(stream),
        )
        .await?;
    bar.finish_and_clear();
    Ok(snapshot.id)
}

/// Where a run's standard output goes when printed: to ours, or to our standard error when
/// our standard output must hold one JSON document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LogOutput {
    Stdout,
    Stderr,
}

/// Prints the run's log from the start; with `follow`, until the run ends. Returns the run.
async fn print_logs(
    client: &Client,
    at: &WorkspaceArgs,
    run: Uuid,
    follow: bool,
    output: LogOutput,
) -> anyhow::Result<RunStatus> {
    let mut after = 0;
    loop {
        let page = client
            .run_logs(&at.resource_group, &at.workspace, run, after)
            .await?;
        let mut stdout = std::io::stdout().lock();
        for chunk in &page.chunks {
            if chunk.stream == "stderr" || output == LogOutput::Stderr {
                eprint!("{}", chunk.text);
            } else {
                write!(stdout, "{}", chunk.text)?;
            }
        }
        stdout.flush()?;
        drop(stdout);
        after = page.next;
        if page.complete || (!follow && page.chunks.is_empty()) {
            return Ok(page.status);
        }
        if page.chunks.is_empty() {
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }
}

pub async fn run(command: RunCommand, format: OutputFormat) -> anyhow::Result<()> {
    let client = signed_in().await?;
    match command {
        RunCommand::Submit {
            at,
            experiment,
            source_dir,
            command,
            compute,
            time_limit_seconds,
            environment,
            image,
            image_identity,
            entrypoint_num_cpus,
            entrypoint_num_gpus,
            entrypoint_memory,
            wait,
        } => {
            let resources = RunResources {
                entrypoint_num_cpus,
                entrypoint_num_gpus,
                entrypoint_memory,
            };
            let environment = parse_environment(&environment)?;
            let snapshot_id = upload(&client, &at, &source_dir).await?;
            let request = SubmitRunRequest {
                resources: (resources != RunResources::default()).then_some(resources),
                image: image.map(|base_image| RunImage {
                    base_image,
                    client_id: image_identity,
                }),
                snapshot_id,
                command,
                compute: Some(compute),
                time_limit_seconds,
                environment,
            };
            let submitted = client
                .submit_run(&at.resource_group, &at.workspace, &experiment, &request)
                .await?;
            if !wait {
                return print_run(format, &submitted);
            }
            eprintln!("run {} submitted; following its log", submitted.id);
            // With --output json, standard output holds the run's JSON alone.
            let logs = match format {
                OutputFormat::Json => LogOutput::Stderr,
                OutputFormat::Table => LogOutput::Stdout,
            };
            print_logs(&client, &at, submitted.id, true, logs).await?;
            let ended = client
                .get_run(&at.resource_group, &at.workspace, submitted.id)
                .await?;
            print_run(format, &ended)?;
            if ended.status != RunStatus::Completed {
                anyhow::bail!(
                    "run {} {}: {}",
                    ended.id,
                    ended.status.as_str(),
                    ended.reason.unwrap_or_default()
                );
            }
            Ok(())
        }
        RunCommand::List { at, experiment } => {
            let runs = client
                .list_runs(&at.resource_group, &at.workspace, experiment.as_deref())
                .await?;
            emit(format, &runs, |runs| {
                let rows: Vec<Vec<String>> = runs
                    .iter()
                    .map(|r| {
                        vec![
                            r.id.to_string(),
                            r.experiment.clone(),
                            r.status.as_str().into(),
                            r.submitted_by.clone(),
                            r.submitted_at.to_string(),
                        ]
                    })
                    .collect();
                table(
                    &["ID", "EXPERIMENT", "STATUS", "SUBMITTED BY", "SUBMITTED AT"],
                    &rows,
                );
            })
        }
        RunCommand::Show { run, at } => {
            let found = client
                .get_run(&at.resource_group, &at.workspace, run)
                .await?;
            print_run(format, &found)
        }
        RunCommand::Cancel { run, at } => {
            let canceled = client
                .cancel_run(&at.resource_group, &at.workspace, run)
                .await?;
            print_run(format, &canceled)
        }
        RunCommand::Logs { run, at, follow } => {
            print_logs(&client, &at, run, follow, LogOutput::Stdout).await?;
            Ok(())
        }
        RunCommand::Metrics { run, at } => {
            let metrics = client
                .run_metrics(&at.resource_group, &at.workspace, run)
                .await?;
            emit(format, &metrics, |metrics| {
                let rows: Vec<Vec<String>> = metrics
                    .iter()
                    .map(|m| {
                        vec![
                            m.name.clone(),
                            m.step.to_string(),
                            m.value.to_string(),
                            m.timestamp.to_string(),
                        ]
                    })
                    .collect();
                table(&["NAME", "STEP", "VALUE", "TIMESTAMP (ms)"], &rows);
            })
        }
        RunCommand::Delete { run, at } => {
            client
                .delete_run(&at.resource_group, &at.workspace, run)
                .await?;
            eprintln!("run {run} deleted");
            Ok(())
        }
    }
}

pub async fn experiment(command: ExperimentCommand, format: OutputFormat) -> anyhow::Result<()> {
    let client = signed_in().await?;
    match command {
        ExperimentCommand::List { at } => {
            let experiments = client
                .list_experiments(&at.resource_group, &at.workspace)
                .await?;
            emit(format, &experiments, |list| {
                let rows: Vec<Vec<String>> = list
                    .iter()
                    .map(|e| {
                        vec![
                            e.name.clone(),
                            e.created_by.clone(),
                            e.created_at.to_string(),
                        ]
                    })
                    .collect();
                table(&["NAME", "CREATED BY", "CREATED AT"], &rows);
            })
        }
    }
}

pub async fn compute(command: ComputeCommand, format: OutputFormat) -> anyhow::Result<()> {
    let client = signed_in().await?;
    let show = |format, compute: &casemate_types::wire::Compute| {
        emit(format, compute, |c| {
            record(&[
                ("name", c.name.clone()),
                ("kind", c.kind.clone()),
                ("max concurrent runs", c.max_concurrent_runs.to_string()),
                ("max run seconds", c.max_run_seconds.to_string()),
                ("built in", c.built_in.to_string()),
                (
                    "identities",
                    c.identities
                        .iter()
                        .map(|i| format!("{} {}", i.kind, i.client_id))
                        .collect::<Vec<_>>()
                        .join(", "),
                ),
            ])
        })
    };
    match command {
        ComputeCommand::Create {
            name,
            at,
            kind,
            max_concurrent_runs,
            max_run_seconds,
            description,
            assign_identity,
            address,
            entrypoint_num_cpus,
            entrypoint_num_gpus,
            entrypoint_memory,
            credential_secret,
        } => {
            let request = CreateComputeRequest {
                kind: Some(kind),
                max_concurrent_runs,
                max_run_seconds,
                description,
                assign_identity,
                ray: address.map(|address| RayCompute {
                    address,
                    entrypoint_num_cpus,
                    entrypoint_num_gpus,
                    entrypoint_memory,
                    credential_secret,
                }),
            };
            let created = client
                .create_compute(&at.resource_group, &at.workspace, &name, &request)
                .await?;
            show(format, &created)
        }
        ComputeCommand::List { at } => {
            let computes = client
                .list_computes(&at.resource_group, &at.workspace)
                .await?;
            emit(format, &computes, |list| {
                let rows: Vec<Vec<String>> = list
                    .iter()
                    .map(|c| {
                        vec![
                            c.name.clone(),
                            c.kind.clone(),
                            c.max_concurrent_runs.to_string(),
                            c.max_run_seconds.to_string(),
                        ]
                    })
                    .collect();
                table(
                    &["NAME", "KIND", "MAX CONCURRENT RUNS", "MAX RUN SECONDS"],
                    &rows,
                );
            })
        }
        ComputeCommand::Show { name, at } => {
            let found = client
                .get_compute(&at.resource_group, &at.workspace, &name)
                .await?;
            show(format, &found)
        }
        ComputeCommand::Delete { name, at } => {
            client
                .delete_compute(&at.resource_group, &at.workspace, &name)
                .await?;
            eprintln!("compute {name} deleted");
            Ok(())
        }
    }
}
