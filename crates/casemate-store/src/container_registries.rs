//! Container registries (migration 0011): which blobs, manifests and tags each repository of
//! each registry holds. Blob content lives sealed in the blob store.
use crate::backend::on_db;

use crate::{Store, StoreResult};

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RegistryManifestRecord {
    pub digest: String,
    pub media_type: String,
    pub content: Vec<u8>,
}

impl Store {
    /// Links a blob (already stored) to a repository; linking it again changes nothing.
    pub async fn link_registry_blob(
        &self,
        registry_id: &str,
        repository: &str,
        digest: &str,
        size: i64,
        time_ms: i64,
    ) -> StoreResult<()> {
        on_db!(self, |pool, durable| {
            sqlx::query(
                "INSERT INTO registry_blobs (registry_id, repository, digest, size, created_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            )
            .bind(registry_id)
            .bind(repository)
            .bind(digest)
            .bind(size)
            .bind(time_ms)
            .execute(pool)
            .await?;
            Ok(())
        })
    }

    /// The size of a blob, when `repository` (or, with `None`, any repository of the registry)
    /// holds it.
    pub async fn registry_blob_size(
        &self,
        registry_id: &str,
        repository: Option<&str>,
        digest: &str,
    ) -> StoreResult<Option<i64>> {
        on_db!(self, |pool, durable| {
            Ok(sqlx::query_scalar(
                "SELECT size FROM registry_blobs WHERE registry_id = $1 AND digest = $2 \
             AND ($3 IS NULL OR repository = $3) LIMIT 1",
            )
            .bind(registry_id)
            .bind(digest)
            .bind(repository)
            .fetch_optional(pool)
            .await?)
        })
    }

    /// Unlinks a blob from a repository; returns whether any repository still holds it.
    pub async fn unlink_registry_blob(
        &self,
        registry_id: &str,
        repository: &str,
        digest: &str,
    ) -> StoreResult<(bool, bool)> {
        on_db!(self, |pool, durable| {
            let removed = sqlx::query(
            "DELETE FROM registry_blobs WHERE registry_id = $1 AND repository = $2 AND digest = $3",
        )
        .bind(registry_id)
        .bind(repository)
        .bind(digest)
        .execute(pool)
        .await?
        .rows_affected()
            > 0;
            let still_held = self
                .registry_blob_size(registry_id, None, digest)
                .await?
                .is_some();
            Ok((removed, still_held))
        })
    }

    /// Stores a manifest and, when `tag` is given, points the tag at it: together or not at all.
    pub async fn put_registry_manifest(
        &self,
        registry_id: &str,
        repository: &str,
        manifest: &RegistryManifestRecord,
        tag: Option<&str>,
        time_ms: i64,
    ) -> StoreResult<()> {
        on_db!(self, |pool, durable| {
            let mut tx = pool.begin().await?;
            sqlx::query(
            "INSERT INTO registry_manifests (registry_id, repository, digest, media_type, content, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (registry_id, repository, digest) \
             DO UPDATE SET media_type = excluded.media_type",
        )
        .bind(registry_id)
        .bind(repository)
        .bind(&manifest.digest)
        .bind(&manifest.media_type)
        .bind(&manifest.content)
        .bind(time_ms)
        .execute(&mut *tx)
        .await?;
            if let Some(tag) = tag {
                sqlx::query(
                "INSERT INTO registry_tags (registry_id, repository, tag, digest) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (registry_id, repository, tag) DO UPDATE SET digest = excluded.digest",
            )
            .bind(registry_id)
            .bind(repository)
            .bind(tag)
            .bind(&manifest.digest)
            .execute(&mut *tx)
            .await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// A manifest by digest, or by tag when `reference` is not a digest.
    pub async fn registry_manifest(
        &self,
        registry_id: &str,
        repository: &str,
        reference: &str,
    ) -> StoreResult<Option<RegistryManifestRecord>> {
        on_db!(self, |pool, durable| {
            Ok(sqlx::query_as(
            "SELECT m.digest, m.media_type, m.content FROM registry_manifests m \
             WHERE m.registry_id = $1 AND m.repository = $2 AND (m.digest = $3 OR m.digest = \
             (SELECT digest FROM registry_tags WHERE registry_id = $1 AND repository = $2 AND tag = $3))",
        )
        .bind(registry_id)
        .bind(repository)
        .bind(reference)
        .fetch_optional(pool)
        .await?)
        })
    }

    /// Deletes a manifest by digest (its tags go with it) or a tag alone; returns whether
    /// anything was deleted.
    pub async fn delete_registry_manifest(
        &self,
        registry_id: &str,
        repository: &str,
        reference: &str,
    ) -> StoreResult<bool> {
        on_db!(self, |pool, durable| {
            let statement = if reference.starts_with("sha256:") {
                "DELETE FROM registry_manifests WHERE registry_id = $1 AND repository = $2 AND digest = $3"
            } else {
                "DELETE FROM registry_tags WHERE registry_id = $1 AND repository = $2 AND tag = $3"
            };
            Ok(sqlx::query(statement)
                .bind(registry_id)
                .bind(repository)
                .bind(reference)
                .execute(pool)
                .await?
                .rows_affected()
                > 0)
        })
    }

    /// A repository's tags in order, after `last`, at most `limit`.
    pub async fn registry_tags(
        &self,
        registry_id: &str,
        repository: &str,
        last: &str,
        limit: i64,
    ) -> StoreResult<Vec<String>> {
        on_db!(self, |pool, durable| {
            Ok(sqlx::query_scalar(
            "SELECT tag FROM registry_tags WHERE registry_id = $1 AND repository = $2 AND tag > $3 \
             ORDER BY tag LIMIT $4",
        )
        .bind(registry_id)
        .bind(repository)
        .bind(last)
        .bind(limit)
        .fetch_all(pool)
        .await?)
        })
    }

    /// The repositories of a registry that hold anything, in order.
    pub async fn registry_repositories(&self, registry_id: &str) -> StoreResult<Vec<String>> {
        on_db!(self, |pool, durable| {
            Ok(sqlx::query_scalar(
                "SELECT repository FROM registry_blobs WHERE registry_id = $1 \
             UNION SELECT repository FROM registry_manifests WHERE registry_id = $1 ORDER BY 1",
            )
            .bind(registry_id)
            .fetch_all(pool)
            .await?)
        })
    }
}
