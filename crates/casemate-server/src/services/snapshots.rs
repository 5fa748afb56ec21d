//! Code snapshots: a tar of the run's source directory, checked entry by entry, content-addressed
//! by SHA-256 and sealed like every workspace blob. Immutable: a snapshot is never replaced, and
//! uploading the same bytes again names the one already kept.

use super::Services;
use super::resources::WorkspaceStorage;
use crate::error::{Error, Result};
use bytes::Bytes;
use casemate_store::SnapshotRecord;
use casemate_types::wire::Snapshot;
use futures_util::Stream;
use std::collections::HashSet;
use std::io::Read;
use std::path::{Component, Path, PathBuf};
use tokio_util::io::{StreamReader, SyncIoBridge};

/// The server's own secret files (root key, TLS key, HSM PIN file), known by size and digest,
/// so that a snapshot carrying a copy of one, under any name, is refused.
#[derive(Clone, Default)]
pub struct OwnKeyMaterial {
    files: Vec<(u64, [u8; 32])>,
}

/// The count only: even a digest of key material stays out of logs and panics.
impl std::fmt::Debug for OwnKeyMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OwnKeyMaterial")
            .field("files", &self.files.len())
            .finish()
    }
}

impl OwnKeyMaterial {
    /// Reads each of `paths` that exists; the contents are dropped, only size and digest kept.
    pub fn of_files(paths: &[PathBuf]) -> std::io::Result<Self> {
        let mut files = Vec::new();
        for path in paths {
            match std::fs::read(path) {
                Ok(bytes) => {
                    let bytes = zeroize::Zeroizing::new(bytes);
                    files.push((bytes.len() as u64, casemate_crypto::sha256(&bytes)));
                }
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => return Err(error),
            }
        }
        Ok(Self { files })
    }

    fn has_size(&self, size: u64) -> bool {
        self.files.iter().any(|(known, _)| *known == size)
    }

    fn matches(&self, content: &[u8]) -> bool {
        let digest = casemate_crypto::sha256(content);
        self.files.iter().any(|(size, known)| {
            *size == content.len() as u64 && casemate_crypto::constant_time_eq(known, &digest)
        })
    }
}

/// The rule an entry breaks by its path alone: a `.casemate` directory, or a file named as the
/// server's data directory names its database and root key.
fn own_file_rule(path: &Path) -> Option<&'static str> {
    if path.components().any(|c| c.as_os_str() == ".casemate") {
        return Some(
            "a '.casemate' directory holds the CLI's profile or a server's data directory and never goes into a snapshot",
        );
    }
    let name = path.file_name()?.to_str()?;
    matches!(
        name,
        "root.key" | "casemate.db" | "casemate.db-wal" | "casemate.db-shm"
    )
    .then_some(
        "looks like a casemate server's data directory (database or root key): keep the server's home outside the source tree",
    )
}

/// What a well-formed archive holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveFacts {
    pub sha256: String,
    pub size: u64,
    pub files: u64,
}

struct HashingReader<R> {
    inner: R,
    digest: aws_lc_rs::digest::Context,
    size: u64,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        let read = self.inner.read(buffer)?;
        self.digest.update(&buffer[..read]);
        self.size += read as u64;
        Ok(read)
    }
}

/// An entry name fit for an error message: printable, and not too long.
fn shown(path: &[u8]) -> String {
    String::from_utf8_lossy(path)
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .take(200)
        .collect()
}

/// The entry's path with `.` segments dropped, or why it is refused.
fn normalized(path: &Path) -> std::result::Result<PathBuf, &'static str> {
    let mut clean = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => clean.push(part),
            Component::CurDir => {}
            Component::ParentDir => return Err("a '..' component is refused"),
            Component::RootDir | Component::Prefix(_) => return Err("an absolute path is refused"),
        }
    }
    Ok(clean)
}

/// Whether a symbolic link at `entry` pointing to `target` stays inside the tree.
fn link_stays_inside(entry: &Path, target: &Path) -> bool {
    if target.has_root() {
        return false;
    }
    let mut depth = entry.components().count().saturating_sub(1) as i64;
    for component in target.components() {
        match component {
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::ParentDir => {
                depth -= 1;
                if depth < 0 {
                    return false;
                }
            }
            Component::RootDir | Component::Prefix(_) => return false,
        }
    }
    true
}

