//! Blobs in an S3-compatible bucket: moto's S3 server (`moto[server]` from PyPI, in a venv made
//! once under cargo's target directory) started on loopback. The bucket holds only sealed bytes;
//! artifacts, snapshots and run outputs round-trip through it and survive a restart; deleting a
//! workspace removes its objects; credentials come from a file the server refuses when others
//! can read it; a bucket that does not answer stops the start with a clear reason.

use crate::free_port;
use crate::mlflow::venv_with;
use crate::runs::{run_output, snapshot, submit, wait_final};
use casemate_server::config::{ConfigLayer, ServerConfig};
use casemate_testkit::TestServer;
use casemate_types::wire::{CreateWorkspaceRequest, RunStatus};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

pub(crate) const BUCKET: &str = "casemate-blobs";

/// moto's S3 server on a loopback port, killed when dropped.
pub(crate) struct S3Server {
    pub endpoint: String,
    child: Child,
}

impl S3Server {
    pub async fn start() -> Self {
        // This process's plain-HTTP calls to moto go through reqwest's rustls backend.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let venv = tokio::task::spawn_blocking(|| venv_with("moto-venv", &["moto[server]>=5,<6"]))
            .await
            .unwrap();
        let port = free_port();
        let child = Command::new(venv.join("bin/moto_server"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // Owned at once, so a failure below still kills and reaps it.
        let server = Self {
            endpoint: format!("http://127.0.0.1:{port}"),
            child,
        };
        let http = reqwest::Client::new();
        for _ in 0..300 {
            // moto accepts unsigned bucket creation; casemate never creates buckets.
            if let Ok(response) = http
                .put(format!("{}/{BUCKET}", server.endpoint))
                .send()
                .await
                && response.status().is_success()
            {
                return server;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("moto's S3 server at {} never answered", server.endpoint);
    }

    /// Every object in the bucket with its bytes, read past casemate.
    async fn objects(&self) -> Vec<(String, Vec<u8>)> {
        let listing = reqwest::get(format!("{}/{BUCKET}?list-type=2", self.endpoint))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(!listing.contains("<IsTruncated>true"), "{listing}");
        let mut objects = Vec::new();
        for key in listing.split("<Key>").skip(1) {
            let key = key.split("</Key>").next().unwrap().to_owned();
            let url = format!("{}/{BUCKET}/{key}", self.endpoint);
            let bytes = reqwest::get(url).await.unwrap().bytes().await.unwrap();
            objects.push((key, bytes.to_vec()));
        }
        objects
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn write_credentials(dir: &Path, mode: u32) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("s3-credentials.toml");
    std::fs::write(
        &path,
        "access_key_id = \"casemate\"\nsecret_access_key = \"s3-secret-never-shown-4417\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path
}

fn s3_layer(endpoint: &str, credentials: &Path) -> ConfigLayer {
    ConfigLayer {
        blob_url: Some(format!("s3://{BUCKET}/prod")),
        s3_endpoint: Some(endpoint.to_owned()),
        s3_credentials_file: Some(credentials.to_path_buf()),
        ..Default::default()
    }
}

fn holds(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test(flavor = "multi_thread")]
async fn blobs_in_an_s3_bucket_are_sealed_survive_a_restart_and_go_with_their_workspace() {
    let s3 = S3Server::start().await;
    let dir = tempfile::tempdir().unwrap();
    let credentials = write_credentials(dir.path(), 0o600);
    let server = TestServer::start_with(s3_layer(&s3.endpoint, &credentials)).await;
    let admin = crate::mlflow::workspaces(&server).await;

    let marker = b"plaintext-marker-s3-7d1e";
    let mut weights = marker.to_vec();
    weights.extend((0..300 * 1024u32).map(|i| (i % 251) as u8));
    admin
        .put_artifact("team", "vision", "models/weights.bin", weights.clone())
        .await
        .unwrap();
    let code = snapshot(
        &admin,
        "vision",
        &[(
            "train.py",
            "import os\nos.makedirs('outputs', exist_ok=True)\nopen('outputs/model.txt', 'w').write('plaintext-output-s3-93aa')\n",
        )],
    )
    .await;
    let run = wait_final(
        &admin,
        &submit(&admin, &code, "python3 train.py", &[]).await,
    )
    .await;
    assert_eq!(run.status, RunStatus::Completed, "{:?}", run.reason);

    // The bucket holds the workspace's artifact, snapshot and run output, all under the
    // configured prefix, none of them in clear.
    let objects = s3.objects().await;
    assert!(objects.iter().all(|(key, _)| key.starts_with("prod/")));
    for kind in [
        "/artifacts/models/weights.bin",
        "/snapshots/",
        "/outputs/model.txt",
    ] {
        assert!(
            objects.iter().any(|(key, _)| key.contains(kind)),
            "{kind}: {:?}",
            objects.iter().map(|(k, _)| k).collect::<Vec<_>>()
        );
    }
    for (key, bytes) in &objects {
        assert!(!holds(bytes, marker), "plaintext in {key}");
        assert!(
            !holds(bytes, b"plaintext-output-s3-93aa"),
            "plaintext in {key}"
        );
        assert!(!holds(bytes, b"os.makedirs"), "plaintext in {key}");
    }
    assert!(
        !server
            .home()
            .join("blobs")
            .read_dir()
            .unwrap()
            .any(|_| true)
    );

    // A restart reads them back.
    let server = server.restart(s3_layer(&s3.endpoint, &credentials)).await;
    let admin = server.admin().await;
    assert_eq!(
        admin
            .get_artifact("team", "vision", "models/weights.bin")
            .await
            .unwrap(),
        weights
    );
    assert_eq!(
        run_output(&admin, &run, "model.txt").await,
        b"plaintext-output-s3-93aa"
    );

    // Deleting the workspace removes its objects; the other workspace's stay.
    admin
        .put_artifact("team", "audio", "keep.bin", b"kept".to_vec())
        .await
        .unwrap();
    admin.delete_workspace("team", "vision").await.unwrap();
    let left = s3.objects().await;
    assert!(
        left.iter()
            .all(|(key, _)| !key.contains("/artifacts/models/")
                && !key.contains("/snapshots/")
                && !key.contains("/outputs/")),
        "{:?}",
        left.iter().map(|(k, _)| k).collect::<Vec<_>>()
    );
    assert!(
        left.iter()
            .any(|(key, _)| key.ends_with("/artifacts/keep.bin"))
    );
    admin
        .create_workspace("team", "vision", &CreateWorkspaceRequest::default())
        .await
        .unwrap();
    assert!(
        admin
            .get_artifact("team", "vision", "models/weights.bin")
            .await
            .is_err()
    );
    server.stop().await;
}

/// Starts a server directly (the kit's start unwraps), for the reason it refuses.
async fn refused_start(layer: ConfigLayer) -> String {
    let home = tempfile::tempdir().unwrap();
    let layer = ConfigLayer {
        listen: Some("127.0.0.1:0".parse().unwrap()),
        home: Some(home.path().to_path_buf()),
        ..Default::default()
    }
    .over(layer);
    let config = ServerConfig::resolve(layer, None).unwrap();
    let clock = std::sync::Arc::new(casemate_types::ManualClock::starting_now());
    match casemate_server::start(&config, clock).await {
        Ok(_) => panic!("the server started"),
        Err(error) => error.to_string(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_readable_credentials_file_or_a_silent_bucket_stops_the_start_saying_why() {
    let dir = tempfile::tempdir().unwrap();
    let readable = write_credentials(dir.path(), 0o644);
    let closed = format!("http://127.0.0.1:{}", free_port());
    let reason = refused_start(s3_layer(&closed, &readable)).await;
    assert!(
        reason.contains("s3_credentials_file") && reason.contains("readable by others"),
        "{reason}"
    );
    let private = write_credentials(dir.path(), 0o600);
    let reason = refused_start(s3_layer(&closed, &private)).await;
    assert!(
        reason.contains("blob_url: the bucket s3://casemate-blobs did not answer"),
        "{reason}"
    );
    assert!(!reason.contains("s3-secret-never-shown"), "{reason}");
}
