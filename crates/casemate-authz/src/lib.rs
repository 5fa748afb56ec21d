//! The authorization engine: pure functions over role definitions and role assignments.
//!
//! A role assignment binds a principal to a role at a scope; it applies to that scope and every
//! scope below it. A principal may perform an action at a scope when some applicable assignment's
//! role has an `actions` pattern matching it and no `not_actions` pattern of that same role
//! matching it. Not-actions only subtract from their own role: they never deny. Deny by default.

pub mod scope;

pub use scope::{Scope, ScopeError};

/// A role's permissions, in the cloud platform's shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleDefinition {
    pub name: String,
    pub actions: Vec<String>,
    pub not_actions: Vec<String>,
}

impl RoleDefinition {
    /// Whether this role, taken alone, grants `action`.
    pub fn grants(&self, action: &str) -> bool {
        self.actions
            .iter()
            .any(|pattern| action_matches(pattern, action))
            && !self
                .not_actions
                .iter()
                .any(|pattern| action_matches(pattern, action))
    }
}

/// One role assignment as the engine sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment<'r> {
    pub role: &'r RoleDefinition,
    pub scope: Scope,
}

/// Matches an action against a pattern where `*` stands for exactly one path segment, or, as the
/// last segment, for any number of remaining segments. Case-insensitive.
pub fn action_matches(pattern: &str, action: &str) -> bool {
    let mut pattern_segments = pattern.split('/');
    let mut action_segments = action.split('/');
    loop {
        match (pattern_segments.next(), action_segments.next()) {
            (Some("*"), Some(_)) if pattern_segments.clone().next().is_none() => return true,
            (Some(p), Some(a)) if p == "*" || p.eq_ignore_ascii_case(a) => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// The assignments that grant `action` at `scope`; empty means denied.
pub fn granting_assignments<'a, 'r>(
    assignments: &'a [Assignment<'r>],
    action: &str,
    scope: &Scope,
) -> Vec<&'a Assignment<'r>> {
    assignments
        .iter()
        .filter(|assignment| assignment.scope.contains(scope) && assignment.role.grants(action))
        .collect()
}

pub fn is_allowed(assignments: &[Assignment<'_>], action: &str, scope: &Scope) -> bool {
    assignments
        .iter()
        .any(|assignment| assignment.scope.contains(scope) && assignment.role.grants(action))
}

/// The built-in Owner role: every action, including sharing.
pub fn owner_role() -> RoleDefinition {
    RoleDefinition {
        name: "Owner".into(),
        actions: vec!["*".into()],
        not_actions: vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn role(actions: &[&str], not_actions: &[&str]) -> RoleDefinition {
        RoleDefinition {
            name: "r".into(),
            actions: actions.iter().map(|s| s.to_string()).collect(),
            not_actions: not_actions.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn scope(path: &str) -> Scope {
        Scope::parse(path).unwrap()
    }

    #[test]
    fn wildcards_match_per_segment() {
        assert!(action_matches("*", "workspaces/read"));
        assert!(action_matches("workspaces/*", "workspaces/computes/write"));
        assert!(action_matches(
            "workspaces/*/delete",
            "workspaces/computes/delete"
        ));
        assert!(!action_matches(
            "workspaces/*/delete",
            "workspaces/computes/gpu/delete"
        ));
        assert!(action_matches("Workspaces/READ", "workspaces/read"));
        assert!(!action_matches("workspaces/read", "workspaces/write"));
        assert!(!action_matches("workspaces/read", "workspaces/read/extra"));
    }

    #[test]
    fn assignments_apply_downward_only() {
        let owner = owner_role();
        let assignments = [Assignment {
            role: &owner,
            scope: scope("/resourceGroups/rg1"),
        }];
        assert!(is_allowed(
            &assignments,
            "workspaces/read",
            &scope("/resourceGroups/rg1/workspaces/ws")
        ));
        assert!(is_allowed(
            &assignments,
            "workspaces/read",
            &scope("/resourceGroups/RG1")
        ));
        assert!(!is_allowed(&assignments, "workspaces/read", &scope("/")));
        assert!(!is_allowed(
            &assignments,
            "workspaces/read",
            &scope("/resourceGroups/rg10")
        ));
        assert!(
            !is_allowed(&[], "workspaces/read", &scope("/")),
            "deny by default"
        );
    }

    #[test]
    fn a_not_action_subtracts_only_from_its_own_role() {
        let limited = role(&["*"], &["workspaces/write"]);
        let writer = role(&["workspaces/write"], &[]);
        let at_root = |r| Assignment {
            role: r,
            scope: scope("/"),
        };
        assert!(!is_allowed(
            &[at_root(&limited)],
            "workspaces/write",
            &scope("/")
        ));
        assert!(is_allowed(
            &[at_root(&limited), at_root(&writer)],
            "workspaces/write",
            &scope("/")
        ));
    }

    fn action_strategy() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            proptest::sample::select(vec![
                "workspaces",
                "computes",
                "read",
                "write",
                "delete",
                "secrets",
                "*",
            ]),
            1..4,
        )
        .prop_map(|segments| segments.join("/"))
    }

    fn scope_strategy() -> impl Strategy<Value = Scope> {
        proptest::collection::vec(proptest::sample::select(vec!["a", "b", "c"]), 0..4).prop_map(
            |names| {
                let mut path = String::new();
                for (depth, name) in names.iter().enumerate() {
                    let kind = ["resourceGroups", "workspaces", "computes"][depth.min(2)];
                    path.push_str(&format!("/{kind}/{name}"));
                }
                Scope::parse(if path.is_empty() { "/" } else { &path }).unwrap()
            },
        )
    }

    proptest! {
        #[test]
        fn a_not_action_never_grants(action in action_strategy(), not_action in action_strategy(), at in scope_strategy()) {
            let only_denies = role(&[], &[&not_action]);
            let assignments = [Assignment { role: &only_denies, scope: Scope::root() }];
            prop_assert!(!is_allowed(&assignments, &action, &at));
        }

        #[test]
        fn adding_an_assignment_never_removes_a_permission(
            first in action_strategy(), second in action_strategy(), excluded in action_strategy(),
            action in action_strategy(), s1 in scope_strategy(), s2 in scope_strategy(), at in scope_strategy(),
        ) {
            let granting = role(&[&first], &[]);
            let other = role(&[&second], &[&excluded]);
            let before = [Assignment { role: &granting, scope: s1.clone() }];
            let after = [Assignment { role: &granting, scope: s1 }, Assignment { role: &other, scope: s2 }];
            if is_allowed(&before, &action, &at) {
                prop_assert!(is_allowed(&after, &action, &at));
            }
        }

        #[test]
        fn an_assignment_never_grants_on_its_parent_or_a_sibling(assigned in scope_strategy(), action in action_strategy()) {
            let owner = owner_role();
            let assignments = [Assignment { role: &owner, scope: assigned.clone() }];
            if let Some(parent) = assigned.parent() {
                prop_assert!(!is_allowed(&assignments, &action, &parent));
                let sibling = parent.child(assigned.last_kind().unwrap_or("x"), "sibling-zzz").unwrap();
                prop_assert!(!is_allowed(&assignments, &action, &sibling));
            }
        }
    }
}
