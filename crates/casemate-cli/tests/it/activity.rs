//! The activity log: every authorized or denied request, durable before the response, hash-chained,
//! fail-closed, and free of secrets.

use crate::{api_error, raw_error};
use casemate_testkit::{ADMIN_PASSWORD, TestServer, USER_PASSWORD};
use casemate_types::Sensitive;
use casemate_types::wire::*;

#[tokio::test(flavor = "multi_thread")]
async fn requests_are_recorded_with_caller_outcome_and_correlation_id() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let created = admin
        .raw(
            "PUT",
            "/resourceGroups/team",
            &[("x-request-id", "corr-123"), ("user-agent", "test-agent/1")],
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(created.status, 201);
    let alice = server.new_user("alice").await;
    api_error(alice.get_resource_group("team").await, 403, "Forbidden");
    let page = admin
        .list_activity(&[("scope", "/resourceGroups/team")])
        .await
        .unwrap();
    let ours: Vec<&ActivityEntry> = page
        .entries
        .iter()
        .filter(|e| e.correlation_id == "corr-123")
        .collect();
    assert_eq!(
        ours.iter().map(|e| e.outcome.as_str()).collect::<Vec<_>>(),
        ["Started", "Succeeded"]
    );
    let done = ours[1];
    assert_eq!(
        (
            done.operation.as_str(),
            done.status,
            done.caller_name.as_str()
        ),
        ("resourceGroups/write", 201, "admin")
    );
    assert_eq!(done.user_agent, "test-agent/1");
    assert_eq!(done.client_address, "127.0.0.1");
    assert_eq!(done.resource_id, "/resourceGroups/team");
    let denied = admin
        .list_activity(&[("scope", "/"), ("outcome", "Denied"), ("caller", "alice")])
        .await
        .unwrap();
    assert_eq!(denied.entries.len(), 1);
    assert_eq!(denied.entries[0].status, 403);
    assert!(denied.entries[0].detail.contains("resourceGroups/read"));
    let by_operation = admin
        .list_activity(&[("scope", "/"), ("operation", "resourceGroups/write")])
        .await
        .unwrap();
    assert_eq!(by_operation.entries.len(), 2);
    assert!(
        by_operation
            .entries
            .iter()
            .all(|e| e.operation == "resourceGroups/write")
    );
    // Paging walks every record once (over a filter the listing itself does not add to).
    for name in ["a1", "b2", "c3"] {
        admin.create_resource_group(name).await.unwrap();
    }
    let mut seen = Vec::new();
    let mut page_token: Option<String> = None;
    loop {
        let mut query = vec![
            ("scope", "/"),
            ("operation", "resourceGroups/write"),
            ("limit", "3"),
        ];
        if let Some(token) = &page_token {
            query.push(("page", token.as_str()));
        }
        let page = admin.list_activity(&query).await.unwrap();
        seen.extend(page.entries.iter().map(|e| e.seq));
        match page.next_page {
            Some(next) => page_token = Some(next),
            None => break,
        }
    }
    assert_eq!(
        seen.len(),
        8,
        "four creations, Started and Succeeded each: {seen:?}"
    );
    assert!(
        seen.windows(2).all(|pair| pair[0] < pair[1]),
        "in order, no repeats"
    );
    // Time filters.
    let future = admin
        .list_activity(&[("scope", "/"), ("from", "2999-01-01T00:00:00Z")])
        .await
        .unwrap();
    assert!(future.entries.is_empty());
    for (name, value) in [
        ("from", "yesterday"),
        ("limit", "0"),
        ("outcome", "Maybe"),
        ("page", "x"),
    ] {
        let message = api_error(
            admin.list_activity(&[("scope", "/"), (name, value)]).await,
            400,
            "InvalidInput",
        );
        assert!(message.starts_with(&format!("{name}:")), "{message}");
    }
    // Readers of a resource group see its records, not the installation's.
    let rita = server
        .user_with_role("rita", "Reader", "/resourceGroups/team")
        .await;
    rita.list_activity(&[("scope", "/resourceGroups/team")])
        .await
        .unwrap();
    api_error(
        rita.list_activity(&[("scope", "/")]).await,
        403,
        "Forbidden",
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unauthenticated_requests_are_recorded_until_their_address_spends_its_budget() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    admin.create_resource_group("team").await.unwrap();
    let anonymous = server.anonymous();
    let bad_token = "Bearer eyJub3QiOiJhIHRva2VuIn0.forged-signature-9f3a";
    let credentials = [
        vec![],
        vec![("authorization", bad_token)],
        vec![("authorization", "Basic bm9ib2R5Om5vdC1hLXBhdA==")],
        vec![("authorization", "Digest whatever")],
    ];
    for (sent, headers) in credentials.iter().cycle().take(60).enumerate() {
        let mut headers = headers.clone();
        let correlation = format!("anon-{sent}");
        headers.push(("x-request-id", &correlation));
        let response = anonymous
            .raw("GET", "/resourceGroups/team", &headers, vec![])
            .await
            .unwrap();
        raw_error(&response, 401, "Unauthenticated");
    }
    // The address has spent its budget: refused with 429, and no longer recorded.
    let throttled = anonymous
        .raw("GET", "/resourceGroups/team", &[], vec![])
        .await
        .unwrap();
    raw_error(&throttled, 429, "Throttled");
    assert!(throttled.header("retry-after").is_some());
    // A valid credential from the same address is still served.
    admin.get_resource_group("team").await.unwrap();

    let mut recorded = Vec::new();
    let mut page_token: Option<String> = None;
    loop {
        let mut query = vec![
            ("scope", "/resourceGroups/team"),
            ("caller", "(unauthenticated)"),
        ];
        if let Some(token) = &page_token {
            query.push(("page", token.as_str()));
        }
        let page = admin.list_activity(&query).await.unwrap();
        recorded.extend(page.entries);
        match page.next_page {
            Some(next) => page_token = Some(next),
            None => break,
        }
    }
    assert_eq!(recorded.len(), 60, "every 401, not the 429");
    for entry in &recorded {
        assert_eq!(
            (
                entry.outcome.as_str(),
                entry.status,
                entry.operation.as_str(),
                entry.caller_id.as_str(),
                entry.client_address.as_str(),
            ),
            ("Denied", 401, "resourceGroups/read", "", "127.0.0.1")
        );
        assert!(entry.correlation_id.starts_with("anon-"), "{entry:?}");
        assert!(!entry.detail.contains("forged-signature"), "{entry:?}");
        assert!(!entry.detail.contains("bm9ib2R5"), "{entry:?}");
    }
    assert!(
        recorded
            .last()
            .is_some_and(|e| e.detail.contains("refused with 429 and not recorded")),
        "the last recorded refusal says what comes next: {:?}",
        recorded.last()
    );
    // A new window records again.
    server.clock.advance(time::Duration::minutes(15));
    let again = anonymous
        .raw("GET", "/resourceGroups/team", &[], vec![])
        .await
        .unwrap();
    raw_error(&again, 401, "Unauthenticated");
    assert!(admin.verify_activity().await.unwrap().intact);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_catches_a_record_edited_in_the_database() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    admin.create_resource_group("team").await.unwrap();
    admin.create_resource_group("lab").await.unwrap();
    let report = admin.verify_activity().await.unwrap();
    assert!(report.intact, "{report:?}");
    assert!(report.records_checked >= 4);
    // The triggers refuse an edit through SQL; an intruder drops them first.
    let refused = server
        .sql("UPDATE activity_log SET caller_name = 'mallory' WHERE seq = 1;")
        .await
        .unwrap_err();
    assert!(refused.contains("append-only"), "{refused}");
    server
        .sql_per_backend(
            "DROP TRIGGER activity_log_is_append_only_update; UPDATE activity_log SET caller_name = 'mallory' WHERE seq = 2;",
            "DROP TRIGGER activity_log_is_append_only_update ON activity_log; UPDATE activity_log SET caller_name = 'mallory' WHERE seq = 2;",
        )
        .await
        .unwrap();
    let report = admin.verify_activity().await.unwrap();
    assert!(!report.intact);
    let problem = report.first_problem.unwrap();
    assert_eq!(problem.seq, 2);
    assert!(problem.problem.contains("altered"), "{}", problem.problem);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_catches_a_removed_record() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    admin.create_resource_group("team").await.unwrap();
    admin.create_resource_group("lab").await.unwrap();
    server
        .sql_per_backend(
            "DROP TRIGGER activity_log_is_append_only_delete; DELETE FROM activity_log WHERE seq = 3;",
            "DROP TRIGGER activity_log_is_append_only_delete ON activity_log; DELETE FROM activity_log WHERE seq = 3;",
        )
        .await
        .unwrap();
    let report = admin.verify_activity().await.unwrap();
    assert_eq!(report.first_problem.unwrap().seq, 3);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_chain_continues_after_records_another_process_appended() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    admin.create_resource_group("team").await.unwrap();
    server
        .append_activity_as_another_process("resourceGroups/write")
        .await;
    // This process's next record finds its expected place taken, and follows the other's.
    admin.create_resource_group("lab").await.unwrap();
    let page = admin
        .list_activity(&[("scope", "/"), ("limit", "1000")])
        .await
        .unwrap();
    let position =
        |pred: &dyn Fn(&ActivityEntry) -> bool| page.entries.iter().position(pred).unwrap();
    let foreign = position(&|e| e.caller_name == "another-process");
    let lab = position(&|e| e.resource_id == "/resourceGroups/lab" && e.outcome == "Started");
    assert!(foreign < lab, "{:?}", page.entries);
    let report = admin.verify_activity().await.unwrap();
    assert!(report.intact, "{report:?}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unwritable_activity_log_fails_requests_closed_and_changes_nothing() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    server
        .sql_per_backend(
            "CREATE TRIGGER activity_log_read_only BEFORE INSERT ON activity_log BEGIN SELECT RAISE(ABORT, 'read-only'); END;",
            "CREATE FUNCTION read_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'read-only'; END; $$; \
             CREATE TRIGGER activity_log_read_only BEFORE INSERT ON activity_log FOR EACH ROW EXECUTE FUNCTION read_only();",
        )
        .await
        .unwrap();
    let message = api_error(
        admin.create_resource_group("team").await,
        503,
        "ServiceUnavailable",
    );
    assert!(message.contains("activity log"), "{message}");
    api_error(
        admin.get_resource_group("team").await,
        503,
        "ServiceUnavailable",
    );
    server
        .sql_per_backend(
            "DROP TRIGGER activity_log_read_only;",
            "DROP TRIGGER activity_log_read_only ON activity_log;",
        )
        .await
        .unwrap();
    api_error(admin.get_resource_group("team").await, 404, "NotFound");
    assert!(admin.verify_activity().await.unwrap().intact);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn no_secret_reaches_the_activity_log() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let anonymous = server.anonymous();
    let mut secrets: Vec<String> = vec![ADMIN_PASSWORD.into(), USER_PASSWORD.into()];
    // Sign-ins of every kind, tokens, PATs, client secrets, MFA secrets, refresh rotation.
    let token = anonymous
        .token(&TokenRequest::password(
            "admin",
            Sensitive::new(ADMIN_PASSWORD),
            None,
        ))
        .await
        .unwrap();
    secrets.push(token.access_token.expose().into());
    let refreshed = anonymous
        .token(&TokenRequest::refresh(token.refresh_token.clone().unwrap()))
        .await
        .unwrap();
    secrets.push(token.refresh_token.unwrap().expose().into());
    secrets.push(refreshed.access_token.expose().into());
    secrets.push(refreshed.refresh_token.unwrap().expose().into());
    let alice = server.new_user("alice").await;
    let pat = alice
        .create_pat(&CreatePatRequest {
            name: "ci".into(),
            expires_in_days: None,
        })
        .await
        .unwrap();
    secrets.push(pat.token.expose().into());
    anonymous
        .with_basic("alice", pat.token.clone())
        .userinfo()
        .await
        .unwrap();
    let enrollment = alice.begin_totp().await.unwrap();
    secrets.push(enrollment.secret.expose().into());
    admin
        .create_service_principal(&CreateServicePrincipalRequest {
            name: "ci".into(),
            display_name: None,
        })
        .await
        .unwrap();
    let secret = admin
        .add_client_secret("ci", &AddClientSecretRequest::default())
        .await
        .unwrap();
    secrets.push(secret.secret.expose().into());
    let sp_token = anonymous
        .token(&TokenRequest::client_credentials(
            &secret.client_id.to_string(),
            secret.secret.clone(),
        ))
        .await
        .unwrap();
    secrets.push(sp_token.access_token.expose().into());
    let sp = anonymous.with_bearer(sp_token.access_token);
    api_error(sp.list_users().await, 403, "Forbidden");
    admin
        .create_user(&CreateUserRequest {
            name: "bob".into(),
            display_name: None,
            password: Sensitive::new("bobs-own-password-42"),
        })
        .await
        .unwrap();
    secrets.push("bobs-own-password-42".into());
    api_error(
        admin
            .create_user(&CreateUserRequest {
                name: "b b".into(),
                display_name: None,
                password: Sensitive::new("a-rejected-password-77"),
            })
            .await,
        400,
        "InvalidInput",
    );
    secrets.push("a-rejected-password-77".into());
    admin.create_resource_group("team").await.unwrap();
    admin
        .create_workspace("team", "vision", &CreateWorkspaceRequest::default())
        .await
        .unwrap();
    admin.logout().await.unwrap();
    let reader = server.admin().await;
    let all = reader
        .list_activity(&[("scope", "/"), ("limit", "1000")])
        .await
        .unwrap();
    assert!(
        all.entries.len() > 20,
        "the surface was exercised: {}",
        all.entries.len()
    );
    let text = serde_json::to_string(&all).unwrap();
    for secret in &secrets {
        assert!(
            !text.contains(secret.as_str()),
            "a secret reached the activity log"
        );
    }
    server.stop().await;
}
