//! Resource groups and workspaces. Creating a workspace provisions, in one transaction, its key
//! vault, storage, container registry, monitoring sink and system-assigned identity with exactly
//! the grants of the seed's managed-identity table.

use super::data_keys::KeyEncryptionKey;
use super::signing::to_time;
use super::{Caller, Services};
use crate::error::{Error, Result};
use crate::registries::resource::RegistryProperties;
use casemate_authz::Scope;
use casemate_store::{PrincipalRecord, Provisioning, ResourceRecord, RoleAssignmentRecord};
use casemate_types::names::{
    validate_label, validate_resource_group_name, validate_tags, validate_workspace_name,
};
use casemate_types::wire::{
    CreateWorkspaceRequest, PrincipalKind, ResourceGroup, ResyncReport, UpdateWorkspaceRequest,
    Workspace, WorkspaceIdentity,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use uuid::Uuid;

pub const RESOURCE_GROUPS: &str = "resourceGroups";
pub const WORKSPACES: &str = "workspaces";
pub const VAULTS: &str = "vaults";
pub const STORAGE: &str = "storage";
pub const REGISTRIES: &str = "registries";
pub const MONITORS: &str = "monitors";

pub fn resource_group_id(rg: &str) -> String {
    format!("/resourceGroups/{rg}")
}

pub fn workspace_id(rg: &str, ws: &str) -> String {
    format!("/resourceGroups/{rg}/workspaces/{ws}")
}

/// What is stored for a workspace beyond its row in `resources`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct WorkspaceProperties {
    description: String,
    tags: BTreeMap<String, String>,
    hbi_workspace: bool,
    cmk_keyvault: Option<String>,
    resource_cmk_uri: Option<String>,
    primary_user_assigned_identity: Option<String>,
    key_vault: String,
    storage: String,
    container_registry: String,
    monitoring: String,
    identity: Uuid,
    /// Associated resources made for this workspace (not attached), deleted with it.
    owned: Vec<String>,
}

/// The name of the resource group a resource record sits in.
pub(crate) fn resource_group_of(record: &ResourceRecord) -> String {
    record
        .parent
        .as_deref()
        .and_then(|p| p.strip_prefix("/resourceGroups/"))
        .unwrap_or_default()
        .to_owned()
}

/// The resource id of the container registry a workspace record uses.
pub(crate) fn registry_of_workspace(workspace: &ResourceRecord) -> Result<String> {
    Ok(properties_of(workspace)?.container_registry)
}

fn properties_of(record: &ResourceRecord) -> Result<WorkspaceProperties> {
    serde_json::from_str(&record.properties)
        .map_err(|e| Error::internal(format!("workspace {}: {e}", record.id)))
}

/// The system identity's grants (seed 003): Contributor on the workspace and its resource group,
/// Storage Blob Data Contributor on its storage, all of the vault (Key Vault Administrator),
/// Contributor on the registry, and Contributor on the vault's resource group when it differs.
fn identity_grants(
    workspace_id: &str,
    properties: &WorkspaceProperties,
) -> Vec<(&'static str, String)> {
    let group_of = |id: &str| {
        Scope::parse(id)
            .ok()
            .and_then(|s| s.truncated(1))
            .map(|s| s.to_string())
    };
    let workspace_group = group_of(workspace_id).unwrap_or_default();
    let mut grants = vec![
        ("Contributor", workspace_id.to_owned()),
        ("Contributor", workspace_group.clone()),
        ("Storage Blob Data Contributor", properties.storage.clone()),
        ("Key Vault Administrator", properties.key_vault.clone()),
        ("Contributor", properties.container_registry.clone()),
    ];
    // The workspace may act as its primary user-assigned identity.
    if let Some(identity) = &properties.primary_user_assigned_identity {
        grants.push(("Managed Identity Operator", identity.clone()));
    }
    if let Some(vault_group) = group_of(&properties.key_vault)
        && !vault_group.eq_ignore_ascii_case(&workspace_group)
    {
        grants.push(("Contributor", vault_group));
    }
    grants
}

fn identity_name(workspace_id: &str) -> String {
    format!("workspace:{workspace_id}")
}

/// What a workspace's encrypted storage needs: its id, its blob prefix (the identity's id, so a
/// workspace made again under the same name never meets its predecessor's blobs) and the key that
/// wraps its data keys; and whether it is a high-business-impact workspace.
#[derive(Debug, Clone)]
pub struct WorkspaceStorage {
    pub id: String,
    pub prefix: String,
    pub kek: KeyEncryptionKey,
    pub hbi: bool,
}

