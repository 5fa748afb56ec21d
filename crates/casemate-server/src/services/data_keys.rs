//! Data keys: random AES-256 keys that seal one resource's data, stored only wrapped, either by
//! the root key (vaults, and workspaces with service-managed encryption) or by a vault key version
//! (workspaces created with a customer-managed key). Unwrapped keys are cached in memory and
//! zeroized on drop; a key wrapped by a vault key is checked against that key's state on every
//! use, before the cache, so disabling the key (or the version) takes effect on the next request.

use super::Services;
use super::keys::key_id;
use crate::error::{Error, Result};
use casemate_store::DataKeyRecord;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use zeroize::Zeroizing;

pub type DataKey = Arc<Zeroizing<[u8; 32]>>;

/// In-memory cache of unwrapped data keys by id, with their owner.
#[derive(Default)]
pub struct DataKeyCache {
    keys: Mutex<HashMap<String, (String, DataKey)>>,
}

impl DataKeyCache {
    fn get(&self, id: &str) -> Option<DataKey> {
        self.keys
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .map(|(_, key)| key.clone())
    }

    fn insert(&self, record: &DataKeyRecord, key: DataKey) {
        self.keys
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(record.id.clone(), (record.owner.clone(), key));
    }

    /// Drops the keys of resources that were deleted.
    pub fn forget_owners(&self, owners: &[String]) {
        self.keys
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|_, (owner, _)| !owners.iter().any(|gone| gone.eq_ignore_ascii_case(owner)));
    }
}

/// What wraps an owner's data keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyEncryptionKey {
    /// The root key (key file or HSM).
    ServiceManaged,
    /// The newest enabled version of a vault key.
    Customer { vault: String, key: String },
}

/// A data key's `wrapping_key` names either the root key or `{vault}/keys/{key}/{version}`.
fn vault_key_of(wrapping_key: &str) -> Option<(&str, &str, &str)> {
    if !wrapping_key.starts_with('/') {
        return None;
    }
    let (vault, rest) = wrapping_key.split_once("/keys/")?;
    let (key, version) = rest.split_once('/')?;
    Some((vault, key, version))
}

fn key_context(owner: &str, id: &str) -> Vec<u8> {
    format!("casemate/data-key/{}/{id}", owner.to_ascii_lowercase()).into_bytes()
}

fn to_array(bytes: &[u8], id: &str) -> Result<DataKey> {
    let key: [u8; 32] = bytes
        .try_into()
        .map_err(|_| Error::internal(format!("data key {id} has the wrong length")))?;
    Ok(Arc::new(Zeroizing::new(key)))
}

/// What `rewrap_data_keys` did.
pub struct Rewrapped {
    pub data_keys: usize,
    pub rewrapped: usize,
    pub wrapping_key: String,
}

impl Services {
    /// The owner's newest data key, made (and wrapped by `kek`) on first use.
    pub(super) async fn current_data_key(
        &self,
        host: &str,
        owner: &str,
        kek: &KeyEncryptionKey,
    ) -> Result<(String, DataKey)> {
        if let Some(record) = self.store.data_key_for(owner).await? {
            let key = self.unwrap_data_key(host, &record).await?;
            return Ok((record.id, key));
        }
        let key = casemate_crypto::random_bytes::<32>()?;
        let id = uuid::Uuid::new_v4().simple().to_string();
        let (wrapped, wrapping_key) = self.wrap_data_key(host, owner, &id, &key, kek).await?;
        let record = DataKeyRecord {
            id,
            owner: owner.to_owned(),
            wrapped,
            wrapping_key,
            created_at: self.now_unix(),
        };
        self.store.insert_data_key(&record).await?;
        let key = Arc::new(key);
        self.data_keys.insert(&record, key.clone());
        Ok((record.id, key))
    }

    /// Seals a small value (a run's environment, a service key) under the workspace's newest
    /// data key, bound to `context`. The data key's id travels in the clear before the sealed
    /// bytes, as in every blob.
    pub(crate) async fn seal_small(
        &self,
        storage: &super::resources::WorkspaceStorage,
        plaintext: &[u8],
        context: &[u8],
    ) -> Result<Vec<u8>> {
        let (data_key, key) = self.current_data_key("", &storage.id, &storage.kek).await?;
        let sealed = casemate_crypto::aead::seal(&key, plaintext, context)?;
        let mut out = data_key.into_bytes();
        out.push(b'\n');
        out.extend(sealed);
        Ok(out)
    }

