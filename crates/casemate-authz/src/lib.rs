//! The authorization engine: pure functions over role definitions, role assignments and scopes.
//!
//! A role assignment binds a principal to a role at a scope; it applies to that scope and every
//! scope below it. A principal may perform an action at a scope when some applicable assignment's
//! role has an `actions` (or, for data actions, `data_actions`) pattern matching it and no
//! `not_actions` (`not_data_actions`) pattern of that same role matching it. Not-actions only
//! subtract from their own role: they never deny. Deny by default.
//!
//! Patterns are `/`-separated segments compared case-insensitively; a `*` segment stands for zero
//! or more whole segments, so `workspaces/computes/*/write` covers `workspaces/computes/write`
//! and `*/read` covers every action whose last segment is `read`.

pub mod catalogue;
pub mod provider;
pub mod roles;
pub mod scope;

pub use catalogue::{ActionDef, CATALOGUE};
pub use roles::builtin_roles;
pub use scope::{Scope, ScopeError};

/// A role's permissions, in the cloud platform's shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleDefinition {
    pub name: String,
    pub description: String,
    pub is_custom: bool,
    pub actions: Vec<String>,
    pub not_actions: Vec<String>,
    pub data_actions: Vec<String>,
    pub not_data_actions: Vec<String>,
    pub assignable_scopes: Vec<String>,
}

impl RoleDefinition {
    /// Whether this role, taken alone, grants `action`.
    pub fn grants(&self, action: &ActionDef) -> bool {
        let (allow, deny) = if action.data {
            (&self.data_actions, &self.not_data_actions)
        } else {
            (&self.actions, &self.not_actions)
        };
        allow
            .iter()
            .any(|pattern| action_matches(pattern, action.name))
            && !deny
                .iter()
                .any(|pattern| action_matches(pattern, action.name))
    }

    /// Whether the role may be assigned at `scope`: at or below one of its assignable scopes.
    pub fn assignable_at(&self, scope: &Scope) -> bool {
        self.assignable_scopes
            .iter()
            .filter_map(|assignable| Scope::parse(assignable).ok())
            .any(|assignable| assignable.contains(scope))
    }

    /// Every catalogued action the role grants.
    pub fn granted_actions(&self) -> impl Iterator<Item = &'static ActionDef> + '_ {
        CATALOGUE.iter().filter(|action| self.grants(action))
    }
}

fn match_segments<'a>(
    mut pattern: std::str::Split<'a, char>,
    action: std::str::Split<'a, char>,
) -> bool {
    match pattern.next() {
        None => action.clone().next().is_none(),
        Some("*") => {
            let mut rest = action;
            loop {
                if match_segments(pattern.clone(), rest.clone()) {
                    return true;
                }
                if rest.next().is_none() {
                    return false;
                }
            }
        }
        Some(segment) => {
            let mut action = action;
            match action.next() {
                Some(name) if segment.eq_ignore_ascii_case(name) => match_segments(pattern, action),
                _ => false,
            }
        }
    }
}

/// Matches an action name against a pattern (see the crate documentation). Never allocates.
pub fn action_matches(pattern: &str, action: &str) -> bool {
    match_segments(pattern.split('/'), action.split('/'))
}

/// Which catalogue entries a role grants, one bit each: a decision is then a scope test and a
/// bit test, not pattern matching.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct GrantSet([u64; 4]);

const _: () = assert!(CATALOGUE.len() <= 256, "GrantSet holds 256 actions");

impl GrantSet {
    fn of(role: &RoleDefinition) -> Self {
        let mut bits = [0u64; 4];
        for (index, action) in CATALOGUE.iter().enumerate() {
            if role.grants(action) {
                bits[index / 64] |= 1 << (index % 64);
            }
        }
        Self(bits)
    }

    fn contains(&self, index: usize) -> bool {
        self.0
            .get(index / 64)
            .is_some_and(|word| word & (1 << (index % 64)) != 0)
    }
}

