//! Defects found by trying casemate as a new user: what a snapshot may carry, what a reused
//! second-factor code is told, and role documents copied from the cloud platform.

use crate::api_error;
use crate::cli::{casemate, login_admin, succeeded};
use crate::runs::{assert_snapshot_refused, crafted, raw_entry};
use crate::secrets::workspace;
use casemate_client::archive_directory;
use casemate_testkit::{TestServer, USER_PASSWORD};
use casemate_types::Clock;
use casemate_types::Sensitive;
use casemate_types::wire::*;
use std::path::Path;

fn write(root: &Path, name: &str, content: &[u8]) {
    let path = root.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_snapshot_never_carries_casemate_directories_or_a_server_home() {
    let server = TestServer::start().await;
    let admin = workspace(&server).await;
    // A project where the server was once started: `.casemate/` holds its keys.
    let source = tempfile::tempdir().unwrap();
    write(source.path(), "train.py", b"print('hi')\n");
    write(source.path(), ".casemate/root.key", &[7u8; 32]);
    write(
        source.path(),
        ".casemate/tls/key.pem",
        b"-----BEGIN PRIVATE KEY-----\n",
    );
    write(source.path(), "sub/.casemate/config.json", b"{}");
    let (file, _) = archive_directory(source.path()).unwrap();
    let mut names = Vec::new();
    for entry in tar::Archive::new(file).entries().unwrap() {
        names.push(entry.unwrap().path().unwrap().display().to_string());
    }
    assert_eq!(names, ["sub", "train.py"]);

    // A server home under another name is refused before anything is uploaded.
    write(source.path(), "state/casemate.db", b"");
    let refused = archive_directory(source.path()).unwrap_err();
    let message = refused.to_string();
    assert!(
        message.contains("state looks like a casemate server's data directory"),
        "{message}"
    );
    // The CLI says the same and uploads nothing.
    let config = tempfile::tempdir().unwrap();
    succeeded(&login_admin(&server, config.path()).await);
    let submitted = casemate(
        config.path(),
        &[
            "run",
            "submit",
            "-g",
            "team",
            "-w",
            "vision",
            "-e",
            "exp",
            "--source-dir",
            source.path().to_str().unwrap(),
            "--command",
            "true",
        ],
        "",
        &[],
    )
    .await;
    assert!(!submitted.status.success());
    let stderr = String::from_utf8_lossy(&submitted.stderr);
    assert!(
        stderr.contains("casemate server's data directory"),
        "{stderr}"
    );
    assert_eq!(server.count_rows("snapshots").await, 0);

    // The server refuses archives made by other tools that carry its own files, by path or by
    // content under any name.
    let root_key = std::fs::read(server.home().join("root.key")).unwrap();
    let tls_key = std::fs::read(server.home().join("tls/key.pem")).unwrap();
    use tar::EntryType::Regular;
    for (case, bytes, rule) in [
        (
            "a .casemate directory",
            crafted(|b| raw_entry(b, "proj/.casemate/profile.json", Regular, None, b"{}")),
            "a '.casemate' directory",
        ),
        (
            "a database by name",
            crafted(|b| raw_entry(b, "backup/casemate.db", Regular, None, b"")),
            "looks like a casemate server's data directory",
        ),
        (
            "the root key renamed",
            crafted(|b| raw_entry(b, "notes.txt", Regular, None, &root_key)),
            "copy of this server's own key material",
        ),
        (
            "the TLS key renamed",
            crafted(|b| raw_entry(b, "certs/server.pem", Regular, None, &tls_key)),
            "copy of this server's own key material",
        ),
    ] {
        assert_snapshot_refused(&admin, case, bytes, rule).await;
    }
    // A file of the same size as a key but other bytes is ordinary content.
    let mut other = root_key.clone();
    other[0] ^= 1;
    admin
        .upload_snapshot(
            "team",
            "vision",
            reqwest::Body::from(crafted(|b| {
                raw_entry(b, "weights.bin", Regular, None, &other)
            })),
        )
        .await
        .unwrap();
    assert_eq!(server.count_rows("snapshots").await, 1);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reused_code_is_told_to_wait_without_saying_which_factor_failed() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let enrollment = alice.begin_totp().await.unwrap();
    let secret = totp_rs::Secret::Encoded(enrollment.secret.expose().to_owned())
        .to_bytes()
        .unwrap();
    let code_now = |server: &TestServer| {
        let now = u64::try_from(server.clock.now().unix_timestamp()).unwrap();
        Sensitive::new(casemate_crypto::totp::code_at(&secret, now).unwrap())
    };
    alice.confirm_totp(code_now(&server)).await.unwrap();
    // Enrolment's own code cannot sign in: it says so.
    let anonymous = server.anonymous();
    let sign_in = |password: &str, code: Option<Sensitive>| {
        TokenRequest::password("alice", Sensitive::new(password), code)
    };
    let reused = api_error(
        anonymous
            .token(&sign_in(USER_PASSWORD, Some(code_now(&server))))
            .await,
        401,
        "InvalidCredentials",
    );
    assert!(reused.contains("accepted only once"), "{reused}");
    assert!(reused.contains("wait for the next code"), "{reused}");
    // A wrong password with a fresh code gets the very same words: nothing tells an attacker
    // that the password was right and only the code was spent.
    server.clock.advance(time::Duration::seconds(30));
    let wrong_password = api_error(
        anonymous
            .token(&sign_in("not-the-password", Some(code_now(&server))))
            .await,
        401,
        "InvalidCredentials",
    );
    assert_eq!(wrong_password, reused);
    // Without a code the message does not talk of codes being spent.
    let bob = server.new_user("bob").await;
    drop(bob);
    let plain = api_error(
        anonymous
            .token(&TokenRequest::password(
                "bob",
                Sensitive::new("wrong"),
                None,
            ))
            .await,
        401,
        "InvalidCredentials",
    );
    assert!(!plain.contains("only once"), "{plain}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn role_documents_in_the_platforms_action_format_are_accepted() {
    let server = TestServer::start().await;
    workspace(&server).await;
    let config = tempfile::tempdir().unwrap();
    succeeded(&login_admin(&server, config.path()).await);
    // The README's example file, as shipped.
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/custom-role.json");
    let created = casemate(
        config.path(),
        &[
            "role",
            "definition",
            "create",
            "--role-definition",
            example.to_str().unwrap(),
            "--output",
            "json",
        ],
        "",
        &[],
    )
    .await;
    let stored: serde_json::Value = serde_json::from_str(&succeeded(&created)).unwrap();
    // Stored in casemate's form, the provider taken off.
    let actions: Vec<&str> = stored["Actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert!(actions.contains(&"workspaces/experiments/*"), "{stored}");
    // A provider's `*` stands for what that provider has, not for everything.
    assert_eq!(
        stored["NotActions"],
        serde_json::json!([
            "workspaces/computes/*/write",
            "workspaces/computes/*/delete",
            "roleAssignments/*/write",
            "roleDefinitions/*/write"
        ]),
        "{stored}"
    );
    assert!(
        actions.iter().all(|a| !a.contains("Microsoft.")),
        "{stored}"
    );
    let name = stored["Name"].as_str().unwrap().to_owned();
    let scope = "/resourceGroups/team/workspaces/vision";
    let sam = server.user_with_role("sam", &name, scope).await;
    for (action, allowed) in [
        (
            "Microsoft.MachineLearningServices/workspaces/experiments/runs/submit/action",
            true,
        ),
        ("workspaces/experiments/runs/read", true),
        ("workspaces/computes/write", false),
    ] {
        assert_eq!(
            sam.check_permission(None, action, scope)
                .await
                .unwrap()
                .allowed,
            allowed,
            "{action}"
        );
    }
    // An unknown provider is refused, naming the field and saying what to write.
    let unknown = RoleDefinitionDocument {
        name: "Compute Poker".into(),
        is_custom: None,
        description: String::new(),
        actions: vec!["Microsoft.Compute/virtualMachines/read".into()],
        not_actions: vec![],
        data_actions: vec![],
        not_data_actions: vec![],
        assignable_scopes: vec!["/".into()],
    };
    let message = api_error(
        server.admin().await.create_role_definition(&unknown).await,
        400,
        "InvalidInput",
    );
    assert!(
        message.starts_with("Actions: ") && message.contains("without a provider"),
        "{message}"
    );
    server.stop().await;
}
