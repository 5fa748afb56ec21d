//! Vault keys and their versions. Material arrives wrapped.
use crate::backend::{Conn, StoreRow, on_conn, on_db};

use crate::{Store, StoreError, StoreResult};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultKeyRecord {
    pub vault: String,
    pub name: String,
    pub enabled: bool,
    pub created_at: i64,
    pub deleted_at: Option<i64>,
    pub scheduled_purge_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultKeyVersionRecord {
    pub vault: String,
    pub name: String,
    pub version: String,
    pub seq: i64,
    pub wrapped_material: Vec<u8>,
    pub enabled: bool,
    pub created_at: i64,
}

fn key_from_row(row: &impl StoreRow) -> StoreResult<VaultKeyRecord> {
    Ok(VaultKeyRecord {
        vault: row.value("vault")?,
        name: row.value("name")?,
        enabled: row.value("enabled")?,
        created_at: row.value("created_at")?,
        deleted_at: row.value("deleted_at")?,
        scheduled_purge_at: row.value("scheduled_purge_at")?,
    })
}

fn version_from_row(row: &impl StoreRow) -> StoreResult<VaultKeyVersionRecord> {
    Ok(VaultKeyVersionRecord {
        vault: row.value("vault")?,
        name: row.value("name")?,
        version: row.value("version")?,
        seq: row.value("seq")?,
        wrapped_material: row.value("wrapped_material")?,
        enabled: row.value("enabled")?,
        created_at: row.value("created_at")?,
    })
}

async fn insert_version(tx: Conn<'_>, version: &VaultKeyVersionRecord) -> StoreResult<()> {
    on_conn!(tx, |tx| {
        let seq: i64 = sqlx::query_scalar(
        "SELECT COALESCE(MAX(seq), 0) + 1 FROM vault_key_versions WHERE vault = $1 AND name = $2",
    )
    .bind(&version.vault)
    .bind(&version.name)
    .fetch_one(&mut *tx)
    .await?;
        sqlx::query(
        "INSERT INTO vault_key_versions (vault, name, version, seq, wrapped_material, enabled, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&version.vault)
    .bind(&version.name)
    .bind(&version.version)
    .bind(seq)
    .bind(&version.wrapped_material)
    .bind(version.enabled)
    .bind(version.created_at)
    .execute(&mut *tx)
    .await?;
        Ok(())
    })
}

impl Store {
    /// Creates a key with its first version. A name held by a deleted key is a conflict.
    pub async fn create_vault_key(&self, first: &VaultKeyVersionRecord) -> StoreResult<()> {
        on_db!(self, |pool, durable| {
            let mut tx = pool.begin().await?;
            sqlx::query("INSERT INTO vault_keys (vault, name, enabled, created_at) VALUES ($1, $2, TRUE, $3)")
            .bind(&first.vault)
            .bind(&first.name)
            .bind(first.created_at)
            .execute(&mut *tx)
            .await
            .map_err(|e| match StoreError::from(e) {
                StoreError::Conflict(_) => StoreError::Conflict(format!(
                    "a key named '{}' exists (or is deleted and not purged); rotate it, or recover or purge it",
                    first.name
                )),
                other => other,
            })?;
            insert_version(Conn::from(&mut *tx), first).await?;
            tx.commit().await?;
            Ok(())
        })
    }

    pub async fn add_vault_key_version(&self, version: &VaultKeyVersionRecord) -> StoreResult<()> {
        on_db!(self, |pool, durable| {
            let mut tx = pool.begin().await?;
            insert_version(Conn::from(&mut *tx), version).await?;
            tx.commit().await?;
            Ok(())
        })
    }

    pub async fn vault_key(&self, vault: &str, name: &str) -> StoreResult<Option<VaultKeyRecord>> {
        on_db!(self, |pool, durable| {
            let row = sqlx::query("SELECT * FROM vault_keys WHERE vault = $1 AND name = $2")
                .bind(vault)
                .bind(name)
                .fetch_optional(pool)
                .await?;
            row.as_ref().map(key_from_row).transpose()
        })
    }

    pub async fn vault_keys(&self, vault: &str, deleted: bool) -> StoreResult<Vec<VaultKeyRecord>> {
        on_db!(self, |pool, durable| {
            let rows = sqlx::query("SELECT * FROM vault_keys WHERE vault = $1 AND (deleted_at IS NOT NULL) = $2 ORDER BY name")
            .bind(vault)
            .bind(deleted)
            .fetch_all(pool)
            .await?;
            rows.iter().map(key_from_row).collect()
        })
    }

    pub async fn vault_key_versions(
        &self,
        vault: &str,
        name: &str,
    ) -> StoreResult<Vec<VaultKeyVersionRecord>> {
        on_db!(self, |pool, durable| {
            let rows = sqlx::query(
                "SELECT * FROM vault_key_versions WHERE vault = $1 AND name = $2 ORDER BY seq",
            )
            .bind(vault)
            .bind(name)
            .fetch_all(pool)
            .await?;
            rows.iter().map(version_from_row).collect()
        })
    }

    pub async fn set_vault_key_enabled(
        &self,
        vault: &str,
        name: &str,
        version: Option<&str>,
        enabled: bool,
    ) -> StoreResult<()> {
        on_db!(self, |pool, durable| {
            let updated = match version {
            Some(version) => {
                sqlx::query("UPDATE vault_key_versions SET enabled = $1 WHERE vault = $2 AND name = $3 AND version = $4")
                    .bind(enabled)
                    .bind(vault)
                    .bind(name)
                    .bind(version)
                    .execute(pool)
                    .await?
            }
            None => {
                sqlx::query("UPDATE vault_keys SET enabled = $1 WHERE vault = $2 AND name = $3")
                    .bind(enabled)
                    .bind(vault)
                    .bind(name)
                    .execute(pool)
                    .await?
            }
        };
            if updated.rows_affected() == 0 {
                return Err(StoreError::NotFound("key version"));
            }
            Ok(())
        })
    }
}
