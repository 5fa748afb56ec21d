//! Web services through the real server: an entry-script model with key auth and an MLflow
//! sklearn model (registered by the real `mlflow` client) with token auth; who may deploy and
//! score; the scoring log; restarts after a crash and after a server restart.

use crate::cli::{casemate, casemate_json, login_admin, succeeded};
use crate::mlflow::{VISION, admin_script, python_with_mlflow, workspaces};
use crate::runs::snapshot;
use crate::{api_error, raw_error};
use casemate_client::{Client, RawResponse};
use casemate_testkit::TestServer;
use casemate_types::Sensitive;
use casemate_types::wire::{CreateServiceRequest, ServiceModel, UpdateServiceRequest, WebService};
use std::time::Duration;

pub const SCORE_PY: &str = r#"
import json, os

factor = None

def init():
    global factor
    with open(os.path.join(os.environ["CASEMATE_MODEL_DIR"], "weights.json")) as f:
        factor = json.load(f)["factor"]

def run(raw_data):
    data = json.loads(raw_data)["data"]
    if data == "crash":
        os._exit(7)
    if data == "raise":
        raise ValueError("boom-in-the-model")
    return [x * factor for x in data]
"#;

/// Registers `name` version 1 with its files at `mlflow-artifacts:/{path}`, through the MLflow API.
pub async fn register(admin: &Client, name: &str, path: &str) {
    for (endpoint, body) in [
        (
            "registered-models/create",
            serde_json::json!({ "name": name }),
        ),
        (
            "model-versions/create",
            serde_json::json!({ "name": name, "source": format!("mlflow-artifacts:/{path}") }),
        ),
    ] {
        let response = admin
            .raw(
                "POST",
                &format!("{VISION}/api/2.0/mlflow/{endpoint}"),
                &[("content-type", "application/json")],
                serde_json::to_vec(&body).unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(
            response.status,
            200,
            "{}",
            String::from_utf8_lossy(&response.body)
        );
    }
}

fn key_request(models: &[(&str, u32)], snapshot: &str) -> CreateServiceRequest {
    CreateServiceRequest {
        models: models
            .iter()
            .map(|(name, version)| ServiceModel {
                name: (*name).into(),
                version: *version,
            })
            .collect(),
        entry_script: Some("score.py".into()),
        snapshot_id: Some(snapshot.into()),
        auth_mode: "key".into(),
        python: None,
        compute: None,
        max_request_bytes: Some(1024),
        token_lifetime_seconds: None,
    }
}

async fn score(
    client: &Client,
    name: &str,
    credential: Option<&str>,
    body: serde_json::Value,
) -> RawResponse {
    let credential = credential.map(Sensitive::new);
    client
        .score(
            "team",
            "vision",
            name,
            credential.as_ref(),
            serde_json::to_vec(&body).unwrap(),
        )
        .await
        .unwrap()
}

fn json_of(response: &RawResponse) -> serde_json::Value {
    assert_eq!(
        response.status,
        200,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    serde_json::from_slice(&response.body).unwrap()
}

/// Waits (without a deadline that a slow machine could miss) until the service is Healthy
/// with at least `restarts` restarts.
async fn healthy_after(client: &Client, name: &str, restarts: u64) -> WebService {
    for _ in 0..1200 {
        let service = client.get_service("team", "vision", name).await.unwrap();
        if service.state == "Healthy" && service.restarts >= restarts {
            return service;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("service {name} did not come back");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_entry_script_service_scores_with_its_keys_only_and_logs_every_request() {
    let server = TestServer::start().await;
    let admin = workspaces(&server).await;
    admin
        .put_artifact(
            "team",
            "vision",
            "models/doubler/weights.json",
            br#"{"factor": 2}"#.to_vec(),
        )
        .await
        .unwrap();
    register(&admin, "doubler", "models/doubler").await;
    let code = snapshot(&admin, "vision", &[("score.py", SCORE_PY)]).await;

    // Bad input is refused, naming the field, and nothing is deployed.
    let mut bad = key_request(&[("doubler", 1)], &code.id);
    for (name, change, field) in [
        ("Bad_Name", None, "name"),
        ("doubler-svc", Some(("models", "doubler:9")), "models[0]"),
        (
            "doubler-svc",
            Some(("entry_script", "missing.py")),
            "entry_script",
        ),
        ("doubler-svc", Some(("auth_mode", "both")), "auth_mode"),
        (
            "doubler-svc",
            Some(("python", "python3; rm -rf /")),
            "python",
        ),
    ] {
        let mut request = bad.clone();
        match change {
            Some(("models", _)) => request.models[0].version = 9,
            Some(("entry_script", script)) => request.entry_script = Some(script.into()),
            Some(("auth_mode", mode)) => request.auth_mode = mode.into(),
            Some(("python", python)) => request.python = Some(python.into()),
            _ => {}
        }
        let message = api_error(
            admin.create_service("team", "vision", name, &request).await,
            400,
            "InvalidInput",
        );
        assert!(message.starts_with(&format!("{field}:")), "{message}");
    }
    assert!(
        admin
            .list_services("team", "vision")
            .await
            .unwrap()
            .is_empty()
    );

    // A Reader may not deploy, nor read keys.
    let reader = server
        .user_with_role("rita", "Reader", "/resourceGroups/team/workspaces/vision")
        .await;
    api_error(
        reader
            .create_service("team", "vision", "doubler-svc", &bad)
            .await,
        403,
        "Forbidden",
    );

    bad.max_request_bytes = Some(1024);
    let service = admin
        .create_service("team", "vision", "doubler-svc", &bad)
        .await
        .unwrap();
    assert_eq!(service.state, "Healthy", "{:?}", service.state_reason);
    assert_eq!(
        (service.kind.as_str(), service.auth_mode.as_str()),
        ("entry_script", "key")
    );
    api_error(
        reader
            .list_service_keys("team", "vision", "doubler-svc")
            .await,
        403,
        "Forbidden",
    );
    let keys = admin
        .list_service_keys("team", "vision", "doubler-svc")
        .await
        .unwrap();
    let (primary, secondary) = (
        keys.primary_key.expose().to_owned(),
        keys.secondary_key.expose().to_owned(),
    );
    assert_ne!(primary, secondary);
    assert!(primary.len() >= 43, "a 256-bit key");

    // Either key scores; nothing else does: no key, a wrong key, a general access token.
    let answer = score(
        &admin,
        "doubler-svc",
        Some(&primary),
        serde_json::json!({"data": [1, 2.5]}),
    )
    .await;
    assert_eq!(json_of(&answer), serde_json::json!([2, 5.0]));
    let answer = score(
        &admin,
        "doubler-svc",
        Some(&secondary),
        serde_json::json!({"data": [4]}),
    )
    .await;
    assert_eq!(json_of(&answer), serde_json::json!([8]));
    let anyone = server.anonymous();
    let answer = score(
        &anyone,
        "doubler-svc",
        Some(&secondary),
        serde_json::json!({"data": [4]}),
    )
    .await;
    assert_eq!(
        json_of(&answer),
        serde_json::json!([8]),
        "the key is the whole credential"
    );
    raw_error(
        &score(
            &anyone,
            "doubler-svc",
            None,
            serde_json::json!({"data": [1]}),
        )
        .await,
        401,
        "Unauthenticated",
    );
    raw_error(
        &score(
            &anyone,
            "doubler-svc",
            Some(&format!("{primary}x")),
            serde_json::json!({"data": [1]}),
        )
        .await,
        401,
        "Unauthenticated",
    );
    let admin_token =
        crate::mlflow::token_of(&server, "admin", casemate_testkit::ADMIN_PASSWORD).await;
    raw_error(
        &score(
            &anyone,
            "doubler-svc",
            Some(&admin_token),
            serde_json::json!({"data": [1]}),
        )
        .await,
        401,
        "Unauthenticated",
    );
    // A key-auth service has no tokens.
    api_error(
        admin.service_token("team", "vision", "doubler-svc").await,
        409,
        "Conflict",
    );

    // Regenerating the primary key refuses the old one from the next request on.
    let regenerated = admin
        .regenerate_service_key("team", "vision", "doubler-svc", "primary")
        .await
        .unwrap();
    let new_primary = regenerated.primary_key.expose().to_owned();
    assert_ne!(new_primary, primary);
    assert_eq!(regenerated.secondary_key.expose(), secondary);
    raw_error(
        &score(
            &anyone,
            "doubler-svc",
            Some(&primary),
            serde_json::json!({"data": [1]}),
        )
        .await,
        401,
        "Unauthenticated",
    );
    assert_eq!(
        json_of(
            &score(
                &anyone,
                "doubler-svc",
                Some(&new_primary),
                serde_json::json!({"data": [3]})
            )
            .await
        ),
        serde_json::json!([6])
    );
    let message = api_error(
        admin
            .regenerate_service_key("team", "vision", "doubler-svc", "tertiary")
            .await,
        400,
        "InvalidInput",
    );
    assert!(message.starts_with("key_type:"), "{message}");

    // A body over the service's limit is 413 and never reaches the model; a model that raises
    // is 502 naming the service, with the traceback only in the console.
    let big = serde_json::json!({"data": vec![1; 600]});
    raw_error(
        &score(&anyone, "doubler-svc", Some(&new_primary), big).await,
        413,
        "PayloadTooLarge",
    );
    let failed = score(
        &anyone,
        "doubler-svc",
        Some(&new_primary),
        serde_json::json!({"data": "raise"}),
    )
    .await;
    let message = raw_error(&failed, 502, "BadGateway");
    assert!(message.contains("doubler-svc"), "{message}");
    assert!(!String::from_utf8_lossy(&failed.body).contains("boom-in-the-model"));
    let console = admin
        .service_console("team", "vision", "doubler-svc")
        .await
        .unwrap();
    assert!(
        console.text.contains("ValueError: boom-in-the-model"),
        "{}",
        console.text
    );

    // A crashed process is restarted, and the service answers again.
    let crashed = score(
        &anyone,
        "doubler-svc",
        Some(&new_primary),
        serde_json::json!({"data": "crash"}),
    )
    .await;
    assert_eq!(crashed.status, 502);
    let back = healthy_after(&admin, "doubler-svc", 1).await;
    assert_eq!(back.restarts, 1);
    assert_eq!(
        json_of(
            &score(
                &anyone,
                "doubler-svc",
                Some(&secondary),
                serde_json::json!({"data": [5]})
            )
            .await
        ),
        serde_json::json!([10])
    );

    // The scoring log holds every request above, with its fields and never a body.
    let log = reader
        .scoring_log("team", "vision", "doubler-svc", Some("1h"))
        .await
        .unwrap();
    let statuses: Vec<u16> = log.entries.iter().map(|e| e.status).collect();
    assert_eq!(
        statuses,
        [200, 200, 200, 401, 401, 401, 401, 200, 413, 502, 502, 200],
        "{:?}",
        log.entries
    );
    let credentials: Vec<&str> = log.entries.iter().map(|e| e.credential.as_str()).collect();
    assert_eq!(
        &credentials[..4],
        ["key:primary", "key:secondary", "key:secondary", "none"]
    );
    for entry in &log.entries {
        assert_eq!(entry.method, "POST");
        assert_eq!(
            entry.url,
            "/resourceGroups/team/workspaces/vision/services/doubler-svc/score"
        );
        assert_eq!(entry.compute_type, "local");
        assert_eq!(entry.client_address, "127.0.0.1");
        assert!(!entry.request_id.is_empty());
    }
    assert!(log.entries[0].model_us > 0, "{:?}", log.entries[0]);
    let text = serde_json::to_string(&log).unwrap();
    for secret in [&primary, &secondary, &new_primary] {
        assert!(!text.contains(secret.as_str()));
    }

    // Deploy and key regeneration are in the activity log; a refused score is too.
    let page = admin
        .list_activity(&[
            (
                "scope",
                "/resourceGroups/team/workspaces/vision/services/doubler-svc",
            ),
            ("operation", "workspaces/services/write"),
            ("outcome", "Succeeded"),
        ])
        .await
        .unwrap();
    assert_eq!(
        page.entries.len(),
        2,
        "deploy and regenerate: {:?}",
        page.entries
    );
    let page = admin
        .list_activity(&[
            (
                "scope",
                "/resourceGroups/team/workspaces/vision/services/doubler-svc",
            ),
            ("operation", "workspaces/services/score/action"),
            ("outcome", "Denied"),
        ])
        .await
        .unwrap();
    assert_eq!(page.entries.len(), 4, "{:?}", page.entries);

    // A rolling update under load: every request is answered while the new process takes over.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let loader = {
        let (client, key, stop) = (server.anonymous(), secondary.clone(), stop.clone());
        tokio::spawn(async move {
            let mut statuses = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let body = serde_json::json!({"data": [1]});
                statuses.push(score(&client, "doubler-svc", Some(&key), body).await.status);
            }
            statuses
        })
    };
    let updated = admin
        .update_service(
            "team",
            "vision",
            "doubler-svc",
            &UpdateServiceRequest {
                max_request_bytes: Some(2048),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (updated.state.as_str(), updated.max_request_bytes),
        ("Healthy", 2048)
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let statuses = loader.await.unwrap();
    assert!(!statuses.is_empty());
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");

    // A server restart brings the service back, with its keys.
    let server = server.restart(Default::default()).await;
    let admin = server.admin().await;
    healthy_after(&admin, "doubler-svc", 0).await;
    let anyone = server.anonymous();
    assert_eq!(
        json_of(
            &score(
                &anyone,
                "doubler-svc",
                Some(&new_primary),
                serde_json::json!({"data": [7]})
            )
            .await
        ),
        serde_json::json!([14])
    );

    // A service whose process cannot start is left Failed with the reason, and scoring it is
    // 503 saying why.
    let broken = snapshot(
        &admin,
        "vision",
        &[("score.py", "def init():\n    raise RuntimeError('no-weights-here')\n\ndef run(raw):\n    return 1\n")],
    )
    .await;
    let failed = admin
        .create_service(
            "team",
            "vision",
            "broken",
            &key_request(&[("doubler", 1)], &broken.id),
        )
        .await
        .unwrap();
    assert_eq!(failed.state, "Failed");
    let reason = failed.state_reason.unwrap();
    assert!(reason.contains("no-weights-here"), "{reason}");
    let broken_key = admin
        .list_service_keys("team", "vision", "broken")
        .await
        .unwrap()
        .primary_key;
    let message = raw_error(
        &score(
            &anyone,
            "broken",
            Some(broken_key.expose()),
            serde_json::json!({"data": [1]}),
        )
        .await,
        503,
        "ServiceUnavailable",
    );
    assert!(
        message.contains("broken") && message.contains("no-weights-here"),
        "{message}"
    );

    // Deleting it stops it; its name can be used again.
    admin
        .delete_service("team", "vision", "doubler-svc")
        .await
        .unwrap();
    api_error(
        admin.get_service("team", "vision", "doubler-svc").await,
        404,
        "NotFound",
    );
    raw_error(
        &score(
            &anyone,
            "doubler-svc",
            Some(&new_primary),
            serde_json::json!({"data": [7]}),
        )
        .await,
        404,
        "NotFound",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_mlflow_model_from_the_real_client_scores_with_service_tokens_only() {
    let python = tokio::task::spawn_blocking(python_with_mlflow)
        .await
        .unwrap();
    let server = TestServer::start().await;
    let admin = workspaces(&server).await;
    let out = admin_script(&python, &server, "serve_model.py").await;
    assert_eq!(out.lines().last().unwrap().trim(), "1", "{out}");

    let request = CreateServiceRequest {
        models: vec![ServiceModel {
            name: "iris".into(),
            version: 1,
        }],
        entry_script: None,
        snapshot_id: None,
        auth_mode: "token".into(),
        python: Some(python.display().to_string()),
        compute: None,
        max_request_bytes: None,
        token_lifetime_seconds: Some(600),
    };
    let service = admin
        .create_service("team", "vision", "iris", &request)
        .await
        .unwrap();
    assert_eq!(service.state, "Healthy", "{:?}", service.state_reason);
    assert_eq!(service.kind, "mlflow");

    // A Reader gets a token and scores, in each of the request shapes `mlflow models serve` takes.
    let reader = server
        .user_with_role("rita", "Reader", "/resourceGroups/team/workspaces/vision")
        .await;
    api_error(
        reader
            .create_service("team", "vision", "iris-two", &request)
            .await,
        403,
        "Forbidden",
    );
    let token = reader
        .service_token("team", "vision", "iris")
        .await
        .unwrap();
    assert!(token.refresh_after < token.expires_on);
    let token_text = token.access_token.expose().to_owned();
    let columns = [
        "sepal length (cm)",
        "sepal width (cm)",
        "petal length (cm)",
        "petal width (cm)",
    ];
    let setosa = [5.1, 3.5, 1.4, 0.2];
    let virginica = [6.7, 3.0, 5.2, 2.3];
    let record = |row: [f64; 4]| {
        serde_json::Value::Object(
            columns
                .iter()
                .zip(row)
                .map(|(c, v)| ((*c).to_owned(), serde_json::json!(v)))
                .collect(),
        )
    };
    for body in [
        serde_json::json!({"dataframe_split": {"columns": columns, "data": [setosa, virginica]}}),
        serde_json::json!({"dataframe_records": [record(setosa), record(virginica)]}),
        serde_json::json!({"instances": [record(setosa), record(virginica)]}),
        serde_json::json!({"inputs": {"sepal length (cm)": [5.1, 6.7], "sepal width (cm)": [3.5, 3.0], "petal length (cm)": [1.4, 5.2], "petal width (cm)": [0.2, 2.3]}}),
    ] {
        let answer = score(&reader, "iris", Some(&token_text), body.clone()).await;
        assert_eq!(
            json_of(&answer),
            serde_json::json!({"predictions": [0, 2]}),
            "{body}"
        );
    }
    // `/invocations`, where MLflow's clients post, is the same endpoint.
    let invocations = server
        .anonymous()
        .raw(
            "POST",
            "/resourceGroups/team/workspaces/vision/services/iris/invocations",
            &[
                ("content-type", "application/json"),
                ("authorization", &format!("Bearer {token_text}")),
            ],
            serde_json::to_vec(
                &serde_json::json!({"dataframe_split": {"columns": columns, "data": [virginica]}}),
            )
            .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(
        json_of(&invocations),
        serde_json::json!({"predictions": [2]})
    );
    // Input the model cannot take is the model server's 400, passed on.
    let wrong = score(
        &reader,
        "iris",
        Some(&token_text),
        serde_json::json!({"rows": [1]}),
    )
    .await;
    assert_eq!(
        wrong.status,
        400,
        "{}",
        String::from_utf8_lossy(&wrong.body)
    );

    // Token auth refuses keys, general access tokens and expired tokens.
    raw_error(
        &score(
            &reader,
            "iris",
            Some("k3y-that-looks-like-a-service-key-but-is-not-one"),
            serde_json::json!({}),
        )
        .await,
        401,
        "Unauthenticated",
    );
    let reader_token =
        crate::mlflow::token_of(&server, "rita", casemate_testkit::USER_PASSWORD).await;
    raw_error(
        &score(&reader, "iris", Some(&reader_token), serde_json::json!({})).await,
        401,
        "Unauthenticated",
    );
    api_error(
        admin.list_service_keys("team", "vision", "iris").await,
        409,
        "Conflict",
    );
    server.clock.advance(time::Duration::seconds(601));
    let expired = score(
        &reader,
        "iris",
        Some(&token_text),
        serde_json::json!({"dataframe_split": {"columns": columns, "data": [setosa]}}),
    )
    .await;
    let message = raw_error(&expired, 401, "Unauthenticated");
    assert!(!message.contains(&token_text));

    // An interpreter without mlflow cannot take over: the update is refused with the reason,
    // and the service goes on answering.
    let refused = api_error(
        admin
            .update_service(
                "team",
                "vision",
                "iris",
                &UpdateServiceRequest {
                    python: Some("/usr/bin/python3".into()),
                    ..Default::default()
                },
            )
            .await,
        409,
        "Conflict",
    );
    assert!(refused.contains("cannot import mlflow"), "{refused}");
    let fresh = reader
        .service_token("team", "vision", "iris")
        .await
        .unwrap();
    let answer = score(
        &reader,
        "iris",
        Some(fresh.access_token.expose()),
        serde_json::json!({"dataframe_split": {"columns": columns, "data": [setosa]}}),
    )
    .await;
    assert_eq!(json_of(&answer), serde_json::json!({"predictions": [0]}));

    // A rolling update to the same version with the same interpreter is a new process.
    let updated = admin
        .update_service(
            "team",
            "vision",
            "iris",
            &UpdateServiceRequest {
                models: Some(vec![ServiceModel {
                    name: "iris".into(),
                    version: 1,
                }]),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.state, "Healthy");
    let answer = score(
        &reader,
        "iris",
        Some(fresh.access_token.expose()),
        serde_json::json!({"dataframe_split": {"columns": columns, "data": [virginica]}}),
    )
    .await;
    assert_eq!(json_of(&answer), serde_json::json!({"predictions": [2]}));

    let log = admin
        .scoring_log("team", "vision", "iris", None)
        .await
        .unwrap();
    assert!(
        log.entries
            .iter()
            .all(|e| e.credential == "token:rita" || e.credential == "none")
    );
    assert_eq!(log.entries.len(), 11, "{:?}", log.entries);
}

/// `args` with the workspace the CLI tests act in.
fn in_vision<'a>(args: &[&'a str]) -> Vec<&'a str> {
    args.iter()
        .copied()
        .chain(["-g", "team", "-w", "vision"])
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_cli_deploys_scores_regenerates_and_reads_the_scoring_log() {
    let server = TestServer::start().await;
    let admin = workspaces(&server).await;
    admin
        .put_artifact(
            "team",
            "vision",
            "models/tripler/weights.json",
            br#"{"factor": 3}"#.to_vec(),
        )
        .await
        .unwrap();
    register(&admin, "tripler", "models/tripler").await;
    let config = tempfile::tempdir().unwrap();
    succeeded(&login_admin(&server, config.path()).await);
    let source = tempfile::tempdir().unwrap();
    std::fs::write(source.path().join("score.py"), SCORE_PY).unwrap();
    let source_dir = source.path().display().to_string();
    let create = in_vision(&[
        "service",
        "create",
        "tripler-svc",
        "--model",
        "tripler:1",
        "--entry-script",
        "score.py",
        "--source-dir",
        &source_dir,
    ]);
    let created = casemate_json(config.path(), &create).await;
    assert_eq!(created["state"], "Healthy", "{created}");
    assert_eq!(created["auth_mode"], "key");

    let keys = in_vision(&["service", "keys", "list", "tripler-svc"]);
    let keys = casemate_json(config.path(), &keys).await;
    let primary = keys["primary_key"].as_str().unwrap().to_owned();
    let answer = score(
        &server.anonymous(),
        "tripler-svc",
        Some(&primary),
        serde_json::json!({"data": [2]}),
    )
    .await;
    assert_eq!(json_of(&answer), serde_json::json!([6]));

    let regenerate = in_vision(&[
        "service",
        "keys",
        "regenerate",
        "tripler-svc",
        "--key",
        "primary",
    ]);
    let regenerated = casemate_json(config.path(), &regenerate).await;
    assert_ne!(regenerated["primary_key"].as_str().unwrap(), primary);
    raw_error(
        &score(
            &server.anonymous(),
            "tripler-svc",
            Some(&primary),
            serde_json::json!({"data": [2]}),
        )
        .await,
        401,
        "Unauthenticated",
    );

    let logs = in_vision(&["service", "logs", "tripler-svc", "--since", "1h"]);
    let log = casemate_json(config.path(), &logs).await;
    let statuses: Vec<u64> = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["status"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses, [200, 401]);

    // A model name without a version is refused before anything is sent.
    let bad = in_vision(&["service", "create", "other", "--model", "tripler"]);
    let output = casemate(config.path(), &bad, "", &[]).await;
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("NAME:VERSION"));

    let list = in_vision(&["service", "list"]);
    let table = succeeded(&casemate(config.path(), &list, "", &[]).await);
    assert!(
        table.contains("tripler-svc") && table.contains("Healthy"),
        "{table}"
    );
    let delete = in_vision(&["service", "delete", "tripler-svc"]);
    succeeded(&casemate(config.path(), &delete, "", &[]).await);
    assert!(
        admin
            .list_services("team", "vision")
            .await
            .unwrap()
            .is_empty()
    );

    // Deleting the workspace stops its services and deletes them before its keys go.
    let mut again = in_vision(&[
        "service",
        "create",
        "tripler-two",
        "--model",
        "tripler:1",
        "--entry-script",
        "score.py",
    ]);
    again.extend(["--source-dir", &source_dir]);
    assert_eq!(
        casemate_json(config.path(), &again).await["state"],
        "Healthy"
    );
    assert_eq!(server.count_rows("web_services").await, 1);
    admin.delete_workspace("team", "vision").await.unwrap();
    assert_eq!(server.count_rows("web_services").await, 0);
    let services_dir = server.home().join("services");
    for _ in 0..600 {
        if std::fs::read_dir(&services_dir).unwrap().next().is_none() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "the deleted workspace's scoring files are still under {}",
        services_dir.display()
    );
}
