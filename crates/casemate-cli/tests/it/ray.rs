//! Runs on a real Ray cluster: a single-node head started on loopback from Ray installed from
//! PyPI (in a venv made once under cargo's target directory), reached through the Ray Jobs API.
//! A run there fetches a secret with its token (masked in the stored log) and logs a metric; a
//! non-zero exit is Failed with its code; cancel stops the Ray job; an unreachable cluster fails
//! the run cleanly; and the compute's fields are refused by name.

use crate::api_error;
use crate::mlflow::{venv_with, workspaces};
use crate::runs::{log_text, snapshot, wait_final};
use casemate_client::{Client, SecretScope};
use casemate_testkit::TestServer;
use casemate_types::Sensitive;
use casemate_types::wire::{
    CreateComputeRequest, RayCompute, Run, RunResources, RunStatus, SetSecretRequest,
    SubmitRunRequest,
};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

const TRAIN: &str = r#"
from casemate import Run

run = Run.get_context()
value = run.get_secret("db-password")
print("secret:", value)
run.log("loss", 0.25)
import os
os.makedirs("outputs/model", exist_ok=True)
with open("outputs/model/weights.txt", "w") as f:
    f.write("w" * 1000)
print("trained on ray")
"#;

/// The `ray` of a venv made once from PyPI.
fn ray_bin() -> PathBuf {
    venv_with("ray-venv", &["ray[default]>=2.40,<3"]).join("bin/ray")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A single-node Ray head on loopback, stopped when dropped.
struct RayHead {
    ray: PathBuf,
    address: String,
    _temp: tempfile::TempDir,
}

impl RayHead {
    async fn start() -> Self {
        // This process's plain-HTTP calls to the dashboard go through reqwest's rustls backend.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let ray = tokio::task::spawn_blocking(ray_bin).await.unwrap();
        // Ray's unix sockets live under its temp dir, whose path must stay short.
        let temp = tempfile::Builder::new()
            .prefix("cmray")
            .tempdir_in("/tmp")
            .unwrap();
        let dashboard = free_port();
        let output = Command::new(&ray)
            .args(["start", "--head", "--disable-usage-stats", "--num-cpus=2"])
            .arg(format!("--port={}", free_port()))
            .args(["--dashboard-host=127.0.0.1", "--include-dashboard=true"])
            .arg(format!("--dashboard-port={dashboard}"))
            .arg(format!("--temp-dir={}", temp.path().display()))
            .env(
                "PATH",
                format!(
                    "{}:{}",
                    ray.parent().unwrap().display(),
                    std::env::var("PATH").unwrap()
                ),
            )
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "ray start: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let address = format!("http://127.0.0.1:{dashboard}");
        let http = reqwest::Client::new();
        for _ in 0..600 {
            if let Ok(response) = http.get(format!("{address}/api/version")).send().await
                && response.status().is_success()
            {
                return Self {
                    ray,
                    address,
                    _temp: temp,
                };
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the Ray dashboard at {address} never answered");
    }

    /// The Ray job of a run, as the Jobs API shows it (null before it is submitted).
    async fn job(&self, run: &Run) -> serde_json::Value {
        let url = format!("{}/api/jobs/casemate-{}", self.address, run.id.simple());
        let response = reqwest::get(url).await.unwrap();
        if !response.status().is_success() {
            return serde_json::Value::Null;
        }
        response.json().await.unwrap()
    }

    /// What Ray reserved for a run's entrypoint: its job's supervisor actor's resources.
    async fn supervisor_resources(&self, run: &Run) -> serde_json::Value {
        let url = format!("{}/api/v0/actors?detail=true&limit=1000", self.address);
        let listed: serde_json::Value = reqwest::get(url).await.unwrap().json().await.unwrap();
        let name = format!("_ray_internal_job_actor_casemate-{}", run.id.simple());
        listed["data"]["result"]["result"]
            .as_array()
            .unwrap()
            .iter()
            .find(|actor| actor["name"] == name.as_str())
            .map(|actor| actor["required_resources"].clone())
            .unwrap_or_else(|| panic!("no supervisor actor {name}: {listed}"))
    }

    async fn job_status(&self, run: &Run) -> String {
        let job = self.job(run).await;
        job["status"].as_str().unwrap_or("NOT SUBMITTED").to_owned()
    }
}

impl RayHead {
    async fn wait_for_status(&self, run: &Run, wanted: &str) {
        let mut status = String::new();
        for _ in 0..600 {
            status = self.job_status(run).await;
            if status == wanted {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the Ray job of run {} is {status}, not {wanted}", run.id);
    }

    async fn wait_until_running(&self, run: &Run) {
        self.wait_for_status(run, "RUNNING").await;
    }
}

impl Drop for RayHead {
    fn drop(&mut self) {
        let _ = Command::new(&self.ray).args(["stop", "--force"]).output();
    }
}

fn ray_compute(address: &str) -> CreateComputeRequest {
    CreateComputeRequest {
        kind: Some("ray".into()),
        max_concurrent_runs: Some(2),
        ray: Some(RayCompute {
            address: address.to_owned(),
            entrypoint_num_cpus: Some(0.5),
            entrypoint_num_gpus: None,
            entrypoint_memory: None,
        }),
        ..Default::default()
    }
}

async fn submit(client: &Client, snapshot_id: &str, compute: &str, command: &str) -> Run {
    client
        .submit_run(
            "team",
            "vision",
            "ray",
            &SubmitRunRequest {
                resources: None,
                snapshot_id: snapshot_id.to_owned(),
                command: command.to_owned(),
                compute: Some(compute.to_owned()),
                time_limit_seconds: None,
                environment: Default::default(),
                image: None,
            },
        )
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn runs_on_a_ray_cluster_fetch_secrets_log_metrics_fail_and_cancel_as_local_runs_do() {
    let head = RayHead::start().await;
    let server = TestServer::start().await;
    let admin = workspaces(&server).await;
    let vision = SecretScope::Workspace {
        resource_group: "team",
        workspace: "vision",
    };
    let secret = "s3cr3t-ray-value-9431";
    admin
        .set_secret(
            vision,
            "db-password",
            &SetSecretRequest::value(Sensitive::new(secret)),
        )
        .await
        .unwrap();
    let compute = admin
        .create_compute("team", "vision", "cluster", &ray_compute(&head.address))
        .await
        .unwrap();
    assert_eq!(compute.kind, "ray");
    assert_eq!(compute.ray.as_ref().unwrap().address, head.address);
    let code = snapshot(&admin, "vision", &[("train.py", TRAIN)]).await;

    let run = submit(&admin, &code.id, "cluster", "python3 train.py").await;
    let ended = wait_final(&admin, &run).await;
    let log = log_text(&admin, &run).await;
    assert_eq!(
        ended.status,
        RunStatus::Completed,
        "{:?}\n{log}",
        ended.reason
    );
    assert!(
        log.contains("secret: ***") && log.contains("trained on ray"),
        "{log}"
    );
    assert!(!log.contains(secret), "{log}");
    assert_eq!(head.job_status(&run).await, "SUCCEEDED");
    let metrics = admin.run_metrics("team", "vision", run.id).await.unwrap();
    assert!(
        metrics.iter().any(|m| m.name == "loss" && m.value == 0.25),
        "{metrics:?}"
    );

    // A run's own reservation replaces the compute's; on a local compute, or out of range,
    // it is refused by field.
    let mut reserved = SubmitRunRequest {
        snapshot_id: code.id.clone(),
        command: "echo started; sleep 300".into(),
        compute: Some("cluster".into()),
        time_limit_seconds: None,
        environment: Default::default(),
        image: None,
        resources: Some(RunResources {
            entrypoint_num_cpus: Some(0.25),
            ..RunResources::default()
        }),
    };
    let run = admin
        .submit_run("team", "vision", "ray", &reserved)
        .await
        .unwrap();
    head.wait_until_running(&run).await;
    // Ray runs the entrypoint in a supervisor actor holding the reservation.
    assert_eq!(head.supervisor_resources(&run).await["CPU"], 0.25);
    admin.cancel_run("team", "vision", run.id).await.unwrap();
    assert_eq!(wait_final(&admin, &run).await.status, RunStatus::Canceled);
    reserved.compute = Some("local".into());
    let message = api_error(
        admin.submit_run("team", "vision", "ray", &reserved).await,
        400,
        "InvalidInput",
    );
    assert!(message.starts_with("resources: "), "{message}");
    reserved.compute = Some("cluster".into());
    reserved.resources = Some(RunResources {
        entrypoint_num_cpus: Some(-1.0),
        ..RunResources::default()
    });
    let message = api_error(
        admin.submit_run("team", "vision", "ray", &reserved).await,
        400,
        "InvalidInput",
    );
    assert!(
        message.starts_with("resources.entrypoint_num_cpus: "),
        "{message}"
    );

    let run = submit(&admin, &code.id, "cluster", "echo failing; exit 3").await;
    let ended = wait_final(&admin, &run).await;
    assert_eq!(ended.status, RunStatus::Failed);
    assert_eq!(ended.exit_code, Some(3));
    assert!(ended.reason.unwrap().contains("code 3"));

    // Cancel stops the Ray job.
    let run = submit(&admin, &code.id, "cluster", "echo started; sleep 300").await;
    head.wait_until_running(&run).await;
    admin.cancel_run("team", "vision", run.id).await.unwrap();
    assert_eq!(wait_final(&admin, &run).await.status, RunStatus::Canceled);
    head.wait_for_status(&run, "STOPPED").await;

    // A restart of casemate stops the Ray jobs of the runs it marks Failed.
    let run = submit(&admin, &code.id, "cluster", "echo started; sleep 300").await;
    head.wait_until_running(&run).await;
    let server = server
        .restart(casemate_server::config::ConfigLayer::default())
        .await;
    let admin = server.admin().await;
    let ended = admin.get_run("team", "vision", run.id).await.unwrap();
    assert_eq!(ended.status, RunStatus::Failed);
    head.wait_for_status(&run, "STOPPED").await;

    // A cluster that does not answer fails the run, saying so.
    let closed = format!("http://127.0.0.1:{}", free_port());
    admin
        .create_compute("team", "vision", "gone", &ray_compute(&closed))
        .await
        .unwrap();
    let run = submit(&admin, &code.id, "gone", "true").await;
    let ended = wait_final(&admin, &run).await;
    assert_eq!(ended.status, RunStatus::Failed);
    let reason = ended.reason.unwrap();
    assert!(
        reason.contains(&closed) && reason.contains("did not answer"),
        "{reason}"
    );

    // Fields refused by name, nothing made.
    let cases = [
        (
            CreateComputeRequest {
                kind: Some("ray".into()),
                ..Default::default()
            },
            "ray: ",
        ),
        (ray_compute("ftp://127.0.0.1:8265"), "ray.address: "),
        (
            ray_compute("http://user:pw@127.0.0.1:8265"),
            "ray.address: ",
        ),
        (
            CreateComputeRequest {
                ray: Some(RayCompute {
                    entrypoint_num_cpus: Some(-1.0),
                    ..ray_compute(&head.address).ray.unwrap()
                }),
                ..ray_compute(&head.address)
            },
            "ray.entrypoint_num_cpus: ",
        ),
        (
            CreateComputeRequest {
                kind: None,
                ..ray_compute(&head.address)
            },
            "ray: ",
        ),
    ];
    for (request, field) in cases {
        let message = api_error(
            admin
                .create_compute("team", "vision", "refused", &request)
                .await,
            400,
            "InvalidInput",
        );
        assert!(message.starts_with(field), "{field}: {message}");
    }
    assert!(
        admin
            .list_computes("team", "vision")
            .await
            .unwrap()
            .iter()
            .all(|c| c.name != "refused")
    );
}
