//! Naming rules shared by server (which enforces them) and clients (which can check early).

use crate::error::FieldError;

/// Principal names (user names, service principal names): 1-64 characters of letters, digits,
/// `-`, `_` and `.`, starting with a letter or digit. Compared case-insensitively.
pub fn validate_principal_name(field: &'static str, name: &str) -> Result<(), FieldError> {
    let rule = "must be 1-64 characters of letters, digits, '-', '_' or '.', starting with a letter or digit";
    let mut chars = name.chars();
    let starts_well = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !starts_well || !rest_ok || name.len() > 64 {
        return Err(FieldError::new(field, rule));
    }
    Ok(())
}

/// Free-text labels (display names, token names, descriptions): 1-256 characters, no control characters.
pub fn validate_label(field: &'static str, value: &str) -> Result<(), FieldError> {
    if value.trim().is_empty() {
        return Err(FieldError::new(field, "must not be empty"));
    }
    if value.chars().count() > 256 {
        return Err(FieldError::new(field, "must be at most 256 characters"));
    }
    if value.chars().any(char::is_control) {
        return Err(FieldError::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(())
}

/// Passwords: 12-1024 characters. Long passphrases welcome; no composition rules (NIST 800-63B).
pub fn validate_password(field: &'static str, password: &str) -> Result<(), FieldError> {
    let length = password.chars().count();
    if length < 12 {
        return Err(FieldError::new(field, "must be at least 12 characters"));
    }
    if length > 1024 {
        return Err(FieldError::new(field, "must be at most 1024 characters"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn principal_names() {
        assert!(validate_principal_name("name", "alice").is_ok());
        assert!(validate_principal_name("name", "a.b-c_d9").is_ok());
        for bad in [
            "",
            "-alice",
            "al ice",
            "alice/bob",
            "ünïcode",
            &"a".repeat(65),
        ] {
            let err = validate_principal_name("name", bad);
            assert!(
                matches!(err, Err(FieldError { field: "name", .. })),
                "{bad:?} accepted"
            );
        }
    }

    #[test]
    fn labels_and_passwords() {
        assert!(validate_label("display_name", "Alice Smith").is_ok());
        assert!(validate_label("display_name", " ").is_err());
        assert!(validate_label("display_name", "a\nb").is_err());
        assert!(validate_password("password", "short").is_err());
        assert!(validate_password("password", "correct horse battery").is_ok());
    }
}
