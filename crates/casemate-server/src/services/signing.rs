//! The token signing key ring: one active key signs; retired keys verify until the last token
//! they signed has expired. Private keys are stored wrapped by the root key.

use super::AuthSettings;
use crate::error::{Error, Result};
use casemate_crypto::KeyProvider;
use casemate_crypto::token::{AccessClaims, SigningKey, TokenError, VerifyingKey};
use casemate_store::{SigningKeyRecord, Store};
use casemate_types::wire::{PublicKey, PublicKeySet, SigningKeyStatus};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use time::{Duration, OffsetDateTime};

/// Tokens may be presented this long past what their key's window strictly needs (clock skew).
const SKEW: Duration = Duration::minutes(2);
/// How often this process re-reads the keys, for an unknown key id or before signing (another
/// replica may have rotated).
const RELOAD_INTERVAL: Duration = Duration::seconds(5);

struct Ring {
    active: Arc<SigningKey>,
    active_created_at: i64,
    verifiers: HashMap<String, (VerifyingKey, SigningKeyRecord)>,
    loaded_at: OffsetDateTime,
}

/// Past this many, the tokens already verified are forgotten and verified again.
const MAX_VERIFIED: usize = 10_000;

/// A token whose signature, issuer and window were checked: its claims and the key that signed it.
#[derive(Clone, Debug)]
pub struct VerifiedToken {
    pub kid: String,
    pub claims: AccessClaims,
}

pub struct SigningKeyRing {
    ring: RwLock<Ring>,
    /// Tokens whose signature this process has checked, by the SHA-256 of the token (never the
    /// token itself), with the key that signed them and their claims: a client presents the same
    /// token on every request until it expires, and an Ed25519 check is most of a request's CPU.
    /// The key must still be in the ring with its window open, and the claims are checked
    /// against the clock, on every use.
    verified: Mutex<HashMap<[u8; 32], VerifiedToken>>,
}

fn wrap_context(kid: &str) -> Vec<u8> {
    format!("casemate/signing-key/{kid}").into_bytes()
}

async fn read_ring(
    store: &Store,
    root_key: &dyn KeyProvider,
    now: OffsetDateTime,
) -> Result<Option<Ring>> {
    let records = store.signing_keys().await?;
    let Some(active_record) = records.iter().rev().find(|r| r.retired_at.is_none()) else {
        return Ok(None);
    };
    let secret = root_key
        .unwrap(
            &active_record.wrapped_secret,
            &wrap_context(&active_record.kid),
        )
        .map_err(|_| {
            Error::internal(format!(
                "the root key {} does not open signing key {}: every replica of an installation \
                 needs the same root key (the same root.key file, or the same HSM key)",
                root_key.key_id(),
                active_record.kid
            ))
        })?;
    let active = Arc::new(SigningKey::from_secret_bytes(&secret)?);
    let mut verifiers = HashMap::new();
    for record in records.iter() {
        let verifier = VerifyingKey::from_public_bytes(&record.public_key)?;
        verifiers.insert(record.kid.clone(), (verifier, record.clone()));
    }
    Ok(Some(Ring {
        active_created_at: active_record.created_at,
        active,
        verifiers,
        loaded_at: now,
    }))
}

