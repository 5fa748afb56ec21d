//! MLflow's logging calls from one client over one keep-alive connection: `runs/log-batch` with
//! 1,000 metrics per request (metric points per second) and sequential `runs/log-metric`
//! (requests per second), each for 10 s, against the real `casemate` binary (TLS, token,
//! authorization, durable activity log) and, when the `mlflow` package is installed (`mlflow`
//! on PATH or named by `MLFLOW_BIN`), against `mlflow server` with its SQLite backend in the
//! same run. Both are measured on a run that already holds 1,000,000 points: casemate's are
//! logged through its API first, `mlflow server`'s written straight into its SQLite database
//! (through its API they would take most of an hour).

use crate::backend::Backend;
use crate::server::{CasemateServer, ChildProcess, find_program, free_port, memory_kib};
use anyhow::{Context, bail};
use casemate_client::Client;
use casemate_types::wire::CreateWorkspaceRequest;
use serde_json::{Value, json};
use std::fmt::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const MEASURE: Duration = Duration::from_secs(10);
const BATCH: usize = 1000;
/// Points in the run before anything is measured.
const PREFILLED: u64 = 1_000_000;

/// How the run gets its first million points.
enum Prefill<'a> {
    ThroughTheApi,
    /// `mlflow server`'s SQLite database, written by `python` (its venv's).
    MlflowDatabase {
        python: &'a Path,
        database: &'a Path,
    },
}

