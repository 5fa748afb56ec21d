//! The one error type of the services and the gate. It carries no HTTP types; `api::errors`
//! maps it to status codes in one table.

use casemate_types::error::FieldError;

/// The message an error answered with, kept on the response for the gate's activity record of
/// a refused sign-in (the same words the client was shown, so nothing more is disclosed).
#[derive(Debug, Clone)]
pub struct AnsweredError {
    pub message: String,
    /// A device sign-in that is not finished yet: "poll again", not a refusal.
    pub pending: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input: names the field and the rule it broke.
    #[error("{field}: {rule}")]
    InvalidInput { field: String, rule: String },
    /// No usable credential. The precise reason goes to the server log, never to the client.
    #[error("authentication required: the token is missing, invalid, expired or revoked")]
    Unauthenticated { reason: String },
    /// Wrong credentials; never which one. `code_sent` when a second-factor code came with them,
    /// since a code used a moment ago is refused too and its owner should learn to wait.
    #[error("{}", invalid_credentials_message(*code_sent))]
    InvalidCredentials { code_sent: bool },
    /// A single sign-on the server would not complete. The reason is the user's to read (they
    /// came from the provider and need to know what to fix or whom to ask); it holds no token.
    #[error("single sign-on refused: {0}")]
    SignInRefused(String),
    /// A device sign-in the user has not finished at the provider yet (RFC 8628 §3.5): poll
    /// again after the interval, five seconds longer from now on when `slow_down`.
    #[error("{}", device_pending_message(*slow_down))]
    DeviceSignInPending { slow_down: bool },
    #[error("a TOTP code is required for this account: send it in the `totp` field")]
    MfaRequired,
    #[error("forbidden: action '{action}' is not granted at scope '{scope}'")]
    Forbidden { action: String, scope: String },
    #[error("forbidden: {0}")]
    ForbiddenOther(String),
    #[error("{0}")]
    SecretDisabled(String),
    /// A key (or the key version) needed is disabled: 423 until it is enabled again.
    #[error("{0}")]
    KeyDisabled(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("this route does not accept that HTTP method")]
    MethodNotAllowed,
    #[error("the request body is larger than the limit of {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("{reason}; retry after {retry_after_seconds} seconds")]
    Throttled {
        reason: &'static str,
        retry_after_seconds: u64,
    },
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// Something casemate relies on upstream failed to answer properly (502): a web service's
    /// scoring process (or its model raised), a Ray cluster, the OpenID provider.
    #[error("{0}")]
    BadGateway(String),
    /// A feature casemate does not have (501), named so the caller knows what is missing.
    #[error("{0}")]
    NotSupported(String),
    /// An internal failure. The detail is logged; the client sees only the request id.
    #[error("internal error: {0}")]
    Internal(String),
}

fn device_pending_message(slow_down: bool) -> &'static str {
    if slow_down {
        "the sign-in at the provider is not finished yet, and polls come too fast: wait five \
         seconds longer between them from now on"
    } else {
        "the sign-in at the provider is not finished yet: poll again after the interval"
    }
}

fn invalid_credentials_message(code_sent: bool) -> &'static str {
    if code_sent {
        "the user name, password or code is wrong. A code is accepted only once: if this one was \
         used a moment ago, wait for the next code from your authenticator and sign in with it"
    } else {
        "the user name, password, client secret or code is wrong"
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn invalid(field: impl Into<String>, rule: impl Into<String>) -> Self {
        Self::InvalidInput {
            field: field.into(),
            rule: rule.into(),
        }
    }

    pub fn unauthenticated(reason: impl Into<String>) -> Self {
        Self::Unauthenticated {
            reason: reason.into(),
        }
    }

    pub fn internal(detail: impl std::fmt::Display) -> Self {
        Self::Internal(detail.to_string())
    }
}

impl From<FieldError> for Error {
    fn from(error: FieldError) -> Self {
        Self::invalid(error.field, error.rule)
    }
}

impl From<casemate_store::StoreError> for Error {
    fn from(error: casemate_store::StoreError) -> Self {
        use casemate_store::StoreError;
        match error {
            StoreError::NotFound(what) => Self::NotFound(what.to_owned()),
            StoreError::Conflict(message) => Self::Conflict(message),
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<casemate_crypto::CryptoError> for Error {
    fn from(error: casemate_crypto::CryptoError) -> Self {
        Self::Internal(error.to_string())
    }
}
