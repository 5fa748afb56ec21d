//! Monitoring through the real server: `/metrics` scraped by a real Prometheus after a scripted
//! sequence, who may read it, and a workspace's metrics over time through the API and the CLI.

use crate::cli::{casemate_json, login_admin, succeeded};
use crate::runs::{snapshot, submit, wait_final};
use crate::secrets::workspace;
use crate::{api_error, free_port};
use casemate_client::{Client, SecretScope};
use casemate_testkit::TestServer;
use casemate_types::Sensitive;
use casemate_types::wire::*;
use std::path::Path;
use std::time::Duration;

const WORKSPACE_ID: &str = "/resourceGroups/team/workspaces/vision";
const SECRET_VALUE: &str = "s3cr3t-value-never-in-metrics";

/// Registers a model version through the MLflow API; returns the HTTP status.
async fn register(client: &Client, path: &str, body: serde_json::Value) -> u16 {
    client
        .raw(
            "POST",
            &format!("/mlflow{WORKSPACE_ID}/api/2.0/mlflow/{path}"),
            &[("content-type", "application/json")],
            body.to_string().into_bytes(),
        )
        .await
        .unwrap()
        .status
}

/// The scripted sequence: 2 runs completed and 1 failed, 2 model versions registered and 1
/// refused, 1 secret written and 1 read refused, 1 use of a disabled key.
async fn scripted_sequence(server: &TestServer, admin: &Client) {
    let code = snapshot(admin, "vision", &[("train.py", "print('hi')\n")]).await;
    for command in ["true", "true", "exit 3"] {
        let run = submit(admin, &code, command, &[]).await;
        wait_final(admin, &run).await;
    }
    assert_eq!(
        register(
            admin,
            "registered-models/create",
            serde_json::json!({"name": "iris"})
        )
        .await,
        200
    );
    for _ in 0..2 {
        let body = serde_json::json!({"name": "iris", "source": "runs:/x/model"});
        assert_eq!(register(admin, "model-versions/create", body).await, 200);
    }
    let unknown = serde_json::json!({"name": "no-such-model", "source": "runs:/x/model"});
    assert_eq!(register(admin, "model-versions/create", unknown).await, 404);
    let scope = SecretScope::Workspace {
        resource_group: "team",
        workspace: "vision",
    };
    admin
        .set_secret(
            scope,
            "db-password",
            &SetSecretRequest::value(Sensitive::new(SECRET_VALUE)),
        )
        .await
        .unwrap();
    let reader = server.user_with_role("rita", "Reader", WORKSPACE_ID).await;
    api_error(
        reader.get_secret(scope, "db-password").await,
        403,
        "Forbidden",
    );
    admin
        .create_key("team", "vision-vault", "cmk")
        .await
        .unwrap();
    admin
        .set_key_enabled("team", "vision-vault", "cmk", None, false)
        .await
        .unwrap();
    api_error(
        admin
            .wrap_key("team", "vision-vault", "cmk", Sensitive::new("AAAA"))
            .await,
        423,
        "KeyDisabled",
    );
}

/// A user holding Monitoring Reader at `/`, and a personal access token of theirs.
async fn scraper(server: &TestServer) -> (Client, String) {
    let client = server
        .user_with_role("prometheus", "Monitoring Reader", "/")
        .await;
    let created = client
        .create_pat(&CreatePatRequest {
            name: "scrape".into(),
            expires_in_days: None,
        })
        .await
        .unwrap();
    let token = created.token.expose().to_owned();
    (client, token)
}

fn write_private(path: &Path, text: &str) {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .unwrap();
    file.write_all(text.as_bytes()).unwrap();
}

