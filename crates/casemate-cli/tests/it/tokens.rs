//! Token issuance and every way a token is refused.

use crate::{api_error, raw_error};
use casemate_crypto::token::{AccessClaims, SigningKey};
use casemate_testkit::{ADMIN_PASSWORD, TestServer, USER_PASSWORD};
use casemate_types::Clock;
use casemate_types::Sensitive;
use casemate_types::wire::*;
use time::Duration;

async fn password_token(server: &TestServer, user: &str, password: &str) -> TokenResponse {
    server
        .anonymous()
        .token(&TokenRequest::password(
            user,
            Sensitive::new(password),
            None,
        ))
        .await
        .unwrap()
}

fn forged_claims(server: &TestServer, subject: uuid::Uuid) -> AccessClaims {
    let now = server.clock.now();
    AccessClaims {
        iss: server.server.services.settings.issuer.clone(),
        sub: subject,
        kind: PrincipalKind::User,
        sid: None,
        scp: TokenScope::Full,
        iat: now,
        nbf: now,
        exp: now + Duration::hours(1),
        jti: uuid::Uuid::new_v4(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_password_sign_in_yields_a_working_token_with_a_key_id() {
    let server = TestServer::start().await;
    let token = password_token(&server, "admin", ADMIN_PASSWORD).await;
    assert_eq!(token.token_type, "Bearer");
    assert_eq!(token.expires_in, 3600);
    assert!(token.access_token.expose().starts_with("v4.public."));
    assert!(
        token
            .refresh_token
            .as_ref()
            .unwrap()
            .expose()
            .starts_with("cmr_")
    );
    let info = server
        .anonymous()
        .with_bearer(token.access_token)
        .userinfo()
        .await
        .unwrap();
    assert_eq!(info.name, "admin");
    assert_eq!(info.kind, PrincipalKind::User);
    let keys = server.anonymous().public_keys().await.unwrap();
    assert_eq!(keys.keys.len(), 1);
    assert_eq!(
        info.token.key_id.as_deref(),
        Some(keys.keys[0].kid.as_str())
    );
    assert!(keys.keys[0].public_key.starts_with("k4.public."));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn tokens_signed_by_another_key_are_refused() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let me = admin.userinfo().await.unwrap();
    let stranger = SigningKey::generate().unwrap();
    let forged = stranger
        .sign(&forged_claims(&server, me.object_id))
        .unwrap();
    let result = server
        .anonymous()
        .with_bearer(Sensitive::new(forged))
        .userinfo()
        .await;
    api_error(result, 401, "Unauthenticated");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_altered_by_one_byte_is_refused() {
    let server = TestServer::start().await;
    let token = password_token(&server, "admin", ADMIN_PASSWORD).await;
    let original = token.access_token.expose().to_owned();
    // Flip one byte in the payload, in the signature, and in the footer.
    for position in [12, original.rfind('.').unwrap() - 5, original.len() - 3] {
        let mut bytes = original.clone().into_bytes();
        bytes[position] = if bytes[position] == b'A' { b'B' } else { b'A' };
        let altered = String::from_utf8(bytes).unwrap();
        let response = server
            .anonymous()
            .raw(
                "GET",
                "/oauth2/userinfo",
                &[("authorization", &format!("Bearer {altered}"))],
                vec![],
            )
            .await
            .unwrap();
        raw_error(&response, 401, "Unauthenticated");
        assert_eq!(
            response.header("www-authenticate"),
            Some("Bearer realm=\"casemate\"")
        );
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_token_is_refused() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    admin.userinfo().await.unwrap();
    server.clock.advance(Duration::minutes(59));
    admin.userinfo().await.unwrap();
    server.clock.advance(Duration::minutes(2));
    let expired = api_error(admin.userinfo().await, 401, "Unauthenticated");
    let garbage = api_error(
        server
            .anonymous()
            .with_bearer(Sensitive::new("garbage"))
            .userinfo()
            .await,
        401,
        "Unauthenticated",
    );
    assert_eq!(
        expired, garbage,
        "the precise reason stays in the server log"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_authorization_headers_are_refused() {
    let server = TestServer::start().await;
    let client = server.anonymous();
    for header in [
        "Bearer",
        "Bearer garbage",
        "Bearer v4.public.AAAA",
        "Basic !!!",
        "Basic YWRtaW4=",
        "Digest abc",
        "Bearer cmp_zz_zz",
    ] {
        let response = client
            .raw(
                "GET",
                "/oauth2/userinfo",
                &[("authorization", header)],
                vec![],
            )
            .await
            .unwrap();
        raw_error(&response, 401, "Unauthenticated");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_out_revokes_access_and_refresh_tokens_at_once() {
    let server = TestServer::start().await;
    let token = password_token(&server, "admin", ADMIN_PASSWORD).await;
    let client = server.anonymous().with_bearer(token.access_token.clone());
    client.userinfo().await.unwrap();
    client.logout().await.unwrap();
    api_error(client.userinfo().await, 401, "Unauthenticated");
    let refresh = server
        .anonymous()
        .token(&TokenRequest::refresh(token.refresh_token.unwrap()))
        .await;
    api_error(refresh, 401, "InvalidCredentials");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn refresh_tokens_rotate_and_a_reused_one_kills_its_family() {
    let server = TestServer::start().await;
    let anonymous = server.anonymous();
    let first = password_token(&server, "admin", ADMIN_PASSWORD).await;
    let first_refresh = first.refresh_token.clone().unwrap();
    let second = anonymous
        .token(&TokenRequest::refresh(first_refresh.clone()))
        .await
        .unwrap();
    let second_refresh = second.refresh_token.clone().unwrap();
    assert_ne!(first_refresh.expose(), second_refresh.expose(), "rotated");
    anonymous
        .with_bearer(second.access_token.clone())
        .userinfo()
        .await
        .unwrap();
    // The first refresh token is presented again: a thief or a replay. The whole family dies.
    api_error(
        anonymous.token(&TokenRequest::refresh(first_refresh)).await,
        401,
        "InvalidCredentials",
    );
    api_error(
        anonymous
            .token(&TokenRequest::refresh(second_refresh))
            .await,
        401,
        "InvalidCredentials",
    );
    api_error(
        anonymous.with_bearer(second.access_token).userinfo().await,
        401,
        "Unauthenticated",
    );
    api_error(
        anonymous.with_bearer(first.access_token).userinfo().await,
        401,
        "Unauthenticated",
    );
    // Another sign-in is unaffected.
    server.admin().await.userinfo().await.unwrap();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn disabling_a_user_ends_its_sessions_on_the_next_request() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    alice.userinfo().await.unwrap();
    let admin = server.admin().await;
    let disabled = admin.disable_user("alice").await.unwrap();
    assert!(!disabled.enabled);
    api_error(alice.userinfo().await, 401, "Unauthenticated");
    let again = server
        .anonymous()
        .token(&TokenRequest::password(
            "alice",
            Sensitive::new(USER_PASSWORD),
            None,
        ))
        .await;
    api_error(again, 401, "InvalidCredentials");
    admin.enable_user("alice").await.unwrap();
    server
        .sign_in("alice", USER_PASSWORD)
        .await
        .userinfo()
        .await
        .unwrap();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn changes_made_outside_the_server_take_effect_on_the_next_request() {
    // The gate keeps what it reads between requests; a change made behind its back (another
    // server process, or a person with the sqlite3 shell) must still count at once.
    let server = TestServer::start().await;
    let admin = server.admin().await;
    admin.create_resource_group("team").await.unwrap();
    let alice = server
        .user_with_role("alice", "Reader", "/resourceGroups/team")
        .await;
    let pat = alice
        .create_pat(&CreatePatRequest {
            name: "mlflow".into(),
            expires_in_days: Some(7),
        })
        .await
        .unwrap();
    let alice_by_pat = server.anonymous().with_bearer(pat.token.clone());
    for _ in 0..2 {
        alice.get_resource_group("team").await.unwrap();
        alice_by_pat.get_resource_group("team").await.unwrap();
    }
    server
        .sql("DELETE FROM role_assignments WHERE principal_id = (SELECT id FROM principals WHERE name = 'alice');")
        .await
        .unwrap();
    api_error(alice.get_resource_group("team").await, 403, "Forbidden");
    alice.userinfo().await.unwrap();
    server
        .sql("UPDATE personal_access_tokens SET revoked_at = 1;")
        .await
        .unwrap();
    api_error(alice_by_pat.userinfo().await, 401, "Unauthenticated");
    alice.userinfo().await.unwrap();
    server
        .sql("UPDATE sessions SET revoked_at = 1 WHERE principal_id = (SELECT id FROM principals WHERE name = 'alice');")
        .await
        .unwrap();
    api_error(alice.userinfo().await, 401, "Unauthenticated");
    let bob = server.new_user("bob").await;
    bob.userinfo().await.unwrap();
    server
        .sql("UPDATE principals SET enabled = FALSE WHERE name = 'bob';")
        .await
        .unwrap();
    api_error(bob.userinfo().await, 401, "Unauthenticated");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn rotated_signing_keys_keep_verifying_their_tokens_until_they_expire() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let old_kid = admin.userinfo().await.unwrap().token.key_id.unwrap();
    let keys = admin.rotate_signing_key().await.unwrap();
    assert_eq!(keys.keys.len(), 2);
    let active: Vec<_> = keys
        .keys
        .iter()
        .filter(|k| k.status == SigningKeyStatus::Active)
        .collect();
    assert_eq!(active.len(), 1);
    assert_ne!(active[0].kid, old_kid);
    // The token signed by the retired key still works; a new sign-in uses the new key.
    admin.userinfo().await.unwrap();
    let fresh = server.admin().await;
    assert_eq!(
        fresh.userinfo().await.unwrap().token.key_id.as_deref(),
        Some(active[0].kid.as_str())
    );
    // Past its window the retired key is gone from the published set.
    server.clock.advance(Duration::minutes(63));
    let published = server.anonymous().public_keys().await.unwrap();
    assert!(published.keys.iter().all(|k| k.kid != old_kid));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn failed_sign_ins_are_throttled_per_principal() {
    let server = TestServer::start().await;
    let anonymous = server.anonymous();
    let wrong = TokenRequest::password("admin", Sensitive::new("not-the-password"), None);
    for _ in 0..5 {
        api_error(anonymous.token(&wrong).await, 401, "InvalidCredentials");
    }
    let right = TokenRequest::password("admin", Sensitive::new(ADMIN_PASSWORD), None);
    match anonymous.token(&right).await {
        Err(casemate_client::ClientError::Api {
            status: 429,
            code,
            retry_after,
            ..
        }) => {
            assert_eq!(code, "Throttled");
            let seconds = retry_after.expect("Retry-After header");
            assert!((1..=900).contains(&seconds), "{seconds}");
        }
        other => panic!("expected 429, got {other:?}"),
    }
    server.clock.advance(Duration::minutes(16));
    anonymous.token(&right).await.unwrap();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn failed_sign_ins_are_throttled_per_client_address() {
    let server = TestServer::start().await;
    let anonymous = server.anonymous();
    for attempt in 0..20 {
        let guess = TokenRequest::password(
            &format!("nobody{attempt}"),
            Sensitive::new("guess-guess-guess"),
            None,
        );
        api_error(anonymous.token(&guess).await, 401, "InvalidCredentials");
    }
    let right = TokenRequest::password("admin", Sensitive::new(ADMIN_PASSWORD), None);
    api_error(anonymous.token(&right).await, 429, "Throttled");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn token_requests_name_the_field_at_fault() {
    let server = TestServer::start().await;
    let client = server.anonymous();
    let form = |body: &str| {
        let client = client.clone();
        let body = body.as_bytes().to_vec();
        async move {
            client
                .raw(
                    "POST",
                    "/oauth2/token",
                    &[("content-type", "application/x-www-form-urlencoded")],
                    body,
                )
                .await
                .unwrap()
        }
    };
    let cases = [
        ("username=admin", "grant_type"),
        ("grant_type=magic", "magic"),
        ("grant_type=password&username=admin", "password"),
        ("grant_type=password&password=x", "username"),
        (
            "grant_type=password&username=a&password=b&client_id=c",
            "client_id",
        ),
        ("grant_type=client_credentials&client_secret=x", "client_id"),
        (
            "grant_type=client_credentials&client_id=not-a-uuid&client_secret=x",
            "client_id",
        ),
        ("grant_type=refresh_token", "refresh_token"),
        (
            "grant_type=password&username=a&password=b&colour=blue",
            "colour",
        ),
    ];
    for (body, named) in cases {
        let message = raw_error(&form(body).await, 400, "InvalidInput");
        assert!(message.contains(named), "{body}: {message}");
    }
    let json = client
        .raw(
            "POST",
            "/oauth2/token",
            &[("content-type", "application/json")],
            br#"{"grant_type":"password","username":5}"#.to_vec(),
        )
        .await
        .unwrap();
    assert!(raw_error(&json, 400, "InvalidInput").contains("username"));
    let text = client
        .raw(
            "POST",
            "/oauth2/token",
            &[("content-type", "text/plain")],
            b"hi".to_vec(),
        )
        .await
        .unwrap();
    assert!(raw_error(&text, 400, "InvalidInput").contains("content-type"));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn service_principals_sign_in_with_client_credentials_and_rotate_secrets() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let sp = admin
        .create_service_principal(&CreateServicePrincipalRequest {
            name: "trainer".into(),
            display_name: None,
        })
        .await
        .unwrap();
    let first = admin
        .add_client_secret("trainer", &AddClientSecretRequest::default())
        .await
        .unwrap();
    let second = admin
        .add_client_secret(
            "trainer",
            &AddClientSecretRequest {
                expires_in_days: Some(1),
                description: Some("rotation".into()),
            },
        )
        .await
        .unwrap();
    let client_id = sp.client_id.to_string();
    let anonymous = server.anonymous();
    for secret in [&first.secret, &second.secret] {
        let token = anonymous
            .token(&TokenRequest::client_credentials(
                &client_id,
                secret.clone(),
            ))
            .await
            .unwrap();
        assert!(
            token.refresh_token.is_none(),
            "client credentials get no refresh token"
        );
        let info = anonymous
            .with_bearer(token.access_token)
            .userinfo()
            .await
            .unwrap();
        assert_eq!(info.kind, PrincipalKind::ServicePrincipal);
        assert_eq!(info.object_id, sp.object_id);
    }
    let listed = admin.get_service_principal("trainer").await.unwrap();
    assert_eq!(listed.secrets.len(), 2);
    let listing = serde_json::to_string(&listed).unwrap();
    assert!(!listing.contains(first.secret.expose()) && !listing.contains(second.secret.expose()));
    // Remove the first: it stops working, the second goes on.
    admin
        .remove_client_secret("trainer", first.info.secret_id)
        .await
        .unwrap();
    api_error(
        anonymous
            .token(&TokenRequest::client_credentials(
                &client_id,
                first.secret.clone(),
            ))
            .await,
        401,
        "InvalidCredentials",
    );
    anonymous
        .token(&TokenRequest::client_credentials(
            &client_id,
            second.secret.clone(),
        ))
        .await
        .unwrap();
    // The second expires after a day.
    server.clock.advance(Duration::hours(25));
    api_error(
        anonymous
            .token(&TokenRequest::client_credentials(
                &client_id,
                second.secret.clone(),
            ))
            .await,
        401,
        "InvalidCredentials",
    );
    // A wrong secret for a real client.
    let wrong = Sensitive::new(format!(
        "cms_{}_{}",
        uuid::Uuid::new_v4().simple(),
        "A".repeat(43)
    ));
    api_error(
        anonymous
            .token(&TokenRequest::client_credentials(&client_id, wrong))
            .await,
        401,
        "InvalidCredentials",
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn personal_access_tokens_work_as_bearer_and_basic_until_revoked() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let created = alice
        .create_pat(&CreatePatRequest {
            name: "mlflow".into(),
            expires_in_days: Some(7),
        })
        .await
        .unwrap();
    assert!(created.token.expose().starts_with("cmp_"));
    let anonymous = server.anonymous();
    let as_bearer = anonymous.with_bearer(created.token.clone());
    assert_eq!(
        as_bearer.userinfo().await.unwrap().token.token_type,
        "personal_access_token"
    );
    let as_basic = anonymous.with_basic("alice", created.token.clone());
    assert_eq!(as_basic.userinfo().await.unwrap().name, "alice");
    api_error(
        anonymous
            .with_basic("admin", created.token.clone())
            .userinfo()
            .await,
        401,
        "Unauthenticated",
    );
    api_error(
        anonymous
            .with_basic("alice", Sensitive::new(USER_PASSWORD))
            .userinfo()
            .await,
        401,
        "Unauthenticated",
    );
    let message = api_error(
        as_bearer
            .create_pat(&CreatePatRequest {
                name: "more".into(),
                expires_in_days: None,
            })
            .await,
        403,
        "Forbidden",
    );
    assert!(message.contains("personal access token"), "{message}");
    let listed = alice.list_pats().await.unwrap();
    assert_eq!(listed.len(), 1);
    alice.revoke_pat(created.info.token_id).await.unwrap();
    api_error(as_bearer.userinfo().await, 401, "Unauthenticated");
    api_error(as_basic.userinfo().await, 401, "Unauthenticated");
    assert!(alice.list_pats().await.unwrap()[0].revoked);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn personal_access_tokens_expire() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let created = alice
        .create_pat(&CreatePatRequest {
            name: "short".into(),
            expires_in_days: Some(1),
        })
        .await
        .unwrap();
    let as_bearer = server.anonymous().with_bearer(created.token);
    as_bearer.userinfo().await.unwrap();
    server.clock.advance(Duration::hours(25));
    api_error(as_bearer.userinfo().await, 401, "Unauthenticated");
    // alice's access token expired too: sign in again to see the lifetime rule enforced.
    api_error(alice.userinfo().await, 401, "Unauthenticated");
    let alice = server.sign_in("alice", USER_PASSWORD).await;
    let message = api_error(
        alice
            .create_pat(&CreatePatRequest {
                name: "long".into(),
                expires_in_days: Some(400),
            })
            .await,
        400,
        "InvalidInput",
    );
    assert!(message.starts_with("expires_in_days:"), "{message}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn accounts_and_signing_keys_survive_a_restart() {
    let server = TestServer::start().await;
    server.new_user("alice").await;
    let kid = server.anonymous().public_keys().await.unwrap().keys[0]
        .kid
        .clone();
    let server = server.restart(Default::default()).await;
    server
        .sign_in("alice", USER_PASSWORD)
        .await
        .userinfo()
        .await
        .unwrap();
    assert_eq!(
        server.anonymous().public_keys().await.unwrap().keys[0].kid,
        kid
    );
    server.stop().await;
}
