//! Soft delete, recovery and purge, shared by the two kinds of vault item.
use crate::backend::on_db;

use crate::{Store, StoreError, StoreResult};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VaultItemKind {
    Secret,
    Key,
}

impl VaultItemKind {
    fn noun(self) -> &'static str {
        match self {
            VaultItemKind::Secret => "secret",
            VaultItemKind::Key => "key",
        }
    }
}

impl Store {
    /// Soft delete: the item and its versions stay (sealed) until purged or recovered.
    pub async fn soft_delete_vault_item(
        &self,
        kind: VaultItemKind,
        vault: &str,
        name: &str,
        now: i64,
        purge_at: i64,
    ) -> StoreResult<()> {
        on_db!(self, |pool, durable| {
            let statement = match kind {
                VaultItemKind::Secret => {
                    "UPDATE secrets SET deleted_at = $1, scheduled_purge_at = $2 WHERE vault = $3 AND name = $4 AND deleted_at IS NULL"
                }
                VaultItemKind::Key => {
                    "UPDATE vault_keys SET deleted_at = $1, scheduled_purge_at = $2 WHERE vault = $3 AND name = $4 AND deleted_at IS NULL"
                }
            };
            let updated = sqlx::query(statement)
                .bind(now)
                .bind(purge_at)
                .bind(vault)
                .bind(name)
                .execute(pool)
                .await?;
            if updated.rows_affected() == 0 {
                return Err(StoreError::NotFound(kind.noun()));
            }
            Ok(())
        })
    }

    pub async fn recover_vault_item(
        &self,
        kind: VaultItemKind,
        vault: &str,
        name: &str,
    ) -> StoreResult<()> {
        on_db!(self, |pool, durable| {
            let statement = match kind {
                VaultItemKind::Secret => {
                    "UPDATE secrets SET deleted_at = NULL, scheduled_purge_at = NULL WHERE vault = $1 AND name = $2 AND deleted_at IS NOT NULL"
                }
                VaultItemKind::Key => {
                    "UPDATE vault_keys SET deleted_at = NULL, scheduled_purge_at = NULL WHERE vault = $1 AND name = $2 AND deleted_at IS NOT NULL"
                }
            };
            let updated = sqlx::query(statement)
                .bind(vault)
                .bind(name)
                .execute(pool)
                .await?;
            if updated.rows_affected() == 0 {
                return Err(StoreError::NotFound(match kind {
                    VaultItemKind::Secret => "deleted secret",
                    VaultItemKind::Key => "deleted key",
                }));
            }
            Ok(())
        })
    }

    /// Removes a deleted item and every version, for good.
    pub async fn purge_vault_item(
        &self,
        kind: VaultItemKind,
        vault: &str,
        name: &str,
    ) -> StoreResult<()> {
        on_db!(self, |pool, durable| {
            let statement = match kind {
                VaultItemKind::Secret => {
                    "DELETE FROM secrets WHERE vault = $1 AND name = $2 AND deleted_at IS NOT NULL"
                }
                VaultItemKind::Key => {
                    "DELETE FROM vault_keys WHERE vault = $1 AND name = $2 AND deleted_at IS NOT NULL"
                }
            };
            let deleted = sqlx::query(statement)
                .bind(vault)
                .bind(name)
                .execute(pool)
                .await?;
            if deleted.rows_affected() == 0 {
                return Err(StoreError::NotFound(match kind {
                    VaultItemKind::Secret => "deleted secret",
                    VaultItemKind::Key => "deleted key",
                }));
            }
            Ok(())
        })
    }
}
