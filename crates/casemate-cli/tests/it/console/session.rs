//! The console's cookie session at the HTTP level: cookie attributes, the CSRF wall in the gate,
//! refresh, sign-out, the files' headers, and sign-in input refused with the field named.

use crate::set_cookies;
use casemate_client::{Client, RawResponse};
use casemate_testkit::{ADMIN_PASSWORD, TestServer};

const JSON: (&str, &str) = ("content-type", "application/json");

fn body_json(response: &RawResponse) -> serde_json::Value {
    serde_json::from_slice(&response.body)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&response.body)))
}

/// `name=value` of the cookie `name` among `Set-Cookie` headers.
fn cookie_pair(cookies: &[String], name: &str) -> String {
    cookies
        .iter()
        .find(|c| c.starts_with(&format!("{name}=")))
        .and_then(|c| c.split(';').next())
        .unwrap_or_else(|| panic!("no {name} in {cookies:?}"))
        .to_owned()
}

/// One request, as a browser would make it: no Authorization header, only what `headers` carry.
async fn send(
    client: &Client,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> RawResponse {
    client.raw(method, path, headers, body).await.unwrap()
}

struct Session {
    access: String,
    refresh: String,
    csrf: String,
}

async fn sign_in_response(client: &Client) -> RawResponse {
    let body = serde_json::json!({"username": "admin", "password": ADMIN_PASSWORD});
    let response = send(
        client,
        "POST",
        "/console/session",
        &[JSON],
        body.to_string().into_bytes(),
    )
    .await;
    assert_eq!(
        response.status,
        200,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    response
}

async fn sign_in(client: &Client) -> Session {
    let response = sign_in_response(client).await;
    let cookies = set_cookies(&response);
    let session = body_json(&response);
    Session {
        access: cookie_pair(&cookies, "__Host-casemate-session"),
        refresh: cookie_pair(&cookies, "__Secure-casemate-refresh"),
        csrf: session["csrf_token"].as_str().unwrap().to_owned(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_session_cookies_are_http_only_secure_strict_and_kept_from_the_page() {
    let server = TestServer::start().await;
    let client = server.anonymous();
    let response = sign_in_response(&client).await;
    let cookies = set_cookies(&response);
    assert_eq!(cookies.len(), 2, "{cookies:?}");
    for cookie in &cookies {
        for attribute in ["; Secure", "; HttpOnly", "; SameSite=Strict", "; Max-Age="] {
            assert!(
                cookie.contains(attribute),
                "{attribute} missing from {cookie}"
            );
        }
    }
    let access = cookies.iter().find(|c| c.starts_with("__Host-")).unwrap();
    assert!(
        access.contains("; Path=/;") && !access.contains("Domain"),
        "{access}"
    );
    let refresh = cookies.iter().find(|c| c.starts_with("__Secure-")).unwrap();
    assert!(
        refresh.contains("; Path=/console/session/refresh;"),
        "{refresh}"
    );
    // The page learns who signed in and the CSRF token, never a token that authenticates.
    let session = body_json(&response);
    assert_eq!(session["name"], "admin");
    assert_eq!(session["scope"], "full");
    let token = cookie_pair(&cookies, "__Host-casemate-session");
    let token = token.split_once('=').unwrap().1;
    let text = String::from_utf8_lossy(&response.body);
    assert!(!text.contains(token), "{text}");
    assert_eq!(response.headers["cache-control"], "no-store");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cookie_request_that_changes_state_needs_the_csrf_token_and_refusals_are_recorded() {
    let server = TestServer::start().await;
    let client = server.anonymous();
    let session = sign_in(&client).await;
    let cookie = ("cookie", session.access.as_str());

    // Reading needs only the cookie.
    let read = send(&client, "GET", "/resourceGroups", &[cookie], vec![]).await;
    assert_eq!(read.status, 200);
    let shown = send(&client, "GET", "/console/session", &[cookie], vec![]).await;
    assert_eq!(body_json(&shown)["csrf_token"], session.csrf.as_str());

    // Changing state without the token, or with another, is refused and recorded; with it, done.
    for headers in [vec![cookie], vec![cookie, ("x-csrf-token", "forged")]] {
        let refused = send(&client, "PUT", "/resourceGroups/forged", &headers, vec![]).await;
        assert_eq!(refused.status, 403);
        let message = body_json(&refused)["error"]["message"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(message.contains("x-csrf-token"), "{message}");
    }
    let made = send(
        &client,
        "PUT",
        "/resourceGroups/team",
        &[cookie, ("x-csrf-token", &session.csrf)],
        vec![],
    )
    .await;
    assert_eq!(made.status, 201, "{}", String::from_utf8_lossy(&made.body));
    let admin = server.admin().await;
    let forged = admin
        .list_activity(&[("scope", "/resourceGroups/forged")])
        .await
        .unwrap();
    assert_eq!(forged.entries.len(), 2, "{:?}", forged.entries);
    assert!(
        forged
            .entries
            .iter()
            .all(|e| e.outcome == "Denied" && e.caller_name == "admin")
    );
    assert!(admin.get_resource_group("forged").await.is_err());

    // A client with its own Authorization header is not a browser session: no CSRF token needed.
    admin.create_resource_group("scripted").await.unwrap();
    // Nor has it a console session to describe, even when it carries the cookie as well.
    let described = admin
        .raw("GET", "/console/session", &[cookie], vec![])
        .await
        .unwrap();
    assert_eq!(described.status, 400);
    let message = body_json(&described)["error"]["message"].to_string();
    assert!(message.contains("Authorization"), "{message}");
}

#[tokio::test(flavor = "multi_thread")]
async fn refresh_renews_the_cookies_and_sign_out_ends_the_session() {
    let server = TestServer::start().await;
    let client = server.anonymous();
    let session = sign_in(&client).await;

    // Refresh must be declared JSON (no cross-site form can send it) and carry its cookie.
    let refresh_cookie = ("cookie", session.refresh.as_str());
    let as_form = send(
        &client,
        "POST",
        "/console/session/refresh",
        &[refresh_cookie],
        vec![],
    )
    .await;
    assert_eq!(as_form.status, 400);
    assert!(String::from_utf8_lossy(&as_form.body).contains("content-type"));
    let without = send(
        &client,
        "POST",
        "/console/session/refresh",
        &[JSON],
        b"{}".to_vec(),
    )
    .await;
    assert_eq!(without.status, 401);
    let renewed = send(
        &client,
        "POST",
        "/console/session/refresh",
        &[JSON, refresh_cookie],
        b"{}".to_vec(),
    )
    .await;
    assert_eq!(
        renewed.status,
        200,
        "{}",
        String::from_utf8_lossy(&renewed.body)
    );
    let cookies = set_cookies(&renewed);
    let access = cookie_pair(&cookies, "__Host-casemate-session");
    assert_ne!(access, session.access);
    let csrf = body_json(&renewed)["csrf_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(
        csrf, session.csrf,
        "the CSRF token follows the access token"
    );

    // Signing out needs the CSRF token too, clears both cookies and ends the session.
    let cookie = ("cookie", access.as_str());
    let refused = send(&client, "DELETE", "/console/session", &[cookie], vec![]).await;
    assert_eq!(refused.status, 403);
    let out = send(
        &client,
        "DELETE",
        "/console/session",
        &[cookie, ("x-csrf-token", &csrf)],
        vec![],
    )
    .await;
    assert_eq!(out.status, 204);
    let cleared = set_cookies(&out);
    assert_eq!(cleared.len(), 2);
    assert!(
        cleared.iter().all(|c| c.contains("Max-Age=0")),
        "{cleared:?}"
    );
    let after = send(&client, "GET", "/console/session", &[cookie], vec![]).await;
    assert_eq!(after.status, 401);
    let reused = send(
        &client,
        "POST",
        "/console/session/refresh",
        &[
            JSON,
            (
                "cookie",
                &cookie_pair(&cookies, "__Secure-casemate-refresh"),
            ),
        ],
        b"{}".to_vec(),
    )
    .await;
    assert_eq!(
        reused.status, 401,
        "the refresh token died with the session"
    );
}

/// (case, headers, body, the field the refusal must name)
type SignInCase = (
    &'static str,
    &'static [(&'static str, &'static str)],
    &'static str,
    &'static str,
);

#[tokio::test(flavor = "multi_thread")]
async fn console_sign_in_refuses_bad_input_naming_the_field() {
    let server = TestServer::start().await;
    let client = server.anonymous();
    let cases: [SignInCase; 5] = [
        (
            "form-encoded",
            &[("content-type", "application/x-www-form-urlencoded")],
            "username=admin&password=x",
            "content-type",
        ),
        (
            "no password",
            &[JSON],
            r#"{"username":"admin"}"#,
            "password",
        ),
        (
            "unknown field",
            &[JSON],
            r#"{"username":"a","password":"b","admin":true}"#,
            "admin",
        ),
        ("not JSON", &[JSON], "{", "body"),
        (
            "wrong type",
            &[JSON],
            r#"{"username":1,"password":"b"}"#,
            "username",
        ),
    ];
    for (case, headers, body, field) in cases {
        let response = send(
            &client,
            "POST",
            "/console/session",
            headers,
            body.as_bytes().to_vec(),
        )
        .await;
        assert_eq!(response.status, 400, "{case}");
        let error = body_json(&response);
        let message = error["error"]["message"].as_str().unwrap();
        assert!(message.contains(field), "{case}: {message}");
        assert!(set_cookies(&response).is_empty(), "{case}");
    }
    let wrong = send(
        &client,
        "POST",
        "/console/session",
        &[JSON],
        br#"{"username":"admin","password":"not-it"}"#.to_vec(),
    )
    .await;
    assert_eq!(wrong.status, 401);
    assert!(set_cookies(&wrong).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_console_files_come_with_a_strict_policy_and_nothing_else_is_served() {
    let server = TestServer::start().await;
    let client = server.anonymous();
    for path in ["/", "/console/app.js", "/console/console.css"] {
        let response = send(&client, "GET", path, &[], vec![]).await;
        assert_eq!(response.status, 200, "{path}");
        let policy = response.headers["content-security-policy"]
            .to_str()
            .unwrap();
        for directive in [
            "default-src 'none'",
            "script-src 'self'",
            "frame-ancestors 'none'",
        ] {
            assert!(policy.contains(directive), "{path}: {policy}");
        }
        assert!(!policy.contains("unsafe-inline") && !policy.contains("unsafe-eval"));
        assert_eq!(response.headers["x-frame-options"], "DENY");
        assert_eq!(response.headers["x-content-type-options"], "nosniff");
    }
    let page = send(&client, "GET", "/", &[], vec![]).await;
    assert!(
        page.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let script = send(&client, "GET", "/console/app.js", &[], vec![]).await;
    assert!(
        script.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    for missing in [
        "/console/nothing.js",
        "/console/..%2Fconfig.toml",
        "/console/",
    ] {
        let response = send(&client, "GET", missing, &[], vec![]).await;
        assert_eq!(response.status, 404, "{missing}");
    }
}
