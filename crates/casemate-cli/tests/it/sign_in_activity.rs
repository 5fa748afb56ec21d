//! Sign-ins in the activity log: each answer of the token endpoint (and the console's session,
//! and single sign-on's callback, in sso.rs) is recorded before it is sent, by the principal it
//! signed in, or, refused, as unauthenticated with the reason the client was shown and never the
//! secret it sent; throttled attempts are not recorded, so they cannot make the server write.

use casemate_client::ClientError;
use casemate_testkit::{ADMIN_PASSWORD, TestServer, USER_PASSWORD};
use casemate_types::Sensitive;
use casemate_types::wire::{ActivityEntry, TokenRequest};

/// Every record of `operation`, oldest first.
pub(crate) async fn records_of(
    admin: &casemate_client::Client,
    operation: &str,
) -> Vec<ActivityEntry> {
    let page = admin
        .list_activity(&[("scope", "/"), ("operation", operation), ("limit", "1000")])
        .await
        .unwrap();
    assert!(page.next_page.is_none());
    let mut entries = page.entries;
    entries.sort_by_key(|entry| entry.seq);
    entries
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_ins_are_recorded_by_whom_they_signed_in_and_refusals_without_the_secret() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let admin = server.admin().await;
    let anonymous = server.anonymous();

    let signed_in = records_of(&admin, "oauth2/token/action").await;
    let of = |name: &str| {
        signed_in
            .iter()
            .filter(|entry| entry.caller_name == name)
            .collect::<Vec<_>>()
    };
    let alices = of("alice");
    assert_eq!(alices.len(), 1, "{signed_in:?}");
    let whoami = alice.userinfo().await.unwrap();
    assert_eq!(
        (
            alices[0].outcome.as_str(),
            alices[0].status,
            alices[0].caller_id.clone(),
            alices[0].resource_id.as_str(),
            alices[0].client_address.as_str(),
        ),
        (
            "Succeeded",
            200,
            whoami.object_id.to_string(),
            "/",
            "127.0.0.1"
        )
    );
    assert!(!of("admin").is_empty());

    // A wrong password: refused, recorded as unauthenticated with the reason, not the password.
    let wrong = "a-wrong-password-7Qx";
    let refused = anonymous
        .token(&TokenRequest::password(
            "alice",
            Sensitive::new(wrong),
            None,
        ))
        .await;
    let message = crate::api_error(refused, 401, "InvalidCredentials");
    let after = records_of(&admin, "oauth2/token/action").await;
    let last = after.last().unwrap();
    assert_eq!(
        (
            last.outcome.as_str(),
            last.status,
            last.caller_id.as_str(),
            last.caller_name.as_str(),
            last.detail.as_str(),
        ),
        ("Denied", 401, "", "(unauthenticated)", message.as_str())
    );
    let everything = format!("{after:?}");
    for secret in [wrong, USER_PASSWORD, ADMIN_PASSWORD] {
        assert!(
            !everything.contains(secret),
            "a password in the activity log"
        );
    }

    // The sign-in throttle's 429s are answered but not recorded.
    let mut throttled = false;
    for _ in 0..10 {
        let attempt = anonymous
            .token(&TokenRequest::password(
                "alice",
                Sensitive::new(wrong),
                None,
            ))
            .await;
        if let Err(ClientError::Api { status: 429, .. }) = attempt {
            throttled = true;
        }
    }
    assert!(throttled, "five failures for one name throttle it");
    let refusals = |entries: &[ActivityEntry]| {
        entries
            .iter()
            .filter(|entry| entry.outcome == "Denied")
            .count()
    };
    let recorded = records_of(&admin, "oauth2/token/action").await;
    assert_eq!(
        refusals(&recorded),
        5,
        "the five refusals before the throttle"
    );

    // The console's password sign-in too, once alice's throttle window has ended.
    server.clock.advance(time::Duration::minutes(15));
    let body = serde_json::json!({"username": "alice", "password": USER_PASSWORD});
    let console = anonymous
        .raw(
            "POST",
            "/console/session",
            &[("content-type", "application/json")],
            body.to_string().into_bytes(),
        )
        .await
        .unwrap();
    assert_eq!(console.status, 200);
    let recorded = records_of(&admin, "console/session/action").await;
    assert_eq!(
        recorded
            .iter()
            .map(|e| (e.caller_name.as_str(), e.outcome.as_str()))
            .collect::<Vec<_>>(),
        [("alice", "Succeeded")]
    );
    assert!(admin.verify_activity().await.unwrap().intact);
}
