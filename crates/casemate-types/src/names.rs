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

/// Secret and key names: 1-127 letters, digits and hyphens, compared case-insensitively.
pub fn validate_vault_item_name(field: &'static str, name: &str) -> Result<(), FieldError> {
    if name.is_empty() || name.len() > 127 || !name_chars(name, &['-']) {
        return Err(FieldError::new(
            field,
            "must be 1-127 letters, digits and hyphens",
        ));
    }
    Ok(())
}

fn name_chars(value: &str, extra: &[char]) -> bool {
    value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || extra.contains(&c))
}

/// Resource group names: 1-90 letters, digits, '-', '_' or '.', not ending in '.'.
pub fn validate_resource_group_name(field: &'static str, name: &str) -> Result<(), FieldError> {
    if name.is_empty()
        || name.len() > 90
        || !name_chars(name, &['-', '_', '.'])
        || name.ends_with('.')
    {
        return Err(FieldError::new(
            field,
            "must be 1-90 letters, digits, '-', '_' or '.', not ending in '.'",
        ));
    }
    Ok(())
}

/// Workspace names: 3-33 letters, digits, '-' or '_', starting with a letter or digit.
pub fn validate_workspace_name(field: &'static str, name: &str) -> Result<(), FieldError> {
    let starts_well = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric());
    if !(3..=33).contains(&name.len()) || !starts_well || !name_chars(name, &['-', '_']) {
        return Err(FieldError::new(
            field,
            "must be 3-33 letters, digits, '-' or '_', starting with a letter or digit",
        ));
    }
    Ok(())
}

/// Free text of a resource (a description, a resource name a token is for): at most 1024
/// characters, no control characters; absent is fine.
pub fn validate_note(field: &'static str, value: Option<&str>) -> Result<(), FieldError> {
    match value {
        Some(v) if v.chars().count() > 1024 || v.chars().any(char::is_control) => {
            Err(FieldError::new(
                field,
                "must be at most 1024 characters, with no control characters",
            ))
        }
        _ => Ok(()),
    }
}

/// Experiment and compute names: 1-127 letters, digits, '-' or '_', starting with a letter or digit.
pub fn validate_child_name(field: &'static str, name: &str) -> Result<(), FieldError> {
    let starts_well = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric());
    if !(1..=127).contains(&name.len()) || !starts_well || !name_chars(name, &['-', '_']) {
        return Err(FieldError::new(
            field,
            "must be 1-127 letters, digits, '-' or '_', starting with a letter or digit",
        ));
    }
    Ok(())
}

/// Tags: at most 15; names 1-512 characters, values at most 256, no control characters.
pub fn validate_tags(
    field: &'static str,
    tags: &std::collections::BTreeMap<String, String>,
) -> Result<(), FieldError> {
    if tags.len() > 15 {
        return Err(FieldError::new(field, "at most 15 tags"));
    }
    for (name, value) in tags {
        if name.is_empty() || name.chars().count() > 512 || name.chars().any(char::is_control) {
            return Err(FieldError::new(
                field,
                "tag names must be 1-512 characters without control characters",
            ));
        }
        if value.chars().count() > 256 || value.chars().any(char::is_control) {
            return Err(FieldError::new(
                field,
                format!(
                    "the value of tag '{name}' must be at most 256 characters without control characters"
                ),
            ));
        }
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
    fn resource_names() {
        assert!(validate_resource_group_name("rg", "team-a_1.x").is_ok());
        for bad in ["", "a/b", "ends.", &"r".repeat(91)] {
            assert!(validate_resource_group_name("rg", bad).is_err(), "{bad:?}");
        }
        assert!(validate_workspace_name("ws", "ws-1").is_ok());
        for bad in ["ws", "-ws1", "ws.1", &"w".repeat(34)] {
            assert!(validate_workspace_name("ws", bad).is_err(), "{bad:?}");
        }
        let many: std::collections::BTreeMap<String, String> =
            (0..16).map(|i| (format!("t{i}"), String::new())).collect();
        assert!(validate_tags("tags", &many).is_err());
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
