//! Container registries as resources: their settings and the admin user's credentials.

use crate::Sensitive;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// `PUT /resourceGroups/{rg}/registries/{name}`: a registry of its own, outside any workspace.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRegistryRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The admin user: off unless asked for.
    #[serde(default)]
    pub admin_user_enabled: bool,
}

/// `PATCH /resourceGroups/{rg}/registries/{name}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateRegistryRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_user_enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Registry {
    /// Its resource id, `/resourceGroups/RG/registries/NAME`.
    pub id: String,
    pub name: String,
    pub resource_group: String,
    /// What image references start with after the host: `RG/NAME` (`HOST/RG/NAME/REPO:TAG`).
    pub login_path: String,
    pub admin_user_enabled: bool,
    /// The workspace that created it and deletes it, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub created_by: String,
}

/// One of the admin user's two passwords.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegistryPassword {
    /// `password` or `password2`.
    pub name: String,
    pub value: Sensitive,
}

/// `POST …/registries/{name}/listCredentials`: the admin user, when it is enabled.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegistryCredentials {
    pub username: String,
    pub passwords: Vec<RegistryPassword>,
}

/// `POST …/registries/{name}/regenerateCredential`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegenerateCredentialRequest {
    /// `password` or `password2`.
    pub name: String,
}
