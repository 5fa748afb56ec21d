//! Vault secrets with envelope encryption. Each vault has a data key, wrapped by the root key and
//! stored wrapped; each secret version is sealed with AES-256-GCM under it, bound by associated
//! data to its vault, name and version, so a ciphertext moved to another record does not open.
//! Workspace secret calls run as the workspace's system identity, against its vault grants.

use super::data_keys::KeyEncryptionKey;
use super::signing::to_time;
use super::{Caller, Credential, Services};
use crate::error::{Error, Result};
use casemate_authz::Scope;
use casemate_store::{SecretAttributeChange, SecretRecord, SecretVersionRecord, VaultItemKind};
use casemate_types::Sensitive;
use casemate_types::names::{validate_tags, validate_vault_item_name};
use casemate_types::wire::{
    DeletedSecret, PrincipalKind, SecretAttributes, SecretBundle, SecretItem, SecretValues,
    SetSecretRequest, UpdateSecretRequest,
};
use serde::Deserialize;
use std::collections::BTreeMap;
use time::OffsetDateTime;

pub const MAX_SECRET_BYTES: usize = 25 * 1024;
const MAX_BATCH: usize = 100;

#[derive(Debug, Clone, Copy, Deserialize, serde::Serialize)]
struct VaultProperties {
    soft_delete_retention_days: u32,
    purge_protection: bool,
}

/// A vault, as the secret calls need it.
#[derive(Debug, Clone)]
pub struct Vault {
    pub id: String,
    properties: VaultProperties,
}

impl Vault {
    pub fn view(&self) -> casemate_types::wire::VaultProperties {
        casemate_types::wire::VaultProperties {
            id: self.id.clone(),
            soft_delete_retention_days: self.properties.soft_delete_retention_days,
            purge_protection: self.properties.purge_protection,
        }
    }

    pub fn retention_days(&self) -> u32 {
        self.properties.soft_delete_retention_days
    }

    /// Purging destroys for good; purge protection forbids it during the retention period.
    pub fn refuse_purge(&self) -> Result<()> {
        if self.properties.purge_protection {
            return Err(Error::ForbiddenOther(format!(
                "vault '{}' has purge protection: deleted items are kept for their retention period",
                self.id
            )));
        }
        Ok(())
    }
}

fn unix(value: Option<OffsetDateTime>) -> Option<i64> {
    value.map(OffsetDateTime::unix_timestamp)
}

fn value_context(vault: &str, name: &str, version: &str) -> Vec<u8> {
    format!(
        "{}/secrets/{}/versions/{version}",
        vault.to_ascii_lowercase(),
        name.to_ascii_lowercase()
    )
    .into_bytes()
}

fn validate_attributes(
    content_type: Option<&String>,
    tags: Option<&BTreeMap<String, String>>,
    not_before: Option<OffsetDateTime>,
    expires: Option<OffsetDateTime>,
) -> Result<()> {
    if let Some(content_type) = content_type
        && (content_type.chars().count() > 255 || content_type.chars().any(char::is_control))
    {
        return Err(Error::invalid(
            "content_type",
            "must be at most 255 characters without control characters",
        ));
    }
    if let Some(tags) = tags {
        validate_tags("tags", tags)?;
    }
    if let (Some(not_before), Some(expires)) = (not_before, expires)
        && expires <= not_before
    {
        return Err(Error::invalid("expires", "must be later than not_before"));
    }
    Ok(())
}

impl Services {
    pub async fn vault(&self, rg: &str, vault: &str) -> Result<Vault> {
        self.vault_by_id(&format!("/resourceGroups/{rg}/vaults/{vault}"))
            .await
    }

    /// A vault by resource id, e.g. a workspace's `key_vault` or a CMK's `cmk_keyvault`.
    pub async fn vault_by_id(&self, id: &str) -> Result<Vault> {
        let record = self
            .store
            .resource(id)
            .await?
            .filter(|r| r.kind == super::resources::VAULTS)
            .ok_or_else(|| Error::NotFound(format!("vault '{id}'")))?;
        let properties = serde_json::from_str(&record.properties)
            .map_err(|e| Error::internal(format!("vault {id}: {e}")))?;
        Ok(Vault {
            id: record.id,
            properties,
        })
    }

