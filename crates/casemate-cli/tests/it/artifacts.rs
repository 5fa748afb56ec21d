//! Workspace blobs: sealed with the streaming AEAD under the workspace's data key, bound to their
//! path, locked at once when the workspace's customer-managed key is disabled, re-wrapped without
//! rewriting, and crypto-shredded with the workspace.

use crate::api_error;
use crate::secrets::{walk, workspace};
use casemate_client::{Client, ClientError};
use casemate_crypto::KeyProvider;
use casemate_testkit::{TestKeyProvider, TestServer};
use casemate_types::wire::*;

const CMK_VAULT: &str = "/resourceGroups/team/vaults/keys-home-vault";

/// 200 KiB (four stream segments) that start with a marker to search the disk for.
fn content(marker: &str) -> Vec<u8> {
    let mut bytes = marker.as_bytes().to_vec();
    bytes.extend((0..200 * 1024u32).map(|i| (i % 251) as u8));
    bytes
}

/// The stored blobs of artifacts, on whichever blob backend the server uses.
async fn artifact_blobs(server: &TestServer) -> Vec<String> {
    let mut names = server.blob_names().await;
    names.retain(|name| name.contains("/artifacts/"));
    names
}

/// A workspace whose data keys are wrapped by the key `cmk` in another workspace's vault.
async fn cmk_workspace(server: &TestServer) -> (Client, VaultKey) {
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
    let request = CreateWorkspaceRequest {
        cmk_keyvault: Some(CMK_VAULT.into()),
        resource_cmk_uri: Some(key.kid.clone()),
        ..Default::default()
    };
    admin
        .create_workspace("team", "vision", &request)
        .await
        .unwrap();
    (admin, key)
}

async fn blobs_are_sealed_streamed_and_bound_to_their_path(provider: TestKeyProvider) {
    let server = TestServer::start_on(provider).await;
    let admin = workspace(&server).await;
    let marker = "artifact-plaintext-marker-7f3a";
    let bytes = content(marker);
    let stored = admin
        .put_artifact("team", "vision", "models/v1/weights.bin", bytes.clone())
        .await
        .unwrap();
    assert_eq!(stored.size, bytes.len() as u64);
    admin
        .put_artifact("team", "vision", "empty.txt", Vec::new())
        .await
        .unwrap();
    assert_eq!(
        admin
            .get_artifact("team", "vision", "models/v1/weights.bin")
            .await
            .unwrap(),
        bytes
    );
    assert!(
        admin
            .get_artifact("team", "vision", "empty.txt")
            .await
            .unwrap()
            .is_empty()
    );
    let listed = admin.list_artifacts("team", "vision").await.unwrap();
    assert_eq!(
        listed,
        vec![
            Artifact {
                path: "empty.txt".into(),
                size: 0
            },
            Artifact {
                path: "models/v1/weights.bin".into(),
                size: bytes.len() as u64
            },
        ]
    );
    for file in walk(server.home()) {
        let on_disk = std::fs::read(&file).unwrap();
        assert!(
            !on_disk
                .windows(marker.len())
                .any(|w| w == marker.as_bytes()),
            "plaintext found in {}",
            file.display()
        );
    }
    for (name, stored) in server.blobs().await {
        assert!(
            !stored.windows(marker.len()).any(|w| w == marker.as_bytes()),
            "plaintext found in the blob {name}"
        );
    }

    // A sealed blob copied over another path's does not open there.
    let files = artifact_blobs(&server).await;
    let weights = files.iter().find(|p| p.ends_with("weights.bin")).unwrap();
    let empty = files.iter().find(|p| p.ends_with("empty.txt")).unwrap();
    server
        .write_blob(empty, server.read_blob(weights).await)
        .await;
    match admin.get_artifact("team", "vision", "empty.txt").await {
        Err(ClientError::Transport(_)) => {}
        other => panic!("a moved blob must not open, got {other:?}"),
    }

    for bad in ["x/..%2Fetc", "a//b", "a/b%2F.%2Fc", "dir/", "white%20space"] {
        let message = api_error(
            admin
                .raw(
                    "PUT",
                    &format!("/resourceGroups/team/workspaces/vision/artifacts/{bad}"),
                    &[],
                    b"x".to_vec(),
                )
                .await
                .and_then(|r| match r.error() {
                    Some(body) => Err(ClientError::Api {
                        status: r.status,
                        code: body.error.code,
                        message: body.error.message,
                        retry_after: None,
                    }),
                    None => Ok(r.status),
                }),
            400,
            "InvalidInput",
        );
        assert!(message.starts_with("path:"), "{bad}: {message}");
    }

    // Readers read artifacts; writing needs the write action.
    let reader = server
        .user_with_role("rita", "Reader", "/resourceGroups/team/workspaces/vision")
        .await;
    assert_eq!(
        reader
            .get_artifact("team", "vision", "models/v1/weights.bin")
            .await
            .unwrap(),
        bytes
    );
    let message = api_error(
        reader
            .put_artifact("team", "vision", "mine.txt", b"x".to_vec())
            .await,
        403,
        "Forbidden",
    );
    assert!(
        message.contains("workspaces/metadata/artifacts/write"),
        "{message}"
    );
    server.stop().await;
}

