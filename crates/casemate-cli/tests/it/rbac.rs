//! Role-based access control through the real server: the seed's table, isolation, sharing,
//! escalation, custom roles.

use crate::api_error;
use casemate_client::Client;
use casemate_testkit::TestServer;
use casemate_types::wire::*;

const RG: &str = "/resourceGroups/team";
const WS: &str = "/resourceGroups/team/workspaces/shared";

async fn team(server: &TestServer) -> Client {
    let admin = server.admin().await;
    admin.create_resource_group("team").await.unwrap();
    admin
        .create_workspace("team", "shared", &CreateWorkspaceRequest::default())
        .await
        .unwrap();
    admin
}

fn assign(assignee: &str, role: &str) -> CreateRoleAssignmentRequest {
    CreateRoleAssignmentRequest {
        assignee: assignee.into(),
        role: role.into(),
    }
}

/// Seed 003's table: each operation, its action, and whether Owner, Contributor, Reader may do it.
const SEED_TABLE: &[(&str, &str, [bool; 3])] = &[
    ("create workspace", "workspaces/write", [true, true, false]),
    (
        "share workspace",
        "roleAssignments/write",
        [true, false, false],
    ),
    (
        "upgrade workspace to enterprise edition",
        "workspaces/upgrade/action",
        [true, false, false],
    ),
    (
        "create compute target",
        "workspaces/computes/write",
        [true, true, false],
    ),
    (
        "attach compute target",
        "workspaces/computes/write",
        [true, true, false],
    ),
    (
        "attach datastore",
        "workspaces/datastores/write",
        [true, true, false],
    ),
    (
        "run experiment",
        "workspaces/experiments/runs/submit/action",
        [true, true, false],
    ),
    (
        "view runs and metrics",
        "workspaces/experiments/runs/read",
        [true, true, true],
    ),
    (
        "register model",
        "workspaces/models/write",
        [true, true, false],
    ),
    (
        "create image",
        "workspaces/images/write",
        [true, true, false],
    ),
    (
        "deploy web service",
        "workspaces/services/write",
        [true, true, false],
    ),
    (
        "view models and images",
        "workspaces/models/read",
        [true, true, true],
    ),
    (
        "call web service",
        "workspaces/services/score/action",
        [true, true, true],
    ),
];

