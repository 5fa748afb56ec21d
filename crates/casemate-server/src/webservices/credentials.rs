//! A web service's credentials: its keys (key auth) and service tokens (token auth), and the
//! gate's check of a scoring request against them.

use super::service::{AUTH_KEY, AUTH_TOKEN, KEY_SLOTS, service_resource_id};
use crate::error::{Error, Result};
use crate::services::resources::workspace_id;
use crate::services::{Caller, Credential, Services};
use casemate_authz::Scope;
use casemate_crypto::opaque;
use casemate_store::{ScoringRecord, ServiceTokenRecord, WebServiceRecord};
use casemate_types::Sensitive;
use casemate_types::clock::unix_millis;
use casemate_types::wire::{ServiceKeys, ServiceToken};
use std::sync::Arc;
use uuid::Uuid;

/// The action a token's holder must still have at the service each time it is used.
pub const SCORE_ACTION: &str = "workspaces/services/score/action";

/// Who a scoring request came from, once the gate has checked its key or token.
#[derive(Debug, Clone)]
pub struct ScoringTarget {
    pub service: Arc<WebServiceRecord>,
    /// `key:primary`, `key:secondary` or `token:NAME`, as the scoring log records it.
    pub credential: String,
}

pub(super) fn key_context(service_id: &str, slot: &str) -> Vec<u8> {
    format!("web-service-key/{service_id}/{slot}").into_bytes()
}

impl Services {
    fn key_mode(record: &WebServiceRecord) -> Result<()> {
        if record.auth_mode != AUTH_KEY {
            return Err(Error::Conflict(format!(
                "service '{}' uses token auth: it has no keys; get a token with `casemate service token`",
                record.name
            )));
        }
        Ok(())
    }

