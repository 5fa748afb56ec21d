//! Vault keys (customer-managed keys). Each version's 256-bit material is stored wrapped by the
//! root key and unwrapped per operation, so disabling a key or a version stops it on the very next
//! request: there is no cache to outlive the decision.

use super::Services;
use super::signing::to_time;
use super::vault::Vault;
use crate::error::{Error, Result};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use casemate_store::{VaultItemKind, VaultKeyRecord, VaultKeyVersionRecord};
use casemate_types::Sensitive;
use casemate_types::names::validate_vault_item_name;
use casemate_types::wire::{
    CreateKeyRequest, DeletedKey, KeyOperationResult, KeyVersion, VaultKey,
};
use zeroize::Zeroizing;

fn material_context(vault: &str, name: &str, version: &str) -> Vec<u8> {
    format!(
        "casemate/vault-key/{}/{}/{version}",
        vault.to_ascii_lowercase(),
        name.to_ascii_lowercase()
    )
    .into_bytes()
}

fn operation_context(vault: &str, name: &str, version: &str) -> Vec<u8> {
    format!(
        "{}/keys/{}/{version}",
        vault.to_ascii_lowercase(),
        name.to_ascii_lowercase()
    )
    .into_bytes()
}

pub fn key_id(host: &str, vault: &str, name: &str, version: &str) -> String {
    format!("https://{host}{vault}/keys/{name}/{version}")
}

impl Services {
    async fn live_key(&self, vault: &Vault, name: &str) -> Result<VaultKeyRecord> {
        validate_vault_item_name("name", name)?;
        self.store
            .vault_key(&vault.id, name)
            .await?
            .filter(|k| k.deleted_at.is_none())
            .ok_or_else(|| Error::NotFound(format!("key '{name}'")))
    }

    fn key_view(
        host: &str,
        vault: &Vault,
        key: &VaultKeyRecord,
        versions: &[VaultKeyVersionRecord],
    ) -> Result<VaultKey> {
        let versions: Vec<KeyVersion> = versions
            .iter()
            .map(|v| {
                Ok(KeyVersion {
                    version: v.version.clone(),
                    kid: key_id(host, &vault.id, &key.name, &v.version),
                    enabled: v.enabled,
                    created: to_time(v.created_at)?,
                })
            })
            .collect::<Result<_>>()?;
        Ok(VaultKey {
            name: key.name.clone(),
            kty: "AES".into(),
            enabled: key.enabled,
            kid: versions.last().map(|v| v.kid.clone()).unwrap_or_default(),
            versions,
            created: to_time(key.created_at)?,
        })
    }

    fn new_version(&self, vault: &Vault, name: &str) -> Result<VaultKeyVersionRecord> {
        let material = casemate_crypto::random_bytes::<32>()?;
        let version = uuid::Uuid::new_v4().simple().to_string();
        Ok(VaultKeyVersionRecord {
            vault: vault.id.clone(),
            name: name.to_owned(),
            wrapped_material: self.root_key.wrap(
                material.as_ref(),
                &material_context(&vault.id, name, &version),
            )?,
            version,
            seq: 0,
            enabled: true,
            created_at: self.now_unix(),
        })
    }

    pub async fn create_key(
        &self,
        host: &str,
        vault: &Vault,
        name: &str,
        request: &CreateKeyRequest,
    ) -> Result<VaultKey> {
        validate_vault_item_name("name", name)?;
        if request
            .kty
            .as_deref()
            .is_some_and(|kty| !kty.eq_ignore_ascii_case("AES") && !kty.eq_ignore_ascii_case("oct"))
        {
            return Err(Error::invalid("kty", "only AES keys are offered"));
        }
        if request.key_size.is_some_and(|size| size != 256) {
            return Err(Error::invalid("key_size", "must be 256"));
        }
        let first = self.new_version(vault, name)?;
        self.store.create_vault_key(&first).await?;
        self.get_key(host, vault, name).await
    }

    pub async fn get_key(&self, host: &str, vault: &Vault, name: &str) -> Result<VaultKey> {
        let key = self.live_key(vault, name).await?;
        let versions = self.store.vault_key_versions(&vault.id, &key.name).await?;
        Self::key_view(host, vault, &key, &versions)
    }

