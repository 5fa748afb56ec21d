//! The Ray Jobs API (`/api/packages`, `/api/jobs`), as much of it as a run needs.

use crate::error::{Error, Result};
use casemate_types::Sensitive;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde::Deserialize;
use serde_json::json;
use std::time::Duration;

/// How long one call to the cluster may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// The job's environment variables whose values are credentials.
const SECRET_VARIABLES: [&str; 2] = ["CASEMATE_RUN_TOKEN", "MLFLOW_TRACKING_TOKEN"];
/// Tries of a submission a busy head answered with a server error.
const SUBMIT_RETRIES: u32 = 30;

#[derive(Clone)]
pub struct RayCluster {
    address: String,
    http: reqwest::Client,
    /// The credential's value, masked out of what the cluster answers.
    credential: Option<std::sync::Arc<Sensitive>>,
}

/// The header a credential is sent as: `Name: value` as given, anything else as Ray's own
/// token (`Authorization: Bearer TOKEN`). Refusals never show the value.
fn credential_header(credential: &Sensitive) -> Result<(HeaderName, HeaderValue)> {
    let text = credential.expose().trim();
    let (name, value) = match text.split_once(':') {
        Some((name, value))
            if !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') =>
        {
            (name.to_owned(), value.trim().to_owned())
        }
        _ => ("authorization".to_owned(), format!("Bearer {text}")),
    };
    let refused = || {
        Error::BadGateway(
            "the Ray compute's credential secret is not a token or a `Name: value` header".into(),
        )
    };
    let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| refused())?;
    let mut value = HeaderValue::from_str(&value).map_err(|_| refused())?;
    value.set_sensitive(true);
    Ok((name, value))
}

#[derive(Debug, Deserialize)]
pub struct JobInfo {
    /// PENDING, RUNNING, STOPPED, SUCCEEDED or FAILED.
    pub status: String,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub driver_exit_code: Option<i32>,
}

impl JobInfo {
    pub fn is_final(&self) -> bool {
        matches!(self.status.as_str(), "STOPPED" | "SUCCEEDED" | "FAILED")
    }
}

#[derive(Deserialize)]
struct JobLogs {
    logs: String,
}

/// What a job is submitted with.
pub struct JobSubmission<'a> {
    pub submission_id: &'a str,
    pub entrypoint: &'a str,
    pub package: &'a str,
    pub env_vars: serde_json::Map<String, serde_json::Value>,
    pub ray: &'a casemate_types::wire::RayCompute,
}

/// `text` with every non-empty `secrets` value replaced by `***`.
fn masked(text: &str, secrets: &[&str]) -> String {
    secrets
        .iter()
        .filter(|secret| !secret.is_empty())
        .fold(text.to_owned(), |text, secret| text.replace(secret, "***"))
}

