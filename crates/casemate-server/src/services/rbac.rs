//! Role-based access control: decisions (the gate calls `authorize`), role assignments, role
//! definitions, and effective-access queries. Decisions are made by the pure engine in
//! `casemate-authz`; this module only gathers its inputs.

use super::signing::to_time;
use super::{Caller, Credential, Services};
use crate::error::{Error, Result};
use casemate_authz::catalogue::{self, ActionDef};
use casemate_authz::{Assignment, RoleDefinition, Scope, builtin_roles};
use casemate_store::{CustomRoleRecord, PrincipalRecord, RoleAssignmentRecord};
use casemate_types::wire::{
    CreateRoleAssignmentRequest, PermissionCheck, Permissions, RoleAssignment,
    RoleDefinitionDocument,
};
use std::borrow::Cow;
use uuid::Uuid;

/// An assignment with its role resolved and its scope parsed.
pub struct ResolvedAssignment {
    pub record: RoleAssignmentRecord,
    pub role: RoleDefinition,
    pub scope: Scope,
}

fn engine_view(resolved: &[ResolvedAssignment]) -> Vec<Assignment<'_>> {
    resolved
        .iter()
        .map(|r| Assignment::new(&r.role, r.scope.clone()))
        .collect()
}

fn action_def(action: &str) -> Result<&'static ActionDef> {
    let unknown = || Error::invalid("action", format!("'{action}' is not a known action"));
    match casemate_authz::provider::without_provider(action)
        .map_err(|rule| Error::invalid("action", rule))?
        .as_slice()
    {
        [one] => catalogue::lookup(one).ok_or_else(unknown),
        _ => Err(unknown()),
    }
}

pub fn parse_scope(field: &str, scope: &str) -> Result<Scope> {
    Scope::parse(scope).map_err(|e| Error::invalid(field, e.rule.to_string()))
}

fn document_of(role: &RoleDefinition) -> RoleDefinitionDocument {
    RoleDefinitionDocument {
        name: role.name.clone(),
        is_custom: Some(role.is_custom),
        description: role.description.clone(),
        actions: role.actions.clone(),
        not_actions: role.not_actions.clone(),
        data_actions: role.data_actions.clone(),
        not_data_actions: role.not_data_actions.clone(),
        assignable_scopes: role.assignable_scopes.clone(),
    }
}

/// The custom role a stored document describes.
fn role_of(document: &RoleDefinitionDocument) -> RoleDefinition {
    RoleDefinition {
        name: document.name.trim().to_owned(),
        description: document.description.clone(),
        is_custom: true,
        actions: document.actions.clone(),
        not_actions: document.not_actions.clone(),
        data_actions: document.data_actions.clone(),
        not_data_actions: document.not_data_actions.clone(),
        assignable_scopes: document.assignable_scopes.clone(),
    }
}

/// The custom role a document sent by a client describes, provider prefixes taken off, checked.
fn checked_role_of(document: &RoleDefinitionDocument) -> Result<RoleDefinition> {
    let mut role = role_of(document);
    let invalid = |e: casemate_authz::RoleError| Error::invalid(e.field, e.rule);
    casemate_authz::strip_provider_prefixes(&mut role).map_err(invalid)?;
    casemate_authz::validate_custom_role(&role).map_err(invalid)?;
    Ok(role)
}

/// The built-in roles and the stored custom ones.
fn with_custom_roles(custom: Vec<CustomRoleRecord>) -> Result<Vec<RoleDefinition>> {
    let mut roles = builtin_roles().to_vec();
    for record in custom {
        let document: RoleDefinitionDocument = serde_json::from_str(&record.definition)
            .map_err(|e| Error::internal(format!("custom role {}: {e}", record.name)))?;
        roles.push(role_of(&document));
    }
    Ok(roles)
}

/// The definition an assignment names, if it still exists (role names are case-insensitive).
fn role_in<'r>(
    roles: &'r [RoleDefinition],
    record: &RoleAssignmentRecord,
) -> Option<&'r RoleDefinition> {
    roles
        .iter()
        .find(|role| role.name.eq_ignore_ascii_case(&record.role_name))
}

