//! Resource groups, workspaces and their associated resources.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ResourceGroup {
    pub id: String,
    pub name: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub created_by: String,
}

/// `PUT /resourceGroups/{rg}/workspaces/{ws}`. The options here are fixed at creation.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWorkspaceRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    /// High business impact: scratch space is wiped between runs and run environments are not recorded.
    #[serde(default)]
    pub hbi_workspace: bool,
    /// Resource id of the vault holding the customer-managed key (with `resource_cmk_uri`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmk_keyvault: Option<String>,
    /// Key id URI naming the key version: `https://HOST/resourceGroups/RG/vaults/V/keys/K/VERSION`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_cmk_uri: Option<String>,
    /// Resource id of an existing vault to attach instead of creating one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_vault: Option<String>,
    /// Resource id of an existing container registry to attach instead of creating one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_registry: Option<String>,
    #[serde(default)]
    pub registry_admin_enabled: bool,
    /// Resource id of a user-assigned identity to use as the workspace's primary identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_user_assigned_identity: Option<String>,
}

/// `PATCH`: only description and tags change. Naming an option fixed at creation is a 400.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateWorkspaceRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub hbi_workspace: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub cmk_keyvault: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub resource_cmk_uri: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub primary_user_assigned_identity: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub key_vault: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub container_registry: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WorkspaceIdentity {
    /// Always `SystemAssigned`.
    #[serde(rename = "type")]
    pub kind: String,
    pub principal_id: Uuid,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Workspace {
    pub id: String,
    pub name: String,
    pub resource_group: String,
    pub description: String,
    pub tags: BTreeMap<String, String>,
    pub hbi_workspace: bool,
    pub cmk_keyvault: Option<String>,
    pub resource_cmk_uri: Option<String>,
    pub primary_user_assigned_identity: Option<String>,
    pub key_vault: String,
    pub storage: String,
    pub container_registry: String,
    pub registry_admin_enabled: bool,
    pub monitoring: String,
    pub identity: WorkspaceIdentity,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub created_by: String,
}

/// What `resynckeys` restored.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ResyncReport {
    pub restored: Vec<RoleAssignment>,
}

/// What `rewrap` did: the workspace's data keys now wrapped by `wrapping_key`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RewrapReport {
    pub data_keys: usize,
    pub rewrapped: usize,
    /// The key that wraps them: a key version id, or `service-managed`.
    pub wrapping_key: String,
}

/// A blob stored for a workspace (sealed at rest); `size` is the plaintext size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Artifact {
    pub path: String,
    pub size: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RoleAssignment {
    pub id: Uuid,
    pub principal_id: Uuid,
    pub principal_name: String,
    pub principal_kind: String,
    pub role: String,
    pub scope: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// `POST /roleAssignments?scope=S`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRoleAssignmentRequest {
    /// A user, service principal or group name, an object id, or a client id.
    pub assignee: String,
    pub role: String,
}

/// A role definition in the cloud platform's JSON shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct RoleDefinitionDocument {
    pub name: String,
    #[serde(default)]
    pub is_custom: Option<bool>,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub actions: Vec<String>,
    #[serde(default)]
    pub not_actions: Vec<String>,
    #[serde(default)]
    pub data_actions: Vec<String>,
    #[serde(default)]
    pub not_data_actions: Vec<String>,
    #[serde(default)]
    pub assignable_scopes: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PermissionCheck {
    pub principal_id: Uuid,
    pub action: String,
    pub scope: String,
    pub allowed: bool,
    /// The assignments that grant the action there.
    pub granted_by: Vec<RoleAssignment>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Permissions {
    pub principal_id: Uuid,
    pub scope: String,
    pub actions: Vec<String>,
    pub data_actions: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ActivityEntry {
    pub seq: i64,
    pub id: String,
    #[serde(with = "time::serde::rfc3339")]
    pub time: OffsetDateTime,
    /// The action the request needed, e.g. `workspaces/write`.
    pub operation: String,
    /// `Started`, `Succeeded`, `Failed` or `Denied`.
    pub outcome: String,
    /// The HTTP status of the response; 0 on `Started`.
    pub status: u16,
    pub caller_id: String,
    pub caller_name: String,
    pub resource_id: String,
    pub correlation_id: String,
    pub client_address: String,
    pub user_agent: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ActivityPage {
    pub entries: Vec<ActivityEntry>,
    /// Pass as `page` to get the next entries; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_page: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct VerifyReport {
    pub records_checked: i64,
    pub intact: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_problem: Option<VerifyProblem>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct VerifyProblem {
    pub seq: i64,
    pub problem: String,
}
