//! A container registry per registry resource, after the OCI distribution specification:
//! blobs (monolithic and chunked uploads, mounts between repositories), manifests by tag and
//! digest, tags, deletion. Blob content is verified against its digest before it is stored,
//! then sealed under the registry's data key like every other blob; an upload that does not
//! match its digest, or is over the limit, leaves nothing behind.

use super::route::{RegistryRoute, valid_digest};
use crate::error::{Error, Result};
use crate::services::Services;
use crate::services::data_keys::KeyEncryptionKey;
use crate::services::resources::{REGISTRIES, WorkspaceStorage};
use bytes::Bytes;
use casemate_store::RegistryManifestRecord;
use casemate_types::clock::unix_millis;
use futures_util::{Stream, StreamExt};
use std::path::PathBuf;
use tokio::io::AsyncWriteExt;
use uuid::Uuid;

/// The largest manifest accepted, as the distribution spec suggests registries allow.
const MAX_MANIFEST_BYTES: usize = 4 * 1024 * 1024;
const MAX_TAGS: i64 = 1000;

/// What starting an upload did.
#[derive(Debug)]
pub enum UploadStarted {
    /// A monolithic upload: the blob is stored.
    Stored(String),
    /// A mount from another repository of the registry: the blob is linked.
    Mounted(String),
    /// A session to send chunks to.
    Session(Uuid),
}

fn blob_path(digest: &str) -> String {
    format!("registry/blobs/{}", digest.trim_start_matches("sha256:"))
}

fn digest_of(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(casemate_crypto::sha256(bytes)))
}

/// The SHA-256 of a file's content, read in pieces.
async fn digest_of_file(path: &std::path::Path) -> Result<String> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || {
        use std::io::Read;
        let mut file =
            std::fs::File::open(&path).map_err(|e| Error::internal(format!("upload: {e}")))?;
        let mut context = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            let read = file
                .read(&mut buffer)
                .map_err(|e| Error::internal(format!("upload: {e}")))?;
            if read == 0 {
                break;
            }
            context.update(&buffer[..read]);
        }
        Ok(format!("sha256:{}", hex::encode(context.finish().as_ref())))
    })
    .await
    .map_err(Error::internal)?
}

impl Services {
    /// The registry's sealed storage: its own data key, wrapped by the root key.
    pub(crate) async fn registry_storage(&self, id: &str) -> Result<WorkspaceStorage> {
        self.store
            .resource(id)
            .await?
            .filter(|r| r.kind == REGISTRIES)
            .ok_or_else(|| Error::NotFound(format!("registry '{id}'")))?;
        let prefix =
            hex::encode(&casemate_crypto::sha256(id.to_ascii_lowercase().as_bytes())[..16]);
        Ok(WorkspaceStorage {
            id: id.to_owned(),
            prefix: format!("registry-{prefix}"),
            kek: KeyEncryptionKey::ServiceManaged,
            hbi: false,
        })
    }

    /// Start-up: uploads a previous process left unfinished are discarded (their sessions
    /// answer BLOB_UPLOAD_UNKNOWN, and clients start again), so a crash leaves no partial
    /// upload on disk for longer than the next start. Returns how many were discarded.
    pub async fn discard_interrupted_uploads(&self) -> Result<usize> {
        let mut entries = match tokio::fs::read_dir(&self.registry_uploads).await {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(error) => return Err(Error::internal(format!("registry uploads: {error}"))),
        };
        let mut discarded = 0;
        while let Some(entry) = entries
            .next_entry()
            .await
            .map_err(|e| Error::internal(format!("registry uploads: {e}")))?
        {
            tokio::fs::remove_file(entry.path())
                .await
                .map_err(|e| Error::internal(format!("registry uploads: {e}")))?;
            discarded += 1;
        }
        Ok(discarded)
    }

    fn upload_file(&self, storage: &WorkspaceStorage, id: Uuid) -> PathBuf {
        self.registry_uploads
            .join(format!("{}-{}", storage.prefix, id.simple()))
    }

