//! Access tokens: PASETO v4.public (Ed25519) with the signing key's PASERK id in the footer.
//! Time checks take `now` from the caller's clock.

use crate::CryptoError;
use casemate_types::wire::{PrincipalKind, TokenScope};
use pasetors::Public;
use pasetors::keys::{AsymmetricKeyPair, AsymmetricPublicKey, AsymmetricSecretKey, Generate};
use pasetors::paserk::{FormatAsPaserk, Id};
use pasetors::token::UntrustedToken;
use pasetors::version4::{PublicToken, V4};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;
use zeroize::Zeroizing;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessClaims {
    pub iss: String,
    /// The principal's object id.
    pub sub: Uuid,
    pub kind: PrincipalKind,
    /// The sign-in session (refresh-token family); revoking it kills the token at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<Uuid>,
    pub scp: TokenScope,
    #[serde(with = "time::serde::rfc3339")]
    pub iat: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub nbf: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub exp: OffsetDateTime,
    pub jti: Uuid,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("not a v4.public PASETO token")]
    Malformed,
    #[error("the footer does not name a key id")]
    MissingKeyId,
    #[error("signed by unknown key {0}")]
    UnknownKey(String),
    #[error("signature does not verify")]
    BadSignature,
    #[error("claims are not valid: {0}")]
    BadClaims(String),
    #[error("issued by {0}, not by this server")]
    WrongIssuer(String),
    #[error("expired")]
    Expired,
    #[error("not valid yet")]
    NotYetValid,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Footer {
    kid: String,
}

/// An Ed25519 signing key with its PASERK id.
pub struct SigningKey {
    secret: AsymmetricSecretKey<V4>,
    verifier: VerifyingKey,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.verifier.kid)
            .finish_non_exhaustive()
    }
}

/// The public half of a signing key: verifies tokens, and is published.
#[derive(Clone)]
pub struct VerifyingKey {
    public: AsymmetricPublicKey<V4>,
    kid: String,
}

impl std::fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("kid", &self.kid)
            .finish()
    }
}

fn key_error(error: impl std::fmt::Display) -> CryptoError {
    CryptoError::SigningKey(error.to_string())
}

impl SigningKey {
    pub fn generate() -> Result<Self, CryptoError> {
        let pair = AsymmetricKeyPair::<V4>::generate().map_err(key_error)?;
        Self::from_parts(pair.secret, pair.public)
    }

    /// Restores a key from the 64 bytes that `secret_bytes` gave.
    pub fn from_secret_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        let secret = AsymmetricSecretKey::<V4>::from(bytes).map_err(key_error)?;
        let public =
            AsymmetricPublicKey::<V4>::from(bytes.get(32..).ok_or_else(|| key_error("short key"))?)
                .map_err(key_error)?;
        Self::from_parts(secret, public)
    }

    fn from_parts(
        secret: AsymmetricSecretKey<V4>,
        public: AsymmetricPublicKey<V4>,
    ) -> Result<Self, CryptoError> {
        let mut kid = String::new();
        Id::from(&public).fmt(&mut kid).map_err(key_error)?;
        Ok(Self {
            secret,
            verifier: VerifyingKey { public, kid },
        })
    }

    /// Ed25519 seed followed by the public key; wrap it before it touches storage.
    pub fn secret_bytes(&self) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(self.secret.as_bytes().to_vec())
    }

    pub fn kid(&self) -> &str {
        &self.verifier.kid
    }

    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.verifier
    }

    pub fn sign(&self, claims: &AccessClaims) -> Result<String, CryptoError> {
        let payload = serde_json::to_vec(claims).map_err(key_error)?;
        let footer = serde_json::to_vec(&Footer {
            kid: self.verifier.kid.clone(),
        })
        .map_err(key_error)?;
        PublicToken::sign(&self.secret, &payload, Some(&footer), None).map_err(key_error)
    }
}

impl VerifyingKey {
    pub fn from_public_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        let public = AsymmetricPublicKey::<V4>::from(bytes).map_err(key_error)?;
        let mut kid = String::new();
        Id::from(&public).fmt(&mut kid).map_err(key_error)?;
        Ok(Self { public, kid })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn public_bytes(&self) -> Vec<u8> {
        self.public.as_bytes().to_vec()
    }

    /// The PASERK form (`k4.public.…`) that other services load to verify tokens.
    pub fn paserk(&self) -> Result<String, CryptoError> {
        let mut out = String::new();
        self.public.fmt(&mut out).map_err(key_error)?;
        Ok(out)
    }
}

/// The key id a token claims to be signed with, read before any verification.
pub fn token_kid(token: &str) -> Result<String, TokenError> {
    let untrusted =
        UntrustedToken::<Public, V4>::try_from(token).map_err(|_| TokenError::Malformed)?;
    let footer: Footer = serde_json::from_slice(untrusted.untrusted_footer())
        .map_err(|_| TokenError::MissingKeyId)?;
    Ok(footer.kid)
}

