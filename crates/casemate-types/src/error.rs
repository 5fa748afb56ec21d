//! The one JSON error shape every casemate endpoint answers with.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// A stable, machine-readable code such as `InvalidInput` or `Forbidden`.
    pub code: String,
    /// A human-readable explanation naming the field, rule, action or scope involved.
    pub message: String,
}

impl ErrorBody {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            error: ErrorDetail {
                code: code.into(),
                message: message.into(),
            },
        }
    }
}

/// A client-side validation failure, naming the field and the rule it broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {rule}")]
pub struct FieldError {
    pub field: &'static str,
    pub rule: String,
}

impl FieldError {
    pub fn new(field: &'static str, rule: impl Into<String>) -> Self {
        Self {
            field,
            rule: rule.into(),
        }
    }
}

/// Serde quotes the value it got (`invalid type: string "hunter2", expected …`); a secret sent or
/// received in the wrong shape must not come back in an error, so keep the kind and drop the value.
pub fn without_value(message: &str) -> String {
    for lead in ["invalid type: ", "invalid value: "] {
        if let Some(rest) = message.strip_prefix(lead)
            && let Some((unexpected, expected)) = rest.split_once(", expected")
        {
            let kind = unexpected
                .split(['"', '`'])
                .next()
                .unwrap_or(unexpected)
                .trim();
            return format!("{lead}{kind}, expected{expected}");
        }
    }
    message.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_literals_are_dropped() {
        assert_eq!(
            without_value("invalid type: string \"hunter2\", expected u32"),
            "invalid type: string, expected u32"
        );
        assert_eq!(
            without_value("invalid type: integer `42`, expected a string"),
            "invalid type: integer, expected a string"
        );
        assert_eq!(
            without_value("missing field `name`"),
            "missing field `name`"
        );
    }
}
