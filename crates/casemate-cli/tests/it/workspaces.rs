//! Resource groups and workspaces: provisioning, the identity's grants, immutability, resynckeys.

use crate::api_error;
use casemate_testkit::TestServer;
use casemate_types::wire::*;

#[tokio::test(flavor = "multi_thread")]
async fn a_workspace_comes_with_its_resources_and_an_identity_holding_exactly_the_seed_grants() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    admin.create_resource_group("team").await.unwrap();
    let carl = server
        .user_with_role("carl", "Contributor", "/resourceGroups/team")
        .await;
    let ws = carl
        .create_workspace(
            "team",
            "vision",
            &CreateWorkspaceRequest {
                hbi_workspace: true,
                description: Some("CV".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(ws.id, "/resourceGroups/team/workspaces/vision");
    assert!(ws.hbi_workspace);
    assert_eq!(ws.key_vault, "/resourceGroups/team/vaults/vision-vault");
    assert_eq!(ws.storage, "/resourceGroups/team/storage/vision-storage");
    assert_eq!(
        ws.container_registry,
        "/resourceGroups/team/registries/vision-registry"
    );
    assert_eq!(
        ws.monitoring,
        "/resourceGroups/team/monitors/vision-insights"
    );
    assert_eq!(ws.identity.kind, "SystemAssigned");
    let identity = ws.identity.principal_id.to_string();
    let mut grants: Vec<(String, String)> = admin
        .list_role_assignments("/", Some(&identity), None, false)
        .await
        .unwrap()
        .into_iter()
        .map(|a| (a.role, a.scope))
        .collect();
    grants.sort();
    let mut expected = vec![
        ("Contributor".to_string(), ws.id.clone()),
        (
            "Contributor".to_string(),
            "/resourceGroups/team".to_string(),
        ),
        ("Contributor".to_string(), ws.container_registry.clone()),
        ("Key Vault Administrator".to_string(), ws.key_vault.clone()),
        (
            "Storage Blob Data Contributor".to_string(),
            ws.storage.clone(),
        ),
    ];
    expected.sort();
    assert_eq!(grants, expected);
    // The creator gets no role beyond what they held.
    let carls = admin
        .list_role_assignments("/", Some("carl"), None, false)
        .await
        .unwrap();
    assert_eq!(carls.len(), 1);
    assert_eq!(carls[0].scope, "/resourceGroups/team");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn options_fixed_at_creation_cannot_be_updated() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    admin.create_resource_group("team").await.unwrap();
    admin
        .create_workspace("team", "vision", &CreateWorkspaceRequest::default())
        .await
        .unwrap();
    for (field, body) in [
        ("hbi_workspace", r#"{"hbi_workspace":true}"#),
        (
            "cmk_keyvault",
            r#"{"cmk_keyvault":"/resourceGroups/team/vaults/x"}"#,
        ),
        ("resource_cmk_uri", r#"{"resource_cmk_uri":"https://h/k"}"#),
        (
            "primary_user_assigned_identity",
            r#"{"primary_user_assigned_identity":"/x"}"#,
        ),
    ] {
        let response = admin
            .raw(
                "PATCH",
                "/resourceGroups/team/workspaces/vision",
                &[("content-type", "application/json")],
                body.as_bytes().to_vec(),
            )
            .await
            .unwrap();
        let message = crate::raw_error(&response, 400, "InvalidInput");
        assert!(
            message.starts_with(&format!("{field}:")) && message.contains("fixed"),
            "{message}"
        );
    }
    let mut tags = std::collections::BTreeMap::new();
    tags.insert("team".to_string(), "cv".to_string());
    let updated = admin
        .update_workspace(
            "team",
            "vision",
            &UpdateWorkspaceRequest {
                description: Some("new".into()),
                tags: Some(tags),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.description, "new");
    assert_eq!(updated.tags["team"], "cv");
    assert!(!updated.hbi_workspace);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn workspace_fields_are_validated() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let message = api_error(
        admin.create_resource_group("bad/name").await,
        400,
        "InvalidInput",
    );
    assert!(message.starts_with("path:"), "{message}");
    api_error(
        admin.create_resource_group("ends.").await,
        400,
        "InvalidInput",
    );
    admin.create_resource_group("team").await.unwrap();
    api_error(admin.create_resource_group("TEAM").await, 409, "Conflict");
    let create = |name: &'static str, request: CreateWorkspaceRequest| {
        let admin = admin.clone();
        async move { admin.create_workspace("team", name, &request).await }
    };
    let message = api_error(
        create("ab", CreateWorkspaceRequest::default()).await,
        400,
        "InvalidInput",
    );
    assert!(message.starts_with("name:"), "{message}");
    let message = api_error(
        create(
            "vision",
            CreateWorkspaceRequest {
                cmk_keyvault: Some("/resourceGroups/team/vaults/k".into()),
                ..Default::default()
            },
        )
        .await,
        400,
        "InvalidInput",
    );
    assert!(message.starts_with("resource_cmk_uri:"), "{message}");
    let message = api_error(
        create(
            "vision",
            CreateWorkspaceRequest {
                resource_cmk_uri: Some("https://h/resourceGroups/team/vaults/k/keys/a/1".into()),
                ..Default::default()
            },
        )
        .await,
        400,
        "InvalidInput",
    );
    assert!(message.starts_with("cmk_keyvault:"), "{message}");
    let message = api_error(
        create(
            "vision",
            CreateWorkspaceRequest {
                cmk_keyvault: Some("/resourceGroups/team/vaults/k".into()),
                resource_cmk_uri: Some(
                    "https://h/resourceGroups/team/vaults/other/keys/a/1".into(),
                ),
                ..Default::default()
            },
        )
        .await,
        400,
        "InvalidInput",
    );
    assert!(message.starts_with("resource_cmk_uri:"), "{message}");
    let message = api_error(
        create(
            "vision",
            CreateWorkspaceRequest {
                key_vault: Some("/resourceGroups/team/vaults/none".into()),
                ..Default::default()
            },
        )
        .await,
        400,
        "InvalidInput",
    );
    assert!(
        message.starts_with("key_vault:") && message.contains("does not exist"),
        "{message}"
    );
    let message = api_error(
        create(
            "vision",
            CreateWorkspaceRequest {
                primary_user_assigned_identity: Some("/resourceGroups/team/vaults/x".into()),
                ..Default::default()
            },
        )
        .await,
        400,
        "InvalidInput",
    );
    assert!(
        message.starts_with("primary_user_assigned_identity:"),
        "{message}"
    );
    let many: std::collections::BTreeMap<String, String> =
        (0..16).map(|i| (format!("t{i}"), "v".into())).collect();
    let message = api_error(
        create(
            "vision",
            CreateWorkspaceRequest {
                tags: many,
                ..Default::default()
            },
        )
        .await,
        400,
        "InvalidInput",
    );
    assert!(message.starts_with("tags:"), "{message}");
    api_error(
        admin
            .create_workspace("nowhere", "vision", &CreateWorkspaceRequest::default())
            .await,
        404,
        "NotFound",
    );
    assert!(
        admin.list_workspaces("team").await.unwrap().is_empty(),
        "nothing half-made"
    );
    assert_eq!(
        admin
            .list_role_assignments("/", None, None, false)
            .await
            .unwrap()
            .len(),
        1,
        "no stray identity grants"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_existing_vault_in_another_group_is_attached_with_its_group_grant() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    admin.create_resource_group("team").await.unwrap();
    admin.create_resource_group("security").await.unwrap();
    let first = admin
        .create_workspace("security", "keys-ws", &CreateWorkspaceRequest::default())
        .await
        .unwrap();
    let ws = admin
        .create_workspace(
            "team",
            "vision",
            &CreateWorkspaceRequest {
                key_vault: Some(first.key_vault.clone()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(ws.key_vault, first.key_vault);
    let grants = admin
        .list_role_assignments(
            "/",
            Some(&ws.identity.principal_id.to_string()),
            None,
            false,
        )
        .await
        .unwrap();
    assert!(
        grants
            .iter()
            .any(|a| a.role == "Contributor" && a.scope == "/resourceGroups/security"),
        "{grants:?}"
    );
    assert_eq!(grants.len(), 6);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_removed_vault_grant_shows_in_auth_check_and_resynckeys_restores_it() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    admin.create_resource_group("team").await.unwrap();
    let ws = admin
        .create_workspace("team", "vision", &CreateWorkspaceRequest::default())
        .await
        .unwrap();
    let identity = ws.identity.principal_id.to_string();
    let action = "vaults/secrets/getSecret/action";
    let before = admin
        .check_permission(Some(&identity), action, &ws.key_vault)
        .await
        .unwrap();
    assert!(before.allowed);
    assert_eq!(before.granted_by[0].role, "Key Vault Administrator");
    admin
        .delete_role_assignment(&ws.key_vault, before.granted_by[0].id)
        .await
        .unwrap();
    assert!(
        !admin
            .check_permission(Some(&identity), action, &ws.key_vault)
            .await
            .unwrap()
            .allowed
    );
    let report = admin.resync_keys("team", "vision").await.unwrap();
    assert_eq!(report.restored.len(), 1);
    assert_eq!(report.restored[0].role, "Key Vault Administrator");
    assert!(
        admin
            .check_permission(Some(&identity), action, &ws.key_vault)
            .await
            .unwrap()
            .allowed
    );
    assert!(
        admin
            .resync_keys("team", "vision")
            .await
            .unwrap()
            .restored
            .is_empty()
    );
    let permissions = admin
        .list_permissions(Some(&identity), &ws.key_vault)
        .await
        .unwrap();
    assert!(permissions.data_actions.iter().any(|a| a == action));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_a_workspace_removes_its_resources_identity_and_grants() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    admin.create_resource_group("team").await.unwrap();
    let ws = admin
        .create_workspace("team", "vision", &CreateWorkspaceRequest::default())
        .await
        .unwrap();
    let message = api_error(admin.delete_resource_group("team").await, 409, "Conflict");
    assert!(message.contains("still holds"), "{message}");
    admin.delete_workspace("team", "vision").await.unwrap();
    api_error(admin.get_workspace("team", "vision").await, 404, "NotFound");
    assert!(
        admin
            .list_role_assignments(
                "/",
                Some(&ws.identity.principal_id.to_string()),
                None,
                false
            )
            .await
            .is_err(),
        "identity gone"
    );
    assert_eq!(
        admin
            .list_role_assignments("/", None, None, false)
            .await
            .unwrap()
            .len(),
        1
    );
    admin.delete_resource_group("team").await.unwrap();
    assert!(admin.list_resource_groups().await.unwrap().is_empty());
    server.stop().await;
}
