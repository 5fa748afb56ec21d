//! The full `mlflow` package doing what ML teams do (log_model with registration, datasets,
//! autolog, renames, registry updates, loading by alias) against the real server, as an owner
//! and as a Reader; and what casemate keeps of it, seen through its own API.

use crate::mlflow::{
    VISION, admin_script, mlflow_script, python_with_mlflow, reader_pat, scripts, token_of,
    workspaces,
};
use casemate_testkit::TestServer;
use casemate_types::wire::RunStatus;
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread")]
async fn the_full_mlflow_client_logs_registers_loads_and_is_refused_as_a_reader() {
    let python = tokio::task::spawn_blocking(python_with_mlflow)
        .await
        .unwrap();
    let server = TestServer::start().await;
    let admin = workspaces(&server).await;
    let out = admin_script(&python, &server, "full_client.py").await;
    let ids: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    let run: Uuid = ids["run_id"].as_str().unwrap().parse().unwrap();
    let model_id = ids["model_id"].as_str().unwrap();

    // casemate's own view of what the client did: one store.
    let native = admin.get_run("team", "vision", run).await.unwrap();
    assert_eq!(native.experiment, "iris-renamed");
    assert_eq!(native.status, RunStatus::Completed);
    let metrics = admin.run_metrics("team", "vision", run).await.unwrap();
    assert_eq!(metrics.iter().filter(|m| m.name == "loss").count(), 100);
    let experiments = admin.list_experiments("team", "vision").await.unwrap();
    let names: Vec<&str> = experiments.iter().map(|e| e.name.as_str()).collect();
    assert!(
        names.contains(&"iris-renamed") && !names.contains(&"iris-exp"),
        "{names:?}"
    );
    // The model's files are sealed workspace artifacts.
    let artifacts = admin.list_artifacts("team", "vision").await.unwrap();
    let mlmodel = format!("models/{model_id}/artifacts/MLmodel");
    assert!(
        artifacts.iter().any(|a| a.path == mlmodel),
        "{mlmodel} not in {:?}",
        artifacts.iter().map(|a| &a.path).collect::<Vec<_>>()
    );
    let text = String::from_utf8(
        admin
            .get_artifact("team", "vision", &mlmodel)
            .await
            .unwrap(),
    )
    .unwrap();
    assert!(text.contains("sklearn"), "{text}");
    // Registry changes are in the activity log under the registry's actions.
    let page = admin
        .list_activity(&[
            ("scope", "/resourceGroups/team/workspaces/vision"),
            ("operation", "workspaces/models/delete"),
            ("outcome", "Succeeded"),
        ])
        .await
        .unwrap();
    assert_eq!(page.entries.len(), 1, "{:?}", page.entries);

    // A Reader reads everything the script wrote and is refused every write.
    let pat = reader_pat(&server).await;
    let reader_script = scripts().join("full_client_reader.py");
    mlflow_script(
        &python,
        &server,
        VISION,
        &[
            ("MLFLOW_TRACKING_USERNAME", "rita"),
            ("MLFLOW_TRACKING_PASSWORD", &pat),
        ],
        &[
            reader_script.to_str().unwrap(),
            ids["experiment_id"].as_str().unwrap(),
            &run.simple().to_string(),
        ],
    )
    .await;
    let denied = admin
        .list_activity(&[
            ("scope", "/resourceGroups/team/workspaces/vision"),
            ("caller", "rita"),
            ("outcome", "Denied"),
        ])
        .await
        .unwrap();
    assert_eq!(denied.entries.len(), 11, "{:?}", denied.entries);
    assert!(denied.entries.iter().all(|e| e.status == 403));
    // Nothing the Reader tried changed anything.
    assert_eq!(
        admin
            .get_run("team", "vision", run)
            .await
            .unwrap()
            .experiment,
        "iris-renamed"
    );
    server.stop().await;
}

/// One MLflow call with the admin's token: (status, body).
async fn call(
    server: &TestServer,
    token: &str,
    method: &str,
    path: &str,
    body: serde_json::Value,
) -> (u16, serde_json::Value) {
    let bearer = format!("Bearer {token}");
    let response = server
        .anonymous()
        .raw(
            method,
            &format!("{VISION}/api/2.0/mlflow/{path}"),
            &[
                ("authorization", bearer.as_str()),
                ("content-type", "application/json"),
            ],
            body.to_string().into_bytes(),
        )
        .await
        .unwrap();
    let json = serde_json::from_slice(&response.body).unwrap_or(serde_json::Value::Null);
    (response.status, json)
}

