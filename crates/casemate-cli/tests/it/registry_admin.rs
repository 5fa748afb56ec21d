//! Registries as resources through the CLI and a real OCI client (skopeo): a private registry
//! outside any workspace, its admin user off by default and refused, pushing while enabled, a
//! renewed password refusing the old one, and every field refused by name.

use crate::cli::{casemate, casemate_json, login_admin, succeeded};
use crate::mlflow::workspaces;
use crate::registries::{image_layout, skopeo};
use crate::{api_error, raw_error};
use base64::Engine;
use casemate_testkit::TestServer;
use casemate_types::wire::{CreateRegistryRequest, CreateWorkspaceRequest, UpdateRegistryRequest};

/// A skopeo invocation against the test server, trusting its certificate.
pub(crate) struct Skopeo {
    cert_dir: tempfile::TempDir,
    host: String,
}

impl Skopeo {
    pub(crate) fn new(server: &TestServer) -> Self {
        let cert_dir = tempfile::tempdir().unwrap();
        std::fs::copy(server.cert_path(), cert_dir.path().join("casemate.crt")).unwrap();
        let host = server.url.trim_start_matches("https://").to_owned();
        Self { cert_dir, host }
    }

    pub(crate) fn image(&self, path: &str) -> String {
        format!("docker://{}/{path}", self.host)
    }

    pub(crate) async fn push(&self, layout: &str, path: &str, creds: &str) -> std::process::Output {
        let cert_dir = self.cert_dir.path().to_str().unwrap();
        let image = self.image(path);
        let args = [
            "copy",
            "--dest-cert-dir",
            cert_dir,
            "--dest-creds",
            creds,
            layout,
            &image,
        ];
        skopeo(&args).await
    }

    pub(crate) async fn inspect(&self, path: &str, creds: &str) -> std::process::Output {
        let cert_dir = self.cert_dir.path().to_str().unwrap();
        let image = self.image(path);
        let args = [
            "inspect",
            "--raw",
            "--cert-dir",
            cert_dir,
            "--creds",
            creds,
            &image,
        ];
        skopeo(&args).await
    }
}

