//! Vault keys: rotation, instant revocation and restoration with nothing lost, soft delete.

use crate::api_error;
use casemate_testkit::{TestKeyProvider, TestServer};
use casemate_types::Sensitive;
use casemate_types::wire::*;

const VAULT: &str = "/resourceGroups/team/vaults/vision-vault";

fn b64(bytes: &[u8]) -> Sensitive {
    use base64::Engine;
    Sensitive::new(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

fn version_of(kid: &str) -> &str {
    kid.rsplit('/').next().unwrap()
}

async fn rotation_revocation_and_restoration_take_effect_on_the_next_request(
    provider: TestKeyProvider,
) {
    let server = TestServer::start_on(provider).await;
    let admin = server.admin().await;
    admin.create_resource_group("team").await.unwrap();
    admin
        .create_workspace("team", "vision", &CreateWorkspaceRequest::default())
        .await
        .unwrap();
    let officer = server
        .user_with_role("crypto", "Key Vault Crypto Officer", VAULT)
        .await;
    let key = officer
        .create_key("team", "vision-vault", "cmk")
        .await
        .unwrap();
    assert_eq!(key.versions.len(), 1);
    assert!(
        key.kid.starts_with("https://127.0.0.1:")
            && key
                .kid
                .contains("/resourceGroups/team/vaults/vision-vault/keys/cmk/"),
        "{}",
        key.kid
    );
    let data_key = [7u8; 32];
    let first = officer
        .wrap_key("team", "vision-vault", "cmk", b64(&data_key))
        .await
        .unwrap();
    assert_eq!(first.kid, key.kid);
    // Rotation: new wraps use the new version at once; the old version still unwraps.
    let rotated = officer
        .rotate_key("team", "vision-vault", "cmk")
        .await
        .unwrap();
    assert_eq!(rotated.versions.len(), 2);
    let second = officer
        .wrap_key("team", "vision-vault", "cmk", b64(&data_key))
        .await
        .unwrap();
    assert_eq!(second.kid, rotated.kid);
    assert_ne!(second.kid, first.kid);
    let back = officer
        .unwrap_key(
            "team",
            "vision-vault",
            "cmk",
            version_of(&first.kid),
            first.value.clone(),
        )
        .await
        .unwrap();
    assert_eq!(back.value.expose(), b64(&data_key).expose());
    // Disabling the whole key refuses every use on the very next request, naming the key.
    officer
        .set_key_enabled("team", "vision-vault", "cmk", None, false)
        .await
        .unwrap();
    let message = api_error(
        officer
            .wrap_key("team", "vision-vault", "cmk", b64(&data_key))
            .await,
        423,
        "KeyDisabled",
    );
    assert!(message.contains("cmk"), "{message}");
    api_error(
        officer
            .unwrap_key(
                "team",
                "vision-vault",
                "cmk",
                version_of(&second.kid),
                second.value.clone(),
            )
            .await,
        423,
        "KeyDisabled",
    );
    // Enabled again: everything works, nothing was lost.
    officer
        .set_key_enabled("team", "vision-vault", "cmk", None, true)
        .await
        .unwrap();
    let again = officer
        .unwrap_key(
            "team",
            "vision-vault",
            "cmk",
            version_of(&second.kid),
            second.value.clone(),
        )
        .await
        .unwrap();
    assert_eq!(again.value.expose(), b64(&data_key).expose());
    // Disabling the newest version: new wraps fall back to the newest enabled one; its unwraps are refused.
    officer
        .set_key_enabled(
            "team",
            "vision-vault",
            "cmk",
            Some(version_of(&second.kid)),
            false,
        )
        .await
        .unwrap();
    let fallback = officer
        .wrap_key("team", "vision-vault", "cmk", b64(&data_key))
        .await
        .unwrap();
    assert_eq!(fallback.kid, first.kid);
    api_error(
        officer
            .unwrap_key(
                "team",
                "vision-vault",
                "cmk",
                version_of(&second.kid),
                second.value.clone(),
            )
            .await,
        423,
        "KeyDisabled",
    );
    // A wrapped value from one version does not unwrap under another.
    officer
        .set_key_enabled(
            "team",
            "vision-vault",
            "cmk",
            Some(version_of(&second.kid)),
            true,
        )
        .await
        .unwrap();
    let message = api_error(
        officer
            .unwrap_key(
                "team",
                "vision-vault",
                "cmk",
                version_of(&first.kid),
                second.value.clone(),
            )
            .await,
        400,
        "InvalidInput",
    );
    assert!(message.starts_with("value:"), "{message}");
    server.stop().await;
}

async fn keys_soft_delete_recover_purge_and_validate_input(provider: TestKeyProvider) {
    let server = TestServer::start_on(provider).await;
    let admin = server.admin().await;
    admin.create_resource_group("team").await.unwrap();
    admin
        .create_workspace("team", "vision", &CreateWorkspaceRequest::default())
        .await
        .unwrap();
    admin
        .create_key("team", "vision-vault", "cmk")
        .await
        .unwrap();
    api_error(
        admin.create_key("team", "vision-vault", "CMK").await,
        409,
        "Conflict",
    );
    api_error(
        admin.create_key("team", "vision-vault", "bad_name").await,
        400,
        "InvalidInput",
    );
    let message = api_error(
        admin
            .wrap_key("team", "vision-vault", "cmk", Sensitive::new("not base64!"))
            .await,
        400,
        "InvalidInput",
    );
    assert!(message.starts_with("value:"), "{message}");
    let bad_size = admin
        .raw(
            "PUT",
            "/resourceGroups/team/vaults/vision-vault/keys/other",
            &[("content-type", "application/json")],
            br#"{"key_size":128}"#.to_vec(),
        )
        .await
        .unwrap();
    assert!(crate::raw_error(&bad_size, 400, "InvalidInput").starts_with("key_size:"));
    admin
        .delete_key("team", "vision-vault", "cmk")
        .await
        .unwrap();
    api_error(
        admin.get_key("team", "vision-vault", "cmk").await,
        404,
        "NotFound",
    );
    api_error(
        admin
            .wrap_key("team", "vision-vault", "cmk", Sensitive::new("AAAA"))
            .await,
        404,
        "NotFound",
    );
    assert_eq!(
        admin
            .list_deleted_keys("team", "vision-vault")
            .await
            .unwrap()
            .len(),
        1
    );
    let recovered = admin
        .recover_key("team", "vision-vault", "cmk")
        .await
        .unwrap();
    assert_eq!(recovered.versions.len(), 1);
    admin
        .delete_key("team", "vision-vault", "cmk")
        .await
        .unwrap();
    admin
        .purge_key("team", "vision-vault", "cmk")
        .await
        .unwrap();
    admin
        .create_key("team", "vision-vault", "cmk")
        .await
        .unwrap();
    // Without a crypto role, keys are out of reach.
    let carl = server
        .user_with_role("carl", "Contributor", "/resourceGroups/team")
        .await;
    api_error(
        carl.list_keys("team", "vision-vault").await,
        403,
        "Forbidden",
    );
    server.stop().await;
}

async fn a_workspace_accepts_a_customer_managed_key_only_from_someone_who_can_use_it(
    provider: TestKeyProvider,
) {
    let server = TestServer::start_on(provider).await;
    let admin = server.admin().await;
    admin.create_resource_group("team").await.unwrap();
    admin
        .create_workspace("team", "keys-home", &CreateWorkspaceRequest::default())
        .await
        .unwrap();
    let key = admin
        .create_key("team", "keys-home-vault", "cmk")
        .await
        .unwrap();
    let vault = "/resourceGroups/team/vaults/keys-home-vault";
    let request = |uri: &str| CreateWorkspaceRequest {
        cmk_keyvault: Some(vault.into()),
        resource_cmk_uri: Some(uri.into()),
        hbi_workspace: true,
        ..Default::default()
    };
    // A Contributor on the group can create workspaces, but holds no key data actions.
    let carl = server
        .user_with_role("carl", "Contributor", "/resourceGroups/team")
        .await;
    let message = api_error(
        carl.create_workspace("team", "carls", &request(&key.kid))
            .await,
        400,
        "InvalidInput",
    );
    assert!(
        message.starts_with("resource_cmk_uri:") && message.contains("vaults/keys/wrap/action"),
        "{message}"
    );
    let unknown_version = format!(
        "{}/keys/cmk/0123456789abcdef",
        key.kid.split("/keys/").next().unwrap()
    );
    let message = api_error(
        admin
            .create_workspace("team", "vision", &request(&unknown_version))
            .await,
        400,
        "InvalidInput",
    );
    assert!(
        message.starts_with("resource_cmk_uri:") && message.contains("does not exist"),
        "{message}"
    );
    admin
        .set_key_enabled("team", "keys-home-vault", "cmk", None, false)
        .await
        .unwrap();
    let message = api_error(
        admin
            .create_workspace("team", "vision", &request(&key.kid))
            .await,
        400,
        "InvalidInput",
    );
    assert!(
        message.starts_with("resource_cmk_uri:") && message.contains("disabled"),
        "{message}"
    );
    admin
        .set_key_enabled("team", "keys-home-vault", "cmk", None, true)
        .await
        .unwrap();
    let workspace = admin
        .create_workspace("team", "vision", &request(&key.kid))
        .await
        .unwrap();
    assert_eq!(
        workspace.resource_cmk_uri.as_deref(),
        Some(key.kid.as_str())
    );
    assert_eq!(workspace.cmk_keyvault.as_deref(), Some(vault));
    server.stop().await;
}

crate::on_both_key_providers!(
    rotation_revocation_and_restoration_take_effect_on_the_next_request,
    keys_soft_delete_recover_purge_and_validate_input,
    a_workspace_accepts_a_customer_managed_key_only_from_someone_who_can_use_it,
);