#[tokio::test(flavor = "multi_thread")]
async fn new_mlflow_fields_are_refused_by_name_and_leave_nothing_behind() {
    use serde_json::json;
    let server = TestServer::start().await;
    workspaces(&server).await;
    let token = token_of(&server, "admin", casemate_testkit::ADMIN_PASSWORD).await;
    let (_, created) = call(
        &server,
        &token,
        "POST",
        "experiments/create",
        json!({"name": "e"}),
    )
    .await;
    let experiment = created["experiment_id"].as_str().unwrap().to_owned();
    call(
        &server,
        &token,
        "POST",
        "experiments/create",
        json!({"name": "taken"}),
    )
    .await;
    let (_, run) = call(
        &server,
        &token,
        "POST",
        "runs/create",
        json!({"experiment_id": experiment}),
    )
    .await;
    let run_id = run["run"]["info"]["run_id"].as_str().unwrap().to_owned();
    call(
        &server,
        &token,
        "POST",
        "registered-models/create",
        json!({"name": "m"}),
    )
    .await;
    call(
        &server,
        &token,
        "POST",
        "registered-models/create",
        json!({"name": "other"}),
    )
    .await;
    let dataset = |field: &str, value: serde_json::Value| {
        let mut dataset =
            json!({"name": "d", "digest": "abc", "source_type": "code", "source": "{}"});
        dataset[field] = value;
        json!({"run_id": run_id, "datasets": [{"tags": [], "dataset": dataset}]})
    };
    let unknown_model = format!("m-{}", "0".repeat(32));
    for (method, path, body, field, rule) in [
        (
            "POST",
            "runs/log-inputs",
            dataset("name", json!("")),
            "datasets.dataset.name",
            "is required",
        ),
        (
            "POST",
            "runs/log-inputs",
            dataset("digest", json!("x".repeat(37))),
            "datasets.dataset.digest",
            "at most 36",
        ),
        (
            "POST",
            "runs/log-inputs",
            dataset("profile", json!("p".repeat(16_385))),
            "datasets.dataset.profile",
            "at most 16384",
        ),
        (
            "POST",
            "runs/log-inputs",
            json!({"datasets": []}),
            "run_id",
            "",
        ),
        (
            "POST",
            "runs/outputs",
            json!({"run_id": run_id, "models": [{"model_id": "nope"}]}),
            "models.model_id",
            "32 hex digits",
        ),
        (
            "POST",
            "runs/log-model",
            json!({"run_id": run_id, "model_json": "[1]"}),
            "model_json",
            "JSON object",
        ),
        (
            "POST",
            "experiments/update",
            json!({"experiment_id": experiment, "new_name": "bad name!"}),
            "new_name",
            "",
        ),
        (
            "POST",
            "experiments/update",
            json!({"experiment_id": experiment}),
            "new_name",
            "required",
        ),
        (
            "PATCH",
            "registered-models/update",
            json!({"name": "m", "description": "x".repeat(5_001)}),
            "description",
            "at most 5000",
        ),
        (
            "POST",
            "registered-models/rename",
            json!({"name": "m", "new_name": "a/b"}),
            "new_name",
            "'/'",
        ),
        (
            "POST",
            "registered-models/set-tag",
            json!({"name": "m", "key": ""}),
            "key",
            "",
        ),
        (
            "PATCH",
            "model-versions/update",
            json!({"name": "m", "version": "zero"}),
            "version",
            "positive whole number",
        ),
    ] {
        let (status, body) = call(&server, &token, method, path, body).await;
        let message = body["message"].as_str().unwrap_or_default();
        assert_eq!(
            (status, body["error_code"].as_str()),
            (400, Some("INVALID_PARAMETER_VALUE")),
            "{path}: {body}"
        );
        assert!(
            message.starts_with(&format!("{field}:")) && message.contains(rule),
            "{path}: {message}"
        );
    }
    // Conflicts and unknown targets.
    let (status, body) = call(
        &server,
        &token,
        "POST",
        "experiments/update",
        json!({"experiment_id": experiment, "new_name": "taken"}),
    )
    .await;
    assert_eq!(
        (status, body["error_code"].as_str()),
        (400, Some("RESOURCE_ALREADY_EXISTS")),
        "{body}"
    );
    let (status, body) = call(
        &server,
        &token,
        "POST",
        "registered-models/rename",
        json!({"name": "m", "new_name": "other"}),
    )
    .await;
    assert_eq!(
        (status, body["error_code"].as_str()),
        (400, Some("RESOURCE_ALREADY_EXISTS")),
        "{body}"
    );
    let (status, _) = call(
        &server,
        &token,
        "POST",
        "runs/outputs",
        json!({"run_id": run_id, "models": [{"model_id": unknown_model}]}),
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = call(
        &server,
        &token,
        "DELETE",
        "model-versions/delete",
        json!({"name": "m", "version": "1"}),
    )
    .await;
    assert_eq!(status, 404);
    // Nothing refused was kept: the run has no inputs or outputs, names are unchanged.
    let (_, got) = call(
        &server,
        &token,
        "GET",
        &format!("runs/get?run_id={run_id}"),
        json!({}),
    )
    .await;
    assert_eq!(got["run"]["inputs"], json!({}), "{got}");
    assert_eq!(got["run"]["outputs"], json!({}), "{got}");
    let (_, still) = call(
        &server,
        &token,
        "GET",
        &format!("experiments/get?experiment_id={experiment}"),
        json!({}),
    )
    .await;
    assert_eq!(still["experiment"]["name"], "e");
    let (status, _) = call(
        &server,
        &token,
        "GET",
        "registered-models/get?name=m",
        json!({}),
    )
    .await;
    assert_eq!(status, 200);
    // A rename keeps the id; a new experiment under the old name gets an id of its own.
    let rename = json!({"experiment_id": experiment, "new_name": "e2"});
    let (status, _) = call(&server, &token, "POST", "experiments/update", rename).await;
    assert_eq!(status, 200);
    let (_, again) = call(
        &server,
        &token,
        "POST",
        "experiments/create",
        json!({"name": "e"}),
    )
    .await;
    let again = again["experiment_id"].as_str().unwrap().to_owned();
    assert_ne!(again, experiment);
    for (id, name) in [(&experiment, "e2"), (&again, "e")] {
        let path = format!("experiments/get?experiment_id={id}");
        let (_, got) = call(&server, &token, "GET", &path, json!({})).await;
        assert_eq!(got["experiment"]["name"], name, "{got}");
    }
    let path = format!("runs/get?run_id={run_id}");
    let (_, moved) = call(&server, &token, "GET", &path, json!({})).await;
    assert_eq!(moved["run"]["info"]["experiment_id"], experiment.as_str());

    // log-model keeps each record in the run's history tag, oldest first.
    for artifact_path in ["first", "second"] {
        let record = json!({"artifact_path": artifact_path, "flavors": {}}).to_string();
        let body = json!({"run_id": run_id, "model_json": record});
        assert_eq!(
            call(&server, &token, "POST", "runs/log-model", body)
                .await
                .0,
            200
        );
    }
    let (_, logged) = call(&server, &token, "GET", &path, json!({})).await;
    let tags = logged["run"]["data"]["tags"].as_array().unwrap();
    let history = tags
        .iter()
        .find(|t| t["key"] == "mlflow.log-model.history")
        .unwrap_or_else(|| panic!("{logged}"));
    let history: serde_json::Value =
        serde_json::from_str(history["value"].as_str().unwrap()).unwrap();
    assert_eq!(history[0]["artifact_path"], "first");
    assert_eq!(history[1]["artifact_path"], "second");

    // A logged model's params are write-once; its tags can be deleted one by one.
    let create = json!({"experiment_id": experiment, "name": "lm"});
    let (_, model) = call(&server, &token, "POST", "logged-models", create).await;
    let id = model["model"]["info"]["model_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let params = format!("logged-models/{id}/params");
    let alpha = json!({"params": [{"key": "alpha", "value": "0.1"}]});
    let (status, _) = call(&server, &token, "POST", &params, alpha.clone()).await;
    assert_eq!(status, 200);
    let (status, _) = call(&server, &token, "POST", &params, alpha).await;
    assert_eq!(status, 200, "the same value again is no change");
    let changed =
        json!({"params": [{"key": "beta", "value": "1"}, {"key": "alpha", "value": "0.2"}]});
    let (status, body) = call(&server, &token, "POST", &params, changed).await;
    assert_eq!(status, 400, "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.starts_with("params:") && message.contains("write-once"),
        "{message}"
    );
    let tags = format!("logged-models/{id}/tags");
    let tag = json!({"tags": [{"key": "stage", "value": "dev"}]});
    assert_eq!(call(&server, &token, "PATCH", &tags, tag).await.0, 200);
    let stage = format!("logged-models/{id}/tags/stage");
    assert_eq!(
        call(&server, &token, "DELETE", &stage, json!({})).await.0,
        200
    );
    assert_eq!(
        call(&server, &token, "DELETE", &stage, json!({})).await.0,
        404
    );
    let (_, got) = call(
        &server,
        &token,
        "GET",
        &format!("logged-models/{id}"),
        json!({}),
    )
    .await;
    assert_eq!(
        got["model"]["data"]["params"],
        json!([{"key": "alpha", "value": "0.1"}]),
        "{got}"
    );
    assert_eq!(got["model"]["info"]["tags"], json!([]), "{got}");
    let (status, body) = call(
        &server,
        &token,
        "DELETE",
        &format!("logged-models/{id}"),
        json!({}),
    )
    .await;
    assert_eq!(
        (status, body["error_code"].as_str()),
        (501, Some("NOT_IMPLEMENTED")),
        "{body}"
    );
    server.stop().await;
}
