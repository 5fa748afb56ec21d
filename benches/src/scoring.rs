//! Scoring through casemate (TLS, the service key checked at the gate, the proxy hop to the
//! scoring process, the durable scoring-log record) against calling the same scoring process
//! directly on its unix socket, side by side in one run: p50/p99 at one connection, throughput
//! at 32. Models: a trivial `score.py`, so casemate's own cost is what shows; and, when
//! `MLFLOW_BIN` names the `mlflow` of a venv with scikit-learn, an MLflow sklearn model, also
//! against `mlflow models serve` on the same model.

use crate::load::{Figures, load, print};
use crate::server::{CasemateServer, ChildProcess, free_port};
use anyhow::{Context, bail};
use casemate_client::Client;
use casemate_server::webservices::proxy::Backend;
use casemate_types::Sensitive;
use casemate_types::wire::{CreateServiceRequest, CreateWorkspaceRequest, ServiceModel};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const MEASURE: Duration = Duration::from_secs(5);
const MANY: usize = 32;
const SCORE_PY: &str =
    "def init():\n    pass\n\ndef run(raw_data):\n    return {\"length\": len(raw_data)}\n";
const IRIS_ROW: &str = r#"{"dataframe_split": {"columns": ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"], "data": [[5.1, 3.5, 1.4, 0.2]]}}"#;
const TRAIN_PY: &str = r#"
import os, sys, mlflow, mlflow.sklearn
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
X, y = load_iris(return_X_y=True, as_frame=True)
model = LogisticRegression(max_iter=300).fit(X, y)
mlflow.sklearn.save_model(model, sys.argv[1], input_example=X.head(1))
mlflow.set_experiment("bench")
with mlflow.start_run():
    mlflow.sklearn.log_model(model, name="model", registered_model_name="iris", input_example=X.head(1))
"#;

async fn register_entry_script_model(admin: &Client) -> anyhow::Result<String> {
    admin
        .put_artifact("bench", "bench-ws", "models/echo/weights", b"none".to_vec())
        .await?;
    for (endpoint, body) in [
        (
            "registered-models/create",
            serde_json::json!({"name": "echo"}),
        ),
        (
            "model-versions/create",
            serde_json::json!({"name": "echo", "source": "mlflow-artifacts:/models/echo"}),
        ),
    ] {
        let response = admin
            .raw(
                "POST",
                &format!(
                    "/mlflow/resourceGroups/bench/workspaces/bench-ws/api/2.0/mlflow/{endpoint}"
                ),
                &[("content-type", "application/json")],
                serde_json::to_vec(&body)?,
            )
            .await?;
        if response.status != 200 {
            bail!("{endpoint}: {}", String::from_utf8_lossy(&response.body));
        }
    }
    let source = tempfile::tempdir()?;
    std::fs::write(source.path().join("score.py"), SCORE_PY)?;
    let (file, _) = casemate_client::archive_directory(source.path())?;
    let snapshot = admin
        .upload_snapshot(
            "bench",
            "bench-ws",
            reqwest::Body::from(tokio::fs::File::from_std(file)),
        )
        .await?;
    Ok(snapshot.id)
}

/// Deploys with key auth and returns the primary key.
async fn deploy(
    admin: &Client,
    name: &str,
    request: CreateServiceRequest,
) -> anyhow::Result<Sensitive> {
    let service = admin
        .create_service("bench", "bench-ws", name, &request)
        .await?;
    if service.state != "Healthy" {
        bail!("service {name} did not start: {:?}", service.state_reason);
    }
    Ok(admin
        .list_service_keys("bench", "bench-ws", name)
        .await?
        .primary_key)
}

fn request(
    models: &[(&str, u32)],
    entry: Option<(&str, &str)>,
    python: Option<&Path>,
) -> CreateServiceRequest {
    CreateServiceRequest {
        models: models
            .iter()
            .map(|(name, version)| ServiceModel {
                name: (*name).to_owned(),
                version: *version,
            })
            .collect(),
        entry_script: entry.map(|(script, _)| script.to_owned()),
        snapshot_id: entry.map(|(_, snapshot)| snapshot.to_owned()),
        auth_mode: "key".into(),
        python: python.map(|p| p.display().to_string()),
        compute: None,
        max_request_bytes: None,
        token_lifetime_seconds: None,
    }
}