impl Services {
    pub async fn role_definitions(&self) -> Result<Vec<RoleDefinition>> {
        with_custom_roles(self.store.custom_roles().await?)
    }

    async fn role_named(&self, name: &str) -> Result<RoleDefinition> {
        self.role_definitions()
            .await?
            .into_iter()
            .find(|role| role.name.eq_ignore_ascii_case(name))
            .ok_or_else(|| Error::NotFound(format!("role '{name}'")))
    }

    /// The principal's assignments whose role still exists, resolved for the engine.
    pub async fn resolved_assignments(
        &self,
        principal_id: Uuid,
    ) -> Result<Vec<ResolvedAssignment>> {
        let records = self.store.role_assignments_for_gate(principal_id).await?;
        let roles = self.roles_of(&records).await?;
        Ok(records
            .iter()
            .filter_map(|record| {
                let role = role_in(&roles, record)?.clone();
                let scope = Scope::parse(&record.scope).ok()?;
                Some(ResolvedAssignment {
                    record: record.clone(),
                    role,
                    scope,
                })
            })
            .collect())
    }

    /// The role definitions that `records` may name: the built-in ones alone unless one of the
    /// records names a custom role, so that the gate reads the custom roles only when it must.
    async fn roles_of(
        &self,
        records: &[RoleAssignmentRecord],
    ) -> Result<Cow<'static, [RoleDefinition]>> {
        let all_builtin = records
            .iter()
            .all(|r| role_in(builtin_roles(), r).is_some());
        Ok(if all_builtin {
            Cow::Borrowed(builtin_roles())
        } else {
            Cow::Owned(with_custom_roles(
                self.store.custom_roles_for_gate().await?,
            )?)
        })
    }

    /// The decision the gate asks for. Denied names the action and the scope.
    pub async fn authorize(&self, caller: &Caller, action: &str, scope: &Scope) -> Result<()> {
        if let Credential::RunToken { workspace, .. } = &caller.credential {
            let confined = Scope::parse(workspace).map_err(|e| Error::internal(e.to_string()))?;
            if !confined.contains(scope) {
                return Err(Error::ForbiddenOther(format!(
                    "a run token acts only within its workspace {workspace}, not at '{scope}'"
                )));
            }
        }
        self.authorize_principal(caller.principal_id, action, scope)
            .await
    }

    /// Whether a principal's role assignments grant `action` at `scope`, for a principal that
    /// is not the caller (a compute's identity pulling a run's image).
    pub async fn authorize_principal(
        &self,
        principal: Uuid,
        action: &str,
        scope: &Scope,
    ) -> Result<()> {
        let definition = action_def(action)
            .map_err(|_| Error::internal(format!("route action {action} is not catalogued")))?;
        // Borrowed from the kept rows, not resolved into copies: this runs on every request.
        let records = self.store.role_assignments_for_gate(principal).await?;
        let roles = self.roles_of(&records).await?;
        let granted = records.iter().any(|record| {
            Scope::parse(&record.scope).is_ok_and(|at| at.contains(scope))
                && role_in(&roles, record).is_some_and(|role| role.grants(definition))
        });
        if granted {
            Ok(())
        } else {
            Err(Error::Forbidden {
                action: action.to_owned(),
                scope: scope.to_string(),
            })
        }
    }

    /// Finds a principal by name, object id or client id.
    pub async fn resolve_principal(&self, reference: &str) -> Result<PrincipalRecord> {
        let found = match Uuid::try_parse(reference) {
            Ok(id) => match self.store.principal_by_id(id).await? {
                Some(principal) => Some(principal),
                None => self.store.principal_by_client_id(id).await?,
            },
            Err(_) => self.store.principal_by_name(reference).await?,
        };
        found.ok_or_else(|| Error::NotFound(format!("principal '{reference}'")))
    }

    pub(crate) async fn assignment_view(
        &self,
        record: RoleAssignmentRecord,
    ) -> Result<RoleAssignment> {
        let principal = self.store.principal_by_id(record.principal_id).await?;
        Ok(RoleAssignment {
            id: record.id,
            principal_id: record.principal_id,
            principal_name: principal
                .as_ref()
                .map(|p| p.name.clone())
                .unwrap_or_default(),
            principal_kind: principal.map(|p| p.kind).unwrap_or_default(),
            role: record.role_name,
            scope: record.scope,
            created_at: to_time(record.created_at)?,
        })
    }

    /// A scope must name something that exists: the root, or a resource (or something inside one).
    pub async fn require_scope_exists(&self, field: &str, scope: &Scope) -> Result<()> {
        for depth in [1, 2] {
            if let Some(prefix) = scope.truncated(depth)
                && self.store.resource(prefix.as_str()).await?.is_none()
            {
                return Err(Error::invalid(
                    field,
                    format!("'{scope}' names no existing resource ('{prefix}' does not exist)"),
                ));
            }
        }
        Ok(())
    }

    pub async fn check_permission(
        &self,
        principal: Option<&str>,
        caller: &Caller,
        action: &str,
        scope: &str,
    ) -> Result<PermissionCheck> {
        let definition = action_def(action)?;
        let scope = parse_scope("scope", scope)?;
        let principal_id = match principal {
            Some(reference) => self.resolve_principal(reference).await?.id,
            None => caller.principal_id,
        };
        let resolved = self.resolved_assignments(principal_id).await?;
        let mut granted_by = Vec::new();
        for assignment in resolved {
            if assignment.scope.contains(&scope) && assignment.role.grants(definition) {
                granted_by.push(self.assignment_view(assignment.record).await?);
            }
        }
        Ok(PermissionCheck {
            principal_id,
            action: definition.name.to_owned(),
            scope: scope.to_string(),
            allowed: !granted_by.is_empty(),
            granted_by,
        })
    }

    pub async fn list_permissions(
        &self,
        principal: Option<&str>,
        caller: &Caller,
        scope: &str,
    ) -> Result<Permissions> {
        let scope = parse_scope("scope", scope)?;
        let principal_id = match principal {
            Some(reference) => self.resolve_principal(reference).await?.id,
            None => caller.principal_id,
        };
        let resolved = self.resolved_assignments(principal_id).await?;
        let granted = casemate_authz::effective_actions(&engine_view(&resolved), &scope);
        Ok(Permissions {
            principal_id,
            scope: scope.to_string(),
            actions: granted
                .iter()
                .filter(|a| !a.data)
                .map(|a| a.name.to_owned())
                .collect(),
            data_actions: granted
                .iter()
                .filter(|a| a.data)
                .map(|a| a.name.to_owned())
                .collect(),
        })
    }

    /// The gate has checked `roleAssignments/write` at `scope`. Beyond that nobody may hand out
    /// a role granting an action they do not hold there, or outside the role's assignable scopes.
    pub async fn create_role_assignment(
        &self,
        caller: &Caller,
        scope: &str,
        request: &CreateRoleAssignmentRequest,
    ) -> Result<RoleAssignment> {
        let scope = parse_scope("scope", scope)?;
        self.require_scope_exists("scope", &scope).await?;
        let role = self
            .role_named(&request.role)
            .await
            .map_err(|_| Error::invalid("role", format!("no role is named '{}'", request.role)))?;
        let principal = self
            .resolve_principal(&request.assignee)
            .await
            .map_err(|_| {
                Error::invalid(
                    "assignee",
                    format!(
                        "no principal is named or identified by '{}'",
                        request.assignee
                    ),
                )
            })?;
        if !role.assignable_at(&scope) {
            return Err(Error::invalid(
                "scope",
                format!(
                    "'{scope}' is outside the AssignableScopes of role '{}'",
                    role.name
                ),
            ));
        }
        let assigner = self.resolved_assignments(caller.principal_id).await?;
        if let Some(missing) = casemate_authz::escalation(&engine_view(&assigner), &role, &scope) {
            return Err(Error::ForbiddenOther(format!(
                "role '{}' grants '{}' at '{scope}', which you do not hold there; nobody may hand out more than they have",
                role.name, missing.name
            )));
        }
        let record = RoleAssignmentRecord {
            id: Uuid::new_v4(),
            principal_id: principal.id,
            role_name: role.name.clone(),
            scope: scope.to_string(),
            created_at: self.now_unix(),
        };
        self.store
            .insert_role_assignment(&record)
            .await
            .map_err(|e| match Error::from(e) {
                Error::Conflict(_) => Error::Conflict(format!(
                    "'{}' already holds '{}' at '{scope}'",
                    principal.name, role.name
                )),
                other => other,
            })?;
        self.assignment_view(record).await
    }

    pub async fn list_role_assignments(
        &self,
        scope: &str,
        assignee: Option<&str>,
        role: Option<&str>,
        include_inherited: bool,
    ) -> Result<Vec<RoleAssignment>> {
        let scope = parse_scope("scope", scope)?;
        let assignee_id = match assignee {
            Some(reference) => Some(self.resolve_principal(reference).await?.id),
            None => None,
        };
        let mut out = Vec::new();
        for record in self.store.all_role_assignments().await? {
            let Ok(assigned_at) = Scope::parse(&record.scope) else {
                continue;
            };
            let in_view =
                scope.contains(&assigned_at) || (include_inherited && assigned_at.contains(&scope));
            let matches_assignee = assignee_id.is_none_or(|id| id == record.principal_id);
            let matches_role = role.is_none_or(|name| name.eq_ignore_ascii_case(&record.role_name));
            if in_view && matches_assignee && matches_role {
                out.push(self.assignment_view(record).await?);
            }
        }
        Ok(out)
    }

    /// Deletes an assignment made at or below `scope` (where the gate checked the caller's right).
    pub async fn delete_role_assignment(&self, scope: &str, id: Uuid) -> Result<()> {
        let scope = parse_scope("scope", scope)?;
        let record = self
            .store
            .role_assignment(id)
            .await?
            .filter(|record| Scope::parse(&record.scope).is_ok_and(|at| scope.contains(&at)))
            .ok_or_else(|| {
                Error::NotFound(format!("role assignment {id} at or below '{scope}'"))
            })?;
        Ok(self.store.delete_role_assignment(record.id).await?)
    }

    pub async fn role_definition(&self, name: &str) -> Result<RoleDefinitionDocument> {
        Ok(document_of(&self.role_named(name).await?))
    }

    pub async fn list_role_definitions(&self) -> Result<Vec<RoleDefinitionDocument>> {
        Ok(self
            .role_definitions()
            .await?
            .iter()
            .map(document_of)
            .collect())
    }

    pub async fn create_role_definition(
        &self,
        document: &RoleDefinitionDocument,
    ) -> Result<RoleDefinitionDocument> {
        if document.is_custom == Some(false) {
            return Err(Error::invalid(
                "IsCustom",
                "a role created here is always custom",
            ));
        }
        let role = checked_role_of(document)?;
        let now = self.now_unix();
        let stored = serde_json::to_string(&document_of(&role)).map_err(Error::internal)?;
        self.store
            .insert_custom_role(&CustomRoleRecord {
                name: role.name.clone(),
                definition: stored,
                created_at: now,
                updated_at: now,
            })
            .await?;
        Ok(document_of(&role))
    }

    pub async fn update_role_definition(
        &self,
        name: &str,
        document: &RoleDefinitionDocument,
    ) -> Result<RoleDefinitionDocument> {
        if !document.name.trim().eq_ignore_ascii_case(name) {
            return Err(Error::invalid(
                "Name",
                "cannot be changed; create a new role instead",
            ));
        }
        let existing = self.role_named(name).await?;
        if !existing.is_custom {
            return Err(Error::invalid(
                "Name",
                format!(
                    "'{}' is a built-in role and cannot be changed",
                    existing.name
                ),
            ));
        }
        let role = checked_role_of(document)?;
        let stored = serde_json::to_string(&document_of(&role)).map_err(Error::internal)?;
        self.store
            .update_custom_role(&existing.name, &stored, self.now_unix())
            .await?;
        Ok(document_of(&role))
    }

    pub async fn delete_role_definition(&self, name: &str) -> Result<()> {
        let existing = self.role_named(name).await?;
        if !existing.is_custom {
            return Err(Error::invalid(
                "Name",
                format!(
                    "'{}' is a built-in role and cannot be deleted",
                    existing.name
                ),
            ));
        }
        Ok(self.store.delete_custom_role(&existing.name).await?)
    }
}
