//! `casemate login --sso`: signs in through the server's OpenID provider in a browser. The CLI
//! listens on a loopback port (RFC 8252), the browser is sent to the server's single sign-on
//! with that port and the challenge of a verifier only this process holds, and the server
//! sends the browser back here with a one-use code, traded (with the verifier) for tokens.
//! With `--device` (RFC 8628), for a machine without a browser: the user signs in at the
//! provider on any device with the code printed here, while this process polls the server.

use anyhow::{Context, bail};
use casemate_client::{Client, ClientError};
use casemate_types::Sensitive;
use casemate_types::wire::{TokenRequest, TokenResponse};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// How long to wait for the browser to come back.
const WAIT: Duration = Duration::from_secs(300);
const MAX_REQUEST_BYTES: usize = 16 * 1024;
const SIGNED_IN_PAGE: &str = "<!doctype html><title>casemate</title><p>Signed in to casemate. \
                              You can close this tab and return to the terminal.</p>";

/// The `code` of a request line `GET /?code=… HTTP/1.1`, if it carries one.
fn code_in(request: &str) -> Option<Sensitive> {
    let target = request.strip_prefix("GET ")?.split(' ').next()?;
    let url = url::Url::parse(&format!("http://127.0.0.1{target}")).ok()?;
    url.query_pairs()
        .find(|(name, _)| name == "code")
        .map(|(_, value)| Sensitive::new(value.into_owned()))
}

async fn read_request(stream: &mut TcpStream) -> anyhow::Result<String> {
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 2048];
    while !bytes.windows(4).any(|w| w == b"\r\n\r\n") {
        let read = stream.read(&mut chunk).await?;
        if read == 0 || bytes.len() + read > MAX_REQUEST_BYTES {
            break;
        }
        bytes.extend_from_slice(&chunk[..read]);
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Answers browser requests on `listener` until one brings the code.
async fn wait_for_code(listener: TcpListener) -> anyhow::Result<Sensitive> {
    loop {
        let (mut stream, _) = listener.accept().await?;
        let request = read_request(&mut stream).await.unwrap_or_default();
        let Some(code) = code_in(&request) else {
            let _ = stream
                .write_all(
                    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                )
                .await;
            continue;
        };
        let response = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\
             Cache-Control: no-store\r\nConnection: close\r\n\r\n{SIGNED_IN_PAGE}",
            SIGNED_IN_PAGE.len()
        );
        let _ = stream.write_all(response.as_bytes()).await;
        return Ok(code);
    }
}

/// Signs in through the browser; the address to open goes to standard error.
pub async fn sign_in(client: &Client, server_url: &str) -> anyhow::Result<TokenResponse> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .context("listening on a loopback port for the browser to come back")?;
    let port = listener.local_addr()?.port();
    let verifier = casemate_crypto::random_text()?;
    let challenge = casemate_crypto::pkce_challenge(&verifier);
    let start = format!(
        "{}/console/sso/start?cli_port={port}&cli_challenge={challenge}",
        server_url.trim_end_matches('/')
    );
    if std::env::var_os("SSH_CONNECTION").is_some() {
        // The browser comes back to this machine's loopback, which a laptop's browser cannot reach.
        eprintln!(
            "This shell is over SSH: the browser must run on this machine. To sign in from \
             another device instead, use `casemate login {server_url} --sso --device`."
        );
    }
    eprintln!("Open this address in a browser on this machine to sign in:\n  {start}");
    let code = match tokio::time::timeout(WAIT, wait_for_code(listener)).await {
        Ok(code) => code?,
        Err(_) => bail!("no sign-in came back within {} seconds", WAIT.as_secs()),
    };
    Ok(client
        .token(&TokenRequest::sso_handoff(code, verifier))
        .await?)
}

/// RFC 8628 §3.5: how much longer to wait after each `slow_down`.
const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);

/// Signs in with the device flow; the address and code to enter go to standard error.
pub async fn sign_in_with_device(client: &Client) -> anyhow::Result<TokenResponse> {
    let device = client.begin_device_sign_in().await?;
    match &device.verification_uri_complete {
        Some(complete) => eprintln!(
            "On any device, open\n  {complete}\nor open {} and enter the code\n  {}",
            device.verification_uri, device.user_code
        ),
        None => eprintln!(
            "On any device, open {} and enter the code\n  {}",
            device.verification_uri, device.user_code
        ),
    }
    let deadline = tokio::time::Instant::now()
        + Duration::from_secs(u64::try_from(device.expires_in).unwrap_or(0));
    let mut interval = Duration::from_secs(u64::try_from(device.interval).unwrap_or(5).max(1));
    let request = TokenRequest::device_code(device.device_code);
    loop {
        tokio::time::sleep(interval).await;
        if tokio::time::Instant::now() > deadline {
            bail!("the sign-in was not finished at the provider before the code expired");
        }
        match client.token(&request).await {
            Ok(tokens) => return Ok(tokens),
            Err(ClientError::Api { code, .. }) if code == "AuthorizationPending" => {}
            Err(ClientError::Api { code, .. }) if code == "SlowDown" => interval += SLOW_DOWN_STEP,
            Err(error) => return Err(error.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_code_is_read_from_the_request_line_only() {
        let request = "GET /?code=abc-123&x=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
        assert_eq!(code_in(request).unwrap().expose(), "abc-123");
        assert!(code_in("GET /favicon.ico HTTP/1.1\r\n\r\n").is_none());
        assert!(code_in("POST /?code=abc HTTP/1.1\r\n\r\n").is_none());
    }
}
