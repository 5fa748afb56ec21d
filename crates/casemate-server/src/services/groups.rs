//! Groups: principals that hold role assignments for their members. An administrator adds
//! members, or single sign-on does, from the provider's group claim at each sign-in.

use super::Services;
use super::signing::to_time;
use crate::error::{Error, Result};
use casemate_store::{MembershipSource, PrincipalRecord};
use casemate_types::wire::{CreateGroupRequest, Group, GroupMember, PrincipalKind};

fn group_view(record: PrincipalRecord) -> Result<Group> {
    Ok(Group {
        object_id: record.id,
        name: record.name,
        display_name: record.display_name,
        created_at: to_time(record.created_at)?,
    })
}

impl Services {
    pub async fn create_group(&self, request: &CreateGroupRequest) -> Result<Group> {
        let record = self.new_principal(
            PrincipalKind::Group,
            &request.name,
            request.display_name.as_ref(),
        )?;
        self.store.insert_principal(&record).await?;
        group_view(record)
    }

    pub async fn list_groups(&self) -> Result<Vec<Group>> {
        self.store
            .list_principals(PrincipalKind::Group.as_str())
            .await?
            .into_iter()
            .map(group_view)
            .collect()
    }

    pub async fn get_group(&self, reference: &str) -> Result<Group> {
        group_view(self.find_principal(reference, PrincipalKind::Group).await?)
    }

    /// Deletes the group with its memberships and role assignments.
    pub async fn delete_group(&self, reference: &str) -> Result<()> {
        let group = self.find_principal(reference, PrincipalKind::Group).await?;
        Ok(self.store.delete_principal(group.id).await?)
    }

    pub async fn group_members(&self, reference: &str) -> Result<Vec<GroupMember>> {
        let group = self.find_principal(reference, PrincipalKind::Group).await?;
        let members = self.store.group_members(group.id).await?;
        Ok(members
            .into_iter()
            .map(|member| GroupMember {
                object_id: member.member_id,
                name: member.name,
                kind: member.kind,
                from_sso: member.from_sso,
            })
            .collect())
    }

    /// Adds a user or service principal to the group; groups do not nest.
    pub async fn add_group_member(&self, reference: &str, member: &str) -> Result<()> {
        let group = self.find_principal(reference, PrincipalKind::Group).await?;
        let principal = self.resolve_principal(member).await?;
        let kind = PrincipalKind::parse(&principal.kind);
        if !matches!(
            kind,
            Some(PrincipalKind::User | PrincipalKind::ServicePrincipal)
        ) {
            return Err(Error::invalid(
                "member",
                format!(
                    "must be a user or a service principal, not a {}",
                    principal.kind
                ),
            ));
        }
        Ok(self
            .store
            .add_group_member(group.id, principal.id, MembershipSource::Admin)
            .await?)
    }

    pub async fn remove_group_member(&self, reference: &str, member: &str) -> Result<()> {
        let group = self.find_principal(reference, PrincipalKind::Group).await?;
        let principal = self.resolve_principal(member).await?;
        if self
            .store
            .remove_group_member(group.id, principal.id)
            .await?
        {
            Ok(())
        } else {
            Err(Error::NotFound(format!(
                "'{member}' among the members of group '{reference}'"
            )))
        }
    }
}
