//! Vault secrets: the seed flow from the CLI and the API, versions and attributes, soft delete,
//! the workspace identity's grant, sealed storage.

use crate::api_error;
use crate::cli::{casemate, login_admin};
use casemate_client::{Client, SecretScope};
use casemate_testkit::{TestKeyProvider, TestServer};
use casemate_types::Sensitive;
use casemate_types::wire::*;

const WS_SCOPE: &str = "/resourceGroups/team/workspaces/vision";

fn in_workspace() -> SecretScope<'static> {
    SecretScope::Workspace {
        resource_group: "team",
        workspace: "vision",
    }
}

fn in_vault() -> SecretScope<'static> {
    SecretScope::Vault {
        resource_group: "team",
        vault: "vision-vault",
    }
}

pub async fn workspace(server: &TestServer) -> Client {
    let admin = server.admin().await;
    admin.create_resource_group("team").await.unwrap();
    admin
        .create_workspace("team", "vision", &CreateWorkspaceRequest::default())
        .await
        .unwrap();
    admin
}

fn set(value: &str) -> SetSecretRequest {
    SetSecretRequest::value(Sensitive::new(value))
}

async fn the_seed_flow_works_from_the_cli(provider: TestKeyProvider) {
    let server = TestServer::start_on(provider).await;
    workspace(&server).await;
    let config = tempfile::tempdir().unwrap();
    let dir = config.path();
    assert!(login_admin(&server, dir).await.status.success());
    let target = ["-g", "team", "-w", "vision"];
    let set = casemate(
        dir,
        &[
            &["secret", "set", "mysecret", "--value-env", "MY_SECRET"][..],
            &target,
        ]
        .concat(),
        "",
        &[("MY_SECRET", "s3cr3t-from-env")],
    )
    .await;
    assert!(
        set.status.success(),
        "{}",
        String::from_utf8_lossy(&set.stderr)
    );
    assert!(!String::from_utf8_lossy(&set.stdout).contains("s3cr3t-from-env"));
    let got = casemate(
        dir,
        &[&["secret", "get", "mysecret"][..], &target].concat(),
        "",
        &[],
    )
    .await;
    assert_eq!(
        String::from_utf8_lossy(&got.stdout).trim(),
        "s3cr3t-from-env"
    );
    let piped = casemate(
        dir,
        &[&["secret", "set", "other", "--value-stdin"][..], &target].concat(),
        "from-stdin-value\n",
        &[],
    )
    .await;
    assert!(piped.status.success());
    let listed = casemate(
        dir,
        &[&["secret", "list", "--output", "json"][..], &target].concat(),
        "",
        &[],
    )
    .await;
    let listed = String::from_utf8_lossy(&listed.stdout).into_owned();
    assert!(listed.contains("mysecret") && listed.contains("other"));
    assert!(
        !listed.contains("s3cr3t-from-env") && !listed.contains("from-stdin-value"),
        "names only: {listed}"
    );
    // The Owner at '/' holds every data action, so the vault path works for it too.
    let by_vault = casemate(
        dir,
        &[
            "secret",
            "get",
            "mysecret",
            "--vault",
            "/resourceGroups/team/vaults/vision-vault",
        ],
        "",
        &[],
    )
    .await;
    assert_eq!(
        String::from_utf8_lossy(&by_vault.stdout).trim(),
        "s3cr3t-from-env"
    );
    let versions = casemate(
        dir,
        &[&["secret", "delete", "other"][..], &target].concat(),
        "",
        &[],
    )
    .await;
    assert!(versions.status.success());
    let deleted = casemate(
        dir,
        &[&["secret", "list-deleted"][..], &target].concat(),
        "",
        &[],
    )
    .await;
    assert!(String::from_utf8_lossy(&deleted.stdout).contains("other"));
    let recovered = casemate(
        dir,
        &[&["secret", "recover", "other"][..], &target].concat(),
        "",
        &[],
    )
    .await;
    assert!(
        recovered.status.success(),
        "{}",
        String::from_utf8_lossy(&recovered.stderr)
    );
    let disabled = casemate(
        dir,
        &[
            &["secret", "set-attributes", "other", "--enabled", "false"][..],
            &target,
        ]
        .concat(),
        "",
        &[],
    )
    .await;
    assert!(
        disabled.status.success(),
        "{}",
        String::from_utf8_lossy(&disabled.stderr)
    );
    let refused = casemate(
        dir,
        &[&["secret", "get", "other"][..], &target].concat(),
        "",
        &[],
    )
    .await;
    assert!(String::from_utf8_lossy(&refused.stderr).contains("SecretDisabled"));
    server.stop().await;
}

