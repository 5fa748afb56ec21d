//! Workspace blobs (artifacts, code snapshots and run outputs), sealed
//! with the segmented streaming AEAD under the workspace's data key and bound to the workspace
//! and path, streamed in and out so a large blob never sits whole in memory.
//!
//! Stored form: `CMW1`, the data key's id (32 hex digits), then the sealed stream. The data key
//! record names the key version that wraps it, so `rewrap` moves data keys to a new key version
//! without rewriting any blob.

use super::Services;
use super::data_keys::{DataKey, KeyEncryptionKey};
use super::resources::WorkspaceStorage;
use crate::error::{Error, Result};
use bytes::Bytes;
use casemate_crypto::stream::{StreamError, open_stream, plaintext_len, seal_stream};
use casemate_types::wire::mlflow::FileInfo;
use casemate_types::wire::{Artifact, RewrapReport};
use futures_util::{Stream, StreamExt, TryStreamExt};
use object_store::ObjectStore;
use object_store::buffered::BufWriter;
use object_store::path::Path;
use std::io::{Read, Write};
use tokio_util::io::{StreamReader, SyncIoBridge};

const MAGIC: &[u8; 4] = b"CMW1";
const DATA_KEY_ID_LEN: usize = 32;
const PREAMBLE: usize = MAGIC.len() + DATA_KEY_ID_LEN;

/// Artifact paths: 1-1024 characters, `/`-separated segments of letters, digits, `.`, `_` and
/// `-`, none of them empty, `.` or `..`.
pub fn validate_artifact_path(path: &str) -> Result<()> {
    let rule = "must be 1-1024 characters of '/'-separated segments of letters, digits, '.', '_' and '-' (no empty, '.' or '..' segments)";
    let segments_ok = path.split('/').all(|segment| {
        !segment.is_empty()
            && segment != "."
            && segment != ".."
            && segment
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    });
    if path.is_empty() || path.len() > 1024 || !segments_ok {
        return Err(Error::invalid("path", rule));
    }
    Ok(())
}

fn artifacts_prefix(storage: &WorkspaceStorage) -> Path {
    Path::from(format!("workspaces/{}/artifacts", storage.prefix))
}

/// A blob's place: `relative` is its path under the workspace, e.g. `artifacts/model.bin`.
fn blob_object(storage: &WorkspaceStorage, relative: &str) -> Path {
    Path::from(format!("workspaces/{}/{relative}", storage.prefix))
}

fn associated_data(storage: &WorkspaceStorage, relative: &str) -> Vec<u8> {
    format!("{}/{relative}", storage.id.to_ascii_lowercase()).into_bytes()
}

fn blob_error(error: StreamError) -> Error {
    match error {
        StreamError::Tampered | StreamError::Crypto(_) => Error::internal(
            "a stored blob does not open: it was altered, moved or its data key is gone",
        ),
        StreamError::Io(error) => Error::internal(format!("blob I/O: {error}")),
    }
}

/// Passes bytes through until `limit`, then fails, noting that it did.
struct LimitedReader<R> {
    inner: R,
    remaining: u64,
    exceeded: bool,
}

impl<R: Read> Read for LimitedReader<R> {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        let allowed = usize::try_from(self.remaining.saturating_add(1)).unwrap_or(usize::MAX);
        let take = buffer.len().min(allowed);
        let read = self.inner.read(&mut buffer[..take])?;
        if read as u64 > self.remaining {
            self.exceeded = true;
            return Err(std::io::Error::other("size limit exceeded"));
        }
        self.remaining -= read as u64;
        Ok(read)
    }
}

impl Services {
    /// Stores (or replaces) an artifact, sealing it as it streams in.
    pub async fn put_artifact<S>(
        &self,
        host: &str,
        rg: &str,
        ws: &str,
        path: &str,
        body: S,
    ) -> Result<Artifact>
    where
        S: Stream<Item = std::io::Result<Bytes>> + Send + Unpin + 'static,
    {
        validate_artifact_path(path)?;
        let storage = self.workspace_storage(rg, ws).await?;
        let size = self
            .put_blob(
                host,
                &storage,
                &format!("artifacts/{path}"),
                body,
                self.max_artifact_bytes,
            )
            .await?;
        Ok(Artifact {
            path: path.to_owned(),
            size,
        })
    }

