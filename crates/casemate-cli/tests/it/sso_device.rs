//! Single sign-on by RFC 8628's device flow, for a terminal with no browser at hand: the real
//! server brokers a device sign-in at a real OpenID provider (authlib's, tests/oidc/provider.py)
//! and the user approves it at the provider from another device. The CLI's whole trip; then the
//! grant's answers one by one: pending, a code it never began, a sign-in the user refused, ID
//! tokens a hostile provider would send, a code used twice, a provider without the flow.

use crate::sso::{
    Provider, creating_users, provider_and_server, provider_with_options_and_server,
    start_sso_login,
};
use casemate_client::Client;
use casemate_types::Sensitive;
use casemate_types::wire::{DeviceAuthorizationResponse, TokenRequest};
use serde_json::{Value, json};

/// The user, at another device, signs in at the provider's verification page.
pub(crate) async fn approve(provider: &Provider, device: &DeviceAuthorizationResponse) {
    let page = device.verification_uri_complete.as_deref().unwrap();
    assert!(page.starts_with(&format!("{}/device?user_code=", provider.issuer)));
    let response = provider.http.get(page).send().await.unwrap();
    assert_eq!(response.status(), 200, "{:?}", response.text().await);
}

/// The user refuses the sign-in at the provider.
async fn deny(provider: &Provider, device: &DeviceAuthorizationResponse) {
    let url = format!("{}/_test/deny-device", provider.issuer);
    let body = json!({"user_code": device.user_code});
    let response = provider.http.post(url).json(&body).send().await.unwrap();
    assert!(response.status().is_success());
}

