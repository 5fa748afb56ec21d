use crate::backend::{Conn, StoreRow, on_conn, on_db};
use crate::records::parse_uuid;
use crate::{PrincipalRecord, RoleAssignmentRecord, Store, StoreError, StoreResult};
use uuid::Uuid;

/// A static `SELECT` over principals, so every query stays a literal.
macro_rules! select_principals {
    ($tail:literal) => {
        concat!(
            "SELECT id, kind, name, display_name, enabled, created_at, password_hash, client_id FROM principals ",
            $tail
        )
    };
}

fn principal_from_row(row: &impl StoreRow) -> StoreResult<PrincipalRecord> {
    let client_id: Option<String> = row.value("client_id")?;
    Ok(PrincipalRecord {
        id: parse_uuid("principals.id", row.value("id")?)?,
        kind: row.value("kind")?,
        name: row.value("name")?,
        display_name: row.value("display_name")?,
        enabled: row.value("enabled")?,
        created_at: row.value("created_at")?,
        password_hash: row.value("password_hash")?,
        client_id: client_id
            .as_deref()
            .map(|v| parse_uuid("principals.client_id", v))
            .transpose()?,
    })
}

impl Store {
    pub async fn insert_principal(&self, principal: &PrincipalRecord) -> StoreResult<()> {
        on_db!(self, |pool, durable| {
            let mut connection = pool.acquire().await?;
            insert_principal_in(Conn::from(&mut *connection), principal).await
        })
    }

    pub async fn principal_by_id(&self, id: Uuid) -> StoreResult<Option<PrincipalRecord>> {
        self.kept_when_reading(
            |k| &mut k.gate.principals,
            crate::gate_cache::MAX_ROWS_PER_KIND,
            id,
            self.principal_row(id),
        )
        .await
    }

    pub(crate) async fn principal_row(&self, id: Uuid) -> StoreResult<Option<PrincipalRecord>> {
        on_db!(self, |pool, durable| {
            let row = sqlx::query(select_principals!("WHERE id = $1"))
                .bind(id.to_string())
                .fetch_optional(pool)
                .await?;
            row.as_ref().map(principal_from_row).transpose()
        })
    }

    pub async fn principal_by_name(&self, name: &str) -> StoreResult<Option<PrincipalRecord>> {
        on_db!(self, |pool, durable| {
            let row = sqlx::query(select_principals!("WHERE name = $1"))
                .bind(name)
                .fetch_optional(pool)
                .await?;
            row.as_ref().map(principal_from_row).transpose()
        })
    }

    pub async fn principal_by_client_id(
        &self,
        client_id: Uuid,
    ) -> StoreResult<Option<PrincipalRecord>> {
        on_db!(self, |pool, durable| {
            let row = sqlx::query(select_principals!("WHERE client_id = $1"))
                .bind(client_id.to_string())
                .fetch_optional(pool)
                .await?;
            row.as_ref().map(principal_from_row).transpose()
        })
    }

    pub async fn list_principals(&self, kind: &str) -> StoreResult<Vec<PrincipalRecord>> {
        on_db!(self, |pool, durable| {
            let rows = sqlx::query(select_principals!("WHERE kind = $1 ORDER BY name"))
                .bind(kind)
                .fetch_all(pool)
                .await?;
            rows.iter().map(principal_from_row).collect()
        })
    }

    /// Enables or disables a principal; disabling also revokes all its sessions, in one transaction.
    pub async fn set_principal_enabled(
        &self,
        id: Uuid,
        enabled: bool,
        now: i64,
    ) -> StoreResult<()> {
        on_db!(self, |pool, durable| {
            let mut tx = pool.begin().await?;
            let updated = sqlx::query("UPDATE principals SET enabled = $1 WHERE id = $2")
                .bind(enabled)
                .bind(id.to_string())
                .execute(&mut *tx)
                .await?;
            if updated.rows_affected() == 0 {
                return Err(StoreError::NotFound("principal"));
            }
            if !enabled {
                sqlx::query(
                "UPDATE sessions SET revoked_at = $1 WHERE principal_id = $2 AND revoked_at IS NULL",
            )
            .bind(now)
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// Deletes a principal with its credentials, sessions and role assignments.
    pub async fn delete_principal(&self, id: Uuid) -> StoreResult<()> {
        on_db!(self, |pool, durable| {
            let deleted = sqlx::query("DELETE FROM principals WHERE id = $1")
                .bind(id.to_string())
                .execute(pool)
                .await?;
            if deleted.rows_affected() == 0 {
                return Err(StoreError::NotFound("principal"));
            }
            Ok(())
        })
    }

    pub async fn insert_role_assignment(
        &self,
        assignment: &RoleAssignmentRecord,
    ) -> StoreResult<()> {
        on_db!(self, |pool, durable| {
            let mut connection = pool.acquire().await?;
            insert_role_assignment_in(Conn::from(&mut *connection), assignment).await
        })
    }

    pub async fn role_assignments_for(
        &self,
        principal_id: Uuid,
    ) -> StoreResult<Vec<RoleAssignmentRecord>> {
        on_db!(self, |pool, durable| {
            let rows = sqlx::query(
            "SELECT id, principal_id, role_name, scope, created_at FROM role_assignments WHERE principal_id = $1",
        )
        .bind(principal_id.to_string())
        .fetch_all(pool)
        .await?;
            rows.iter()
                .map(crate::resources::assignment_from_row)
                .collect()
        })
    }
}

pub(crate) async fn insert_principal_in(
    connection: Conn<'_>,
    principal: &PrincipalRecord,
) -> StoreResult<()> {
    on_conn!(connection, |connection| {
        sqlx::query(
        "INSERT INTO principals (id, kind, name, display_name, enabled, created_at, password_hash, client_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(principal.id.to_string())
    .bind(&principal.kind)
    .bind(&principal.name)
    .bind(&principal.display_name)
    .bind(principal.enabled)
    .bind(principal.created_at)
    .bind(&principal.password_hash)
    .bind(principal.client_id.map(|id| id.to_string()))
    .execute(connection)
    .await
    .map_err(|e| match StoreError::from(e) {
        StoreError::Conflict(_) => StoreError::Conflict(format!("a principal named '{}' already exists", principal.name)),
        other => other,
    })?;
        Ok(())
    })
}

pub(crate) async fn insert_role_assignment_in(
    connection: Conn<'_>,
    assignment: &RoleAssignmentRecord,
) -> StoreResult<()> {
    on_conn!(connection, |connection| {
        sqlx::query("INSERT INTO role_assignments (id, principal_id, role_name, scope, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(assignment.id.to_string())
        .bind(assignment.principal_id.to_string())
        .bind(&assignment.role_name)
        .bind(&assignment.scope)
        .bind(assignment.created_at)
        .execute(connection)
        .await?;
        Ok(())
    })
}