    /// Changes retention (7-90 days) or turns purge protection on; protection cannot be turned off.
    pub async fn update_vault(
        &self,
        vault: &Vault,
        request: &casemate_types::wire::UpdateVaultRequest,
    ) -> Result<Vault> {
        let mut properties = vault.properties;
        if let Some(days) = request.soft_delete_retention_days {
            if !(7..=90).contains(&days) {
                return Err(Error::invalid(
                    "soft_delete_retention_days",
                    "must be between 7 and 90",
                ));
            }
            properties.soft_delete_retention_days = days;
        }
        match request.purge_protection {
            Some(false) if properties.purge_protection => {
                return Err(Error::invalid(
                    "purge_protection",
                    "cannot be turned off once on",
                ));
            }
            Some(on) => properties.purge_protection = on,
            None => {}
        }
        let serialized = serde_json::to_string(&properties).map_err(Error::internal)?;
        self.store
            .update_resource_properties(&vault.id, &serialized)
            .await?;
        Ok(Vault {
            id: vault.id.clone(),
            properties,
        })
    }

    /// The workspace's vault, after checking that the workspace identity may do `data_action` there.
    pub async fn workspace_vault(&self, rg: &str, ws: &str, data_action: &str) -> Result<Vault> {
        let workspace = self.get_workspace(rg, ws).await?;
        let identity = self
            .store
            .principal_by_id(workspace.identity.principal_id)
            .await?
            .ok_or_else(|| {
                Error::internal(format!("workspace {} has no identity", workspace.id))
            })?;
        let acting = Caller {
            principal_id: identity.id,
            name: identity.name,
            display_name: identity.display_name,
            kind: PrincipalKind::ManagedIdentity,
            credential: Credential::Internal,
        };
        let vault_scope =
            Scope::parse(&workspace.key_vault).map_err(|e| Error::internal(e.to_string()))?;
        self.authorize(&acting, data_action, &vault_scope).await.map_err(|_| {
            Error::ForbiddenOther(format!(
                "the identity of workspace '{ws}' lacks '{data_action}' on vault '{}': its grant was removed; \
                 an Owner can restore it with `casemate workspace resynckeys -g {rg} {ws}`",
                workspace.key_vault
            ))
        })?;
        self.vault_by_id(&workspace.key_vault).await
    }

    fn secret_item(vault: &Vault, version: &SecretVersionRecord) -> Result<SecretItem> {
        let tags: BTreeMap<String, String> =
            serde_json::from_str(&version.tags).map_err(Error::internal)?;
        Ok(SecretItem {
            name: version.name.clone(),
            id: format!(
                "{}/secrets/{}/versions/{}",
                vault.id, version.name, version.version
            ),
            version: version.version.clone(),
            content_type: version.content_type.clone(),
            attributes: SecretAttributes {
                enabled: version.enabled,
                not_before: version.not_before.map(to_time).transpose()?,
                expires: version.expires.map(to_time).transpose()?,
                created: to_time(version.created_at)?,
                updated: to_time(version.updated_at)?,
                recoverable_days: vault.properties.soft_delete_retention_days,
            },
            tags,
        })
    }

    pub async fn set_secret(
        &self,
        vault: &Vault,
        name: &str,
        request: &SetSecretRequest,
    ) -> Result<SecretItem> {
        validate_vault_item_name("name", name)?;
        if request.value.expose().len() > MAX_SECRET_BYTES {
            return Err(Error::invalid(
                "value",
                format!("must be at most {MAX_SECRET_BYTES} bytes (25 KiB)"),
            ));
        }
        validate_attributes(
            request.content_type.as_ref(),
            Some(&request.tags),
            request.not_before,
            request.expires,
        )?;
        let (key_id, key) = self
            .current_data_key("", &vault.id, &KeyEncryptionKey::ServiceManaged)
            .await?;
        let version = uuid::Uuid::new_v4().simple().to_string();
        let ciphertext = casemate_crypto::aead::seal(
            &key,
            request.value.expose().as_bytes(),
            &value_context(&vault.id, name, &version),
        )?;
        let now = self.now_unix();
        let record = SecretVersionRecord {
            vault: vault.id.clone(),
            name: name.to_owned(),
            version,
            seq: 0,
            ciphertext,
            data_key: key_id,
            enabled: request.enabled.unwrap_or(true),
            not_before: unix(request.not_before),
            expires: unix(request.expires),
            content_type: request.content_type.clone(),
            tags: serde_json::to_string(&request.tags).map_err(Error::internal)?,
            created_at: now,
            updated_at: now,
        };
        self.store.add_secret_version(&record).await?;
        Self::secret_item(vault, &record)
    }

