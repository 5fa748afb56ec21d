//! Vault secrets. Values travel as `Sensitive`; listings never carry them.

use crate::secret::Sensitive;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use time::OffsetDateTime;

/// `PUT …/secrets/{name}`: adds a version.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetSecretRequest {
    pub value: Sensitive,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Not valid before this time (RFC 3339).
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub not_before: Option<OffsetDateTime>,
    /// Not valid from this time on (RFC 3339).
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub expires: Option<OffsetDateTime>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

impl SetSecretRequest {
    pub fn value(value: Sensitive) -> Self {
        Self {
            value,
            content_type: None,
            enabled: None,
            not_before: None,
            expires: None,
            tags: BTreeMap::new(),
        }
    }
}

/// `PATCH …/secrets/{name}[/versions/{version}]`: attributes only, never the value.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateSecretRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub not_before: Option<OffsetDateTime>,
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub expires: Option<OffsetDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SecretAttributes {
    pub enabled: bool,
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub not_before: Option<OffsetDateTime>,
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub expires: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated: OffsetDateTime,
    pub recoverable_days: u32,
}

/// A secret without its value: what listings and writes return.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SecretItem {
    pub name: String,
    /// `{vault id}/secrets/{name}/versions/{version}`.
    pub id: String,
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    pub attributes: SecretAttributes,
    pub tags: BTreeMap<String, String>,
}

/// A secret with its value: what a get returns.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SecretBundle {
    #[serde(flatten)]
    pub item: SecretItem,
    pub value: Sensitive,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeletedSecret {
    pub name: String,
    #[serde(with = "time::serde::rfc3339")]
    pub deleted: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub scheduled_purge: OffsetDateTime,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretNames {
    pub names: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetSecretsRequest {
    pub secrets: BTreeMap<String, Sensitive>,
}

/// Batch get: the values found, and the names that were not.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SecretValues {
    pub secrets: BTreeMap<String, Sensitive>,
    pub not_found: Vec<String>,
}

/// `PUT …/keys/{name}`: a new AES-256 key (the only kind casemate makes).
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKeyRequest {
    /// `AES` (default); nothing else is offered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kty: Option<String>,
    /// 256 (default); nothing else is offered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_size: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct KeyVersion {
    pub version: String,
    /// `https://HOST/resourceGroups/RG/vaults/V/keys/K/VERSION`.
    pub kid: String,
    pub enabled: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct VaultKey {
    pub name: String,
    pub kty: String,
    pub enabled: bool,
    /// The newest version's key id: what new encryption uses.
    pub kid: String,
    pub versions: Vec<KeyVersion>,
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateKeyRequest {
    pub enabled: bool,
}

/// Wrap or unwrap: `value` is base64url (no padding).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyOperationRequest {
    pub value: Sensitive,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct KeyOperationResult {
    /// The key version that did the operation.
    pub kid: String,
    pub value: Sensitive,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeletedKey {
    pub name: String,
    #[serde(with = "time::serde::rfc3339")]
    pub deleted: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub scheduled_purge: OffsetDateTime,
}

/// `PATCH /resourceGroups/{rg}/vaults/{vault}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateVaultRequest {
    /// 7-90 days that deleted secrets and keys are kept before they may be purged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub soft_delete_retention_days: Option<u32>,
    /// Once on, deleted items cannot be purged before their retention ends; it cannot be turned off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purge_protection: Option<bool>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct VaultProperties {
    pub id: String,
    pub soft_delete_retention_days: u32,
    pub purge_protection: bool,
}