/// The socket of the only scoring process started since `before` was listed.
fn new_socket(home: &Path, before: &[PathBuf]) -> anyhow::Result<PathBuf> {
    std::fs::read_dir(home.join("services"))?
        .flatten()
        .map(|entry| entry.path())
        .find(|path| path.extension().is_some_and(|e| e == "sock") && !before.contains(path))
        .context("the scoring process's socket was not found")
}

fn sockets(home: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(home.join("services"))
        .map(|entries| entries.flatten().map(|entry| entry.path()).collect())
        .unwrap_or_default()
}

async fn through_casemate(
    server: &CasemateServer,
    name: &'static str,
    key: &Sensitive,
    body: &'static str,
    connections: usize,
) -> anyhow::Result<Figures> {
    let clients = (0..connections)
        .map(|_| server.client())
        .collect::<Result<Vec<_>, _>>()?;
    let key = key.clone();
    Ok(load(clients, MEASURE, move |client: Client| {
        let key = key.clone();
        async move {
            client
                .score(
                    "bench",
                    "bench-ws",
                    name,
                    Some(&key),
                    body.as_bytes().to_vec(),
                )
                .await
                .is_ok_and(|r| r.status == 200)
        }
    })
    .await)
}

async fn direct(socket: &Path, body: &'static str, connections: usize) -> Figures {
    let backend = Arc::new(Backend::new(socket.to_path_buf()));
    let content_type = hyper::header::HeaderValue::from_static("application/json");
    load(
        vec![backend; connections],
        MEASURE,
        move |backend: Arc<Backend>| {
            let content_type = content_type.clone();
            async move {
                backend
                    .send(
                        hyper::Method::POST,
                        "/score",
                        Some(&content_type),
                        bytes::Bytes::from_static(body.as_bytes()),
                    )
                    .await
                    .is_ok_and(|a| a.status == 200)
            }
        },
    )
    .await
}

fn venv_path(mlflow: &Path) -> std::ffi::OsString {
    let mut paths = vec![mlflow.parent().map(Path::to_path_buf).unwrap_or_default()];
    paths.extend(
        std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
            .unwrap_or_default(),
    );
    std::env::join_paths(paths).unwrap_or_default()
}

