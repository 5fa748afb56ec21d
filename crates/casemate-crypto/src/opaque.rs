//! Opaque bearer credentials (refresh tokens, personal access tokens, client secrets):
//! `{prefix}_{id}_{secret}`. The id finds the record; only SHA-256 of the secret is stored,
//! and it is compared in constant time. The secret has 256 bits of entropy, so a fast hash is right.

use crate::{CryptoError, constant_time_eq, random_bytes, sha256};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use casemate_types::Sensitive;
use uuid::Uuid;

pub const REFRESH_TOKEN_PREFIX: &str = "cmr";
pub const PERSONAL_ACCESS_TOKEN_PREFIX: &str = "cmp";
pub const CLIENT_SECRET_PREFIX: &str = "cms";
/// A web service's short-lived scoring token (token-auth services only).
pub const SERVICE_TOKEN_PREFIX: &str = "cmt";
/// A container registry's admin password.
pub const REGISTRY_ADMIN_PASSWORD_PREFIX: &str = "cma";

pub struct OpaqueCredential {
    pub id: Uuid,
    pub token: Sensitive,
    pub secret_hash: [u8; 32],
}

pub fn mint(prefix: &str) -> Result<OpaqueCredential, CryptoError> {
    let id = Uuid::new_v4();
    let secret = random_bytes::<32>()?;
    let encoded = zeroize::Zeroizing::new(URL_SAFE_NO_PAD.encode(secret.as_ref()));
    let token = Sensitive::new(format!("{prefix}_{}_{}", id.simple(), encoded.as_str()));
    Ok(OpaqueCredential {
        id,
        token,
        secret_hash: sha256(encoded.as_bytes()),
    })
}

/// Splits a presented credential into its record id and the hash of its secret part.
/// Returns `None` for anything not shaped like a credential of this prefix.
pub fn parse(prefix: &str, presented: &str) -> Option<(Uuid, [u8; 32])> {
    let rest = presented.strip_prefix(prefix)?.strip_prefix('_')?;
    let (id, secret) = rest.split_once('_')?;
    if id.len() != 32 || secret.len() != 43 {
        return None;
    }
    let id = Uuid::try_parse(id).ok()?;
    Some((id, sha256(secret.as_bytes())))
}

pub fn hash_matches(stored: &[u8], presented_hash: &[u8; 32]) -> bool {
    constant_time_eq(stored, presented_hash)
}

/// The first few characters of a credential, safe to show in listings.
pub fn hint(token: &Sensitive) -> String {
    token.expose().chars().take(8).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn minted_credentials_parse_back() {
        let credential = mint(REFRESH_TOKEN_PREFIX).unwrap();
        let (id, hash) = parse(REFRESH_TOKEN_PREFIX, credential.token.expose()).unwrap();
        assert_eq!(id, credential.id);
        assert!(hash_matches(&credential.secret_hash, &hash));
        assert!(parse(PERSONAL_ACCESS_TOKEN_PREFIX, credential.token.expose()).is_none());
    }

    #[test]
    fn a_changed_secret_does_not_match() {
        let credential = mint(CLIENT_SECRET_PREFIX).unwrap();
        let mut altered = credential.token.expose().to_owned();
        let last = altered.pop().unwrap();
        altered.push(if last == 'A' { 'B' } else { 'A' });
        let (_, hash) = parse(CLIENT_SECRET_PREFIX, &altered).unwrap();
        assert!(!hash_matches(&credential.secret_hash, &hash));
    }

    proptest! {
        #[test]
        fn parse_never_panics(input in ".{0,200}") {
            let _ = parse(REFRESH_TOKEN_PREFIX, &input);
        }
    }
}
