//! Token signing keys: one active, retired ones kept until the last token they signed expires.
use crate::backend::{StoreRow, on_db};

use crate::{SigningKeyRecord, Store, StoreResult};

impl Store {
    pub async fn signing_keys(&self) -> StoreResult<Vec<SigningKeyRecord>> {
        on_db!(self, |pool, durable| {
            let rows = sqlx::query(
            "SELECT kid, wrapped_secret, public_key, created_at, retired_at, verify_until FROM signing_keys ORDER BY created_at, kid",
        )
        .fetch_all(pool)
        .await?;
            rows.iter()
                .map(|row| {
                    Ok(SigningKeyRecord {
                        kid: row.value("kid")?,
                        wrapped_secret: row.value("wrapped_secret")?,
                        public_key: row.value("public_key")?,
                        created_at: row.value("created_at")?,
                        retired_at: row.value("retired_at")?,
                        verify_until: row.value("verify_until")?,
                    })
                })
                .collect()
        })
    }

    /// Makes `new_key` the active key, retiring the current active ones (they verify until
    /// `verify_until`) and dropping keys whose verification window has closed, in one transaction.
    pub async fn rotate_signing_key(
        &self,
        new_key: &SigningKeyRecord,
        now: i64,
        verify_until: i64,
    ) -> StoreResult<()> {
        on_db!(self, |pool, durable| {
            let mut tx = pool.begin().await?;
            sqlx::query(
            "UPDATE signing_keys SET retired_at = $1, verify_until = $2 WHERE retired_at IS NULL",
        )
        .bind(now)
        .bind(verify_until)
        .execute(&mut *tx)
        .await?;
            sqlx::query(
                "DELETE FROM signing_keys WHERE verify_until IS NOT NULL AND verify_until <= $1",
            )
            .bind(now)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
            "INSERT INTO signing_keys (kid, wrapped_secret, public_key, created_at, retired_at, verify_until) VALUES ($1, $2, $3, $4, NULL, NULL)",
        )
        .bind(&new_key.kid)
        .bind(&new_key.wrapped_secret)
        .bind(&new_key.public_key)
        .bind(new_key.created_at)
        .execute(&mut *tx)
        .await?;
            tx.commit().await?;
            Ok(())
        })
    }
}
