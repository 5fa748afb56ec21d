//! Resources by resource id, custom roles, and role assignments beyond a principal's own.
use crate::backend::{Conn, StoreRow, on_conn, on_db};

use crate::principals::{insert_principal_in, insert_role_assignment_in};
use crate::records::parse_uuid;
use crate::{PrincipalRecord, RoleAssignmentRecord, Store, StoreError, StoreResult};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceRecord {
    pub id: String,
    pub kind: String,
    pub parent: Option<String>,
    pub name: String,
    pub properties: String,
    pub created_at: i64,
    pub created_by: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomRoleRecord {
    pub name: String,
    pub definition: String,
    pub created_at: i64,
    pub updated_at: i64,
}

fn resource_from_row(row: &impl StoreRow) -> StoreResult<ResourceRecord> {
    Ok(ResourceRecord {
        id: row.value("id")?,
        kind: row.value("kind")?,
        parent: row.value("parent")?,
        name: row.value("name")?,
        properties: row.value("properties")?,
        created_at: row.value("created_at")?,
        created_by: row.value("created_by")?,
    })
}

pub(crate) fn assignment_from_row(row: &impl StoreRow) -> StoreResult<RoleAssignmentRecord> {
    assignment_from_columns(AssignmentColumns {
        id: row.value("id")?,
        principal_id: row.value("principal_id")?,
        role_name: row.value("role_name")?,
        scope: row.value("scope")?,
        created_at: row.value("created_at")?,
    })
}

/// A role assignment's columns as stored, however they were read.
pub(crate) struct AssignmentColumns {
    pub(crate) id: String,
    pub(crate) principal_id: String,
    pub(crate) role_name: String,
    pub(crate) scope: String,
    pub(crate) created_at: i64,
}

pub(crate) fn assignment_from_columns(
    columns: AssignmentColumns,
) -> StoreResult<RoleAssignmentRecord> {
    Ok(RoleAssignmentRecord {
        id: parse_uuid("role_assignments.id", &columns.id)?,
        principal_id: parse_uuid("role_assignments.principal_id", &columns.principal_id)?,
        role_name: columns.role_name,
        scope: columns.scope,
        created_at: columns.created_at,
    })
}

async fn insert_resource_in(connection: Conn<'_>, resource: &ResourceRecord) -> StoreResult<()> {
    on_conn!(connection, |connection| {
        sqlx::query(
        "INSERT INTO resources (id, kind, parent, name, properties, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&resource.id)
    .bind(&resource.kind)
    .bind(&resource.parent)
    .bind(&resource.name)
    .bind(&resource.properties)
    .bind(resource.created_at)
    .bind(&resource.created_by)
    .execute(connection)
    .await
    .map_err(|e| match StoreError::from(e) {
        StoreError::Conflict(_) => StoreError::Conflict(format!("{} already exists", resource.id)),
        other => other,
    })?;
        Ok(())
    })
}

/// Everything a new workspace brings with it, created together or not at all.
#[derive(Debug, Clone)]
pub struct Provisioning {
    pub resources: Vec<ResourceRecord>,
    pub identity: PrincipalRecord,
    pub assignments: Vec<RoleAssignmentRecord>,
}

impl Store {
    pub async fn insert_resource(&self, resource: &ResourceRecord) -> StoreResult<()> {
        on_db!(self, |pool, durable| {
            let mut connection = pool.acquire().await?;
            insert_resource_in(Conn::from(&mut *connection), resource).await
        })
    }

    pub async fn provision(&self, provisioning: &Provisioning) -> StoreResult<()> {
        on_db!(self, |pool, durable| {
            let mut tx = pool.begin().await?;
            for resource in &provisioning.resources {
                insert_resource_in(Conn::from(&mut *tx), resource).await?;
            }
            insert_principal_in(Conn::from(&mut *tx), &provisioning.identity).await?;
            for assignment in &provisioning.assignments {
                insert_role_assignment_in(Conn::from(&mut *tx), assignment).await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    pub async fn resource(&self, id: &str) -> StoreResult<Option<ResourceRecord>> {
        self.kept_when_reading(
            |k| &mut k.resources.resources,
            crate::gate_cache::MAX_ROWS_PER_KIND,
            id.to_ascii_lowercase(),
            self.resource_row(id),
        )
        .await
    }

    async fn resource_row(&self, id: &str) -> StoreResult<Option<ResourceRecord>> {
        on_db!(self, |pool, durable| {
            let row = sqlx::query("SELECT * FROM resources WHERE id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await?;
            row.as_ref().map(resource_from_row).transpose()
        })
    }

    pub async fn resources(
        &self,
        kind: &str,
        parent: Option<&str>,
    ) -> StoreResult<Vec<ResourceRecord>> {
        on_db!(self, |pool, durable| {
            let rows = match parent {
                Some(parent) => {
                    sqlx::query(
                        "SELECT * FROM resources WHERE kind = $1 AND parent = $2 ORDER BY name",
                    )
                    .bind(kind)
                    .bind(parent)
                    .fetch_all(pool)
                    .await?
                }
                None => {
                    sqlx::query("SELECT * FROM resources WHERE kind = $1 ORDER BY name")
                        .bind(kind)
                        .fetch_all(pool)
                        .await?
                }
            };
            rows.iter().map(resource_from_row).collect()
        })
    }

    pub async fn update_resource_properties(&self, id: &str, properties: &str) -> StoreResult<()> {
        on_db!(self, |pool, durable| {
            let updated = sqlx::query("UPDATE resources SET properties = $1 WHERE id = $2")
                .bind(properties)
                .bind(id)
                .execute(pool)
                .await?;
            if updated.rows_affected() == 0 {
                return Err(StoreError::NotFound("resource"));
            }
            Ok(())
        })
    }

    /// Replaces a resource's properties only if they are still `expected`; returns whether it
    /// did, so read-modify-write callers never lose a concurrent change.
    pub async fn replace_resource_properties(
        &self,
        id: &str,
        expected: &str,
        properties: &str,
    ) -> StoreResult<bool> {
        on_db!(self, |pool, durable| {
            let updated = sqlx::query(
                "UPDATE resources SET properties = $1 WHERE id = $2 AND properties = $3",
            )
            .bind(properties)
            .bind(id)
            .bind(expected)
            .execute(pool)
            .await?;
            Ok(updated.rows_affected() == 1)
        })
    }

    /// [`Self::replace_resource_properties`] together with a principal the new properties name
    /// and its role assignments: all of it, or (returning false, or an error) none of it.
    pub async fn replace_resource_properties_with_principal(
        &self,
        id: &str,
        expected: &str,
        properties: &str,
        principal: &PrincipalRecord,
        assignments: &[RoleAssignmentRecord],
    ) -> StoreResult<bool> {
        on_db!(self, |pool, durable| {
            let mut tx = pool.begin().await?;
            let updated = sqlx::query(
                "UPDATE resources SET properties = $1 WHERE id = $2 AND properties = $3",
            )
            .bind(properties)
            .bind(id)
            .bind(expected)
            .execute(&mut *tx)
            .await?;
            if updated.rows_affected() != 1 {
                return Ok(false);
            }
            insert_principal_in(Conn::from(&mut *tx), principal).await?;
            for assignment in assignments {
                insert_role_assignment_in(Conn::from(&mut *tx), assignment).await?;
            }
            tx.commit().await?;
            Ok(true)
        })
    }

    /// Deletes resources (with a vault's secrets, keys and data keys), the principals named, and
    /// every role assignment at or below the resources, in one transaction.
    pub async fn delete_resources(&self, ids: &[String], principals: &[Uuid]) -> StoreResult<()> {
        on_db!(self, |pool, durable| {
            let mut tx = pool.begin().await?;
            for id in ids {
                sqlx::query(
                    "DELETE FROM role_assignments WHERE lower(scope) = lower($1) \
                 OR lower(substr(scope, 1, length($1) + 1)) = lower($1 || '/')",
                )
                .bind(id)
                .execute(&mut *tx)
                .await?;
                // A vault's contents go with it; deleting its data keys makes any copy of its
                // ciphertexts unopenable (crypto-shredding).
                for statement in [
                    "DELETE FROM secrets WHERE vault = $1",
                    "DELETE FROM vault_keys WHERE vault = $1",
                    "DELETE FROM data_keys WHERE owner = $1",
                    "DELETE FROM runs WHERE workspace_id = $1",
                    "DELETE FROM snapshots WHERE workspace_id = $1",
                    "DELETE FROM registered_models WHERE workspace_id = $1",
                    "DELETE FROM logged_models WHERE workspace_id = $1",
                    "DELETE FROM workspace_events WHERE workspace_id = $1",
                    "DELETE FROM registry_tags WHERE registry_id = $1",
                    "DELETE FROM registry_manifests WHERE registry_id = $1",
                    "DELETE FROM registry_blobs WHERE registry_id = $1",
                    "DELETE FROM resources WHERE parent = $1",
                    "DELETE FROM resources WHERE id = $1",
                ] {
                    sqlx::query(statement).bind(id).execute(&mut *tx).await?;
                }
            }
            for principal in principals {
                sqlx::query("DELETE FROM principals WHERE id = $1")
                    .bind(principal.to_string())
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    pub async fn children_count(&self, parent: &str) -> StoreResult<i64> {
        on_db!(self, |pool, durable| {
            Ok(
                sqlx::query_scalar("SELECT COUNT(*) FROM resources WHERE parent = $1")
                    .bind(parent)
                    .fetch_one(pool)
                    .await?,
            )
        })
    }

    pub async fn role_assignment(&self, id: Uuid) -> StoreResult<Option<RoleAssignmentRecord>> {
        on_db!(self, |pool, durable| {
            let row = sqlx::query("SELECT id, principal_id, role_name, scope, created_at FROM role_assignments WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(pool)
            .await?;
            row.as_ref().map(assignment_from_row).transpose()
        })
    }

    pub async fn all_role_assignments(&self) -> StoreResult<Vec<RoleAssignmentRecord>> {
        on_db!(self, |pool, durable| {
            let rows = sqlx::query("SELECT id, principal_id, role_name, scope, created_at FROM role_assignments ORDER BY scope, created_at")
            .fetch_all(pool)
            .await?;
            rows.iter().map(assignment_from_row).collect()
        })
    }

    pub async fn delete_role_assignment(&self, id: Uuid) -> StoreResult<()> {
        on_db!(self, |pool, durable| {
            let deleted = sqlx::query("DELETE FROM role_assignments WHERE id = $1")
                .bind(id.to_string())
                .execute(pool)
                .await?;
            if deleted.rows_affected() == 0 {
                return Err(StoreError::NotFound("role assignment"));
            }
            Ok(())
        })
    }

    pub async fn assignments_of_role(&self, role_name: &str) -> StoreResult<i64> {
        on_db!(self, |pool, durable| {
            Ok(sqlx::query_scalar(
                "SELECT COUNT(*) FROM role_assignments WHERE role_name = $1 COLLATE NOCASE",
            )
            .bind(role_name)
            .fetch_one(pool)
            .await?)
        })
    }

    pub async fn insert_custom_role(&self, role: &CustomRoleRecord) -> StoreResult<()> {
        on_db!(self, |pool, durable| {
            sqlx::query("INSERT INTO custom_roles (name, definition, created_at, updated_at) VALUES ($1, $2, $3, $4)")
            .bind(&role.name)
            .bind(&role.definition)
            .bind(role.created_at)
            .bind(role.updated_at)
            .execute(pool)
            .await
            .map_err(|e| match StoreError::from(e) {
                StoreError::Conflict(_) => StoreError::Conflict(format!("a role named '{}' already exists", role.name)),
                other => other,
            })?;
            Ok(())
        })
    }

    pub async fn update_custom_role(
        &self,
        name: &str,
        definition: &str,
        now: i64,
    ) -> StoreResult<()> {
        on_db!(self, |pool, durable| {
            let updated = sqlx::query(
                "UPDATE custom_roles SET definition = $1, updated_at = $2 WHERE name = $3",
            )
            .bind(definition)
            .bind(now)
            .bind(name)
            .execute(pool)
            .await?;
            if updated.rows_affected() == 0 {
                return Err(StoreError::NotFound("role definition"));
            }
            Ok(())
        })
    }

    pub async fn custom_roles(&self) -> StoreResult<Vec<CustomRoleRecord>> {
        on_db!(self, |pool, durable| {
            let rows = sqlx::query(
                "SELECT name, definition, created_at, updated_at FROM custom_roles ORDER BY name",
            )
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|row| {
                    Ok(CustomRoleRecord {
                        name: row.value("name")?,
                        definition: row.value("definition")?,
                        created_at: row.value("created_at")?,
                        updated_at: row.value("updated_at")?,
                    })
                })
                .collect()
        })
    }

    /// Deletes a custom role unless an assignment still uses it (checked in the same transaction).
    pub async fn delete_custom_role(&self, name: &str) -> StoreResult<()> {
        on_db!(self, |pool, durable| {
            let mut tx = pool.begin().await?;
            let in_use: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM role_assignments WHERE role_name = $1 COLLATE NOCASE",
            )
            .bind(name)
            .fetch_one(&mut *tx)
            .await?;
            if in_use > 0 {
                return Err(StoreError::Conflict(format!(
                    "role '{name}' is still assigned {in_use} time(s); delete those assignments first"
                )));
            }
            let deleted = sqlx::query("DELETE FROM custom_roles WHERE name = $1")
                .bind(name)
                .execute(&mut *tx)
                .await?;
            if deleted.rows_affected() == 0 {
                return Err(StoreError::NotFound("role definition"));
            }
            tx.commit().await?;
            Ok(())
        })
    }
}