    async fn live_secret(&self, vault: &Vault, name: &str) -> Result<SecretRecord> {
        validate_vault_item_name("name", name)?;
        self.store
            .secret(&vault.id, name)
            .await?
            .filter(|s| s.deleted_at.is_none())
            .ok_or_else(|| Error::NotFound(format!("secret '{name}'")))
    }

    async fn open_version(
        &self,
        vault: &Vault,
        version: &SecretVersionRecord,
    ) -> Result<Sensitive> {
        let key = self.data_key_by_id("", &version.data_key).await?;
        let plaintext = casemate_crypto::aead::open(
            &key,
            &version.ciphertext,
            &value_context(&vault.id, &version.name, &version.version),
        )
        .map_err(|e| {
            Error::internal(format!("secret {}/{}: {e}", version.name, version.version))
        })?;
        let text = String::from_utf8(plaintext.to_vec())
            .map_err(|_| Error::internal("a secret value is not UTF-8"))?;
        Ok(Sensitive::new(text))
    }

    /// A secret's value. A run's token reading it tells that run's output masking about it.
    pub async fn get_secret(
        &self,
        vault: &Vault,
        name: &str,
        version: Option<&str>,
        reader: &Caller,
    ) -> Result<SecretBundle> {
        let (record, value) = self.readable_version(vault, name, version).await?;
        self.remember_fetched(reader, &value);
        Ok(SecretBundle {
            item: Self::secret_item(vault, &record)?,
            value,
        })
    }

    /// The current value of a secret the server itself uses (such as a compute's credential),
    /// under the same rules as a read through the API: enabled, within its validity.
    pub(crate) async fn secret_value(&self, vault: &Vault, name: &str) -> Result<Sensitive> {
        Ok(self.readable_version(vault, name, None).await?.1)
    }

    /// A version of a live secret that may be read now, and its value.
    async fn readable_version(
        &self,
        vault: &Vault,
        name: &str,
        version: Option<&str>,
    ) -> Result<(SecretVersionRecord, Sensitive)> {
        self.live_secret(vault, name).await?;
        let record = self
            .store
            .secret_version(&vault.id, name, version)
            .await?
            .ok_or_else(|| {
                Error::NotFound(format!(
                    "version '{}' of secret '{name}'",
                    version.unwrap_or("latest")
                ))
            })?;
        let now = self.now_unix();
        if !record.enabled {
            return Err(Error::SecretDisabled(format!(
                "secret '{name}' (version {}) is disabled",
                record.version
            )));
        }
        if record.not_before.is_some_and(|nbf| now < nbf) {
            return Err(Error::SecretDisabled(format!(
                "secret '{name}' is not valid before its not_before time"
            )));
        }
        if record.expires.is_some_and(|exp| now >= exp) {
            return Err(Error::SecretDisabled(format!("secret '{name}' expired")));
        }
        let value = self.open_version(vault, &record).await?;
        Ok((record, value))
    }

    pub async fn list_secrets(&self, vault: &Vault) -> Result<Vec<SecretItem>> {
        self.store
            .latest_secret_versions(&vault.id, false)
            .await?
            .iter()
            .map(|(_, version)| Self::secret_item(vault, version))
            .collect()
    }

    pub async fn list_secret_versions(&self, vault: &Vault, name: &str) -> Result<Vec<SecretItem>> {
        self.live_secret(vault, name).await?;
        self.store
            .secret_versions(&vault.id, name)
            .await?
            .iter()
            .map(|version| Self::secret_item(vault, version))
            .collect()
    }

    pub async fn update_secret(
        &self,
        vault: &Vault,
        name: &str,
        version: Option<&str>,
        request: &UpdateSecretRequest,
    ) -> Result<SecretItem> {
        self.live_secret(vault, name).await?;
        validate_attributes(
            request.content_type.as_ref(),
            request.tags.as_ref(),
            request.not_before,
            request.expires,
        )?;
        let target = self
            .store
            .secret_version(&vault.id, name, version)
            .await?
            .ok_or_else(|| {
                Error::NotFound(format!(
                    "version '{}' of secret '{name}'",
                    version.unwrap_or("latest")
                ))
            })?;
        let change = SecretAttributeChange {
            enabled: request.enabled,
            not_before: request.not_before.map(|t| Some(t.unix_timestamp())),
            expires: request.expires.map(|t| Some(t.unix_timestamp())),
            content_type: request.content_type.clone().map(Some),
            tags: request
                .tags
                .as_ref()
                .map(serde_json::to_string)
                .transpose()
                .map_err(Error::internal)?,
        };
        self.store
            .update_secret_version(&vault.id, name, &target.version, &change, self.now_unix())
            .await?;
        let updated = self
            .store
            .secret_version(&vault.id, name, Some(&target.version))
            .await?
            .ok_or_else(|| Error::NotFound(format!("secret '{name}'")))?;
        Self::secret_item(vault, &updated)
    }

