//! Managed identities: user-assigned identities as resources of a resource group, the identities
//! of computes (with the seed's automatic grant), and tokens minted as an identity for a run on
//! a compute that holds it.

use crate::error::{Error, Result};
use crate::services::resources::resource_group_id;
use crate::services::{Caller, Services};
use casemate_authz::Scope;
use casemate_store::{PrincipalRecord, Provisioning, ResourceRecord, RoleAssignmentRecord};
use casemate_types::names::{validate_child_name, validate_note};
use casemate_types::wire::{
    Compute, ComputeIdentity, CreateIdentityRequest, Identity, IdentityTokenRequest, PrincipalKind,
    TokenResponse,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const IDENTITIES: &str = "identities";
/// What `assign_identity` names for a compute's system-assigned identity.
pub const SYSTEM_ASSIGNED: &str = "[system]";
const ASSIGN_ACTION: &str = "identities/assign/action";
/// The role the seed grants a compute's identity on the workspace's registry.
const ACR_PULL: &str = "AcrPull";

/// What an identity resource keeps: the principal it is, and the client id runs name it by.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct IdentityProperties {
    pub principal_id: Uuid,
    pub client_id: Uuid,
    #[serde(default)]
    pub description: Option<String>,
}

fn identity_principal_name(resource_id: &str) -> String {
    format!("identity:{resource_id}")
}

fn identity_view(record: &ResourceRecord) -> Result<Identity> {
    let properties: IdentityProperties =
        serde_json::from_str(&record.properties).map_err(Error::internal)?;
    Ok(Identity {
        id: record.id.clone(),
        name: record.name.clone(),
        principal_id: properties.principal_id,
        client_id: properties.client_id,
        description: properties.description,
        created_at: crate::services::signing::to_time(record.created_at)?,
        created_by: record.created_by.clone(),
    })
}

fn managed_identity(
    name: String,
    display_name: &str,
    client_id: Uuid,
    now: i64,
) -> PrincipalRecord {
    PrincipalRecord {
        id: Uuid::new_v4(),
        kind: PrincipalKind::ManagedIdentity.as_str().into(),
        name,
        display_name: display_name.to_owned(),
        enabled: true,
        created_at: now,
        password_hash: None,
        client_id: Some(client_id),
    }
}

/// The identity of `compute` a run acts as: the one `client_id` names, or else its
/// system-assigned identity, or else its only one. Refusals name `field`.
pub(crate) fn chosen_identity<'a>(
    compute: &'a Compute,
    client_id: Option<Uuid>,
    field: &str,
) -> Result<&'a ComputeIdentity> {
    match client_id {
        Some(client_id) => compute.identities.iter().find(|i| i.client_id == client_id),
        None => compute
            .identities
            .iter()
            .find(|i| i.kind == "SystemAssigned")
            .or_else(|| (compute.identities.len() == 1).then(|| &compute.identities[0])),
    }
    .ok_or_else(|| {
        Error::invalid(
            field,
            format!(
                "compute '{}' has no such identity: name one of its identities' client ids ({} held; create the compute with --assign-identity)",
                compute.name,
                compute.identities.len()
            ),
        )
    })
}

impl Services {
    pub async fn create_identity(
        &self,
        caller: &Caller,
        rg: &str,
        name: &str,
        request: &CreateIdentityRequest,
    ) -> Result<Identity> {
        validate_child_name("name", name)?;
        validate_note("description", request.description.as_deref())?;
        let group = self.get_resource_group(rg).await?;
        let id = format!("{}/{IDENTITIES}/{name}", group.id);
        let client_id = Uuid::new_v4();
        let principal = managed_identity(
            identity_principal_name(&id),
            name,
            client_id,
            self.now_unix(),
        );
        let properties = IdentityProperties {
            principal_id: principal.id,
            client_id,
            description: request.description.clone(),
        };
        let record = ResourceRecord {
            id,
            kind: IDENTITIES.to_owned(),
            parent: Some(group.id.clone()),
            name: name.to_owned(),
            properties: serde_json::to_string(&properties).map_err(Error::internal)?,
            created_at: self.now_unix(),
            created_by: caller.name.clone(),
        };
        self.store
            .provision(&Provisioning {
                resources: vec![record.clone()],
                identity: principal,
                assignments: Vec::new(),
            })
            .await
            .map_err(|error| match error {
                casemate_store::StoreError::Conflict(_) => {
                    Error::Conflict(format!("identity '{name}' exists in resource group '{rg}'"))
                }
                other => other.into(),
            })?;
        identity_view(&record)
    }

    pub async fn list_identities(&self, rg: &str) -> Result<Vec<Identity>> {
        let group = self.get_resource_group(rg).await?;
        self.store
            .resources(IDENTITIES, Some(&group.id))
            .await?
            .iter()
            .map(identity_view)
            .collect()
    }

    async fn identity_record(
        &self,
        field: &str,
        id: &str,
    ) -> Result<(ResourceRecord, IdentityProperties)> {
        let record = self
            .store
            .resource(id)
            .await?
            .filter(|r| r.kind == IDENTITIES)
            .ok_or_else(|| Error::invalid(field, format!("identity '{id}' does not exist")))?;
        let properties = serde_json::from_str(&record.properties).map_err(Error::internal)?;
        Ok((record, properties))
    }

