//! Container registries as resources: standalone ones (a team's private registry outside any
//! workspace) beside those a workspace creates, their settings, and the admin user. The admin
//! user is off by default; enabled, it is a principal of its own holding AcrPush on its registry
//! only, with two passwords that are sealed under the registry's data key and checked by hash.

use crate::error::{Error, Result};
use crate::services::resources::{
    REGISTRIES, WORKSPACES, registry_of_workspace, resource_group_id, resource_group_of,
};
use crate::services::{Caller, Services};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use casemate_crypto::opaque;
use casemate_store::{PrincipalRecord, ResourceRecord, RoleAssignmentRecord};
use casemate_types::Sensitive;
use casemate_types::names::{validate_child_name, validate_note};
use casemate_types::wire::{
    CreateRegistryRequest, PrincipalKind, Registry, RegistryCredentials, RegistryPassword,
    UpdateRegistryRequest,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The admin user's password slots, as the platform names them.
const PASSWORD_SLOTS: [&str; 2] = ["password", "password2"];
/// What the admin user holds on its own registry.
const ADMIN_ROLE: &str = "AcrPush";
/// Tries of a read-modify-write before giving up to a storm of concurrent changes.
const PROPERTY_RETRIES: usize = 8;

/// What a registry resource keeps.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct RegistryProperties {
    #[serde(default)]
    pub admin_user_enabled: bool,
    /// The workspace that created it (and deletes it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Made the first time the admin user is enabled, kept (disabled) when it is turned off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    admin: Option<AdminUser>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct AdminUser {
    principal_id: Uuid,
    passwords: Vec<AdminPassword>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct AdminPassword {
    name: String,
    /// The opaque credential's id, which finds the slot a presented password claims.
    id: Uuid,
    /// SHA-256 of its secret part, hex.
    hash: String,
    /// The whole password sealed under the registry's data key, base64: `listCredentials`
    /// shows it again, as the platform does.
    sealed: String,
}

impl RegistryProperties {
    pub(crate) fn of_workspace(workspace: &str, admin_user_enabled: bool) -> Self {
        Self {
            admin_user_enabled,
            workspace: Some(workspace.to_owned()),
            ..Self::default()
        }
    }

    /// The admin user's principal, once it has been made.
    pub(crate) fn admin_principal(&self) -> Option<Uuid> {
        self.admin.as_ref().map(|a| a.principal_id)
    }

    pub(crate) fn parse(record: &ResourceRecord) -> Result<Self> {
        serde_json::from_str(&record.properties).map_err(Error::internal)
    }

    fn serialized(&self) -> Result<String> {
        serde_json::to_string(self).map_err(Error::internal)
    }
}

pub(crate) fn registry_id(rg: &str, name: &str) -> String {
    format!("{}/{REGISTRIES}/{name}", resource_group_id(rg))
}

fn admin_principal_name(registry_id: &str) -> String {
    format!("registry-admin:{registry_id}")
}

fn password_context(registry_id: &str, slot: &str) -> Vec<u8> {
    format!("registry-admin-password/{registry_id}/{slot}").into_bytes()
}

fn registry_view(record: &ResourceRecord) -> Result<Registry> {
    let properties = RegistryProperties::parse(record)?;
    let resource_group = resource_group_of(record);
    Ok(Registry {
        id: record.id.clone(),
        name: record.name.clone(),
        login_path: format!("{resource_group}/{}", record.name),
        resource_group,
        admin_user_enabled: properties.admin_user_enabled,
        workspace: properties.workspace,
        description: properties.description,
        created_at: crate::services::signing::to_time(record.created_at)?,
        created_by: record.created_by.clone(),
    })
}

impl Services {
    pub async fn create_registry(
        &self,
        caller: &Caller,
        rg: &str,
        name: &str,
        request: &CreateRegistryRequest,
    ) -> Result<Registry> {
        validate_child_name("name", name)?;
        validate_note("description", request.description.as_deref())?;
        let group = self.get_resource_group(rg).await?;
        let properties = RegistryProperties {
            description: request.description.clone(),
            ..RegistryProperties::default()
        };
        let record = ResourceRecord {
            id: registry_id(rg, name),
            kind: REGISTRIES.to_owned(),
            parent: Some(group.id),
            name: name.to_owned(),
            properties: properties.serialized()?,
            created_at: self.now_unix(),
            created_by: caller.name.clone(),
        };
        self.store
            .insert_resource(&record)
            .await
            .map_err(|error| match error {
                casemate_store::StoreError::Conflict(_) => {
                    Error::Conflict(format!("registry '{name}' exists in resource group '{rg}'"))
                }
                other => other.into(),
            })?;
        if request.admin_user_enabled {
            return self.set_registry_admin(rg, name, true).await;
        }
        registry_view(&record)
    }

    pub async fn list_registries(&self, rg: &str) -> Result<Vec<Registry>> {
        let group = self.get_resource_group(rg).await?;
        self.store
            .resources(REGISTRIES, Some(&group.id))
            .await?
            .iter()
            .map(registry_view)
            .collect()
    }

    async fn registry_record(&self, rg: &str, name: &str) -> Result<ResourceRecord> {
        validate_child_name("name", name)?;
        self.store
            .resource(&registry_id(rg, name))
            .await?
            .filter(|r| r.kind == REGISTRIES)
            .ok_or_else(|| Error::NotFound(format!("registry '{name}' in resource group '{rg}'")))
    }

    pub async fn get_registry(&self, rg: &str, name: &str) -> Result<Registry> {
        registry_view(&self.registry_record(rg, name).await?)
    }

    pub async fn update_registry(
        &self,
        rg: &str,
        name: &str,
        request: &UpdateRegistryRequest,
    ) -> Result<Registry> {
        validate_note("description", request.description.as_deref())?;
        if let Some(description) = &request.description {
            self.change_registry(rg, name, |properties| {
                properties.description = Some(description.clone());
                Ok(())
            })
            .await?;
        }
        match request.admin_user_enabled {
            Some(enabled) => self.set_registry_admin(rg, name, enabled).await,
            None => self.get_registry(rg, name).await,
        }
    }

    /// Deletes a registry of its own with everything in it. A workspace's registry goes with
    /// its workspace, and one a workspace uses is refused while it does.
    pub async fn delete_registry(&self, rg: &str, name: &str) -> Result<()> {
        let record = self.registry_record(rg, name).await?;
        for workspace in self.store.resources(WORKSPACES, None).await? {
            if registry_of_workspace(&workspace)?.eq_ignore_ascii_case(&record.id) {
                return Err(Error::Conflict(format!(
                    "registry '{name}' is the container registry of workspace '{}': delete the workspace instead",
                    workspace.id
                )));
            }
        }
        let properties = RegistryProperties::parse(&record)?;
        let principals: Vec<Uuid> = properties.admin_principal().into_iter().collect();
        let storage = self.registry_storage(&record.id).await?;
        self.store
            .delete_resources(std::slice::from_ref(&record.id), &principals)
            .await?;
        self.data_keys
            .forget_owners(std::slice::from_ref(&record.id));
        self.remove_workspace_blobs(&storage).await;
        Ok(())
    }

    /// The admin user's name and passwords; refused while it is disabled.
    pub async fn list_registry_credentials(
        &self,
        rg: &str,
        name: &str,
    ) -> Result<RegistryCredentials> {
        let mut record = self.registry_record(rg, name).await?;
        let mut properties = RegistryProperties::parse(&record)?;
        // A workspace made with its registry's admin user on gets the user's principal and
        // passwords the first time someone asks for them.
        if properties.admin_user_enabled && properties.admin.is_none() {
            self.set_registry_admin(rg, name, true).await?;
            record = self.registry_record(rg, name).await?;
            properties = RegistryProperties::parse(&record)?;
        }
        let admin = match (&properties.admin, properties.admin_user_enabled) {
            (Some(admin), true) => admin,
            _ => {
                return Err(Error::Conflict(format!(
                    "the admin user of registry '{name}' is disabled: enable it with `casemate registry update --admin-enabled true`"
                )));
            }
        };
        let mut passwords = Vec::new();
        for password in &admin.passwords {
            let sealed = STANDARD
                .decode(&password.sealed)
                .map_err(|_| Error::internal("a stored registry password is malformed"))?;
            let plaintext = self
                .open_small(&sealed, &password_context(&record.id, &password.name))
                .await?;
            let value = String::from_utf8(plaintext.to_vec())
                .map_err(|_| Error::internal("a stored registry password is not text"))?;
            passwords.push(RegistryPassword {
                name: password.name.clone(),
                value: Sensitive::new(value),
            });
        }
        Ok(RegistryCredentials {
            username: format!("{rg}/{name}"),
            passwords,
        })
    }

    /// Replaces one admin password; the old one is refused from the next token request on
    /// (tokens already minted from it live out their five minutes).
    pub async fn regenerate_registry_credential(
        &self,
        rg: &str,
        name: &str,
        slot: &str,
    ) -> Result<RegistryCredentials> {
        let slot = PASSWORD_SLOTS
            .into_iter()
            .find(|s| *s == slot)
            .ok_or_else(|| Error::invalid("name", "must be 'password' or 'password2'"))?;
        self.list_registry_credentials(rg, name).await?;
        let id = registry_id(rg, name);
        let fresh = self.admin_password(&id, slot).await?;
        self.change_registry(rg, name, |properties| {
            let admin = properties
                .admin
                .as_mut()
                .ok_or_else(|| Error::internal("an enabled admin user has no record"))?;
            admin.passwords.retain(|p| p.name != slot);
            admin.passwords.push(fresh.clone());
            admin.passwords.sort_by(|a, b| a.name.cmp(&b.name));
            Ok(())
        })
        .await?;
        self.list_registry_credentials(rg, name).await
    }

    /// The admin user behind `username` (`RG/NAME`) if `password` is one of its passwords and
    /// it is enabled; anything else is one and the same refusal.
    pub(crate) async fn authenticate_registry_admin(
        &self,
        username: &str,
        password: &Sensitive,
    ) -> Result<PrincipalRecord> {
        let refused = || {
            Error::unauthenticated(
                "the registry admin user's name or password is wrong, or it is disabled",
            )
        };
        let (rg, name) = username.split_once('/').ok_or_else(refused)?;
        let record = self
            .registry_record(rg, name)
            .await
            .map_err(|_| refused())?;
        let properties = RegistryProperties::parse(&record)?;
        let (Some(admin), true) = (properties.admin, properties.admin_user_enabled) else {
            return Err(refused());
        };
        let (id, hash) = opaque::parse(opaque::REGISTRY_ADMIN_PASSWORD_PREFIX, password.expose())
            .ok_or_else(refused)?;
        let matches = admin.passwords.iter().any(|p| {
            p.id == id
                && hex::decode(&p.hash).is_ok_and(|stored| opaque::hash_matches(&stored, &hash))
        });
        if !matches {
            return Err(refused());
        }
        self.enabled_principal(admin.principal_id).await
    }

    async fn admin_password(&self, registry_id: &str, slot: &str) -> Result<AdminPassword> {
        let minted = opaque::mint(opaque::REGISTRY_ADMIN_PASSWORD_PREFIX)?;
        let storage = self.registry_storage(registry_id).await?;
        let sealed = self
            .seal_small(
                &storage,
                minted.token.expose().as_bytes(),
                &password_context(registry_id, slot),
            )
            .await?;
        Ok(AdminPassword {
            name: slot.to_owned(),
            id: minted.id,
            hash: hex::encode(minted.secret_hash),
            sealed: STANDARD.encode(sealed),
        })
    }

    /// Turns the admin user on or off. The first time on makes its principal, its AcrPush on
    /// the registry and its two passwords, in one transaction with the registry's record.
    async fn set_registry_admin(&self, rg: &str, name: &str, enabled: bool) -> Result<Registry> {
        let id = registry_id(rg, name);
        for _ in 0..PROPERTY_RETRIES {
            let record = self.registry_record(rg, name).await?;
            let mut properties = RegistryProperties::parse(&record)?;
            match (&properties.admin, enabled) {
                (None, false) => return registry_view(&record),
                (None, true) => {
                    let principal = PrincipalRecord {
                        id: Uuid::new_v4(),
                        kind: PrincipalKind::RegistryAdmin.as_str().into(),
                        name: admin_principal_name(&id),
                        display_name: format!("{rg}/{name}"),
                        enabled: true,
                        created_at: self.now_unix(),
                        password_hash: None,
                        client_id: None,
                    };
                    let grant = RoleAssignmentRecord {
                        id: Uuid::new_v4(),
                        principal_id: principal.id,
                        role_name: ADMIN_ROLE.into(),
                        scope: id.clone(),
                        created_at: self.now_unix(),
                    };
                    let mut passwords = Vec::new();
                    for slot in PASSWORD_SLOTS {
                        passwords.push(self.admin_password(&id, slot).await?);
                    }
                    properties.admin = Some(AdminUser {
                        principal_id: principal.id,
                        passwords,
                    });
                    properties.admin_user_enabled = true;
                    if self
                        .store
                        .replace_resource_properties_with_principal(
                            &id,
                            &record.properties,
                            &properties.serialized()?,
                            &principal,
                            &[grant],
                        )
                        .await?
                    {
                        return self.get_registry(rg, name).await;
                    }
                }
                (Some(admin), enabled) => {
                    let principal = admin.principal_id;
                    // Off: the principal first, so its tokens stop at once whatever follows.
                    if !enabled {
                        self.store
                            .set_principal_enabled(principal, false, self.now_unix())
                            .await?;
                    }
                    properties.admin_user_enabled = enabled;
                    if self
                        .store
                        .replace_resource_properties(
                            &id,
                            &record.properties,
                            &properties.serialized()?,
                        )
                        .await?
                    {
                        if enabled {
                            self.store
                                .set_principal_enabled(principal, true, self.now_unix())
                                .await?;
                        }
                        return self.get_registry(rg, name).await;
                    }
                }
            }
        }
        Err(Error::Conflict(format!(
            "registry '{name}' is being changed by others: try again"
        )))
    }

    async fn change_registry(
        &self,
        rg: &str,
        name: &str,
        change: impl Fn(&mut RegistryProperties) -> Result<()>,
    ) -> Result<()> {
        for _ in 0..PROPERTY_RETRIES {
            let record = self.registry_record(rg, name).await?;
            let mut properties = RegistryProperties::parse(&record)?;
            change(&mut properties)?;
            if self
                .store
                .replace_resource_properties(
                    &record.id,
                    &record.properties,
                    &properties.serialized()?,
                )
                .await?
            {
                return Ok(());
            }
        }
        Err(Error::Conflict(format!(
            "registry '{name}' is being changed by others: try again"
        )))
    }
}