async fn mlflow_serve(
    mlflow: &Path,
    model_dir: &Path,
    connections: usize,
) -> anyhow::Result<Figures> {
    let port = free_port()?;
    let _server = ChildProcess::spawn(
        Command::new(mlflow)
            .args([
                "models",
                "serve",
                "--env-manager",
                "local",
                "-h",
                "127.0.0.1",
                "-p",
            ])
            .arg(port.to_string())
            .arg("-m")
            .arg(model_dir)
            // It starts `uvicorn` from PATH: the venv's own.
            .env("PATH", venv_path(mlflow))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    )?;
    let url = format!("http://127.0.0.1:{port}");
    let ready = Instant::now() + Duration::from_secs(120);
    loop {
        let probe = Client::new(&url, None)?;
        if probe
            .raw("GET", "/ping", &[], Vec::new())
            .await
            .is_ok_and(|r| r.status == 200)
        {
            break;
        }
        if Instant::now() > ready {
            bail!("mlflow models serve did not answer within 120 s");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let clients = (0..connections)
        .map(|_| Client::new(&url, None))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(load(clients, MEASURE, |client: Client| async move {
        client
            .raw(
                "POST",
                "/invocations",
                &[("content-type", "application/json")],
                IRIS_ROW.as_bytes().to_vec(),
            )
            .await
            .is_ok_and(|r| r.status == 200)
    })
    .await)
}

fn compare(
    label: &str,
    casemate_one: &Figures,
    direct_one: &Figures,
    casemate_many: &Figures,
    direct_many: &Figures,
) {
    let added = casemate_one.p50.as_secs_f64() * 1e3 - direct_one.p50.as_secs_f64() * 1e3;
    println!(
        "{label}: casemate adds {added:.2} ms at p50 on one connection (target at most 1 ms); \
         at {MANY} connections it keeps {:.0}% of direct throughput (target at least 90%)",
        100.0 * casemate_many.requests_per_second / direct_many.requests_per_second.max(1e-9)
    );
}

pub async fn run() -> anyhow::Result<()> {
    println!(
        "scoring: {} s per figure after a {} s warm-up; one connection, then {MANY}",
        MEASURE.as_secs(),
        crate::load::WARM_UP.as_secs()
    );
    let home = tempfile::tempdir()?;
    let server = CasemateServer::start(home.path())?;
    let (admin, token) = server.admin().await?;
    admin.create_resource_group("bench").await?;
    admin
        .create_workspace("bench", "bench-ws", &CreateWorkspaceRequest::default())
        .await?;
    let snapshot = register_entry_script_model(&admin).await?;
    let key = deploy(
        &admin,
        "echo",
        request(&[("echo", 1)], Some(("score.py", &snapshot)), None),
    )
    .await?;
    let socket = new_socket(home.path(), &[])?;
    let casemate_one = through_casemate(&server, "echo", &key, "{\"data\": [1, 2, 3]}", 1).await?;
    print("score.py via casemate, 1", &casemate_one);
    let direct_one = direct(&socket, "{\"data\": [1, 2, 3]}", 1).await;
    print("score.py direct, 1", &direct_one);
    let casemate_many =
        through_casemate(&server, "echo", &key, "{\"data\": [1, 2, 3]}", MANY).await?;
    print("score.py via casemate, 32", &casemate_many);
    let direct_many = direct(&socket, "{\"data\": [1, 2, 3]}", MANY).await;
    print("score.py direct, 32", &direct_many);
    compare(
        "score.py",
        &casemate_one,
        &direct_one,
        &casemate_many,
        &direct_many,
    );

    let Some(mlflow) = crate::server::find_program("MLFLOW_BIN", "mlflow") else {
        println!(
            "MLflow model: `mlflow` not found (set MLFLOW_BIN to a venv's mlflow with scikit-learn); skipped"
        );
        return Ok(());
    };
    let python = mlflow.with_file_name("python");
    let model_dir = home.path().join("iris-model");
    let trained = Command::new(&python)
        .arg("-c")
        .arg(TRAIN_PY)
        .arg(&model_dir)
        .env(
            "MLFLOW_TRACKING_URI",
            format!(
                "{}/mlflow/resourceGroups/bench/workspaces/bench-ws",
                server.url()
            ),
        )
        .env("MLFLOW_TRACKING_TOKEN", token.expose())
        .env(
            "MLFLOW_TRACKING_SERVER_CERT_PATH",
            home.path().join("tls/cert.pem"),
        )
        .stdout(Stdio::null())
        .output()?;
    if !trained.status.success() {
        bail!(
            "training the iris model failed: {}",
            String::from_utf8_lossy(&trained.stderr)
        );
    }
    let before = sockets(home.path());
    let key = deploy(&admin, "iris", request(&[("iris", 1)], None, Some(&python))).await?;
    let socket = new_socket(home.path(), &before)?;
    let casemate_one = through_casemate(&server, "iris", &key, IRIS_ROW, 1).await?;
    print("MLflow model via casemate, 1", &casemate_one);
    let direct_one = direct(&socket, IRIS_ROW, 1).await;
    print("MLflow model direct, 1", &direct_one);
    let serve_one = mlflow_serve(&mlflow, &model_dir, 1).await?;
    print("mlflow models serve, 1", &serve_one);
    let casemate_many = through_casemate(&server, "iris", &key, IRIS_ROW, MANY).await?;
    print("MLflow model via casemate, 32", &casemate_many);
    let direct_many = direct(&socket, IRIS_ROW, MANY).await;
    print("MLflow model direct, 32", &direct_many);
    let serve_many = mlflow_serve(&mlflow, &model_dir, MANY).await?;
    print("mlflow models serve, 32", &serve_many);
    compare(
        "MLflow model",
        &casemate_one,
        &direct_one,
        &casemate_many,
        &direct_many,
    );
    println!(
        "casemate / mlflow models serve throughput at {MANY}: {:.2}x (mlflow has no authentication at all)",
        casemate_many.requests_per_second / serve_many.requests_per_second.max(1e-9)
    );
    Ok(())
}
