//! TOTP second factor: enrolment, required codes, replay protection, mandatory MFA.

use crate::api_error;
use casemate_client::Client;
use casemate_server::config::ConfigLayer;
use casemate_testkit::{ADMIN_PASSWORD, TestServer, USER_PASSWORD};
use casemate_types::Clock;
use casemate_types::Sensitive;
use casemate_types::wire::*;
use time::Duration;

fn secret_bytes(enrollment: &TotpEnrollment) -> Vec<u8> {
    totp_rs::Secret::Encoded(enrollment.secret.expose().to_owned())
        .to_bytes()
        .unwrap()
}

fn code_now(server: &TestServer, secret: &[u8]) -> Sensitive {
    let now = u64::try_from(server.clock.now().unix_timestamp()).unwrap();
    Sensitive::new(casemate_crypto::totp::code_at(secret, now).unwrap())
}

async fn enrol(server: &TestServer, client: &Client) -> Vec<u8> {
    let enrollment = client.begin_totp().await.unwrap();
    assert!(
        enrollment
            .otpauth_uri
            .expose()
            .starts_with("otpauth://totp/casemate:")
    );
    let secret = secret_bytes(&enrollment);
    client
        .confirm_totp(code_now(server, &secret))
        .await
        .unwrap();
    // The confirming code is spent; later codes come from later time steps.
    server.clock.advance(Duration::seconds(30));
    secret
}

fn password(user: &str, password: &str, code: Option<Sensitive>) -> TokenRequest {
    TokenRequest::password(user, Sensitive::new(password), code)
}

#[tokio::test(flavor = "multi_thread")]
async fn an_enrolled_user_needs_a_fresh_code_and_cannot_replay_one() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let secret = enrol(&server, &alice).await;
    let anonymous = server.anonymous();
    let message = api_error(
        anonymous
            .token(&password("alice", USER_PASSWORD, None))
            .await,
        401,
        "MfaRequired",
    );
    assert!(message.contains("totp"), "{message}");
    let code = code_now(&server, &secret);
    let token = anonymous
        .token(&password("alice", USER_PASSWORD, Some(code.clone())))
        .await
        .unwrap();
    assert_eq!(token.scope, TokenScope::Full);
    api_error(
        anonymous
            .token(&password("alice", USER_PASSWORD, Some(code)))
            .await,
        401,
        "InvalidCredentials",
    );
    api_error(
        anonymous
            .token(&password(
                "alice",
                USER_PASSWORD,
                Some(Sensitive::new("000000")),
            ))
            .await,
        401,
        "InvalidCredentials",
    );
    api_error(
        anonymous
            .token(&password(
                "alice",
                "wrong-password-here",
                Some(code_now(&server, &secret)),
            ))
            .await,
        401,
        "InvalidCredentials",
    );
    server.clock.advance(Duration::seconds(30));
    anonymous
        .token(&password(
            "alice",
            USER_PASSWORD,
            Some(code_now(&server, &secret)),
        ))
        .await
        .unwrap();
    assert!(
        server
            .admin()
            .await
            .get_user("alice")
            .await
            .unwrap()
            .mfa_enabled
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn enrolment_needs_a_valid_code_and_happens_once() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    api_error(
        alice.confirm_totp(Sensitive::new("123456")).await,
        409,
        "Conflict",
    );
    alice.begin_totp().await.unwrap();
    let message = api_error(
        alice.confirm_totp(Sensitive::new("123456")).await,
        400,
        "InvalidInput",
    );
    assert!(message.starts_with("code:"), "{message}");
    let secret = enrol(&server, &alice).await;
    assert!(!secret.is_empty());
    api_error(alice.begin_totp().await, 409, "Conflict");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn mandatory_mfa_admits_only_enrolment_until_a_factor_is_set_up() {
    let server = TestServer::start_with(ConfigLayer {
        require_mfa: Some(true),
        ..Default::default()
    })
    .await;
    let anonymous = server.anonymous();
    let admin_token = anonymous
        .token(&password("admin", ADMIN_PASSWORD, None))
        .await
        .unwrap();
    assert_eq!(admin_token.scope, TokenScope::MfaEnrollment);
    assert!(admin_token.refresh_token.is_none());
    let limited = anonymous.with_bearer(admin_token.access_token);
    let message = api_error(limited.list_users().await, 403, "Forbidden");
    assert!(message.contains("mfa enable"), "{message}");
    api_error(
        limited
            .create_pat(&CreatePatRequest {
                name: "x".into(),
                expires_in_days: None,
            })
            .await,
        403,
        "Forbidden",
    );
    assert_eq!(
        limited.userinfo().await.unwrap().token.scope,
        TokenScope::MfaEnrollment
    );
    let secret = enrol(&server, &limited).await;
    api_error(
        anonymous
            .token(&password("admin", ADMIN_PASSWORD, None))
            .await,
        401,
        "MfaRequired",
    );
    let full = anonymous
        .token(&password(
            "admin",
            ADMIN_PASSWORD,
            Some(code_now(&server, &secret)),
        ))
        .await
        .unwrap();
    assert_eq!(full.scope, TokenScope::Full);
    anonymous
        .with_bearer(full.access_token)
        .list_users()
        .await
        .unwrap();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_administrator_can_reset_a_lost_factor() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    enrol(&server, &alice).await;
    let admin = server.admin().await;
    admin.reset_user_mfa("alice").await.unwrap();
    server
        .anonymous()
        .token(&password("alice", USER_PASSWORD, None))
        .await
        .unwrap();
    api_error(admin.reset_user_mfa("alice").await, 404, "NotFound");
    server.stop().await;
}
