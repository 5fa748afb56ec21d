//! The unmodified `mlflow` client (the full package from PyPI, in a venv made once under cargo's
//! target directory) against a real server: a training script with artifacts and the model
//! registry, denied calls as MLflow exceptions in the activity log, workspace isolation, a
//! submitted run logging with its run token; and MLflow's wire shapes from a raw client.

use crate::runs::{snapshot, wait_final};
use casemate_client::Client;
use casemate_testkit::{TestServer, USER_PASSWORD};
use casemate_types::Sensitive;
use casemate_types::wire::{
    CreatePatRequest, CreateWorkspaceRequest, RunStatus, SubmitRunRequest, TokenRequest,
};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

pub const VISION: &str = "/mlflow/resourceGroups/team/workspaces/vision";

pub fn scripts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mlflow")
}

/// A venv under cargo's target directory with `packages` installed from PyPI, made once; test
/// processes that ask at the same time wait on a lock beside it.
pub fn venv_with(name: &str, packages: &[&str]) -> PathBuf {
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let ready = venv.join("installed");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(venv.with_extension("lock"))
        .unwrap();
    lock.lock().unwrap();
    // The marker names what was installed, so a changed list makes the venv afresh.
    let wanted = packages.join("\n");
    if std::fs::read_to_string(&ready).ok().as_deref() != Some(wanted.as_str()) {
        let _ = std::fs::remove_dir_all(&venv);
        for command in [
            Command::new("python3").args(["-m", "venv"]).arg(&venv),
            Command::new(venv.join("bin/python"))
                .args(["-m", "pip", "install", "--quiet"])
                .args(packages),
        ] {
            let output = command.output().unwrap();
            assert!(
                output.status.success(),
                "{command:?}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::fs::write(&ready, &wanted).unwrap();
    }
    venv
}

/// The venv's python, with the full `mlflow` package and what its models need (scikit-learn,
/// pandas) installed: the client ML teams install.
pub fn python_with_mlflow() -> PathBuf {
    venv_with(
        "mlflow-full-venv",
        &["mlflow>=3.1,<4", "scikit-learn", "pandas"],
    )
    .join("bin/python")
}

/// What `in_run.py` logs, found on the run.
pub async fn assert_logged_in_run(admin: &Client, run: &casemate_types::wire::Run) {
    let metrics = admin.run_metrics("team", "vision", run.id).await.unwrap();
    assert!(
        metrics
            .iter()
            .any(|m| m.name == "inside" && m.value == 7.0 && m.step == 1),
        "{metrics:?}"
    );
}

pub async fn token_of(server: &TestServer, name: &str, password: &str) -> String {
    server
        .anonymous()
        .token(&TokenRequest::password(
            name,
            Sensitive::new(password),
            None,
        ))
        .await
        .unwrap()
        .access_token
        .expose()
        .to_owned()
}

/// Runs a script with the mlflow client pointed at `workspace_path` with `credentials`.
pub async fn mlflow_script(
    python: &Path,
    server: &TestServer,
    workspace_path: &str,
    credentials: &[(&str, &str)],
    args: &[&str],
) -> String {
    let mut command = tokio::process::Command::new(python);
    command
        .args(args)
        .env(
            "MLFLOW_TRACKING_URI",
            format!("{}{workspace_path}", server.url),
        )
        .env("MLFLOW_TRACKING_SERVER_CERT_PATH", server.cert_path())
        // A refusal must surface at once, not after MLflow's retries.
        .env("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
        .env_remove("MLFLOW_TRACKING_TOKEN")
        .env_remove("MLFLOW_RUN_ID");
    for (name, value) in credentials {
        command.env(name, value);
    }
    let output = command.output().await.unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{args:?} failed\nstdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// Runs `tests/mlflow/NAME` against vision with the administrator's bearer token.
pub async fn admin_script(python: &Path, server: &TestServer, name: &str) -> String {
    let token = token_of(server, "admin", casemate_testkit::ADMIN_PASSWORD).await;
    let script = scripts().join(name);
    mlflow_script(
        python,
        server,
        VISION,
        &[("MLFLOW_TRACKING_TOKEN", &token)],
        &[script.to_str().unwrap()],
    )
    .await
}

/// A personal access token of `rita`, made a Reader of vision: what an MLflow user puts in
/// MLFLOW_TRACKING_PASSWORD.
pub async fn reader_pat(server: &TestServer) -> String {
    let reader = server
        .user_with_role("rita", "Reader", "/resourceGroups/team/workspaces/vision")
        .await;
    let created = reader
        .create_pat(&CreatePatRequest {
            name: "mlflow".into(),
            expires_in_days: None,
        })
        .await
        .unwrap();
    created.token.expose().to_owned()
}

pub async fn workspaces(server: &TestServer) -> Client {
    let admin = server.admin().await;
    admin.create_resource_group("team").await.unwrap();
    for ws in ["vision", "audio"] {
        admin
            .create_workspace("team", ws, &CreateWorkspaceRequest::default())
            .await
            .unwrap();
    }
    admin
}

#[tokio::test(flavor = "multi_thread")]
async fn the_mlflow_client_tracks_registers_and_is_refused_through_the_gate() {
    let python = tokio::task::spawn_blocking(python_with_mlflow)
        .await
        .unwrap();
    let server = TestServer::start().await;
    let admin = workspaces(&server).await;
    let denied = scripts().join("denied.py");

    // The training script, with a bearer token.
    let out = admin_script(&python, &server, "train.py").await;
    let run_id: uuid::Uuid = out.lines().last().unwrap().trim().parse().unwrap();

    // One store: the native API sees the client's run, metrics and artifacts.
    let native = admin.get_run("team", "vision", run_id).await.unwrap();
    assert_eq!(native.experiment, "digits");
    assert_eq!(native.status, RunStatus::Completed);
    assert_eq!(native.tags.get("team").map(String::as_str), Some("vision"));
    let metrics = admin.run_metrics("team", "vision", run_id).await.unwrap();
    assert!(metrics.iter().any(|m| m.name == "loss"), "{metrics:?}");
    let artifacts = admin.list_artifacts("team", "vision").await.unwrap();
    assert!(
        artifacts.iter().any(
            |a| a.path == format!("runs/{run_id}/outputs/model/weights.bin") && a.size == 300_000
        ),
        "{artifacts:?}"
    );

    // Basic authentication with a personal access token, as MLFLOW_TRACKING_USERNAME/PASSWORD.
    let pat = reader_pat(&server).await;
    mlflow_script(
        &python,
        &server,
        VISION,
        &[
            ("MLFLOW_TRACKING_USERNAME", "rita"),
            ("MLFLOW_TRACKING_PASSWORD", &pat),
        ],
        &[denied.to_str().unwrap(), "reader"],
    )
    .await;
    mlflow_script(
        &python,
        &server,
        VISION,
        &[("MLFLOW_TRACKING_TOKEN", "not-a-token")],
        &[denied.to_str().unwrap(), "unauthenticated"],
    )
    .await;

    // A user of the audio workspace sees nothing of vision, and vision's runs are not in audio.
    server
        .user_with_role(
            "otto",
            "Contributor",
            "/resourceGroups/team/workspaces/audio",
        )
        .await;
    let otto = token_of(&server, "otto", USER_PASSWORD).await;
    mlflow_script(
        &python,
        &server,
        VISION,
        &[("MLFLOW_TRACKING_TOKEN", &otto)],
        &[denied.to_str().unwrap(), "other-workspace"],
    )
    .await;
    mlflow_script(
        &python,
        &server,
        "/mlflow/resourceGroups/team/workspaces/audio",
        &[("MLFLOW_TRACKING_TOKEN", &otto)],
        &[
            denied.to_str().unwrap(),
            "not-here",
            &run_id.simple().to_string(),
        ],
    )
    .await;

    // The refusals are in the activity log.
    let page = admin
        .list_activity(&[
            ("scope", "/resourceGroups/team/workspaces/vision"),
            ("outcome", "Denied"),
        ])
        .await
        .unwrap();
    assert!(
        page.entries.iter().any(|e| e.caller_name == "rita"
            && e.operation == "workspaces/experiments/runs/write"
            && e.status == 403),
        "{:?}",
        page.entries
    );
    assert!(
        page.entries
            .iter()
            .any(|e| e.caller_name == "otto" && e.status == 403),
        "{:?}",
        page.entries
    );
    assert!(
        page.entries
            .iter()
            .any(|e| e.caller_name == "(unauthenticated)"
                && e.operation == "workspaces/experiments/runs/read"
                && e.status == 401
                && !e.detail.contains("not-a-token")),
        "{:?}",
        page.entries
    );
    let searches = admin
        .list_activity(&[
            ("scope", "/resourceGroups/team/workspaces/vision"),
            ("operation", "workspaces/experiments/runs/read"),
        ])
        .await
        .unwrap();
    assert!(
        searches
            .entries
            .iter()
            .any(|e| e.caller_name == "rita" && e.outcome == "Succeeded"),
        "{:?}",
        searches.entries
    );

    // A run submitted through casemate logs with mlflow, using its run token.
    let in_run = std::fs::read_to_string(scripts().join("in_run.py")).unwrap();
    let snap = snapshot(&admin, "vision", &[("in_run.py", &in_run)]).await;
    let run = admin
        .submit_run(
            "team",
            "vision",
            "digits",
            &SubmitRunRequest {
                resources: None,
                image: None,
                snapshot_id: snap.id.clone(),
                command: format!("{} in_run.py", python.display()),
                compute: None,
                time_limit_seconds: None,
                environment: BTreeMap::from([(
                    "MLFLOW_HTTP_REQUEST_MAX_RETRIES".to_owned(),
                    "0".to_owned(),
                )]),
            },
        )
        .await
        .unwrap();
    let ended = wait_final(&admin, &run).await;
    let log = crate::runs::log_text(&admin, &run).await;
    assert_eq!(ended.status, RunStatus::Completed, "{log}");
    assert_logged_in_run(&admin, &run).await;
    let environment = ended.environment.unwrap();
    assert!(
        !environment.contains_key("MLFLOW_TRACKING_TOKEN"),
        "{environment:?}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn mlflow_routes_answer_in_mlflow_shapes_and_refuse_bad_input_by_field() {
    let server = TestServer::start().await;
    workspaces(&server).await;
    let token = token_of(&server, "admin", casemate_testkit::ADMIN_PASSWORD).await;
    let bearer = format!("Bearer {token}");
    let headers = [
        ("authorization", bearer.as_str()),
        ("content-type", "application/json"),
    ];
    let client = server.anonymous();
    let call = |method: &'static str, path: &str, body: serde_json::Value| {
        let path = path.to_owned();
        let client = client.clone();
        async move {
            let response = client
                .raw(
                    method,
                    &format!("{VISION}/api/2.0/mlflow/{path}"),
                    &headers,
                    body.to_string().into_bytes(),
                )
                .await
                .unwrap();
            let json: serde_json::Value =
                serde_json::from_slice(&response.body).unwrap_or(serde_json::Value::Null);
            (response.status, json)
        }
    };

    // Unknown experiment: 404 RESOURCE_DOES_NOT_EXIST (the client then creates it).
    let (status, body) = call(
        "GET",
        "experiments/get-by-name?experiment_name=nope",
        serde_json::json!({}),
    )
    .await;
    assert_eq!(
        (status, body["error_code"].as_str()),
        (404, Some("RESOURCE_DOES_NOT_EXIST"))
    );

    let (status, body) = call(
        "POST",
        "experiments/create",
        serde_json::json!({"name": "exp"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let experiment_id = body["experiment_id"].as_str().unwrap().to_owned();
    let (status, body) = call(
        "POST",
        "experiments/create",
        serde_json::json!({"name": "exp"}),
    )
    .await;
    assert_eq!(
        (status, body["error_code"].as_str()),
        (400, Some("RESOURCE_ALREADY_EXISTS"))
    );

    // Each refused field is named, with the rule.
    for (path, request, field) in [
        (
            "experiments/create",
            serde_json::json!({"name": "bad/name"}),
            "name",
        ),
        ("experiments/create", serde_json::json!({}), "name"),
        (
            "runs/create",
            serde_json::json!({"experiment_id": "nope", "start_time": "soon"}),
            "start_time",
        ),
        (
            "runs/log-metric",
            serde_json::json!({"run_id": "xyz", "key": "k", "value": 1}),
            "run_id",
        ),
        (
            "runs/search",
            serde_json::json!({"experiment_ids": [experiment_id], "filter": "metrics.a ==="}),
            "filter",
        ),
        (
            "runs/search",
            serde_json::json!({"experiment_ids": [experiment_id], "order_by": ["metrics.a UP"]}),
            "order_by",
        ),
        (
            "runs/search",
            serde_json::json!({"experiment_ids": [experiment_id], "max_results": 0}),
            "max_results",
        ),
        (
            "runs/search",
            serde_json::json!({"experiment_ids": [experiment_id], "page_token": "garbage"}),
            "page_token",
        ),
    ] {
        let (status, body) = call("POST", path, request).await;
        assert_eq!(
            (status, body["error_code"].as_str()),
            (400, Some("INVALID_PARAMETER_VALUE")),
            "{path}: {body}"
        );
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .starts_with(&format!("{field}:")),
            "{path}: {body}"
        );
    }

    // A run: params are write-once, batches are checked whole, NaN is refused by name.
    let (status, body) = call(
        "POST",
        "runs/create",
        serde_json::json!({"experiment_id": experiment_id, "run_name": "r1", "start_time": 1700000000000_i64}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let run_id = body["run"]["info"]["run_id"].as_str().unwrap().to_owned();
    assert_eq!(body["run"]["info"]["status"], "RUNNING");
    assert_eq!(body["run"]["info"]["run_name"], "r1");
    assert!(
        body["run"]["info"]["artifact_uri"]
            .as_str()
            .unwrap()
            .starts_with("mlflow-artifacts:/runs/")
    );
    let (status, _) = call(
        "POST",
        "runs/log-parameter",
        serde_json::json!({"run_id": run_id, "key": "lr", "value": "0.1"}),
    )
    .await;
    assert_eq!(status, 200);
    let (status, body) = call(
        "POST",
        "runs/log-parameter",
        serde_json::json!({"run_id": run_id, "key": "lr", "value": "0.2"}),
    )
    .await;
    assert_eq!(
        (status, body["error_code"].as_str()),
        (400, Some("INVALID_PARAMETER_VALUE")),
        "{body}"
    );
    assert!(
        body["message"].as_str().unwrap().starts_with("params:"),
        "{body}"
    );
    let too_many: Vec<_> = (0..1001)
        .map(|i| serde_json::json!({"key": "m", "value": i, "timestamp": 1, "step": i}))
        .collect();
    let (status, body) = call(
        "POST",
        "runs/log-batch",
        serde_json::json!({"run_id": run_id, "metrics": too_many}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("metrics: at most 1000"),
        "{body}"
    );
    let (status, body) = call(
        "POST",
        "runs/log-batch",
        serde_json::json!({"run_id": run_id, "metrics": [{"key": "ok", "value": 1, "timestamp": 1, "step": 0}, {"key": "bad", "value": "NaN", "timestamp": 1, "step": 0}]}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let (_, body) = call(
        "GET",
        &format!("metrics/get-history?run_id={run_id}&metric_key=ok"),
        serde_json::json!({}),
    )
    .await;
    assert_eq!(
        body["metrics"],
        serde_json::json!([]),
        "a refused batch stores nothing"
    );
    // The store refuses the changed param after writing the metric: the transaction undoes it.
    let (status, body) = call(
        "POST",
        "runs/log-batch",
        serde_json::json!({"run_id": run_id, "metrics": [{"key": "ok", "value": 1, "timestamp": 1, "step": 0}], "params": [{"key": "lr", "value": "0.3"}]}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"].as_str().unwrap().starts_with("params:"),
        "{body}"
    );
    let (_, body) = call(
        "GET",
        &format!("metrics/get-history?run_id={run_id}&metric_key=ok"),
        serde_json::json!({}),
    )
    .await;
    assert_eq!(
        body["metrics"],
        serde_json::json!([]),
        "a half-stored batch"
    );
    let long_key = "k".repeat(251);
    for (path, request) in [
        (
            "registered-models/create",
            serde_json::json!({"name": "m", "tags": [{"key": long_key, "value": "v"}]}),
        ),
        (
            "runs/create",
            serde_json::json!({"experiment_id": experiment_id, "tags": [{"key": long_key, "value": "v"}]}),
        ),
    ] {
        let (status, body) = call("POST", path, request).await;
        assert_eq!(
            (status, body["error_code"].as_str()),
            (400, Some("INVALID_PARAMETER_VALUE")),
            "{path}: {body}"
        );
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .starts_with("tags: keys must be 1-250"),
            "{path}: {body}"
        );
    }
    let (status, body) = call(
        "POST",
        "runs/log-batch",
        serde_json::json!({"run_id": run_id, "metrics": [{"key": "acc", "value": "1", "timestamp": "5", "step": "2"}], "tags": [{"key": "t", "value": "v"}]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (_, body) = call(
        "GET",
        &format!("runs/get?run_id={run_id}"),
        serde_json::json!({}),
    )
    .await;
    assert_eq!(body["run"]["data"]["metrics"][0]["value"], 1.0, "{body}");
    assert_eq!(body["run"]["data"]["metrics"][0]["step"], 2, "{body}");

    // A metric for this run sent through another workspace's mount finds no such run there, and a
    // deleted run takes none until restored; neither stores anything.
    let history = |key: &'static str| {
        let run_id = run_id.clone();
        let call = &call;
        async move {
            let (_, body) = call(
                "GET",
                &format!("metrics/get-history?run_id={run_id}&metric_key={key}"),
                serde_json::json!({}),
            )
            .await;
            body["metrics"].as_array().map_or(0, Vec::len)
        }
    };
    let point = serde_json::json!({"run_id": run_id, "key": "loss", "value": 0.5, "timestamp": 1, "step": 1});
    let response = client
        .raw(
            "POST",
            "/mlflow/resourceGroups/team/workspaces/audio/api/2.0/mlflow/runs/log-metric",
            &headers,
            point.to_string().into_bytes(),
        )
        .await
        .unwrap();
    let body: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
    assert_eq!(
        (response.status, body["error_code"].as_str()),
        (404, Some("RESOURCE_DOES_NOT_EXIST")),
        "{body}"
    );
    assert_eq!(history("loss").await, 0);
    let (status, _) = call("POST", "runs/delete", serde_json::json!({"run_id": run_id})).await;
    assert_eq!(status, 200);
    let (status, body) = call("POST", "runs/log-metric", point.clone()).await;
    assert_eq!(
        (status, body["error_code"].as_str()),
        (400, Some("INVALID_PARAMETER_VALUE")),
        "{body}"
    );
    assert!(
        body["message"].as_str().unwrap().contains("is deleted"),
        "{body}"
    );
    assert_eq!(history("loss").await, 0);
    let (status, _) = call(
        "POST",
        "runs/restore",
        serde_json::json!({"run_id": run_id}),
    )
    .await;
    assert_eq!(status, 200);
    let (status, body) = call("POST", "runs/log-metric", point.clone()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(history("loss").await, 1);

    // Pages: a token from the server continues where the last page stopped.
    for name in ["r2", "r3"] {
        call(
            "POST",
            "runs/create",
            serde_json::json!({"experiment_id": experiment_id, "run_name": name}),
        )
        .await;
    }
    let (_, first) = call("POST", "runs/search", serde_json::json!({"experiment_ids": [experiment_id], "max_results": 2, "order_by": ["attributes.run_name ASC"]})).await;
    let names = |page: &serde_json::Value| -> Vec<String> {
        page["runs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["info"]["run_name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(names(&first), ["r1", "r2"]);
    let token = first["next_page_token"].as_str().unwrap();
    let (_, second) = call("POST", "runs/search", serde_json::json!({"experiment_ids": [experiment_id], "max_results": 2, "order_by": ["attributes.run_name ASC"], "page_token": token})).await;
    assert_eq!(names(&second), ["r3"]);
    assert!(second.get("next_page_token").is_none());

    // An MLflow path casemate does not serve says so, naming it (never a bare "route not
    // found"); missing credentials are MLflow-shaped too.
    let (status, body) = call("POST", "runs/no-such-thing", serde_json::json!({})).await;
    assert_eq!(
        (status, body["error_code"].as_str()),
        (501, Some("NOT_IMPLEMENTED"))
    );
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("/api/2.0/mlflow/runs/no-such-thing"),
        "{message}"
    );
    let (status, body) = call("POST", "../3.0/mlflow/traces", serde_json::json!({})).await;
    assert_eq!(
        (status, body["error_code"].as_str()),
        (501, Some("NOT_IMPLEMENTED"))
    );
    assert!(
        body["message"].as_str().unwrap().contains("tracing"),
        "{body}"
    );
    let response = client
        .raw(
            "POST",
            &format!("{VISION}/api/2.0/mlflow/runs/search"),
            &[],
            b"{}".to_vec(),
        )
        .await
        .unwrap();
    let body: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
    assert_eq!(
        (response.status, body["error_code"].as_str()),
        (401, Some("UNAUTHENTICATED"))
    );
    server.stop().await;
}
