//! Managed identities: user-assigned ones as resources, and the identities of computes.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

/// `PUT /resourceGroups/{rg}/identities/{name}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateIdentityRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A user-assigned managed identity: a principal with no credentials of its own, whose tokens
/// casemate mints for the runs (and workspaces) that hold it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Identity {
    /// Its resource id, `/resourceGroups/RG/identities/NAME`.
    pub id: String,
    pub name: String,
    /// What role assignments name (`--assignee`).
    pub principal_id: Uuid,
    /// What a run names to get a token as this identity.
    pub client_id: Uuid,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub created_by: String,
}

/// One identity a compute holds: its system-assigned one, or a user-assigned one attached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ComputeIdentity {
    /// `SystemAssigned` or `UserAssigned`.
    pub kind: String,
    pub principal_id: Uuid,
    pub client_id: Uuid,
    /// The user-assigned identity's resource id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_id: Option<String>,
}

/// `POST …/runs/{run}/identityToken`, with the run's own token.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IdentityTokenRequest {
    /// Which of the compute's identities; without it, the only one, or the system-assigned one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<Uuid>,
    /// The resource the token is for (recorded in the activity log), e.g. a registry's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
}
