//! Data keys and versioned secrets. Values arrive here already sealed.
use crate::backend::{StoreRow, on_db};

use crate::{Store, StoreError, StoreResult};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataKeyRecord {
    pub id: String,
    pub owner: String,
    pub wrapped: Vec<u8>,
    pub wrapping_key: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRecord {
    pub vault: String,
    pub name: String,
    pub created_at: i64,
    pub deleted_at: Option<i64>,
    pub scheduled_purge_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretVersionRecord {
    pub vault: String,
    pub name: String,
    pub version: String,
    pub seq: i64,
    pub ciphertext: Vec<u8>,
    pub data_key: String,
    pub enabled: bool,
    pub not_before: Option<i64>,
    pub expires: Option<i64>,
    pub content_type: Option<String>,
    pub tags: String,
    pub created_at: i64,
    pub updated_at: i64,
}

fn data_key_from_row(row: &impl StoreRow) -> StoreResult<DataKeyRecord> {
    Ok(DataKeyRecord {
        id: row.value("id")?,
        owner: row.value("owner")?,
        wrapped: row.value("wrapped")?,
        wrapping_key: row.value("wrapping_key")?,
        created_at: row.value("created_at")?,
    })
}

fn secret_from_row(row: &impl StoreRow) -> StoreResult<SecretRecord> {
    Ok(SecretRecord {
        vault: row.value("vault")?,
        name: row.value("name")?,
        created_at: row.value("created_at")?,
        deleted_at: row.value("deleted_at")?,
        scheduled_purge_at: row.value("scheduled_purge_at")?,
    })
}

fn version_from_row(row: &impl StoreRow) -> StoreResult<SecretVersionRecord> {
    Ok(SecretVersionRecord {
        vault: row.value("vault")?,
        name: row.value("name")?,
        version: row.value("version")?,
        seq: row.value("seq")?,
        ciphertext: row.value("ciphertext")?,
        data_key: row.value("data_key")?,
        enabled: row.value("enabled")?,
        not_before: row.value("not_before")?,
        expires: row.value("expires")?,
        content_type: row.value("content_type")?,
        tags: row.value("tags")?,
        created_at: row.value("created_at")?,
        updated_at: row.value("updated_at")?,
    })
}

/// Attribute changes; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct SecretAttributeChange {
    pub enabled: Option<bool>,
    pub not_before: Option<Option<i64>>,
    pub expires: Option<Option<i64>>,
    pub content_type: Option<Option<String>>,
    pub tags: Option<String>,
}

impl Store {
    pub async fn data_key_for(&self, owner: &str) -> StoreResult<Option<DataKeyRecord>> {
        on_db!(self, |pool, durable| {
            let row = sqlx::query(
                "SELECT * FROM data_keys WHERE owner = $1 ORDER BY created_at DESC, id LIMIT 1",
            )
            .bind(owner)
            .fetch_optional(pool)
            .await?;
            row.as_ref().map(data_key_from_row).transpose()
        })
    }

    pub async fn data_key(&self, id: &str) -> StoreResult<Option<DataKeyRecord>> {
        self.kept_when_reading(
            |k| &mut k.resources.data_keys,
            crate::gate_cache::MAX_ROWS_PER_KIND,
            id.to_owned(),
            self.data_key_row(id),
        )
        .await
    }

    async fn data_key_row(&self, id: &str) -> StoreResult<Option<DataKeyRecord>> {
        on_db!(self, |pool, durable| {
            let row = sqlx::query("SELECT * FROM data_keys WHERE id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await?;
            row.as_ref().map(data_key_from_row).transpose()
        })
    }

    pub async fn data_keys_of(&self, owner: &str) -> StoreResult<Vec<DataKeyRecord>> {
        on_db!(self, |pool, durable| {
            let rows =
                sqlx::query("SELECT * FROM data_keys WHERE owner = $1 ORDER BY created_at, id")
                    .bind(owner)
                    .fetch_all(pool)
                    .await?;
            rows.iter().map(data_key_from_row).collect()
        })
    }

    /// Replaces a data key's wrapping, only if it is still wrapped as `previous` says: a
    /// concurrent re-wrap cannot be overwritten with an older one.
    pub async fn rewrap_data_key(
        &self,
        previous: &DataKeyRecord,
        wrapped: &[u8],
        wrapping_key: &str,
    ) -> StoreResult<bool> {
        on_db!(self, |pool, durable| {
            let updated = sqlx::query(
            "UPDATE data_keys SET wrapped = $1, wrapping_key = $2 WHERE id = $3 AND wrapped = $4",
        )
        .bind(wrapped)
        .bind(wrapping_key)
        .bind(&previous.id)
        .bind(&previous.wrapped)
        .execute(pool)
        .await?;
            Ok(updated.rows_affected() == 1)
        })
    }

    pub async fn insert_data_key(&self, key: &DataKeyRecord) -> StoreResult<()> {
        on_db!(self, |pool, durable| {
            sqlx::query("INSERT INTO data_keys (id, owner, wrapped, wrapping_key, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(&key.id)
            .bind(&key.owner)
            .bind(&key.wrapped)
            .bind(&key.wrapping_key)
            .bind(key.created_at)
            .execute(pool)
            .await?;
            Ok(())
        })
    }

    pub async fn secret(&self, vault: &str, name: &str) -> StoreResult<Option<SecretRecord>> {
        self.kept_when_reading(
            |k| &mut k.resources.secrets,
            crate::gate_cache::MAX_ROWS_PER_KIND,
            (vault.to_ascii_lowercase(), name.to_ascii_lowercase()),
            self.secret_row(vault, name),
        )
        .await
    }

    async fn secret_row(&self, vault: &str, name: &str) -> StoreResult<Option<SecretRecord>> {
        on_db!(self, |pool, durable| {
            let row = sqlx::query("SELECT * FROM secrets WHERE vault = $1 AND name = $2")
                .bind(vault)
                .bind(name)
                .fetch_optional(pool)
                .await?;
            row.as_ref().map(secret_from_row).transpose()
        })
    }

    /// Adds a version, creating the secret on first set. Refused while the name is soft-deleted.
    pub async fn add_secret_version(&self, version: &SecretVersionRecord) -> StoreResult<()> {
        on_db!(self, |pool, durable| {
            let mut tx = pool.begin().await?;
            sqlx::query("INSERT INTO secrets (vault, name, created_at) VALUES ($1, $2, $3) ON CONFLICT (vault, name) DO NOTHING")
            .bind(&version.vault)
            .bind(&version.name)
            .bind(version.created_at)
            .execute(&mut *tx)
            .await?;
            let deleted: Option<i64> =
                sqlx::query_scalar("SELECT deleted_at FROM secrets WHERE vault = $1 AND name = $2")
                    .bind(&version.vault)
                    .bind(&version.name)
                    .fetch_one(&mut *tx)
                    .await?;
            if deleted.is_some() {
                return Err(StoreError::Conflict(format!(
                    "secret '{}' is deleted but not purged; recover or purge it before setting it again",
                    version.name
                )));
            }
            let seq: i64 = sqlx::query_scalar(
            "SELECT COALESCE(MAX(seq), 0) + 1 FROM secret_versions WHERE vault = $1 AND name = $2",
        )
        .bind(&version.vault)
        .bind(&version.name)
        .fetch_one(&mut *tx)
        .await?;
            sqlx::query(
            "INSERT INTO secret_versions (vault, name, version, seq, ciphertext, data_key, enabled, not_before, expires, content_type, tags, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(&version.vault)
        .bind(&version.name)
        .bind(&version.version)
        .bind(seq)
        .bind(&version.ciphertext)
        .bind(&version.data_key)
        .bind(version.enabled)
        .bind(version.not_before)
        .bind(version.expires)
        .bind(&version.content_type)
        .bind(&version.tags)
        .bind(version.created_at)
        .bind(version.updated_at)
        .execute(&mut *tx)
        .await?;
            tx.commit().await?;
            Ok(())
        })
    }

    /// A given version, or the latest with `None`.
    pub async fn secret_version(
        &self,
        vault: &str,
        name: &str,
        version: Option<&str>,
    ) -> StoreResult<Option<SecretVersionRecord>> {
        self.kept_when_reading(
            |k| &mut k.resources.secret_versions,
            crate::gate_cache::MAX_SECRET_VERSIONS_KEPT,
            (
                vault.to_ascii_lowercase(),
                name.to_ascii_lowercase(),
                version.map(str::to_owned),
            ),
            self.secret_version_row(vault, name, version),
        )
        .await
    }

    async fn secret_version_row(
        &self,
        vault: &str,
        name: &str,
        version: Option<&str>,
    ) -> StoreResult<Option<SecretVersionRecord>> {
        on_db!(self, |pool, durable| {
            let row = match version {
            Some(version) => {
                sqlx::query("SELECT * FROM secret_versions WHERE vault = $1 AND name = $2 AND version = $3")
                    .bind(vault)
                    .bind(name)
                    .bind(version)
                    .fetch_optional(pool)
                    .await?
            }
            None => {
                sqlx::query("SELECT * FROM secret_versions WHERE vault = $1 AND name = $2 ORDER BY seq DESC LIMIT 1")
                    .bind(vault)
                    .bind(name)
                    .fetch_optional(pool)
                    .await?
            }
        };
            row.as_ref().map(version_from_row).transpose()
        })
    }

    pub async fn secret_versions(
        &self,
        vault: &str,
        name: &str,
    ) -> StoreResult<Vec<SecretVersionRecord>> {
        on_db!(self, |pool, durable| {
            let rows = sqlx::query(
                "SELECT * FROM secret_versions WHERE vault = $1 AND name = $2 ORDER BY seq",
            )
            .bind(vault)
            .bind(name)
            .fetch_all(pool)
            .await?;
            rows.iter().map(version_from_row).collect()
        })
    }

    /// The latest version of every secret in the vault, deleted ones only when `deleted`.
    pub async fn latest_secret_versions(
        &self,
        vault: &str,
        deleted: bool,
    ) -> StoreResult<Vec<(SecretRecord, SecretVersionRecord)>> {
        on_db!(self, |pool, durable| {
            let rows = sqlx::query(
            "SELECT s.vault, s.name, s.created_at, s.deleted_at, s.scheduled_purge_at, v.version, v.seq, v.ciphertext, v.data_key, \
             v.enabled, v.not_before, v.expires, v.content_type, v.tags, v.created_at AS version_created_at, v.updated_at \
             FROM secrets s JOIN secret_versions v ON v.vault = s.vault AND v.name = s.name \
             WHERE s.vault = $1 AND (s.deleted_at IS NOT NULL) = $2 \
             AND v.seq = (SELECT MAX(seq) FROM secret_versions w WHERE w.vault = s.vault AND w.name = s.name) ORDER BY s.name",
        )
        .bind(vault)
        .bind(deleted)
        .fetch_all(pool)
        .await?;
            rows.iter()
                .map(|row| {
                    let secret = secret_from_row(row)?;
                    let version = SecretVersionRecord {
                        vault: secret.vault.clone(),
                        name: secret.name.clone(),
                        version: row.value("version")?,
                        seq: row.value("seq")?,
                        ciphertext: row.value("ciphertext")?,
                        data_key: row.value("data_key")?,
                        enabled: row.value("enabled")?,
                        not_before: row.value("not_before")?,
                        expires: row.value("expires")?,
                        content_type: row.value("content_type")?,
                        tags: row.value("tags")?,
                        created_at: row.value("version_created_at")?,
                        updated_at: row.value("updated_at")?,
                    };
                    Ok((secret, version))
                })
                .collect()
        })
    }

    pub async fn update_secret_version(
        &self,
        vault: &str,
        name: &str,
        version: &str,
        change: &SecretAttributeChange,
        now: i64,
    ) -> StoreResult<()> {
        on_db!(self, |pool, durable| {
            let mut query = sqlx::QueryBuilder::new("UPDATE secret_versions SET updated_at = ");
            query.push_bind(now);
            if let Some(enabled) = change.enabled {
                query.push(", enabled = ").push_bind(enabled);
            }
            if let Some(not_before) = change.not_before {
                query.push(", not_before = ").push_bind(not_before);
            }
            if let Some(expires) = change.expires {
                query.push(", expires = ").push_bind(expires);
            }
            if let Some(content_type) = &change.content_type {
                query
                    .push(", content_type = ")
                    .push_bind(content_type.clone());
            }
            if let Some(tags) = &change.tags {
                query.push(", tags = ").push_bind(tags.clone());
            }
            query
                .push(" WHERE vault = ")
                .push_bind(vault.to_owned())
                .push(" AND name = ")
                .push_bind(name.to_owned())
                .push(" AND version = ")
                .push_bind(version.to_owned());
            let updated = query.build().execute(pool).await?;
            if updated.rows_affected() == 0 {
                return Err(StoreError::NotFound("secret version"));
            }
            Ok(())
        })
    }
}