/// Reads a whole tar, refusing absolute paths, `..`, links out of the tree, device files and
/// FIFOs, duplicate entries, and anything of the server's own (a `.casemate` directory, its data
/// directory's files, a copy of its key material); returns its digest, size and number of files.
pub fn inspect_archive<R: Read>(reader: R, own: &OwnKeyMaterial) -> Result<ArchiveFacts> {
    let refuse = |path: &[u8], rule: &str| {
        Error::invalid(
            "snapshot",
            format!("archive entry '{}': {rule}", shown(path)),
        )
    };
    let malformed = |error: std::io::Error| {
        Error::invalid(
            "snapshot",
            format!("is not a well-formed tar archive: {error}"),
        )
    };
    let hashing = HashingReader {
        inner: reader,
        digest: aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256),
        size: 0,
    };
    let mut archive = tar::Archive::new(hashing);
    let mut seen: HashSet<PathBuf> = HashSet::new();
    let mut regular: HashSet<PathBuf> = HashSet::new();
    let mut files = 0u64;
    for entry in archive.entries().map_err(malformed)? {
        let entry = entry.map_err(malformed)?;
        let raw = entry.path_bytes().into_owned();
        let kind = entry.header().entry_type();
        if kind.is_pax_global_extensions() {
            continue;
        }
        let path = entry.path().map_err(malformed)?;
        let path = normalized(&path).map_err(|rule| refuse(&raw, rule))?;
        if path.as_os_str().is_empty() {
            if kind.is_dir() {
                continue;
            }
            return Err(refuse(&raw, "an entry must have a name"));
        }
        if !seen.insert(path.clone()) {
            return Err(refuse(&raw, "appears twice in the archive"));
        }
        if let Some(rule) = own_file_rule(&path) {
            return Err(refuse(&raw, rule));
        }
        if kind.is_file() || kind == tar::EntryType::Continuous {
            let size = entry.header().size().map_err(malformed)?;
            if own.has_size(size) {
                let mut content = zeroize::Zeroizing::new(Vec::new());
                let mut entry = entry;
                entry.read_to_end(&mut content).map_err(malformed)?;
                if own.matches(&content) {
                    return Err(refuse(
                        &raw,
                        "is a copy of this server's own key material (root key, TLS key or PIN file): it never goes into a snapshot",
                    ));
                }
            }
            files += 1;
            regular.insert(path);
        } else if kind.is_dir() {
        } else if kind.is_symlink() {
            let target = entry
                .link_name()
                .map_err(malformed)?
                .ok_or_else(|| refuse(&raw, "a symbolic link without a target"))?;
            if !link_stays_inside(&path, &target) {
                return Err(refuse(&raw, "a link pointing out of the tree is refused"));
            }
        } else if kind.is_hard_link() {
            let target = entry
                .link_name()
                .map_err(malformed)?
                .ok_or_else(|| refuse(&raw, "a hard link without a target"))?;
            let target = normalized(&target)
                .map_err(|_| refuse(&raw, "a link pointing out of the tree is refused"))?;
            if !regular.contains(&target) {
                return Err(refuse(
                    &raw,
                    "a hard link must point to a file earlier in the archive",
                ));
            }
        } else if kind.is_character_special() || kind.is_block_special() || kind.is_fifo() {
            return Err(refuse(&raw, "device files and FIFOs are refused"));
        } else {
            return Err(refuse(
                &raw,
                "only files, directories and links are accepted",
            ));
        }
    }
    let mut hashing = archive.into_inner();
    // The digest covers every byte sent, the end-of-archive blocks included.
    std::io::copy(&mut hashing, &mut std::io::sink()).map_err(malformed)?;
    Ok(ArchiveFacts {
        sha256: hex::encode(hashing.digest.finish()),
        size: hashing.size,
        files,
    })
}

/// Snapshot ids are 64 lower-case hex digits.
pub fn validate_snapshot_id(field: &'static str, id: &str) -> Result<()> {
    if id.len() != 64
        || !id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(Error::invalid(
            field,
            "must be a snapshot id: 64 lower-case hex digits (the SHA-256 of the archive)",
        ));
    }
    Ok(())
}

fn snapshot_view(record: &SnapshotRecord) -> Result<Snapshot> {
    Ok(Snapshot {
        id: record.sha256.clone(),
        size: u64::try_from(record.size).map_err(Error::internal)?,
        files: u64::try_from(record.files).map_err(Error::internal)?,
        created_at: super::signing::to_time(record.created_at)?,
        created_by: record.created_by.clone(),
    })
}

impl Services {
    /// Stores an uploaded tar as a snapshot. Returns it and whether it is new (false when the
    /// workspace already had these exact bytes).
    pub async fn upload_snapshot<S>(
        &self,
        host: &str,
        rg: &str,
        ws: &str,
        uploader: &str,
        body: S,
    ) -> Result<(Snapshot, bool)>
    where
        S: Stream<Item = std::io::Result<Bytes>> + Send + Unpin + 'static,
    {
        let storage = self.workspace_storage(rg, ws).await?;
        let relative = format!("snapshots/{}", uuid::Uuid::new_v4().simple());
        self.put_blob(host, &storage, &relative, body, self.max_snapshot_bytes)
            .await?;
        let facts = match self.inspect_stored(host, &storage, &relative).await {
            Ok(facts) => facts,
            Err(error) => {
                self.delete_blob(&storage, &relative).await?;
                return Err(error);
            }
        };
        let record = SnapshotRecord {
            workspace_id: storage.id.clone(),
            sha256: facts.sha256.clone(),
            blob: relative.clone(),
            size: i64::try_from(facts.size).map_err(Error::internal)?,
            files: i64::try_from(facts.files).map_err(Error::internal)?,
            created_at: self.now_unix(),
            created_by: uploader.to_owned(),
        };
        if self.store.insert_snapshot(&record).await? {
            return Ok((snapshot_view(&record)?, true));
        }
        self.delete_blob(&storage, &relative).await?;
        let kept = self
            .store
            .snapshot(&storage.id, &facts.sha256)
            .await?
            .ok_or_else(|| Error::internal("a snapshot vanished while being stored"))?;
        Ok((snapshot_view(&kept)?, false))
    }