impl SigningKeyRing {
    /// Loads the keys, creating the first one, and rotates if the active key is older than policy.
    pub async fn load(
        store: &Store,
        root_key: &dyn KeyProvider,
        now: OffsetDateTime,
        settings: &AuthSettings,
    ) -> Result<Self> {
        let ring = match read_ring(store, root_key, now).await? {
            Some(ring) => ring,
            None => {
                insert_new_key(store, root_key, now, settings).await?;
                read_ring(store, root_key, now)
                    .await?
                    .ok_or_else(|| Error::internal("signing key vanished after creation"))?
            }
        };
        let this = Self {
            ring: RwLock::new(ring),
            verified: Mutex::new(HashMap::new()),
        };
        let age = now.unix_timestamp() - this.read().active_created_at;
        if age >= settings.signing_key_rotation_days * 86_400 {
            this.rotate(store, root_key, now, settings).await?;
        }
        Ok(this)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Ring> {
        self.ring.read().unwrap_or_else(|p| p.into_inner())
    }

    /// The key that signs now. Another replica may have rotated: a ring older than a few
    /// seconds is re-read first, so no replica keeps signing with a key the others retired.
    pub async fn active(
        &self,
        store: &Store,
        root_key: &dyn KeyProvider,
        now: OffsetDateTime,
    ) -> Result<Arc<SigningKey>> {
        if self.read().loaded_at + RELOAD_INTERVAL <= now
            && let Some(ring) = read_ring(store, root_key, now).await?
        {
            *self.ring.write().unwrap_or_else(|p| p.into_inner()) = ring;
        }
        Ok(self.read().active.clone())
    }

    /// Makes a new key active; the old one keeps verifying the tokens it signed.
    pub async fn rotate(
        &self,
        store: &Store,
        root_key: &dyn KeyProvider,
        now: OffsetDateTime,
        settings: &AuthSettings,
    ) -> Result<String> {
        let kid = insert_new_key(store, root_key, now, settings).await?;
        let ring = read_ring(store, root_key, now)
            .await?
            .ok_or_else(|| Error::internal("no active signing key after rotation"))?;
        *self.ring.write().unwrap_or_else(|p| p.into_inner()) = ring;
        Ok(kid)
    }

    /// Verifies a token against the keys whose window is open; re-reads the keys (at most every
    /// few seconds) when a token names a key this process has not seen.
    pub async fn verify(
        &self,
        store: &Store,
        root_key: &dyn KeyProvider,
        token: &str,
        issuer: &str,
        now: OffsetDateTime,
    ) -> Result<VerifiedToken, TokenError> {
        let first = self.verify_loaded(token, issuer, now);
        let stale = self.read().loaded_at + RELOAD_INTERVAL <= now;
        match first {
            Err(TokenError::UnknownKey(_)) if stale => {
                if let Ok(Some(ring)) = read_ring(store, root_key, now).await {
                    *self.ring.write().unwrap_or_else(|p| p.into_inner()) = ring;
                }
                self.verify_loaded(token, issuer, now)
            }
            other => other,
        }
    }

    fn verify_loaded(
        &self,
        token: &str,
        issuer: &str,
        now: OffsetDateTime,
    ) -> Result<VerifiedToken, TokenError> {
        let ring = self.read();
        let trusted = |kid: &str| {
            ring.verifiers
                .get(kid)
                .filter(|(_, record)| {
                    record
                        .verify_until
                        .is_none_or(|until| now.unix_timestamp() < until)
                })
                .map(|(verifier, _)| verifier)
        };
        let digest = casemate_crypto::sha256(token.as_bytes());
        let seen = self.verified().get(&digest).cloned();
        if let Some(seen) = seen
            && trusted(&seen.kid).is_some()
        {
            casemate_crypto::token::check_claims(&seen.claims, issuer, now)?;
            return Ok(seen);
        }
        let claims = casemate_crypto::token::verify(token, issuer, now, trusted)?;
        let fresh = VerifiedToken {
            kid: casemate_crypto::token::token_kid(token)?,
            claims,
        };
        let mut verified = self.verified();
        if verified.len() >= MAX_VERIFIED {
            verified.clear();
        }
        verified.insert(digest, fresh.clone());
        Ok(fresh)
    }

    fn verified(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], VerifiedToken>> {
        self.verified.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn public_key_set(&self, issuer: &str, now: OffsetDateTime) -> Result<PublicKeySet> {
        let ring = self.read();
        let mut keys = Vec::new();
        for (verifier, record) in ring.verifiers.values() {
            if record
                .verify_until
                .is_some_and(|until| now.unix_timestamp() >= until)
            {
                continue;
            }
            keys.push(PublicKey {
                kid: verifier.kid().to_owned(),
                alg: "v4.public".into(),
                public_key: verifier.paserk()?,
                status: if record.retired_at.is_none() {
                    SigningKeyStatus::Active
                } else {
                    SigningKeyStatus::Retired
                },
                created_at: to_time(record.created_at)?,
                verify_until: record.verify_until.map(to_time).transpose()?,
            });
        }
        keys.sort_by_key(|key| std::cmp::Reverse(key.created_at));
        Ok(PublicKeySet {
            issuer: issuer.to_owned(),
            keys,
        })
    }
}

async fn insert_new_key(
    store: &Store,
    root_key: &dyn KeyProvider,
    now: OffsetDateTime,
    settings: &AuthSettings,
) -> Result<String> {
    let key = SigningKey::generate()?;
    let record = SigningKeyRecord {
        kid: key.kid().to_owned(),
        wrapped_secret: root_key.wrap(&key.secret_bytes(), &wrap_context(key.kid()))?,
        public_key: key.verifying_key().public_bytes(),
        created_at: now.unix_timestamp(),
        retired_at: None,
        verify_until: None,
    };
    let verify_until = now + Duration::seconds(settings.access_token_ttl_seconds) + SKEW;
    store
        .rotate_signing_key(&record, now.unix_timestamp(), verify_until.unix_timestamp())
        .await?;
    Ok(record.kid)
}

pub fn to_time(unix_seconds: i64) -> Result<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp(unix_seconds).map_err(Error::internal)
}

#[cfg(test)]
mod tests {
    use super::*;
    use casemate_crypto::FileKeyProvider;

    fn settings() -> AuthSettings {
        AuthSettings {
            issuer: "https://casemate.test".into(),
            access_token_ttl_seconds: 3600,
            session_ttl_seconds: 86_400,
            require_mfa: false,
            signing_key_rotation_days: 30,
            password_sign_in: true,
        }
    }

