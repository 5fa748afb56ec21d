//! The model registry: registered models, their numbered versions, tags and aliases.
use crate::backend::{StoreRow, on_db};

use crate::records::name_values;
use crate::{Store, StoreError, StoreResult};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisteredModelRecord {
    pub workspace_id: String,
    pub name: String,
    pub description: String,
    /// Unix milliseconds, as are the other times here.
    pub created_at: i64,
    pub updated_at: i64,
    pub created_by: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelVersionRecord {
    pub workspace_id: String,
    pub model: String,
    pub version: i64,
    pub source: String,
    pub run_id: String,
    pub description: String,
    pub stage: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub created_by: String,
}

fn model_from_row(row: &impl StoreRow) -> StoreResult<RegisteredModelRecord> {
    Ok(RegisteredModelRecord {
        workspace_id: row.value("workspace_id")?,
        name: row.value("name")?,
        description: row.value("description")?,
        created_at: row.value("created_at")?,
        updated_at: row.value("updated_at")?,
        created_by: row.value("created_by")?,
    })
}

fn version_from_row(row: &impl StoreRow) -> StoreResult<ModelVersionRecord> {
    Ok(ModelVersionRecord {
        workspace_id: row.value("workspace_id")?,
        model: row.value("model")?,
        version: row.value("version")?,
        source: row.value("source")?,
        run_id: row.value("run_id")?,
        description: row.value("description")?,
        stage: row.value("stage")?,
        created_at: row.value("created_at")?,
        updated_at: row.value("updated_at")?,
        created_by: row.value("created_by")?,
    })
}

impl Store {
    /// A new registered model with its tags; a conflict when the name is taken.
    pub async fn insert_registered_model(
        &self,
        model: &RegisteredModelRecord,
        tags: &[(String, String)],
    ) -> StoreResult<()> {
        on_db!(self, |pool, durable| {
            let mut tx = pool.begin().await?;
            sqlx::query(
            "INSERT INTO registered_models (workspace_id, name, description, created_at, updated_at, created_by) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&model.workspace_id)
        .bind(&model.name)
        .bind(&model.description)
        .bind(model.created_at)
        .bind(model.updated_at)
        .bind(&model.created_by)
        .execute(&mut *tx)
        .await?;
            for (name, value) in tags {
                sqlx::query(
                "INSERT INTO registered_model_tags (workspace_id, model, name, value) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (workspace_id, model, name) DO UPDATE SET value = excluded.value",
            )
            .bind(&model.workspace_id)
            .bind(&model.name)
            .bind(name)
            .bind(value)
            .execute(&mut *tx)
            .await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    pub async fn registered_model(
        &self,
        workspace_id: &str,
        name: &str,
    ) -> StoreResult<Option<RegisteredModelRecord>> {
        on_db!(self, |pool, durable| {
            let row = sqlx::query(
                "SELECT * FROM registered_models WHERE workspace_id = $1 AND name = $2",
            )
            .bind(workspace_id)
            .bind(name)
            .fetch_optional(pool)
            .await?;
            row.as_ref().map(model_from_row).transpose()
        })
    }

    pub async fn registered_models(
        &self,
        workspace_id: &str,
    ) -> StoreResult<Vec<RegisteredModelRecord>> {
        on_db!(self, |pool, durable| {
            let rows = sqlx::query(
                "SELECT * FROM registered_models WHERE workspace_id = $1 ORDER BY name",
            )
            .bind(workspace_id)
            .fetch_all(pool)
            .await?;
            rows.iter().map(model_from_row).collect()
        })
    }

    pub async fn registered_model_tags(
        &self,
        workspace_id: &str,
        model: &str,
    ) -> StoreResult<Vec<(String, String)>> {
        on_db!(self, |pool, durable| {
            let rows = sqlx::query(
            "SELECT name, value FROM registered_model_tags WHERE workspace_id = $1 AND model = $2 ORDER BY name",
        )
        .bind(workspace_id)
        .bind(model)
        .fetch_all(pool)
        .await?;
            name_values(&rows)
        })
    }

    /// A new version numbered one past the model's highest, with its tags; returns the number.
    pub async fn insert_model_version(
        &self,
        version: &ModelVersionRecord,
        tags: &[(String, String)],
    ) -> StoreResult<i64> {
        on_db!(self, |pool, durable| {
            let mut tx = pool.begin().await?;
            let touched = sqlx::query(
            "UPDATE registered_models SET updated_at = $1 WHERE workspace_id = $2 AND name = $3",
        )
        .bind(version.updated_at)
        .bind(&version.workspace_id)
        .bind(&version.model)
        .execute(&mut *tx)
        .await?;
            if touched.rows_affected() == 0 {
                return Err(StoreError::NotFound("registered model"));
            }
            let number: i64 = sqlx::query_scalar(
            "SELECT COALESCE(MAX(version), 0) + 1 FROM model_versions WHERE workspace_id = $1 AND model = $2",
        )
        .bind(&version.workspace_id)
        .bind(&version.model)
        .fetch_one(&mut *tx)
        .await?;
            sqlx::query(
            "INSERT INTO model_versions (workspace_id, model, version, source, run_id, description, stage, \
             created_at, updated_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&version.workspace_id)
        .bind(&version.model)
        .bind(number)
        .bind(&version.source)
        .bind(&version.run_id)
        .bind(&version.description)
        .bind(&version.stage)
        .bind(version.created_at)
        .bind(version.updated_at)
        .bind(&version.created_by)
        .execute(&mut *tx)
        .await?;
            for (name, value) in tags {
                sqlx::query(
                "INSERT INTO model_version_tags (workspace_id, model, version, name, value) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&version.workspace_id)
            .bind(&version.model)
            .bind(number)
            .bind(name)
            .bind(value)
            .execute(&mut *tx)
            .await?;
            }
            tx.commit().await?;
            Ok(number)
        })
    }

    pub async fn model_version(
        &self,
        workspace_id: &str,
        model: &str,
        version: i64,
    ) -> StoreResult<Option<ModelVersionRecord>> {
        on_db!(self, |pool, durable| {
            let row = sqlx::query(
            "SELECT * FROM model_versions WHERE workspace_id = $1 AND model = $2 AND version = $3",
        )
        .bind(workspace_id)
        .bind(model)
        .bind(version)
        .fetch_optional(pool)
        .await?;
            row.as_ref().map(version_from_row).transpose()
        })
    }

    /// A workspace's model versions, by model then version.
    pub async fn model_versions(&self, workspace_id: &str) -> StoreResult<Vec<ModelVersionRecord>> {
        on_db!(self, |pool, durable| {
            let rows = sqlx::query(
                "SELECT * FROM model_versions WHERE workspace_id = $1 ORDER BY model, version",
            )
            .bind(workspace_id)
            .fetch_all(pool)
            .await?;
            rows.iter().map(version_from_row).collect()
        })
    }

    pub async fn model_version_tags(
        &self,
        workspace_id: &str,
        model: &str,
        version: i64,
    ) -> StoreResult<Vec<(String, String)>> {
        on_db!(self, |pool, durable| {
            let rows = sqlx::query(
                "SELECT name, value FROM model_version_tags \
             WHERE workspace_id = $1 AND model = $2 AND version = $3 ORDER BY name",
            )
            .bind(workspace_id)
            .bind(model)
            .bind(version)
            .fetch_all(pool)
            .await?;
            name_values(&rows)
        })
    }

    /// Moves a version to `stage`; with `archive_others`, the model's other versions in that
    /// stage move to Archived in the same transaction.
    pub async fn set_model_version_stage(
        &self,
        workspace_id: &str,
        model: &str,
        version: i64,
        stage: &str,
        archive_others: bool,
        now: i64,
    ) -> StoreResult<()> {
        on_db!(self, |pool, durable| {
            let mut tx = pool.begin().await?;
            if archive_others {
                sqlx::query(
                    "UPDATE model_versions SET stage = 'Archived', updated_at = $1 \
                 WHERE workspace_id = $2 AND model = $3 AND stage = $4 AND version != $5",
                )
                .bind(now)
                .bind(workspace_id)
                .bind(model)
                .bind(stage)
                .bind(version)
                .execute(&mut *tx)
                .await?;
            }
            let updated = sqlx::query(
                "UPDATE model_versions SET stage = $1, updated_at = $2 \
             WHERE workspace_id = $3 AND model = $4 AND version = $5",
            )
            .bind(stage)
            .bind(now)
            .bind(workspace_id)
            .bind(model)
            .bind(version)
            .execute(&mut *tx)
            .await?;
            if updated.rows_affected() == 0 {
                return Err(StoreError::NotFound("model version"));
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// Points `alias` at a version (moving it if it pointed elsewhere).
    pub async fn set_model_alias(
        &self,
        workspace_id: &str,
        model: &str,
        alias: &str,
        version: i64,
    ) -> StoreResult<()> {
        on_db!(self, |pool, durable| {
            sqlx::query(
            "INSERT INTO model_aliases (workspace_id, model, alias, version) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (workspace_id, model, alias) DO UPDATE SET version = excluded.version",
        )
        .bind(workspace_id)
        .bind(model)
        .bind(alias)
        .bind(version)
        .execute(pool)
        .await?;
            Ok(())
        })
    }

    pub async fn delete_model_alias(
        &self,
        workspace_id: &str,
        model: &str,
        alias: &str,
    ) -> StoreResult<bool> {
        on_db!(self, |pool, durable| {
            let result = sqlx::query(
                "DELETE FROM model_aliases WHERE workspace_id = $1 AND model = $2 AND alias = $3",
            )
            .bind(workspace_id)
            .bind(model)
            .bind(alias)
            .execute(pool)
            .await?;
            Ok(result.rows_affected() == 1)
        })
    }

    /// A model's aliases as (alias, version).
    pub async fn model_aliases(
        &self,
        workspace_id: &str,
        model: &str,
    ) -> StoreResult<Vec<(String, i64)>> {
        on_db!(self, |pool, durable| {
            let rows = sqlx::query(
            "SELECT alias, version FROM model_aliases WHERE workspace_id = $1 AND model = $2 ORDER BY alias",
        )
        .bind(workspace_id)
        .bind(model)
        .fetch_all(pool)
        .await?;
            rows.iter()
                .map(|row| Ok((row.value("alias")?, row.value("version")?)))
                .collect()
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedModelRecord {
    pub id: String,
    pub workspace_id: String,
    pub experiment: String,
    pub name: String,
    pub model_type: String,
    pub source_run_id: String,
    pub status: String,
    /// JSON objects of names to values.
    pub params: String,
    pub tags: String,
    pub created_at: i64,
    pub updated_at: i64,
}

fn logged_model_from_row(row: &impl StoreRow) -> StoreResult<LoggedModelRecord> {
    Ok(LoggedModelRecord {
        id: row.value("id")?,
        workspace_id: row.value("workspace_id")?,
        experiment: row.value("experiment")?,
        name: row.value("name")?,
        model_type: row.value("model_type")?,
        source_run_id: row.value("source_run_id")?,
        status: row.value("status")?,
        params: row.value("params")?,
        tags: row.value("tags")?,
        created_at: row.value("created_at")?,
        updated_at: row.value("updated_at")?,
    })
}

impl Store {
    pub async fn insert_logged_model(&self, model: &LoggedModelRecord) -> StoreResult<()> {
        on_db!(self, |pool, durable| {
            sqlx::query(
            "INSERT INTO logged_models (id, workspace_id, experiment, name, model_type, source_run_id, \
             status, params, tags, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(&model.id)
        .bind(&model.workspace_id)
        .bind(&model.experiment)
        .bind(&model.name)
        .bind(&model.model_type)
        .bind(&model.source_run_id)
        .bind(&model.status)
        .bind(&model.params)
        .bind(&model.tags)
        .bind(model.created_at)
        .bind(model.updated_at)
        .execute(pool)
        .await?;
            Ok(())
        })
    }

    pub async fn logged_model(&self, id: &str) -> StoreResult<Option<LoggedModelRecord>> {
        on_db!(self, |pool, durable| {
            let row = sqlx::query("SELECT * FROM logged_models WHERE id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await?;
            row.as_ref().map(logged_model_from_row).transpose()
        })
    }

    /// A workspace's logged models, newest first.
    pub async fn logged_models(&self, workspace_id: &str) -> StoreResult<Vec<LoggedModelRecord>> {
        on_db!(self, |pool, durable| {
            let rows = sqlx::query(
                "SELECT * FROM logged_models WHERE workspace_id = $1 ORDER BY created_at DESC, id",
            )
            .bind(workspace_id)
            .fetch_all(pool)
            .await?;
            rows.iter().map(logged_model_from_row).collect()
        })
    }

    /// Updates a logged model's status and tags.
    pub async fn update_logged_model(
        &self,
        id: &str,
        status: &str,
        tags: &str,
        updated_at: i64,
    ) -> StoreResult<()> {
        on_db!(self, |pool, durable| {
            sqlx::query(
                "UPDATE logged_models SET status = $1, tags = $2, updated_at = $3 WHERE id = $4",
            )
            .bind(status)
            .bind(tags)
            .bind(updated_at)
            .bind(id)
            .execute(pool)
            .await?;
            Ok(())
        })
    }

    /// Replaces a logged model's tags and params (JSON objects).
    pub async fn set_logged_model_items(
        &self,
        id: &str,
        tags: &str,
        params: &str,
        updated_at: i64,
    ) -> StoreResult<()> {
        on_db!(self, |pool, durable| {
            sqlx::query(
                "UPDATE logged_models SET tags = $1, params = $2, updated_at = $3 WHERE id = $4",
            )
            .bind(tags)
            .bind(params)
            .bind(updated_at)
            .bind(id)
            .execute(pool)
            .await?;
            Ok(())
        })
    }
}
