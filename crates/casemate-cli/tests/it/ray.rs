//! Runs on a real Ray cluster: a single-node head started on loopback from Ray installed from
//! PyPI (in a venv made once under cargo's target directory) with Ray's token authentication
//! on, reached through the Ray Jobs API with the token from the workspace's vault. A run there
//! fetches a secret with its token (masked in the stored log), logs a metric, leaves outputs that
//! become artifacts, and logs with the full mlflow client; a non-zero exit
//! is Failed with its code; cancel stops the Ray job; an unreachable cluster, or one refusing
//! the credential, fails the run cleanly; an hbi run's job directory is gone when it ends; and
//! the compute's fields are refused by name.

use crate::mlflow::{python_with_mlflow, scripts, venv_with, workspaces};
use crate::runs::{create_hbi_workspace, log_text, run_output, snapshot, wait_final};
use crate::{api_error, free_port};
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
print("cwd:", os.getcwd())
os.makedirs("outputs/model", exist_ok=True)
with open("outputs/model/weights.txt", "w") as f:
    f.write("w" * 1000)
print("trained on ray")
"#;

/// The `ray` of a venv made once from PyPI.
fn ray_bin() -> PathBuf {
    venv_with("ray-venv", &["ray[default]>=2.40,<3"]).join("bin/ray")
}

/// The vault secret the tests' Ray computes name for their credential.
const CREDENTIAL: &str = "ray-token";