    /// Opens what [`Self::seal_small`] sealed under the same `context`.
    pub(crate) async fn open_small(
        &self,
        sealed: &[u8],
        context: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>> {
        let split = sealed
            .iter()
            .position(|b| *b == b'\n')
            .ok_or_else(|| Error::internal("a sealed value is malformed"))?;
        let data_key = std::str::from_utf8(&sealed[..split]).map_err(Error::internal)?;
        let key = self.data_key_by_id("", data_key).await?;
        casemate_crypto::aead::open(&key, &sealed[split + 1..], context)
            .map_err(|e| Error::internal(format!("a sealed value does not open: {e}")))
    }

    /// A data key named by a ciphertext. A key whose owner was deleted is gone for good.
    pub(super) async fn data_key_by_id(&self, host: &str, id: &str) -> Result<DataKey> {
        let record = self.store.data_key(id).await?.ok_or_else(|| {
            Error::internal(format!(
                "data key {id} does not exist: its owner was deleted (crypto-shredded)"
            ))
        })?;
        self.unwrap_data_key(host, &record).await
    }

    async fn wrap_data_key(
        &self,
        host: &str,
        owner: &str,
        id: &str,
        key: &[u8; 32],
        kek: &KeyEncryptionKey,
    ) -> Result<(Vec<u8>, String)> {
        let context = key_context(owner, id);
        match kek {
            KeyEncryptionKey::ServiceManaged => Ok((
                self.root_key.wrap(key, &context)?,
                self.root_key.key_id().to_owned(),
            )),
            KeyEncryptionKey::Customer { vault, key: name } => {
                let vault_record = self.vault_by_id(vault).await?;
                let (version, sealed) = self
                    .seal_with_key(host, &vault_record, name, None, key, &context)
                    .await
                    .map_err(|error| workspace_key_unusable(host, vault, name, "", error))?;
                Ok((sealed, format!("{}/keys/{name}/{version}", vault_record.id)))
            }
        }
    }

    async fn unwrap_data_key(&self, host: &str, record: &DataKeyRecord) -> Result<DataKey> {
        let context = key_context(&record.owner, &record.id);
        let Some((vault, name, version)) = vault_key_of(&record.wrapping_key) else {
            if let Some(key) = self.data_keys.get(&record.id) {
                return Ok(key);
            }
            let key = to_array(
                &self.root_key.unwrap(&record.wrapped, &context)?,
                &record.id,
            )?;
            self.data_keys.insert(record, key.clone());
            return Ok(key);
        };
        let unusable = |error| workspace_key_unusable(host, vault, name, version, error);
        let vault_record = self.vault_by_id(vault).await.map_err(unusable)?;
        // Unwrapping with the vault key is also what checks that the key and version are enabled
        // now; the cache only spares the unwrap, never the check.
        self.usable_version(host, &vault_record, name, Some(version))
            .await
            .map_err(unusable)?;
        if let Some(key) = self.data_keys.get(&record.id) {
            return Ok(key);
        }
        let opened = self
            .open_with_key(
                host,
                &vault_record,
                name,
                version,
                &record.wrapped,
                &context,
            )
            .await
            .map_err(unusable)?;
        let key = to_array(&opened, &record.id)?;
        self.data_keys.insert(record, key.clone());
        Ok(key)
    }

    /// Re-wraps every data key of `owner` under `kek` (the newest key version) without touching
    /// what the data keys seal. Needs the keys that wrap them now to be usable.
    pub(super) async fn rewrap_data_keys(
        &self,
        host: &str,
        owner: &str,
        kek: &KeyEncryptionKey,
    ) -> Result<Rewrapped> {
        let records = self.store.data_keys_of(owner).await?;
        let mut rewrapped = 0;
        let mut wrapping_key = match kek {
            KeyEncryptionKey::ServiceManaged => self.root_key.key_id().to_owned(),
            KeyEncryptionKey::Customer { vault, key } => {
                // What new data keys would be wrapped by, also when there are none yet.
                let unusable = |error| workspace_key_unusable(host, vault, key, "", error);
                let vault_record = self.vault_by_id(vault).await.map_err(unusable)?;
                let (_, newest) = self
                    .usable_version(host, &vault_record, key, None)
                    .await
                    .map_err(unusable)?;
                format!("{}/keys/{key}/{}", vault_record.id, newest.version)
            }
        };
        for record in &records {
            let key = self.unwrap_data_key(host, record).await?;
            let (wrapped, now_wrapping) = self
                .wrap_data_key(host, owner, &record.id, &key, kek)
                .await?;
            if now_wrapping != record.wrapping_key
                && self
                    .store
                    .rewrap_data_key(record, &wrapped, &now_wrapping)
                    .await?
            {
                rewrapped += 1;
            }
            wrapping_key = now_wrapping;
        }
        Ok(Rewrapped {
            data_keys: records.len(),
            rewrapped,
            wrapping_key,
        })
    }
}

/// A workspace key that is missing or deleted locks the data as surely as a disabled one.
fn workspace_key_unusable(
    host: &str,
    vault: &str,
    name: &str,
    version: &str,
    error: Error,
) -> Error {
    match error {
        Error::NotFound(_) => Error::KeyDisabled(format!(
            "the workspace key {} is deleted or missing; recover it to use this data again",
            key_id(host, vault, name, version)
        )),
        other => other,
    }
}