    pub async fn list_keys(&self, host: &str, vault: &Vault) -> Result<Vec<VaultKey>> {
        let mut out = Vec::new();
        for key in self.store.vault_keys(&vault.id, false).await? {
            let versions = self.store.vault_key_versions(&vault.id, &key.name).await?;
            out.push(Self::key_view(host, vault, &key, &versions)?);
        }
        Ok(out)
    }

    /// Adds a version; new encryption uses it from the next request on. Old versions still unwrap.
    pub async fn rotate_key(&self, host: &str, vault: &Vault, name: &str) -> Result<VaultKey> {
        let key = self.live_key(vault, name).await?;
        self.store
            .add_vault_key_version(&self.new_version(vault, &key.name)?)
            .await?;
        self.get_key(host, vault, name).await
    }

    /// Disables or enables the whole key, or one version. Takes effect on the next request.
    pub async fn set_key_enabled(
        &self,
        host: &str,
        vault: &Vault,
        name: &str,
        version: Option<&str>,
        enabled: bool,
    ) -> Result<VaultKey> {
        let key = self.live_key(vault, name).await?;
        self.store
            .set_vault_key_enabled(&vault.id, &key.name, version, enabled)
            .await?;
        self.get_key(host, vault, name).await
    }

    /// The version to use: the given one, or the newest enabled one. Refuses disabled keys with KeyDisabled.
    pub(super) async fn usable_version(
        &self,
        host: &str,
        vault: &Vault,
        name: &str,
        version: Option<&str>,
    ) -> Result<(VaultKeyRecord, VaultKeyVersionRecord)> {
        let key = self.live_key(vault, name).await?;
        let versions = self.store.vault_key_versions(&vault.id, &key.name).await?;
        let disabled = |what: String| {
            Error::KeyDisabled(format!("{what} is disabled; enable it to use it again"))
        };
        if !key.enabled {
            return Err(disabled(format!(
                "key {}",
                key_id(host, &vault.id, &key.name, "")
            )));
        }
        let chosen = match version {
            Some(version) => versions
                .into_iter()
                .find(|v| v.version == version)
                .ok_or_else(|| Error::NotFound(format!("version '{version}' of key '{name}'")))?,
            None => versions
                .into_iter()
                .rev()
                .find(|v| v.enabled)
                .ok_or_else(|| disabled(format!("every version of key '{name}'")))?,
        };
        if !chosen.enabled {
            return Err(disabled(format!(
                "key version {}",
                key_id(host, &vault.id, &key.name, &chosen.version)
            )));
        }
        Ok((key, chosen))
    }

    fn material(
        &self,
        vault: &Vault,
        version: &VaultKeyVersionRecord,
    ) -> Result<Zeroizing<[u8; 32]>> {
        let material = self.root_key.unwrap(
            &version.wrapped_material,
            &material_context(&vault.id, &version.name, &version.version),
        )?;
        let bytes: [u8; 32] = material
            .as_slice()
            .try_into()
            .map_err(|_| Error::internal("key material has the wrong length"))?;
        Ok(Zeroizing::new(bytes))
    }

    pub async fn wrap_key(
        &self,
        host: &str,
        vault: &Vault,
        name: &str,
        version: Option<&str>,
        value: &Sensitive,
    ) -> Result<KeyOperationResult> {
        let plaintext = Zeroizing::new(
            URL_SAFE_NO_PAD
                .decode(value.expose())
                .map_err(|_| Error::invalid("value", "must be base64url without padding"))?,
        );
        if plaintext.is_empty() || plaintext.len() > 1024 {
            return Err(Error::invalid("value", "must decode to 1-1024 bytes"));
        }
        let (key, chosen) = self.usable_version(host, vault, name, version).await?;
        let material = self.material(vault, &chosen)?;
        let sealed = casemate_crypto::aead::seal(
            &material,
            &plaintext,
            &operation_context(&vault.id, &key.name, &chosen.version),
        )?;
        Ok(KeyOperationResult {
            kid: key_id(host, &vault.id, &key.name, &chosen.version),
            value: Sensitive::new(URL_SAFE_NO_PAD.encode(sealed)),
        })
    }

