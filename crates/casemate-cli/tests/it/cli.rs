//! The `casemate` CLI against a real server: login with a pinned certificate, user and service
//! principal management, token display, sign-out.

use casemate_testkit::{ADMIN_PASSWORD, TestServer};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Output;
use tokio::io::AsyncWriteExt;

/// Runs `casemate ARGS` with its profile under `config_dir`, feeding `stdin`.
pub async fn casemate(
    config_dir: &Path,
    args: &[&str],
    stdin: &str,
    env: &[(&str, &str)],
) -> Output {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_casemate"));
    command
        .args(args)
        .env("CASEMATE_CONFIG_DIR", config_dir)
        .env_remove("CASEMATE_OUTPUT")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command.spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.as_bytes()).await.unwrap();
    drop(input);
    child.wait_with_output().await.unwrap()
}

/// Runs `casemate ARGS --output json` and parses what it printed.
pub async fn casemate_json(config_dir: &Path, args: &[&str]) -> serde_json::Value {
    let args: Vec<&str> = args.iter().copied().chain(["--output", "json"]).collect();
    serde_json::from_str(&succeeded(&casemate(config_dir, &args, "", &[]).await)).unwrap()
}

#[track_caller]
pub fn succeeded(output: &Output) -> String {
    assert!(
        output.status.success(),
        "failed: {}\nstderr: {}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

pub async fn login_admin(server: &TestServer, config: &Path) -> Output {
    casemate(
        config,
        &[
            "login",
            &server.url,
            "--username",
            "admin",
            "--password-stdin",
            "--accept-fingerprint",
        ],
        &format!("{ADMIN_PASSWORD}\n"),
        &[],
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn login_pins_the_certificate_then_manages_users() {
    let server = TestServer::start().await;
    let config = tempfile::tempdir().unwrap();
    let output = login_admin(&server, config.path()).await;
    let stdout = succeeded(&output);
    assert!(stdout.contains("Logged in"), "{stdout}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&server.fingerprint),
        "fingerprint shown: {stderr}"
    );
    let profile = config.path().join("profile.json");
    assert_eq!(
        std::fs::metadata(&profile).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&profile).unwrap()).unwrap();
    assert_eq!(
        saved["fingerprint"].as_str().unwrap(),
        server.fingerprint.replace(':', "")
    );

    let created = casemate(
        config.path(),
        &["user", "create", "bob", "--password-stdin"],
        "bob-password-12345\n",
        &[],
    )
    .await;
    assert!(succeeded(&created).contains("bob"));
    let listed = succeeded(
        &casemate(
            config.path(),
            &["user", "list", "--output", "json"],
            "",
            &[],
        )
        .await,
    );
    let users: Vec<serde_json::Value> = serde_json::from_str(&listed).unwrap();
    assert!(users.iter().any(|u| u["name"] == "bob"));
    let table = succeeded(&casemate(config.path(), &["user", "list"], "", &[]).await);
    assert!(table.starts_with("NAME"), "{table}");
    succeeded(&casemate(config.path(), &["user", "disable", "bob"], "", &[]).await);
    let shown = succeeded(
        &casemate(
            config.path(),
            &["user", "show", "bob", "--output", "json"],
            "",
            &[],
        )
        .await,
    );
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&shown).unwrap()["enabled"],
        false
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn token_show_hides_the_token_unless_asked() {
    let server = TestServer::start().await;
    let config = tempfile::tempdir().unwrap();
    succeeded(&login_admin(&server, config.path()).await);
    let shown = succeeded(&casemate(config.path(), &["token", "show"], "", &[]).await);
    assert!(
        shown.contains("expires_at") && shown.contains("admin"),
        "{shown}"
    );
    assert!(!shown.contains("v4.public."), "{shown}");
    let raw = succeeded(&casemate(config.path(), &["token", "show", "--raw"], "", &[]).await);
    assert!(raw.trim().starts_with("v4.public."));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_fingerprint_stops_the_login() {
    let server = TestServer::start().await;
    let config = tempfile::tempdir().unwrap();
    let wrong = "AA".repeat(32);
    let output = casemate(
        config.path(),
        &[
            "login",
            &server.url,
            "--username",
            "admin",
            "--password-stdin",
            "--fingerprint",
            &wrong,
        ],
        &format!("{ADMIN_PASSWORD}\n"),
        &[],
    )
    .await;
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("does not have the fingerprint"));
    assert!(!config.path().join("profile.json").exists());
    // Without a terminal and without --accept-fingerprint the CLI refuses to guess.
    let output = casemate(
        config.path(),
        &[
            "login",
            &server.url,
            "--username",
            "admin",
            "--password-stdin",
        ],
        &format!("{ADMIN_PASSWORD}\n"),
        &[],
    )
    .await;
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--accept-fingerprint"));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pinned_profile_refuses_a_server_with_another_certificate() {
    let server = TestServer::start().await;
    let config = tempfile::tempdir().unwrap();
    succeeded(&login_admin(&server, config.path()).await);
    // Point the saved profile at another server (another self-signed certificate).
    let other = TestServer::start().await;
    let profile_path = config.path().join("profile.json");
    let mut profile: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&profile_path).unwrap()).unwrap();
    profile["server"] = other.url.clone().into();
    std::fs::write(&profile_path, serde_json::to_string(&profile).unwrap()).unwrap();
    let output = casemate(config.path(), &["user", "list"], "", &[]).await;
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("fingerprint"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    server.stop().await;
    other.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_service_principal_logs_in_with_a_secret_from_the_environment() {
    let server = TestServer::start().await;
    let config = tempfile::tempdir().unwrap();
    succeeded(&login_admin(&server, config.path()).await);
    let sp: serde_json::Value = casemate_json(config.path(), &["sp", "create", "trainer"]).await;
    let secret: serde_json::Value =
        casemate_json(config.path(), &["sp", "secret", "add", "trainer"]).await;
    let client_id = sp["client_id"].as_str().unwrap();
    let secret_value = secret["secret"].as_str().unwrap();
    let sp_config = tempfile::tempdir().unwrap();
    let output = casemate(
        sp_config.path(),
        &[
            "login",
            &server.url,
            "--service-principal",
            "--client-id",
            client_id,
            "--secret-env",
            "TRAINER_SECRET",
            "--accept-fingerprint",
        ],
        "",
        &[("TRAINER_SECRET", secret_value)],
    )
    .await;
    assert!(succeeded(&output).contains("service_principal"));
    let shown = succeeded(
        &casemate(
            sp_config.path(),
            &["token", "show", "--output", "json"],
            "",
            &[],
        )
        .await,
    );
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&shown).unwrap()["name"],
        "trainer"
    );
    // The secret also works from standard input.
    let output = casemate(
        sp_config.path(),
        &[
            "login",
            &server.url,
            "--service-principal",
            "--client-id",
            client_id,
            "--secret-stdin",
            "--accept-fingerprint",
        ],
        &format!("{secret_value}\n"),
        &[],
    )
    .await;
    succeeded(&output);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn logout_ends_the_session_and_forgets_the_tokens() {
    let server = TestServer::start().await;
    let config = tempfile::tempdir().unwrap();
    succeeded(&login_admin(&server, config.path()).await);
    let raw = succeeded(&casemate(config.path(), &["token", "show", "--raw"], "", &[]).await);
    succeeded(&casemate(config.path(), &["logout"], "", &[]).await);
    assert!(!config.path().join("profile.json").exists());
    let stale = server
        .anonymous()
        .with_bearer(casemate_types::Sensitive::new(raw.trim()))
        .userinfo()
        .await;
    crate::api_error(stale, 401, "Unauthenticated");
    let output = casemate(config.path(), &["user", "list"], "", &[]).await;
    assert!(String::from_utf8_lossy(&output.stderr).contains("not signed in"));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn groups_workspaces_roles_access_and_activity_from_the_cli() {
    let server = TestServer::start().await;
    let config = tempfile::tempdir().unwrap();
    let dir = config.path();
    succeeded(&login_admin(&server, dir).await);
    let run = |args: &'static [&'static str]| async move { casemate(dir, args, "", &[]).await };
    succeeded(&run(&["group", "create", "team"]).await);
    let created = succeeded(
        &run(&[
            "workspace",
            "create",
            "-g",
            "team",
            "vision",
            "--hbi",
            "--tag",
            "owner=cv",
            "--output",
            "json",
        ])
        .await,
    );
    let workspace: serde_json::Value = serde_json::from_str(&created).unwrap();
    assert_eq!(workspace["hbi_workspace"], true);
    assert_eq!(workspace["tags"]["owner"], "cv");
    let listed = succeeded(&run(&["workspace", "list", "-g", "team"]).await);
    assert!(listed.contains("vision"), "{listed}");
    succeeded(
        &casemate(
            dir,
            &["user", "create", "carl", "--password-stdin"],
            "carl-password-1234\n",
            &[],
        )
        .await,
    );
    succeeded(
        &run(&[
            "role",
            "assignment",
            "create",
            "--assignee",
            "carl",
            "--role",
            "Contributor",
            "--scope",
            "/resourceGroups/team/workspaces/vision",
        ])
        .await,
    );
    let assignments = succeeded(
        &run(&[
            "role",
            "assignment",
            "list",
            "--scope",
            "/resourceGroups/team",
            "--assignee",
            "carl",
            "--output",
            "json",
        ])
        .await,
    );
    let assignments: Vec<serde_json::Value> = serde_json::from_str(&assignments).unwrap();
    assert_eq!(assignments.len(), 1);
    let check = succeeded(
        &run(&[
            "auth",
            "check",
            "--principal",
            "carl",
            "--action",
            "workspaces/computes/write",
            "--scope",
            "/resourceGroups/team/workspaces/vision",
        ])
        .await,
    );
    assert!(
        check.starts_with("allowed") && check.contains("Contributor"),
        "{check}"
    );
    let denied = succeeded(
        &run(&[
            "auth",
            "check",
            "--principal",
            "carl",
            "--action",
            "roleAssignments/write",
            "--scope",
            "/resourceGroups/team",
        ])
        .await,
    );
    assert!(denied.starts_with("denied"), "{denied}");
    let permissions = succeeded(
        &run(&[
            "auth",
            "list-permissions",
            "--scope",
            "/resourceGroups/team/workspaces/vision",
            "--principal",
            "carl",
        ])
        .await,
    );
    assert!(permissions.contains("workspaces/experiments/runs/submit/action"));
    let activity = succeeded(
        &run(&[
            "activity",
            "list",
            "--scope",
            "/resourceGroups/team",
            "--operation",
            "workspaces/write",
            "--output",
            "json",
        ])
        .await,
    );
    let page: serde_json::Value = serde_json::from_str(&activity).unwrap();
    assert_eq!(page["entries"].as_array().unwrap().len(), 2, "{activity}");
    let verified = succeeded(&run(&["activity", "verify"]).await);
    assert!(verified.starts_with("intact"), "{verified}");
    let refused = run(&[
        "workspace",
        "update",
        "-g",
        "team",
        "vision",
        "--tag",
        "broken",
    ])
    .await;
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("NAME=VALUE"));
    succeeded(&run(&["workspace", "delete", "-g", "team", "vision"]).await);
    succeeded(&run(&["group", "delete", "team"]).await);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn mfa_enable_from_the_cli_reads_the_code_after_showing_the_secret() {
    use tokio::io::AsyncBufReadExt;
    let server = TestServer::start().await;
    let config = tempfile::tempdir().unwrap();
    succeeded(&login_admin(&server, config.path()).await);
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_casemate"))
        .args(["user", "mfa", "enable", "--code-stdin"])
        .env("CASEMATE_CONFIG_DIR", config.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let mut secret = None;
    while let Some(line) = stderr.next_line().await.unwrap() {
        if let Some(rest) = line.trim().strip_prefix("(secret for manual entry: ") {
            secret = Some(rest.trim_end_matches(')').to_owned());
            break;
        }
    }
    let secret = totp_rs::Secret::Encoded(secret.expect("the CLI shows the secret"))
        .to_bytes()
        .unwrap();
    let code = |server: &TestServer| {
        use casemate_types::Clock as _;
        casemate_crypto::totp::code_at(
            &secret,
            u64::try_from(server.clock.now().unix_timestamp()).unwrap(),
        )
        .unwrap()
    };
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(format!("{}\n", code(&server)).as_bytes())
        .await
        .unwrap();
    drop(stdin);
    let output = child.wait_with_output().await.unwrap();
    assert!(succeeded(&output).contains("Second factor enrolled"));
    // From now on a password alone is not enough.
    assert!(!login_admin(&server, config.path()).await.status.success());
    server.clock.advance(time::Duration::seconds(30));
    // The admin signs in with the password and then a code, both from standard input.
    let login_with_code = |code: String| {
        let stdin = format!("{ADMIN_PASSWORD}\n{code}\n");
        let url = server.url.clone();
        let config = config.path().to_owned();
        async move {
            let args = [
                "login",
                &url,
                "--username",
                "admin",
                "--password-stdin",
                "--accept-fingerprint",
            ];
            casemate(&config, &args, &stdin, &[]).await
        }
    };
    let with_code = login_with_code(code(&server)).await;
    assert!(succeeded(&with_code).contains("Logged in"));
    // The same code again: refused, and told to wait for the next one.
    let reused = login_with_code(code(&server)).await;
    assert!(!reused.status.success());
    let said = String::from_utf8_lossy(&reused.stderr);
    assert!(
        said.contains("accepted only once") && said.contains("wait for the next code"),
        "{said}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn personal_access_tokens_from_the_cli() {
    let server = TestServer::start().await;
    let config = tempfile::tempdir().unwrap();
    succeeded(&login_admin(&server, config.path()).await);
    let created: serde_json::Value =
        casemate_json(config.path(), &["pat", "create", "mlflow"]).await;
    let token = created["token"].as_str().unwrap().to_owned();
    let token_id = created["info"]["token_id"].as_str().unwrap().to_owned();
    let client = server
        .anonymous()
        .with_basic("admin", casemate_types::Sensitive::new(token.clone()));
    assert_eq!(client.userinfo().await.unwrap().name, "admin");
    let listed = succeeded(&casemate(config.path(), &["pat", "list"], "", &[]).await);
    assert!(
        listed.contains("mlflow") && !listed.contains(&token),
        "{listed}"
    );
    succeeded(&casemate(config.path(), &["pat", "revoke", &token_id], "", &[]).await);
    crate::api_error(client.userinfo().await, 401, "Unauthenticated");
    server.stop().await;
}

/// `casemate key …` and `casemate workspace rewrap` against a workspace created with a
/// customer-managed key.
#[tokio::test(flavor = "multi_thread")]
async fn keys_and_rewrap_from_the_cli() {
    let server = TestServer::start().await;
    let config = tempfile::tempdir().unwrap();
    let dir = config.path();
    assert!(login_admin(&server, dir).await.status.success());
    succeeded(&casemate(dir, &["group", "create", "team"], "", &[]).await);
    succeeded(
        &casemate(
            dir,
            &["workspace", "create", "-g", "team", "keys-home"],
            "",
            &[],
        )
        .await,
    );
    let target = ["-g", "team", "-w", "keys-home"];
    let key = casemate_json(dir, &[&["key", "create", "cmk"][..], &target].concat()).await;
    let kid = key["kid"].as_str().unwrap().to_owned();
    let admin = server.admin().await;
    admin
        .create_workspace(
            "team",
            "vision",
            &casemate_types::wire::CreateWorkspaceRequest {
                cmk_keyvault: Some("/resourceGroups/team/vaults/keys-home-vault".into()),
                resource_cmk_uri: Some(kid.clone()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    // With no data keys yet, rewrap changes nothing and names the version new ones would use.
    let report = casemate_json(dir, &["workspace", "rewrap", "-g", "team", "vision"]).await;
    assert_eq!(
        (report["data_keys"].as_u64(), report["rewrapped"].as_u64()),
        (Some(0), Some(0))
    );
    assert_eq!(
        report["wrapping_key"].as_str(),
        Some(kid.as_str()),
        "{report}"
    );
    admin
        .put_artifact("team", "vision", "model.bin", b"weights".to_vec())
        .await
        .unwrap();

    let rotated = casemate_json(dir, &[&["key", "rotate", "cmk"][..], &target].concat()).await;
    let versions = rotated["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 2);
    let newest = versions[1]["version"].as_str().unwrap().to_owned();
    let report = casemate_json(dir, &["workspace", "rewrap", "-g", "team", "vision"]).await;
    assert_eq!(report["rewrapped"], 1);
    assert!(
        report["wrapping_key"].as_str().unwrap().ends_with(&newest),
        "{report}"
    );

    let disabled = casemate_json(
        dir,
        &[
            &["key", "disable", "cmk", "--version", &newest][..],
            &target,
        ]
        .concat(),
    )
    .await;
    assert_eq!(disabled["versions"][1]["enabled"], false);
    crate::api_error(
        admin.get_artifact("team", "vision", "model.bin").await,
        423,
        "KeyDisabled",
    );
    casemate_json(
        dir,
        &[&["key", "enable", "cmk", "--version", &newest][..], &target].concat(),
    )
    .await;
    assert_eq!(
        admin
            .get_artifact("team", "vision", "model.bin")
            .await
            .unwrap(),
        b"weights"
    );
    let listed =
        succeeded(&casemate(dir, &[&["key", "list"][..], &target].concat(), "", &[]).await);
    assert!(
        listed.contains("cmk") && listed.contains(&newest),
        "{listed}"
    );
    server.stop().await;
}