/// Verifies signature, issuer and validity window. `lookup` maps a key id to a key this server trusts.
pub fn verify<'k>(
    token: &str,
    issuer: &str,
    now: OffsetDateTime,
    lookup: impl FnOnce(&str) -> Option<&'k VerifyingKey>,
) -> Result<AccessClaims, TokenError> {
    let untrusted =
        UntrustedToken::<Public, V4>::try_from(token).map_err(|_| TokenError::Malformed)?;
    let footer: Footer = serde_json::from_slice(untrusted.untrusted_footer())
        .map_err(|_| TokenError::MissingKeyId)?;
    let key = lookup(&footer.kid).ok_or_else(|| TokenError::UnknownKey(footer.kid.clone()))?;
    let trusted = PublicToken::verify(
        &key.public,
        &untrusted,
        Some(untrusted.untrusted_footer()),
        None,
    )
    .map_err(|_| TokenError::BadSignature)?;
    let claims: AccessClaims = serde_json::from_str(trusted.payload())
        .map_err(|e| TokenError::BadClaims(e.to_string()))?;
    check_claims(&claims, issuer, now)?;
    Ok(claims)
}

/// The issuer and validity window of claims whose signature was verified.
pub fn check_claims(
    claims: &AccessClaims,
    issuer: &str,
    now: OffsetDateTime,
) -> Result<(), TokenError> {
    if claims.iss != issuer {
        return Err(TokenError::WrongIssuer(claims.iss.clone()));
    }
    if now >= claims.exp {
        return Err(TokenError::Expired);
    }
    if now < claims.nbf {
        return Err(TokenError::NotYetValid);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use time::Duration;

    fn claims(now: OffsetDateTime) -> AccessClaims {
        AccessClaims {
            iss: "casemate".into(),
            sub: Uuid::new_v4(),
            kind: PrincipalKind::User,
            sid: Some(Uuid::new_v4()),
            scp: TokenScope::Full,
            iat: now,
            nbf: now,
            exp: now + Duration::hours(1),
            jti: Uuid::new_v4(),
        }
    }

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
    }

    #[test]
    fn verifies_its_own_tokens_within_their_window() {
        let key = SigningKey::generate().unwrap();
        let issued = claims(now());
        let token = key.sign(&issued).unwrap();
        assert!(token.starts_with("v4.public."));
        assert_eq!(token_kid(&token).unwrap(), key.kid());
        let lookup = |kid: &str| (kid == key.kid()).then(|| key.verifying_key());
        assert_eq!(verify(&token, "casemate", now(), lookup).unwrap(), issued);
        let later = now() + Duration::hours(1);
        assert_eq!(
            verify(&token, "casemate", later, |_| Some(key.verifying_key())),
            Err(TokenError::Expired)
        );
        let earlier = now() - Duration::seconds(1);
        assert_eq!(
            verify(&token, "casemate", earlier, |_| Some(key.verifying_key())),
            Err(TokenError::NotYetValid)
        );
        assert!(matches!(
            verify(&token, "other", now(), |_| Some(key.verifying_key())),
            Err(TokenError::WrongIssuer(_))
        ));
    }

    #[test]
    fn refuses_other_keys_and_altered_tokens() {
        let key = SigningKey::generate().unwrap();
        let other = SigningKey::generate().unwrap();
        let token = other.sign(&claims(now())).unwrap();
        assert!(matches!(
            verify(&token, "casemate", now(), |kid| (kid == key.kid())
                .then(|| key.verifying_key())),
            Err(TokenError::UnknownKey(_))
        ));
        // A token signed by another key but claiming this key's id.
        assert_eq!(
            verify(&token, "casemate", now(), |_| Some(key.verifying_key())),
            Err(TokenError::BadSignature)
        );
        let good = key.sign(&claims(now())).unwrap();
        let mut bytes = good.into_bytes();
        bytes[20] = if bytes[20] == b'A' { b'B' } else { b'A' };
        let altered = String::from_utf8(bytes).unwrap();
        assert!(verify(&altered, "casemate", now(), |_| Some(key.verifying_key())).is_err());
    }

    #[test]
    fn keys_survive_a_round_trip_through_bytes() {
        let key = SigningKey::generate().unwrap();
        let restored = SigningKey::from_secret_bytes(&key.secret_bytes()).unwrap();
        assert_eq!(restored.kid(), key.kid());
        let public = VerifyingKey::from_public_bytes(&key.verifying_key().public_bytes()).unwrap();
        assert_eq!(public.kid(), key.kid());
        assert!(public.paserk().unwrap().starts_with("k4.public."));
        let token = restored.sign(&claims(now())).unwrap();
        assert!(verify(&token, "casemate", now(), |_| Some(&public)).is_ok());
    }

    proptest! {
        #[test]
        fn arbitrary_input_never_panics_the_parser(input in ".{0,400}") {
            let key = SigningKey::generate().unwrap();
            let _ = token_kid(&input);
            let _ = verify(&input, "casemate", now(), |_| Some(key.verifying_key()));
        }

        #[test]
        fn arbitrary_suffixes_never_verify(suffix in "[A-Za-z0-9_.-]{0,200}") {
            let key = SigningKey::generate().unwrap();
            let input = format!("v4.public.{suffix}");
            prop_assert!(verify(&input, "casemate", now(), |_| Some(key.verifying_key())).is_err());
        }
    }
}