/// The position of a catalogue entry, found from its address (every `&ActionDef` handed out comes
/// from `CATALOGUE`); `None` for an `ActionDef` built elsewhere.
fn catalogue_index(action: &ActionDef) -> Option<usize> {
    let offset = (action as *const ActionDef as usize).wrapping_sub(CATALOGUE.as_ptr() as usize);
    let index = offset / std::mem::size_of::<ActionDef>();
    CATALOGUE
        .get(index)
        .filter(|entry| std::ptr::eq(*entry, action))
        .map(|_| index)
}

/// One role assignment as the engine sees it, with the role's grants precomputed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment<'r> {
    pub role: &'r RoleDefinition,
    pub scope: Scope,
    grants: GrantSet,
}

impl<'r> Assignment<'r> {
    pub fn new(role: &'r RoleDefinition, scope: Scope) -> Self {
        Self {
            grants: GrantSet::of(role),
            role,
            scope,
        }
    }

    fn allows(&self, action: &ActionDef) -> bool {
        match catalogue_index(action) {
            Some(index) => self.grants.contains(index),
            None => self.role.grants(action),
        }
    }
}

/// The assignments that grant `action` at `scope`; empty means denied.
pub fn granting_assignments<'a, 'r>(
    assignments: &'a [Assignment<'r>],
    action: &ActionDef,
    scope: &Scope,
) -> Vec<&'a Assignment<'r>> {
    assignments
        .iter()
        .filter(|assignment| assignment.scope.contains(scope) && assignment.allows(action))
        .collect()
}