/// One log-batch body of `BATCH` points continuing after `step`. Written straight into a
/// string: building a serde_json::Value of 1,000 metrics costs the generator about as long as
/// the server takes to store them.
fn batch_body(run_id: &str, step: &mut u64) -> anyhow::Result<String> {
    let mut body = String::with_capacity(BATCH * 80);
    write!(body, r#"{{"run_id":"{run_id}","metrics":["#)?;
    for i in 0..BATCH {
        *step += 1;
        let separator = if i == 0 { "" } else { "," };
        // A falling, noisy 32-bit loss as frameworks report it (PyTorch's `loss.item()`): a
        // double holding a 32-bit float, written as the client writes it, in the shortest form
        // that reads back exactly.
        let noise = (step.wrapping_mul(2_654_435_761) % 1000) as f32 * 1e-5;
        let loss = 1.0_f32 / (1.0 + *step as f32 * 1e-4) + noise;
        write!(
            body,
            r#"{separator}{{"key":"m{}","value":{},"timestamp":{},"step":{}}}"#,
            i % 10,
            f64::from(loss),
            1_700_000_000_000_u64 + *step,
            *step
        )?;
    }
    body.push_str("]}");
    Ok(body)
}

/// Log-batch bodies for `run_id` continuing after `step`, each with the last step it holds,
/// made on a thread of their own one ahead of the request in flight: the figure is the server's,
/// not how fast this process writes 1,000 numbers (which at casemate's speed would be about a
/// quarter of each batch's time on this 2-core machine). The thread ends when they are dropped.
fn bodies(
    run_id: &str,
    mut step: u64,
) -> tokio::sync::mpsc::Receiver<anyhow::Result<(String, u64)>> {
    let (sender, receiver) = tokio::sync::mpsc::channel(1);
    let run_id = run_id.to_owned();
    std::thread::spawn(move || {
        loop {
            let body = batch_body(&run_id, &mut step).map(|body| (body, step));
            if sender.blocking_send(body).is_err() {
                break;
            }
        }
    });
    receiver
}

/// Sends the next of `bodies`, returning the last step it logged.
async fn send_next_batch(
    target: &Target,
    bodies: &mut tokio::sync::mpsc::Receiver<anyhow::Result<(String, u64)>>,
) -> anyhow::Result<u64> {
    let (body, step) = bodies.recv().await.context("the body thread stopped")??;
    target.send("runs/log-batch", body).await?;
    Ok(step)
}

async fn prefill(
    target: &Target,
    run_id: &str,
    how: &Prefill<'_>,
    step: &mut u64,
) -> anyhow::Result<()> {
    match how {
        Prefill::ThroughTheApi => {
            let mut bodies = bodies(run_id, *step);
            while *step < PREFILLED {
                *step = send_next_batch(target, &mut bodies).await?;
            }
        }
        Prefill::MlflowDatabase { python, database } => {
            let script = format!(
                "import sqlite3\n\
                 db = sqlite3.connect({database:?})\n\
                 rows = ((f'm{{s % 10}}', (s % {BATCH}) * 0.5, 1700000000000 + s, {run_id:?}, s, 0) for s in range(1, {PREFILLED} + 1))\n\
                 db.executemany('INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) VALUES (?, ?, ?, ?, ?, ?)', rows)\n\
                 db.commit()\n",
                database = database.display().to_string(),
            );
            let status = Command::new(python).args(["-c", &script]).status()?;
            if !status.success() {
                bail!("writing {PREFILLED} points into mlflow's database failed: {status}");
            }
            *step = PREFILLED;
        }
    }
    Ok(())
}

struct Target {
    client: Client,
    prefix: String,
    headers: Vec<(String, String)>,
}

impl Target {
    async fn call(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        self.send(path, body.to_string()).await
    }

    async fn send(&self, path: &str, body: String) -> anyhow::Result<Value> {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let response = self
            .client
            .raw(
                "POST",
                &format!("{}/api/2.0/mlflow/{path}", self.prefix),
                &headers,
                body.into_bytes(),
            )
            .await?;
        if response.status != 200 {
            bail!(
                "{path}: {} {}",
                response.status,
                String::from_utf8_lossy(&response.body)
            );
        }
        Ok(serde_json::from_slice(&response.body)?)
    }
}

struct Figures {
    points_per_second: f64,
    requests_per_second: f64,
    rss_kib: u64,
}

async fn measure(target: &Target, how: Prefill<'_>) -> anyhow::Result<(f64, f64)> {
    let experiment = target
        .call("experiments/create", &json!({"name": "bench"}))
        .await?;
    let experiment_id = experiment["experiment_id"]
        .as_str()
        .context("no experiment id")?;
    let run = target
        .call(
            "runs/create",
            &json!({"experiment_id": experiment_id, "start_time": 1}),
        )
        .await?;
    let run_id = run["run"]["info"]["run_id"]
        .as_str()
        .context("no run id")?
        .to_owned();

    let mut step = 0_u64;
    prefill(target, &run_id, &how, &mut step).await?;
    let mut points = 0_usize;
    let mut bodies = bodies(&run_id, step);
    let began = Instant::now();
    while began.elapsed() < MEASURE {
        step = send_next_batch(target, &mut bodies).await?;
        points += BATCH;
    }
    drop(bodies);
    let points_per_second = points as f64 / began.elapsed().as_secs_f64();

    let mut requests = 0_usize;
    let began = Instant::now();
    while began.elapsed() < MEASURE {
        step += 1;
        target
            .call(
                "runs/log-metric",
                &json!({"run_id": run_id, "key": "loss", "value": 0.5, "timestamp": 1_700_000_000_000_u64 + step, "step": step}),
            )
            .await?;
        requests += 1;
    }
    Ok((
        points_per_second,
        requests as f64 / began.elapsed().as_secs_f64(),
    ))
}

async fn bench_casemate(backend: &Backend) -> anyhow::Result<Figures> {
    let home = tempfile::tempdir()?;
    let server = CasemateServer::start_on(home.path(), backend.database_url().await.as_deref())?;
    let (admin, token) = server.admin().await?;
    admin.create_resource_group("bench").await?;
    admin
        .create_workspace("bench", "bench-ws", &CreateWorkspaceRequest::default())
        .await?;
    let target = Target {
        client: server.client()?,
        prefix: "/mlflow/resourceGroups/bench/workspaces/bench-ws".into(),
        headers: vec![
            ("authorization".into(), format!("Bearer {}", token.expose())),
            ("content-type".into(), "application/json".into()),
        ],
    };
    let (points_per_second, requests_per_second) = measure(&target, Prefill::ThroughTheApi).await?;
    Ok(Figures {
        points_per_second,
        requests_per_second,
        rss_kib: memory_kib(server.pid(), "VmRSS:"),
    })
}

async fn bench_mlflow(mlflow: &Path) -> anyhow::Result<Figures> {
    let dir = tempfile::tempdir()?;
    let port = free_port()?;
    let server = ChildProcess::spawn(
        Command::new(mlflow)
            .args(["server", "--host", "127.0.0.1", "--port", &port.to_string()])
            .arg("--backend-store-uri")
            .arg(format!(
                "sqlite:///{}",
                dir.path().join("mlflow.db").display()
            ))
            .arg("--default-artifact-root")
            .arg(dir.path().join("artifacts"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    )?;
    let client = Client::new(&format!("http://127.0.0.1:{port}"), None)?;
    let ready = Instant::now() + Duration::from_secs(120);
    loop {
        match client.raw("GET", "/health", &[], Vec::new()).await {
            Ok(response) if response.status == 200 => break,
            _ if Instant::now() > ready => bail!("mlflow server did not start within 120 s"),
            _ => tokio::time::sleep(Duration::from_millis(300)).await,
        }
    }
    let target = Target {
        client,
        prefix: String::new(),
        headers: vec![("content-type".into(), "application/json".into())],
    };
    let python = mlflow.with_file_name("python");
    let database = dir.path().join("mlflow.db");
    let how = Prefill::MlflowDatabase {
        python: &python,
        database: &database,
    };
    let (points_per_second, requests_per_second) = measure(&target, how).await?;
    // The server's workers are its children; count the whole tree's resident memory.
    let rss_kib = process_tree_rss(server.0.id());
    Ok(Figures {
        points_per_second,
        requests_per_second,
        rss_kib,
    })
}

fn process_tree_rss(root: u32) -> u64 {
    let children: Vec<u32> = std::fs::read_to_string(format!("/proc/{root}/task/{root}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|pid| pid.parse().ok())
        .collect();
    memory_kib(root, "VmRSS:") + children.into_iter().map(process_tree_rss).sum::<u64>()
}

fn print(name: &str, figures: &Figures) {
    println!(
        "{name:<44} log-batch {:>9.0} points/s   log-metric {:>6.0} req/s   RSS {:>6.1} MiB",
        figures.points_per_second,
        figures.requests_per_second,
        figures.rss_kib as f64 / 1024.0
    );
}

/// `mlflow [--backend sqlite|postgres]`.
pub async fn run(args: &[String]) -> anyhow::Result<()> {
    let backends = Backend::from_args("mlflow", args)?;
    println!(
        "MLflow logging from one client, one connection, on a run already holding {PREFILLED} points: log-batch of {BATCH} metrics, then sequential log-metric, {} s each",
        MEASURE.as_secs()
    );
    let mut casemate = None;
    for backend in &backends {
        let figures = bench_casemate(backend).await?;
        print(
            &format!("casemate (TLS, token, audited, {})", backend.label()),
            &figures,
        );
        casemate.get_or_insert(figures);
    }
    let casemate = casemate.context("no backend was measured")?;
    match find_program("MLFLOW_BIN", "mlflow") {
        Some(mlflow) => {
            let reference = bench_mlflow(&mlflow).await?;
            print("mlflow server (HTTP, SQLite)", &reference);
            println!(
                "casemate (SQLite) / mlflow: {:.1}x points/s (target at least 100x), {:.1}x req/s (target at least 50x); casemate RSS target under 64 MiB",
                casemate.points_per_second / reference.points_per_second.max(1e-9),
                casemate.requests_per_second / reference.requests_per_second.max(1e-9),
            );
        }
        None => println!(
            "mlflow server: `mlflow` not found on PATH or in MLFLOW_BIN (pip install mlflow); skipped"
        ),
    }
    Ok(())
}