    pub async fn delete_secret(&self, vault: &Vault, name: &str) -> Result<DeletedSecret> {
        self.live_secret(vault, name).await?;
        let now = self.now_unix();
        let purge_at = now + i64::from(vault.properties.soft_delete_retention_days) * 86_400;
        self.store
            .soft_delete_vault_item(VaultItemKind::Secret, &vault.id, name, now, purge_at)
            .await?;
        Ok(DeletedSecret {
            name: name.to_owned(),
            deleted: to_time(now)?,
            scheduled_purge: to_time(purge_at)?,
        })
    }

    pub async fn list_deleted_secrets(&self, vault: &Vault) -> Result<Vec<DeletedSecret>> {
        self.store
            .latest_secret_versions(&vault.id, true)
            .await?
            .into_iter()
            .map(|(secret, _)| {
                Ok(DeletedSecret {
                    name: secret.name,
                    deleted: to_time(secret.deleted_at.unwrap_or_default())?,
                    scheduled_purge: to_time(secret.scheduled_purge_at.unwrap_or_default())?,
                })
            })
            .collect()
    }

    pub async fn recover_secret(&self, vault: &Vault, name: &str) -> Result<SecretItem> {
        validate_vault_item_name("name", name)?;
        self.store
            .recover_vault_item(VaultItemKind::Secret, &vault.id, name)
            .await?;
        let latest = self
            .store
            .secret_version(&vault.id, name, None)
            .await?
            .ok_or_else(|| Error::NotFound(format!("secret '{name}'")))?;
        Self::secret_item(vault, &latest)
    }

    /// Destroys a deleted secret for good; refused while the vault has purge protection.
    pub async fn purge_secret(&self, vault: &Vault, name: &str) -> Result<()> {
        validate_vault_item_name("name", name)?;
        vault.refuse_purge()?;
        Ok(self
            .store
            .purge_vault_item(VaultItemKind::Secret, &vault.id, name)
            .await?)
    }

    pub async fn set_secrets(
        &self,
        vault: &Vault,
        secrets: &BTreeMap<String, Sensitive>,
    ) -> Result<Vec<SecretItem>> {
        if secrets.is_empty() || secrets.len() > MAX_BATCH {
            return Err(Error::invalid(
                "secrets",
                format!("must hold 1-{MAX_BATCH} secrets"),
            ));
        }
        for (name, value) in secrets {
            validate_vault_item_name("secrets", name)?;
            if value.expose().len() > MAX_SECRET_BYTES {
                return Err(Error::invalid(
                    "secrets",
                    format!("the value of '{name}' is over {MAX_SECRET_BYTES} bytes"),
                ));
            }
        }
        let mut items = Vec::new();
        for (name, value) in secrets {
            items.push(
                self.set_secret(vault, name, &SetSecretRequest::value(value.clone()))
                    .await?,
            );
        }
        Ok(items)
    }

    /// The values found, and the names that are missing (or deleted). Disabled secrets are refused.
    pub async fn get_secrets(
        &self,
        vault: &Vault,
        names: &[String],
        reader: &Caller,
    ) -> Result<SecretValues> {
        if names.is_empty() || names.len() > MAX_BATCH {
            return Err(Error::invalid(
                "names",
                format!("must hold 1-{MAX_BATCH} names"),
            ));
        }
        for name in names {
            validate_vault_item_name("names", name)?;
        }
        let mut found = BTreeMap::new();
        let mut not_found = Vec::new();
        for name in names {
            match self.get_secret(vault, name, None, reader).await {
                Ok(bundle) => {
                    found.insert(name.clone(), bundle.value);
                }
                Err(Error::NotFound(_)) => not_found.push(name.clone()),
                Err(other) => return Err(other),
            }
        }
        Ok(SecretValues {
            secrets: found,
            not_found,
        })
    }
}