fn storage_of(
    record: &ResourceRecord,
    properties: &WorkspaceProperties,
) -> Result<WorkspaceStorage> {
    let kek = match (&properties.cmk_keyvault, &properties.resource_cmk_uri) {
        (Some(vault), Some(uri)) => {
            let path = url_path(uri).unwrap_or_default();
            let key = path
                .split_once("/keys/")
                .and_then(|(_, rest)| rest.split('/').next())
                .ok_or_else(|| {
                    Error::internal(format!("workspace {}: bad resource_cmk_uri", record.id))
                })?;
            KeyEncryptionKey::Customer {
                vault: vault.clone(),
                key: key.to_owned(),
            }
        }
        _ => KeyEncryptionKey::ServiceManaged,
    };
    Ok(WorkspaceStorage {
        id: record.id.clone(),
        prefix: properties.identity.simple().to_string(),
        hbi: properties.hbi_workspace,
        kek,
    })
}

impl Services {
    pub(crate) async fn workspace_storage(&self, rg: &str, ws: &str) -> Result<WorkspaceStorage> {
        let (record, properties) = self.workspace_record(rg, ws).await?;
        storage_of(&record, &properties)
    }

    /// The storage of the workspace with this resource id, if it still exists.
    pub(crate) async fn workspace_storage_by_id(
        &self,
        id: &str,
    ) -> Result<Option<WorkspaceStorage>> {
        match self
            .store
            .resource(id)
            .await?
            .filter(|r| r.kind == WORKSPACES)
        {
            Some(record) => Ok(Some(storage_of(&record, &properties_of(&record)?)?)),
            None => Ok(None),
        }
    }

    fn resource(
        &self,
        kind: &str,
        parent: Option<&str>,
        id: String,
        name: &str,
        properties: String,
        caller: &Caller,
    ) -> ResourceRecord {
        ResourceRecord {
            id,
            kind: kind.to_owned(),
            parent: parent.map(str::to_owned),
            name: name.to_owned(),
            properties,
            created_at: self.now_unix(),
            created_by: caller.name.clone(),
        }
    }

    fn group_view(record: ResourceRecord) -> Result<ResourceGroup> {
        Ok(ResourceGroup {
            id: record.id,
            name: record.name,
            created_at: to_time(record.created_at)?,
            created_by: record.created_by,
        })
    }

    pub async fn create_resource_group(
        &self,
        caller: &Caller,
        name: &str,
    ) -> Result<ResourceGroup> {
        validate_resource_group_name("name", name)?;
        let record = self.resource(
            RESOURCE_GROUPS,
            None,
            resource_group_id(name),
            name,
            "{}".into(),
            caller,
        );
        self.store.insert_resource(&record).await?;
        Self::group_view(record)
    }

    pub async fn list_resource_groups(&self) -> Result<Vec<ResourceGroup>> {
        self.store
            .resources(RESOURCE_GROUPS, None)
            .await?
            .into_iter()
            .map(Self::group_view)
            .collect()
    }

    pub async fn get_resource_group(&self, name: &str) -> Result<ResourceGroup> {
        let record = self
            .store
            .resource(&resource_group_id(name))
            .await?
            .filter(|r| r.kind == RESOURCE_GROUPS)
            .ok_or_else(|| Error::NotFound(format!("resource group '{name}'")))?;
        Self::group_view(record)
    }

    /// Only an empty resource group can be deleted.
    pub async fn delete_resource_group(&self, name: &str) -> Result<()> {
        let group = self.get_resource_group(name).await?;
        let children = self.store.children_count(&group.id).await?;
        if children > 0 {
            return Err(Error::Conflict(format!(
                "resource group '{name}' still holds {children} resource(s); delete them first"
            )));
        }
        Ok(self.store.delete_resources(&[group.id], &[]).await?)
    }

    async fn existing_of_kind(&self, field: &str, id: &str, kind: &str) -> Result<ResourceRecord> {
        let scope = super::rbac::parse_scope(field, id)?;
        if scope.last_kind() != Some(kind) {
            return Err(Error::invalid(
                field,
                format!("'{id}' is not a {kind} resource id"),
            ));
        }
        self.store
            .resource(id)
            .await?
            .filter(|r| r.kind == kind)
            .ok_or_else(|| Error::invalid(field, format!("'{id}' does not exist")))
    }