    /// Seals `body` into the blob at `relative` as it streams in, refusing more than `limit`
    /// bytes; on any failure nothing is left at `relative`. Returns the plaintext size.
    pub(crate) async fn put_blob<S>(
        &self,
        host: &str,
        storage: &WorkspaceStorage,
        relative: &str,
        body: S,
        limit: u64,
    ) -> Result<u64>
    where
        S: Stream<Item = std::io::Result<Bytes>> + Send + Unpin + 'static,
    {
        let (key_id, key) = self
            .current_data_key(host, &storage.id, &storage.kek)
            .await?;
        let object = blob_object(storage, relative);
        let aad = associated_data(storage, relative);
        let upload = BufWriter::new(self.blobs.clone(), object);
        let sealing = tokio::task::spawn_blocking(move || {
            let mut reader = LimitedReader {
                inner: SyncIoBridge::new(StreamReader::new(body)),
                remaining: limit,
                exceeded: false,
            };
            let mut writer = SyncIoBridge::new(upload);
            let sealed = writer
                .write_all(MAGIC)
                .and_then(|()| writer.write_all(key_id.as_bytes()))
                .map_err(StreamError::from)
                .and_then(|()| seal_stream(&key, &aad, &mut reader, &mut writer))
                .and_then(|_| writer.shutdown().map_err(StreamError::from));
            match sealed {
                Ok(()) => Ok(limit - reader.remaining),
                Err(error) => {
                    // Nothing half-written becomes visible: the upload is dropped.
                    let mut upload = writer.into_inner();
                    let _ = tokio::runtime::Handle::current().block_on(upload.abort());
                    Err(if reader.exceeded {
                        Error::PayloadTooLarge {
                            limit: usize::try_from(limit).unwrap_or(usize::MAX),
                        }
                    } else {
                        blob_error(error)
                    })
                }
            }
        });
        sealing
            .await
            .map_err(|e| Error::internal(format!("sealing task: {e}")))?
    }

    /// Opens an artifact: checks its data key (and the workspace key) now, then streams the
    /// plaintext out as it is opened.
    pub async fn get_artifact(
        &self,
        host: &str,
        rg: &str,
        ws: &str,
        path: &str,
    ) -> Result<(
        u64,
        impl Stream<Item = std::io::Result<Bytes>> + Send + 'static,
    )> {
        validate_artifact_path(path)?;
        let storage = self.workspace_storage(rg, ws).await?;
        self.open_blob(host, &storage, &format!("artifacts/{path}"))
            .await?
            .ok_or_else(|| Error::NotFound(format!("artifact '{path}'")))
    }

    /// Opens the blob at `relative` (None when there is none): checks its data key now, then
    /// streams the plaintext out as it is opened.
    pub(crate) async fn open_blob(
        &self,
        host: &str,
        storage: &WorkspaceStorage,
        relative: &str,
    ) -> Result<
        Option<(
            u64,
            impl Stream<Item = std::io::Result<Bytes>> + Send + 'static + use<>,
        )>,
    > {
        let object = blob_object(storage, relative);
        let found = match self.blobs.get(&object).await {
            Ok(found) => found,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(error) => return Err(Error::internal(format!("blob store: {error}"))),
        };
        let sealed_size = found.meta.size;
        let mut stream = found.into_stream();
        let mut preamble = Vec::with_capacity(PREAMBLE);
        let mut rest = Bytes::new();
        while preamble.len() < PREAMBLE {
            let Some(chunk) = stream.next().await else {
                return Err(blob_error(StreamError::Tampered));
            };
            let chunk = chunk.map_err(|e| Error::internal(format!("blob store: {e}")))?;
            let take = (PREAMBLE - preamble.len()).min(chunk.len());
            preamble.extend_from_slice(&chunk[..take]);
            rest = chunk.slice(take..);
        }
        if &preamble[..MAGIC.len()] != MAGIC {
            return Err(blob_error(StreamError::Tampered));
        }
        let key_id = std::str::from_utf8(&preamble[MAGIC.len()..])
            .map_err(|_| blob_error(StreamError::Tampered))?;
        let key = self.data_key_by_id(host, key_id).await?;
        let size = sealed_size
            .checked_sub(PREAMBLE as u64)
            .and_then(plaintext_len)
            .ok_or_else(|| blob_error(StreamError::Tampered))?;
        let sealed = futures_util::stream::iter([Ok(rest)])
            .chain(stream)
            .map_err(std::io::Error::other);
        Ok(Some((
            size,
            open_streaming(key, associated_data(storage, relative), sealed),
        )))
    }