    async fn inspect_stored(
        &self,
        host: &str,
        storage: &WorkspaceStorage,
        relative: &str,
    ) -> Result<ArchiveFacts> {
        let (_, plaintext) = self
            .open_blob(host, storage, relative)
            .await?
            .ok_or_else(|| Error::internal("an uploaded snapshot is missing"))?;
        let own = self.own_key_material.clone();
        tokio::task::spawn_blocking(move || {
            inspect_archive(
                SyncIoBridge::new(StreamReader::new(Box::pin(plaintext))),
                &own,
            )
        })
        .await
        .map_err(|e| Error::internal(format!("inspecting a snapshot: {e}")))?
    }

    pub async fn get_snapshot(&self, rg: &str, ws: &str, id: &str) -> Result<Snapshot> {
        validate_snapshot_id("snapshot_id", id)?;
        let storage = self.workspace_storage(rg, ws).await?;
        let record = self.snapshot_record(&storage, id).await?;
        snapshot_view(&record)
    }

    pub(crate) async fn snapshot_record(
        &self,
        storage: &WorkspaceStorage,
        id: &str,
    ) -> Result<SnapshotRecord> {
        self.store
            .snapshot(&storage.id, id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("snapshot '{id}' in this workspace")))
    }

    /// Whether a snapshot holds a regular file at `path` (relative, `/`-separated).
    pub(crate) async fn snapshot_contains(
        &self,
        storage: &WorkspaceStorage,
        snapshot: &SnapshotRecord,
        path: &str,
    ) -> Result<bool> {
        let (_, plaintext) = self
            .open_blob("", storage, &snapshot.blob)
            .await?
            .ok_or_else(|| Error::internal(format!("snapshot {} has no blob", snapshot.sha256)))?;
        let wanted = PathBuf::from(path);
        tokio::task::spawn_blocking(move || {
            let mut archive =
                tar::Archive::new(SyncIoBridge::new(StreamReader::new(Box::pin(plaintext))));
            let entries = archive
                .entries()
                .map_err(|e| Error::internal(format!("reading the snapshot: {e}")))?;
            for entry in entries {
                let entry =
                    entry.map_err(|e| Error::internal(format!("reading the snapshot: {e}")))?;
                let is_file = entry.header().entry_type().is_file();
                let name = entry
                    .path()
                    .map_err(|e| Error::internal(format!("reading the snapshot: {e}")))?;
                let name = name.strip_prefix("./").unwrap_or(&name);
                if is_file && name == wanted {
                    return Ok(true);
                }
            }
            Ok(false)
        })
        .await
        .map_err(|e| Error::internal(format!("reading the snapshot: {e}")))?
    }

    /// Unpacks a snapshot into `destination` (which must exist and be empty).
    pub(crate) async fn unpack_snapshot(
        &self,
        storage: &WorkspaceStorage,
        snapshot: &SnapshotRecord,
        destination: PathBuf,
    ) -> Result<()> {
        let (_, plaintext) = self
            .open_blob("", storage, &snapshot.blob)
            .await?
            .ok_or_else(|| Error::internal(format!("snapshot {} has no blob", snapshot.sha256)))?;
        tokio::task::spawn_blocking(move || {
            let mut archive =
                tar::Archive::new(SyncIoBridge::new(StreamReader::new(Box::pin(plaintext))));
            archive.set_preserve_permissions(false);
            archive.set_unpack_xattrs(false);
            archive.set_overwrite(false);
            archive
                .unpack(&destination)
                .map_err(|e| Error::internal(format!("unpacking the snapshot: {e}")))
        })
        .await
        .map_err(|e| Error::internal(format!("unpacking the snapshot: {e}")))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn links_are_judged_from_their_own_directory() {
        assert!(link_stays_inside(Path::new("a/b/link"), Path::new("../c")));
        assert!(link_stays_inside(Path::new("a/link"), Path::new("../c")));
        assert!(!link_stays_inside(Path::new("link"), Path::new("../c")));
        assert!(!link_stays_inside(
            Path::new("a/link"),
            Path::new("../../c")
        ));
        assert!(!link_stays_inside(
            Path::new("a/link"),
            Path::new("/etc/passwd")
        ));
        assert!(link_stays_inside(
            Path::new("a/link"),
            Path::new("./b/../c")
        ));
    }

    #[test]
    fn debug_shows_no_digest_of_key_material() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("root.key");
        std::fs::write(&key, [9u8; 32]).unwrap();
        let own = OwnKeyMaterial::of_files(&[key, dir.path().join("absent")]).unwrap();
        let shown = format!("{own:?}");
        assert_eq!(shown, "OwnKeyMaterial { files: 1 }");
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
            let _ = inspect_archive(bytes.as_slice(), &OwnKeyMaterial::default());
        }
    }
}
