//! The Python SDK's pytest suite, run against a real server: a venv (made once, under cargo's
//! target directory) with pytest from PyPI and the SDK installed with `pip install ./python`.

use casemate_testkit::TestServer;
use casemate_types::wire::CreateWorkspaceRequest;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn checked(command: &mut Command) {
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{command:?} failed\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Copies the SDK's package sources out of the tree, since building it writes `build/` beside them.
fn sdk_sources() -> PathBuf {
    let copy = Path::new(env!("CARGO_TARGET_TMPDIR")).join("python-sdk-src");
    let _ = std::fs::remove_dir_all(&copy);
    let package = copy.join("casemate");
    std::fs::create_dir_all(&package).unwrap();
    let source = repository().join("python");
    std::fs::copy(source.join("pyproject.toml"), copy.join("pyproject.toml")).unwrap();
    for entry in std::fs::read_dir(source.join("casemate"))
        .unwrap()
        .flatten()
    {
        if entry.path().extension().is_some_and(|e| e == "py") {
            std::fs::copy(entry.path(), package.join(entry.file_name())).unwrap();
        }
    }
    copy
}

/// The venv's python, with pytest and the current SDK installed.
fn python_with_sdk() -> PathBuf {
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("python-sdk-venv");
    let python = venv.join("bin/python");
    if !python.exists() {
        checked(Command::new("python3").args(["-m", "venv"]).arg(&venv));
        checked(Command::new(&python).args(["-m", "pip", "install", "--quiet", "pytest"]));
    }
    checked(
        Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--force-reinstall",
                "--no-deps",
            ])
            .arg(sdk_sources()),
    );
    python
}

#[tokio::test(flavor = "multi_thread")]
async fn the_python_sdk_suite_passes_against_a_real_server() {
    let python = tokio::task::spawn_blocking(python_with_sdk).await.unwrap();
    let server = TestServer::start().await;
    let admin = server.admin().await;
    admin.create_resource_group("team").await.unwrap();
    admin
        .create_workspace("team", "vision", &CreateWorkspaceRequest::default())
        .await
        .unwrap();
    // A signed-in CLI profile, as `casemate login` leaves it.
    let config = tempfile::tempdir().unwrap();
    let token = server
        .anonymous()
        .token(&casemate_types::wire::TokenRequest::password(
            "admin",
            casemate_types::Sensitive::new(casemate_testkit::ADMIN_PASSWORD),
            None,
        ))
        .await
        .unwrap();
    let profile = serde_json::json!({
        "server": server.url,
        "fingerprint": server.fingerprint,
        "principal": "admin",
        "access_token": token.access_token.expose(),
        "refresh_token": token.refresh_token.as_ref().map(|t| t.expose().to_owned()),
        "expires_at": time::OffsetDateTime::now_utc().unix_timestamp() + token.expires_in,
    });
    std::fs::write(config.path().join("profile.json"), profile.to_string()).unwrap();
    let repository = repository();
    let output = tokio::process::Command::new(&python)
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
        .arg(repository.join("python/tests"))
        .env("CASEMATE_CONFIG_DIR", config.path())
        .env("CASEMATE_TEST_URL", &server.url)
        .env("CASEMATE_TEST_CA_CERT", server.cert_path())
        .env("CASEMATE_TEST_FINGERPRINT", &server.fingerprint)
        .env("CASEMATE_TEST_RESOURCE_GROUP", "team")
        .env("CASEMATE_TEST_WORKSPACE", "vision")
        .env("CASEMATE_TEST_SDK_PATH", repository.join("python"))
        .env(
            "CASEMATE_TEST_EXAMPLES",
            repository.join("examples/secrets-in-a-run"),
        )
        .env_remove("CASEMATE_RUN_ID")
        .env_remove("CASEMATE_RUN_TOKEN")
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "pytest failed\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    server.stop().await;
}