#[tokio::test(flavor = "multi_thread")]
async fn the_seed_table_of_thirteen_operations_holds() {
    let server = TestServer::start().await;
    let admin = team(&server).await;
    let users = [
        (
            "olivia",
            "Owner",
            server.user_with_role("olivia", "Owner", RG).await,
        ),
        (
            "carl",
            "Contributor",
            server.user_with_role("carl", "Contributor", RG).await,
        ),
        (
            "rita",
            "Reader",
            server.user_with_role("rita", "Reader", RG).await,
        ),
    ];
    assert_eq!(SEED_TABLE.len(), 13);
    for (operation, action, expected) in SEED_TABLE {
        let scope = if *action == "workspaces/write" {
            RG
        } else {
            WS
        };
        for ((name, role, client), allowed) in users.iter().zip(expected) {
            let check = client.check_permission(None, action, scope).await.unwrap();
            assert_eq!(
                check.allowed, *allowed,
                "{role} {name}: {operation} ({action} at {scope})"
            );
            if *allowed {
                assert!(check.granted_by.iter().any(|a| a.role == *role));
            }
        }
    }
    // The operations whose resources exist, through the real routes.
    for ((name, role, client), allowed) in users.iter().zip([true, true, false]) {
        let created = client
            .create_workspace(
                "team",
                &format!("ws-{name}"),
                &CreateWorkspaceRequest::default(),
            )
            .await;
        match allowed {
            true => assert!(created.is_ok(), "{role} creates a workspace: {created:?}"),
            false => {
                let message = api_error(created, 403, "Forbidden");
                assert!(
                    message.contains("workspaces/write") && message.contains(RG),
                    "{message}"
                );
            }
        }
    }
    admin
        .create_user(&CreateUserRequest {
            name: "guest".into(),
            display_name: None,
            password: casemate_types::Sensitive::new("guest-password-123"),
        })
        .await
        .unwrap();
    for ((_, role, client), allowed) in users.iter().zip([true, false, false]) {
        let shared = client
            .create_role_assignment(WS, &assign("guest", "Reader"))
            .await;
        match allowed {
            true => {
                shared.unwrap();
            }
            false => {
                let message = api_error(shared, 403, "Forbidden");
                assert!(
                    message.contains("roleAssignments/write"),
                    "{role}: {message}"
                );
            }
        }
    }
    for (_, _, client) in &users {
        client.get_workspace("team", "shared").await.unwrap();
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_contributor_on_one_workspace_is_denied_everything_elsewhere() {
    let server = TestServer::start().await;
    let admin = team(&server).await;
    admin
        .create_workspace("team", "other", &CreateWorkspaceRequest::default())
        .await
        .unwrap();
    let carl = server.user_with_role("carl", "Contributor", WS).await;
    carl.get_workspace("team", "shared").await.unwrap();
    carl.update_workspace(
        "team",
        "shared",
        &UpdateWorkspaceRequest {
            description: Some("mine".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    api_error(carl.get_workspace("team", "other").await, 403, "Forbidden");
    api_error(
        carl.delete_workspace("team", "other").await,
        403,
        "Forbidden",
    );
    api_error(carl.list_workspaces("team").await, 403, "Forbidden");
    api_error(carl.get_resource_group("team").await, 403, "Forbidden");
    api_error(
        carl.create_workspace("team", "sneaky", &CreateWorkspaceRequest::default())
            .await,
        403,
        "Forbidden",
    );
    for action in [
        "workspaces/read",
        "workspaces/experiments/runs/submit/action",
        "workspaces/computes/write",
    ] {
        assert!(
            carl.check_permission(None, action, WS)
                .await
                .unwrap()
                .allowed,
            "{action} on A"
        );
        assert!(
            !carl
                .check_permission(None, action, "/resourceGroups/team/workspaces/other")
                .await
                .unwrap()
                .allowed,
            "{action} on B"
        );
        assert!(
            !carl
                .check_permission(None, action, RG)
                .await
                .unwrap()
                .allowed,
            "{action} on the group"
        );
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn owners_share_contributors_cannot_and_nobody_escalates() {
    let server = TestServer::start().await;
    let admin = team(&server).await;
    let olivia = server.user_with_role("olivia", "Owner", WS).await;
    let carl = server.user_with_role("carl", "Contributor", WS).await;
    server.new_user("dana").await;
    let message = api_error(
        carl.create_role_assignment(WS, &assign("dana", "Reader"))
            .await,
        403,
        "Forbidden",
    );
    assert!(message.contains("roleAssignments/write"), "{message}");
    let shared = olivia
        .create_role_assignment(WS, &assign("dana", "Contributor"))
        .await
        .unwrap();
    assert_eq!(shared.principal_name, "dana");
    // An owner of the workspace cannot assign at the resource group above it.
    api_error(
        olivia
            .create_role_assignment(RG, &assign("dana", "Reader"))
            .await,
        403,
        "Forbidden",
    );
    // A custom "access manager" may assign, but only roles whose every action it holds.
    let manager_role = RoleDefinitionDocument {
        name: "Access Manager".into(),
        is_custom: Some(true),
        description: "Shares the workspace read-only".into(),
        actions: vec!["roleAssignments/*".into(), "*/read".into()],
        not_actions: vec![],
        data_actions: vec![],
        not_data_actions: vec![],
        assignable_scopes: vec!["/".into()],
    };
    admin.create_role_definition(&manager_role).await.unwrap();
    let mallory = server.user_with_role("mallory", "Access Manager", WS).await;
    let message = api_error(
        mallory
            .create_role_assignment(WS, &assign("mallory", "Contributor"))
            .await,
        403,
        "Forbidden",
    );
    assert!(message.contains("which you do not hold"), "{message}");
    let message = api_error(
        mallory
            .create_role_assignment(WS, &assign("mallory", "Owner"))
            .await,
        403,
        "Forbidden",
    );
    assert!(message.contains("Owner"), "{message}");
    mallory
        .create_role_assignment(WS, &assign("dana", "Access Manager"))
        .await
        .unwrap();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_platform_example_custom_role_behaves_as_written() {
    let server = TestServer::start().await;
    let admin = team(&server).await;
    let definition = RoleDefinitionDocument {
        name: "Data Scientist Custom".into(),
        is_custom: Some(true),
        description:
            "Can run experiments but can't create or delete compute or deploy production endpoints"
                .into(),
        actions: vec!["*".into()],
        not_actions: vec![
            "workspaces/*/delete".into(),
            "workspaces/write".into(),
            "workspaces/computes/*/write".into(),
            "workspaces/computes/*/delete".into(),
            "roleAssignments/write".into(),
        ],
        data_actions: vec![],
        not_data_actions: vec![],
        assignable_scopes: vec![RG.into()],
    };
    let config = tempfile::tempdir().unwrap();
    let file = config.path().join("role.json");
    std::fs::write(&file, serde_json::to_string_pretty(&definition).unwrap()).unwrap();
    // Through the CLI, as `az role definition create --role-definition FILE`.
    let login = crate::cli::login_admin(&server, config.path()).await;
    assert!(login.status.success());
    let created = crate::cli::casemate(
        config.path(),
        &[
            "role",
            "definition",
            "create",
            "--role-definition",
            file.to_str().unwrap(),
        ],
        "",
        &[],
    )
    .await;
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let sam = server
        .user_with_role("sam", "Data Scientist Custom", WS)
        .await;
    for (action, allowed) in [
        ("workspaces/experiments/runs/submit/action", true),
        ("workspaces/experiments/runs/read", true),
        ("workspaces/models/write", true),
        ("workspaces/computes/read", true),
        ("workspaces/computes/write", false),
        ("workspaces/computes/delete", false),
        ("workspaces/delete", false),
        ("workspaces/models/delete", false),
        ("workspaces/write", false),
        ("roleAssignments/write", false),
    ] {
        assert_eq!(
            sam.check_permission(None, action, WS)
                .await
                .unwrap()
                .allowed,
            allowed,
            "{action}"
        );
    }
    api_error(
        sam.delete_workspace("team", "shared").await,
        403,
        "Forbidden",
    );
    api_error(
        sam.update_workspace(
            "team",
            "shared",
            &UpdateWorkspaceRequest {
                description: Some("x".into()),
                ..Default::default()
            },
        )
        .await,
        403,
        "Forbidden",
    );
    // Outside its AssignableScopes it cannot be assigned.
    admin.create_resource_group("elsewhere").await.unwrap();
    let message = api_error(
        admin
            .create_role_assignment(
                "/resourceGroups/elsewhere",
                &assign("sam", "Data Scientist Custom"),
            )
            .await,
        400,
        "InvalidInput",
    );
    assert!(
        message.starts_with("scope:") && message.contains("AssignableScopes"),
        "{message}"
    );
    // Still assigned: it cannot be deleted.
    let message = api_error(
        admin.delete_role_definition("Data Scientist Custom").await,
        409,
        "Conflict",
    );
    assert!(message.contains("still assigned"), "{message}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn custom_roles_are_refused_with_the_field_named() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let base = RoleDefinitionDocument {
        name: "Runner".into(),
        is_custom: None,
        description: String::new(),
        actions: vec!["workspaces/experiments/runs/*".into()],
        not_actions: vec![],
        data_actions: vec![],
        not_data_actions: vec![],
        assignable_scopes: vec!["/".into()],
    };
    let cases: Vec<(RoleDefinitionDocument, &str)> = vec![
        (
            RoleDefinitionDocument {
                actions: vec!["workspaces/teleport".into()],
                ..base.clone()
            },
            "Actions:",
        ),
        (
            RoleDefinitionDocument {
                not_actions: vec!["bogus/*".into()],
                ..base.clone()
            },
            "NotActions:",
        ),
        (
            RoleDefinitionDocument {
                data_actions: vec!["workspaces/read".into()],
                ..base.clone()
            },
            "DataActions:",
        ),
        (
            RoleDefinitionDocument {
                assignable_scopes: vec!["resourceGroups/x".into()],
                ..base.clone()
            },
            "AssignableScopes:",
        ),
        (
            RoleDefinitionDocument {
                assignable_scopes: vec![],
                ..base.clone()
            },
            "AssignableScopes:",
        ),
        (
            RoleDefinitionDocument {
                name: "Owner".into(),
                ..base.clone()
            },
            "Name:",
        ),
        (
            RoleDefinitionDocument {
                is_custom: Some(false),
                ..base.clone()
            },
            "IsCustom:",
        ),
    ];
    for (document, field) in cases {
        let message = api_error(
            admin.create_role_definition(&document).await,
            400,
            "InvalidInput",
        );
        assert!(message.starts_with(field), "{message}");
    }
    admin.create_role_definition(&base).await.unwrap();
    api_error(
        admin
            .create_role_definition(&RoleDefinitionDocument {
                name: "runner".into(),
                ..base.clone()
            })
            .await,
        409,
        "Conflict",
    );
    let unknown = admin
        .raw(
            "POST",
            "/roleDefinitions",
            &[("content-type", "application/json")],
            br#"{"Name":"x","Actions":["*"],"AssignableScopes":["/"],"Extra":1}"#.to_vec(),
        )
        .await
        .unwrap();
    assert!(crate::raw_error(&unknown, 400, "InvalidInput").starts_with("Extra:"));
    let updated = admin
        .update_role_definition(
            "Runner",
            &RoleDefinitionDocument {
                description: "runs".into(),
                ..base.clone()
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.description, "runs");
    api_error(
        admin
            .update_role_definition(
                "Runner",
                &RoleDefinitionDocument {
                    name: "Walker".into(),
                    ..base.clone()
                },
            )
            .await,
        400,
        "InvalidInput",
    );
    api_error(
        admin.delete_role_definition("Reader").await,
        400,
        "InvalidInput",
    );
    admin.delete_role_definition("Runner").await.unwrap();
    api_error(admin.get_role_definition("Runner").await, 404, "NotFound");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn assignments_are_listed_by_scope_and_deleted_only_within_it() {
    let server = TestServer::start().await;
    let admin = team(&server).await;
    let olivia = server.user_with_role("olivia", "Owner", WS).await;
    server.new_user("dana").await;
    let made = olivia
        .create_role_assignment(WS, &assign("dana", "Reader"))
        .await
        .unwrap();
    let at_ws = olivia
        .list_role_assignments(WS, Some("dana"), None, false)
        .await
        .unwrap();
    assert_eq!(at_ws.len(), 1);
    let inherited = admin
        .list_role_assignments(WS, None, Some("Owner"), true)
        .await
        .unwrap();
    assert!(
        inherited
            .iter()
            .any(|a| a.scope == "/" && a.principal_name == "admin"),
        "{inherited:?}"
    );
    api_error(
        olivia
            .delete_role_assignment(WS, uuid::Uuid::new_v4())
            .await,
        404,
        "NotFound",
    );
    let root_assignment = admin
        .list_role_assignments("/", Some("admin"), None, false)
        .await
        .unwrap()[0]
        .id;
    api_error(
        olivia.delete_role_assignment(WS, root_assignment).await,
        404,
        "NotFound",
    );
    olivia.delete_role_assignment(WS, made.id).await.unwrap();
    api_error(
        admin
            .create_role_assignment(WS, &assign("nobody", "Reader"))
            .await,
        400,
        "InvalidInput",
    );
    api_error(
        admin
            .create_role_assignment(WS, &assign("dana", "Wizard"))
            .await,
        400,
        "InvalidInput",
    );
    let message = api_error(
        admin
            .create_role_assignment("/resourceGroups/nope", &assign("dana", "Reader"))
            .await,
        400,
        "InvalidInput",
    );
    assert!(message.starts_with("scope:"), "{message}");
    let missing = admin
        .raw("GET", "/roleAssignments", &[], vec![])
        .await
        .unwrap();
    assert!(crate::raw_error(&missing, 400, "InvalidInput").starts_with("scope:"));
    server.stop().await;
}
