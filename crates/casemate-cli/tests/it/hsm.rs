//! The PKCS#11 key provider against a real SoftHSM2 token: the root key is made inside the token,
//! cannot be read out of it, survives restarts, and a wrong PIN stops the server from starting.

use casemate_client::SecretScope;
use casemate_server::config::{ConfigLayer, KeyProviderKind, ServerConfig};
use casemate_testkit::{SoftHsmToken, TestKeyProvider, TestServer};
use casemate_types::wire::{CreateWorkspaceRequest, SetSecretRequest};
use casemate_types::{ManualClock, Sensitive};
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::object::{Attribute, AttributeType, ObjectClass};
use cryptoki::session::UserType;
use std::sync::Arc;

const SCOPE: SecretScope<'static> = SecretScope::Workspace {
    resource_group: "team",
    workspace: "vision",
};

#[tokio::test(flavor = "multi_thread")]
async fn the_root_key_is_made_in_the_token_and_never_leaves_it() {
    let server = TestServer::start_on(TestKeyProvider::SoftHsm).await;
    let label = server.hsm_token().unwrap().label.clone();
    assert_eq!(
        server.server.services.root_key.key_id(),
        format!("pkcs11:token={label};object=casemate-root")
    );
    assert!(
        !server.home().join("root.key").exists(),
        "no key file is written when the root key is in a token"
    );
    let admin = server.admin().await;
    admin.create_resource_group("team").await.unwrap();
    admin
        .create_workspace("team", "vision", &CreateWorkspaceRequest::default())
        .await
        .unwrap();
    admin
        .set_secret(
            SCOPE,
            "db-password",
            &SetSecretRequest::value(Sensitive::new("in-the-token")),
        )
        .await
        .unwrap();

    // A restart on the same token finds the same root key: the secret still opens.
    let server = server.restart(ConfigLayer::default()).await;
    let admin = server.admin().await;
    let bundle = admin.get_secret(SCOPE, "db-password").await.unwrap();
    assert_eq!(bundle.value.expose(), "in-the-token");

    // Looked at from outside the server, the key is sensitive and not extractable, and its value
    // cannot be read.
    let token = server.hsm_token().unwrap();
    let directory_lock = token.lock_directory();
    let context = Pkcs11::new(&token.module).unwrap();
    // The server in this process already initialized the library.
    let _ = context.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK));
    let slot = context
        .get_slots_with_token()
        .unwrap()
        .into_iter()
        .find(|slot| context.get_token_info(*slot).unwrap().label() == token.label)
        .unwrap();
    // Released before the token is deleted, which takes the lock again.
    drop(directory_lock);
    let session = context.open_ro_session(slot).unwrap();
    let _ = session.login(UserType::User, Some(&token.pin.clone().into()));
    let keys = session
        .find_objects(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::Label(b"casemate-root".to_vec()),
        ])
        .unwrap();
    assert_eq!(keys.len(), 1);
    let attributes = session
        .get_attributes(
            keys[0],
            &[
                AttributeType::Extractable,
                AttributeType::Sensitive,
                AttributeType::Token,
            ],
        )
        .unwrap();
    assert!(attributes.contains(&Attribute::Extractable(false)));
    assert!(attributes.contains(&Attribute::Sensitive(true)));
    assert!(attributes.contains(&Attribute::Token(true)));
    let value = session
        .get_attributes(keys[0], &[AttributeType::Value])
        .unwrap_or_default();
    assert!(
        !value.iter().any(|a| matches!(a, Attribute::Value(_))),
        "the token handed out the root key's value"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_pin_or_token_stops_the_server_with_the_reason() {
    let token = SoftHsmToken::create();
    let home = tempfile::tempdir().unwrap();
    let config = |label: &str, pin: &str| {
        ServerConfig::resolve(
            ConfigLayer {
                listen: Some("127.0.0.1:0".parse().unwrap()),
                home: Some(home.path().to_path_buf()),
                key_provider: Some(KeyProviderKind::Pkcs11),
                pkcs11_module: Some(token.module.clone()),
                pkcs11_token_label: Some(label.into()),
                pkcs11_pin: Some(Sensitive::new(pin)),
                ..Default::default()
            },
            None,
        )
        .unwrap()
    };
    let start = |config: ServerConfig| async move {
        casemate_server::start(&config, Arc::new(ManualClock::starting_now()))
            .await
            .err()
            .map(|e| e.to_string())
    };
    let wrong_pin = start(config(&token.label, "not-the-pin")).await.unwrap();
    assert!(wrong_pin.contains("logging in to the token"), "{wrong_pin}");
    assert!(!wrong_pin.contains("not-the-pin"), "{wrong_pin}");
    let no_token = start(config("no-such-token", &token.pin)).await.unwrap();
    assert!(
        no_token.contains("no token labelled 'no-such-token'"),
        "{no_token}"
    );
}
