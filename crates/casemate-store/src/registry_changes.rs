//! Changes to registry entries after they were made: descriptions, tags, renames, deletions.
use crate::backend::on_db;

use crate::{Store, StoreError, StoreResult};

/// What a registry change touches: a registered model, or one of its versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistryItem<'a> {
    Model(&'a str),
    Version(&'a str, i64),
}

fn found(rows: u64, what: &'static str) -> StoreResult<()> {
    if rows == 0 {
        return Err(StoreError::NotFound(what));
    }
    Ok(())
}

impl Store {
    pub async fn set_registry_description(
        &self,
        workspace_id: &str,
        item: RegistryItem<'_>,
        description: &str,
        now_ms: i64,
    ) -> StoreResult<()> {
        on_db!(self, |pool, durable| {
            let result = match item {
                RegistryItem::Model(model) => {
                    sqlx::query(
                        "UPDATE registered_models SET description = $1, updated_at = $2 \
                     WHERE workspace_id = $3 AND name = $4",
                    )
                    .bind(description)
                    .bind(now_ms)
                    .bind(workspace_id)
                    .bind(model)
                    .execute(pool)
                    .await?
                }
                RegistryItem::Version(model, version) => {
                    sqlx::query(
                        "UPDATE model_versions SET description = $1, updated_at = $2 \
                     WHERE workspace_id = $3 AND model = $4 AND version = $5",
                    )
                    .bind(description)
                    .bind(now_ms)
                    .bind(workspace_id)
                    .bind(model)
                    .bind(version)
                    .execute(pool)
                    .await?
                }
            };
            found(result.rows_affected(), "registry entry")
        })
    }

    /// Sets (`Some`) or deletes (`None`) a tag; deleting reports whether the tag existed.
    pub async fn set_registry_tag(
        &self,
        workspace_id: &str,
        item: RegistryItem<'_>,
        key: &str,
        value: Option<&str>,
    ) -> StoreResult<bool> {
        on_db!(self, |pool, durable| {
            let (model, version) = match item {
                RegistryItem::Model(model) => (model, None),
                RegistryItem::Version(model, version) => (model, Some(version)),
            };
            let result = match (version, value) {
            (None, Some(value)) => {
                sqlx::query(
                    "INSERT INTO registered_model_tags (workspace_id, model, name, value) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (workspace_id, model, name) \
                     DO UPDATE SET value = excluded.value",
                )
                .bind(workspace_id)
                .bind(model)
                .bind(key)
                .bind(value)
                .execute(pool)
                .await?
            }
            (None, None) => {
                sqlx::query(
                    "DELETE FROM registered_model_tags WHERE workspace_id = $1 AND model = $2 AND name = $3",
                )
                .bind(workspace_id)
                .bind(model)
                .bind(key)
                .execute(pool)
                .await?
            }
            (Some(version), Some(value)) => {
                sqlx::query(
                    "INSERT INTO model_version_tags (workspace_id, model, version, name, value) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (workspace_id, model, version, name) \
                     DO UPDATE SET value = excluded.value",
                )
                .bind(workspace_id)
                .bind(model)
                .bind(version)
                .bind(key)
                .bind(value)
                .execute(pool)
                .await?
            }
            (Some(version), None) => {
                sqlx::query(
                    "DELETE FROM model_version_tags \
                     WHERE workspace_id = $1 AND model = $2 AND version = $3 AND name = $4",
                )
                .bind(workspace_id)
                .bind(model)
                .bind(version)
                .bind(key)
                .execute(pool)
                .await?
            }
        };
            Ok(result.rows_affected() == 1)
        })
    }

    /// Deletes a model (with its versions, tags and aliases) or one version (with its tags and
    /// aliases).
    pub async fn delete_registry_item(
        &self,
        workspace_id: &str,
        item: RegistryItem<'_>,
    ) -> StoreResult<()> {
        on_db!(self, |pool, durable| {
            let result = match item {
            RegistryItem::Model(model) => {
                sqlx::query("DELETE FROM registered_models WHERE workspace_id = $1 AND name = $2")
                    .bind(workspace_id)
                    .bind(model)
                    .execute(pool)
                    .await?
            }
            RegistryItem::Version(model, version) => sqlx::query(
                "DELETE FROM model_versions WHERE workspace_id = $1 AND model = $2 AND version = $3",
            )
            .bind(workspace_id)
            .bind(model)
            .bind(version)
            .execute(pool)
            .await?,
        };
            found(result.rows_affected(), "registry entry")
        })
    }

    /// Renames a registered model and everything filed under its name, in one transaction.
    pub async fn rename_registered_model(
        &self,
        workspace_id: &str,
        from: &str,
        to: &str,
        now_ms: i64,
    ) -> StoreResult<()> {
        on_db!(self, |pool, durable| {
            let mut tx = pool.begin().await?;
            // The children name their parent by key; the keys move together, checked at commit.
            sqlx::query(self.pools.defer_foreign_keys())
                .execute(&mut *tx)
                .await?;
            let renamed = sqlx::query(
            "UPDATE registered_models SET name = $1, updated_at = $2 WHERE workspace_id = $3 AND name = $4",
        )
        .bind(to)
        .bind(now_ms)
        .bind(workspace_id)
        .bind(from)
        .execute(&mut *tx)
        .await?;
            found(renamed.rows_affected(), "registered model")?;
            for table in [
                "UPDATE registered_model_tags SET model = $1 WHERE workspace_id = $2 AND model = $3",
                "UPDATE model_versions SET model = $1 WHERE workspace_id = $2 AND model = $3",
                "UPDATE model_version_tags SET model = $1 WHERE workspace_id = $2 AND model = $3",
                "UPDATE model_aliases SET model = $1 WHERE workspace_id = $2 AND model = $3",
            ] {
                sqlx::query(table)
                    .bind(to)
                    .bind(workspace_id)
                    .bind(from)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// Renames an experiment: its resource record (to `renamed`, with its properties), and the
    /// runs, logged models and role assignments filed under the old name, in one transaction.
    pub async fn rename_experiment(
        &self,
        old_id: &str,
        renamed: &crate::ResourceRecord,
    ) -> StoreResult<()> {
        on_db!(self, |pool, durable| {
            let workspace_id = renamed.parent.as_deref().unwrap_or_default();
            let old_name = old_id.rsplit('/').next().unwrap_or_default();
            let mut tx = pool.begin().await?;
            let moved = sqlx::query(
                "UPDATE resources SET id = $1, name = $2, properties = $3 WHERE id = $4",
            )
            .bind(&renamed.id)
            .bind(&renamed.name)
            .bind(&renamed.properties)
            .bind(old_id)
            .execute(&mut *tx)
            .await?;
            found(moved.rows_affected(), "experiment")?;
            for statement in [
                "UPDATE runs SET experiment = $1 WHERE workspace_id = $2 AND experiment = $3",
                "UPDATE logged_models SET experiment = $1 WHERE workspace_id = $2 AND experiment = $3",
            ] {
                sqlx::query(statement)
                    .bind(&renamed.name)
                    .bind(workspace_id)
                    .bind(old_name)
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query(
            "UPDATE role_assignments SET scope = $1 || substr(scope, length($2) + 1) \
             WHERE lower(scope) = lower($2) OR lower(substr(scope, 1, length($2) + 1)) = lower($2 || '/')",
        )
        .bind(&renamed.id)
        .bind(old_id)
        .execute(&mut *tx)
        .await?;
            tx.commit().await?;
            Ok(())
        })
    }
}
