//! Every action casemate knows, control-plane and data-plane. Custom roles may only name
//! patterns that match something here; the route table may only use actions listed here.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActionDef {
    pub name: &'static str,
    /// Data actions act on the contents of a resource (a secret's value, a blob), not the resource.
    pub data: bool,
}

const fn control(name: &'static str) -> ActionDef {
    ActionDef { name, data: false }
}

const fn data(name: &'static str) -> ActionDef {
    ActionDef { name, data: true }
}

pub const CATALOGUE: &[ActionDef] = &[
    control("resourceGroups/read"),
    control("resourceGroups/write"),
    control("resourceGroups/delete"),
    control("workspaces/read"),
    control("workspaces/write"),
    control("workspaces/delete"),
    control("workspaces/upgrade/action"),
    control("workspaces/resynckeys/action"),
    control("workspaces/listKeys/action"),
    control("workspaces/computes/read"),
    control("workspaces/computes/write"),
    control("workspaces/computes/delete"),
    control("workspaces/datastores/read"),
    control("workspaces/datastores/write"),
    control("workspaces/datastores/delete"),
    control("workspaces/experiments/read"),
    control("workspaces/experiments/write"),
    control("workspaces/experiments/delete"),
    control("workspaces/experiments/runs/read"),
    control("workspaces/experiments/runs/write"),
    control("workspaces/experiments/runs/submit/action"),
    control("workspaces/experiments/runs/delete"),
    control("workspaces/models/read"),
    control("workspaces/models/write"),
    control("workspaces/models/delete"),
    control("workspaces/images/read"),
    control("workspaces/images/write"),
    control("workspaces/images/delete"),
    control("workspaces/services/read"),
    control("workspaces/services/write"),
    control("workspaces/services/delete"),
    control("workspaces/services/score/action"),
    control("workspaces/services/listkeys/action"),
    control("workspaces/environments/read"),
    control("workspaces/environments/write"),
    control("workspaces/connections/read"),
    control("workspaces/connections/write"),
    control("workspaces/connections/delete"),
    control("workspaces/metadata/secrets/read"),
    control("workspaces/metadata/secrets/write"),
    control("workspaces/metadata/secrets/delete"),
    control("workspaces/metadata/artifacts/read"),
    control("workspaces/metadata/artifacts/write"),
    control("workspaces/metadata/artifacts/delete"),
    control("workspaces/metrics/read"),
    control("vaults/read"),
    control("vaults/write"),
    control("vaults/delete"),
    control("storage/read"),
    control("storage/write"),
    control("registries/read"),
    control("registries/write"),
    control("registries/delete"),
    control("registries/pull/read"),
    control("registries/push/write"),
    control("identities/read"),
    control("identities/write"),
    control("identities/delete"),
    control("identities/assign/action"),
    control("monitors/read"),
    control("metrics/read"),
    control("roleAssignments/read"),
    control("roleAssignments/write"),
    control("roleAssignments/delete"),
    control("roleDefinitions/write"),
    control("roleDefinitions/delete"),
    control("activityLog/read"),
    control("activityLog/verify/action"),
    control("principals/users/read"),
    control("principals/users/write"),
    control("principals/users/delete"),
    control("principals/servicePrincipals/read"),
    control("principals/servicePrincipals/write"),
    control("principals/servicePrincipals/delete"),
    control("principals/servicePrincipals/secrets/write"),
    control("principals/servicePrincipals/secrets/delete"),
    control("signingKeys/rotate/action"),
    data("vaults/secrets/getSecret/action"),
    data("vaults/secrets/setSecret/action"),
    data("vaults/secrets/readMetadata/action"),
    data("vaults/secrets/delete"),
    data("vaults/secrets/recover/action"),
    data("vaults/secrets/purge/action"),
    data("vaults/keys/read"),
    data("vaults/keys/create/action"),
    data("vaults/keys/update/action"),
    data("vaults/keys/rotate/action"),
    data("vaults/keys/wrap/action"),
    data("vaults/keys/unwrap/action"),
    data("vaults/keys/delete"),
    data("vaults/keys/recover/action"),
    data("vaults/keys/purge/action"),
    data("vaults/certificates/read"),
    data("vaults/certificates/write"),
    data("storage/containers/blobs/read"),
    data("storage/containers/blobs/write"),
    data("storage/containers/blobs/delete"),
];

pub fn lookup(name: &str) -> Option<&'static ActionDef> {
    CATALOGUE
        .iter()
        .find(|action| action.name.eq_ignore_ascii_case(name))
}
