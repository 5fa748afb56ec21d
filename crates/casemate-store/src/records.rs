//! Rows as the services see them.

use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrincipalRecord {
    pub id: Uuid,
    pub kind: String,
    pub name: String,
    pub display_name: String,
    pub enabled: bool,
    pub created_at: i64,
    pub password_hash: Option<String>,
    pub client_id: Option<Uuid>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TotpFactorRecord {
    pub principal_id: Uuid,
    pub sealed_secret: Vec<u8>,
    pub confirmed: bool,
    pub last_step: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSecretRecord {
    pub id: Uuid,
    pub principal_id: Uuid,
    pub secret_hash: Vec<u8>,
    pub hint: String,
    pub description: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatRecord {
    pub id: Uuid,
    pub principal_id: Uuid,
    pub name: String,
    pub secret_hash: Vec<u8>,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub id: Uuid,
    pub principal_id: Uuid,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshTokenRecord {
    pub id: Uuid,
    pub session_id: Uuid,
    pub secret_hash: Vec<u8>,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningKeyRecord {
    pub kid: String,
    pub wrapped_secret: Vec<u8>,
    pub public_key: Vec<u8>,
    pub created_at: i64,
    pub retired_at: Option<i64>,
    pub verify_until: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleAssignmentRecord {
    pub id: Uuid,
    pub principal_id: Uuid,
    pub role_name: String,
    pub scope: String,
    pub created_at: i64,
}

/// Reads a UUID stored as text, reporting a corrupt row instead of panicking.
pub(crate) fn parse_uuid(column: &'static str, value: &str) -> Result<Uuid, crate::StoreError> {
    Uuid::try_parse(value)
        .map_err(|_| crate::StoreError::Corrupt(format!("{column} is not a UUID")))
}

/// (name, value) rows, as tags and parameters are read.
pub(crate) fn name_values(
    rows: &[impl crate::backend::StoreRow],
) -> Result<Vec<(String, String)>, crate::StoreError> {
    rows.iter()
        .map(|row| Ok((row.value("name")?, row.value("value")?)))
        .collect()
}
