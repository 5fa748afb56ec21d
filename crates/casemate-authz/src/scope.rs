//! Scopes: resource ids such as `/resourceGroups/rg/workspaces/ws`, compared case-insensitively.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("scope '{scope}': {rule}")]
pub struct ScopeError {
    pub scope: String,
    pub rule: &'static str,
}

/// A validated resource id: `/`, or `/kind/name` pairs. Stored as written; compared case-insensitively.
#[derive(Debug, Clone)]
pub struct Scope {
    path: String,
    /// The path lower-cased once, so containment is a byte-prefix test.
    folded: String,
}

impl PartialEq for Scope {
    fn eq(&self, other: &Self) -> bool {
        self.folded == other.folded
    }
}

impl Eq for Scope {}

fn is_valid_segment(segment: &str) -> bool {
    !segment.is_empty()
        && segment.len() <= 127
        && segment
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

impl Scope {
    pub fn root() -> Self {
        Self::new("/".into())
    }

    fn new(path: String) -> Self {
        let folded = path.to_ascii_lowercase();
        Self { path, folded }
    }

    pub fn parse(path: &str) -> Result<Self, ScopeError> {
        let error = |rule| ScopeError {
            scope: path.chars().take(200).collect(),
            rule,
        };
        if path == "/" {
            return Ok(Self::root());
        }
        let rest = path
            .strip_prefix('/')
            .ok_or_else(|| error("must start with '/'"))?;
        let segments: Vec<&str> = rest.split('/').collect();
        if !segments.len().is_multiple_of(2) {
            return Err(error("must be '/' or a sequence of /kind/name pairs"));
        }
        if !segments.iter().all(|segment| is_valid_segment(segment)) {
            return Err(error(
                "segments must be 1-127 letters, digits, '-', '_' or '.'",
            ));
        }
        Ok(Self::new(path.into()))
    }

    pub fn as_str(&self) -> &str {
        &self.path
    }

    fn segments(&self) -> impl Iterator<Item = &str> {
        self.path.split('/').filter(|segment| !segment.is_empty())
    }

    /// True when `other` is this scope or lies below it.
    pub fn contains(&self, other: &Scope) -> bool {
        if self.folded == "/" {
            return true;
        }
        match other.folded.strip_prefix(self.folded.as_str()) {
            Some(rest) => rest.is_empty() || rest.starts_with('/'),
            None => false,
        }
    }

    pub fn parent(&self) -> Option<Scope> {
        if self.path == "/" {
            return None;
        }
        let segments: Vec<&str> = self.segments().collect();
        let kept = &segments[..segments.len().saturating_sub(2)];
        Some(if kept.is_empty() {
            Self::root()
        } else {
            Self::new(format!("/{}", kept.join("/")))
        })
    }

    /// The scope made of the first `pairs` kind/name pairs, if this scope is that deep.
    pub fn truncated(&self, pairs: usize) -> Option<Scope> {
        let segments: Vec<&str> = self.segments().collect();
        (pairs > 0 && segments.len() >= pairs * 2)
            .then(|| Self::new(format!("/{}", segments[..pairs * 2].join("/"))))
    }

    pub fn last_kind(&self) -> Option<&str> {
        let segments: Vec<&str> = self.segments().collect();
        segments
            .len()
            .checked_sub(2)
            .and_then(|i| segments.get(i).copied())
    }

    pub fn child(&self, kind: &str, name: &str) -> Result<Scope, ScopeError> {
        let base = if self.path == "/" {
            ""
        } else {
            self.path.as_str()
        };
        Self::parse(&format!("{base}/{kind}/{name}"))
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_refuses() {
        assert!(Scope::parse("/").is_ok());
        assert!(Scope::parse("/resourceGroups/rg-1/workspaces/ws").is_ok());
        for bad in [
            "",
            "resourceGroups/rg",
            "/resourceGroups",
            "/resourceGroups/",
            "/a/b/c",
            "/a/b c",
            "//",
        ] {
            assert!(Scope::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn containment_and_parents() {
        let rg = Scope::parse("/resourceGroups/rg").unwrap();
        let ws = Scope::parse("/resourceGroups/RG/workspaces/ws").unwrap();
        assert!(Scope::root().contains(&ws));
        assert!(rg.contains(&ws));
        assert!(!ws.contains(&rg));
        assert!(
            !rg.contains(&Scope::parse("/resourceGroups/rg2").unwrap()),
            "a prefix of a name is not containment"
        );
        assert_eq!(ws.parent().unwrap(), rg);
        assert_eq!(rg.parent().unwrap(), Scope::root());
        assert_eq!(Scope::root().parent(), None);
        assert_eq!(ws.last_kind(), Some("workspaces"));
        assert_eq!(ws.truncated(1).unwrap(), rg);
        assert_eq!(ws.truncated(2).unwrap(), ws);
        assert_eq!(rg.truncated(2), None);
        assert_eq!(Scope::root().truncated(1), None);
    }
}