    async fn write_upload<S>(&self, path: &std::path::Path, body: S, append: bool) -> Result<u64>
    where
        S: Stream<Item = std::io::Result<Bytes>> + Send + Unpin,
    {
        crate::services::executor::make_private_dir(&self.registry_uploads)?;
        let file = tokio::fs::OpenOptions::new()
            .create(true)
            .append(append)
            .write(true)
            .truncate(!append)
            .open(path)
            .await
            .map_err(|e| Error::internal(format!("upload: {e}")))?;
        let mut size = file.metadata().await.map(|m| m.len()).unwrap_or(0);
        // Each write of a tokio file is a hop to a blocking thread: gather the body's small
        // frames into large writes.
        let mut file = tokio::io::BufWriter::with_capacity(1024 * 1024, file);
        let mut body = body;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| Error::invalid("body", e.to_string()))?;
            size += chunk.len() as u64;
            if size > self.max_artifact_bytes {
                drop(file);
                let _ = tokio::fs::remove_file(path).await;
                return Err(Error::PayloadTooLarge {
                    limit: usize::try_from(self.max_artifact_bytes).unwrap_or(usize::MAX),
                });
            }
            file.write_all(&chunk)
                .await
                .map_err(|e| Error::internal(format!("upload: {e}")))?;
        }
        file.flush()
            .await
            .map_err(|e| Error::internal(format!("upload: {e}")))?;
        Ok(size)
    }

    /// Verifies the upload in `path` against `digest`, then seals it into the registry and
    /// links it to the repository. The file is removed whatever happens.
    async fn store_upload(
        &self,
        route: &RegistryRoute,
        storage: &WorkspaceStorage,
        path: &std::path::Path,
        digest: &str,
    ) -> Result<String> {
        let outcome = async {
            if !valid_digest(digest) {
                return Err(Error::invalid(
                    "digest",
                    "must be sha256: and 64 lower-case hex digits",
                ));
            }
            let actual = digest_of_file(path).await?;
            if actual != digest {
                return Err(Error::invalid(
                    "digest",
                    format!("the content's digest is {actual}, not {digest}: nothing was stored"),
                ));
            }
            let file = tokio::fs::File::open(path)
                .await
                .map_err(|e| Error::internal(format!("upload: {e}")))?;
            let stream = tokio_util::io::ReaderStream::new(file);
            let size = self
                .put_blob(
                    "",
                    storage,
                    &blob_path(digest),
                    stream,
                    self.max_artifact_bytes,
                )
                .await?;
            self.store
                .link_registry_blob(
                    &storage.id,
                    &route.repository,
                    digest,
                    i64::try_from(size).map_err(Error::internal)?,
                    unix_millis(self.now()),
                )
                .await?;
            Ok(digest.to_owned())
        }
        .await;
        let _ = tokio::fs::remove_file(path).await;
        outcome
    }

    /// `POST …/blobs/uploads/`: a monolithic upload (`digest` given), a mount (`mount` and
    /// `from`), or a new session.
    pub async fn start_registry_upload<S>(
        &self,
        route: &RegistryRoute,
        digest: Option<&str>,
        mount: Option<&str>,
        body: S,
    ) -> Result<UploadStarted>
    where
        S: Stream<Item = std::io::Result<Bytes>> + Send + Unpin,
    {
        let storage = self.registry_storage(&route.registry_id()).await?;
        if let Some(mounted) = mount
            && valid_digest(mounted)
            && let Some(size) = self
                .store
                .registry_blob_size(&storage.id, None, mounted)
                .await?
        {
            self.store
                .link_registry_blob(
                    &storage.id,
                    &route.repository,
                    mounted,
                    size,
                    unix_millis(self.now()),
                )
                .await?;
            return Ok(UploadStarted::Mounted(mounted.to_owned()));
        }
        let id = Uuid::new_v4();
        let path = self.upload_file(&storage, id);
        self.write_upload(&path, body, false).await?;
        match digest {
            Some(digest) => Ok(UploadStarted::Stored(
                self.store_upload(route, &storage, &path, digest).await?,
            )),
            None => Ok(UploadStarted::Session(id)),
        }
    }

    /// An upload session of this registry that exists.
    async fn open_upload(
        &self,
        route: &RegistryRoute,
        id: Uuid,
    ) -> Result<(WorkspaceStorage, PathBuf)> {
        let storage = self.registry_storage(&route.registry_id()).await?;
        let path = self.upload_file(&storage, id);
        if !path.exists() {
            return Err(Error::NotFound(format!("upload '{id}'")));
        }
        Ok((storage, path))
    }

    /// `PATCH …/blobs/uploads/{id}`: appends a chunk; returns the bytes received so far.
    pub async fn append_registry_upload<S>(
        &self,
        route: &RegistryRoute,
        id: Uuid,
        body: S,
    ) -> Result<u64>
    where
        S: Stream<Item = std::io::Result<Bytes>> + Send + Unpin,
    {
        let (_, path) = self.open_upload(route, id).await?;
        self.write_upload(&path, body, true).await
    }

    /// The bytes an upload session holds so far.
    pub async fn registry_upload_size(&self, route: &RegistryRoute, id: Uuid) -> Result<u64> {
        let storage = self.registry_storage(&route.registry_id()).await?;
        tokio::fs::metadata(self.upload_file(&storage, id))
            .await
            .map(|m| m.len())
            .map_err(|_| Error::NotFound(format!("upload '{id}'")))
    }

    /// `PUT …/blobs/uploads/{id}?digest=…`: the last chunk (maybe empty), then the blob.
    pub async fn finish_registry_upload<S>(
        &self,
        route: &RegistryRoute,
        id: Uuid,
        digest: &str,
        body: S,
    ) -> Result<String>
    where
        S: Stream<Item = std::io::Result<Bytes>> + Send + Unpin,
    {
        let (storage, path) = self.open_upload(route, id).await?;
        self.write_upload(&path, body, true).await?;
        self.store_upload(route, &storage, &path, digest).await
    }

    /// `DELETE …/blobs/uploads/{id}`.
    pub async fn cancel_registry_upload(&self, route: &RegistryRoute, id: Uuid) -> Result<()> {
        let storage = self.registry_storage(&route.registry_id()).await?;
        tokio::fs::remove_file(self.upload_file(&storage, id))
            .await
            .map_err(|_| Error::NotFound(format!("upload '{id}'")))
    }

    /// A blob's size, when the repository holds it.
    pub async fn registry_blob_size(&self, route: &RegistryRoute, digest: &str) -> Result<u64> {
        let storage = self.registry_storage(&route.registry_id()).await?;
        self.store
            .registry_blob_size(&storage.id, Some(&route.repository), digest)
            .await?
            .and_then(|size| u64::try_from(size).ok())
            .ok_or_else(|| Error::NotFound(format!("blob '{digest}'")))
    }

    /// A blob's content, opened as it streams out.
    pub async fn registry_blob(
        &self,
        route: &RegistryRoute,
        digest: &str,
    ) -> Result<(
        u64,
        impl Stream<Item = std::io::Result<Bytes>> + Send + 'static + use<>,
    )> {
        self.registry_blob_size(route, digest).await?;
        let storage = self.registry_storage(&route.registry_id()).await?;
        self.open_blob("", &storage, &blob_path(digest))
            .await?
            .ok_or_else(|| Error::NotFound(format!("blob '{digest}'")))
    }

    /// Unlinks a blob from the repository; its content goes when no repository holds it.
    pub async fn delete_registry_blob(&self, route: &RegistryRoute, digest: &str) -> Result<()> {
        let storage = self.registry_storage(&route.registry_id()).await?;
        let (removed, still_held) = self
            .store
            .unlink_registry_blob(&storage.id, &route.repository, digest)
            .await?;
        if !removed {
            return Err(Error::NotFound(format!("blob '{digest}'")));
        }
        if !still_held {
            self.delete_blob(&storage, &blob_path(digest)).await?;
        }
        Ok(())
    }

    /// Stores a manifest (each blob it names must be in the repository) under its digest and,
    /// when `reference` is a tag, tags it. Returns the digest.
    pub async fn put_registry_manifest(
        &self,
        route: &RegistryRoute,
        reference: &str,
        media_type: Option<&str>,
        content: Bytes,
    ) -> Result<String> {
        if content.len() > MAX_MANIFEST_BYTES {
            return Err(Error::PayloadTooLarge {
                limit: MAX_MANIFEST_BYTES,
            });
        }
        let storage = self.registry_storage(&route.registry_id()).await?;
        let digest = digest_of(&content);
        let is_digest = reference.starts_with("sha256:");
        if is_digest && reference != digest {
            return Err(Error::invalid(
                "digest",
                format!("the manifest's digest is {digest}, not {reference}"),
            ));
        }
        let parsed: serde_json::Value = serde_json::from_slice(&content)
            .map_err(|e| Error::invalid("manifest", format!("is not JSON: {e}")))?;
        let media_type = media_type
            .map(str::to_owned)
            .or_else(|| parsed["mediaType"].as_str().map(str::to_owned))
            .unwrap_or_else(|| "application/vnd.oci.image.manifest.v1+json".to_owned());
        let mut named: Vec<&str> = parsed["layers"]
            .as_array()
            .into_iter()
            .flatten()
            .chain(parsed.get("config"))
            .filter_map(|d| d["digest"].as_str())
            .collect();
        named.sort_unstable();
        named.dedup();
        for blob in named {
            if self
                .store
                .registry_blob_size(&storage.id, Some(&route.repository), blob)
                .await?
                .is_none()
            {
                return Err(Error::invalid(
                    "blob",
                    format!("the manifest names {blob}, which the repository does not hold"),
                ));
            }
        }
        for child in parsed["manifests"].as_array().into_iter().flatten() {
            let Some(child) = child["digest"].as_str() else {
                continue;
            };
            if self
                .store
                .registry_manifest(&storage.id, &route.repository, child)
                .await?
                .is_none()
            {
                return Err(Error::invalid(
                    "blob",
                    format!("the index names manifest {child}, which the repository does not hold"),
                ));
            }
        }
        let record = RegistryManifestRecord {
            digest: digest.clone(),
            media_type,
            content: content.to_vec(),
        };
        self.store
            .put_registry_manifest(
                &storage.id,
                &route.repository,
                &record,
                (!is_digest).then_some(reference),
                unix_millis(self.now()),
            )
            .await?;
        Ok(digest)
    }

    pub async fn registry_manifest(
        &self,
        route: &RegistryRoute,
        reference: &str,
    ) -> Result<RegistryManifestRecord> {
        let storage = self.registry_storage(&route.registry_id()).await?;
        self.store
            .registry_manifest(&storage.id, &route.repository, reference)
            .await?
            .ok_or_else(|| Error::NotFound(format!("manifest '{reference}' of {}", route.name())))
    }

    pub async fn delete_registry_manifest(
        &self,
        route: &RegistryRoute,
        reference: &str,
    ) -> Result<()> {
        let storage = self.registry_storage(&route.registry_id()).await?;
        if !self
            .store
            .delete_registry_manifest(&storage.id, &route.repository, reference)
            .await?
        {
            return Err(Error::NotFound(format!(
                "manifest '{reference}' of {}",
                route.name()
            )));
        }
        Ok(())
    }

    /// The repositories, `{rg}/{registry}/{repository}`, of every registry the caller may pull
    /// from, in order, after `last`, at most `n`. Registries the caller may not read are left
    /// out rather than refused: the catalog is one list across registries.
    pub async fn registry_catalog(
        &self,
        caller: &crate::services::Caller,
        n: Option<i64>,
        last: Option<&str>,
    ) -> Result<Vec<String>> {
        let mut names = Vec::new();
        for registry in self.store.resources(REGISTRIES, None).await? {
            let Ok(scope) = casemate_authz::Scope::parse(&registry.id) else {
                continue;
            };
            if self
                .authorize(caller, "registries/pull/read", &scope)
                .await
                .is_err()
            {
                continue;
            }
            let group = scope
                .truncated(1)
                .and_then(|g| g.to_string().rsplit('/').next().map(str::to_owned))
                .unwrap_or_default();
            for repository in self.store.registry_repositories(&registry.id).await? {
                names.push(format!("{group}/{}/{repository}", registry.name));
            }
        }
        names.sort();
        let limit = usize::try_from(n.unwrap_or(MAX_TAGS).clamp(0, MAX_TAGS)).unwrap_or(0);
        Ok(names
            .into_iter()
            .filter(|name| last.is_none_or(|last| name.as_str() > last))
            .take(limit)
            .collect())
    }

    /// Tags after `last`, at most `n` (the spec's pagination).
    pub async fn registry_tags(
        &self,
        route: &RegistryRoute,
        n: Option<i64>,
        last: Option<&str>,
    ) -> Result<Vec<String>> {
        let storage = self.registry_storage(&route.registry_id()).await?;
        let limit = n.unwrap_or(MAX_TAGS).clamp(0, MAX_TAGS);
        Ok(self
            .store
            .registry_tags(&storage.id, &route.repository, last.unwrap_or(""), limit)
            .await?)
    }
}
