//! The web console in a real headless Chromium against the real server: sign in, create a
//! workspace, follow a run's log and chart, set and reveal a secret, be refused it as a Reader,
//! read the activity log, sign out. Screenshots land in the test run's target directory.

pub mod browser;
mod session;

use crate::runs::{snapshot, wait_final};
use browser::Browser;
use casemate_testkit::{ADMIN_PASSWORD, TestServer, USER_PASSWORD};
use casemate_types::wire::SubmitRunRequest;

const TRAIN: &str = r#"
import os, pathlib, time
from casemate import Run

run = Run.get_context()
print("epoch 0: waiting for the release file", flush=True)
release = pathlib.Path(os.environ["RELEASE_FILE"])
while not release.exists():
    time.sleep(0.05)
for step in range(5):
    run.log("loss", 1.0 / (step + 1), step=step)
print("training finished after 5 steps", flush=True)
"#;

#[tokio::test(flavor = "multi_thread")]
async fn the_console_runs_the_everyday_flow_and_respects_roles() {
    let server = TestServer::start().await;
    let browser = Browser::open(&server.url).await;

    // Signing in; then a resource group and a workspace, made in the console.
    browser.visit("").await;
    browser.find("#username").await;
    browser.screenshot("01-sign-in").await;
    browser.sign_in("admin", ADMIN_PASSWORD).await;
    browser.fill("#new-group", "team").await;
    browser.click("Create").await;
    browser.fill("#new-workspace", "vision").await;
    browser
        .fill("#new-workspace-description", "image models")
        .await;
    browser.click("Create workspace").await;
    let shown = browser.wait_for_text("dl.props", "Key vault").await;
    let admin = server.admin().await;
    let workspace = admin.get_workspace("team", "vision").await.unwrap();
    assert_eq!(workspace.description, "image models");
    for associated in [
        &workspace.key_vault,
        &workspace.storage,
        &workspace.container_registry,
        &workspace.identity.name,
    ] {
        assert!(
            shown.contains(associated.as_str()),
            "{associated} in {shown}"
        );
    }
    browser.screenshot("02-workspace").await;

    // A run, followed live: the page shows it waiting, then (without a reload) its end.
    let release = tempfile::tempdir().unwrap();
    let release_file = release.path().join("go");
    let code = snapshot(&admin, "vision", &[("train.py", TRAIN)]).await;
    let run = admin
        .submit_run(
            "team",
            "vision",
            "exp",
            &SubmitRunRequest {
                resources: None,
                image: None,
                snapshot_id: code.id.clone(),
                command: "python3 train.py".into(),
                compute: None,
                time_limit_seconds: None,
                environment: [(
                    "RELEASE_FILE".to_owned(),
                    release_file.display().to_string(),
                )]
                .into(),
            },
        )
        .await
        .unwrap();
    browser.visit("#/rg/team/ws/vision/runs").await;
    browser
        .find(&format!("a[href$='/runs/{}']", run.id))
        .await
        .click()
        .await
        .unwrap();
    browser
        .wait_for_text("#run-log", "waiting for the release file")
        .await;
    browser.find("[data-status='Running']").await;
    std::fs::write(&release_file, b"").unwrap();
    browser
        .wait_for_text("#run-log", "training finished after 5 steps")
        .await;
    browser.find("[data-status='Completed']").await;
    let chart = browser.find("#run-metrics svg[data-metric='loss']").await;
    assert_eq!(
        chart.attr("data-points").await.unwrap().as_deref(),
        Some("5")
    );
    let line = browser.find("#run-metrics svg polyline").await;
    let points = line.attr("points").await.unwrap().unwrap_or_default();
    assert_eq!(points.split(' ').count(), 5, "{points}");
    assert_eq!(wait_final(&admin, &run).await.status.as_str(), "Completed");
    browser.screenshot("03-run").await;

    // A secret set in the console: its value is in no list, and shows on click.
    let value = "correct-horse-battery-staple";
    browser.visit("#/rg/team/ws/vision/secrets").await;
    browser.fill("#secret-name", "db-password").await;
    browser.fill("#secret-value", value).await;
    browser.click("Save").await;
    browser.find("[data-secret='db-password'] button").await;
    assert!(!browser.client.source().await.unwrap().contains(value));
    browser.click("Reveal").await;
    browser
        .wait_for_text("[data-secret='db-password']", value)
        .await;
    browser.screenshot("04-secret-revealed").await;

    // Signing out ends the session: the page asks for a password again.
    browser.click("Sign out").await;
    browser.find("#username").await;
    browser.visit("#/rg/team/ws/vision/secrets").await;
    browser.find("#username").await;

    // A Reader may not read secrets: the page shows the API's refusal, never a value, and the
    // refusal is in the activity log beside the admin's reveal.
    server
        .user_with_role("rita", "Reader", "/resourceGroups/team")
        .await;
    browser.sign_in("rita", USER_PASSWORD).await;
    browser.visit("#/rg/team/ws/vision/secrets").await;
    let refused = browser.wait_for_text("#secrets", "Refused").await;
    assert!(
        refused.contains("(403)") && refused.contains("vaults/secrets/readMetadata/action"),
        "{refused}"
    );
    assert!(!browser.client.source().await.unwrap().contains(value));
    browser.screenshot("05-reader-refused").await;
    browser.click("Sign out").await;
    browser.find("#username").await;

    let secret_reads = admin
        .list_activity(&[("scope", "/resourceGroups/team")])
        .await
        .unwrap();
    let outcome_of = |caller: &str, operation: &str| {
        secret_reads
            .entries
            .iter()
            .filter(|e| e.caller_name == caller && e.operation == operation)
            .map(|e| e.outcome.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        outcome_of("admin", "vaults/secrets/getSecret/action"),
        ["Succeeded"]
    );
    assert_eq!(
        outcome_of("rita", "vaults/secrets/readMetadata/action"),
        ["Denied"]
    );

    // The activity log page, filtered by caller, and the chain verified from the console.
    browser.sign_in("admin", ADMIN_PASSWORD).await;
    browser.visit("#/activity").await;
    browser.fill("#filter-caller", "rita").await;
    browser.click("Filter").await;
    browser.wait_for_text("#activity", "Denied").await;
    browser.click("Verify the chain").await;
    browser.wait_for_text("#chain-intact", "yes").await;
    browser.screenshot("06-activity").await;
    browser.close().await;
}