    async fn workspace_record(
        &self,
        rg: &str,
        ws: &str,
    ) -> Result<(ResourceRecord, WorkspaceProperties)> {
        let record = self
            .store
            .resource(&workspace_id(rg, ws))
            .await?
            .filter(|r| r.kind == WORKSPACES)
            .ok_or_else(|| Error::NotFound(format!("workspace '{ws}' in resource group '{rg}'")))?;
        let properties = properties_of(&record)?;
        Ok((record, properties))
    }

    async fn workspace_view(
        &self,
        record: ResourceRecord,
        properties: WorkspaceProperties,
    ) -> Result<Workspace> {
        let registry_admin_enabled =
            match self.store.resource(&properties.container_registry).await? {
                Some(registry) => RegistryProperties::parse(&registry)?.admin_user_enabled,
                None => false,
            };
        let resource_group = resource_group_of(&record);
        Ok(Workspace {
            identity: WorkspaceIdentity {
                kind: "SystemAssigned".into(),
                principal_id: properties.identity,
                name: identity_name(&record.id),
            },
            id: record.id,
            name: record.name,
            resource_group,
            description: properties.description,
            tags: properties.tags,
            hbi_workspace: properties.hbi_workspace,
            cmk_keyvault: properties.cmk_keyvault,
            resource_cmk_uri: properties.resource_cmk_uri,
            primary_user_assigned_identity: properties.primary_user_assigned_identity,
            key_vault: properties.key_vault,
            storage: properties.storage,
            container_registry: properties.container_registry,
            registry_admin_enabled,
            monitoring: properties.monitoring,
            created_at: to_time(record.created_at)?,
            created_by: record.created_by,
        })
    }

    fn validate_cmk(&self, request: &CreateWorkspaceRequest) -> Result<()> {
        match (&request.cmk_keyvault, &request.resource_cmk_uri) {
            (None, None) => Ok(()),
            (Some(_), None) => Err(Error::invalid(
                "resource_cmk_uri",
                "is required with cmk_keyvault",
            )),
            (None, Some(_)) => Err(Error::invalid(
                "cmk_keyvault",
                "is required with resource_cmk_uri",
            )),
            (Some(vault), Some(uri)) => {
                let path = url_path(uri).ok_or_else(|| {
                    Error::invalid(
                        "resource_cmk_uri",
                        "must be an https URL naming a key version",
                    )
                })?;
                let (key_vault, rest) = path.split_once("/keys/").ok_or_else(|| {
                    Error::invalid(
                        "resource_cmk_uri",
                        "must have the form https://HOST/resourceGroups/RG/vaults/V/keys/K/VERSION",
                    )
                })?;
                let key_parts: Vec<&str> = rest.split('/').collect();
                if key_parts.len() != 2 || key_parts.iter().any(|p| p.is_empty()) {
                    return Err(Error::invalid(
                        "resource_cmk_uri",
                        "must name a key and its version: .../keys/K/VERSION",
                    ));
                }
                if !key_vault.eq_ignore_ascii_case(vault) {
                    return Err(Error::invalid(
                        "resource_cmk_uri",
                        format!("names a key in '{key_vault}', not in cmk_keyvault '{vault}'"),
                    ));
                }
                Ok(())
            }
        }
    }

    /// The creator must be able to wrap and unwrap with the customer-managed key version named,
    /// and the version must exist, be enabled, and actually do it.
    async fn check_cmk(&self, caller: &Caller, vault_id: &str, uri: &str) -> Result<()> {
        let path = url_path(uri).unwrap_or_default();
        let (_, rest) = path.split_once("/keys/").unwrap_or_default();
        let (key, version) = rest.split_once('/').unwrap_or_default();
        let key_scope =
            super::rbac::parse_scope("resource_cmk_uri", &format!("{vault_id}/keys/{key}"))?;
        for action in ["vaults/keys/wrap/action", "vaults/keys/unwrap/action"] {
            if self.authorize(caller, action, &key_scope).await.is_err() {
                return Err(Error::invalid(
                    "resource_cmk_uri",
                    format!(
                        "you cannot use this key: '{action}' is not granted to you at '{key_scope}'"
                    ),
                ));
            }
        }
        let vault = self.vault_by_id(vault_id).await?;
        self.prove_key_version(&vault, key, version)
            .await
            .map_err(|error| match error {
                Error::NotFound(what) => {
                    Error::invalid("resource_cmk_uri", format!("{what} does not exist"))
                }
                Error::KeyDisabled(why) => Error::invalid("resource_cmk_uri", why),
                Error::InvalidInput { rule, .. } => Error::invalid("resource_cmk_uri", rule),
                other => other,
            })
    }

