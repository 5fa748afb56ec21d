use super::*;
use uuid::Uuid;

mod metrics;
mod sso;

/// A fresh store: SQLite in a temporary directory, or, with `CASEMATE_TEST_DATABASE_URL` set
/// (`.ci/run` sets it for its PostgreSQL pass), a new database on that PostgreSQL server.
async fn open_temp() -> (tempfile::TempDir, Store) {
    let (dir, store, _) = open_temp_twice().await;
    (dir, store)
}

/// Two stores on one new database, as two processes (replicas) would open it.
async fn open_temp_twice() -> (tempfile::TempDir, Store, Store) {
    let dir = tempfile::tempdir().unwrap();
    match std::env::var("CASEMATE_TEST_DATABASE_URL") {
        Ok(admin) => {
            let name = format!("casemate_store_{}", Uuid::new_v4().simple());
            let url = Store::create_postgres_database(&admin, &name)
                .await
                .unwrap();
            let first = Store::open_postgres(&url).await.unwrap();
            let second = Store::open_postgres(&url).await.unwrap();
            (dir, first, second)
        }
        Err(_) => {
            let path = dir.path().join("casemate.db");
            let first = Store::open(&path).await.unwrap();
            let second = Store::open(&path).await.unwrap();
            (dir, first, second)
        }
    }
}

fn user(name: &str) -> PrincipalRecord {
    PrincipalRecord {
        id: Uuid::new_v4(),
        kind: "user".into(),
        name: name.into(),
        display_name: name.into(),
        enabled: true,
        created_at: 1,
        password_hash: Some("hash".into()),
        client_id: None,
    }
}

#[tokio::test]
async fn migrates_an_empty_database_and_reopens_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("casemate.db");
    let store = Store::open(&path).await.unwrap();
    store.insert_principal(&user("alice")).await.unwrap();
    store.close().await;
    let reopened = Store::open(&path).await.unwrap();
    assert!(
        reopened.principal_by_name("ALICE").await.unwrap().is_some(),
        "names are case-insensitive"
    );
    use std::os::unix::fs::PermissionsExt;
    for file in ["casemate.db", "casemate.db-wal", "casemate.db-shm"] {
        let mode = std::fs::metadata(dir.path().join(file))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "{file}");
    }
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(reopened.sqlite_pool().unwrap())
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    // The durability argument in the crate's documentation rests on these two settings.
    let sync: i64 = sqlx::query_scalar("PRAGMA synchronous")
        .fetch_one(reopened.sqlite_pool().unwrap())
        .await
        .unwrap();
    assert_eq!(sync, 1, "ordinary commits: synchronous = NORMAL");
    let sync: i64 = sqlx::query_scalar("PRAGMA synchronous")
        .fetch_one(match &reopened.pools {
            crate::backend::Pools::Sqlite { durable, .. } => durable,
            crate::backend::Pools::Postgres { .. } => unreachable!("opened on SQLite"),
        })
        .await
        .unwrap();
    assert_eq!(sync, 2, "durable commits: synchronous = FULL");
}

#[tokio::test]
async fn principal_names_are_unique_regardless_of_case() {
    let (_dir, store) = open_temp().await;
    store.insert_principal(&user("alice")).await.unwrap();
    let err = store.insert_principal(&user("Alice")).await.unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict(ref m) if m.contains("already exists")),
        "{err}"
    );
}

#[tokio::test]
async fn a_refresh_token_spends_once_and_reuse_revokes_the_session() {
    let (_dir, store) = open_temp().await;
    let alice = user("alice");
    store.insert_principal(&alice).await.unwrap();
    let session = SessionRecord {
        id: Uuid::new_v4(),
        principal_id: alice.id,
        created_at: 1,
        expires_at: 100,
        revoked_at: None,
    };
    let first = RefreshTokenRecord {
        id: Uuid::new_v4(),
        session_id: session.id,
        secret_hash: vec![1],
        created_at: 1,
        expires_at: 100,
        used_at: None,
    };
    store.insert_session(&session, Some(&first)).await.unwrap();
    let second = RefreshTokenRecord {
        id: Uuid::new_v4(),
        secret_hash: vec![2],
        ..first.clone()
    };
    let outcome = store
        .rotate_refresh_token(&first, &second, 5)
        .await
        .unwrap();
    assert!(matches!(outcome, RefreshOutcome::Rotated { .. }));
    let third = RefreshTokenRecord {
        id: Uuid::new_v4(),
        secret_hash: vec![3],
        ..first.clone()
    };
    let outcome = store.rotate_refresh_token(&first, &third, 6).await.unwrap();
    assert_eq!(
        outcome,
        RefreshOutcome::ReuseDetected {
            session_id: session.id
        }
    );
    assert_eq!(
        store.session(session.id).await.unwrap().unwrap().revoked_at,
        Some(6)
    );
    assert!(
        store.refresh_token(third.id).await.unwrap().is_none(),
        "nothing new was issued"
    );
}