#[track_caller]
fn refused_as_unauthorized(output: &std::process::Output) {
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("unauthorized") || stderr.contains("401"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_admin_user_is_off_by_default_and_pushes_its_registry_only_while_enabled() {
    let server = TestServer::start().await;
    let admin = workspaces(&server).await;
    let config = tempfile::tempdir().unwrap();
    succeeded(&login_admin(&server, config.path()).await);
    let registry = |args: &[&str]| -> Vec<String> {
        ["registry"]
            .iter()
            .chain(args)
            .chain(&["-g", "team"])
            .map(|s| (*s).to_owned())
            .collect()
    };
    let run = |args: Vec<String>| {
        let path = config.path().to_owned();
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            casemate(&path, &args, "", &[]).await
        }
    };
    let json = |args: Vec<String>| {
        let path = config.path().to_owned();
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            casemate_json(&path, &args).await
        }
    };

    let created = json(registry(&["create", "private"])).await;
    assert_eq!(created["admin_user_enabled"], false);
    assert_eq!(created["login_path"], "team/private");
    assert!(created.get("workspace").is_none(), "{created}");
    // The workspace's own registry says whose it is.
    let own = admin.get_registry("team", "vision-registry").await.unwrap();
    assert_eq!(
        own.workspace.as_deref(),
        Some("/resourceGroups/team/workspaces/vision")
    );
    assert!(!own.admin_user_enabled);

    // Off: no credentials to show, and an admin-shaped password is refused by the token flow.
    let shown = run(registry(&["credential", "show", "private"])).await;
    assert!(!shown.status.success());
    assert!(String::from_utf8_lossy(&shown.stderr).contains("disabled"));
    let source = tempfile::tempdir().unwrap();
    image_layout(
        source.path(),
        &b"layer bytes of the private image".repeat(500),
    );
    let layout = format!("oci:{}:v1", source.path().display());
    let skopeo = Skopeo::new(&server);
    let guessed = format!("team/private:cma_{}_{}", "0".repeat(32), "A".repeat(43));
    refused_as_unauthorized(
        &skopeo
            .push(&layout, "team/private/tools/app:v1", &guessed)
            .await,
    );

    // On: two passwords, each good for pushing and pulling this registry and nothing else.
    let updated = json(registry(&["update", "private", "--admin-enabled", "true"])).await;
    assert_eq!(updated["admin_user_enabled"], true);
    let credentials = json(registry(&["credential", "show", "private"])).await;
    assert_eq!(credentials["username"], "team/private");
    let password = |c: &serde_json::Value, name: &str| -> String {
        c["passwords"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap()["value"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let first = password(&credentials, "password");
    let second = password(&credentials, "password2");
    assert!(first.starts_with("cma_") && second.starts_with("cma_") && first != second);
    let as_first = format!("team/private:{first}");
    let pushed = skopeo
        .push(&layout, "team/private/tools/app:v1", &as_first)
        .await;
    assert!(
        pushed.status.success(),
        "{}",
        String::from_utf8_lossy(&pushed.stderr)
    );
    let as_second = format!("team/private:{second}");
    let inspected = skopeo
        .inspect("team/private/tools/app:v1", &as_second)
        .await;
    assert!(
        inspected.status.success(),
        "{}",
        String::from_utf8_lossy(&inspected.stderr)
    );
    let elsewhere = skopeo
        .push(&layout, "team/vision-registry/tools/app:v1", &as_first)
        .await;
    assert!(!elsewhere.status.success());
    let stderr = String::from_utf8_lossy(&elsewhere.stderr);
    assert!(
        stderr.contains("denied") || stderr.contains("403"),
        "{stderr}"
    );

    // A token minted from the second password, to see it die when the admin user is turned off.
    let basic = base64::engine::general_purpose::STANDARD.encode(&as_second);
    let minted = server
        .anonymous()
        .raw(
            "GET",
            "/oauth2/registry-token",
            &[("authorization", &format!("Basic {basic}"))],
            Vec::new(),
        )
        .await
        .unwrap();
    assert_eq!(minted.status, 200);
    // The token flow's answers are sign-ins in the activity log: the guessed password refused,
    // the real ones signed in.
    let recorded =
        crate::sign_in_activity::records_of(&admin, "oauth2/registry-token/action").await;
    assert!(
        recorded
            .iter()
            .any(|e| e.outcome == "Denied" && e.caller_name == "(unauthenticated)"),
        "{recorded:?}"
    );
    assert!(
        recorded
            .iter()
            .any(|e| e.outcome == "Succeeded" && !e.caller_id.is_empty()),
        "{recorded:?}"
    );
    assert!(
        !format!("{recorded:?}").contains(&second),
        "no password recorded"
    );
    let token: serde_json::Value = serde_json::from_slice(&minted.body).unwrap();
    let bearer = format!("Bearer {}", token["token"].as_str().unwrap());
    let head = || async {
        server
            .anonymous()
            .raw(
                "HEAD",
                "/v2/team/private/tools/app/manifests/v1",
                &[("authorization", &bearer)],
                Vec::new(),
            )
            .await
            .unwrap()
            .status
    };
    assert_eq!(head().await, 200);

    // Renewing the first password refuses it from then on; the second still works.
    let renewed = json(registry(&[
        "credential",
        "renew",
        "private",
        "--password-name",
        "password",
    ]))
    .await;
    let renewed_first = password(&renewed, "password");
    assert_ne!(renewed_first, first);
    assert_eq!(password(&renewed, "password2"), second);
    refused_as_unauthorized(&skopeo.inspect("team/private/tools/app:v1", &as_first).await);
    let as_renewed = format!("team/private:{renewed_first}");
    assert!(
        skopeo
            .inspect("team/private/tools/app:v1", &as_renewed)
            .await
            .status
            .success()
    );

    // Off again: its passwords and the tokens minted from them are refused at once.
    succeeded(&run(registry(&["update", "private", "--admin-enabled", "false"])).await);
    refused_as_unauthorized(
        &skopeo
            .inspect("team/private/tools/app:v1", &as_renewed)
            .await,
    );
    assert_eq!(head().await, 401);
    // And back on: the same passwords, as the platform keeps them.
    succeeded(&run(registry(&["update", "private", "--admin-enabled", "true"])).await);
    assert!(
        skopeo
            .inspect("team/private/tools/app:v1", &as_renewed)
            .await
            .status
            .success()
    );

    // No password reached the activity log.
    let page = admin
        .list_activity(&[("scope", "/resourceGroups/team/registries/private")])
        .await
        .unwrap();
    assert!(
        page.entries
            .iter()
            .any(|e| e.operation == "registries/listCredentials/action")
    );
    let text = serde_json::to_string(&page.entries).unwrap();
    for secret in [&first, &second, &renewed_first] {
        assert!(!text.contains(secret.as_str()));
    }

    // A workspace's registry goes with its workspace; a registry of its own is deleted with
    // its images and its admin user.
    let refused = run(registry(&["delete", "vision-registry"])).await;
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("workspace"));
    succeeded(&run(registry(&["delete", "private"])).await);
    assert_eq!(
        server.sql_scalar("SELECT CAST(COUNT(*) AS TEXT) FROM registry_manifests WHERE registry_id = '/resourceGroups/team/registries/private'").await,
        "0"
    );
    assert_eq!(
        server
            .sql_scalar(
                "SELECT CAST(COUNT(*) AS TEXT) FROM principals WHERE kind = 'registry_admin'"
            )
            .await,
        "0"
    );
    refused_as_unauthorized(
        &skopeo
            .inspect("team/private/tools/app:v1", &as_renewed)
            .await,
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn registry_requests_are_refused_by_field_and_credentials_need_their_action() {
    let server = TestServer::start().await;
    let admin = workspaces(&server).await;
    let plain = CreateRegistryRequest::default();

    let message = api_error(
        admin.create_registry("team", "-bad", &plain).await,
        400,
        "InvalidInput",
    );
    assert!(message.contains("name"), "{message}");
    let control = CreateRegistryRequest {
        description: Some("bell\u{7}".into()),
        admin_user_enabled: false,
    };
    let message = api_error(
        admin.create_registry("team", "good", &control).await,
        400,
        "InvalidInput",
    );
    assert!(message.contains("description"), "{message}");
    let unknown = admin
        .raw(
            "PUT",
            "/resourceGroups/team/registries/good",
            &[("content-type", "application/json")],
            br#"{"admin":true}"#.to_vec(),
        )
        .await
        .unwrap();
    let message = raw_error(&unknown, 400, "InvalidInput");
    assert!(message.contains("admin"), "{message}");
    assert!(
        admin
            .list_registries("team")
            .await
            .unwrap()
            .iter()
            .all(|r| r.name != "good")
    );

    admin.create_registry("team", "good", &plain).await.unwrap();
    api_error(
        admin.create_registry("team", "good", &plain).await,
        409,
        "Conflict",
    );
    let message = api_error(
        admin
            .regenerate_registry_credential("team", "good", "password3")
            .await,
        400,
        "InvalidInput",
    );
    assert!(
        message.contains("name") && message.contains("password2"),
        "{message}"
    );
    let message = api_error(
        admin.list_registry_credentials("team", "good").await,
        409,
        "Conflict",
    );
    assert!(message.contains("disabled"), "{message}");
    let bad_update = UpdateRegistryRequest {
        admin_user_enabled: None,
        description: Some("x".repeat(1025)),
    };
    let message = api_error(
        admin.update_registry("team", "good", &bad_update).await,
        400,
        "InvalidInput",
    );
    assert!(message.contains("description"), "{message}");

    // An attached registry keeps its own admin setting: asking for one is refused, and no
    // workspace is made.
    let attach = CreateWorkspaceRequest {
        container_registry: Some("/resourceGroups/team/registries/good".into()),
        registry_admin_enabled: true,
        ..CreateWorkspaceRequest::default()
    };
    let message = api_error(
        admin.create_workspace("team", "speech", &attach).await,
        400,
        "InvalidInput",
    );
    assert!(message.contains("registry_admin_enabled"), "{message}");
    assert!(
        admin
            .list_workspaces("team")
            .await
            .unwrap()
            .iter()
            .all(|w| w.name != "speech")
    );

    // Reading a registry is not seeing its passwords.
    let enable = UpdateRegistryRequest {
        admin_user_enabled: Some(true),
        description: None,
    };
    admin
        .update_registry("team", "good", &enable)
        .await
        .unwrap();
    let reader = server
        .user_with_role("rita", "Reader", "/resourceGroups/team")
        .await;
    assert!(
        reader
            .get_registry("team", "good")
            .await
            .unwrap()
            .admin_user_enabled
    );
    api_error(
        reader.list_registry_credentials("team", "good").await,
        403,
        "Forbidden",
    );
    api_error(
        reader
            .regenerate_registry_credential("team", "good", "password")
            .await,
        403,
        "Forbidden",
    );
    api_error(
        reader.update_registry("team", "good", &enable).await,
        403,
        "Forbidden",
    );
    let contributor = server
        .user_with_role(
            "cody",
            "Contributor",
            "/resourceGroups/team/registries/good",
        )
        .await;
    let credentials = contributor
        .list_registry_credentials("team", "good")
        .await
        .unwrap();
    assert_eq!(credentials.passwords.len(), 2);
    // A workspace's registry, admin user and all, goes with the workspace.
    let own = CreateWorkspaceRequest {
        registry_admin_enabled: true,
        ..CreateWorkspaceRequest::default()
    };
    admin
        .create_workspace("team", "speech", &own)
        .await
        .unwrap();
    admin
        .list_registry_credentials("team", "speech-registry")
        .await
        .unwrap();
    let admins = "SELECT CAST(COUNT(*) AS TEXT) FROM principals WHERE kind = 'registry_admin'";
    assert_eq!(server.sql_scalar(admins).await, "2");
    admin.delete_workspace("team", "speech").await.unwrap();
    assert_eq!(server.sql_scalar(admins).await, "1");
    api_error(
        admin.get_registry("team", "speech-registry").await,
        404,
        "NotFound",
    );
    // Debug output never shows a password.
    let debug = format!("{credentials:?}");
    assert!(
        !debug.contains(credentials.passwords[0].value.expose()),
        "{debug}"
    );
}