/// Prometheus on loopback, scraping the server every second with the token, through TLS
/// checked against the server's certificate.
struct Prometheus {
    child: tokio::process::Child,
    http: reqwest::Client,
    api: String,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    fn start(server: &TestServer, token: &str) -> Self {
        let binary = ["/usr/bin/prometheus", "/usr/local/bin/prometheus"]
            .into_iter()
            .find(|path| Path::new(path).exists())
            .expect(
                "Prometheus is not installed: `apt-get install prometheus` (.ci/run does this)",
            );
        let dir = tempfile::tempdir().unwrap();
        let token_file = dir.path().join("token");
        write_private(&token_file, token);
        let config = format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
             scrape_configs:\n  - job_name: casemate\n    scheme: https\n    metrics_path: /metrics\n\
             \x20   tls_config:\n      ca_file: {ca}\n      server_name: localhost\n\
             \x20   authorization:\n      type: Bearer\n      credentials_file: {token}\n\
             \x20   static_configs:\n      - targets: ['{target}']\n",
            ca = server.cert_path().display(),
            token = token_file.display(),
            target = server.server.local_addr,
        );
        let config_file = dir.path().join("prometheus.yml");
        std::fs::write(&config_file, config).unwrap();
        let port = free_port();
        let child = tokio::process::Command::new(binary)
            .arg(format!("--config.file={}", config_file.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        // Plain HTTP on loopback; reqwest still wants a TLS provider to build a client.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        Self {
            child,
            http: reqwest::Client::new(),
            api: format!("http://127.0.0.1:{port}/api/v1"),
            _dir: dir,
        }
    }