async fn the_customer_managed_key_locks_and_unlocks_workspace_data_at_once(
    provider: TestKeyProvider,
) {
    let server = TestServer::start_on(provider).await;
    let (admin, key) = cmk_workspace(&server).await;
    let bytes = content("cmk-locked-marker");
    admin
        .put_artifact("team", "vision", "data.bin", bytes.clone())
        .await
        .unwrap();
    let wrapping: String = server
        .sql_scalar("SELECT wrapping_key FROM data_keys WHERE owner = '/resourceGroups/team/workspaces/vision'")
        .await;
    assert_eq!(
        wrapping,
        format!("{CMK_VAULT}/keys/cmk/{}", key.versions[0].version),
        "the data key is wrapped by the customer-managed key version"
    );

    // Disabled: the very next read and write fail with 423 naming the key; nothing is lost.
    admin
        .set_key_enabled("team", "keys-home-vault", "cmk", None, false)
        .await
        .unwrap();
    let message = api_error(
        admin.get_artifact("team", "vision", "data.bin").await,
        423,
        "KeyDisabled",
    );
    assert!(message.contains("keys-home-vault/keys/cmk"), "{message}");
    api_error(
        admin
            .put_artifact("team", "vision", "more.bin", b"more".to_vec())
            .await,
        423,
        "KeyDisabled",
    );
    admin
        .set_key_enabled("team", "keys-home-vault", "cmk", None, true)
        .await
        .unwrap();
    assert_eq!(
        admin
            .get_artifact("team", "vision", "data.bin")
            .await
            .unwrap(),
        bytes
    );

    // Disabling only the version in use locks the data too.
    let first = key.versions[0].version.clone();
    admin
        .set_key_enabled("team", "keys-home-vault", "cmk", Some(&first), false)
        .await
        .unwrap();
    api_error(
        admin.get_artifact("team", "vision", "data.bin").await,
        423,
        "KeyDisabled",
    );
    admin
        .set_key_enabled("team", "keys-home-vault", "cmk", Some(&first), true)
        .await
        .unwrap();

    // Rotate, then rewrap: the data key moves to the new version; the blob is not rewritten.
    let blob = artifact_blobs(&server)
        .await
        .into_iter()
        .find(|p| p.ends_with("data.bin"))
        .unwrap();
    let before = server.read_blob(&blob).await;
    let rotated = admin
        .rotate_key("team", "keys-home-vault", "cmk")
        .await
        .unwrap();
    let newest = rotated.versions.last().unwrap().version.clone();
    let report = admin.rewrap_workspace("team", "vision").await.unwrap();
    assert_eq!((report.data_keys, report.rewrapped), (1, 1));
    assert!(
        report
            .wrapping_key
            .ends_with(&format!("/keys/cmk/{newest}")),
        "{}",
        report.wrapping_key
    );
    assert_eq!(
        server.read_blob(&blob).await,
        before,
        "rewrap rewrote the blob"
    );
    // The old version can now be disabled without locking anything; the new one cannot.
    admin
        .set_key_enabled("team", "keys-home-vault", "cmk", Some(&first), false)
        .await
        .unwrap();
    assert_eq!(
        admin
            .get_artifact("team", "vision", "data.bin")
            .await
            .unwrap(),
        bytes
    );
    admin
        .set_key_enabled("team", "keys-home-vault", "cmk", Some(&newest), false)
        .await
        .unwrap();
    api_error(
        admin.get_artifact("team", "vision", "data.bin").await,
        423,
        "KeyDisabled",
    );
    api_error(
        admin.rewrap_workspace("team", "vision").await,
        423,
        "KeyDisabled",
    );
    admin
        .set_key_enabled("team", "keys-home-vault", "cmk", Some(&newest), true)
        .await
        .unwrap();

    // A deleted key locks the data like a disabled one; recovering it unlocks it.
    admin
        .delete_key("team", "keys-home-vault", "cmk")
        .await
        .unwrap();
    let message = api_error(
        admin.get_artifact("team", "vision", "data.bin").await,
        423,
        "KeyDisabled",
    );
    assert!(message.contains("deleted or missing"), "{message}");
    admin
        .recover_key("team", "keys-home-vault", "cmk")
        .await
        .unwrap();
    assert_eq!(
        admin
            .get_artifact("team", "vision", "data.bin")
            .await
            .unwrap(),
        bytes
    );
    server.stop().await;
}