    /// Two replicas' rings over one database: after one rotates, the other signs with the new
    /// key once its ring is older than the reload interval, and verifies the new key's tokens.
    #[tokio::test]
    async fn a_ring_follows_a_rotation_made_by_another_replica() {
        let home = tempfile::tempdir().unwrap();
        let store = Store::open(&home.path().join("casemate.db")).await.unwrap();
        let root_key = FileKeyProvider::load_or_create(&home.path().join("root.key")).unwrap();
        let start = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let (settings, issuer) = (settings(), "https://casemate.test");
        let first = SigningKeyRing::load(&store, &root_key, start, &settings)
            .await
            .unwrap();
        let second = SigningKeyRing::load(&store, &root_key, start, &settings)
            .await
            .unwrap();
        let old_kid = second
            .active(&store, &root_key, start)
            .await
            .unwrap()
            .kid()
            .to_owned();

        let new_kid = first
            .rotate(&store, &root_key, start, &settings)
            .await
            .unwrap();
        assert_ne!(new_kid, old_kid);
        let within_interval = start + RELOAD_INTERVAL - Duration::seconds(1);
        let kept = second.active(&store, &root_key, within_interval).await;
        assert_eq!(kept.unwrap().kid(), old_kid);

        let after_interval = start + RELOAD_INTERVAL;
        let active = second
            .active(&store, &root_key, after_interval)
            .await
            .unwrap();
        assert_eq!(active.kid(), new_kid);
        let claims = AccessClaims {
            iss: issuer.into(),
            sub: uuid::Uuid::new_v4(),
            kind: casemate_types::wire::PrincipalKind::User,
            sid: None,
            scp: casemate_types::wire::TokenScope::Full,
            iat: after_interval,
            nbf: after_interval,
            exp: after_interval + Duration::minutes(5),
            jti: uuid::Uuid::new_v4(),
        };
        let token = first
            .active(&store, &root_key, after_interval)
            .await
            .unwrap()
            .sign(&claims)
            .unwrap();
        let verified = second
            .verify(&store, &root_key, &token, issuer, after_interval)
            .await
            .unwrap();
        assert_eq!(verified.claims.jti, claims.jti);
        assert_eq!(verified.kid, new_kid, "the key that signed it is named");
    }

    /// A token verified once is not trusted past its expiry, nor past its key's window, nor
    /// for another token that differs in one character.
    #[tokio::test]
    async fn a_verified_token_is_checked_again_on_every_use() {
        let home = tempfile::tempdir().unwrap();
        let store = Store::open(&home.path().join("casemate.db")).await.unwrap();
        let root_key = FileKeyProvider::load_or_create(&home.path().join("root.key")).unwrap();
        let start = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let (settings, issuer) = (settings(), "https://casemate.test");
        let ring = SigningKeyRing::load(&store, &root_key, start, &settings)
            .await
            .unwrap();
        let claims = |exp: OffsetDateTime| AccessClaims {
            iss: issuer.into(),
            sub: uuid::Uuid::new_v4(),
            kind: casemate_types::wire::PrincipalKind::User,
            sid: None,
            scp: casemate_types::wire::TokenScope::Full,
            iat: start,
            nbf: start,
            exp,
            jti: uuid::Uuid::new_v4(),
        };
        let key = ring.active(&store, &root_key, start).await.unwrap();
        let short = key.sign(&claims(start + Duration::minutes(5))).unwrap();
        let long = key.sign(&claims(start + Duration::hours(3))).unwrap();
        for token in [&short, &long] {
            ring.verify(&store, &root_key, token, issuer, start)
                .await
                .unwrap();
        }

        let expired = ring
            .verify(
                &store,
                &root_key,
                &short,
                issuer,
                start + Duration::minutes(5),
            )
            .await;
        assert_eq!(expired.unwrap_err(), TokenError::Expired);
        let other_issuer = ring
            .verify(&store, &root_key, &short, "https://elsewhere.test", start)
            .await;
        assert!(matches!(other_issuer, Err(TokenError::WrongIssuer(_))));
        let mut tampered = short.clone().into_bytes();
        let middle = tampered.len() / 2;
        tampered[middle] = if tampered[middle] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        let refused = ring
            .verify(&store, &root_key, &tampered, issuer, start)
            .await;
        assert!(refused.is_err(), "a changed token is verified afresh");

        ring.rotate(&store, &root_key, start, &settings)
            .await
            .unwrap();
        let window_closed = start + Duration::seconds(settings.access_token_ttl_seconds) + SKEW;
        let retired = ring
            .verify(&store, &root_key, &long, issuer, window_closed)
            .await;
        assert!(
            matches!(retired, Err(TokenError::UnknownKey(_))),
            "{retired:?}"
        );
    }
}
