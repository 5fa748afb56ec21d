//! Integration tests: the real server on loopback over TLS, driven by the real client and CLI.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

/// Runs each named test twice: with the root key in a key file and in a SoftHSM2 token.
#[macro_export]
macro_rules! on_both_key_providers {
    ($($test:ident),+ $(,)?) => {
        mod file_key {
            $(
                #[tokio::test(flavor = "multi_thread")]
                async fn $test() {
                    super::$test(casemate_testkit::TestKeyProvider::File).await
                }
            )+
        }
        mod softhsm_key {
            $(
                #[tokio::test(flavor = "multi_thread")]
                async fn $test() {
                    super::$test(casemate_testkit::TestKeyProvider::SoftHsm).await
                }
            )+
        }
    };
}

mod activity;
mod artifacts;
mod blob_s3;
mod cli;
mod console;
mod gate;
mod hardening;
mod hsm;
mod identities;
mod keys;
mod mfa;
mod mlflow;
mod mlflow_full;
mod monitoring;
mod principals;
mod python_sdk;
mod ray;
mod rbac;
mod registries;
mod registry_admin;
mod replicas;
mod run_images;
mod runs;
mod secrets;
mod server_process;
mod sign_in_activity;
mod sso;
mod sso_device;
mod sso_userinfo;
mod tokens;
mod webservices;
mod workspaces;

use casemate_client::{ClientError, RawResponse};

/// The `Set-Cookie` header values of a response.
pub fn set_cookies(response: &casemate_client::RawResponse) -> Vec<String> {
    response
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Asserts an API error with this status and code, and returns its message.
#[track_caller]
pub fn api_error<T: std::fmt::Debug>(
    result: Result<T, ClientError>,
    status: u16,
    code: &str,
) -> String {
    match result {
        Err(ClientError::Api {
            status: got_status,
            code: got_code,
            message,
            ..
        }) => {
            assert_eq!(
                (got_status, got_code.as_str()),
                (status, code),
                "message: {message}"
            );
            message
        }
        other => panic!("expected {status} {code}, got {other:?}"),
    }
}

/// Asserts a raw response is the JSON error with this status and code, and returns its message.
#[track_caller]
pub fn raw_error(response: &RawResponse, status: u16, code: &str) -> String {
    let body = response.error().unwrap_or_else(|| {
        panic!(
            "not a JSON error body: {}",
            String::from_utf8_lossy(&response.body)
        )
    });
    assert_eq!(
        (response.status, body.error.code.as_str()),
        (status, code),
        "message: {}",
        body.error.message
    );
    body.error.message
}