impl RayCluster {
    pub fn new(address: &str, credential: Option<Sensitive>) -> Result<Self> {
        // Ray's dashboard speaks plain HTTP (the compute's address is checked to be http://);
        // the TLS backend trusts nothing, so an https redirect cannot go anywhere.
        let tls = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(Error::internal)?
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
        let mut headers = HeaderMap::new();
        if let Some(credential) = &credential {
            let (name, value) = credential_header(credential)?;
            headers.insert(name, value);
        }
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .timeout(CALL_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .tls_backend_preconfigured(tls)
            .build()
            .map_err(Error::internal)?;
        Ok(Self {
            address: address.trim_end_matches('/').to_owned(),
            http,
            credential: credential.map(std::sync::Arc::new),
        })
    }

    fn unreachable(&self, error: &dyn std::fmt::Display) -> Error {
        Error::BadGateway(format!(
            "the Ray cluster at {} did not answer: {error}",
            self.address
        ))
    }

    async fn checked(
        &self,
        response: reqwest::Result<reqwest::Response>,
    ) -> Result<reqwest::Response> {
        self.checked_masking(response, &[]).await
    }

    /// [`Self::checked`], with `secrets` (what the request carried that is secret, such as the
    /// run token) and the credential masked out of an error body before it becomes the run's
    /// reason: Ray, or a proxy before it, may echo what it was sent.
    async fn checked_masking(
        &self,
        response: reqwest::Result<reqwest::Response>,
        secrets: &[&str],
    ) -> Result<reqwest::Response> {
        let response = response.map_err(|e| self.unreachable(&e))?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status();
        let mut secrets = secrets.to_vec();
        if let Some(credential) = &self.credential {
            secrets.push(credential.expose().trim());
        }
        let body = masked(&response.text().await.unwrap_or_default(), &secrets);
        let body: String = body.chars().take(500).collect();
        Err(Error::BadGateway(format!(
            "the Ray cluster at {} answered {status}: {body}",
            self.address
        )))
    }

    pub async fn upload_package(&self, name: &str, bytes: Vec<u8>) -> Result<()> {
        let url = format!("{}/api/packages/gcs/{name}", self.address);
        self.checked(self.http.put(url).body(bytes).send().await)
            .await?;
        Ok(())
    }

    pub async fn submit(&self, job: &JobSubmission<'_>) -> Result<()> {
        let mut body = json!({
            "submission_id": job.submission_id,
            "entrypoint": job.entrypoint,
            "runtime_env": {
                "working_dir": format!("gcs://{}", job.package),
                "env_vars": job.env_vars,
            },
        });
        for (name, value) in [
            (
                "entrypoint_num_cpus",
                job.ray.entrypoint_num_cpus.map(serde_json::Value::from),
            ),
            (
                "entrypoint_num_gpus",
                job.ray.entrypoint_num_gpus.map(serde_json::Value::from),
            ),
            (
                "entrypoint_memory",
                job.ray.entrypoint_memory.map(serde_json::Value::from),
            ),
        ] {
            if let Some(value) = value {
                body[name] = value;
            }
        }
        let url = format!("{}/api/jobs/", self.address);
        let secrets: Vec<&str> = SECRET_VARIABLES
            .iter()
            .filter_map(|name| job.env_vars.get(*name).and_then(|v| v.as_str()))
            .collect();
        // A head that has just started answers 500 ("no available agent ... try again later")
        // until its job agent is up: such answers are retried for a while; others are final.
        let mut attempts = 0;
        loop {
            let sent = self.http.post(&url).json(&body).send().await;
            let busy = sent
                .as_ref()
                .is_ok_and(|response| response.status().is_server_error());
            match self.checked_masking(sent, &secrets).await {
                Err(_) if busy && attempts < SUBMIT_RETRIES => {
                    attempts += 1;
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                outcome => return outcome.map(|_| ()),
            }
        }
    }

    pub async fn job(&self, submission_id: &str) -> Result<JobInfo> {
        let url = format!("{}/api/jobs/{submission_id}", self.address);
        let response = self.checked(self.http.get(url).send().await).await?;
        response.json().await.map_err(|e| self.unreachable(&e))
    }

    pub async fn logs(&self, submission_id: &str) -> Result<String> {
        let url = format!("{}/api/jobs/{submission_id}/logs", self.address);
        let response = self.checked(self.http.get(url).send().await).await?;
        let logs: JobLogs = response.json().await.map_err(|e| self.unreachable(&e))?;
        Ok(logs.logs)
    }

    pub async fn stop(&self, submission_id: &str) -> Result<()> {
        let url = format!("{}/api/jobs/{submission_id}/stop", self.address);
        self.checked(self.http.post(url).send().await).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_credential_is_a_bearer_token_or_a_whole_header() {
        let (name, value) = credential_header(&Sensitive::new("tok-123\n")).unwrap();
        assert_eq!(name, "authorization");
        assert_eq!(value, "Bearer tok-123");
        assert!(value.is_sensitive());
        let (name, value) = credential_header(&Sensitive::new("X-Proxy-Key: abc:def")).unwrap();
        assert_eq!(name, "x-proxy-key");
        assert_eq!(value, "abc:def");
        let refused = credential_header(&Sensitive::new("has\nnewline-secret-77"))
            .unwrap_err()
            .to_string();
        assert!(!refused.contains("secret-77"), "{refused}");
    }

    #[test]
    fn an_echoed_token_is_masked_before_the_body_is_cut() {
        let token = "cmrun_0123456789abcdef";
        let body = format!(
            "{}{{\"env_vars\": {{\"CASEMATE_RUN_TOKEN\": \"{token}\"}}}}",
            "x".repeat(440)
        );
        let shown: String = masked(&body, &[token, ""]).chars().take(500).collect();
        assert!(!shown.contains("cmrun_0123"), "{shown}");
        assert!(shown.contains("***"), "{shown}");
    }
}
