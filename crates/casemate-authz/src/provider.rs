//! The cloud platform writes actions with a resource provider in front
//! (`Microsoft.MachineLearningServices/workspaces/read`); casemate's own names leave it out
//! (`workspaces/read`). Role documents copied from the platform are accepted with the prefix,
//! which is taken off before anything is stored or compared.

/// What a provider prefix stands for in casemate's names.
enum Replacement {
    /// The provider's actions go on with one of these first segments; a `*` right after the
    /// prefix stands for each of them (`Microsoft.Authorization/*/write` is
    /// `roleAssignments/*/write` and `roleDefinitions/*/write`, not every write).
    Provides(&'static [&'static str]),
    /// The prefix names one resource type, and what follows is an action on it.
    ResourceType(&'static str),
}

const PROVIDERS: &[(&str, Replacement)] = &[
    (
        "Microsoft.MachineLearningServices/",
        Replacement::Provides(&["workspaces"]),
    ),
    ("Microsoft.KeyVault/", Replacement::Provides(&["vaults"])),
    (
        "Microsoft.ContainerRegistry/",
        Replacement::Provides(&["registries"]),
    ),
    (
        "Microsoft.Authorization/",
        Replacement::Provides(&["roleAssignments", "roleDefinitions"]),
    ),
    (
        "Microsoft.Insights/",
        Replacement::Provides(&["metrics", "activityLog"]),
    ),
    (
        "Microsoft.ManagedIdentity/userAssignedIdentities/",
        Replacement::ResourceType("identities"),
    ),
    (
        "Microsoft.Resources/subscriptions/resourceGroups/",
        Replacement::ResourceType("resourceGroups"),
    ),
    (
        "Microsoft.Storage/storageAccounts/",
        Replacement::ResourceType("storage"),
    ),
];

/// `pattern` in casemate's form: one pattern, or one for each segment a provider's `*` stands
/// for. A pattern without a provider is returned as it is; an unknown provider (a first segment
/// with a '.') is refused with the rule to follow.
pub fn without_provider(pattern: &str) -> Result<Vec<String>, String> {
    for (prefix, replacement) in PROVIDERS {
        let Some(head) = pattern.get(..prefix.len()) else {
            continue;
        };
        if !head.eq_ignore_ascii_case(prefix) {
            continue;
        }
        let rest = &pattern[prefix.len()..];
        return Ok(match replacement {
            Replacement::ResourceType(segment) => vec![format!("{segment}/{rest}")],
            Replacement::Provides(segments) if rest == "*" || rest.starts_with("*/") => segments
                .iter()
                .map(|segment| format!("{segment}/{rest}"))
                .collect(),
            Replacement::Provides(_) => vec![rest.to_owned()],
        });
    }
    let first = pattern.split('/').next().unwrap_or_default();
    if first.contains('.') {
        let known: Vec<&str> = PROVIDERS
            .iter()
            .map(|(prefix, _)| prefix.trim_end_matches('/'))
            .collect();
        return Err(format!(
            "'{pattern}' names the provider '{first}', which casemate does not know: write the \
             action without a provider, as in 'workspaces/read', or with one of {}",
            known.join(", ")
        ));
    }
    Ok(vec![pattern.to_owned()])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_prefixes_come_off_and_unknown_ones_are_refused() {
        for (given, expected) in [
            (
                "Microsoft.MachineLearningServices/workspaces/experiments/runs/submit/action",
                &["workspaces/experiments/runs/submit/action"][..],
            ),
            (
                "microsoft.machinelearningservices/workspaces/*/read",
                &["workspaces/*/read"],
            ),
            ("Microsoft.MachineLearningServices/*", &["workspaces/*"]),
            (
                "Microsoft.KeyVault/vaults/secrets/getSecret/action",
                &["vaults/secrets/getSecret/action"],
            ),
            (
                "Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action",
                &["identities/*/assign/action"],
            ),
            (
                "Microsoft.Resources/subscriptions/resourceGroups/read",
                &["resourceGroups/read"],
            ),
            (
                "Microsoft.Authorization/roleAssignments/write",
                &["roleAssignments/write"],
            ),
            (
                "Microsoft.Authorization/*/write",
                &["roleAssignments/*/write", "roleDefinitions/*/write"],
            ),
            ("workspaces/read", &["workspaces/read"]),
            ("*", &["*"]),
        ] {
            assert_eq!(without_provider(given).unwrap(), expected, "{given}");
        }
        let refused = without_provider("Microsoft.Compute/virtualMachines/read").unwrap_err();
        assert!(
            refused.contains("Microsoft.Compute") && refused.contains("workspaces/read"),
            "{refused}"
        );
    }
}
