//! The Docker registry token flow: a 401 from `/v2/` challenges with
//! `Bearer realm=".../oauth2/registry-token",service="casemate",scope="repository:NAME:ACTIONS"`,
//! and the client trades its credentials here for a short-lived access token. Accepted: a
//! personal access token (any user name), a casemate access token (as the password), a
//! service principal's client id and secret, or a registry's admin user (`RG/NAME` and one of
//! its passwords) while it is enabled. The token carries the principal's own rights; the
//! gate decides each registry request by them, so `scope` is informational.

use crate::api::ApiResult;
use crate::error::{Error, Result};
use crate::gate::ClientAddress;
use crate::services::Services;
use crate::services::sign_ins::{note_signed_in, note_signed_in_as};
use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use base64::Engine;
use casemate_crypto::opaque;
use casemate_types::{ErrorBody, Sensitive};
use serde::Serialize;
use std::sync::Arc;

/// How long a registry token minted from a personal access token or admin password lives.
const REGISTRY_TOKEN_SECONDS: i64 = 300;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RegistryToken {
    token: Sensitive,
    access_token: Sensitive,
    expires_in: i64,
}

fn basic_credentials(headers: &HeaderMap) -> Result<(String, Sensitive)> {
    let refused = || Error::unauthenticated("the registry token endpoint takes Basic credentials");
    let value = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(refused)?;
    let (scheme, encoded) = value.split_once(' ').ok_or_else(refused)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(refused());
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .map(Sensitive::new)
        .ok_or_else(refused)?;
    let (username, secret) = decoded.expose().split_once(':').ok_or_else(refused)?;
    Ok((username.to_owned(), Sensitive::new(secret)))
}

impl Services {
    async fn registry_token(
        &self,
        username: &str,
        secret: &Sensitive,
        client_address: std::net::IpAddr,
    ) -> Result<RegistryToken> {
        let (token, expires_in) = if secret
            .expose()
            .starts_with(opaque::PERSONAL_ACCESS_TOKEN_PREFIX)
        {
            let caller = self.authenticate_pat(None, secret).await?;
            let principal = self.enabled_principal(caller.principal_id).await?;
            let minted = self
                .sign_identity_token(&principal, REGISTRY_TOKEN_SECONDS)
                .await?;
            note_signed_in(&principal);
            (minted.access_token, minted.expires_in)
        } else if secret.expose().starts_with(opaque::CLIENT_SECRET_PREFIX) {
            let minted = self
                .client_credentials_grant(username, secret, client_address)
                .await?;
            (minted.access_token, minted.expires_in)
        } else if secret
            .expose()
            .starts_with(opaque::REGISTRY_ADMIN_PASSWORD_PREFIX)
        {
            let admin = self.authenticate_registry_admin(username, secret).await?;
            let minted = self
                .sign_identity_token(&admin, REGISTRY_TOKEN_SECONDS)
                .await?;
            note_signed_in(&admin);
            (minted.access_token, minted.expires_in)
        } else {
            let caller = self.authenticate_bearer(secret).await?;
            note_signed_in_as(caller.principal_id, &caller.name);
            let expires_in = (caller.token_info().expires_at - self.now()).whole_seconds();
            (secret.clone(), expires_in)
        };
        Ok(RegistryToken {
            token: token.clone(),
            access_token: token,
            expires_in,
        })
    }
}

/// Trades Basic credentials for a registry token (the realm of `/v2/`'s challenge).
#[utoipa::path(get, path = "/oauth2/registry-token", tag = "registries",
    responses((status = 200, body = RegistryToken), (status = 401, body = ErrorBody)))]
pub async fn registry_token(
    State(s): State<Arc<Services>>,
    axum::extract::Extension(address): axum::extract::Extension<ClientAddress>,
    headers: HeaderMap,
) -> ApiResult<Json<RegistryToken>> {
    let (username, secret) = basic_credentials(&headers)?;
    Ok(Json(s.registry_token(&username, &secret, address.0).await?))
}