    /// Whether there is a blob at `relative`.
    pub(crate) async fn blob_exists(
        &self,
        storage: &WorkspaceStorage,
        relative: &str,
    ) -> Result<bool> {
        match self.blobs.head(&blob_object(storage, relative)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(error) => Err(Error::internal(format!("blob store: {error}"))),
        }
    }

    /// Writes every blob under `relative` (a directory of the workspace's blobs) to the same
    /// path under `destination`, opened; returns how many there were.
    pub(crate) async fn download_tree(
        &self,
        storage: &WorkspaceStorage,
        relative: &str,
        destination: &std::path::Path,
    ) -> Result<usize> {
        use tokio::io::AsyncWriteExt;
        let prefix = blob_object(storage, relative);
        let objects: Vec<_> = self
            .blobs
            .list(Some(&prefix))
            .try_collect()
            .await
            .map_err(|e| Error::internal(format!("blob store: {e}")))?;
        for meta in &objects {
            let Some(parts) = meta.location.prefix_match(&prefix) else {
                continue;
            };
            let inner: Vec<String> = parts.map(|p| p.as_ref().to_owned()).collect();
            let inner = inner.join("/");
            let Some((_, plaintext)) = self
                .open_blob("", storage, &format!("{relative}/{inner}"))
                .await?
            else {
                continue;
            };
            let mut plaintext = Box::pin(plaintext);
            let target = destination.join(&inner);
            if let Some(parent) = target.parent() {
                tokio::fs::create_dir_all(parent)
                    .await
                    .map_err(|e| Error::internal(format!("creating {}: {e}", parent.display())))?;
            }
            let mut file = tokio::fs::File::create(&target)
                .await
                .map_err(|e| Error::internal(format!("creating {}: {e}", target.display())))?;
            while let Some(chunk) = plaintext.next().await {
                let chunk = chunk.map_err(|e| Error::internal(format!("blob {inner}: {e}")))?;
                file.write_all(&chunk)
                    .await
                    .map_err(|e| Error::internal(format!("writing {}: {e}", target.display())))?;
            }
            file.flush()
                .await
                .map_err(|e| Error::internal(format!("writing {}: {e}", target.display())))?;
        }
        Ok(objects.len())
    }

    /// Removes every blob under `relative` (best effort: a leftover is sealed and unreachable).
    pub(super) async fn delete_blob_tree(&self, storage: &WorkspaceStorage, relative: &str) {
        let prefix = blob_object(storage, relative);
        let objects = self.blobs.list(Some(&prefix)).map_ok(|meta| meta.location);
        let removed: Vec<_> = self.blobs.delete_stream(objects.boxed()).collect().await;
        if let Some(Err(error)) = removed.into_iter().find(Result::is_err) {
            tracing::warn!(workspace = %storage.id, %error, "could not remove every blob under {relative}");
        }
    }

    /// Removes the blob at `relative`, if there is one.
    pub(crate) async fn delete_blob(
        &self,
        storage: &WorkspaceStorage,
        relative: &str,
    ) -> Result<()> {
        match self.blobs.delete(&blob_object(storage, relative)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(error) => Err(Error::internal(format!("blob store: {error}"))),
        }
    }

    pub async fn list_artifacts(&self, rg: &str, ws: &str) -> Result<Vec<Artifact>> {
        let storage = self.workspace_storage(rg, ws).await?;
        let prefix = artifacts_prefix(&storage);
        let objects: Vec<_> = self
            .blobs
            .list(Some(&prefix))
            .try_collect()
            .await
            .map_err(|e| Error::internal(format!("blob store: {e}")))?;
        let mut artifacts: Vec<Artifact> = objects
            .into_iter()
            .filter_map(|meta| {
                let path = meta.location.prefix_match(&prefix)?;
                let path = path.map(|p| p.as_ref().to_owned()).collect::<Vec<_>>();
                let size = meta
                    .size
                    .checked_sub(PREAMBLE as u64)
                    .and_then(plaintext_len)?;
                Some(Artifact {
                    path: path.join("/"),
                    size,
                })
            })
            .collect();
        artifacts.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(artifacts)
    }

