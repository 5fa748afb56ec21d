//! Groups from the provider's userinfo endpoint, for providers that keep the groups claim out
//! of their ID tokens (tests/oidc/provider.py --groups-in-userinfo): read with the access token
//! the provider gave beside the ID token, in the browser flow and the device flow alike, and
//! refused when they are another subject's.

use crate::sso::{
    Provider, assert_refused, creating_users, provider_with_options_and_server, sign_in,
};
use crate::sso_device::approve;
use casemate_client::Client;
use casemate_types::wire::{CreateGroupRequest, TokenRequest};
use serde_json::{Value, json};

/// Makes the userinfo endpoint's next answer carry `claims` over the ones it would give.
async fn userinfo_misbehaves(provider: &Provider, claims: Value) {
    let url = format!("{}/_test/next-userinfo-claims", provider.issuer);
    let response = provider.http.post(url).json(&claims).send().await.unwrap();
    assert!(response.status().is_success());
}

/// Who single sign-on put in the group.
async fn members_from_sso(admin: &Client, group: &str) -> Vec<String> {
    let members = admin.group_members(group).await.unwrap();
    members
        .into_iter()
        .filter(|member| member.from_sso)
        .map(|member| member.name)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn groups_left_out_of_the_id_token_come_from_the_userinfo_endpoint() {
    let (provider, server) =
        provider_with_options_and_server(creating_users(), None, &["--groups-in-userinfo"]).await;
    let admin = server.admin().await;
    let group = CreateGroupRequest {
        name: "ml-team".into(),
        display_name: None,
    };
    admin.create_group(&group).await.unwrap();
    let browser = server.anonymous();

    let signed_in = sign_in(&provider, &browser).await;
    assert_eq!(
        signed_in.status,
        303,
        "{}",
        String::from_utf8_lossy(&signed_in.body)
    );
    assert_eq!(members_from_sso(&admin, "ml-team").await, ["ada"]);

    // The next answer lists no groups: the membership goes.
    userinfo_misbehaves(&provider, json!({"groups": []})).await;
    assert_eq!(sign_in(&provider, &browser).await.status, 303);
    assert!(members_from_sso(&admin, "ml-team").await.is_empty());

    // Claims about another subject are not used: the sign-in is refused, memberships unchanged.
    userinfo_misbehaves(
        &provider,
        json!({"sub": "another-subject", "groups": ["ml-team"]}),
    )
    .await;
    assert_refused(
        &sign_in(&provider, &browser).await,
        401,
        "userinfo endpoint's sub is not the ID token's subject",
    );
    assert!(members_from_sso(&admin, "ml-team").await.is_empty());

    // The device flow reads them the same way.
    let terminal = server.anonymous();
    let device = terminal.begin_device_sign_in().await.unwrap();
    approve(&provider, &device).await;
    let request = TokenRequest::device_code(device.device_code.clone());
    terminal.token(&request).await.unwrap();
    assert_eq!(members_from_sso(&admin, "ml-team").await, ["ada"]);
}