async fn batch_get_returns_values_and_the_names_not_found(provider: TestKeyProvider) {
    let server = TestServer::start_on(provider).await;
    let admin = workspace(&server).await;
    let mut batch = std::collections::BTreeMap::new();
    batch.insert("db-password".to_string(), Sensitive::new("pw-1"));
    batch.insert("api-key".to_string(), Sensitive::new("key-1"));
    assert_eq!(
        admin
            .set_secrets(in_workspace(), &batch)
            .await
            .unwrap()
            .len(),
        2
    );
    let names = vec![
        "db-password".to_string(),
        "API-KEY".to_string(),
        "missing".to_string(),
    ];
    let values = admin.get_secrets(in_workspace(), &names).await.unwrap();
    assert_eq!(values.secrets["db-password"].expose(), "pw-1");
    assert_eq!(
        values.secrets["API-KEY"].expose(),
        "key-1",
        "names are case-insensitive"
    );
    assert_eq!(values.not_found, ["missing"]);
    let deleted = admin
        .delete_secrets("team", "vision", &["api-key".to_string()])
        .await
        .unwrap();
    assert_eq!(deleted.len(), 1);
    let after = admin
        .get_secrets(in_workspace(), &["api-key".to_string()])
        .await
        .unwrap();
    assert_eq!(after.not_found, ["api-key"]);
    server.stop().await;
}

async fn secret_fields_are_validated_with_the_rule_named(provider: TestKeyProvider) {
    let server = TestServer::start_on(provider).await;
    let admin = workspace(&server).await;
    let too_long = "n".repeat(128);
    let cases: Vec<(&str, SetSecretRequest, &str)> = vec![
        ("bad_name", set("v"), "name:"),
        (&too_long, set("v"), "name:"),
        ("big", set(&"x".repeat(25 * 1024 + 1)), "value:"),
        (
            "typed",
            SetSecretRequest {
                content_type: Some("t".repeat(256)),
                ..set("v")
            },
            "content_type:",
        ),
        (
            "tagged",
            SetSecretRequest {
                tags: (0..16).map(|i| (format!("t{i}"), "v".into())).collect(),
                ..set("v")
            },
            "tags:",
        ),
        (
            "window",
            SetSecretRequest {
                not_before: Some(time::OffsetDateTime::UNIX_EPOCH + time::Duration::days(2)),
                expires: Some(time::OffsetDateTime::UNIX_EPOCH + time::Duration::days(1)),
                ..set("v")
            },
            "expires:",
        ),
    ];
    for (name, request, expected) in cases {
        let message = api_error(
            admin.set_secret(in_workspace(), name, &request).await,
            400,
            "InvalidInput",
        );
        assert!(message.starts_with(expected), "{message}");
    }
    admin
        .set_secret(in_workspace(), "exactly-max", &set(&"x".repeat(25 * 1024)))
        .await
        .unwrap();
    let names: Vec<String> = admin
        .list_secrets(in_workspace())
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.name)
        .collect();
    assert_eq!(names, ["exactly-max"], "nothing half-written");
    let message = api_error(
        admin.get_secrets(in_workspace(), &[]).await,
        400,
        "InvalidInput",
    );
    assert!(message.starts_with("names:"), "{message}");
    server.stop().await;
}

