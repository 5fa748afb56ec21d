//! A run's base image, resolved through its compute's identity before the run starts: pulled
//! from the workspace's registry by the seed's AcrPull grant, refused from a private registry
//! until the identity is granted AcrPull there (naming the image and the grant), verified, and
//! the digest recorded on the run.

use crate::api_error;
use crate::mlflow::workspaces;
use crate::registries::{image_layout, pat_at, sha256_hex};
use crate::registry_admin::Skopeo;
use crate::runs::{log_text, snapshot, wait_final};
use casemate_client::Client;
use casemate_testkit::TestServer;
use casemate_types::wire::{
    CreateComputeRequest, CreateRegistryRequest, CreateRoleAssignmentRequest, Run, RunImage,
    RunStatus, SubmitRunRequest,
};

const PRIVATE: &str = "/resourceGroups/team/registries/private";

async fn submit(
    client: &Client,
    snapshot_id: &str,
    compute: &str,
    image: &str,
) -> Result<Run, casemate_client::ClientError> {
    submit_as(client, snapshot_id, compute, image, None).await
}

/// A run that prints its image and digest, pulling `image` as the identity `client_id` names.
async fn submit_as(
    client: &Client,
    snapshot_id: &str,
    compute: &str,
    image: &str,
    client_id: Option<uuid::Uuid>,
) -> Result<Run, casemate_client::ClientError> {
    client
        .submit_run(
            "team",
            "vision",
            "images",
            &SubmitRunRequest {
                resources: None,
                snapshot_id: snapshot_id.to_owned(),
                command: r#"echo "image=$CASEMATE_IMAGE digest=$CASEMATE_IMAGE_DIGEST""#.into(),
                compute: Some(compute.to_owned()),
                time_limit_seconds: None,
                environment: Default::default(),
                image: Some(RunImage {
                    base_image: image.to_owned(),
                    client_id,
                }),
            },
        )
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_runs_image_is_pulled_as_its_compute_identity_verified_and_its_digest_recorded() {
    let server = TestServer::start().await;
    let admin = workspaces(&server).await;
    admin
        .create_registry("team", "private", &CreateRegistryRequest::default())
        .await
        .unwrap();
    let pusher = pat_at(&server, "pusher", "AcrPush", "/resourceGroups/team").await;
    let creds = format!("pusher:{pusher}");
    let skopeo = Skopeo::new(&server);
    let source = tempfile::tempdir().unwrap();
    image_layout(source.path(), &b"the base image's files".repeat(300));
    let layout = format!("oci:{}:v1", source.path().display());
    for path in ["team/vision-registry/base/py:v1", "team/private/base/py:v1"] {
        let pushed = skopeo.push(&layout, path, &creds).await;
        assert!(
            pushed.status.success(),
            "{}",
            String::from_utf8_lossy(&pushed.stderr)
        );
    }
    let raw = skopeo.inspect("team/private/base/py:v1", &creds).await;
    assert!(raw.status.success());
    let digest = format!("sha256:{}", sha256_hex(&raw.stdout));

    let gpu = admin
        .create_compute(
            "team",
            "vision",
            "gpu",
            &CreateComputeRequest {
                assign_identity: vec!["[system]".into()],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let identity = gpu.identities[0].principal_id;
    let code = snapshot(&admin, "vision", &[("x", "")]).await;

    // The seed's grant: the compute's identity pulls from the workspace's registry.
    let run = submit(&admin, &code.id, "gpu", "team/vision-registry/base/py:v1")
        .await
        .unwrap();
    assert_eq!(
        run.image.as_deref(),
        Some("team/vision-registry/base/py:v1")
    );
    let ended = wait_final(&admin, &run).await;
    assert_eq!(ended.status, RunStatus::Completed, "{:?}", ended.reason);
    assert_eq!(ended.image_digest.as_deref(), Some(digest.as_str()));
    let log = log_text(&admin, &run).await;
    assert!(
        log.contains(&format!(
            "image=team/vision-registry/base/py:v1 digest={digest}"
        )),
        "{log}"
    );

    // A private registry: refused, naming the image, the identity and the missing grant; the
    // submitter's own AcrPush there (the admin is Owner) is not what the pull carries.
    let host = server.url.trim_start_matches("https://");
    let hosted = format!("{host}/team/private/base/py:v1");
    let run = submit(&admin, &code.id, "gpu", &hosted).await.unwrap();
    let ended = wait_final(&admin, &run).await;
    assert_eq!(ended.status, RunStatus::Failed);
    let reason = ended.reason.unwrap();
    for part in [
        "team/private/base/py:v1",
        "registries/pull/read",
        "AcrPull",
        &identity.to_string(),
        PRIVATE,
    ] {
        assert!(reason.contains(part), "{part} not in: {reason}");
    }
    assert!(ended.image_digest.is_none());
    assert!(ended.started_at.is_none(), "the command never ran");

    admin
        .create_role_assignment(
            PRIVATE,
            &CreateRoleAssignmentRequest {
                assignee: identity.to_string(),
                role: "AcrPull".into(),
            },
        )
        .await
        .unwrap();
    let run = submit(&admin, &code.id, "gpu", &hosted).await.unwrap();
    let ended = wait_final(&admin, &run).await;
    assert_eq!(ended.status, RunStatus::Completed, "{:?}", ended.reason);
    assert_eq!(ended.image_digest.as_deref(), Some(digest.as_str()));
    let pinned = format!("team/private/base/py@{digest}");
    let run = submit(&admin, &code.id, "gpu", &pinned).await.unwrap();
    assert_eq!(wait_final(&admin, &run).await.status, RunStatus::Completed);

    // A tag that is not there, and a manifest altered at rest, fail the run before it starts.
    let run = submit(&admin, &code.id, "gpu", "team/private/base/py:v9")
        .await
        .unwrap();
    let ended = wait_final(&admin, &run).await;
    assert_eq!(ended.status, RunStatus::Failed);
    assert!(ended.reason.unwrap().contains("does not exist"));
    server
        .sql_per_backend(
            "UPDATE registry_manifests SET content = CAST('{\"schemaVersion\":2}' AS BLOB) WHERE registry_id = '/resourceGroups/team/registries/private'",
            "UPDATE registry_manifests SET content = convert_to('{\"schemaVersion\":2}', 'UTF8') WHERE registry_id = '/resourceGroups/team/registries/private'",
        )
        .await
        .unwrap();
    let run = submit(&admin, &code.id, "gpu", "team/private/base/py:v1")
        .await
        .unwrap();
    let ended = wait_final(&admin, &run).await;
    assert_eq!(ended.status, RunStatus::Failed);
    assert!(ended.reason.unwrap().contains("failed verification"));

    // Refused when submitted, with nothing made: a compute with no identity, a malformed or
    // foreign reference, an identity the compute does not hold.
    let before = admin.list_runs("team", "vision", None).await.unwrap().len();
    let message = api_error(
        submit(&admin, &code.id, "local", "team/private/base/py:v1").await,
        400,
        "InvalidInput",
    );
    assert!(message.starts_with("image.client_id:"), "{message}");
    for bad in [
        "docker.io/library/python:3",
        "python:3",
        "team/private/Base:1",
    ] {
        let message = api_error(
            submit(&admin, &code.id, "gpu", bad).await,
            400,
            "InvalidInput",
        );
        assert!(message.starts_with("image.base_image:"), "{bad}: {message}");
    }
    let stranger = submit_as(
        &admin,
        &code.id,
        "gpu",
        "team/private/base/py:v1",
        Some(uuid::Uuid::new_v4()),
    )
    .await;
    let message = api_error(stranger, 400, "InvalidInput");
    assert!(message.starts_with("image.client_id:"), "{message}");
    let unknown = admin
        .raw(
            "POST",
            "/resourceGroups/team/workspaces/vision/experiments/images/runs",
            &[("content-type", "application/json")],
            serde_json::json!({"snapshot_id": code.id, "command": "true", "image": {"base_image": "team/private/base/py:v1", "tag": "x"}})
                .to_string()
                .into_bytes(),
        )
        .await
        .unwrap();
    let message = crate::raw_error(&unknown, 400, "InvalidInput");
    assert!(message.contains("tag"), "{message}");
    assert_eq!(
        admin.list_runs("team", "vision", None).await.unwrap().len(),
        before
    );
}