    /// The artifacts and directories directly under `directory` (the root when empty), by name,
    /// as MLflow's artifact proxy lists them. A directory that holds nothing lists as empty.
    pub async fn list_artifact_directory(
        &self,
        rg: &str,
        ws: &str,
        directory: &str,
    ) -> Result<Vec<FileInfo>> {
        let directory = directory.trim_matches('/');
        if !directory.is_empty() {
            validate_artifact_path(directory)?;
        }
        let storage = self.workspace_storage(rg, ws).await?;
        let prefix = if directory.is_empty() {
            artifacts_prefix(&storage)
        } else {
            blob_object(&storage, &format!("artifacts/{directory}"))
        };
        let listing = self
            .blobs
            .list_with_delimiter(Some(&prefix))
            .await
            .map_err(|e| Error::internal(format!("blob store: {e}")))?;
        let name_of = |path: &Path| path.filename().map(str::to_owned);
        let mut files: Vec<FileInfo> = listing
            .common_prefixes
            .iter()
            .filter_map(|dir| {
                Some(FileInfo {
                    path: name_of(dir)?,
                    is_dir: true,
                    file_size: None,
                })
            })
            .chain(listing.objects.iter().filter_map(|meta| {
                Some(FileInfo {
                    path: name_of(&meta.location)?,
                    is_dir: false,
                    file_size: meta
                        .size
                        .checked_sub(PREAMBLE as u64)
                        .and_then(plaintext_len),
                })
            }))
            .collect();
        files.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(files)
    }

    /// Removes a deleted workspace's blobs. Its data keys are already gone, so this only frees
    /// the space: nothing left behind could be opened.
    pub(crate) async fn remove_workspace_blobs(&self, storage: &WorkspaceStorage) {
        let prefix = Path::from(format!("workspaces/{}", storage.prefix));
        let objects = self.blobs.list(Some(&prefix)).map_ok(|meta| meta.location);
        let removed: Vec<_> = self.blobs.delete_stream(objects.boxed()).collect().await;
        if let Some(Err(error)) = removed.into_iter().find(Result::is_err) {
            tracing::warn!(workspace = %storage.id, %error, "could not remove every blob of a deleted workspace");
        }
    }

    /// Re-wraps the workspace's data keys under the newest version of its key.
    pub async fn rewrap_workspace(&self, host: &str, rg: &str, ws: &str) -> Result<RewrapReport> {
        let storage = self.workspace_storage(rg, ws).await?;
        let done = self
            .rewrap_data_keys(host, &storage.id, &storage.kek)
            .await?;
        let wrapping_key = match &storage.kek {
            KeyEncryptionKey::ServiceManaged => "service-managed".to_owned(),
            KeyEncryptionKey::Customer { .. } => {
                format!("https://{host}{}", done.wrapping_key)
            }
        };
        Ok(RewrapReport {
            data_keys: done.data_keys,
            rewrapped: done.rewrapped,
            wrapping_key,
        })
    }
}

/// Opens a sealed stream on a blocking thread, handing plaintext out through a small channel so
/// at most a few segments are in memory. A blob that fails to open ends the stream with an error.
fn open_streaming<S>(
    key: DataKey,
    aad: Vec<u8>,
    sealed: S,
) -> impl Stream<Item = std::io::Result<Bytes>> + Send + 'static
where
    S: Stream<Item = std::io::Result<Bytes>> + Send + Unpin + 'static,
{
    let (sender, receiver) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(4);
    tokio::task::spawn_blocking(move || {
        let mut reader = SyncIoBridge::new(StreamReader::new(sealed));
        let mut writer = ChannelWriter(sender.clone());
        if let Err(error) = open_stream(&key, &aad, &mut reader, &mut writer) {
            tracing::error!(%error, "a stored blob did not open");
            let _ =
                sender.blocking_send(Err(std::io::Error::other("the stored blob does not open")));
        }
    });
    tokio_stream_from(receiver)
}

struct ChannelWriter(tokio::sync::mpsc::Sender<std::io::Result<Bytes>>);

impl Write for ChannelWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .blocking_send(Ok(Bytes::copy_from_slice(bytes)))
            .map_err(|_| std::io::Error::other("the reader went away"))?;
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn tokio_stream_from<T: Send + 'static>(
    mut receiver: tokio::sync::mpsc::Receiver<T>,
) -> impl Stream<Item = T> + Send + 'static {
    futures_util::stream::poll_fn(move |context| receiver.poll_recv(context))
}
