//! Two `casemate server` processes as replicas of one installation: one PostgreSQL database
//! (`CASEMATE_TEST_DATABASE_URL`'s server, else a throwaway cluster), one S3 bucket (moto on
//! loopback), each replica with its own home holding the same root key. What one replica does
//! the other sees at its next request, their activity forms one chain, and a replica killed
//! mid-run has its run marked Failed by the other.

use crate::api_error;
use crate::blob_s3::{BUCKET, S3Server};
use crate::runs::{snapshot, submit, wait_final, wait_for_log};
use crate::server_process::{
    ServerProcess, run_processes, sign_in_admin, start_server, wait_until_run_processes_are_gone,
};
use casemate_client::{Client, SecretScope};
use casemate_testkit::{ADMIN_PASSWORD, PostgresServer, USER_PASSWORD};
use casemate_types::Sensitive;
use casemate_types::wire::{
    CreateUserRequest, CreateWorkspaceRequest, RunStatus, SetSecretRequest, TokenRequest,
};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

const WORKSPACE: SecretScope<'static> = SecretScope::Workspace {
    resource_group: "team",
    workspace: "vision",
};

/// Writes the replicas' shared settings into `home/casemate.toml` and starts a replica there.
async fn start_replica(
    home: &Path,
    database_url: &str,
    s3: &S3Server,
    prefix: &str,
) -> ServerProcess {
    let config = home.join("casemate.toml");
    std::fs::write(
        &config,
        format!(
            "database_url = \"{database_url}\"\nblob_url = \"s3://{BUCKET}/{prefix}\"\n\
             s3_endpoint = \"{}\"\nreplica_lease_seconds = 3\n",
            s3.endpoint
        ),
    )
    .unwrap();
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o600)).unwrap();
    let env = [
        ("CASEMATE_ADMIN_PASSWORD", ADMIN_PASSWORD),
        ("AWS_ACCESS_KEY_ID", "casemate-replicas"),
        ("AWS_SECRET_ACCESS_KEY", "casemate-replicas"),
    ];
    start_server(home, &["--config", config.to_str().unwrap()], &env).await
}

async fn sign_in(url: &str, name: &str) -> Client {
    let fingerprint = casemate_client::probe_fingerprint(url).await.unwrap();
    let anonymous = Client::new(url, Some(&fingerprint)).unwrap();
    let token = anonymous
        .token(&TokenRequest::password(
            name,
            Sensitive::new(USER_PASSWORD),
            None,
        ))
        .await
        .unwrap();
    anonymous.with_bearer(token.access_token)
}

#[tokio::test(flavor = "multi_thread")]
async fn two_replicas_share_one_database_and_bucket_and_take_over_a_dead_ones_runs() {
    let postgres = PostgresServer::start();
    let database = format!("casemate_replicas_{}", uuid::Uuid::new_v4().simple());
    let database_url = postgres.database(&database).await;
    let s3 = S3Server::start().await;
    let prefix = database.replace('_', "-");
    let (home_a, home_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut a = start_replica(home_a.path(), &database_url, &s3, &prefix).await;
    // Every replica unseals with the same root key; the first one made it.
    std::fs::copy(
        home_a.path().join("root.key"),
        home_b.path().join("root.key"),
    )
    .unwrap();
    std::fs::set_permissions(
        home_b.path().join("root.key"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    let b = start_replica(home_b.path(), &database_url, &s3, &prefix).await;
    let (admin_a, admin_b) = (sign_in_admin(&a.url).await, sign_in_admin(&b.url).await);

    // A secret written through one replica is read through the other.
    admin_a.create_resource_group("team").await.unwrap();
    admin_a
        .create_workspace("team", "vision", &CreateWorkspaceRequest::default())
        .await
        .unwrap();
    admin_a
        .set_secret(
            WORKSPACE,
            "db-password",
            &SetSecretRequest::value(Sensitive::new("through-replica-a")),
        )
        .await
        .unwrap();
    let read = admin_b.get_secret(WORKSPACE, "db-password").await.unwrap();
    assert_eq!(read.value.expose(), "through-replica-a");

    // A user disabled on one replica is refused on the other at its next request, though that
    // replica's gate had just let the same token through.
    admin_a
        .create_user(&CreateUserRequest {
            name: "alice".into(),
            display_name: None,
            password: Sensitive::new(USER_PASSWORD),
        })
        .await
        .unwrap();
    let alice_on_b = sign_in(&b.url, "alice").await;
    assert_eq!(alice_on_b.userinfo().await.unwrap().name, "alice");
    admin_a.disable_user("alice").await.unwrap();
    api_error(alice_on_b.userinfo().await, 401, "Unauthenticated");

    // Both replicas append at once; the log is still one unbroken chain.
    let writes = (0..40).map(|i| {
        let admin = if i % 2 == 0 { &admin_a } else { &admin_b };
        let request = SetSecretRequest::value(Sensitive::new(format!("value-{i}")));
        async move {
            admin
                .set_secret(WORKSPACE, &format!("concurrent-{i}"), &request)
                .await
                .unwrap()
        }
    });
    futures_util::future::join_all(writes).await;
    for admin in [&admin_a, &admin_b] {
        let report = admin.verify_activity().await.unwrap();
        assert!(report.intact, "{:?}", report.first_problem);
    }
    let names = admin_b.list_secrets(WORKSPACE).await.unwrap();
    assert_eq!(names.len(), 41);

    // Replica A is killed mid-run: B finds A's lease run out, marks the run Failed and stops
    // what A left running on this machine.
    let code = snapshot(&admin_a, "vision", &[("x", "")]).await;
    let run = submit(&admin_a, &code, "echo started; sleep 300", &[]).await;
    wait_for_log(&admin_a, &run, "started").await;
    a.child.start_kill().unwrap();
    a.child.wait().await.unwrap();
    assert!(
        !run_processes(run.id).is_empty(),
        "the run outlives replica A"
    );
    let ended = wait_final(&admin_b, &run).await;
    assert_eq!(ended.status, RunStatus::Failed);
    let reason = ended.reason.clone().unwrap();
    assert!(
        reason.contains("stopped renewing its lease while the run was Running"),
        "{reason}"
    );
    wait_until_run_processes_are_gone(run.id).await;

    // A restarted on its home is the same replica: it finds its run already ended and leaves it
    // as B recorded it, so the run is ended once.
    let a = start_replica(home_a.path(), &database_url, &s3, &prefix).await;
    let admin_a = sign_in_admin(&a.url).await;
    let after = admin_a.get_run("team", "vision", run.id).await.unwrap();
    assert_eq!(after.status, RunStatus::Failed);
    assert_eq!(after.reason, ended.reason);
    assert_eq!(after.ended_at, ended.ended_at);
    let report = admin_a.verify_activity().await.unwrap();
    assert!(report.intact, "{:?}", report.first_problem);
    drop((a, b));
}