    pub async fn create_workspace(
        &self,
        caller: &Caller,
        rg: &str,
        name: &str,
        request: &CreateWorkspaceRequest,
    ) -> Result<Workspace> {
        validate_workspace_name("name", name)?;
        let description = request.description.clone().unwrap_or_default();
        if !description.is_empty() {
            validate_label("description", &description)?;
        }
        validate_tags("tags", &request.tags)?;
        self.validate_cmk(request)?;
        let group = self.get_resource_group(rg).await?;
        if let (Some(vault), Some(uri)) = (&request.cmk_keyvault, &request.resource_cmk_uri) {
            self.existing_of_kind("cmk_keyvault", vault, VAULTS).await?;
            self.check_cmk(caller, vault, uri).await?;
        }
        if let Some(identity) = &request.primary_user_assigned_identity {
            self.assignable_identity(caller, "primary_user_assigned_identity", identity)
                .await?;
        }
        let id = workspace_id(rg, name);
        let slug = name.replace('_', "-");
        let mut resources = Vec::new();
        let mut owned = Vec::new();
        let mut make = |kind: &str, suffix: &str, properties: String| {
            let resource_name = format!("{slug}-{suffix}");
            let resource_id = format!("{}/{kind}/{resource_name}", group.id);
            resources.push(self.resource(
                kind,
                Some(&group.id),
                resource_id.clone(),
                &resource_name,
                properties,
                caller,
            ));
            owned.push(resource_id.clone());
            resource_id
        };
        let key_vault = match &request.key_vault {
            Some(existing) => {
                self.existing_of_kind("key_vault", existing, VAULTS)
                    .await?
                    .id
            }
            None => make(
                VAULTS,
                "vault",
                r#"{"soft_delete_retention_days":90,"purge_protection":false}"#.into(),
            ),
        };
        let container_registry = match &request.container_registry {
            Some(_) if request.registry_admin_enabled => {
                return Err(Error::invalid(
                    "registry_admin_enabled",
                    "applies only to a registry the workspace creates: change an existing registry's admin user with `casemate registry update --admin-enabled`",
                ));
            }
            Some(existing) => {
                self.existing_of_kind("container_registry", existing, REGISTRIES)
                    .await?
                    .id
            }
            None => make(
                REGISTRIES,
                "registry",
                serde_json::to_string(&RegistryProperties::of_workspace(
                    &id,
                    request.registry_admin_enabled,
                ))
                .map_err(Error::internal)?,
            ),
        };
        let storage = make(STORAGE, "storage", "{}".into());
        let monitoring = make(MONITORS, "insights", "{}".into());
        let identity = PrincipalRecord {
            id: Uuid::new_v4(),
            kind: PrincipalKind::ManagedIdentity.as_str().into(),
            name: identity_name(&id),
            display_name: name.to_owned(),
            enabled: true,
            created_at: self.now_unix(),
            password_hash: None,
            client_id: None,
        };
        let properties = WorkspaceProperties {
            description,
            tags: request.tags.clone(),
            hbi_workspace: request.hbi_workspace,
            cmk_keyvault: request.cmk_keyvault.clone(),
            resource_cmk_uri: request.resource_cmk_uri.clone(),
            primary_user_assigned_identity: request.primary_user_assigned_identity.clone(),
            key_vault,
            storage,
            container_registry,
            monitoring,
            identity: identity.id,
            owned,
        };
        let assignments = identity_grants(&id, &properties)
            .into_iter()
            .map(|(role, scope)| RoleAssignmentRecord {
                id: Uuid::new_v4(),
                principal_id: identity.id,
                role_name: role.into(),
                scope,
                created_at: self.now_unix(),
            })
            .collect();
        let serialized = serde_json::to_string(&properties).map_err(Error::internal)?;
        let workspace = self.resource(
            WORKSPACES,
            Some(&group.id),
            id.clone(),
            name,
            serialized,
            caller,
        );
        resources.insert(0, workspace.clone());
        self.store
            .provision(&Provisioning {
                resources,
                identity,
                assignments,
            })
            .await?;
        self.workspace_view(workspace, properties).await
    }

