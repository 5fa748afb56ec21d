//! The token signing key ring: one active key signs; retired keys verify until the last token
//! they signed has expired. Private keys are stored wrapped by the root key.

use super::AuthSettings;
use crate::error::{Error, Result};
use casemate_crypto::KeyProvider;
use casemate_crypto::token::{AccessClaims, SigningKey, TokenError, VerifyingKey};
use casemate_store::{SigningKeyRecord, Store};
use casemate_types::wire::{PublicKey, PublicKeySet, SigningKeyStatus};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use time::{Duration, OffsetDateTime};

/// Tokens may be presented this long past what their key's window strictly needs (clock skew).
const SKEW: Duration = Duration::minutes(2);
/// How often an unknown key id may make this process re-read the keys (another process may have rotated).
const RELOAD_INTERVAL: Duration = Duration::seconds(5);

struct Ring {
    active: Arc<SigningKey>,
    active_created_at: i64,
    verifiers: HashMap<String, (VerifyingKey, SigningKeyRecord)>,
    loaded_at: OffsetDateTime,
}

pub struct SigningKeyRing {
    ring: RwLock<Ring>,
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
    let secret = root_key.unwrap(
        &active_record.wrapped_secret,
        &wrap_context(&active_record.kid),
    )?;
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

    pub fn active(&self) -> Arc<SigningKey> {
        self.read().active.clone()
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
    ) -> Result<AccessClaims, TokenError> {
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
    ) -> Result<AccessClaims, TokenError> {
        let ring = self.read();
        casemate_crypto::token::verify(token, issuer, now, |kid| {
            ring.verifiers
                .get(kid)
                .filter(|(_, record)| {
                    record
                        .verify_until
                        .is_none_or(|until| now.unix_timestamp() < until)
                })
                .map(|(verifier, _)| verifier)
        })
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