#[tokio::test]
async fn a_totp_step_is_accepted_once() {
    let (_dir, store) = open_temp().await;
    let alice = user("alice");
    store.insert_principal(&alice).await.unwrap();
    store
        .put_pending_totp(alice.id, b"sealed", 1)
        .await
        .unwrap();
    assert!(
        !store
            .totp_factor(alice.id)
            .await
            .unwrap()
            .unwrap()
            .confirmed
    );
    assert!(store.accept_totp_step(alice.id, 10).await.unwrap());
    assert!(!store.accept_totp_step(alice.id, 10).await.unwrap());
    assert!(!store.accept_totp_step(alice.id, 9).await.unwrap());
    assert!(store.accept_totp_step(alice.id, 11).await.unwrap());
    assert!(
        store
            .totp_factor(alice.id)
            .await
            .unwrap()
            .unwrap()
            .confirmed
    );
}

#[tokio::test]
async fn disabling_a_principal_revokes_its_sessions() {
    let (_dir, store) = open_temp().await;
    let alice = user("alice");
    store.insert_principal(&alice).await.unwrap();
    let session = SessionRecord {
        id: Uuid::new_v4(),
        principal_id: alice.id,
        created_at: 1,
        expires_at: 100,
        revoked_at: None,
    };
    let token = RefreshTokenRecord {
        id: Uuid::new_v4(),
        session_id: session.id,
        secret_hash: vec![1],
        created_at: 1,
        expires_at: 100,
        used_at: None,
    };
    store.insert_session(&session, Some(&token)).await.unwrap();
    store
        .set_principal_enabled(alice.id, false, 7)
        .await
        .unwrap();
    assert_eq!(
        store.session(session.id).await.unwrap().unwrap().revoked_at,
        Some(7)
    );
    assert!(matches!(
        store.set_principal_enabled(Uuid::new_v4(), false, 7).await,
        Err(StoreError::NotFound(_))
    ));
}

#[tokio::test]
async fn deleting_a_principal_takes_its_credentials_with_it() {
    let (_dir, store) = open_temp().await;
    let alice = user("alice");
    store.insert_principal(&alice).await.unwrap();
    let pat = PatRecord {
        id: Uuid::new_v4(),
        principal_id: alice.id,
        name: "ci".into(),
        secret_hash: vec![1],
        created_at: 1,
        expires_at: 2,
        revoked_at: None,
    };
    store.insert_pat(&pat).await.unwrap();
    store.delete_principal(alice.id).await.unwrap();
    assert!(store.pat(pat.id).await.unwrap().is_none());
}

#[tokio::test]
async fn upgrades_a_database_made_by_the_previous_release() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("casemate.db");
    // The previous release's schema (migrations up to 0006), holding a user.
    let options = SqliteConnectOptions::from_str("sqlite:")
        .unwrap()
        .filename(&path)
        .create_if_missing(true);
    let previous = SqlitePoolOptions::new()
        .connect_with(options)
        .await
        .unwrap();
    MIGRATOR.run_to(6, &previous).await.unwrap();
    let alice = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO principals (id, kind, name, display_name, enabled, created_at) \
         VALUES ($1, 'user', 'alice', 'alice', 1, 1)",
    )
    .bind(alice.to_string())
    .execute(&previous)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO role_assignments (id, principal_id, role_name, scope, created_at) \
         VALUES ($1, $2, 'Reader', '/', 1)",
    )
    .bind(Uuid::new_v4().to_string())
    .bind(alice.to_string())
    .execute(&previous)
    .await
    .unwrap();
    previous.close().await;

    let store = Store::open(&path).await.unwrap();
    assert!(store.principal_by_name("alice").await.unwrap().is_some());
    // The rebuilt principals table (0012) kept what referred to it, and its foreign keys
    // still cascade.
    assert_eq!(store.role_assignments_for(alice).await.unwrap().len(), 1);
    let generation = || async {
        sqlx::query_scalar::<_, String>(
            "SELECT value FROM installation WHERE key = 'gate_generation'",
        )
        .fetch_one(store.sqlite_pool().unwrap())
        .await
        .unwrap()
    };
    assert_eq!(generation().await, "0");
    store.insert_principal(&user("bob")).await.unwrap();
    assert_eq!(generation().await, "1", "a change to a cached table counts");
    store.delete_principal(alice).await.unwrap();
    assert!(store.role_assignments_for(alice).await.unwrap().is_empty());
    let foreign_keys: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
        .fetch_one(store.sqlite_pool().unwrap())
        .await
        .unwrap();
    assert_eq!(foreign_keys, 1);
    let admin = PrincipalRecord {
        kind: "registry_admin".into(),
        ..user("registry-admin:/resourceGroups/g/registries/r")
    };
    store.insert_principal(&admin).await.unwrap();
}

