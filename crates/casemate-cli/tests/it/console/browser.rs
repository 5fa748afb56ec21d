//! A real headless Chromium, driven through chromedriver (Debian's `chromium` and
//! `chromium-driver`), pointed at a test server.

use crate::free_port;
use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Long enough for a slow CI machine; the tests wait for what the page shows, never for a time.
const PATIENCE: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(100);

pub struct Browser {
    pub client: Client,
    driver: Child,
    base: String,
    shots: PathBuf,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Opens a browser on its own profile (so its own cookie jar) against `base`.
    pub async fn open(base: &str) -> Self {
        let port = free_port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver is installed (Debian: apt-get install chromium chromium-driver)");
        let profile = tempfile::tempdir().unwrap();
        let capabilities = serde_json::json!({
            // The test server's certificate is self-signed.
            "acceptInsecureCerts": true,
            "goog:chromeOptions": {
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-dev-shm-usage",
                    "--window-size=1280,1000",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            },
        });
        let serde_json::Value::Object(capabilities) = capabilities else {
            unreachable!()
        };
        let url = format!("http://127.0.0.1:{port}");
        let mut last_error = String::new();
        for _ in 0..600 {
            match ClientBuilder::new(HttpConnector::new())
                .capabilities(capabilities.clone())
                .connect(&url)
                .await
            {
                Ok(client) => {
                    let shots =
                        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("console-screenshots");
                    std::fs::create_dir_all(&shots).unwrap();
                    return Self {
                        client,
                        driver,
                        base: base.trim_end_matches('/').to_owned(),
                        shots,
                        _profile: profile,
                    };
                }
                Err(error) => last_error = error.to_string(),
            }
            tokio::time::sleep(POLL).await;
        }
        panic!("chromedriver on {url} never opened a session: {last_error}");
    }

    pub async fn visit(&self, fragment: &str) {
        self.client
            .goto(&format!("{}/{fragment}", self.base))
            .await
            .unwrap();
    }

    pub async fn find(&self, css: &str) -> Element {
        self.client
            .wait()
            .at_most(PATIENCE)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css} on the page: {e}"))
    }

    pub async fn button(&self, label: &str) -> Element {
        let xpath = format!("//button[normalize-space()='{label}']");
        self.client
            .wait()
            .at_most(PATIENCE)
            .for_element(Locator::XPath(&xpath))
            .await
            .unwrap_or_else(|e| panic!("no button {label}: {e}"))
    }

    pub async fn click(&self, label: &str) {
        self.button(label).await.click().await.unwrap();
    }

    pub async fn fill(&self, css: &str, value: &str) {
        let field = self.find(css).await;
        field.clear().await.unwrap();
        field.send_keys(value).await.unwrap();
    }

    /// Waits until the element `css` shows `needle`, and returns all it shows.
    pub async fn wait_for_text(&self, css: &str, needle: &str) -> String {
        let mut shown = String::new();
        for _ in 0..(PATIENCE.as_millis() / POLL.as_millis()) {
            if let Ok(element) = self.client.find(Locator::Css(css)).await {
                shown = element.text().await.unwrap_or_default();
                if shown.contains(needle) {
                    return shown;
                }
            }
            tokio::time::sleep(POLL).await;
        }
        panic!("{css} never showed {needle:?}; it shows {shown:?}");
    }

    pub async fn sign_in(&self, username: &str, password: &str) {
        self.visit("").await;
        self.fill("#username", username).await;
        self.fill("#password", password).await;
        self.click("Sign in").await;
        self.wait_for_text("#signed-in-as", username).await;
    }

    /// Saves what the browser shows as `{name}.png` among the test run's screenshots.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.unwrap();
        assert!(png.starts_with(b"\x89PNG"), "a screenshot is a PNG");
        let path = self.shots.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap();
        path
    }

    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
    }
}
