//! Training runs through the real server: snapshots (crafted archives refused), the local
//! executor, run tokens confined to the workspace and the submitter's rights, masked logs,
//! metrics, tags and outputs, cancel, time limits, hbi scratch wiping and restarts.

use crate::api_error;
use crate::secrets::workspace;
use casemate_client::{Client, SecretScope, archive_directory};
use casemate_server::config::ConfigLayer;
use casemate_testkit::TestServer;
use casemate_types::Sensitive;
use casemate_types::wire::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

const WS: SecretScope<'static> = SecretScope::Workspace {
    resource_group: "team",
    workspace: "vision",
};

fn python_sdk() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../python")
        .canonicalize()
        .unwrap()
        .display()
        .to_string()
}

/// Uploads a snapshot of a directory holding `files`.
pub async fn snapshot(client: &Client, ws: &str, files: &[(&str, &str)]) -> Snapshot {
    let dir = tempfile::tempdir().unwrap();
    for (name, content) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
    let (file, _) = archive_directory(dir.path()).unwrap();
    let body = reqwest::Body::from(tokio::fs::File::from_std(file));
    client.upload_snapshot("team", ws, body).await.unwrap()
}

pub async fn submit(
    client: &Client,
    snapshot: &Snapshot,
    command: &str,
    env: &[(&str, &str)],
) -> Run {
    let request = SubmitRunRequest {
        resources: None,
        image: None,
        snapshot_id: snapshot.id.clone(),
        command: command.into(),
        compute: None,
        time_limit_seconds: None,
        environment: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    };
    client
        .submit_run("team", "vision", "exp", &request)
        .await
        .unwrap()
}

/// The resource group and workspace a run belongs to, from its workspace's resource id.
fn home_of(run: &Run) -> (String, String) {
    let segments: Vec<&str> = run.workspace.split('/').collect();
    let after = |key: &str| {
        let at = segments
            .iter()
            .position(|s| s.eq_ignore_ascii_case(key))
            .unwrap();
        segments[at + 1].to_owned()
    };
    (after("resourceGroups"), after("workspaces"))
}