/// A single-node Ray head on loopback, with token authentication, stopped when dropped.
struct RayHead {
    ray: PathBuf,
    address: String,
    token: String,
    /// Sends the token, as the test's own calls to the Jobs API must.
    http: reqwest::Client,
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
        let token = uuid::Uuid::new_v4().simple().to_string();
        let output = Command::new(&ray)
            .args(["start", "--head", "--disable-usage-stats", "--num-cpus=2"])
            .arg(format!("--port={}", free_port()))
            .args(["--dashboard-host=127.0.0.1", "--include-dashboard=true"])
            .arg(format!("--dashboard-port={dashboard}"))
            .arg(format!("--temp-dir={}", temp.path().display()))
            .env("RAY_AUTH_MODE", "token")
            .env("RAY_AUTH_TOKEN", &token)
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
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(
            reqwest::header::AUTHORIZATION,
            format!("Bearer {token}").parse().unwrap(),
        );
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .build()
            .unwrap();
        for _ in 0..600 {
            if let Ok(response) = http.get(format!("{address}/api/jobs/")).send().await
                && response.status().is_success()
            {
                return Self {
                    ray,
                    address,
                    token,
                    http,
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
        let response = self.http.get(url).send().await.unwrap();
        if !response.status().is_success() {
            return serde_json::Value::Null;
        }
        response.json().await.unwrap()
    }

    /// What Ray reserved for a run's entrypoint: its job's supervisor actor's resources.
    async fn supervisor_resources(&self, run: &Run) -> serde_json::Value {
        let url = format!("{}/api/v0/actors?detail=true&limit=1000", self.address);
        let listed: serde_json::Value = self
            .http
            .get(url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
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
            credential_secret: Some(CREDENTIAL.into()),
        }),
        ..Default::default()
    }
}

/// A ray compute in `ws` on the head, with its token in the workspace's vault.
async fn ray_compute_in(admin: &Client, head: &RayHead, ws: &str, name: &str) {
    let vault = SecretScope::Workspace {
        resource_group: "team",
        workspace: ws,
    };
    admin
        .set_secret(
            vault,
            CREDENTIAL,
            &SetSecretRequest::value(Sensitive::new(head.token.clone())),
        )
        .await
        .unwrap();
    admin
        .create_compute("team", ws, name, &ray_compute(&head.address))
        .await
        .unwrap();
}

/// The directory the job ran in, as its log says.
fn job_directory(log: &str) -> PathBuf {
    let line = log.lines().find_map(|l| l.strip_prefix("cwd: ")).unwrap();
    PathBuf::from(line.trim())
}

async fn submit(client: &Client, snapshot_id: &str, compute: &str, command: &str) -> Run {
    submit_in(client, "vision", snapshot_id, compute, command).await
}

async fn submit_in(
    client: &Client,
    ws: &str,
    snapshot_id: &str,
    compute: &str,
    command: &str,
) -> Run {
    client
        .submit_run(
            "team",
            ws,
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
    ray_compute_in(&admin, &head, "vision", "cluster").await;
    let compute = admin
        .get_compute("team", "vision", "cluster")
        .await
        .unwrap();
    assert_eq!(compute.kind, "ray");
    let shown = compute.ray.as_ref().unwrap();
    assert_eq!(shown.address, head.address);
    assert_eq!(shown.credential_secret.as_deref(), Some(CREDENTIAL));
    assert!(
        !serde_json::to_string(&compute)
            .unwrap()
            .contains(&head.token)
    );
    let code = snapshot(&admin, "vision", &[("train.py", TRAIN)]).await;

    // Two runs of one snapshot at once: each job has a directory of its own.
    let run = submit(&admin, &code.id, "cluster", "python3 train.py").await;
    let twin = submit(&admin, &code.id, "cluster", "python3 train.py").await;
    let ended = wait_final(&admin, &run).await;
    let log = log_text(&admin, &run).await;
    wait_final(&admin, &twin).await;
    assert_ne!(
        job_directory(&log),
        job_directory(&log_text(&admin, &twin).await)
    );
    assert!(job_directory(&log).join("train.py").exists());
    // What the job left in outputs/ became the run's artifacts.
    assert_eq!(
        run_output(&admin, &run, "model/weights.txt").await,
        vec![b'w'; 1000]
    );
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

    // The full mlflow client logs from inside the job, with the run's token and CA.
    let python = tokio::task::spawn_blocking(python_with_mlflow)
        .await
        .unwrap();
    let in_run = std::fs::read_to_string(scripts().join("in_run.py")).unwrap();
    let logging = snapshot(&admin, "vision", &[("in_run.py", &in_run)]).await;
    let command = format!("{} in_run.py", python.display());
    let run = submit(&admin, &logging.id, "cluster", &command).await;
    let ended = wait_final(&admin, &run).await;
    let log = log_text(&admin, &run).await;
    assert_eq!(ended.status, RunStatus::Completed, "{log}");
    crate::mlflow::assert_logged_in_run(&admin, &run).await;

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

    // The time limit stops the Ray job too.
    let limited = SubmitRunRequest {
        command: "echo started; sleep 300".into(),
        time_limit_seconds: Some(2),
        resources: None,
        ..reserved.clone()
    };
    let run = admin
        .submit_run("team", "vision", "ray", &limited)
        .await
        .unwrap();
    let ended = wait_final(&admin, &run).await;
    assert_eq!(ended.status, RunStatus::Failed);
    assert!(ended.reason.unwrap().contains("time limit"));
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

    // A cluster refusing the credential, or a credential that is not in the vault, fails the
    // run, saying which; the token never shows.
    let mut anonymous = ray_compute(&head.address);
    anonymous.ray.as_mut().unwrap().credential_secret = None;
    admin
        .create_compute("team", "vision", "anonymous", &anonymous)
        .await
        .unwrap();
    let ended = wait_final(&admin, &submit(&admin, &code.id, "anonymous", "true").await).await;
    assert_eq!(ended.status, RunStatus::Failed);
    let reason = ended.reason.unwrap();
    assert!(reason.contains("401"), "{reason}");
    let mut unset = ray_compute(&head.address);
    unset.ray.as_mut().unwrap().credential_secret = Some("no-such-secret".into());
    admin
        .create_compute("team", "vision", "unset", &unset)
        .await
        .unwrap();
    let ended = wait_final(&admin, &submit(&admin, &code.id, "unset", "true").await).await;
    assert_eq!(ended.status, RunStatus::Failed);
    let reason = ended.reason.unwrap();
    assert!(
        reason.contains("credential secret 'no-such-secret'"),
        "{reason}"
    );

    // An hbi workspace's job directory is gone when the job ends, and when it is stopped.
    create_hbi_workspace(&admin, "secure").await;
    ray_compute_in(&admin, &head, "secure", "cluster").await;
    admin
        .set_secret(
            SecretScope::Workspace {
                resource_group: "team",
                workspace: "secure",
            },
            "db-password",
            &SetSecretRequest::value(Sensitive::new(secret)),
        )
        .await
        .unwrap();
    let secure = snapshot(&admin, "secure", &[("train.py", TRAIN)]).await;
    let run = submit_in(&admin, "secure", &secure.id, "cluster", "python3 train.py").await;
    let ended = wait_final(&admin, &run).await;
    let log = log_text(&admin, &run).await;
    assert_eq!(ended.status, RunStatus::Completed, "{log}");
    assert!(!job_directory(&log).exists(), "{log}");
    let run = submit_in(
        &admin,
        "secure",
        &secure.id,
        "cluster",
        "python3 -c 'import os; print(\"cwd:\", os.getcwd(), flush=True)'; sleep 300",
    )
    .await;
    head.wait_until_running(&run).await;
    let mut log = String::new();
    for _ in 0..600 {
        log = log_text(&admin, &run).await;
        if log.contains("cwd: ") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let directory = job_directory(&log);
    assert!(directory.exists());
    admin.cancel_run("team", "secure", run.id).await.unwrap();
    head.wait_for_status(&run, "STOPPED").await;
    assert!(!directory.exists());

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
                    credential_secret: Some("not a name!".into()),
                    ..ray_compute(&head.address).ray.unwrap()
                }),
                ..ray_compute(&head.address)
            },
            "ray.credential_secret: ",
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