#[tokio::test]
async fn debug_output_of_the_store_shows_no_cached_hashes() {
    let (_dir, store) = open_temp().await;
    let alice = user("alice");
    store.insert_principal(&alice).await.unwrap();
    store.refresh_gate_cache().await.unwrap();
    assert!(store.principal_for_gate(alice.id).await.unwrap().is_some());
    let shown = format!("{store:?}");
    assert!(shown.contains("GateCache"), "{shown}");
    assert!(!shown.contains("hash"), "{shown}");
}

fn submitted_run(owner: Option<&str>, submitted_at: i64) -> (RunRecord, RunTokenRecord) {
    let id = Uuid::new_v4();
    let run = RunRecord {
        id,
        workspace_id: "ws".into(),
        experiment: "exp".into(),
        compute: "local".into(),
        snapshot: "snap".into(),
        command: "true".into(),
        status: "Running".into(),
        reason: None,
        exit_code: None,
        submitted_by: Uuid::new_v4(),
        submitted_by_name: "alice".into(),
        submitted_at,
        started_at: None,
        ended_at: None,
        time_limit_seconds: 60,
        pid: None,
        scratch: None,
        environment: None,
        origin: ORIGIN_SUBMITTED.into(),
        lifecycle: "active".into(),
        image: None,
        image_digest: None,
        owner_replica: owner.map(str::to_owned),
    };
    let token = RunTokenRecord {
        id: Uuid::new_v4(),
        run_id: id,
        secret_hash: vec![1; 32],
        expires_at: i64::MAX,
        revoked_at: None,
    };
    (run, token)
}

fn replica(id: &str, lease_expires_at: i64) -> ReplicaRecord {
    ReplicaRecord {
        id: id.into(),
        host: "host".into(),
        pid: 1,
        started_at: 0,
        lease_expires_at,
    }
}

#[tokio::test]
async fn leases_decide_whose_runs_are_orphaned_and_each_is_ended_once() {
    let (_dir, store) = open_temp().await;
    store.register_replica(&replica("a", 1000)).await.unwrap();
    store.register_replica(&replica("b", 1000)).await.unwrap();
    let mut ids = Vec::new();
    for (owner, at) in [(Some("a"), 1), (Some("b"), 2), (None, 3)] {
        let (run, token) = submitted_run(owner, at);
        store.insert_run(&run, &token).await.unwrap();
        assert_eq!(
            store.run(run.id).await.unwrap().unwrap().owner_replica,
            owner.map(str::to_owned)
        );
        ids.push(run.id);
    }
    let (a_run, b_run, unowned) = (ids[0], ids[1], ids[2]);
    let orphaned = |now, me: &'static str, mine| {
        let store = store.clone();
        async move {
            let runs = store.orphaned_runs(now, me, mine).await.unwrap();
            runs.into_iter().map(|r| r.id).collect::<Vec<_>>()
        }
    };

    assert_eq!(
        orphaned(500, "b", false).await,
        [unowned],
        "both leases hold"
    );
    assert_eq!(
        orphaned(1500, "b", false).await,
        [a_run, unowned],
        "a's lease ran out; b's own runs are never orphans to b"
    );
    assert_eq!(
        orphaned(500, "a", true).await,
        [a_run, unowned],
        "a restarted: its previous life's runs"
    );

    assert!(store.renew_replica_lease("b", 500, 2000).await.unwrap());
    assert!(
        !store.renew_replica_lease("a", 1500, 2500).await.unwrap(),
        "a lease that ran out is not renewed"
    );
    assert!(
        store
            .finish_run(a_run, "Failed", Some("lease"), None, 1500)
            .await
            .unwrap()
    );
    assert!(
        !store
            .finish_run(a_run, "Failed", Some("again"), None, 1501)
            .await
            .unwrap(),
        "a run is ended once"
    );
    assert_eq!(store.in_flight_runs_of("b").await.unwrap(), [b_run]);
    assert_eq!(store.forget_expired_replicas(1500).await.unwrap(), 1);
    assert!(store.replica("a").await.unwrap().is_none());
    assert_eq!(
        store.replica("b").await.unwrap().unwrap().lease_expires_at,
        2000
    );

    store.register_replica(&replica("c", 5000)).await.unwrap();
    store.expire_other_replicas("c").await.unwrap();
    assert_eq!(
        store.replica("b").await.unwrap().unwrap().lease_expires_at,
        0
    );
    assert_eq!(
        store.replica("c").await.unwrap().unwrap().lease_expires_at,
        5000
    );
    store.remove_replica("c").await.unwrap();
    assert!(store.replica("c").await.unwrap().is_none());
}

