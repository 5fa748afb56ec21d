//! The working-directory package of a Ray job: the run's unpacked snapshot, the Python SDK
//! (`_casemate_sdk/`, put on `PYTHONPATH`) and the server's CA certificate
//! (`_casemate_ca.pem`), zipped and named by a digest as Ray's package URIs are.

use crate::error::{Error, Result};
use std::io::Write;
use std::path::Path;

pub const SDK_DIR: &str = "_casemate_sdk";
pub const CA_FILE: &str = "_casemate_ca.pem";

pub struct Package {
    /// `_ray_pkg_<digest>.zip`, the name Ray keeps it under (`gcs://NAME`).
    pub name: String,
    pub bytes: Vec<u8>,
}

fn add_tree<W: Write + std::io::Seek>(
    zip: &mut zip::ZipWriter<W>,
    root: &Path,
    prefix: &str,
) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mut pending = vec![root.to_path_buf()];
    let failed = |e: &dyn std::fmt::Display| Error::internal(format!("packaging for Ray: {e}"));
    while let Some(directory) = pending.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&directory)
            .map_err(|e| failed(&e))?
            .collect::<std::io::Result<_>>()
            .map_err(|e| failed(&e))?;
        entries.sort_by_key(std::fs::DirEntry::file_name);
        for entry in entries {
            let path = entry.path();
            let kind = entry.file_type().map_err(|e| failed(&e))?;
            if kind.is_dir() {
                pending.push(path);
                continue;
            }
            if !kind.is_file() {
                continue;
            }
            let relative = path.strip_prefix(root).map_err(|e| failed(&e))?;
            let name = format!("{prefix}{}", relative.display());
            let mode = entry
                .metadata()
                .map_err(|e| failed(&e))?
                .permissions()
                .mode();
            let options = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated)
                .unix_permissions(mode & 0o755);
            zip.start_file(name, options).map_err(|e| failed(&e))?;
            let content = std::fs::read(&path).map_err(|e| failed(&e))?;
            zip.write_all(&content).map_err(|e| failed(&e))?;
        }
    }
    Ok(())
}

/// Zips `working_directory`, the SDK package (`…/casemate`) and the CA certificate (when there
/// is one), for `run` alone: Ray unpacks a package once per node and gives every job naming it
/// the same directory, so two runs of one snapshot must not share a name (nor `outputs/`).
pub fn build(
    run: uuid::Uuid,
    working_directory: &Path,
    sdk_package: &Path,
    ca_cert: Option<&Path>,
) -> Result<Package> {
    let failed = |e: &dyn std::fmt::Display| Error::internal(format!("packaging for Ray: {e}"));
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    add_tree(&mut zip, working_directory, "")?;
    add_tree(&mut zip, sdk_package, &format!("{SDK_DIR}/casemate/"))?;
    if let Some(ca) = ca_cert {
        let options = zip::write::SimpleFileOptions::default().unix_permissions(0o644);
        zip.start_file(CA_FILE, options).map_err(|e| failed(&e))?;
        let content = std::fs::read(ca).map_err(|e| failed(&e))?;
        zip.write_all(&content).map_err(|e| failed(&e))?;
    }
    let bytes = zip.finish().map_err(|e| failed(&e))?.into_inner();
    let named = [run.as_bytes().as_slice(), &bytes].concat();
    let digest = hex::encode(&casemate_crypto::sha256(&named)[..16]);
    Ok(Package {
        name: format!("_ray_pkg_{digest}.zip"),
        bytes,
    })
}