async fn versions_attributes_and_soft_delete_behave_like_the_vault(provider: TestKeyProvider) {
    let server = TestServer::start_on(provider).await;
    let admin = workspace(&server).await;
    let officer = server
        .user_with_role(
            "kv",
            "Key Vault Secrets Officer",
            "/resourceGroups/team/vaults/vision-vault",
        )
        .await;
    let first = officer
        .set_secret(in_vault(), "token", &set("one"))
        .await
        .unwrap();
    let second = officer
        .set_secret(in_vault(), "token", &set("two"))
        .await
        .unwrap();
    assert_ne!(first.version, second.version);
    assert_eq!(
        officer
            .get_secret(in_vault(), "token")
            .await
            .unwrap()
            .value
            .expose(),
        "two"
    );
    assert_eq!(
        officer
            .get_secret_version("team", "vision-vault", "token", &first.version)
            .await
            .unwrap()
            .value
            .expose(),
        "one"
    );
    assert_eq!(
        officer
            .secret_versions("team", "vision-vault", "token")
            .await
            .unwrap()
            .len(),
        2
    );
    // Disabled: 403 SecretDisabled, and enabled again it works.
    officer
        .update_secret(
            "team",
            "vision-vault",
            "token",
            &UpdateSecretRequest {
                enabled: Some(false),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    api_error(
        officer.get_secret(in_vault(), "token").await,
        403,
        "SecretDisabled",
    );
    officer
        .update_secret(
            "team",
            "vision-vault",
            "token",
            &UpdateSecretRequest {
                enabled: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    officer.get_secret(in_vault(), "token").await.unwrap();
    // Expiry, by the server's clock.
    let expires = server_now(&server) + time::Duration::minutes(10);
    officer
        .update_secret(
            "team",
            "vision-vault",
            "token",
            &UpdateSecretRequest {
                expires: Some(expires),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    officer.get_secret(in_vault(), "token").await.unwrap();
    server.clock.advance(time::Duration::minutes(11));
    api_error(
        officer.get_secret(in_vault(), "token").await,
        403,
        "SecretDisabled",
    );
    // Soft delete, the name held until purge, recover, purge.
    officer.delete_secret(in_vault(), "token").await.unwrap();
    api_error(
        officer.get_secret(in_vault(), "token").await,
        404,
        "NotFound",
    );
    let message = api_error(
        officer.set_secret(in_vault(), "token", &set("three")).await,
        409,
        "Conflict",
    );
    assert!(message.contains("recover or purge"), "{message}");
    assert_eq!(
        officer
            .list_deleted_secrets("team", "vision-vault")
            .await
            .unwrap()[0]
            .name,
        "token"
    );
    officer
        .recover_secret("team", "vision-vault", "token")
        .await
        .unwrap();
    assert_eq!(
        officer
            .secret_versions("team", "vision-vault", "token")
            .await
            .unwrap()
            .len(),
        2,
        "nothing lost"
    );
    officer.delete_secret(in_vault(), "token").await.unwrap();
    officer
        .purge_secret("team", "vision-vault", "token")
        .await
        .unwrap();
    assert!(
        officer
            .list_deleted_secrets("team", "vision-vault")
            .await
            .unwrap()
            .is_empty()
    );
    officer
        .set_secret(in_vault(), "token", &set("fresh"))
        .await
        .unwrap();
    assert_eq!(
        officer
            .secret_versions("team", "vision-vault", "token")
            .await
            .unwrap()
            .len(),
        1
    );
    // A Secrets User reads but cannot write or purge.
    let user = server
        .user_with_role(
            "reader",
            "Key Vault Secrets User",
            "/resourceGroups/team/vaults/vision-vault",
        )
        .await;
    assert_eq!(
        user.get_secret(in_vault(), "token")
            .await
            .unwrap()
            .value
            .expose(),
        "fresh"
    );
    api_error(
        user.set_secret(in_vault(), "token", &set("x")).await,
        403,
        "Forbidden",
    );
    api_error(
        user.purge_secret("team", "vision-vault", "token").await,
        403,
        "Forbidden",
    );
    api_error(
        admin
            .get_secret_version("team", "vision-vault", "token", "no-such-version")
            .await,
        404,
        "NotFound",
    );
    server.stop().await;
}

fn server_now(server: &TestServer) -> time::OffsetDateTime {
    use casemate_types::Clock;
    server.clock.now()
}

async fn workspace_secrets_follow_workspace_roles_and_the_identity_grant(
    provider: TestKeyProvider,
) {
    let server = TestServer::start_on(provider).await;
    let admin = workspace(&server).await;
    let carl = server.user_with_role("carl", "Contributor", WS_SCOPE).await;
    let rita = server.user_with_role("rita", "Reader", WS_SCOPE).await;
    carl.set_secret(in_workspace(), "mysecret", &set("value-1"))
        .await
        .unwrap();
    assert_eq!(
        carl.get_secret(in_workspace(), "mysecret")
            .await
            .unwrap()
            .value
            .expose(),
        "value-1"
    );
    let message = api_error(
        rita.get_secret(in_workspace(), "mysecret").await,
        403,
        "Forbidden",
    );
    assert!(
        message.contains("workspaces/metadata/secrets/read"),
        "{message}"
    );
    api_error(
        carl.get_secret(in_vault(), "mysecret").await,
        403,
        "Forbidden",
    );
    // The administrator revokes the identity's vault grant: workspace secret calls fail, naming it.
    let ws = admin.get_workspace("team", "vision").await.unwrap();
    let identity = ws.identity.principal_id.to_string();
    let grant = admin
        .check_permission(
            Some(&identity),
            "vaults/secrets/getSecret/action",
            &ws.key_vault,
        )
        .await
        .unwrap();
    admin
        .delete_role_assignment(&ws.key_vault, grant.granted_by[0].id)
        .await
        .unwrap();
    let message = api_error(
        carl.get_secret(in_workspace(), "mysecret").await,
        403,
        "Forbidden",
    );
    assert!(
        message.contains("vaults/secrets/getSecret/action") && message.contains("resynckeys"),
        "{message}"
    );
    admin.resync_keys("team", "vision").await.unwrap();
    assert_eq!(
        carl.get_secret(in_workspace(), "mysecret")
            .await
            .unwrap()
            .value
            .expose(),
        "value-1"
    );
    server.stop().await;
}

async fn values_are_sealed_at_rest_and_bound_to_their_record(provider: TestKeyProvider) {
    let server = TestServer::start_on(provider).await;
    let admin = workspace(&server).await;
    let plaintext = "plaintext-that-must-not-be-on-disk-7f3a";
    admin
        .set_secret(in_workspace(), "alpha", &set(plaintext))
        .await
        .unwrap();
    admin
        .set_secret(in_workspace(), "beta", &set("beta-value"))
        .await
        .unwrap();
    // Nothing in the database files, the blob directory or the activity log holds the value.
    let mut scanned = 0;
    for entry in walk(server.home()) {
        let bytes = std::fs::read(&entry).unwrap();
        scanned += 1;
        assert!(
            !bytes
                .windows(plaintext.len())
                .any(|w| w == plaintext.as_bytes()),
            "{} holds the plaintext",
            entry.display()
        );
    }
    assert!(scanned >= 3);
    let activity = serde_json::to_string(
        &admin
            .list_activity(&[("scope", "/"), ("limit", "1000")])
            .await
            .unwrap(),
    )
    .unwrap();
    assert!(!activity.contains(plaintext));
    // A ciphertext copied onto another record does not open there.
    server
        .sql("UPDATE secret_versions SET ciphertext = (SELECT ciphertext FROM secret_versions WHERE name = 'alpha') WHERE name = 'beta';")
        .await
        .unwrap();
    let result = admin.get_secret(in_workspace(), "beta").await;
    let message = api_error(result, 500, "InternalError");
    assert!(!message.contains(plaintext));
    assert_eq!(
        admin
            .get_secret(in_workspace(), "alpha")
            .await
            .unwrap()
            .value
            .expose(),
        plaintext
    );
    server.stop().await;
}

pub fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

async fn a_full_secret_lifecycle_at_trace_leaves_no_plaintext_anywhere(provider: TestKeyProvider) {
    let logs = casemate_testkit::capture_logs();
    let server = TestServer::start_on(provider).await;
    let admin = workspace(&server).await;
    let value = "lifecycle-plaintext-5b2c9e";
    let rotated = "lifecycle-rotated-plaintext-d41f";
    admin
        .set_secret(in_workspace(), "db-password", &set(value))
        .await
        .unwrap();
    assert_eq!(
        admin
            .get_secret(in_workspace(), "db-password")
            .await
            .unwrap()
            .value
            .expose(),
        value
    );
    admin
        .set_secret(in_workspace(), "db-password", &set(rotated))
        .await
        .unwrap();
    admin
        .get_secrets(
            in_workspace(),
            &["db-password".to_string(), "nope".to_string()],
        )
        .await
        .unwrap();
    admin.list_secrets(in_workspace()).await.unwrap();
    admin
        .update_secret(
            "team",
            "vision-vault",
            "db-password",
            &UpdateSecretRequest {
                enabled: Some(false),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    api_error(
        admin.get_secret(in_workspace(), "db-password").await,
        403,
        "SecretDisabled",
    );
    admin
        .update_secret(
            "team",
            "vision-vault",
            "db-password",
            &UpdateSecretRequest {
                enabled: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    admin
        .delete_secret(in_workspace(), "db-password")
        .await
        .unwrap();
    admin
        .recover_secret("team", "vision-vault", "db-password")
        .await
        .unwrap();
    admin
        .delete_secret(in_workspace(), "db-password")
        .await
        .unwrap();
    admin
        .purge_secret("team", "vision-vault", "db-password")
        .await
        .unwrap();
    let activity = serde_json::to_string(
        &admin
            .list_activity(&[("scope", "/"), ("limit", "1000")])
            .await
            .unwrap(),
    )
    .unwrap();
    let mut files: Vec<(std::path::PathBuf, Vec<u8>)> = walk(server.home())
        .into_iter()
        .map(|f| (f.clone(), std::fs::read(&f).unwrap()))
        .collect();
    match server.postgres_rows().await {
        // PostgreSQL shows byte columns in hex: the values are searched for in hex too.
        Some(rows) => files.push(("PostgreSQL".into(), rows.into_bytes())),
        None => assert!(
            files.iter().any(|(f, _)| f.ends_with("casemate.db-wal")),
            "the write-ahead log is scanned too"
        ),
    }
    server.stop().await;
    let log_text = logs.text();
    assert!(log_text.contains("TRACE"), "logs were captured at TRACE");
    assert!(log_text.contains("request"), "the access log is in there");
    for plaintext in [value, rotated] {
        assert!(
            !log_text.contains(plaintext),
            "a secret value reached the log"
        );
        assert!(
            !activity.contains(plaintext),
            "a secret value reached the activity log"
        );
        let in_hex: String = plaintext.bytes().map(|b| format!("{b:02x}")).collect();
        for (file, bytes) in &files {
            for needle in [plaintext.as_bytes(), in_hex.as_bytes()] {
                assert!(
                    !bytes.windows(needle.len()).any(|w| w == needle),
                    "{} holds a secret value",
                    file.display()
                );
            }
        }
    }
}

async fn deleting_a_workspace_shreds_its_vault_and_a_new_one_of_that_name_starts_empty(
    provider: TestKeyProvider,
) {
    let server = TestServer::start_on(provider).await;
    let admin = workspace(&server).await;
    admin
        .set_secret(
            in_workspace(),
            "old-secret",
            &set("from-the-first-workspace"),
        )
        .await
        .unwrap();
    admin
        .create_key("team", "vision-vault", "cmk")
        .await
        .unwrap();
    admin.delete_workspace("team", "vision").await.unwrap();
    for table in [
        "secrets",
        "secret_versions",
        "vault_keys",
        "vault_key_versions",
        "data_keys",
    ] {
        assert_eq!(
            server.count_rows(table).await,
            0,
            "{table} keeps rows of the deleted vault"
        );
    }
    admin
        .create_workspace("team", "vision", &CreateWorkspaceRequest::default())
        .await
        .unwrap();
    api_error(
        admin.get_secret(in_workspace(), "old-secret").await,
        404,
        "NotFound",
    );
    assert!(admin.list_secrets(in_workspace()).await.unwrap().is_empty());
    api_error(
        admin.get_key("team", "vision-vault", "cmk").await,
        404,
        "NotFound",
    );
    server.stop().await;
}

async fn purge_protection_keeps_deleted_secrets_and_keys_for_their_retention(
    provider: TestKeyProvider,
) {
    let server = TestServer::start_on(provider).await;
    let admin = workspace(&server).await;
    for days in [6, 91] {
        let request = UpdateVaultRequest {
            soft_delete_retention_days: Some(days),
            purge_protection: None,
        };
        let message = api_error(
            admin.update_vault("team", "vision-vault", &request).await,
            400,
            "InvalidInput",
        );
        assert!(
            message.starts_with("soft_delete_retention_days:"),
            "{message}"
        );
    }
    let protected = admin
        .update_vault(
            "team",
            "vision-vault",
            &UpdateVaultRequest {
                soft_delete_retention_days: Some(7),
                purge_protection: Some(true),
            },
        )
        .await
        .unwrap();
    assert!(protected.purge_protection);
    let message = api_error(
        admin
            .update_vault(
                "team",
                "vision-vault",
                &UpdateVaultRequest {
                    soft_delete_retention_days: None,
                    purge_protection: Some(false),
                },
            )
            .await,
        400,
        "InvalidInput",
    );
    assert!(message.starts_with("purge_protection:"), "{message}");
    admin
        .set_secret(in_workspace(), "kept", &set("v"))
        .await
        .unwrap();
    let deleted = admin.delete_secret(in_workspace(), "kept").await.unwrap();
    assert_eq!(
        deleted.scheduled_purge - deleted.deleted,
        time::Duration::days(7)
    );
    let message = api_error(
        admin.purge_secret("team", "vision-vault", "kept").await,
        403,
        "Forbidden",
    );
    assert!(message.contains("purge protection"), "{message}");
    admin
        .create_key("team", "vision-vault", "cmk")
        .await
        .unwrap();
    admin
        .delete_key("team", "vision-vault", "cmk")
        .await
        .unwrap();
    api_error(
        admin.purge_key("team", "vision-vault", "cmk").await,
        403,
        "Forbidden",
    );
    admin
        .recover_secret("team", "vision-vault", "kept")
        .await
        .unwrap();
    assert_eq!(
        admin
            .get_secret(in_workspace(), "kept")
            .await
            .unwrap()
            .value
            .expose(),
        "v"
    );
    let carl = server
        .user_with_role("carl", "Reader", "/resourceGroups/team")
        .await;
    api_error(
        carl.update_vault("team", "vision-vault", &UpdateVaultRequest::default())
            .await,
        403,
        "Forbidden",
    );
    server.stop().await;
}

crate::on_both_key_providers!(
    the_seed_flow_works_from_the_cli,
    batch_get_returns_values_and_the_names_not_found,
    secret_fields_are_validated_with_the_rule_named,
    versions_attributes_and_soft_delete_behave_like_the_vault,
    workspace_secrets_follow_workspace_roles_and_the_identity_grant,
    values_are_sealed_at_rest_and_bound_to_their_record,
    a_full_secret_lifecycle_at_trace_leaves_no_plaintext_anywhere,
    deleting_a_workspace_shreds_its_vault_and_a_new_one_of_that_name_starts_empty,
    purge_protection_keeps_deleted_secrets_and_keys_for_their_retention,
);
