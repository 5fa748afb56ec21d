//! The way to one scoring process: HTTP/1.1 over its unix socket, with idle connections kept
//! for reuse so a request pays no connect.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// More idle connections than this are closed rather than kept.
const MAX_IDLE: usize = 64;

/// What the scoring process answered.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub content_type: Option<hyper::header::HeaderValue>,
    pub body: Bytes,
    /// The microseconds the model took, as the scoring process measured them.
    pub model_us: u64,
    /// The model raised: the process answered 500 and wrote the traceback to its console.
    pub model_error: bool,
}

/// Why a request did not get an answer from the process.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("cannot reach the scoring process: {0}")]
    Connect(std::io::Error),
    #[error("the scoring process broke the connection: {0}")]
    Exchange(hyper::Error),
}

/// One scoring process's socket and its idle connections.
pub struct Backend {
    socket: PathBuf,
    idle: Mutex<Vec<SendRequest<Full<Bytes>>>>,
    in_flight: Arc<AtomicUsize>,
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backend")
            .field("socket", &self.socket)
            .finish_non_exhaustive()
    }
}

/// Counts a request as in flight on its backend until dropped.
pub struct InFlight(Arc<AtomicUsize>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Backend {
    pub fn new(socket: PathBuf) -> Self {
        Self {
            socket,
            idle: Mutex::new(Vec::new()),
            in_flight: Arc::new(AtomicUsize::new(0)),
        }
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Requests taken for this process and not yet answered: an old process is stopped only
    /// when this is zero.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    /// Counts one request as in flight here until the guard is dropped.
    pub fn enter(&self) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight(self.in_flight.clone())
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<SendRequest<Full<Bytes>>>> {
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, ProxyError> {
        let stream = tokio::net::UnixStream::connect(&self.socket)
            .await
            .map_err(ProxyError::Connect)?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(ProxyError::Exchange)?;
        tokio::spawn(async move {
            // Ends when the process closes the socket or the sender is dropped.
            let _ = connection.await;
        });
        Ok(sender)
    }

    /// A ready connection: an idle one if any still works, a new one otherwise.
    async fn sender(&self) -> Result<SendRequest<Full<Bytes>>, ProxyError> {
        loop {
            let Some(mut sender) = self.idle().pop() else {
                return self.connect().await;
            };
            if sender.ready().await.is_ok() {
                return Ok(sender);
            }
        }
    }

    fn keep(&self, sender: SendRequest<Full<Bytes>>) {
        let mut idle = self.idle();
        if idle.len() < MAX_IDLE {
            idle.push(sender);
        }
    }

    /// Sends one request and reads the whole answer. Callers that may race a hand-over hold
    /// an [`InFlight`] from [`Self::enter`] (taken where the backend was chosen) around it.
    pub async fn send(
        &self,
        method: hyper::Method,
        path: &str,
        content_type: Option<&hyper::header::HeaderValue>,
        body: Bytes,
    ) -> Result<Answer, ProxyError> {
        let mut sender = self.sender().await?;
        let mut request = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header(hyper::header::HOST, "scoring");
        if let Some(content_type) = content_type {
            request = request.header(hyper::header::CONTENT_TYPE, content_type);
        }
        let request = request
            .body(Full::new(body))
            .map_err(|e| ProxyError::Connect(std::io::Error::other(e)))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(ProxyError::Exchange)?;
        let (parts, body) = response.into_parts();
        let body = body
            .collect()
            .await
            .map_err(ProxyError::Exchange)?
            .to_bytes();
        self.keep(sender);
        let header_text = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
        Ok(Answer {
            status: parts.status.as_u16(),
            content_type: parts.headers.get(hyper::header::CONTENT_TYPE).cloned(),
            body,
            model_us: header_text("x-casemate-model-time-us")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0),
            model_error: header_text("x-casemate-model-error").is_some(),
        })
    }

    /// Whether the process answers its health check.
    pub async fn ping(&self) -> bool {
        matches!(
            tokio::time::timeout(
                Duration::from_secs(5),
                self.send(hyper::Method::GET, "/ping", None, Bytes::new())
            )
            .await,
            Ok(Ok(Answer { status: 200, .. }))
        )
    }
}