    pub async fn get_identity(&self, rg: &str, name: &str) -> Result<Identity> {
        validate_child_name("name", name)?;
        let id = format!("{}/{IDENTITIES}/{name}", resource_group_id(rg));
        match self.identity_record("name", &id).await {
            Ok((record, _)) => identity_view(&record),
            Err(Error::InvalidInput { .. }) => Err(Error::NotFound(format!("identity '{name}'"))),
            Err(other) => Err(other),
        }
    }

    /// Deletes the identity, its principal and every role assignment it held; computes and
    /// workspaces that named it can no longer act as it.
    pub async fn delete_identity(&self, rg: &str, name: &str) -> Result<()> {
        let identity = self.get_identity(rg, name).await?;
        for assignment in self
            .store
            .role_assignments_for(identity.principal_id)
            .await?
        {
            self.store.delete_role_assignment(assignment.id).await?;
        }
        self.store
            .delete_resources(&[identity.id], &[identity.principal_id])
            .await?;
        Ok(())
    }

    /// A user-assigned identity the caller may attach (`identities/assign/action` on it, as
    /// Managed Identity Operator grants). Refusals name `field`.
    pub(crate) async fn assignable_identity(
        &self,
        caller: &Caller,
        field: &str,
        id: &str,
    ) -> Result<(ResourceRecord, IdentityProperties)> {
        let scope = crate::services::rbac::parse_scope(field, id)?;
        if scope.last_kind() != Some(IDENTITIES) || scope.truncated(2) != Some(scope.clone()) {
            return Err(Error::invalid(
                field,
                "must be a resource id of the form /resourceGroups/RG/identities/NAME",
            ));
        }
        let found = self.identity_record(field, id).await?;
        if self.authorize(caller, ASSIGN_ACTION, &scope).await.is_err() {
            return Err(Error::Forbidden {
                action: ASSIGN_ACTION.to_owned(),
                scope: scope.to_string(),
            });
        }
        Ok(found)
    }

    /// The identities a new compute gets from its `assign_identity` list: the records to write
    /// with it (a system-assigned principal and its AcrPull on the workspace's registry) and
    /// what the compute shows.
    pub(crate) async fn compute_identities(
        &self,
        caller: &Caller,
        compute_id: &str,
        registry: &str,
        requested: &[String],
    ) -> Result<(
        Vec<ComputeIdentity>,
        Option<(PrincipalRecord, RoleAssignmentRecord)>,
    )> {
        let mut identities = Vec::new();
        let mut system = None;
        for (index, entry) in requested.iter().enumerate() {
            let field = format!("assign_identity[{index}]");
            if entry.eq_ignore_ascii_case(SYSTEM_ASSIGNED) {
                if system.is_some() {
                    return Err(Error::invalid(&field, "names [system] twice"));
                }
                let client_id = Uuid::new_v4();
                let principal = managed_identity(
                    format!("compute:{compute_id}"),
                    compute_id.rsplit('/').next().unwrap_or(compute_id),
                    client_id,
                    self.now_unix(),
                );
                let registry_scope =
                    Scope::parse(registry).map_err(|e| Error::internal(e.to_string()))?;
                let grant = RoleAssignmentRecord {
                    id: Uuid::new_v4(),
                    principal_id: principal.id,
                    role_name: ACR_PULL.to_owned(),
                    scope: registry_scope.to_string(),
                    created_at: self.now_unix(),
                };
                identities.push(ComputeIdentity {
                    kind: "SystemAssigned".into(),
                    principal_id: principal.id,
                    client_id,
                    resource_id: None,
                });
                system = Some((principal, grant));
            } else {
                let (record, properties) = self.assignable_identity(caller, &field, entry).await?;
                if identities
                    .iter()
                    .any(|i: &ComputeIdentity| i.resource_id.as_deref() == Some(record.id.as_str()))
                {
                    return Err(Error::invalid(&field, "names the same identity twice"));
                }
                identities.push(ComputeIdentity {
                    kind: "UserAssigned".into(),
                    principal_id: properties.principal_id,
                    client_id: properties.client_id,
                    resource_id: Some(record.id),
                });
            }
        }
        Ok((identities, system))
    }

    /// A token as one of the identities of the run's compute, for the run itself (its own run
    /// token, and no other credential, may ask). It carries the identity's rights, not the
    /// submitter's, and lives no longer than the run may.
    pub async fn identity_token(
        &self,
        caller: &Caller,
        rg: &str,
        ws: &str,
        run: Uuid,
        request: &IdentityTokenRequest,
    ) -> Result<TokenResponse> {
        if caller.run_id() != Some(run) {
            return Err(Error::ForbiddenOther(format!(
                "only run {run}'s own token may get tokens as its compute's identity"
            )));
        }
        let storage = self.workspace_storage(rg, ws).await?;
        let record = self.run_in(&storage, run).await?;
        let compute = self.get_compute(rg, ws, &record.compute).await?;
        let chosen = chosen_identity(&compute, request.client_id, "client_id")?;
        validate_note("resource", request.resource.as_deref())?;
        let principal = self.enabled_principal(chosen.principal_id).await?;
        let lifetime =
            (record.time_limit_seconds - (self.now_unix() - record.submitted_at / 1000)).max(60);
        self.sign_identity_token(&principal, lifetime).await
    }
}
