//! Single sign-on's records on either backend: sign-in states, device sign-ins, linked subjects
//! and the memberships a provider's group claim decides.

use super::{open_temp, user};
use crate::*;
use uuid::Uuid;

#[tokio::test]
async fn a_sign_in_state_is_taken_once_and_a_subject_links_to_one_user() {
    let (_dir, store) = open_temp().await;
    let sign_in = |state: u8, created_at| SsoSignInRecord {
        state_hash: vec![state; 32],
        binding_hash: vec![7; 32],
        nonce: format!("nonce-{state}"),
        created_at,
        cli: (state == 2).then(|| CliHandoffRequest {
            port: 53_682,
            challenge: "challenge".into(),
        }),
    };
    store.begin_sso_sign_in(&sign_in(1, 100), 0).await.unwrap();
    // Beginning another sign-in drops those too old to finish.
    store
        .begin_sso_sign_in(&sign_in(2, 800), 200)
        .await
        .unwrap();
    assert_eq!(store.take_sso_sign_in(&[1; 32]).await.unwrap(), None);
    assert_eq!(
        store.take_sso_sign_in(&[2; 32]).await.unwrap(),
        Some(sign_in(2, 800))
    );
    assert_eq!(store.take_sso_sign_in(&[2; 32]).await.unwrap(), None);

    let issuer = "https://idp.example";
    let ada = PrincipalRecord {
        password_hash: None,
        ..user("ada")
    };
    store
        .insert_user_for_external_identity(&ada, issuer, "subject-1")
        .await
        .unwrap();
    assert_eq!(
        store
            .external_identity_principal(issuer, "subject-1")
            .await
            .unwrap(),
        Some(ada.id)
    );
    // The same subject at another issuer is another identity.
    assert_eq!(
        store
            .external_identity_principal("https://other.example", "subject-1")
            .await
            .unwrap(),
        None
    );
    let bob = user("bob");
    store.insert_principal(&bob).await.unwrap();
    let taken = store
        .link_external_identity(issuer, "subject-1", bob.id, 5)
        .await
        .unwrap_err();
    assert!(matches!(taken, StoreError::Conflict(_)), "{taken}");
    // A user that cannot be created leaves no link behind.
    let twin = PrincipalRecord {
        id: Uuid::new_v4(),
        ..ada.clone()
    };
    assert!(
        store
            .insert_user_for_external_identity(&twin, issuer, "subject-2")
            .await
            .is_err()
    );
    assert_eq!(
        store
            .external_identity_principal(issuer, "subject-2")
            .await
            .unwrap(),
        None
    );
    let handoff = |code: u8, created_at| SsoHandoffRecord {
        code_hash: vec![code; 32],
        principal_id: ada.id,
        challenge: "challenge".into(),
        created_at,
    };
    store.insert_sso_handoff(&handoff(1, 100), 0).await.unwrap();
    store
        .insert_sso_handoff(&handoff(2, 800), 200)
        .await
        .unwrap();
    assert_eq!(store.take_sso_handoff(&[1; 32]).await.unwrap(), None);
    assert_eq!(
        store.take_sso_handoff(&[2; 32]).await.unwrap(),
        Some(handoff(2, 800))
    );
    assert_eq!(store.take_sso_handoff(&[2; 32]).await.unwrap(), None);
    store.delete_principal(ada.id).await.unwrap();
    assert_eq!(
        store
            .external_identity_principal(issuer, "subject-1")
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn a_member_holds_its_groups_assignments_and_sso_memberships_follow_the_claim() {
    let (_dir, store) = open_temp().await;
    let group = |name: &str| PrincipalRecord {
        kind: "group".into(),
        password_hash: None,
        ..user(name)
    };
    let (ml_team, auditors) = (group("ml-team"), group("auditors"));
    let ada = user("ada");
    for principal in [&ml_team, &auditors, &ada] {
        store.insert_principal(principal).await.unwrap();
    }
    let assign = |principal_id, role: &str| RoleAssignmentRecord {
        id: Uuid::new_v4(),
        principal_id,
        role_name: role.into(),
        scope: "/resourceGroups/g".into(),
        created_at: 1,
    };
    store
        .insert_role_assignment(&assign(ml_team.id, "Contributor"))
        .await
        .unwrap();
    store
        .insert_role_assignment(&assign(auditors.id, "Reader"))
        .await
        .unwrap();
    store
        .insert_role_assignment(&assign(ada.id, "Owner"))
        .await
        .unwrap();
    // As the gate does at each request: rows kept are dropped when the generation moved.
    let roles = || async {
        store.refresh_gate_cache().await.unwrap();
        let mut roles: Vec<String> = store
            .role_assignments_for_gate(ada.id)
            .await
            .unwrap()
            .iter()
            .map(|a| a.role_name.clone())
            .collect();
        roles.sort();
        roles
    };
    assert_eq!(roles().await, ["Owner"]);

    let claim = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
    store
        .replace_sso_memberships(ada.id, &claim(&["ml-team", "no-such-group"]))
        .await
        .unwrap();
    assert_eq!(
        roles().await,
        ["Contributor", "Owner"],
        "the kept rows were dropped"
    );
    store
        .add_group_member(auditors.id, ada.id, MembershipSource::Admin)
        .await
        .unwrap();
    // The next sign-in's claim no longer lists ml-team: that membership goes, the
    // administrator's stays.
    store
        .replace_sso_memberships(ada.id, &claim(&[]))
        .await
        .unwrap();
    assert_eq!(roles().await, ["Owner", "Reader"]);
    assert_eq!(
        store.group_members(auditors.id).await.unwrap(),
        [GroupMemberRecord {
            member_id: ada.id,
            name: "ada".into(),
            kind: "user".into(),
            from_sso: false
        }]
    );
    assert!(
        store
            .remove_group_member(auditors.id, ada.id)
            .await
            .unwrap()
    );
    assert!(
        !store
            .remove_group_member(auditors.id, ada.id)
            .await
            .unwrap()
    );
    assert_eq!(roles().await, ["Owner"]);
    // Deleting a group takes its memberships and assignments with it.
    store
        .replace_sso_memberships(ada.id, &claim(&["ml-team"]))
        .await
        .unwrap();
    store.delete_principal(ml_team.id).await.unwrap();
    assert_eq!(roles().await, ["Owner"]);
    // On SQLite the change counts and the assignments (five reads of each) were read inline.
    if let Some(counts) = store.inline_read_counts() {
        assert_eq!(counts.passed_on, 0);
        assert!(counts.answered >= 10, "{counts:?}");
    }
}

#[tokio::test]
async fn a_device_sign_in_is_taken_once_and_expired_ones_are_dropped() {
    let (_dir, store) = open_temp().await;
    let (old, current) = ([1u8; 32], [2u8; 32]);
    store
        .begin_sso_device_sign_in(&old, 100, 700)
        .await
        .unwrap();
    assert_eq!(
        store.sso_device_sign_in_expiry(&old).await.unwrap(),
        Some(700)
    );
    // Beginning another drops those expired by then.
    store
        .begin_sso_device_sign_in(&current, 800, 1_700)
        .await
        .unwrap();
    assert_eq!(store.sso_device_sign_in_expiry(&old).await.unwrap(), None);
    assert_eq!(
        store.sso_device_sign_in_expiry(&current).await.unwrap(),
        Some(1_700)
    );
    assert!(store.take_sso_device_sign_in(&current).await.unwrap());
    assert!(!store.take_sso_device_sign_in(&current).await.unwrap());
    assert_eq!(
        store.sso_device_sign_in_expiry(&current).await.unwrap(),
        None
    );
    // The same device code twice is refused, not recorded twice.
    store
        .begin_sso_device_sign_in(&old, 900, 1_800)
        .await
        .unwrap();
    assert!(
        store
            .begin_sso_device_sign_in(&old, 900, 1_800)
            .await
            .is_err()
    );
}