async fn poll(client: &Client, device: &DeviceAuthorizationResponse) -> String {
    let request = TokenRequest::device_code(device.device_code.clone());
    crate::api_error(client.token(&request).await, 401, "SignInRefused")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_cli_signs_in_by_device_code_approved_at_the_provider() {
    let (provider, server) = provider_and_server(creating_users(), None).await;
    let config = tempfile::tempdir().unwrap();
    let (child, mut lines) = start_sso_login(&server, config.path(), &["--device"]);
    let mut printed = Vec::new();
    let page = loop {
        let line = lines.next_line().await.unwrap().unwrap_or_else(|| {
            panic!("casemate login --sso --device printed no page to open: {printed:?}")
        });
        if let Some(start) = line.find(&format!("{}/device?user_code=", provider.issuer)) {
            break line[start..].trim().to_owned();
        }
        printed.push(line);
    };
    // The rest of what it prints is read, so that it never writes to a closed pipe.
    let rest = tokio::spawn(async move {
        let mut rest = Vec::new();
        while let Ok(Some(line)) = lines.next_line().await {
            rest.push(line);
        }
        rest
    });
    let user_code = page.rsplit('=').next().unwrap().to_owned();
    let response = provider.http.get(&page).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let output = child.wait_with_output().await.unwrap();
    let told = crate::cli::succeeded(&output);
    assert!(told.contains("as ada (user)"), "{told}");
    let stderr = rest.await.unwrap().join("\n");
    assert!(
        printed.iter().any(|line| line.trim() == user_code) || stderr.contains(&user_code),
        "the user code is shown for typing in: {printed:?} {stderr}"
    );
    let whoami = crate::cli::casemate_json(config.path(), &["token", "show"]).await;
    assert_eq!(whoami["name"], "ada", "{whoami}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_device_grant_waits_for_the_user_and_refuses_what_it_did_not_begin() {
    let (provider, server) = provider_and_server(creating_users(), None).await;
    let terminal = server.anonymous();

    let device = terminal.begin_device_sign_in().await.unwrap();
    assert_eq!((device.interval, device.expires_in), (1, 600));
    // Before the user has signed in: pending, for as long as the CLI polls. Polling is no
    // refusal: it spends no budget of unauthenticated requests (60), and is not recorded.
    for _ in 0..65 {
        let request = TokenRequest::device_code(device.device_code.clone());
        let message = crate::api_error(terminal.token(&request).await, 400, "AuthorizationPending");
        assert!(message.contains("not finished"), "{message}");
    }
    approve(&provider, &device).await;
    let request = TokenRequest::device_code(device.device_code.clone());
    let tokens = terminal.token(&request).await.unwrap();
    let session = terminal.with_bearer(tokens.access_token);
    assert_eq!(session.userinfo().await.unwrap().name, "ada");
    let admin = server.admin().await;
    let recorded = crate::sign_in_activity::records_of(&admin, "oauth2/token/action").await;
    assert!(
        recorded
            .iter()
            .any(|e| e.caller_name == "ada" && e.outcome == "Succeeded"),
        "the device sign-in is recorded by ada: {recorded:?}"
    );
    assert!(
        recorded.iter().all(|e| e.status != 400),
        "no pending poll is recorded: {recorded:?}"
    );
    // The code opened its one session.
    let message = poll(&terminal, &device).await;
    assert!(message.contains("finished already"), "{message}");

    // A device code this server never began a sign-in with.
    let made_up = DeviceAuthorizationResponse {
        device_code: Sensitive::new("made-up-device-code"),
        ..device.clone()
    };
    let message = poll(&terminal, &made_up).await;
    assert!(message.contains("not one this server began"), "{message}");

    // The user refuses at the provider: the sign-in is over.
    let refused = terminal.begin_device_sign_in().await.unwrap();
    deny(&provider, &refused).await;
    let message = poll(&terminal, &refused).await;
    assert!(
        message.contains("ended the device sign-in (access_denied)"),
        "{message}"
    );
    let message = poll(&terminal, &refused).await;
    assert!(message.contains("finished already"), "{message}");

    // ID tokens a misbehaving or hostile provider would send end the sign-in, and open nothing.
    let hour_ago = time::OffsetDateTime::now_utc().unix_timestamp() - 3600;
    let cases = [
        (
            json!({"iss": "http://127.0.0.1:1/another-issuer"}),
            "id_token iss",
        ),
        (json!({"aud": "another-client"}), "id_token aud"),
        (
            json!({"iat": hour_ago - 300, "exp": hour_ago}),
            "id_token exp",
        ),
    ];
    for (claims, says) in cases {
        let device = terminal.begin_device_sign_in().await.unwrap();
        approve(&provider, &device).await;
        provider.misbehave(claims).await;
        let message = poll(&terminal, &device).await;
        assert!(message.contains(says), "'{message}' should say '{says}'");
        let message = poll(&terminal, &device).await;
        assert!(message.contains("finished already"), "{message}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_device_grant_takes_its_one_field_and_needs_a_provider_that_offers_it() {
    let (_provider, server) =
        provider_with_options_and_server(creating_users(), None, &["--no-device"]).await;
    let terminal = server.anonymous();
    let message = crate::api_error(terminal.begin_device_sign_in().await, 501, "NotImplemented");
    assert!(
        message.contains("does not offer the device flow"),
        "{message}"
    );

    let grant = "urn:ietf:params:oauth:grant-type:device_code";
    let missing = terminal
        .raw(
            "POST",
            "/oauth2/token",
            &[("content-type", "application/x-www-form-urlencoded")],
            url::form_urlencoded::Serializer::new(String::new())
                .append_pair("grant_type", grant)
                .finish()
                .into_bytes(),
        )
        .await
        .unwrap();
    let body: Value = serde_json::from_slice(&missing.body).unwrap();
    assert_eq!(missing.status, 400, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("device_code: is required"), "{message}");
    let mut with_password = TokenRequest::device_code(Sensitive::new("d"));
    with_password.password = Some(Sensitive::new("p"));
    let message = crate::api_error(terminal.token(&with_password).await, 400, "InvalidInput");
    assert!(
        message.starts_with(&format!("password: is not allowed with grant_type={grant}")),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn without_single_sign_on_there_is_no_device_sign_in() {
    let server = casemate_testkit::TestServer::start().await;
    let terminal = server.anonymous();
    let message = crate::api_error(terminal.begin_device_sign_in().await, 404, "NotFound");
    assert!(
        message.contains("no [sso] issuer is configured"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_ins_begun_from_one_address_are_bounded() {
    let (_provider, server) = provider_and_server(creating_users(), None).await;
    let anonymous = server.anonymous();
    let budget = 60;
    for _ in 0..budget - 1 {
        let begun = anonymous
            .raw("GET", "/console/sso/start", &[], vec![])
            .await
            .unwrap();
        assert_eq!(begun.status, 303);
    }
    anonymous.begin_device_sign_in().await.unwrap();
    let recorded = server.count_rows("sso_sign_ins").await;
    // The budget is spent, browser and device sign-ins alike: nothing more is written.
    let refused = anonymous
        .raw("GET", "/console/sso/start", &[], vec![])
        .await
        .unwrap();
    let message = crate::raw_error(&refused, 429, "Throttled");
    assert!(
        message.starts_with("too many single sign-ins begun from this address; retry after"),
        "{message}"
    );
    assert!(refused.header("retry-after").is_some());
    crate::api_error(anonymous.begin_device_sign_in().await, 429, "Throttled");
    assert_eq!(server.count_rows("sso_sign_ins").await, recorded);
    assert_eq!(server.count_rows("sso_device_sign_ins").await, 1);
}
