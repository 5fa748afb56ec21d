//! Authorization decisions: the caller's role assignments fed to the pure engine.

use super::{Caller, Services};
use crate::error::{Error, Result};
use casemate_authz::{Assignment, RoleDefinition, Scope, is_allowed, owner_role};

/// The roles this server knows by name.
fn builtin_role(name: &str) -> Option<RoleDefinition> {
    let owner = owner_role();
    (owner.name.eq_ignore_ascii_case(name)).then_some(owner)
}

impl Services {
    pub async fn authorize(&self, caller: &Caller, action: &str, scope: &Scope) -> Result<()> {
        let records = self.store.role_assignments_for(caller.principal_id).await?;
        let roles: Vec<(RoleDefinition, Scope)> = records
            .iter()
            .filter_map(|record| {
                Some((
                    builtin_role(&record.role_name)?,
                    Scope::parse(&record.scope).ok()?,
                ))
            })
            .collect();
        let assignments: Vec<Assignment<'_>> = roles
            .iter()
            .map(|(role, scope)| Assignment {
                role,
                scope: scope.clone(),
            })
            .collect();
        if is_allowed(&assignments, action, scope) {
            Ok(())
        } else {
            Err(Error::Forbidden {
                action: action.to_owned(),
                scope: scope.to_string(),
            })
        }
    }
}