    pub async fn unwrap_key(
        &self,
        host: &str,
        vault: &Vault,
        name: &str,
        version: &str,
        value: &Sensitive,
    ) -> Result<KeyOperationResult> {
        let sealed = URL_SAFE_NO_PAD
            .decode(value.expose())
            .map_err(|_| Error::invalid("value", "must be base64url without padding"))?;
        let (key, chosen) = self
            .usable_version(host, vault, name, Some(version))
            .await?;
        let material = self.material(vault, &chosen)?;
        let plaintext = casemate_crypto::aead::open(
            &material,
            &sealed,
            &operation_context(&vault.id, &key.name, &chosen.version),
        )
        .map_err(|_| Error::invalid("value", "was not wrapped by this key version"))?;
        Ok(KeyOperationResult {
            kid: key_id(host, &vault.id, &key.name, &chosen.version),
            value: Sensitive::new(URL_SAFE_NO_PAD.encode(plaintext.as_slice())),
        })
    }

    /// Seals `plaintext` (a data key) under a key version, the newest enabled one when none is
    /// named. Returns the version used and the sealed bytes; refuses disabled keys with KeyDisabled.
    pub(super) async fn seal_with_key(
        &self,
        host: &str,
        vault: &Vault,
        name: &str,
        version: Option<&str>,
        plaintext: &[u8],
        associated_data: &[u8],
    ) -> Result<(String, Vec<u8>)> {
        let (_, chosen) = self.usable_version(host, vault, name, version).await?;
        let material = self.material(vault, &chosen)?;
        let sealed = casemate_crypto::aead::seal(&material, plaintext, associated_data)?;
        Ok((chosen.version, sealed))
    }

    /// Opens what `seal_with_key` sealed, if the key and that version are enabled right now.
    pub(super) async fn open_with_key(
        &self,
        host: &str,
        vault: &Vault,
        name: &str,
        version: &str,
        sealed: &[u8],
        associated_data: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>> {
        let (_, chosen) = self
            .usable_version(host, vault, name, Some(version))
            .await?;
        let material = self.material(vault, &chosen)?;
        Ok(casemate_crypto::aead::open(
            &material,
            sealed,
            associated_data,
        )?)
    }

    /// Wraps and unwraps a random value with one key version: the proof workspace creation asks
    /// for before it accepts a customer-managed key.
    pub async fn prove_key_version(&self, vault: &Vault, name: &str, version: &str) -> Result<()> {
        let (key, chosen) = self.usable_version("", vault, name, Some(version)).await?;
        let material = self.material(vault, &chosen)?;
        let probe = casemate_crypto::random_bytes::<32>()?;
        let context = operation_context(&vault.id, &key.name, &chosen.version);
        let sealed = casemate_crypto::aead::seal(&material, probe.as_ref(), &context)?;
        let opened = casemate_crypto::aead::open(&material, &sealed, &context)?;
        if opened.as_slice() != probe.as_ref() {
            return Err(Error::internal("key round trip returned other bytes"));
        }
        Ok(())
    }

    pub async fn delete_key(&self, vault: &Vault, name: &str) -> Result<DeletedKey> {
        let key = self.live_key(vault, name).await?;
        let now = self.now_unix();
        let purge_at = now + i64::from(vault.retention_days()) * 86_400;
        self.store
            .soft_delete_vault_item(VaultItemKind::Key, &vault.id, &key.name, now, purge_at)
            .await?;
        Ok(DeletedKey {
            name: key.name,
            deleted: to_time(now)?,
            scheduled_purge: to_time(purge_at)?,
        })
    }

    pub async fn list_deleted_keys(&self, vault: &Vault) -> Result<Vec<DeletedKey>> {
        self.store
            .vault_keys(&vault.id, true)
            .await?
            .into_iter()
            .map(|key| {
                Ok(DeletedKey {
                    name: key.name,
                    deleted: to_time(key.deleted_at.unwrap_or_default())?,
                    scheduled_purge: to_time(key.scheduled_purge_at.unwrap_or_default())?,
                })
            })
            .collect()
    }

    pub async fn recover_key(&self, host: &str, vault: &Vault, name: &str) -> Result<VaultKey> {
        validate_vault_item_name("name", name)?;
        self.store
            .recover_vault_item(VaultItemKind::Key, &vault.id, name)
            .await?;
        self.get_key(host, vault, name).await
    }

    pub async fn purge_key(&self, vault: &Vault, name: &str) -> Result<()> {
        validate_vault_item_name("name", name)?;
        vault.refuse_purge()?;
        Ok(self
            .store
            .purge_vault_item(VaultItemKind::Key, &vault.id, name)
            .await?)
    }
}