pub async fn wait_final(client: &Client, run: &Run) -> Run {
    let (rg, ws) = home_of(run);
    for _ in 0..1200 {
        let current = client.get_run(&rg, &ws, run.id).await.unwrap();
        if current.status.is_final() {
            return current;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("run {} did not end", run.id);
}

/// A file the run left in `outputs/`, read back as the run's artifact.
pub async fn run_output(client: &Client, run: &Run, path: &str) -> Vec<u8> {
    let (rg, ws) = home_of(run);
    client
        .get_artifact(&rg, &ws, &format!("runs/{}/outputs/{path}", run.id))
        .await
        .unwrap()
}

/// Makes the hbi workspace `ws` in the resource group `team`.
pub async fn create_hbi_workspace(client: &Client, ws: &str) {
    client
        .create_workspace(
            "team",
            ws,
            &CreateWorkspaceRequest {
                hbi_workspace: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
}

pub async fn log_text(client: &Client, run: &Run) -> String {
    let (rg, ws) = home_of(run);
    let mut text = String::new();
    let mut after = 0;
    loop {
        let page = client.run_logs(&rg, &ws, run.id, after).await.unwrap();
        for chunk in &page.chunks {
            text.push_str(&chunk.text);
        }
        after = page.next;
        if page.chunks.is_empty() {
            return text;
        }
    }
}

pub async fn wait_for_log(client: &Client, run: &Run, needle: &str) -> String {
    for _ in 0..600 {
        let text = log_text(client, run).await;
        if text.contains(needle) {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("'{needle}' never appeared in the log of run {}", run.id);
}

const TRAIN: &str = r#"
import sys, time
from casemate import Run

run = Run.get_context()
value = run.get_secret(name="mysecret")
print("value:", value)
sys.stdout.write(value[:5]); sys.stdout.flush(); time.sleep(0.4)
sys.stdout.write(value[5:] + " (split)\n"); sys.stdout.flush()
both = run.get_secrets(["mysecret", "absent"])
sys.stdout.write(f"absent: {both['absent']}\n"); sys.stdout.flush()  # one write: stderr cannot come between
sys.stderr.write("to stderr: " + value + "\n")
run.log("accuracy", 0.5, step=1)
run.log("accuracy", 0.75, step=2)
run.set_tags({"stage": "test"})
with open("outputs/model.txt", "w") as out:
    out.write("weights")
"#;

#[tokio::test(flavor = "multi_thread")]
async fn a_run_fetches_a_secret_logs_it_masked_and_records_metrics() {
    let server = TestServer::start().await;
    let admin = workspace(&server).await;
    let secret = "Sup3r-s3cret-value";
    admin
        .set_secret(
            WS,
            "mysecret",
            &SetSecretRequest::value(Sensitive::new(secret)),
        )
        .await
        .unwrap();
    let snap = snapshot(&admin, "vision", &[("train.py", TRAIN)]).await;
    let run = submit(
        &admin,
        &snap,
        "python3 train.py",
        &[("PYTHONPATH", &python_sdk())],
    )
    .await;
    assert_eq!(run.status, RunStatus::Queued);
    let done = wait_final(&admin, &run).await;
    let log = log_text(&admin, &run).await;
    assert_eq!(
        done.status,
        RunStatus::Completed,
        "{:?}\n{log}",
        done.reason
    );
    assert!(log.contains("value: ***\n"), "{log}");
    assert!(log.contains("*** (split)"), "{log}");
    assert!(log.contains("to stderr: ***"), "{log}");
    assert!(log.contains("absent: None"), "{log}");
    assert!(!log.contains(secret) && !log.contains("Sup3r"), "{log}");

    let metrics = admin.run_metrics("team", "vision", run.id).await.unwrap();
    let accuracy: Vec<(i64, f64)> = metrics.iter().map(|m| (m.step, m.value)).collect();
    assert_eq!(accuracy, vec![(1, 0.5), (2, 0.75)]);
    assert_eq!(done.tags.get("stage").map(String::as_str), Some("test"));
    assert_eq!(run_output(&admin, &run, "model.txt").await, b"weights");

    // The recorded environment names the run but holds neither its token nor the secret.
    let environment = done.environment.expect("recorded outside hbi workspaces");
    assert_eq!(
        environment.get("CASEMATE_RUN_ID"),
        Some(&run.id.to_string())
    );
    assert!(!environment.contains_key("CASEMATE_RUN_TOKEN"));
    assert!(environment.values().all(|v| !v.contains(secret)));

    // Every secret read is in the activity log with the run id and the submitter.
    let page = admin
        .list_activity(&[
            ("scope", "/resourceGroups/team/workspaces/vision"),
            ("operation", "workspaces/metadata/secrets/read"),
        ])
        .await
        .unwrap();
    let reads: Vec<&ActivityEntry> = page
        .entries
        .iter()
        .filter(|e| e.outcome == "Succeeded" && e.detail.contains(&run.id.to_string()))
        .collect();
    assert_eq!(reads.len(), 2, "{:?}", page.entries);
    assert!(
        reads
            .iter()
            .all(|e| e.caller_name == "admin" && e.outcome == "Succeeded")
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_token_is_confined_to_its_workspace_its_submitter_and_its_run() {
    let server = TestServer::start().await;
    let admin = workspace(&server).await;
    admin
        .create_workspace("team", "elsewhere", &CreateWorkspaceRequest::default())
        .await
        .unwrap();
    let other = SecretScope::Workspace {
        resource_group: "team",
        workspace: "elsewhere",
    };
    admin
        .set_secret(WS, "mine", &SetSecretRequest::value(Sensitive::new("m1")))
        .await
        .unwrap();
    admin
        .set_secret(
            other,
            "theirs",
            &SetSecretRequest::value(Sensitive::new("t1")),
        )
        .await
        .unwrap();
    // Contributor on the whole group: the submitter may read both workspaces' secrets.
    let dana = server
        .user_with_role("dana", "Contributor", "/resourceGroups/team")
        .await;
    assert!(dana.get_secret(other, "theirs").await.is_ok());

    let token_file = tempfile::tempdir().unwrap();
    let token_path = token_file.path().join("token");
    let snap = snapshot(
        &dana,
        "vision",
        &[(
            "run.sh",
            "printf %s \"$CASEMATE_RUN_TOKEN\" > \"$TOKEN_FILE\"; sleep 300\n",
        )],
    )
    .await;
    let run = submit(
        &dana,
        &snap,
        "sh run.sh",
        &[("TOKEN_FILE", token_path.to_str().unwrap())],
    )
    .await;
    let mut token = String::new();
    for _ in 0..600 {
        token = std::fs::read_to_string(&token_path).unwrap_or_default();
        if !token.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let as_run = server.anonymous().with_bearer(Sensitive::new(token));
    assert_eq!(
        as_run.get_secret(WS, "mine").await.unwrap().value.expose(),
        "m1"
    );
    let message = api_error(as_run.get_secret(other, "theirs").await, 403, "Forbidden");
    assert!(message.contains("only within its workspace"), "{message}");
    api_error(
        as_run
            .create_pat(&CreatePatRequest {
                name: "escape".into(),
                expires_in_days: None,
            })
            .await,
        403,
        "Forbidden",
    );
    // Contributor may not share access, so neither may the run.
    api_error(
        as_run
            .create_role_assignment(
                "/resourceGroups/team/workspaces/vision",
                &CreateRoleAssignmentRequest {
                    assignee: "dana".into(),
                    role: "Owner".into(),
                },
            )
            .await,
        403,
        "Forbidden",
    );
    let canceled = dana.cancel_run("team", "vision", run.id).await.unwrap();
    assert_eq!(canceled.status, RunStatus::Canceled);
    assert!(canceled.reason.unwrap().contains("canceled by dana"));
    api_error(as_run.get_secret(WS, "mine").await, 401, "Unauthenticated");
    server.stop().await;
}

pub fn alive(pid: &str) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .split(") ")
            .nth(1)
            .is_some_and(|rest| rest.starts_with('Z')),
        Err(_) => false,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn cancel_kills_the_whole_process_group() {
    let server = TestServer::start().await;
    let admin = workspace(&server).await;
    let snap = snapshot(
        &admin,
        "vision",
        &[("run.sh", "sleep 300 &\necho \"child $!\"\nwait\n")],
    )
    .await;
    let run = submit(&admin, &snap, "sh run.sh", &[]).await;
    let log = wait_for_log(&admin, &run, "child ").await;
    let child = log
        .split("child ")
        .nth(1)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .trim()
        .to_owned();
    assert!(alive(&child));
    let canceled = admin.cancel_run("team", "vision", run.id).await.unwrap();
    assert_eq!(canceled.status, RunStatus::Canceled);
    let mut gone = false;
    for _ in 0..100 {
        if !alive(&child) {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        gone,
        "the run's background child {child} outlived the cancel"
    );
    api_error(
        admin.cancel_run("team", "vision", run.id).await,
        409,
        "Conflict",
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn failing_commands_and_time_limits_fail_the_run_with_a_reason() {
    let server = TestServer::start().await;
    let admin = workspace(&server).await;
    let snap = snapshot(&admin, "vision", &[("x", "")]).await;
    let failed = wait_final(
        &admin,
        &submit(&admin, &snap, "echo oops >&2; exit 3", &[]).await,
    )
    .await;
    assert_eq!(failed.status, RunStatus::Failed);
    assert_eq!(failed.exit_code, Some(3));
    assert_eq!(
        failed.reason.as_deref(),
        Some("the command exited with code 3")
    );
    let request = SubmitRunRequest {
        resources: None,
        image: None,
        snapshot_id: snap.id.clone(),
        command: "sleep 300".into(),
        compute: None,
        time_limit_seconds: Some(1),
        environment: BTreeMap::new(),
    };
    let run = admin
        .submit_run("team", "vision", "exp", &request)
        .await
        .unwrap();
    let ended = wait_final(&admin, &run).await;
    assert_eq!(ended.status, RunStatus::Failed);
    assert!(ended.reason.unwrap().contains("time limit of 1 seconds"));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restart_mid_run_leaves_it_failed_with_a_reason() {
    let server = TestServer::start().await;
    let admin = workspace(&server).await;
    let snap = snapshot(&admin, "vision", &[("x", "")]).await;
    let run = submit(&admin, &snap, "echo started; sleep 300", &[]).await;
    wait_for_log(&admin, &run, "started").await;
    let server = server.restart(ConfigLayer::default()).await;
    let admin = server.admin().await;
    let after = admin.get_run("team", "vision", run.id).await.unwrap();
    assert_eq!(after.status, RunStatus::Failed);
    assert!(
        after
            .reason
            .unwrap()
            .contains("shut down while the run was Running")
    );
    server.stop().await;
}

fn scratch_of(server: &TestServer, run: &Run) -> PathBuf {
    server.home().join("runs").join(run.id.simple().to_string())
}

#[tokio::test(flavor = "multi_thread")]
async fn hbi_workspaces_wipe_scratch_and_record_no_environment() {
    let server = TestServer::start().await;
    let admin = workspace(&server).await;
    create_hbi_workspace(&admin, "secure").await;
    let plain = snapshot(&admin, "vision", &[("data.txt", "d")]).await;
    let run = wait_final(
        &admin,
        &submit(&admin, &plain, "cp data.txt copy.txt", &[("MODE", "plain")]).await,
    )
    .await;
    assert_eq!(run.status, RunStatus::Completed);
    assert!(scratch_of(&server, &run).join("copy.txt").exists());
    assert_eq!(
        run.environment
            .as_ref()
            .unwrap()
            .get("MODE")
            .map(String::as_str),
        Some("plain")
    );
    admin.delete_run("team", "vision", run.id).await.unwrap();
    assert!(!scratch_of(&server, &run).exists());

    let hbi = snapshot(&admin, "secure", &[("data.txt", "d")]).await;
    let request = SubmitRunRequest {
        resources: None,
        image: None,
        snapshot_id: hbi.id.clone(),
        command: "cp data.txt copy.txt".into(),
        compute: None,
        time_limit_seconds: None,
        environment: BTreeMap::from([("MODE".to_owned(), "hbi".to_owned())]),
    };
    let run = admin
        .submit_run("team", "secure", "exp", &request)
        .await
        .unwrap();
    let mut ended = run.clone();
    for _ in 0..600 {
        ended = admin.get_run("team", "secure", run.id).await.unwrap();
        if ended.status.is_final() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(ended.status, RunStatus::Completed);
    assert!(ended.environment.is_none());
    assert!(!scratch_of(&server, &run).exists());
    server.stop().await;
}

/// Uploads `bytes` as a snapshot and asserts the 400 that names the snapshot and `rule`.
pub async fn assert_snapshot_refused(client: &Client, case: &str, bytes: Vec<u8>, rule: &str) {
    let message = api_error(
        client
            .upload_snapshot("team", "vision", reqwest::Body::from(bytes))
            .await,
        400,
        "InvalidInput",
    );
    assert!(message.starts_with("snapshot: "), "{case}: {message}");
    assert!(message.contains(rule), "{case}: {message}");
}

pub fn crafted(build: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    build(&mut builder);
    builder.into_inner().unwrap()
}

/// An entry whose name is written raw, as a hostile archiver would.
pub fn raw_entry(
    builder: &mut tar::Builder<Vec<u8>>,
    name: &str,
    kind: tar::EntryType,
    link: Option<&str>,
    data: &[u8],
) {
    let mut header = tar::Header::new_old();
    header.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
    if let Some(link) = link {
        header.as_old_mut().linkname[..link.len()].copy_from_slice(link.as_bytes());
    }
    header.set_entry_type(kind);
    header.set_size(data.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    builder.append(&header, data).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn crafted_archives_are_refused_and_snapshots_are_content_addressed() {
    let server = TestServer::start_with(ConfigLayer {
        max_snapshot_bytes: Some(64 * 1024),
        ..Default::default()
    })
    .await;
    let admin = workspace(&server).await;
    use tar::EntryType::*;
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "absolute",
            crafted(|b| raw_entry(b, "/etc/evil", Regular, None, b"x")),
            "an absolute path is refused",
        ),
        (
            "dot-dot",
            crafted(|b| raw_entry(b, "src/../../evil", Regular, None, b"x")),
            "a '..' component is refused",
        ),
        (
            "symlink out",
            crafted(|b| raw_entry(b, "link", Symlink, Some("../../etc/passwd"), b"")),
            "a link pointing out of the tree",
        ),
        (
            "absolute symlink",
            crafted(|b| raw_entry(b, "link", Symlink, Some("/etc/passwd"), b"")),
            "a link pointing out of the tree",
        ),
        (
            "device",
            crafted(|b| raw_entry(b, "dev", Char, None, b"")),
            "device files and FIFOs are refused",
        ),
        (
            "fifo",
            crafted(|b| raw_entry(b, "pipe", Fifo, None, b"")),
            "device files and FIFOs are refused",
        ),
        (
            "duplicate",
            crafted(|b| {
                raw_entry(b, "a.txt", Regular, None, b"1");
                raw_entry(b, "./a.txt", Regular, None, b"2");
            }),
            "appears twice",
        ),
        (
            "hard link",
            crafted(|b| raw_entry(b, "h", Link, Some("missing"), b"")),
            "a hard link must point to a file earlier",
        ),
        (
            "not a tar",
            b"hello, this is not a tar archive at all".repeat(20),
            "is not a well-formed tar archive",
        ),
    ];
    for (case, bytes, rule) in cases {
        assert_snapshot_refused(&admin, case, bytes, rule).await;
    }
    let message = api_error(
        admin
            .upload_snapshot("team", "vision", reqwest::Body::from(vec![0u8; 65 * 1024]))
            .await,
        413,
        "PayloadTooLarge",
    );
    assert!(message.contains("65536"), "{message}");
    // Nothing refused was kept.
    assert_eq!(server.count_rows("snapshots").await, 0);
    assert!(
        server
            .blob_names()
            .await
            .iter()
            .all(|name| !name.contains("snapshots/"))
    );

    let good = crafted(|b| {
        raw_entry(b, "src/train.py", Regular, None, b"print(1)");
        raw_entry(b, "src/link", Symlink, Some("train.py"), b"");
        raw_entry(b, "copy", Link, Some("src/train.py"), b"");
    });
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &good);
    let expected: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    let first = admin
        .upload_snapshot("team", "vision", reqwest::Body::from(good.clone()))
        .await
        .unwrap();
    assert_eq!(first.id, expected);
    assert_eq!(first.files, 1);
    let again = admin
        .upload_snapshot("team", "vision", reqwest::Body::from(good))
        .await
        .unwrap();
    assert_eq!(again.id, first.id);
    assert_eq!(server.count_rows("snapshots").await, 1);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_submissions_and_run_writes_name_the_field() {
    let server = TestServer::start().await;
    let admin = workspace(&server).await;
    let snap = snapshot(&admin, "vision", &[("x", "")]).await;
    let base = SubmitRunRequest {
        resources: None,
        image: None,
        snapshot_id: snap.id.clone(),
        command: "true".into(),
        compute: None,
        time_limit_seconds: None,
        environment: BTreeMap::new(),
    };
    let cases: Vec<(SubmitRunRequest, &str, &str)> = vec![
        (
            SubmitRunRequest {
                command: " ".into(),
                ..base.clone()
            },
            "exp",
            "command",
        ),
        (
            SubmitRunRequest {
                snapshot_id: "abc".into(),
                ..base.clone()
            },
            "exp",
            "snapshot_id",
        ),
        (
            SubmitRunRequest {
                compute: Some("bad name!".into()),
                ..base.clone()
            },
            "exp",
            "compute",
        ),
        (
            SubmitRunRequest {
                time_limit_seconds: Some(0),
                ..base.clone()
            },
            "exp",
            "time_limit_seconds",
        ),
        (
            SubmitRunRequest {
                time_limit_seconds: Some(10_000_000),
                ..base.clone()
            },
            "exp",
            "time_limit_seconds",
        ),
        (
            SubmitRunRequest {
                environment: BTreeMap::from([("CASEMATE_RUN_TOKEN".into(), "x".into())]),
                ..base.clone()
            },
            "exp",
            "environment",
        ),
        (
            SubmitRunRequest {
                environment: BTreeMap::from([("1BAD".into(), "x".into())]),
                ..base.clone()
            },
            "exp",
            "environment",
        ),
        (base.clone(), "has.dot", "experiment"),
        (base.clone(), "bad_name!", "path"),
    ];
    for (request, experiment, field) in cases {
        let message = api_error(
            admin
                .submit_run("team", "vision", experiment, &request)
                .await,
            400,
            "InvalidInput",
        );
        assert!(message.starts_with(&format!("{field}: ")), "{message}");
    }
    api_error(
        admin
            .submit_run(
                "team",
                "vision",
                "exp",
                &SubmitRunRequest {
                    compute: Some("gpu".into()),
                    ..base.clone()
                },
            )
            .await,
        404,
        "NotFound",
    );
    let run = wait_final(
        &admin,
        &admin
            .submit_run("team", "vision", "exp", &base)
            .await
            .unwrap(),
    )
    .await;
    let bad_metric = MetricPoint {
        name: "bad\nname".into(),
        value: 1.0,
        step: None,
        timestamp: None,
    };
    let message = api_error(
        admin
            .log_metrics("team", "vision", run.id, vec![bad_metric])
            .await,
        400,
        "InvalidInput",
    );
    assert!(message.starts_with("metrics.name: "), "{message}");
    let negative = MetricPoint {
        name: "loss".into(),
        value: 1.0,
        step: Some(-1),
        timestamp: None,
    };
    let message = api_error(
        admin
            .log_metrics("team", "vision", run.id, vec![negative])
            .await,
        400,
        "InvalidInput",
    );
    assert!(message.starts_with("metrics.step: "), "{message}");
    let message = api_error(
        admin.log_metrics("team", "vision", run.id, vec![]).await,
        400,
        "InvalidInput",
    );
    assert!(message.starts_with("metrics: "), "{message}");
    let message = api_error(
        admin
            .set_run_tags("team", "vision", run.id, BTreeMap::new())
            .await,
        400,
        "InvalidInput",
    );
    assert!(message.starts_with("tags: "), "{message}");
    let message = api_error(
        admin
            .put_run_output("team", "vision", run.id, "white space", b"x".to_vec())
            .await,
        400,
        "InvalidInput",
    );
    assert!(message.starts_with("path: "), "{message}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn computes_are_workspace_resources_for_compute_operators() {
    let server = TestServer::start().await;
    let admin = workspace(&server).await;
    let reader = server
        .user_with_role("rita", "Reader", "/resourceGroups/team/workspaces/vision")
        .await;
    let operator = server
        .user_with_role(
            "otto",
            "Compute Operator",
            "/resourceGroups/team/workspaces/vision",
        )
        .await;
    let request = CreateComputeRequest {
        max_concurrent_runs: Some(1),
        max_run_seconds: Some(60),
        ..Default::default()
    };
    api_error(
        reader
            .create_compute("team", "vision", "cpu", &request)
            .await,
        403,
        "Forbidden",
    );
    let created = operator
        .create_compute("team", "vision", "cpu", &request)
        .await
        .unwrap();
    assert_eq!(
        (
            created.kind.as_str(),
            created.max_concurrent_runs,
            created.max_run_seconds
        ),
        ("local", 1, 60)
    );
    let names: Vec<String> = reader
        .list_computes("team", "vision")
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, vec!["local", "cpu"]);
    let message = api_error(
        operator
            .create_compute("team", "vision", "local", &request)
            .await,
        400,
        "InvalidInput",
    );
    assert!(message.starts_with("name: "), "{message}");
    let message = api_error(
        operator
            .create_compute(
                "team",
                "vision",
                "slurm",
                &CreateComputeRequest {
                    kind: Some("slurm".into()),
                    ..Default::default()
                },
            )
            .await,
        400,
        "InvalidInput",
    );
    assert!(message.starts_with("kind: "), "{message}");
    // A run on it may not exceed its limit.
    let snap = snapshot(&admin, "vision", &[("x", "")]).await;
    let over = SubmitRunRequest {
        resources: None,
        image: None,
        snapshot_id: snap.id,
        command: "true".into(),
        compute: Some("cpu".into()),
        time_limit_seconds: Some(61),
        environment: BTreeMap::new(),
    };
    let message = api_error(
        admin.submit_run("team", "vision", "exp", &over).await,
        400,
        "InvalidInput",
    );
    assert!(message.contains("compute 'cpu'"), "{message}");
    operator
        .delete_compute("team", "vision", "cpu")
        .await
        .unwrap();
    api_error(
        operator.get_compute("team", "vision", "cpu").await,
        404,
        "NotFound",
    );
    server.stop().await;
}

/// The issue's shell flow: a secret set from an environment variable, the seed's run script
/// submitted with `--wait`, the stored log masked, the metric queryable, the read in the log.
#[tokio::test(flavor = "multi_thread")]
async fn from_the_shell_a_run_uses_a_secret_and_its_log_masks_it() {
    use crate::cli::{casemate, casemate_json, login_admin, succeeded};
    let server = TestServer::start().await;
    let config = tempfile::tempdir().unwrap();
    let dir = config.path();
    succeeded(&login_admin(&server, dir).await);
    succeeded(&casemate(dir, &["group", "create", "team"], "", &[]).await);
    succeeded(
        &casemate(
            dir,
            &["workspace", "create", "-g", "team", "vision"],
            "",
            &[],
        )
        .await,
    );
    let secret = "env-born-S3cret";
    succeeded(
        &casemate(
            dir,
            &[
                "secret",
                "set",
                "mysecret",
                "--value-env",
                "MY_SECRET",
                "-g",
                "team",
                "-w",
                "vision",
            ],
            "",
            &[("MY_SECRET", secret)],
        )
        .await,
    );
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/secrets-in-a-run");
    // No PYTHONPATH: the server puts the SDK it carries on every local run's path.
    let submitted = casemate(
        dir,
        &[
            "run",
            "submit",
            "-g",
            "team",
            "-w",
            "vision",
            "-e",
            "demo",
            "--source-dir",
            example.to_str().unwrap(),
            "--command",
            "python3 train.py",
            "--wait",
            "--output",
            "json",
        ],
        "",
        &[],
    )
    .await;
    // With --output json, standard output is one JSON document; the run's log goes to stderr.
    let out = succeeded(&submitted);
    let run: serde_json::Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    let streamed = String::from_utf8_lossy(&submitted.stderr);
    assert!(streamed.contains("connecting with ***\n"), "{streamed}");
    assert!(!out.contains(secret) && !streamed.contains(secret));
    assert_eq!(run["status"], "Completed");
    let id = run["id"].as_str().unwrap().to_owned();

    let logs = succeeded(
        &casemate(
            dir,
            &["run", "logs", &id, "-g", "team", "-w", "vision"],
            "",
            &[],
        )
        .await,
    );
    assert!(
        logs.contains("connecting with ***") && !logs.contains(secret),
        "{logs}"
    );
    let metrics = casemate_json(dir, &["run", "metrics", &id, "-g", "team", "-w", "vision"]).await;
    assert_eq!(metrics[0]["name"], "accuracy");
    assert_eq!(metrics[0]["value"], 0.91);
    let activity = casemate_json(
        dir,
        &[
            "activity",
            "list",
            "--scope",
            "/resourceGroups/team/workspaces/vision",
            "--operation",
            "workspaces/metadata/secrets/read",
        ],
    )
    .await;
    let entries = activity["entries"].as_array().unwrap();
    assert!(
        entries
            .iter()
            .any(|e| e["detail"] == format!("run {id}") && e["caller_name"] == "admin"),
        "{activity}"
    );
    let listed =
        succeeded(&casemate(dir, &["run", "list", "-g", "team", "-w", "vision"], "", &[]).await);
    assert!(listed.contains(&id) && listed.contains("Completed"));
    let experiments = succeeded(
        &casemate(
            dir,
            &["experiment", "list", "-g", "team", "-w", "vision"],
            "",
            &[],
        )
        .await,
    );
    assert!(experiments.contains("demo"));
    let computes = succeeded(
        &casemate(
            dir,
            &["compute", "list", "-g", "team", "-w", "vision"],
            "",
            &[],
        )
        .await,
    );
    assert!(computes.contains("local"));
    server.stop().await;
}