crate::on_both_key_providers!(
    blobs_are_sealed_streamed_and_bound_to_their_path,
    the_customer_managed_key_locks_and_unlocks_workspace_data_at_once,
);

/// Deleting a workspace destroys its data keys: a copy of its blobs taken beforehand cannot be
/// opened afterwards by any data key left, even by someone holding the root key file.
#[tokio::test(flavor = "multi_thread")]
async fn deleting_a_workspace_crypto_shreds_its_blobs() {
    let server = TestServer::start().await;
    let admin = workspace(&server).await;
    let bytes = content("shredded-marker");
    admin
        .put_artifact("team", "vision", "data.bin", bytes.clone())
        .await
        .unwrap();
    let blob = artifact_blobs(&server).await.pop().unwrap();
    let copy = server.read_blob(&blob).await;
    let aad = b"/resourcegroups/team/workspaces/vision/artifacts/data.bin";
    let root_key =
        casemate_crypto::FileKeyProvider::load_or_create(&server.home().join("root.key")).unwrap();

    // Before: the data key named by the blob opens it, with nothing but the database and the root key.
    let open_with_every_data_key = |rows: Vec<(String, String, Vec<u8>)>| {
        rows.into_iter().any(|(id, owner, wrapped)| {
            let context = format!("casemate/data-key/{}/{id}", owner.to_ascii_lowercase());
            let Ok(key) = root_key.unwrap(&wrapped, context.as_bytes()) else {
                return false;
            };
            let key: [u8; 32] = key.as_slice().try_into().unwrap();
            let mut out = Vec::new();
            casemate_crypto::stream::open_stream(&key, aad, &mut &copy[36..], &mut out).is_ok()
                && out == bytes
        })
    };
    assert!(open_with_every_data_key(server.data_keys().await));

    admin.delete_workspace("team", "vision").await.unwrap();
    assert!(
        artifact_blobs(&server).await.is_empty(),
        "the workspace's blobs are removed"
    );
    let key_id = std::str::from_utf8(&copy[4..36]).unwrap().to_owned();
    let left = server.data_keys().await;
    assert!(left.iter().all(|(id, _, _)| *id != key_id));
    assert!(!open_with_every_data_key(left));

    // A workspace made again under the same name starts with new keys and no blobs.
    admin
        .create_workspace("team", "vision", &CreateWorkspaceRequest::default())
        .await
        .unwrap();
    assert!(
        admin
            .list_artifacts("team", "vision")
            .await
            .unwrap()
            .is_empty()
    );
    api_error(
        admin.get_artifact("team", "vision", "data.bin").await,
        404,
        "NotFound",
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_artifact_over_the_limit_is_refused_and_leaves_nothing_behind() {
    let server = TestServer::start_with(casemate_server::config::ConfigLayer {
        max_artifact_bytes: Some(100_000),
        ..Default::default()
    })
    .await;
    let admin = workspace(&server).await;
    let message = api_error(
        admin
            .put_artifact("team", "vision", "big.bin", content("too-big"))
            .await,
        413,
        "PayloadTooLarge",
    );
    assert!(message.contains("100000"), "{message}");
    assert!(
        admin
            .list_artifacts("team", "vision")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        artifact_blobs(&server).await.is_empty(),
        "no partial blob is left"
    );
    let fits = vec![7u8; 100_000];
    admin
        .put_artifact("team", "vision", "fits.bin", fits.clone())
        .await
        .unwrap();
    assert_eq!(
        admin
            .get_artifact("team", "vision", "fits.bin")
            .await
            .unwrap(),
        fits
    );
    server.stop().await;
}