    pub async fn list_workspaces(&self, rg: &str) -> Result<Vec<Workspace>> {
        let group = self.get_resource_group(rg).await?;
        let mut out = Vec::new();
        for record in self.store.resources(WORKSPACES, Some(&group.id)).await? {
            let properties = properties_of(&record)?;
            out.push(self.workspace_view(record, properties).await?);
        }
        Ok(out)
    }

    pub async fn get_workspace(&self, rg: &str, ws: &str) -> Result<Workspace> {
        let (record, properties) = self.workspace_record(rg, ws).await?;
        self.workspace_view(record, properties).await
    }

    pub async fn update_workspace(
        &self,
        rg: &str,
        ws: &str,
        request: &UpdateWorkspaceRequest,
    ) -> Result<Workspace> {
        let fixed = [
            ("hbi_workspace", request.hbi_workspace.is_some()),
            ("cmk_keyvault", request.cmk_keyvault.is_some()),
            ("resource_cmk_uri", request.resource_cmk_uri.is_some()),
            (
                "primary_user_assigned_identity",
                request.primary_user_assigned_identity.is_some(),
            ),
            ("key_vault", request.key_vault.is_some()),
            ("container_registry", request.container_registry.is_some()),
        ];
        if let Some((field, _)) = fixed.iter().find(|(_, given)| *given) {
            return Err(Error::invalid(
                *field,
                "is fixed when the workspace is created and cannot be changed",
            ));
        }
        let (record, mut properties) = self.workspace_record(rg, ws).await?;
        if let Some(description) = &request.description {
            if !description.is_empty() {
                validate_label("description", description)?;
            }
            properties.description = description.clone();
        }
        if let Some(tags) = &request.tags {
            validate_tags("tags", tags)?;
            properties.tags = tags.clone();
        }
        let serialized = serde_json::to_string(&properties).map_err(Error::internal)?;
        self.store
            .update_resource_properties(&record.id, &serialized)
            .await?;
        self.workspace_view(record, properties).await
    }

    /// Deletes the workspace, the resources made for it, its identity and every assignment on them.
    pub async fn delete_workspace(&self, rg: &str, ws: &str) -> Result<()> {
        let (record, properties) = self.workspace_record(rg, ws).await?;
        let storage = storage_of(&record, &properties)?;
        self.stop_workspace_runs(&record.id).await?;
        self.remove_workspace_services(&record.id).await?;
        let mut ids = vec![record.id.clone()];
        ids.extend(properties.owned.iter().cloned());
        let mut principals = vec![properties.identity];
        // The registry the workspace made goes with it: its admin user and its images too.
        let registry = match self.store.resource(&properties.container_registry).await? {
            Some(registry) if properties.owned.contains(&registry.id) => {
                principals.extend(RegistryProperties::parse(&registry)?.admin_principal());
                Some(self.registry_storage(&registry.id).await?)
            }
            _ => None,
        };
        self.store.delete_resources(&ids, &principals).await?;
        self.data_keys.forget_owners(&ids);
        self.remove_workspace_blobs(&storage).await;
        if let Some(registry) = registry {
            self.remove_workspace_blobs(&registry).await;
        }
        Ok(())
    }

    /// Re-creates whichever of the system identity's grants were removed.
    pub async fn resync_keys(&self, rg: &str, ws: &str) -> Result<ResyncReport> {
        let (record, properties) = self.workspace_record(rg, ws).await?;
        let present = self.store.role_assignments_for(properties.identity).await?;
        let mut restored = Vec::new();
        for (role, scope) in identity_grants(&record.id, &properties) {
            let held = present.iter().any(|a| {
                a.role_name.eq_ignore_ascii_case(role) && a.scope.eq_ignore_ascii_case(&scope)
            });
            if held {
                continue;
            }
            let assignment = RoleAssignmentRecord {
                id: Uuid::new_v4(),
                principal_id: properties.identity,
                role_name: role.into(),
                scope,
                created_at: self.now_unix(),
            };
            self.store.insert_role_assignment(&assignment).await?;
            tracing::info!(workspace = %record.id, role, scope = %assignment.scope, "resynckeys restored a grant");
            restored.push(self.assignment_view(assignment).await?);
        }
        Ok(ResyncReport { restored })
    }
}

/// The path of an https URL, without parsing more than needed.
fn url_path(uri: &str) -> Option<&str> {
    let rest = uri.strip_prefix("https://")?;
    let slash = rest.find('/')?;
    let path = &rest[slash..];
    (!path.contains(['?', '#'])).then_some(path)
}
