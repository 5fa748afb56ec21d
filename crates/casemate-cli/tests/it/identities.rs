//! Managed identities through the real server: user-assigned identities as resources, computes
//! with system- and user-assigned identities and the seed's grants, a workspace with a primary
//! user-assigned identity, and a run acting as its compute's identity (not as its submitter).

use crate::api_error;
use crate::mlflow::workspaces;
use crate::runs::{log_text, snapshot, wait_final};
use casemate_client::SecretScope;
use casemate_testkit::TestServer;
use casemate_types::Sensitive;
use casemate_types::wire::{
    CreateComputeRequest, CreateIdentityRequest, CreateRoleAssignmentRequest,
    CreateWorkspaceRequest, IdentityTokenRequest, RunStatus, SetSecretRequest, SubmitRunRequest,
};

const TRAINER: &str = "/resourceGroups/team/identities/trainer";
const VISION_REGISTRY: &str = "/resourceGroups/team/registries/vision-registry";

fn compute_with(identities: &[&str]) -> CreateComputeRequest {
    CreateComputeRequest {
        assign_identity: identities.iter().map(|i| (*i).to_owned()).collect(),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn identities_computes_and_workspaces_get_exactly_the_seeds_grants() {
    let server = TestServer::start().await;
    let admin = workspaces(&server).await;

    let trainer = admin
        .create_identity("team", "trainer", &CreateIdentityRequest::default())
        .await
        .unwrap();
    assert_eq!(trainer.id, TRAINER);
    assert_ne!(trainer.principal_id, trainer.client_id);
    assert_eq!(
        admin.get_identity("team", "trainer").await.unwrap(),
        trainer
    );
    assert_eq!(
        admin.list_identities("team").await.unwrap(),
        vec![trainer.clone()]
    );
    api_error(
        admin
            .create_identity("team", "trainer", &CreateIdentityRequest::default())
            .await,
        409,
        "Conflict",
    );
    let message = api_error(
        admin
            .create_identity("team", "no/slash", &CreateIdentityRequest::default())
            .await,
        400,
        "InvalidInput",
    );
    assert!(message.starts_with("name:"), "{message}");

    // A workspace Contributor may give a compute a system-assigned identity, which gets AcrPull
    // on the workspace's registry and nothing else...
    let carl = server
        .user_with_role(
            "carl",
            "Contributor",
            "/resourceGroups/team/workspaces/vision",
        )
        .await;
    let gpu = carl
        .create_compute("team", "vision", "gpu", &compute_with(&["[system]"]))
        .await
        .unwrap();
    let [system] = gpu.identities.as_slice() else {
        panic!("{:?}", gpu.identities)
    };
    assert_eq!(system.kind, "SystemAssigned");
    let held = admin
        .list_role_assignments("/", Some(&system.principal_id.to_string()), None, false)
        .await
        .unwrap();
    let held: Vec<(&str, &str)> = held
        .iter()
        .map(|a| (a.role.as_str(), a.scope.as_str()))
        .collect();
    assert_eq!(held, [("AcrPull", VISION_REGISTRY)]);

    // ...but may not attach a user-assigned identity without Managed Identity Operator on it.
    let refused = api_error(
        carl.create_compute("team", "vision", "trained", &compute_with(&[TRAINER]))
            .await,
        403,
        "Forbidden",
    );
    assert!(
        refused.contains("identities/assign/action") && refused.contains(TRAINER),
        "{refused}"
    );
    let message = api_error(
        carl.create_compute(
            "team",
            "vision",
            "trained",
            &compute_with(&["/resourceGroups/team/identities/absent"]),
        )
        .await,
        400,
        "InvalidInput",
    );
    assert!(message.starts_with("assign_identity[0]:"), "{message}");
    admin
        .create_role_assignment(
            TRAINER,
            &CreateRoleAssignmentRequest {
                assignee: "carl".into(),
                role: "Managed Identity Operator".into(),
            },
        )
        .await
        .unwrap();
    let trained = carl
        .create_compute(
            "team",
            "vision",
            "trained",
            &compute_with(&[TRAINER, "[system]"]),
        )
        .await
        .unwrap();
    let kinds: Vec<&str> = trained.identities.iter().map(|i| i.kind.as_str()).collect();
    assert_eq!(kinds, ["UserAssigned", "SystemAssigned"]);
    assert_eq!(trained.identities[0].client_id, trainer.client_id);
    assert_eq!(
        admin
            .get_compute("team", "vision", "trained")
            .await
            .unwrap()
            .identities,
        trained.identities
    );

    // Deleting a compute deletes its system-assigned identity and that identity's grant.
    admin.delete_compute("team", "vision", "gpu").await.unwrap();
    let left = admin
        .list_role_assignments("/", Some(&system.principal_id.to_string()), None, false)
        .await;
    assert!(left.is_err() || left.unwrap().is_empty());

    // A workspace with a primary user-assigned identity: its system identity may act as it
    // (Managed Identity Operator there), and creating one needs the assign action on it.
    // Contributor on team covers team's own identities, so the identity lives in another group.
    admin.create_resource_group("shared").await.unwrap();
    let ops = admin
        .create_identity("shared", "ops", &CreateIdentityRequest::default())
        .await
        .unwrap();
    let dora = server
        .user_with_role("dora", "Contributor", "/resourceGroups/team")
        .await;
    let request = CreateWorkspaceRequest {
        primary_user_assigned_identity: Some(ops.id.clone()),
        ..Default::default()
    };
    api_error(
        dora.create_workspace("team", "edge", &request).await,
        403,
        "Forbidden",
    );
    let edge = admin
        .create_workspace("team", "edge", &request)
        .await
        .unwrap();
    let operators = admin
        .list_role_assignments(&ops.id, None, Some("Managed Identity Operator"), false)
        .await
        .unwrap();
    assert!(
        operators
            .iter()
            .any(|a| a.principal_id == edge.identity.principal_id),
        "{operators:?}"
    );

    // resynckeys restores the workspace identity's grants, the registry's included.
    let vision = admin.get_workspace("team", "vision").await.unwrap();
    let on_registry = admin
        .list_role_assignments(
            VISION_REGISTRY,
            Some(&vision.identity.principal_id.to_string()),
            None,
            false,
        )
        .await
        .unwrap();
    let [grant] = on_registry.as_slice() else {
        panic!("{on_registry:?}")
    };
    assert_eq!(grant.role, "Contributor");
    admin
        .delete_role_assignment(VISION_REGISTRY, grant.id)
        .await
        .unwrap();
    let report = admin.resync_keys("team", "vision").await.unwrap();
    let restored: Vec<(&str, &str)> = report
        .restored
        .iter()
        .map(|a| (a.role.as_str(), a.scope.as_str()))
        .collect();
    assert_eq!(restored, [("Contributor", VISION_REGISTRY)]);

    // Deleting the identity takes its grants with it.
    admin.delete_identity("team", "trainer").await.unwrap();
    api_error(admin.get_identity("team", "trainer").await, 404, "NotFound");
    let operators = admin
        .list_role_assignments(TRAINER, None, None, false)
        .await
        .unwrap_or_default();
    assert!(operators.is_empty(), "{operators:?}");
}

const AS_IDENTITY: &str = r#"
import os
from casemate import CasemateError, Run, Workspace

run = Run.get_context()
assert os.environ["CASEMATE_IDENTITY_ENDPOINT"].endswith("/identityToken")
# As the compute's identity: it may write audio's secrets, which the submitter may not.
audio = run.workspace_as_identity(workspace_name="audio")
audio.get_default_keyvault().set_secret("written-by-identity", "from-the-run")
try:
    Workspace(run.workspace.resource_group, "audio", run.workspace._connection) \
        .get_default_keyvault().set_secret("written-by-run-token", "x")
    raise SystemExit("the run token wrote to another workspace")
except CasemateError as error:
    print("run token refused in audio:", error.status)
# And it does not carry the submitter's rights in vision.
try:
    run.workspace_as_identity().get_default_keyvault().get_secret("vision-secret")
    raise SystemExit("the identity read a secret only the submitter may read")
except CasemateError as error:
    print("identity refused in vision:", error.status)
print("submitter reads:", run.get_secret("vision-secret"))
"#;

#[tokio::test(flavor = "multi_thread")]
async fn a_run_acts_as_its_computes_identity_not_as_its_submitter() {
    let server = TestServer::start().await;
    let admin = workspaces(&server).await;
    let trainer = admin
        .create_identity("team", "trainer", &CreateIdentityRequest::default())
        .await
        .unwrap();
    admin
        .create_role_assignment(
            "/resourceGroups/team/workspaces/audio",
            &CreateRoleAssignmentRequest {
                assignee: trainer.principal_id.to_string(),
                role: "Contributor".into(),
            },
        )
        .await
        .unwrap();
    admin
        .create_compute("team", "vision", "trained", &compute_with(&[TRAINER]))
        .await
        .unwrap();
    let vision = SecretScope::Workspace {
        resource_group: "team",
        workspace: "vision",
    };
    admin
        .set_secret(
            vision,
            "vision-secret",
            &SetSecretRequest::value(Sensitive::new("submitters-only")),
        )
        .await
        .unwrap();

    let dora = server
        .user_with_role(
            "dora",
            "Data Scientist",
            "/resourceGroups/team/workspaces/vision",
        )
        .await;
    let code = snapshot(&dora, "vision", &[("as_identity.py", AS_IDENTITY)]).await;
    let run = dora
        .submit_run(
            "team",
            "vision",
            "identity",
            &SubmitRunRequest {
                resources: None,
                image: None,
                snapshot_id: code.id.clone(),
                command: "python3 as_identity.py".into(),
                compute: Some("trained".into()),
                time_limit_seconds: None,
                environment: Default::default(),
            },
        )
        .await
        .unwrap();
    let ended = wait_final(&dora, &run).await;
    let log = log_text(&dora, &run).await;
    assert_eq!(
        ended.status,
        RunStatus::Completed,
        "{:?}\n{log}",
        ended.reason
    );
    assert!(log.contains("run token refused in audio: 403"), "{log}");
    assert!(log.contains("identity refused in vision: 403"), "{log}");
    assert!(
        log.contains("submitter reads: ***"),
        "masked as every fetched secret: {log}"
    );

    // The secret the identity wrote is there; the activity log names the identity as its writer.
    let audio = SecretScope::Workspace {
        resource_group: "team",
        workspace: "audio",
    };
    let written = admin
        .get_secret(audio, "written-by-identity")
        .await
        .unwrap();
    assert_eq!(written.value.expose(), "from-the-run");
    let page = admin
        .list_activity(&[
            ("scope", "/resourceGroups/team/workspaces/audio"),
            ("operation", "workspaces/metadata/secrets/write"),
            ("outcome", "Succeeded"),
        ])
        .await
        .unwrap();
    let callers: Vec<&str> = page
        .entries
        .iter()
        .map(|e| e.caller_name.as_str())
        .collect();
    assert_eq!(callers, [format!("identity:{TRAINER}").as_str()]);
    let page = admin
        .list_activity(&[
            ("operation", "workspaces/experiments/runs/read"),
            ("scope", "/resourceGroups/team/workspaces/vision"),
        ])
        .await
        .unwrap();
    assert!(
        page.entries
            .iter()
            .any(|e| e.caller_name == "dora" && e.detail.contains(&run.id.to_string())),
        "the token request is recorded with the run: {:?}",
        page.entries
    );

    // Only the run's own token may ask, and a compute without identities has none to give.
    let message = api_error(
        admin
            .run_identity_token("team", "vision", run.id, &IdentityTokenRequest::default())
            .await,
        403,
        "Forbidden",
    );
    assert!(message.contains(&run.id.to_string()), "{message}");
}
