//! `casemate server` as a process: zero-configuration start, printed fingerprint and password,
//! refusals of unsafe settings, and a clean exit on SIGTERM.

use crate::cli::casemate;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};

pub(crate) struct ServerProcess {
    pub child: Child,
    pub url: String,
    pub stdout: String,
}

/// Starts `casemate server` on an ephemeral port and reads its start-up banner.
pub(crate) async fn start_server(
    home: &Path,
    extra_args: &[&str],
    env: &[(&str, &str)],
) -> ServerProcess {
    let mut command = Command::new(env!("CARGO_BIN_EXE_casemate"));
    command
        .args(["server", "--listen", "127.0.0.1:0"])
        .args(extra_args)
        .env("CASEMATE_HOME", home)
        .env_remove("CASEMATE_ADMIN_PASSWORD")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command.spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut stdout = String::new();
    let read_banner = async {
        while let Some(line) = lines.next_line().await.unwrap() {
            stdout.push_str(&line);
            stdout.push('\n');
            if line.starts_with("casemate is ready") {
                break;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(60), read_banner)
        .await
        .expect("server banner");
    // Keep draining so the server never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let url = stdout
        .lines()
        .find_map(|line| line.strip_prefix("casemate server listening on "))
        .unwrap()
        .to_owned();
    ServerProcess { child, url, stdout }
}

/// The server at `url` (its certificate pinned by the fingerprint it presents) signed in as the
/// bootstrap administrator with the kit's password.
pub(crate) async fn sign_in_admin(url: &str) -> casemate_client::Client {
    let fingerprint = casemate_client::probe_fingerprint(url).await.unwrap();
    let anonymous = casemate_client::Client::new(url, Some(&fingerprint)).unwrap();
    let token = anonymous
        .token(&casemate_types::wire::TokenRequest::password(
            "admin",
            casemate_types::Sensitive::new(casemate_testkit::ADMIN_PASSWORD),
            None,
        ))
        .await
        .unwrap();
    anonymous.with_bearer(token.access_token)
}

pub(crate) async fn terminate(mut server: ServerProcess) -> (std::process::ExitStatus, String) {
    let pid = server.child.id().unwrap();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = tokio::time::timeout(Duration::from_secs(30), server.child.wait())
        .await
        .unwrap()
        .unwrap();
    let mut stderr = String::new();
    server
        .child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .await
        .unwrap();
    (exit, stderr)
}

#[tokio::test(flavor = "multi_thread")]
async fn starts_with_no_configuration_and_stops_cleanly_on_sigterm() {
    let home = tempfile::tempdir().unwrap();
    let server = start_server(home.path(), &[], &[]).await;
    assert!(
        server.url.starts_with("https://127.0.0.1:"),
        "{}",
        server.url
    );
    let fingerprint = server
        .stdout
        .lines()
        .find_map(|line| line.strip_prefix("SHA-256 fingerprint: "))
        .unwrap()
        .to_owned();
    assert_eq!(
        casemate_client::probe_fingerprint(&server.url)
            .await
            .unwrap(),
        fingerprint
    );
    let mode = |name: &str| {
        std::fs::metadata(home.path().join(name))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode("root.key"), 0o600);
    assert_eq!(mode("tls/key.pem"), 0o600);
    assert_eq!(mode("casemate.db"), 0o600);
    assert!(home.path().join("tls/cert.pem").exists());
    assert!(home.path().join("blobs").is_dir());
    let password_line = server
        .stdout
        .lines()
        .skip_while(|l| !l.contains("created with this password"))
        .nth(1)
        .unwrap();
    let password = password_line.trim().to_owned();
    assert!(password.len() >= 24);
    // Sign in with the printed password through the CLI.
    let config = tempfile::tempdir().unwrap();
    let login = casemate(
        config.path(),
        &[
            "login",
            &server.url,
            "--username",
            "admin",
            "--password-stdin",
            "--fingerprint",
            &fingerprint,
        ],
        &format!("{password}\n"),
        &[],
    )
    .await;
    assert!(
        login.status.success(),
        "{}",
        String::from_utf8_lossy(&login.stderr)
    );
    let raw = casemate(config.path(), &["token", "show", "--raw"], "", &[]).await;
    let token = String::from_utf8(raw.stdout).unwrap().trim().to_owned();
    let (exit, stderr) = terminate(server).await;
    assert!(exit.success(), "exit status {exit:?}");
    assert!(stderr.contains("SIGTERM"), "{stderr}");
    assert!(
        !stderr.contains(&password),
        "the admin password reached the log"
    );
    assert!(!stderr.contains(&token), "a token reached the log");

    // A second start reuses everything and prints no password.
    let again = start_server(home.path(), &[], &[]).await;
    assert!(!again.stdout.contains("created with this password"));
    assert!(again.stdout.contains(&fingerprint), "same certificate");
    let (exit, _) = terminate(again).await;
    assert!(exit.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_admin_password_can_come_from_the_environment() {
    let home = tempfile::tempdir().unwrap();
    let server = start_server(
        home.path(),
        &[],
        &[("CASEMATE_ADMIN_PASSWORD", "an-admin-password-from-env")],
    )
    .await;
    assert!(!server.stdout.contains("created with this password"));
    let fingerprint = casemate_client::probe_fingerprint(&server.url)
        .await
        .unwrap();
    let client = casemate_client::Client::new(&server.url, Some(&fingerprint)).unwrap();
    let request = casemate_types::wire::TokenRequest::password(
        "admin",
        casemate_types::Sensitive::new("an-admin-password-from-env"),
        None,
    );
    client.token(&request).await.unwrap();
    let (exit, stderr) = terminate(server).await;
    assert!(exit.success());
    assert!(!stderr.contains("an-admin-password-from-env"));
}

async fn refused_start(home: &Path, args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_casemate"))
        .args(["server", "--listen", "127.0.0.1:0"])
        .args(args)
        .env("CASEMATE_HOME", home)
        .output()
        .await
        .unwrap();
    assert!(!output.status.success(), "started when it should not have");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn refuses_a_root_key_readable_by_others() {
    let home = tempfile::tempdir().unwrap();
    let key = home.path().join("root.key");
    std::fs::write(&key, [7u8; 32]).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let stderr = refused_start(home.path(), &[]).await;
    assert!(
        stderr.contains("root.key") && stderr.contains("chmod 600"),
        "{stderr}"
    );
}

/// A replica given a root key other than the installation's (here: the file replaced) refuses
/// to start, saying what every replica needs, and says it once.
#[tokio::test(flavor = "multi_thread")]
async fn refuses_a_root_key_that_does_not_open_the_installation() {
    let home = tempfile::tempdir().unwrap();
    let (exit, _) = terminate(start_server(home.path(), &[], &[]).await).await;
    assert!(exit.success());
    let key = home.path().join("root.key");
    std::fs::remove_file(&key).unwrap();
    let stderr = refused_start(home.path(), &[]).await;
    let needs = "every replica of an installation needs the same root key";
    assert!(
        stderr.contains("does not open signing key") && stderr.contains(needs),
        "{stderr}"
    );
    assert_eq!(stderr.matches(needs).count(), 1, "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn refuses_unknown_config_keys_and_plain_http_off_loopback() {
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join("settings.toml");
    std::fs::write(
        &config,
        "log_level = \"info\"\nlisten_addr = \"0.0.0.0:1\"\n",
    )
    .unwrap();
    let stderr = refused_start(home.path(), &["--config", config.to_str().unwrap()]).await;
    assert!(stderr.contains("listen_addr"), "{stderr}");
    let output = Command::new(env!("CARGO_BIN_EXE_casemate"))
        .args(["server", "--listen", "0.0.0.0:0", "--insecure-http"])
        .env("CASEMATE_HOME", home.path())
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("insecure_http: plain HTTP is only allowed on a loopback address")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn plain_http_on_loopback_when_asked() {
    let home = tempfile::tempdir().unwrap();
    let server = start_server(home.path(), &["--insecure-http"], &[]).await;
    assert!(
        server.url.starts_with("http://127.0.0.1:"),
        "{}",
        server.url
    );
    let health = casemate_client::Client::new(&server.url, None)
        .unwrap()
        .health()
        .await
        .unwrap();
    assert_eq!(health.status, "ok");
    let (exit, _) = terminate(server).await;
    assert!(exit.success());
}

/// The processes on this machine started for `run` (casemate gives each its run id).
pub(crate) fn run_processes(run: uuid::Uuid) -> Vec<String> {
    processes_with(&format!("CASEMATE_RUN_ID={run}"))
}

/// Waits (up to ten seconds) until no process of `run` is left on this machine.
pub(crate) async fn wait_until_run_processes_are_gone(run: uuid::Uuid) {
    let mut left = run_processes(run);
    for _ in 0..200 {
        if left.is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        left = run_processes(run);
    }
    panic!("processes {left:?} of run {run} are still alive");
}

/// The live processes with `marker` (`NAME=value`) in their environment.
fn processes_with(marker: &str) -> Vec<String> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|entry| {
            let pid = entry.file_name().to_string_lossy().into_owned();
            let environ = std::fs::read(entry.path().join("environ")).ok()?;
            environ
                .split(|b| *b == 0)
                .any(|e| e == marker.as_bytes())
                .then_some(pid)
        })
        .filter(|pid| crate::runs::alive(pid))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_killed_mid_run_fails_the_run_at_its_next_start_and_stops_what_it_left() {
    use casemate_types::wire::{CreateWorkspaceRequest, RunStatus};
    let home = tempfile::tempdir().unwrap();
    let env = [("CASEMATE_ADMIN_PASSWORD", casemate_testkit::ADMIN_PASSWORD)];
    let mut server = start_server(home.path(), &[], &env).await;
    let admin = sign_in_admin(&server.url).await;
    admin.create_resource_group("team").await.unwrap();
    admin
        .create_workspace("team", "vision", &CreateWorkspaceRequest::default())
        .await
        .unwrap();
    let snapshot = crate::runs::snapshot(&admin, "vision", &[("x", "")]).await;
    let run = crate::runs::submit(&admin, &snapshot, "echo started; sleep 300", &[]).await;
    crate::runs::wait_for_log(&admin, &run, "started").await;

    // A crash: no chance to record anything or stop the run.
    server.child.start_kill().unwrap();
    server.child.wait().await.unwrap();
    let orphans = run_processes(run.id);
    assert!(
        !orphans.is_empty(),
        "the run's processes should outlive the crash"
    );

    let restarted = start_server(home.path(), &[], &env).await;
    let admin = sign_in_admin(&restarted.url).await;
    let after = admin.get_run("team", "vision", run.id).await.unwrap();
    assert_eq!(after.status, RunStatus::Failed);
    let reason = after.reason.unwrap();
    assert!(
        reason.contains("the server stopped while the run was Running"),
        "{reason}"
    );
    wait_until_run_processes_are_gone(run.id).await;
    terminate(restarted).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_scoring_process_does_not_outlive_a_killed_server() {
    use casemate_types::wire::{CreateServiceRequest, ServiceModel};
    let home = tempfile::tempdir().unwrap();
    let env = [("CASEMATE_ADMIN_PASSWORD", casemate_testkit::ADMIN_PASSWORD)];
    let mut server = start_server(home.path(), &[], &env).await;
    let admin = sign_in_admin(&server.url).await;
    admin.create_resource_group("team").await.unwrap();
    admin
        .create_workspace("team", "vision", &Default::default())
        .await
        .unwrap();
    admin
        .put_artifact(
            "team",
            "vision",
            "models/m/weights.json",
            br#"{"factor": 2}"#.to_vec(),
        )
        .await
        .unwrap();
    crate::webservices::register(&admin, "m", "models/m").await;
    let code = crate::runs::snapshot(
        &admin,
        "vision",
        &[("score.py", crate::webservices::SCORE_PY)],
    )
    .await;
    let service = admin
        .create_service(
            "team",
            "vision",
            "doubler",
            &CreateServiceRequest {
                models: vec![ServiceModel {
                    name: "m".into(),
                    version: 1,
                }],
                entry_script: Some("score.py".into()),
                snapshot_id: Some(code.id),
                auth_mode: "key".into(),
                python: None,
                compute: None,
                max_request_bytes: None,
                token_lifetime_seconds: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(service.state, "Healthy", "{:?}", service.state_reason);
    let marker_processes = || processes_with("CASEMATE_SERVICE_NAME=doubler");
    assert!(!marker_processes().is_empty(), "the scoring process runs");

    // A crash: casemate gets no chance to stop it; the process notices its parent is gone.
    server.child.start_kill().unwrap();
    server.child.wait().await.unwrap();
    let mut left = marker_processes();
    for _ in 0..200 {
        if left.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        left = marker_processes();
    }
    assert!(
        left.is_empty(),
        "scoring processes {left:?} outlived the server"
    );
}