    pub async fn list_service_keys(&self, rg: &str, ws: &str, name: &str) -> Result<ServiceKeys> {
        let storage = self.workspace_storage(rg, ws).await?;
        let record = self.service_record(&storage, name).await?;
        Self::key_mode(&record)?;
        let open = |sealed: Vec<u8>, slot: &'static str| {
            let id = record.id.clone();
            async move {
                let plaintext = self.open_small(&sealed, &key_context(&id, slot)).await?;
                String::from_utf8(plaintext.to_vec())
                    .map(Sensitive::new)
                    .map_err(|_| Error::internal("a stored service key is not text"))
            }
        };
        Ok(ServiceKeys {
            primary_key: open(record.primary_key.clone(), "primary").await?,
            secondary_key: open(record.secondary_key.clone(), "secondary").await?,
        })
    }

    /// Replaces one key; the old one is refused from the next request on.
    pub async fn regenerate_service_key(
        &self,
        rg: &str,
        ws: &str,
        name: &str,
        slot: &str,
    ) -> Result<ServiceKeys> {
        let slot = KEY_SLOTS
            .into_iter()
            .find(|s| s.eq_ignore_ascii_case(slot))
            .ok_or_else(|| Error::invalid("key_type", "must be 'primary' or 'secondary'"))?;
        let storage = self.workspace_storage(rg, ws).await?;
        let record = self.service_record(&storage, name).await?;
        Self::key_mode(&record)?;
        let key = casemate_crypto::random_text()?;
        let sealed = self
            .seal_small(
                &storage,
                key.expose().as_bytes(),
                &key_context(&record.id, slot),
            )
            .await?;
        let hash = casemate_crypto::sha256(key.expose().as_bytes());
        self.store
            .replace_web_service_key(&record.id, slot, &sealed, &hash, unix_millis(self.now()))
            .await?;
        self.list_service_keys(rg, ws, name).await
    }

    /// A short-lived token for a token-auth service, for the caller (who holds the score action
    /// there, as the gate checked, and must still hold it whenever the token is used).
    pub async fn service_token(
        &self,
        caller: &Caller,
        rg: &str,
        ws: &str,
        name: &str,
    ) -> Result<ServiceToken> {
        let storage = self.workspace_storage(rg, ws).await?;
        let record = self.service_record(&storage, name).await?;
        if record.auth_mode != AUTH_TOKEN {
            return Err(Error::Conflict(format!(
                "service '{name}' uses key auth: it takes its keys, not tokens (`casemate service keys list`)"
            )));
        }
        let credential = opaque::mint(opaque::SERVICE_TOKEN_PREFIX)?;
        let now = self.now();
        let lifetime = time::Duration::seconds(record.token_ttl_seconds);
        let expires_on = now + lifetime;
        self.store
            .insert_service_token(&ServiceTokenRecord {
                id: credential.id.simple().to_string(),
                service_id: record.id.clone(),
                principal_id: caller.principal_id.to_string(),
                secret_hash: credential.secret_hash.to_vec(),
                expires_at: expires_on.unix_timestamp(),
            })
            .await?;
        let _ = self
            .store
            .delete_expired_service_tokens(now.unix_timestamp())
            .await;
        Ok(ServiceToken {
            access_token: credential.token,
            token_type: "Bearer".into(),
            expires_on,
            refresh_after: now + lifetime / 2,
        })
    }

    /// The gate's check of a scoring request: the service's own key or token, never a
    /// general access token. A token's holder must still hold the score action at the service.
    pub async fn authenticate_scoring(
        &self,
        rg: &str,
        ws: &str,
        name: &str,
        presented: Option<&Sensitive>,
    ) -> Result<ScoringTarget> {
        let workspace = workspace_id(rg, ws);
        let record = self
            .store
            .web_service_for_gate(&workspace, name)
            .await?
            .ok_or_else(|| Error::NotFound(format!("web service '{name}'")))?;
        let presented = presented.ok_or_else(|| {
            Error::unauthenticated(format!("no credential for scoring service '{name}'"))
        })?;
        let credential = if record.auth_mode == AUTH_KEY {
            let hash = casemate_crypto::sha256(presented.expose().as_bytes());
            let primary = opaque::hash_matches(&record.primary_key_hash, &hash);
            let secondary = opaque::hash_matches(&record.secondary_key_hash, &hash);
            match (primary, secondary) {
                (true, _) => "key:primary".to_owned(),
                (_, true) => "key:secondary".to_owned(),
                _ => {
                    return Err(Error::unauthenticated(format!(
                        "service '{name}' uses key auth and the key presented is not one of its keys"
                    )));
                }
            }
        } else {
            let scope = Scope::parse(&service_resource_id(&workspace, &record.name))
                .map_err(|e| Error::internal(e.to_string()))?;
            let caller = self.service_token_holder(&record, presented).await?;
            self.authorize(&caller, SCORE_ACTION, &scope).await?;
            format!("token:{}", caller.name)
        };
        Ok(ScoringTarget {
            service: Arc::new(record),
            credential,
        })
    }

    async fn service_token_holder(
        &self,
        record: &WebServiceRecord,
        presented: &Sensitive,
    ) -> Result<Caller> {
        let refused = |why: &str| {
            Error::unauthenticated(format!(
                "service '{}' uses token auth and {why}",
                record.name
            ))
        };
        let (id, hash) = opaque::parse(opaque::SERVICE_TOKEN_PREFIX, presented.expose())
            .ok_or_else(|| refused("what was presented is not a service token"))?;
        let token = self
            .store
            .service_token_for_gate(&id.simple().to_string())
            .await?
            .filter(|t| t.service_id == record.id && opaque::hash_matches(&t.secret_hash, &hash))
            .ok_or_else(|| refused("the token is not one of this service's"))?;
        if token.expires_at <= self.now_unix() {
            return Err(refused("the token has expired: get a new one"));
        }
        let principal = Uuid::try_parse(&token.principal_id).map_err(Error::internal)?;
        let principal = self.enabled_principal(principal).await?;
        crate::services::identity::caller_from(principal, Credential::Internal)
    }

    /// One scoring request, recorded before it is answered; counted in the metrics.
    pub async fn record_scoring(&self, record: ScoringRecord) -> Result<()> {
        self.metrics.scoring_request();
        self.scoring_log.record(record).await
    }
}
