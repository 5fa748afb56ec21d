//! Single sign-on through a real OpenID provider (authlib's authorization server from PyPI,
//! started on loopback: tests/oidc/provider.py) against the real server: the browser's trip
//! (start, the provider, the callback) made request by request, as a browser would follow the
//! redirects. A good sign-in opens the console's cookie session; another issuer, a wrong
//! audience, an expired token, a replayed state, a replayed nonce and another browser's callback
//! are refused and open nothing.

use crate::mlflow::venv_with;
use crate::{free_port, set_cookies};
use casemate_client::{Client, RawResponse};
use casemate_server::config::ConfigLayer;
use casemate_server::sso::config::SsoLayer;
use casemate_testkit::TestServer;
use serde_json::{Value, json};
use std::path::Path;
use std::process::{Child, Command};
use std::time::Duration;

pub(crate) const CLIENT_ID: &str = "casemate";
const BINDING_COOKIE: &str = "__Host-casemate-sso";
const ACCESS_COOKIE: &str = "__Host-casemate-session";

pub(crate) struct Provider {
    pub(crate) issuer: String,
    pub(crate) http: reqwest::Client,
    child: Child,
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Provider {
    /// Starts the provider on `port`, registered with the one `redirect_uri`; `options` are
    /// provider.py's own (`--no-device`).
    async fn start(port: u16, redirect_uri: &str, options: &[&str]) -> Self {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let venv = tokio::task::spawn_blocking(|| {
            venv_with("oidc-provider-venv", &["authlib>=1.6,<2", "flask>=3,<4"])
        })
        .await
        .unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oidc/provider.py");
        let child = Command::new(venv.join("bin/python"))
            .arg(script)
            .args([&port.to_string(), CLIENT_ID, redirect_uri])
            .args(options)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let provider = Self {
            issuer: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            child,
        };
        for _ in 0..300 {
            let url = format!("{}/.well-known/openid-configuration", provider.issuer);
            if provider.http.get(url).send().await.is_ok() {
                return provider;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the OpenID provider at {} never answered", provider.issuer);
    }

    /// Makes the provider's next ID token carry `claims` over the ones it would issue.
    pub(crate) async fn misbehave(&self, claims: Value) {
        let url = format!("{}/_test/next-claims", self.issuer);
        let response = self.http.post(url).json(&claims).send().await.unwrap();
        assert!(response.status().is_success());
    }

    /// The provider's answer to an authorization request (it signs its one user in at once):
    /// the path and query of the redirect back to casemate's callback.
    async fn authorize(&self, location: &str) -> String {
        let response = self.http.get(location).send().await.unwrap();
        assert_eq!(response.status(), 302, "{:?}", response.text().await);
        let back = reqwest::Url::parse(response.headers()["location"].to_str().unwrap()).unwrap();
        format!("{}?{}", back.path(), back.query().unwrap())
    }
}

/// A provider on loopback and a server configured for it.
pub(crate) async fn provider_and_server(
    sso: SsoLayer,
    password_sign_in: Option<bool>,
) -> (Provider, TestServer) {
    provider_with_options_and_server(sso, password_sign_in, &[]).await
}

/// As `provider_and_server`, the provider started with provider.py's `options`.
pub(crate) async fn provider_with_options_and_server(
    sso: SsoLayer,
    password_sign_in: Option<bool>,
    options: &[&str],
) -> (Provider, TestServer) {
    let (provider_port, server_port) = (free_port(), free_port());
    let redirect_url = format!("https://127.0.0.1:{server_port}/console/sso/callback");
    let provider = Provider::start(provider_port, &redirect_url, options).await;
    let layer = ConfigLayer {
        listen: Some(([127, 0, 0, 1], server_port).into()),
        password_sign_in,
        sso: Some(SsoLayer {
            issuer: Some(provider.issuer.clone()),
            client_id: Some(CLIENT_ID.into()),
            redirect_url: Some(redirect_url),
            scopes: Some(vec!["profile".into(), "groups".into()]),
            ..sso
        }),
        ..Default::default()
    };
    (provider, TestServer::start_with(layer).await)
}

/// SSO settings that make a user on a subject's first sign-in.
pub(crate) fn creating_users() -> SsoLayer {
    SsoLayer {
        create_users: Some(true),
        ..Default::default()
    }
}

/// `name=value` of the cookie `name` among `Set-Cookie` headers, if set to a value.
fn cookie_pair(cookies: &[String], name: &str) -> Option<String> {
    cookies
        .iter()
        .filter_map(|c| c.split(';').next())
        .find(|pair| pair.starts_with(&format!("{name}=")) && pair.len() > name.len() + 1)
        .map(str::to_owned)
}

fn query_param(location: &str, name: &str) -> String {
    reqwest::Url::parse(location)
        .unwrap()
        .query_pairs()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
        .unwrap_or_else(|| panic!("no {name} in {location}"))
}

/// A sign-in begun in a browser: where it was sent, and the binding cookie it holds.
struct Begun {
    location: String,
    binding: String,
}

async fn begin(browser: &Client) -> Begun {
    let response = browser
        .raw("GET", "/console/sso/start", &[], vec![])
        .await
        .unwrap();
    assert_eq!(
        response.status,
        303,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    let cookies = set_cookies(&response);
    let line = cookies
        .iter()
        .find(|c| c.starts_with(BINDING_COOKIE))
        .unwrap();
    for attribute in [
        "Path=/",
        "Secure",
        "HttpOnly",
        "SameSite=Lax",
        "Max-Age=600",
    ] {
        assert!(line.contains(attribute), "{line} lacks {attribute}");
    }
    Begun {
        location: response.headers["location"].to_str().unwrap().to_owned(),
        binding: cookie_pair(&cookies, BINDING_COOKIE).unwrap(),
    }
}

async fn callback(browser: &Client, path: &str, cookie: Option<&str>) -> RawResponse {
    let headers: Vec<(&str, &str)> = cookie.map(|c| ("cookie", c)).into_iter().collect();
    browser.raw("GET", path, &headers, vec![]).await.unwrap()
}

/// Asserts a refused callback: the status, a message containing `says`, and no session.
pub(crate) fn assert_refused(response: &RawResponse, status: u16, says: &str) {
    let body = String::from_utf8_lossy(&response.body);
    assert_eq!(response.status, status, "{body}");
    let message = serde_json::from_slice::<Value>(&response.body).unwrap()["error"]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(message.contains(says), "'{message}' should say '{says}'");
    assert_eq!(cookie_pair(&set_cookies(response), ACCESS_COOKIE), None);
}

/// The whole trip; returns the callback's answer.
pub(crate) async fn sign_in(provider: &Provider, browser: &Client) -> RawResponse {
    let begun = begin(browser).await;
    let back = provider.authorize(&begun.location).await;
    callback(browser, &back, Some(&begun.binding)).await
}

/// What the sign-in page is told it may offer.
async fn sign_in_options(browser: &Client) -> Value {
    let options = browser
        .raw("GET", "/console/sign-in-options", &[], vec![])
        .await
        .unwrap();
    assert_eq!(options.status, 200);
    serde_json::from_slice(&options.body).unwrap()
}

/// Who the console session in `signed_in`'s cookies is.
async fn session_of(browser: &Client, signed_in: &RawResponse) -> Value {
    let cookie = cookie_pair(&set_cookies(signed_in), ACCESS_COOKIE).unwrap();
    let response = browser
        .raw("GET", "/console/session", &[("cookie", &cookie)], vec![])
        .await
        .unwrap();
    assert_eq!(response.status, 200);
    serde_json::from_slice(&response.body).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn signing_in_through_a_real_provider_opens_a_session_and_bad_answers_are_refused() {
    let (provider, server) = provider_and_server(creating_users(), None).await;
    let browser = server.anonymous();

    let begun = begin(&browser).await;
    assert!(
        begun
            .location
            .starts_with(&format!("{}/authorize?", provider.issuer))
    );
    assert_eq!(
        query_param(&begun.location, "code_challenge_method"),
        "S256"
    );
    assert_eq!(
        query_param(&begun.location, "scope"),
        "openid profile groups"
    );
    let back = provider.authorize(&begun.location).await;
    let signed_in = callback(&browser, &back, Some(&begun.binding)).await;
    assert_eq!(
        signed_in.status,
        303,
        "{}",
        String::from_utf8_lossy(&signed_in.body)
    );
    assert_eq!(signed_in.headers["location"], "/");
    let cookies = set_cookies(&signed_in);
    assert!(
        cookies
            .iter()
            .any(|c| c.starts_with(&format!("{BINDING_COOKIE}=;")) && c.contains("Max-Age=0")),
        "the binding cookie is cleared: {cookies:?}"
    );
    let session = session_of(&browser, &signed_in).await;
    assert_eq!(session["name"], "ada");
    assert_eq!(session["display_name"], "Ada Lovelace");
    // The user made on first sign-in is the one the next sign-in finds.
    let again = sign_in(&provider, &browser).await;
    assert_eq!(
        session_of(&browser, &again).await["object_id"],
        session["object_id"]
    );

    // The same callback again: its state was spent.
    assert_refused(
        &callback(&browser, &back, Some(&begun.binding)).await,
        401,
        "used already",
    );
    // A callback in a browser that did not begin the sign-in, with and without a cookie.
    let victim = begin(&browser).await;
    let attacker = begin(&browser).await;
    let victims_callback = provider.authorize(&victim.location).await;
    assert_refused(
        &callback(&browser, &victims_callback, Some(&attacker.binding)).await,
        401,
        "another browser",
    );
    let cookieless = begin(&browser).await;
    let back = provider.authorize(&cookieless.location).await;
    assert_refused(
        &callback(&browser, &back, None).await,
        401,
        "cookie is missing",
    );

    // ID tokens a misbehaving or hostile provider would send.
    let earlier_nonce = query_param(&begun.location, "nonce");
    let cases = [
        (
            json!({"iss": "http://127.0.0.1:1/another-issuer"}),
            "id_token iss",
        ),
        (json!({"aud": "another-client"}), "id_token aud"),
        (json!({"nonce": earlier_nonce}), "id_token nonce"),
    ];
    for (claims, says) in cases {
        provider.misbehave(claims).await;
        assert_refused(&sign_in(&provider, &browser).await, 401, says);
    }
    let hour_ago = time::OffsetDateTime::now_utc().unix_timestamp() - 3600;
    provider
        .misbehave(json!({"iat": hour_ago - 300, "exp": hour_ago}))
        .await;
    assert_refused(&sign_in(&provider, &browser).await, 401, "id_token exp");

    // The redirect itself: another issuer named (RFC 9207), the provider's error, no code.
    let begun = begin(&browser).await;
    let back = provider.authorize(&begun.location).await;
    let mixed_up = format!("{back}&iss=http%3A%2F%2F127.0.0.1%3A1");
    assert_refused(
        &callback(&browser, &mixed_up, Some(&begun.binding)).await,
        401,
        "another issuer",
    );
    let denied = "/console/sso/callback?error=access_denied&error_description=%3Cscript%3E";
    let response = callback(&browser, denied, None).await;
    assert_refused(&response, 401, "access_denied");
    assert!(!String::from_utf8_lossy(&response.body).contains("script"));
    // A browser is shown a page instead: the same status and reason, markup shown as text,
    // under the console's content security policy.
    let hostile = "/console/sso/callback?error=%3Cscript%3Ealert(1)%3C/script%3E";
    let html = [("accept", "text/html,application/xhtml+xml,*/*;q=0.8")];
    let page = browser.raw("GET", hostile, &html, vec![]).await.unwrap();
    let body = String::from_utf8_lossy(&page.body);
    assert_eq!(page.status, 401, "{body}");
    assert!(
        page.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(
        body.contains("the provider answered &lt;script&gt;alert(1)&lt;/script&gt;"),
        "{body}"
    );
    assert!(!body.contains("<script"), "{body}");
    let policy = page.headers["content-security-policy"].to_str().unwrap();
    assert!(policy.contains("script-src 'self'"), "{policy}");
    assert_eq!(cookie_pair(&set_cookies(&page), ACCESS_COOKIE), None);
    let state = query_param(&begun.location, "state");
    let codeless = format!("/console/sso/callback?state={state}");
    assert_refused(
        &callback(&browser, &codeless, Some(&begun.binding)).await,
        400,
        "code",
    );

    // Each callback is in the activity log: the sign-ins by ada, the refusals with their reason.
    let admin = server.admin().await;
    let recorded = crate::sign_in_activity::records_of(&admin, "console/sso/callback/action").await;
    let by = |outcome: &'static str| recorded.iter().filter(move |e| e.outcome == outcome);
    assert!(by("Succeeded").count() >= 2, "{recorded:?}");
    assert!(by("Succeeded").all(|e| e.caller_name == "ada"));
    assert!(by("Denied").any(|e| e.detail.contains("used already")));
    assert!(by("Denied").all(|e| e.caller_name == "(unauthenticated)"));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unlinked_subject_is_refused_until_an_administrator_links_it() {
    let (provider, server) = provider_and_server(SsoLayer::default(), None).await;
    let browser = server.anonymous();
    assert_refused(
        &sign_in(&provider, &browser).await,
        401,
        "no casemate user is linked to subject 'idp-user-7f3a'",
    );
    let admin = server.admin().await;
    server.new_user("ada-local").await;
    let link = |user: &'static str, subject: &'static str| {
        let admin = admin.clone();
        async move {
            let body = json!({ "subject": subject }).to_string().into_bytes();
            let path = format!("/users/{user}/sso-identity");
            admin
                .raw("PUT", &path, &[("content-type", "application/json")], body)
                .await
                .unwrap()
        }
    };
    let refused = link("ada-local", "").await;
    assert_eq!(refused.status, 400);
    assert!(String::from_utf8_lossy(&refused.body).contains("subject"));
    // The administrator's command.
    let config = tempfile::tempdir().unwrap();
    crate::cli::login_admin(&server, config.path()).await;
    let linked = crate::cli::casemate(
        config.path(),
        &[
            "user",
            "link-sso",
            "ada-local",
            "--subject",
            "idp-user-7f3a",
        ],
        "",
        &[],
    )
    .await;
    assert!(crate::cli::succeeded(&linked).contains("signs in as ada-local"));
    assert_eq!(link("admin", "idp-user-7f3a").await.status, 409);
    assert_eq!(link("nobody", "someone-else").await.status, 404);
    let signed_in = sign_in(&provider, &browser).await;
    assert_eq!(signed_in.status, 303);
    assert_eq!(session_of(&browser, &signed_in).await["name"], "ada-local");
    // Linking is an administrator's act.
    let ada = server.new_user("not-admin").await;
    let body = json!({"subject": "x"}).to_string().into_bytes();
    let forbidden = ada
        .raw(
            "PUT",
            "/users/not-admin/sso-identity",
            &[("content-type", "application/json")],
            body,
        )
        .await
        .unwrap();
    assert_eq!(forbidden.status, 403);
}

#[tokio::test(flavor = "multi_thread")]
async fn with_passwords_turned_off_only_single_sign_on_signs_users_in() {
    let (provider, server) = provider_and_server(creating_users(), Some(false)).await;
    let refused = server
        .anonymous()
        .token(&casemate_types::wire::TokenRequest::password(
            "admin",
            casemate_types::Sensitive::new(casemate_testkit::ADMIN_PASSWORD),
            None,
        ))
        .await;
    let message = crate::api_error(refused, 403, "Forbidden");
    assert!(
        message.contains("password sign-in is turned off"),
        "{message}"
    );
    let browser = server.anonymous();
    assert_eq!(
        sign_in_options(&browser).await,
        json!({"password": false, "sso": true})
    );
    assert_eq!(sign_in(&provider, &browser).await.status, 303);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_real_browser_signs_in_through_the_provider_and_out_again() {
    let (_provider, server) = provider_and_server(creating_users(), None).await;
    let browser = crate::console::browser::Browser::open(&server.url).await;
    browser.visit("").await;
    // The page offers both ways in: the provider, and the password form.
    browser.find("#username").await;
    let offer = browser.find("#sso").await;
    browser.screenshot("sso-sign-in").await;
    offer.click().await.unwrap();
    // To the provider and back (it signs its user in at once), then the console, signed in:
    // the cookies set on the provider's cross-site redirect back work on the page.
    browser.wait_for_text("#signed-in-as", "ada").await;
    browser.screenshot("sso-signed-in").await;
    browser.click("Sign out").await;
    browser.find("#sso").await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_provider_the_console_offers_passwords_only() {
    let server = TestServer::start().await;
    let browser = server.anonymous();
    assert_eq!(
        sign_in_options(&browser).await,
        json!({"password": true, "sso": false})
    );
    let start = browser
        .raw("GET", "/console/sso/start", &[], vec![])
        .await
        .unwrap();
    assert_eq!(start.status, 404);
    assert!(String::from_utf8_lossy(&start.body).contains("no [sso] issuer is configured"));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_providers_group_claim_decides_group_roles_at_each_sign_in() {
    let (provider, server) = provider_and_server(creating_users(), None).await;
    let admin = server.admin().await;
    admin.create_resource_group("rg-ml").await.unwrap();
    // The administrator's commands: a group named as the provider names one, given a role.
    let config = tempfile::tempdir().unwrap();
    crate::cli::login_admin(&server, config.path()).await;
    let cli = |args: &'static [&'static str]| {
        let config = config.path().to_owned();
        async move { crate::cli::casemate(&config, args, "", &[]).await }
    };
    crate::cli::succeeded(&cli(&["principal-group", "create", "ml-team"]).await);
    crate::cli::succeeded(
        &cli(&[
            "role",
            "assignment",
            "create",
            "--assignee",
            "ml-team",
            "--role",
            "Reader",
            "--scope",
            "/resourceGroups/rg-ml",
        ])
        .await,
    );
    let browser = server.anonymous();
    let can_read = |signed_in: RawResponse| {
        let browser = browser.clone();
        async move {
            let cookie = cookie_pair(&set_cookies(&signed_in), ACCESS_COOKIE).unwrap();
            let response = browser
                .raw(
                    "GET",
                    "/resourceGroups/rg-ml",
                    &[("cookie", &cookie)],
                    vec![],
                )
                .await
                .unwrap();
            response.status
        }
    };

    // The provider lists ada in ml-team (and in auditors, which casemate has no group for).
    assert_eq!(can_read(sign_in(&provider, &browser).await).await, 200);
    let members = admin.group_members("ml-team").await.unwrap();
    assert_eq!(members.len(), 1);
    assert!(members[0].name == "ada" && members[0].from_sso);
    let listed = crate::cli::succeeded(&cli(&["principal-group", "members", "ml-team"]).await);
    assert!(
        listed.contains("ada") && listed.contains("single sign-on"),
        "{listed}"
    );

    // The next sign-in's claim no longer lists it: the membership and the role go.
    provider.misbehave(json!({"groups": []})).await;
    assert_eq!(can_read(sign_in(&provider, &browser).await).await, 403);
    assert!(admin.group_members("ml-team").await.unwrap().is_empty());

    // An administrator's membership stays whatever the claim says.
    admin.add_group_member("ml-team", "ada").await.unwrap();
    provider.misbehave(json!({"groups": []})).await;
    assert_eq!(can_read(sign_in(&provider, &browser).await).await, 200);
    admin.remove_group_member("ml-team", "ada").await.unwrap();
    let gone = admin.remove_group_member("ml-team", "ada").await;
    crate::api_error(gone, 404, "NotFound");

    // Refused input, each naming its field.
    let nested = admin.add_group_member("ml-team", "ml-team").await;
    let message = crate::api_error(nested, 400, "InvalidInput");
    assert!(
        message.starts_with("member: must be a user or a service principal"),
        "{message}"
    );
    let bad_name = admin
        .create_group(&casemate_types::wire::CreateGroupRequest {
            name: "ml team".into(),
            display_name: None,
        })
        .await;
    assert!(crate::api_error(bad_name, 400, "InvalidInput").starts_with("name: "));
    let taken = admin
        .create_group(&casemate_types::wire::CreateGroupRequest {
            name: "ada".into(),
            display_name: None,
        })
        .await;
    crate::api_error(taken, 409, "Conflict");
    // Deleting the group takes its role with it.
    admin.add_group_member("ml-team", "ada").await.unwrap();
    admin.delete_group("ml-team").await.unwrap();
    assert_eq!(can_read(sign_in(&provider, &browser).await).await, 403);
}

/// What `casemate login` prints to stderr, line by line.
pub(crate) type PrintedLines = tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStderr>>;

/// `casemate login URL --sso --accept-fingerprint` with `options` started, and what it prints.
pub(crate) fn start_sso_login(
    server: &TestServer,
    config: &Path,
    options: &[&str],
) -> (tokio::process::Child, PrintedLines) {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_casemate"))
        .args(["login", &server.url, "--sso", "--accept-fingerprint"])
        .args(options)
        .env("CASEMATE_CONFIG_DIR", config)
        // As over SSH, so the browser flow's hint about the device flow is printed.
        .env("SSH_CONNECTION", "192.0.2.10 50000 192.0.2.20 22")
        .env_remove("CASEMATE_OUTPUT")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    (child, lines)
}

/// `casemate login --sso` started, and the address it asks the user to open.
async fn cli_login(server: &TestServer, config: &Path) -> (tokio::process::Child, String) {
    let (child, mut lines) = start_sso_login(server, config, &[]);
    let mut hinted = false;
    while let Some(line) = lines.next_line().await.unwrap() {
        hinted |= line.contains("over SSH") && line.contains("--sso --device");
        if let Some(address) = line
            .trim()
            .strip_prefix(&format!("{}/console/sso/start?", server.url))
        {
            assert!(
                hinted,
                "over SSH, the device flow is suggested before the address"
            );
            return (child, format!("/console/sso/start?{address}"));
        }
    }
    panic!("casemate login --sso printed no address to open");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_cli_signs_in_through_the_browser_and_its_code_works_once() {
    let (provider, server) = provider_and_server(creating_users(), None).await;
    let browser = server.anonymous();
    let config = tempfile::tempdir().unwrap();
    let (child, start) = cli_login(&server, config.path()).await;

    // The browser's part: the start address, the provider, the callback, then the CLI.
    let begun = browser.raw("GET", &start, &[], vec![]).await.unwrap();
    assert_eq!(begun.status, 303);
    let binding = cookie_pair(&set_cookies(&begun), BINDING_COOKIE).unwrap();
    let back = provider
        .authorize(begun.headers["location"].to_str().unwrap())
        .await;
    let finished = callback(&browser, &back, Some(&binding)).await;
    assert_eq!(
        finished.status,
        303,
        "{}",
        String::from_utf8_lossy(&finished.body)
    );
    assert_eq!(
        cookie_pair(&set_cookies(&finished), ACCESS_COOKIE),
        None,
        "no browser session"
    );
    let to_cli = finished.headers["location"].to_str().unwrap().to_owned();
    let port = query_param(&start_url(&start), "cli_port");
    assert!(
        to_cli.starts_with(&format!("http://127.0.0.1:{port}/?code=")),
        "{to_cli}"
    );
    let page = reqwest::get(&to_cli).await.unwrap().text().await.unwrap();
    assert!(page.contains("Signed in to casemate"), "{page}");
    let output = child.wait_with_output().await.unwrap();
    let printed = crate::cli::succeeded(&output);
    assert!(printed.contains("as ada (user)"), "{printed}");
    let whoami = crate::cli::casemate_json(config.path(), &["token", "show"]).await;
    assert_eq!(whoami["name"], "ada", "{whoami}");

    // The code was spent by the CLI; nor does it work with another verifier.
    let code = query_param(&to_cli, "code");
    let replayed = browser
        .token(&casemate_types::wire::TokenRequest::sso_handoff(
            casemate_types::Sensitive::new(code),
            casemate_types::Sensitive::new("a-verifier-of-someone-else"),
        ))
        .await;
    let message = crate::api_error(replayed, 401, "SignInRefused");
    assert!(message.contains("used already"), "{message}");
    // The grant takes its two fields and nothing else.
    let form = [("grant_type", "sso_handoff"), ("code", "c")];
    let missing = browser
        .raw(
            "POST",
            "/oauth2/token",
            &[("content-type", "application/x-www-form-urlencoded")],
            url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(form)
                .finish()
                .into_bytes(),
        )
        .await
        .unwrap();
    assert_eq!(missing.status, 400);
    assert!(String::from_utf8_lossy(&missing.body).contains("code_verifier: is required"));
    let mut with_password = casemate_types::wire::TokenRequest::sso_handoff(
        casemate_types::Sensitive::new("c"),
        casemate_types::Sensitive::new("v"),
    );
    with_password.password = Some(casemate_types::Sensitive::new("p"));
    let message = crate::api_error(browser.token(&with_password).await, 400, "InvalidInput");
    assert!(
        message.starts_with("password: is not allowed with grant_type=sso_handoff"),
        "{message}"
    );
    // A start for a CLI must name both its port and its challenge, well formed.
    for (query, field) in [
        ("cli_port=50000", "cli_challenge"),
        ("cli_port=80&cli_challenge=x", "cli_port"),
        ("cli_port=50000&cli_challenge=not-a-sha256", "cli_challenge"),
        ("cli_port=50000&cli_challenge=x&extra=1", "extra"),
    ] {
        let path = format!("/console/sso/start?{query}");
        let refused = browser.raw("GET", &path, &[], vec![]).await.unwrap();
        assert_eq!(refused.status, 400, "{query}");
        assert!(
            String::from_utf8_lossy(&refused.body).contains(field),
            "{query}"
        );
    }
}

fn start_url(path: &str) -> String {
    format!("https://127.0.0.1{path}")
}