/// What a read-only request reads of resources and secrets is kept until the change counts move,
/// whoever moved them: here another store on the same database, as another replica would.
#[tokio::test]
async fn kept_resources_and_secrets_follow_another_processs_changes() {
    let (_dir, store, other) = open_temp_twice().await;
    let id = "/resourceGroups/g/workspaces/w";
    let workspace = ResourceRecord {
        id: id.into(),
        kind: "workspaces".into(),
        parent: None,
        name: "w".into(),
        properties: r#"{"v":1}"#.into(),
        created_at: 1,
        created_by: "test".into(),
    };
    store.insert_resource(&workspace).await.unwrap();
    store
        .insert_data_key(&DataKeyRecord {
            id: "dk".into(),
            owner: id.into(),
            wrapped: vec![1; 40],
            wrapping_key: "root".into(),
            created_at: 1,
        })
        .await
        .unwrap();
    let version = SecretVersionRecord {
        vault: "/resourceGroups/g/vaults/v".into(),
        name: "db-password".into(),
        version: "v1".into(),
        seq: 0,
        ciphertext: vec![2; 48],
        data_key: "dk".into(),
        enabled: true,
        not_before: None,
        expires: None,
        content_type: None,
        tags: "{}".into(),
        created_at: 1,
        updated_at: 1,
    };
    store.add_secret_version(&version).await.unwrap();
    let read = || async {
        let properties = store.resource(id).await.unwrap().unwrap().properties;
        let upper = store.resource(&id.to_uppercase()).await.unwrap().unwrap();
        assert_eq!(upper.properties, properties, "ids compare without case");
        let enabled = store
            .secret_version(&version.vault, "DB-Password", None)
            .await
            .unwrap()
            .unwrap()
            .enabled;
        (properties, enabled)
    };
    let request = || async {
        store.refresh_gate_cache().await.unwrap();
        Store::reading_kept(read()).await
    };
    let request_for = |id: &str| {
        let id = id.to_owned();
        let store = &store;
        async move {
            store.refresh_gate_cache().await.unwrap();
            Store::reading_kept(store.resource(&id)).await.unwrap()
        }
    };
    assert_eq!(request().await, (r#"{"v":1}"#.to_owned(), true));

    other
        .update_resource_properties(id, r#"{"v":2}"#)
        .await
        .unwrap();
    let disable = SecretAttributeChange {
        enabled: Some(false),
        not_before: None,
        expires: None,
        content_type: None,
        tags: None,
    };
    other
        .update_secret_version(&version.vault, &version.name, "v1", &disable, 2)
        .await
        .unwrap();
    assert_eq!(
        Store::reading_kept(read()).await,
        (r#"{"v":1}"#.to_owned(), true),
        "within one request, what was kept under its counts"
    );
    assert_eq!(
        read().await,
        (r#"{"v":2}"#.to_owned(), false),
        "outside a read-only request, the database"
    );
    assert_eq!(
        request().await,
        (r#"{"v":2}"#.to_owned(), false),
        "the next request sees the change"
    );

    let group = ResourceRecord {
        id: "/resourceGroups/g".into(),
        kind: "resourceGroups".into(),
        name: "g".into(),
        ..workspace.clone()
    };
    store.insert_resource(&group).await.unwrap();
    assert!(request_for(&group.id).await.is_some());
    other
        .delete_resources(std::slice::from_ref(&group.id), &[])
        .await
        .unwrap();
    assert!(request_for(&group.id).await.is_none(), "a deletion counts");
}
