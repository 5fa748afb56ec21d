//! Root key providers. The root key wraps everything else the server keeps secret at rest.

use crate::{CryptoError, aead, random_bytes};
use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// Wraps and unwraps small secrets (data keys, signing keys) under a root key it never reveals.
pub trait KeyProvider: Send + Sync + std::fmt::Debug {
    /// Names the root key, so a ciphertext can say which key wrapped it.
    fn key_id(&self) -> &str;
    fn wrap(&self, plaintext: &[u8], associated_data: &[u8]) -> Result<Vec<u8>, CryptoError>;
    fn unwrap(
        &self,
        wrapped: &[u8],
        associated_data: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError>;
}

/// A 256-bit root key in a file of mode 0600: the embedded default.
pub struct FileKeyProvider {
    key: Zeroizing<[u8; 32]>,
    key_id: String,
}

impl std::fmt::Debug for FileKeyProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileKeyProvider")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl FileKeyProvider {
    /// Loads the key file, creating it (mode 0600) when absent. Refuses a file that others can read.
    pub fn load_or_create(path: &Path) -> Result<Self, CryptoError> {
        let error = |reason: String| CryptoError::KeyFile {
            path: path.display().to_string(),
            reason,
        };
        if !path.exists() {
            let key = random_bytes::<32>()?;
            let mut file = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .map_err(|e| error(format!("cannot create: {e}")))?;
            file.write_all(key.as_ref())
                .map_err(|e| error(format!("cannot write: {e}")))?;
            file.sync_all()
                .map_err(|e| error(format!("cannot sync: {e}")))?;
        }
        let bytes = read_private_file(path)?;
        let key: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| error(format!("must hold exactly 32 bytes, holds {}", bytes.len())))?;
        let key_id = format!("file:{}", &hex::encode(crate::sha256(&key))[..16]);
        Ok(Self {
            key: Zeroizing::new(key),
            key_id,
        })
    }

    pub fn path_for(home: &Path) -> PathBuf {
        home.join("root.key")
    }
}

/// Reads a file that holds a secret, refusing it when group or others can read it.
pub fn read_private_file(path: &Path) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let error = |reason: String| CryptoError::KeyFile {
        path: path.display().to_string(),
        reason,
    };
    let mode = fs::metadata(path)
        .map_err(|e| error(format!("cannot read: {e}")))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(error(format!(
            "is accessible by group or others (mode {:o}); run `chmod 600` on it",
            mode & 0o777
        )));
    }
    Ok(Zeroizing::new(
        fs::read(path).map_err(|e| error(format!("cannot read: {e}")))?,
    ))
}

impl KeyProvider for FileKeyProvider {
    fn key_id(&self) -> &str {
        &self.key_id
    }

    fn wrap(&self, plaintext: &[u8], associated_data: &[u8]) -> Result<Vec<u8>, CryptoError> {
        aead::seal(&self.key, plaintext, associated_data)
    }

    fn unwrap(
        &self,
        wrapped: &[u8],
        associated_data: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        aead::open(&self.key, wrapped, associated_data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_a_private_key_file_and_reloads_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("root.key");
        let first = FileKeyProvider::load_or_create(&path).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let wrapped = first.wrap(b"data key", b"aad").unwrap();
        let second = FileKeyProvider::load_or_create(&path).unwrap();
        assert_eq!(first.key_id(), second.key_id());
        assert_eq!(
            second.unwrap(&wrapped, b"aad").unwrap().as_slice(),
            b"data key"
        );
    }

    #[test]
    fn refuses_a_key_file_readable_by_others() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("root.key");
        FileKeyProvider::load_or_create(&path).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let err = FileKeyProvider::load_or_create(&path)
            .unwrap_err()
            .to_string();
        assert!(err.contains("accessible by group or others"), "{err}");
    }

    #[test]
    fn refuses_a_key_file_of_the_wrong_length() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("root.key");
        fs::write(&path, b"short").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        let err = FileKeyProvider::load_or_create(&path)
            .unwrap_err()
            .to_string();
        assert!(err.contains("exactly 32 bytes"), "{err}");
    }
}