pub fn is_allowed(assignments: &[Assignment<'_>], action: &ActionDef, scope: &Scope) -> bool {
    assignments
        .iter()
        .any(|assignment| assignment.scope.contains(scope) && assignment.allows(action))
}

/// Every catalogued action the assignments grant at `scope`.
pub fn effective_actions(assignments: &[Assignment<'_>], scope: &Scope) -> Vec<&'static ActionDef> {
    CATALOGUE
        .iter()
        .filter(|action| is_allowed(assignments, action, scope))
        .collect()
}

/// The first action `role` grants that the assigner does not hold at `scope`: handing out the
/// role there would be an escalation.
pub fn escalation(
    assigner: &[Assignment<'_>],
    role: &RoleDefinition,
    scope: &Scope,
) -> Option<&'static ActionDef> {
    role.granted_actions()
        .find(|action| !is_allowed(assigner, action, scope))
}

/// A custom role that breaks a rule, naming the field and the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {rule}")]
pub struct RoleError {
    pub field: &'static str,
    pub rule: String,
}

fn role_error(field: &'static str, rule: impl Into<String>) -> RoleError {
    RoleError {
        field,
        rule: rule.into(),
    }
}

fn validate_patterns(
    field: &'static str,
    patterns: &[String],
    data: bool,
) -> Result<(), RoleError> {
    for pattern in patterns {
        let well_formed = !pattern.is_empty()
            && pattern.split('/').all(|segment| {
                segment == "*"
                    || (!segment.is_empty() && segment.chars().all(|c| c.is_ascii_alphanumeric()))
            });
        if !well_formed {
            return Err(role_error(
                field,
                format!("'{pattern}' is not a pattern of '/'-separated names and '*'"),
            ));
        }
        if !CATALOGUE
            .iter()
            .any(|action| action.data == data && action_matches(pattern, action.name))
        {
            let kind = if data { "data action" } else { "action" };
            return Err(role_error(
                field,
                format!("'{pattern}' matches no known {kind}"),
            ));
        }
    }
    Ok(())
}

/// Takes the cloud platform's provider prefixes off every pattern of a custom role, refusing
/// a provider casemate does not know.
pub fn strip_provider_prefixes(role: &mut RoleDefinition) -> Result<(), RoleError> {
    for (field, patterns) in [
        ("Actions", &mut role.actions),
        ("NotActions", &mut role.not_actions),
        ("DataActions", &mut role.data_actions),
        ("NotDataActions", &mut role.not_data_actions),
    ] {
        let mut stripped = Vec::with_capacity(patterns.len());
        for pattern in patterns.iter() {
            stripped.extend(
                provider::without_provider(pattern).map_err(|rule| role_error(field, rule))?,
            );
        }
        *patterns = stripped;
    }
    Ok(())
}

/// Checks a custom role: a valid name not taken by a built-in role, known action patterns, and
/// well-formed assignable scopes.
pub fn validate_custom_role(role: &RoleDefinition) -> Result<(), RoleError> {
    let name_ok = !role.name.trim().is_empty()
        && role.name.chars().count() <= 128
        && role
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | '-' | '_' | '.'));
    if !name_ok {
        return Err(role_error(
            "Name",
            "must be 1-128 letters, digits, spaces, '-', '_' or '.'",
        ));
    }
    if builtin_roles()
        .iter()
        .any(|builtin| builtin.name.eq_ignore_ascii_case(&role.name))
    {
        return Err(role_error(
            "Name",
            format!("'{}' is a built-in role", role.name),
        ));
    }
    if role.description.chars().count() > 1024 {
        return Err(role_error("Description", "must be at most 1024 characters"));
    }
    if role.actions.is_empty() && role.data_actions.is_empty() {
        return Err(role_error(
            "Actions",
            "a role must grant at least one action or data action",
        ));
    }
    validate_patterns("Actions", &role.actions, false)?;
    validate_patterns("NotActions", &role.not_actions, false)?;
    validate_patterns("DataActions", &role.data_actions, true)?;
    validate_patterns("NotDataActions", &role.not_data_actions, true)?;
    if role.assignable_scopes.is_empty() {
        return Err(role_error(
            "AssignableScopes",
            "must name at least one scope",
        ));
    }
    for scope in &role.assignable_scopes {
        Scope::parse(scope).map_err(|e| role_error("AssignableScopes", e.to_string()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn role(actions: &[&str], not_actions: &[&str]) -> RoleDefinition {
        RoleDefinition {
            name: "r".into(),
            description: String::new(),
            is_custom: true,
            actions: actions.iter().map(|s| s.to_string()).collect(),
            not_actions: not_actions.iter().map(|s| s.to_string()).collect(),
            data_actions: vec![],
            not_data_actions: vec![],
            assignable_scopes: vec!["/".into()],
        }
    }

    fn builtin(name: &str) -> RoleDefinition {
        builtin_roles()
            .iter()
            .find(|r| r.name == name)
            .unwrap()
            .clone()
    }

    fn act(name: &str) -> &'static ActionDef {
        catalogue::lookup(name).unwrap_or_else(|| panic!("{name} is not catalogued"))
    }

    fn scope(path: &str) -> Scope {
        Scope::parse(path).unwrap()
    }

    #[test]
    fn a_star_stands_for_zero_or_more_segments() {
        assert!(action_matches("*", "workspaces/read"));
        assert!(action_matches("workspaces/*", "workspaces/computes/write"));
        assert!(action_matches(
            "workspaces/*/delete",
            "workspaces/computes/delete"
        ));
        assert!(action_matches("workspaces/*/delete", "workspaces/delete"));
        assert!(action_matches(
            "workspaces/computes/*/write",
            "workspaces/computes/write"
        ));
        assert!(action_matches("*/read", "workspaces/experiments/runs/read"));
        assert!(!action_matches("*/read", "workspaces/write"));
        assert!(action_matches("Workspaces/READ", "workspaces/read"));
        assert!(!action_matches("workspaces/read", "workspaces/write"));
        assert!(!action_matches("workspaces/read", "workspaces/read/extra"));
        assert!(!action_matches("workspaces/*/delete", "vaults/delete"));
    }

    #[test]
    fn assignments_apply_downward_only() {
        let owner = builtin("Owner");
        let assignments = [Assignment::new(&owner, scope("/resourceGroups/rg1"))];
        let read = act("workspaces/read");
        assert!(is_allowed(
            &assignments,
            read,
            &scope("/resourceGroups/rg1/workspaces/ws")
        ));
        assert!(is_allowed(
            &assignments,
            read,
            &scope("/resourceGroups/RG1")
        ));
        assert!(!is_allowed(&assignments, read, &scope("/")));
        assert!(!is_allowed(
            &assignments,
            read,
            &scope("/resourceGroups/rg10")
        ));
        assert!(!is_allowed(&[], read, &scope("/")), "deny by default");
    }

    #[test]
    fn a_not_action_subtracts_only_from_its_own_role() {
        let limited = role(&["*"], &["workspaces/write"]);
        let writer = role(&["workspaces/write"], &[]);
        let at_root = |r| Assignment::new(r, Scope::root());
        let write = act("workspaces/write");
        assert!(!is_allowed(&[at_root(&limited)], write, &Scope::root()));
        assert!(is_allowed(
            &[at_root(&limited), at_root(&writer)],
            write,
            &Scope::root()
        ));
    }

    #[test]
    fn precomputed_grants_agree_with_pattern_matching() {
        for role in builtin_roles() {
            let assignment = Assignment::new(role, Scope::root());
            for action in CATALOGUE {
                assert_eq!(
                    assignment.allows(action),
                    role.grants(action),
                    "{} {}",
                    role.name,
                    action.name
                );
            }
            let outside = ActionDef {
                name: "workspaces/read",
                data: false,
            };
            assert_eq!(assignment.allows(&outside), role.grants(&outside));
        }
    }

    #[test]
    fn data_actions_need_data_permissions() {
        let contributor = builtin("Contributor");
        let secrets_user = builtin("Key Vault Secrets User");
        let get = act("vaults/secrets/getSecret/action");
        assert!(get.data);
        let at = |r| [Assignment::new(r, Scope::root())];
        assert!(
            !is_allowed(&at(&contributor), get, &Scope::root()),
            "actions '*' is not data access"
        );
        assert!(is_allowed(&at(&secrets_user), get, &Scope::root()));
        assert!(!is_allowed(
            &at(&secrets_user),
            act("vaults/secrets/setSecret/action"),
            &Scope::root()
        ));
    }

    #[test]
    fn builtin_roles_only_name_catalogued_actions() {
        for role in builtin_roles() {
            let as_custom = RoleDefinition {
                name: format!("{} copy", role.name),
                is_custom: true,
                ..role.clone()
            };
            validate_custom_role(&as_custom).unwrap_or_else(|e| panic!("{}: {e}", role.name));
        }
    }

    #[test]
    fn data_scientist_and_reader_have_their_platform_semantics() {
        let ds = builtin("Data Scientist");
        for allowed in [
            "workspaces/read",
            "workspaces/experiments/runs/submit/action",
            "workspaces/models/write",
            "workspaces/computes/read",
        ] {
            assert!(ds.grants(act(allowed)), "{allowed}");
        }
        for denied in [
            "workspaces/delete",
            "workspaces/write",
            "workspaces/computes/write",
            "workspaces/computes/delete",
            "workspaces/listKeys/action",
            "roleAssignments/write",
        ] {
            assert!(!ds.grants(act(denied)), "{denied}");
        }
        let reader = builtin("Reader");
        assert!(reader.grants(act("workspaces/experiments/runs/read")));
        assert!(reader.grants(act("workspaces/services/score/action")));
        assert!(
            !reader.grants(act("workspaces/metadata/secrets/read")),
            "readers do not read secrets"
        );
        assert!(!reader.grants(act("workspaces/models/write")));
    }

    #[test]
    fn custom_roles_are_validated_with_the_field_named() {
        let mut custom = role(&["workspaces/read"], &[]);
        custom.name = "Run Operator".into();
        validate_custom_role(&custom).unwrap();
        let broken = |edit: &dyn Fn(&mut RoleDefinition)| {
            let mut candidate = custom.clone();
            edit(&mut candidate);
            validate_custom_role(&candidate).unwrap_err().field
        };
        assert_eq!(broken(&|r| r.name = "Owner".into()), "Name");
        assert_eq!(broken(&|r| r.name = "bad/name".into()), "Name");
        assert_eq!(
            broken(&|r| r.actions = vec!["workspaces/fly".into()]),
            "Actions"
        );
        assert_eq!(
            broken(&|r| r.actions = vec!["workspaces//read".into()]),
            "Actions"
        );
        assert_eq!(
            broken(&|r| r.not_actions = vec!["nothing/here".into()]),
            "NotActions"
        );
        assert_eq!(
            broken(&|r| r.data_actions = vec!["workspaces/read".into()]),
            "DataActions"
        );
        assert_eq!(
            broken(&|r| r.assignable_scopes = vec![]),
            "AssignableScopes"
        );
        assert_eq!(
            broken(&|r| r.assignable_scopes = vec!["resourceGroups/x".into()]),
            "AssignableScopes"
        );
        assert_eq!(
            broken(&|r| {
                r.actions = vec![];
            }),
            "Actions"
        );
    }

    #[test]
    fn escalation_finds_what_the_assigner_lacks() {
        let contributor = builtin("Contributor");
        let owner = builtin("Owner");
        let assigner = [Assignment::new(&contributor, Scope::root())];
        let missing = escalation(&assigner, &owner, &Scope::root()).unwrap();
        assert!(
            missing.name.starts_with("roleAssignments/")
                || missing.name.starts_with("roleDefinitions/")
                || missing.data
                || missing.name == "workspaces/upgrade/action"
        );
        let reader = builtin("Reader");
        assert_eq!(escalation(&assigner, &reader, &Scope::root()), None);
    }

    fn action_strategy() -> impl Strategy<Value = &'static ActionDef> {
        proptest::sample::select(CATALOGUE.iter().collect::<Vec<_>>())
    }

    fn pattern_strategy() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            proptest::sample::select(vec![
                "workspaces",
                "computes",
                "read",
                "write",
                "delete",
                "secrets",
                "vaults",
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
        fn a_not_action_never_grants(action in action_strategy(), not_action in pattern_strategy(), at in scope_strategy()) {
            let mut only_denies = role(&[], &[&not_action]);
            only_denies.not_data_actions = vec![not_action.clone()];
            let assignments = [Assignment::new(&only_denies, Scope::root())];
            prop_assert!(!is_allowed(&assignments, action, &at));
        }

        #[test]
        fn adding_an_assignment_never_removes_a_permission(
            first in pattern_strategy(), second in pattern_strategy(), excluded in pattern_strategy(),
            action in action_strategy(), s1 in scope_strategy(), s2 in scope_strategy(), at in scope_strategy(),
        ) {
            let granting = role(&[&first], &[]);
            let other = role(&[&second], &[&excluded]);
            let before = [Assignment::new(&granting, s1.clone())];
            let after = [Assignment::new(&granting, s1), Assignment::new(&other, s2)];
            if is_allowed(&before, action, &at) {
                prop_assert!(is_allowed(&after, action, &at));
            }
        }

        #[test]
        fn an_assignment_never_grants_on_its_parent_or_a_sibling(assigned in scope_strategy(), action in action_strategy()) {
            let owner = builtin("Owner");
            let assignments = [Assignment::new(&owner, assigned.clone())];
            if let Some(parent) = assigned.parent() {
                prop_assert!(!is_allowed(&assignments, action, &parent));
                let sibling = parent.child(assigned.last_kind().unwrap_or("x"), "sibling-zzz").unwrap();
                prop_assert!(!is_allowed(&assignments, action, &sibling));
            }
        }

        #[test]
        fn matching_never_panics(pattern in "[a-z*/]{0,40}", action in "[a-z/]{0,40}") {
            let _ = action_matches(&pattern, &action);
        }
    }
}
