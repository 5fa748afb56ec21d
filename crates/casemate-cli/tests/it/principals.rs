//! Managing principals: validation of every field, authorization, conflicts, limits.

use crate::{api_error, raw_error};
use casemate_server::config::ConfigLayer;
use casemate_testkit::{TestServer, USER_PASSWORD};
use casemate_types::Sensitive;
use casemate_types::wire::*;

fn user(name: &str, password: &str) -> CreateUserRequest {
    CreateUserRequest {
        name: name.into(),
        display_name: None,
        password: Sensitive::new(password),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn user_fields_are_validated_with_the_field_and_rule_named() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let cases = [
        (user("", USER_PASSWORD), "name:"),
        (user("-alice", USER_PASSWORD), "name:"),
        (user("al ice", USER_PASSWORD), "name:"),
        (user(&"a".repeat(65), USER_PASSWORD), "name:"),
        (
            user("alice", "short"),
            "password: must be at least 12 characters",
        ),
        (
            CreateUserRequest {
                display_name: Some("line\nbreak".into()),
                ..user("alice", USER_PASSWORD)
            },
            "display_name:",
        ),
        (
            CreateUserRequest {
                display_name: Some(" ".into()),
                ..user("alice", USER_PASSWORD)
            },
            "display_name:",
        ),
    ];
    for (request, expected) in cases {
        let message = api_error(admin.create_user(&request).await, 400, "InvalidInput");
        assert!(message.starts_with(expected), "{message}");
    }
    assert_eq!(
        admin.list_users().await.unwrap().len(),
        1,
        "nothing was half-created"
    );
    admin
        .create_user(&user("alice", USER_PASSWORD))
        .await
        .unwrap();
    let message = api_error(
        admin.create_user(&user("ALICE", USER_PASSWORD)).await,
        409,
        "Conflict",
    );
    assert!(message.contains("already exists"), "{message}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_bodies_name_the_field() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let post = |body: &'static str, content_type: &'static str| {
        let client = admin.clone();
        async move {
            client
                .raw(
                    "POST",
                    "/users",
                    &[("content-type", content_type)],
                    body.as_bytes().to_vec(),
                )
                .await
                .unwrap()
        }
    };
    let cases = [
        (r#"{"password":"long-enough-password"}"#, "name"),
        (r#"{"name":7,"password":"long-enough-password"}"#, "name"),
        (
            r#"{"name":"bob","password":"long-enough-password","role":"Owner"}"#,
            "role",
        ),
        (r#"{"name":"bob","password":["x"]}"#, "password"),
        (r#"{"name":"bob","#, "body"),
        (r#"not json"#, "body"),
    ];
    for (body, field) in cases {
        let message = raw_error(&post(body, "application/json").await, 400, "InvalidInput");
        assert!(
            message.starts_with(&format!("{field}:")),
            "{body}: {message}"
        );
    }
    let message = raw_error(
        &post(r#"{"name":"bob"}"#, "text/plain").await,
        400,
        "InvalidInput",
    );
    assert!(message.starts_with("content-type:"), "{message}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bodies_over_the_limit_get_413() {
    let server = TestServer::start_with(ConfigLayer {
        max_body_bytes: Some(4096),
        ..Default::default()
    })
    .await;
    let admin = server.admin().await;
    let big = format!(r#"{{"name":"bob","password":"{}"}}"#, "x".repeat(8192));
    let response = admin
        .raw(
            "POST",
            "/users",
            &[("content-type", "application/json")],
            big.into_bytes(),
        )
        .await
        .unwrap();
    let message = raw_error(&response, 413, "PayloadTooLarge");
    assert!(message.contains("4096"), "{message}");
    assert_eq!(admin.list_users().await.unwrap().len(), 1);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn only_an_owner_at_the_root_manages_principals() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let message = api_error(alice.list_users().await, 403, "Forbidden");
    assert!(
        message.contains("principals/users/read") && message.contains("'/'"),
        "{message}"
    );
    let message = api_error(
        alice.create_user(&user("mallory", USER_PASSWORD)).await,
        403,
        "Forbidden",
    );
    assert!(message.contains("principals/users/write"), "{message}");
    api_error(alice.rotate_signing_key().await, 403, "Forbidden");
    api_error(
        alice
            .create_service_principal(&CreateServicePrincipalRequest {
                name: "x".into(),
                display_name: None,
            })
            .await,
        403,
        "Forbidden",
    );
    api_error(alice.delete_user("admin").await, 403, "Forbidden");
    // Self-service still works.
    alice
        .create_pat(&CreatePatRequest {
            name: "mine".into(),
            expires_in_days: None,
        })
        .await
        .unwrap();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_a_user_ends_its_access_and_nobody_deletes_themselves() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let admin = server.admin().await;
    let message = api_error(admin.delete_user("admin").await, 409, "Conflict");
    assert!(message.contains("your own account"), "{message}");
    api_error(admin.disable_user("admin").await, 409, "Conflict");
    admin.delete_user("alice").await.unwrap();
    api_error(alice.userinfo().await, 401, "Unauthenticated");
    api_error(admin.get_user("alice").await, 404, "NotFound");
    api_error(admin.delete_user("alice").await, 404, "NotFound");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn users_are_found_by_name_or_object_id_but_not_as_service_principals() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let created = admin
        .create_user(&user("alice", USER_PASSWORD))
        .await
        .unwrap();
    assert_eq!(
        admin
            .get_user(&created.object_id.to_string())
            .await
            .unwrap()
            .name,
        "alice"
    );
    assert_eq!(
        admin.get_user("Alice").await.unwrap().object_id,
        created.object_id
    );
    api_error(admin.get_service_principal("alice").await, 404, "NotFound");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn service_principal_fields_are_validated() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let message = api_error(
        admin
            .create_service_principal(&CreateServicePrincipalRequest {
                name: "bad name".into(),
                display_name: None,
            })
            .await,
        400,
        "InvalidInput",
    );
    assert!(message.starts_with("name:"), "{message}");
    admin
        .create_service_principal(&CreateServicePrincipalRequest {
            name: "ci".into(),
            display_name: Some("CI".into()),
        })
        .await
        .unwrap();
    for days in [0, 731] {
        let message = api_error(
            admin
                .add_client_secret(
                    "ci",
                    &AddClientSecretRequest {
                        expires_in_days: Some(days),
                        description: None,
                    },
                )
                .await,
            400,
            "InvalidInput",
        );
        assert!(message.starts_with("expires_in_days:"), "{message}");
    }
    let message = api_error(
        admin
            .add_client_secret(
                "ci",
                &AddClientSecretRequest {
                    expires_in_days: None,
                    description: Some("\u{7}".into()),
                },
            )
            .await,
        400,
        "InvalidInput",
    );
    assert!(message.starts_with("description:"), "{message}");
    assert!(
        admin
            .get_service_principal("ci")
            .await
            .unwrap()
            .secrets
            .is_empty()
    );
    let response = admin
        .raw(
            "DELETE",
            "/service-principals/ci/secrets/not-a-uuid",
            &[],
            vec![],
        )
        .await
        .unwrap();
    assert!(raw_error(&response, 400, "InvalidInput").starts_with("path:"));
    api_error(
        admin.remove_client_secret("ci", uuid::Uuid::new_v4()).await,
        404,
        "NotFound",
    );
    admin.delete_service_principal("ci").await.unwrap();
    assert!(admin.list_service_principals().await.unwrap().is_empty());
    server.stop().await;
}
