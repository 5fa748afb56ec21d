//! Built-in roles, with the cloud platform's semantics where it has them.

use crate::RoleDefinition;

fn strings(values: &[&str]) -> Vec<String> {
    values.iter().map(|v| (*v).to_owned()).collect()
}

fn builtin(
    name: &str,
    description: &str,
    actions: &[&str],
    not_actions: &[&str],
    data_actions: &[&str],
) -> RoleDefinition {
    RoleDefinition {
        name: name.to_owned(),
        description: description.to_owned(),
        is_custom: false,
        actions: strings(actions),
        not_actions: strings(not_actions),
        data_actions: strings(data_actions),
        not_data_actions: vec![],
        assignable_scopes: strings(&["/"]),
    }
}

/// The built-in roles, built once. Owner, Contributor and Reader decide the seed's table of
/// thirteen operations exactly (upgrading a workspace is Owner-only there; calling a web service
/// is open to Readers).
pub fn builtin_roles() -> &'static [RoleDefinition] {
    static ROLES: std::sync::LazyLock<Vec<RoleDefinition>> = std::sync::LazyLock::new(build);
    &ROLES
}

fn build() -> Vec<RoleDefinition> {
    vec![
        builtin(
            "Owner",
            "Full access, including sharing (role assignments).",
            &["*"],
            &[],
            &["*"],
        ),
        builtin(
            "Contributor",
            "Full access except sharing and upgrading workspaces.",
            &["*"],
            &[
                "roleAssignments/write",
                "roleAssignments/delete",
                "roleDefinitions/write",
                "roleDefinitions/delete",
                "workspaces/upgrade/action",
            ],
            &[],
        ),
        builtin(
            "Reader",
            "Read everything except secrets; call web services.",
            &["*/read", "workspaces/services/score/action"],
            &["workspaces/metadata/secrets/*"],
            &[],
        ),
        builtin(
            "Data Scientist",
            "Everything in a workspace except deleting or changing the workspace itself, writing or deleting compute, and listing keys.",
            &[
                "workspaces/*/read",
                "workspaces/*/action",
                "workspaces/*/delete",
                "workspaces/*/write",
            ],
            &[
                "workspaces/delete",
                "workspaces/write",
                "workspaces/upgrade/action",
                "workspaces/computes/*/write",
                "workspaces/computes/*/delete",
                "workspaces/listKeys/action",
                "workspaces/resynckeys/action",
            ],
            &[],
        ),
        builtin(
            "Compute Operator",
            "Manage compute in a workspace.",
            &["workspaces/read", "workspaces/computes/*"],
            &[],
            &[],
        ),
        builtin(
            "AcrPull",
            "Pull images from a container registry.",
            &["registries/pull/read"],
            &[],
            &[],
        ),
        builtin(
            "AcrPush",
            "Push and pull images.",
            &["registries/pull/read", "registries/push/write"],
            &[],
            &[],
        ),
        builtin(
            "Monitoring Reader",
            "Read metrics: the installation's Prometheus scrape and each workspace's metrics.",
            &["*/metrics/read", "monitors/read"],
            &[],
            &[],
        ),
        builtin(
            "Managed Identity Operator",
            "Read and assign user-assigned identities.",
            &["identities/read", "identities/assign/action"],
            &[],
            &[],
        ),
        builtin(
            "Storage Blob Data Contributor",
            "Read, write and delete blobs.",
            &["storage/read", "storage/write"],
            &[],
            &["storage/containers/blobs/*"],
        ),
        builtin(
            "Key Vault Administrator",
            "All keys, secrets and certificates of a vault.",
            &["vaults/read"],
            &[],
            &["vaults/*"],
        ),
        builtin(
            "Key Vault Secrets Officer",
            "Manage secrets.",
            &["vaults/read"],
            &[],
            &["vaults/secrets/*"],
        ),
        builtin(
            "Key Vault Secrets User",
            "Read secret values.",
            &["vaults/read"],
            &[],
            &[
                "vaults/secrets/getSecret/action",
                "vaults/secrets/readMetadata/action",
            ],
        ),
        builtin(
            "Key Vault Crypto Officer",
            "Manage keys.",
            &["vaults/read"],
            &[],
            &["vaults/keys/*"],
        ),
    ]
}
