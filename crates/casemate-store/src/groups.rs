//! Group membership, and the role assignments a principal holds directly or through its groups.

use crate::backend::{StoreRow, on_db};
use crate::records::parse_uuid;
use crate::resources::{AssignmentColumns, assignment_from_columns};
use crate::{RoleAssignmentRecord, Store, StoreResult};
use uuid::Uuid;

/// Who put a member in a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MembershipSource {
    /// An administrator; stays until one removes it.
    Admin,
    /// The provider's group claim at the member's last single sign-on.
    SingleSignOn,
}

impl MembershipSource {
    fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::SingleSignOn => "sso",
        }
    }
}

/// A member of a group, with how it came to be one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMemberRecord {
    pub member_id: Uuid,
    pub name: String,
    pub kind: String,
    pub from_sso: bool,
}

impl Store {
    /// Adds a member (again: no change); an administrator's add makes an SSO membership stay.
    pub async fn add_group_member(
        &self,
        group_id: Uuid,
        member_id: Uuid,
        source: MembershipSource,
    ) -> StoreResult<()> {
        on_db!(self, |pool, durable| {
            sqlx::query(
                "INSERT INTO group_members (group_id, member_id, source) VALUES ($1, $2, $3) \
                 ON CONFLICT (group_id, member_id) DO UPDATE SET source = \
                 CASE WHEN excluded.source = 'admin' THEN 'admin' ELSE group_members.source END",
            )
            .bind(group_id.to_string())
            .bind(member_id.to_string())
            .bind(source.as_str())
            .execute(pool)
            .await?;
            Ok(())
        })
    }

    /// Removes a member; false when it was not one.
    pub async fn remove_group_member(&self, group_id: Uuid, member_id: Uuid) -> StoreResult<bool> {
        on_db!(self, |pool, durable| {
            let removed =
                sqlx::query("DELETE FROM group_members WHERE group_id = $1 AND member_id = $2")
                    .bind(group_id.to_string())
                    .bind(member_id.to_string())
                    .execute(pool)
                    .await?;
            Ok(removed.rows_affected() > 0)
        })
    }

    pub async fn group_members(&self, group_id: Uuid) -> StoreResult<Vec<GroupMemberRecord>> {
        on_db!(self, |pool, durable| {
            // One query with the members' names, not one read per member.
            let rows = sqlx::query(
                "SELECT m.member_id, m.source, p.name, p.kind FROM group_members m \
                 JOIN principals p ON p.id = m.member_id \
                 WHERE m.group_id = $1 ORDER BY p.name",
            )
            .bind(group_id.to_string())
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|row| {
                    let source: String = row.value("source")?;
                    Ok(GroupMemberRecord {
                        member_id: parse_uuid("group_members.member_id", row.value("member_id")?)?,
                        name: row.value("name")?,
                        kind: row.value("kind")?,
                        from_sso: source == "sso",
                    })
                })
                .collect()
        })
    }

    /// Makes the member's single sign-on memberships the groups named `group_names` (those that
    /// exist); memberships an administrator made are left alone. Names the provider sends that
    /// no casemate group has are ignored.
    pub async fn replace_sso_memberships(
        &self,
        member_id: Uuid,
        group_names: &[String],
    ) -> StoreResult<()> {
        on_db!(self, |pool, durable| {
            let mut tx = pool.begin().await?;
            sqlx::query("DELETE FROM group_members WHERE member_id = $1 AND source = 'sso'")
                .bind(member_id.to_string())
                .execute(&mut *tx)
                .await?;
            for name in group_names {
                sqlx::query(
                    "INSERT INTO group_members (group_id, member_id, source) \
                     SELECT id, $1, 'sso' FROM principals WHERE kind = 'group' AND name = $2 \
                     ON CONFLICT (group_id, member_id) DO NOTHING",
                )
                .bind(member_id.to_string())
                .bind(name)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// The assignments the principal holds itself and through the groups it is a member of.
    /// On SQLite an inline read (see `inline`) answers when it can.
    pub async fn effective_role_assignments_for(
        &self,
        principal_id: Uuid,
    ) -> StoreResult<Vec<RoleAssignmentRecord>> {
        const EFFECTIVE_ASSIGNMENTS: &str = "SELECT id, principal_id, role_name, scope, created_at FROM role_assignments \
             WHERE principal_id = $1 \
             OR principal_id IN (SELECT group_id FROM group_members WHERE member_id = $1)";
        let principal = principal_id.to_string();
        if let Some(columns) = self
            .pools
            .inline_rows(EFFECTIVE_ASSIGNMENTS, [&principal], |row| {
                Ok(AssignmentColumns {
                    id: row.get("id")?,
                    principal_id: row.get("principal_id")?,
                    role_name: row.get("role_name")?,
                    scope: row.get("scope")?,
                    created_at: row.get("created_at")?,
                })
            })
        {
            return columns.into_iter().map(assignment_from_columns).collect();
        }
        on_db!(self, |pool, durable| {
            let rows = sqlx::query(EFFECTIVE_ASSIGNMENTS)
                .bind(&principal)
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(crate::resources::assignment_from_row)
                .collect()
        })
    }
}