    /// The samples of an instant query, as (labels, value).
    async fn query(&self, query: &str) -> Vec<(serde_json::Value, f64)> {
        let response = self
            .http
            .get(format!("{}/query", self.api))
            .query(&[("query", query)])
            .send()
            .await;
        let Ok(response) = response else {
            return Vec::new();
        };
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        body["data"]["result"]
            .as_array()
            .map(|samples| {
                samples
                    .iter()
                    .map(|sample| {
                        let value = sample["value"][1].as_str().unwrap_or("NaN");
                        (sample["metric"].clone(), value.parse().unwrap_or(f64::NAN))
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The one value of `query`, once Prometheus has it.
    async fn value(&self, query: &str) -> f64 {
        match self.query(query).await.as_slice() {
            [(_, value)] => *value,
            other => panic!("{query}: expected one sample, got {other:?}"),
        }
    }

    /// Waits (bounded) until a scrape of the server has succeeded.
    async fn wait_for_scrape(&mut self) {
        for _ in 0..600 {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("prometheus exited: {status}");
            }
            if let [(_, value)] = self.query("up{job=\"casemate\"}").await.as_slice()
                && *value == 1.0
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("prometheus never scraped the server successfully");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_real_prometheus_scrapes_every_family_with_the_right_values() {
    let server = TestServer::start().await;
    let admin = workspace(&server).await;
    scripted_sequence(&server, &admin).await;
    let (_, token) = scraper(&server).await;

    // The exposition itself: valid for promtool, and no secret, token or password in it.
    let text = server
        .anonymous()
        .with_bearer(Sensitive::new(token.clone()))
        .scrape_metrics()
        .await
        .unwrap();
    for leak in [
        SECRET_VALUE,
        token.as_str(),
        casemate_testkit::ADMIN_PASSWORD,
    ] {
        assert!(!text.contains(leak), "the exposition holds a secret");
    }
    let mut promtool = tokio::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool is not installed: `apt-get install prometheus` (.ci/run does this)");
    {
        use tokio::io::AsyncWriteExt;
        let mut stdin = promtool.stdin.take().unwrap();
        stdin.write_all(text.as_bytes()).await.unwrap();
    }
    let checked = promtool.wait_with_output().await.unwrap();
    assert!(
        checked.status.success(),
        "promtool: {}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );

    let mut prometheus = Prometheus::start(&server, &token);
    prometheus.wait_for_scrape().await;
    let runs =
        |status: &str| format!("casemate_runs{{workspace=\"{WORKSPACE_ID}\",status=\"{status}\"}}");
    assert_eq!(prometheus.value(&runs("Completed")).await, 2.0);
    assert_eq!(prometheus.value(&runs("Failed")).await, 1.0);
    assert!(prometheus.query(&runs("Running")).await.is_empty());
    let registrations =
        |outcome: &str| format!("casemate_model_registrations_total{{outcome=\"{outcome}\"}}");
    assert_eq!(prometheus.value(&registrations("succeeded")).await, 2.0);
    assert_eq!(prometheus.value(&registrations("failed")).await, 1.0);
    for outcome in ["succeeded", "failed"] {
        let query = format!("casemate_service_deployments_total{{outcome=\"{outcome}\"}}");
        assert_eq!(prometheus.value(&query).await, 0.0);
    }
    assert_eq!(
        prometheus.value("casemate_scoring_requests_total").await,
        0.0
    );
    let vault = |operation: &str, outcome: &str| {
        format!(
            "casemate_vault_operations_total{{operation=\"{operation}\",outcome=\"{outcome}\"}}"
        )
    };
    assert_eq!(
        prometheus
            .value(&vault("workspaces/metadata/secrets/write", "succeeded"))
            .await,
        1.0
    );
    assert_eq!(
        prometheus
            .value(&vault("workspaces/metadata/secrets/read", "denied"))
            .await,
        1.0
    );
    assert_eq!(
        prometheus
            .value(&vault("vaults/keys/wrap/action", "failed"))
            .await,
        1.0
    );
    assert_eq!(
        prometheus
            .value("casemate_key_disabled_refusals_total")
            .await,
        1.0
    );
    let submitted = "casemate_http_requests_total{route=\"/resourceGroups/{rg}/workspaces/{ws}/experiments/{experiment}/runs\",method=\"POST\",status=\"201\"}";
    assert_eq!(prometheus.value(submitted).await, 3.0);
    let scrapes = "casemate_http_request_duration_seconds_count{route=\"/metrics\",method=\"GET\"}";
    // At least the scrape made above through the client; Prometheus's own come after.
    assert!(prometheus.value(scrapes).await >= 1.0);
    assert!(
        prometheus
            .value("casemate_activity_records_appended_total")
            .await
            > 20.0
    );
    assert!(
        prometheus
            .value("casemate_activity_sync_duration_seconds_count")
            .await
            >= 1.0
    );
    assert_eq!(
        prometheus
            .value("casemate_activity_append_failures_total")
            .await,
        0.0
    );
    assert!(
        prometheus
            .value("casemate_gate_cache_lookups_total{result=\"hit\"}")
            .await
            >= 1.0
    );
    if server.on_sqlite() {
        assert!(
            prometheus
                .value("casemate_store_inline_reads_total{outcome=\"answered\"}")
                .await
                >= 1.0
        );
    }
    // Every label value is bounded: no series names a run, a request id or a secret.
    for (labels, _) in prometheus.query("{__name__=~\"casemate_.+\"}").await {
        let shown = labels.to_string();
        assert!(
            !shown.contains(SECRET_VALUE) && !shown.contains("db-password"),
            "{shown}"
        );
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_need_the_monitoring_reader_role() {
    let server = TestServer::start().await;
    workspace(&server).await;
    api_error(
        server.anonymous().scrape_metrics().await,
        401,
        "Unauthenticated",
    );
    let nobody = server.new_user("nobody").await;
    let message = api_error(nobody.scrape_metrics().await, 403, "Forbidden");
    assert!(message.contains("metrics/read"), "{message}");
    api_error(
        nobody.workspace_metrics("team", "vision", None, None).await,
        403,
        "Forbidden",
    );
    // At a workspace, Monitoring Reader reads that workspace's metrics, not the installation's.
    let watcher = server
        .user_with_role("watcher", "Monitoring Reader", WORKSPACE_ID)
        .await;
    watcher
        .workspace_metrics("team", "vision", None, None)
        .await
        .unwrap();
    api_error(watcher.scrape_metrics().await, 403, "Forbidden");
    let (root_reader, _) = scraper(&server).await;
    assert!(
        root_reader
            .scrape_metrics()
            .await
            .unwrap()
            .contains("casemate_http_requests_total")
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn workspace_metrics_count_runs_and_registrations_by_bucket() {
    let server = TestServer::start().await;
    let admin = workspace(&server).await;
    let code = snapshot(&admin, "vision", &[("train.py", "print('hi')\n")]).await;
    // First: one run completes and one fails; one registration is refused.
    for command in ["true", "exit 1"] {
        let run = submit(&admin, &code, command, &[]).await;
        wait_final(&admin, &run).await;
    }
    let unknown = serde_json::json!({"name": "nope", "source": "runs:/x/model"});
    assert_eq!(
        register(&admin, "model-versions/create", unknown).await,
        404
    );
    // Three hours later (a fresh sign-in: the first token has expired): one run completes,
    // one model version is registered.
    server.clock.advance(time::Duration::hours(3));
    let admin = server.admin().await;
    let run = submit(&admin, &code, "true", &[]).await;
    wait_final(&admin, &run).await;
    let model = serde_json::json!({"name": "iris"});
    assert_eq!(
        register(&admin, "registered-models/create", model).await,
        200
    );
    let version = serde_json::json!({"name": "iris", "source": "runs:/x/model"});
    assert_eq!(
        register(&admin, "model-versions/create", version).await,
        200
    );

    let metrics = admin
        .workspace_metrics("team", "vision", Some("6h"), Some("1h"))
        .await
        .unwrap();
    assert_eq!(metrics.workspace, WORKSPACE_ID);
    assert_eq!(metrics.interval_seconds, 3_600);
    assert_eq!(metrics.buckets.len(), 6);
    assert_eq!(metrics.runs_by_status["Completed"], 2);
    assert_eq!(metrics.runs_by_status["Failed"], 1);
    assert_eq!(metrics.runs_by_status["Queued"], 0);
    let expected_totals = WorkspaceCounts {
        runs_submitted: 3,
        runs_started: 3,
        runs_completed: 2,
        runs_failed: 1,
        model_registrations_succeeded: 1,
        model_registrations_failed: 1,
        ..WorkspaceCounts::default()
    };
    assert_eq!(metrics.totals, expected_totals);
    // Buckets are [now-6h, now-5h) … [now-1h, now]: the first events fell in the fourth.
    let earlier = &metrics.buckets[3].counts;
    assert_eq!(
        (
            earlier.runs_submitted,
            earlier.runs_completed,
            earlier.runs_failed,
            earlier.model_registrations_failed
        ),
        (2, 1, 1, 1),
        "{:?}",
        metrics.buckets
    );
    let latest = &metrics.buckets[5].counts;
    assert_eq!(
        (
            latest.runs_submitted,
            latest.runs_completed,
            latest.model_registrations_succeeded
        ),
        (1, 1, 1)
    );
    for quiet in [0, 1, 2, 4] {
        assert_eq!(metrics.buckets[quiet].counts, WorkspaceCounts::default());
    }
    // A window that ends before the earlier runs leaves them out.
    let recent = admin
        .workspace_metrics("team", "vision", Some("1h"), None)
        .await
        .unwrap();
    assert_eq!(recent.totals.runs_submitted, 1);
    assert_eq!(recent.buckets.len(), 24);

    // The CLI prints the same as JSON, and as a table.
    let config = tempfile::tempdir().unwrap();
    succeeded(&login_admin(&server, config.path()).await);
    let json = casemate_json(
        config.path(),
        &[
            "workspace",
            "metrics",
            "-g",
            "team",
            "vision",
            "--since",
            "6h",
            "--interval",
            "1h",
        ],
    )
    .await;
    assert_eq!(json["totals"]["runs_failed"], 1);
    assert_eq!(json["totals"]["model_registrations_succeeded"], 1);
    let table = succeeded(
        &crate::cli::casemate(
            config.path(),
            &[
                "workspace",
                "metrics",
                "-g",
                "team",
                "vision",
                "--since",
                "6h",
            ],
            "",
            &[],
        )
        .await,
    );
    assert!(
        table.contains("COMPLETED") && table.contains("total"),
        "{table}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_metric_windows_name_the_field_and_the_rule() {
    let server = TestServer::start().await;
    let admin = workspace(&server).await;
    for (since, interval, field, rule) in [
        (Some("yesterday"), None, "since", "span of time"),
        (Some("30s"), None, "since", "between 1m and 400d"),
        (Some("401d"), None, "since", "between 1m and 400d"),
        (Some("1h"), Some("2h"), "interval", "at most the window"),
        (Some("1h"), Some("0s"), "interval", "at least 1s"),
        (
            Some("400d"),
            Some("1m"),
            "interval",
            "more than 1000 buckets",
        ),
        (None, Some("1x"), "interval", "span of time"),
    ] {
        let message = api_error(
            admin
                .workspace_metrics("team", "vision", since, interval)
                .await,
            400,
            "InvalidInput",
        );
        assert!(
            message.starts_with(&format!("{field}:")) && message.contains(rule),
            "{since:?} {interval:?}: {message}"
        );
    }
    let unknown_field = admin
        .raw(
            "GET",
            &format!("{WORKSPACE_ID}/metrics?window=1h"),
            &[],
            Vec::new(),
        )
        .await
        .unwrap();
    let message = crate::raw_error(&unknown_field, 400, "InvalidInput");
    assert!(message.contains("window"), "{message}");
    api_error(
        admin.workspace_metrics("team", "nowhere", None, None).await,
        404,
        "NotFound",
    );
    server.stop().await;
}
