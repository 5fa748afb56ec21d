//! The Python SDK, carried in the binary and written under the data directory at each start, so
//! that every run of the local target can `import casemate` whichever `python3` the server's
//! PATH finds, without anyone installing the package on the server.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

/// The package's files, as the repository's `python/casemate/` holds them.
const FILES: [(&str, &str); 6] = [
    (
        "__init__.py",
        include_str!("../../../../python/casemate/__init__.py"),
    ),
    (
        "_http.py",
        include_str!("../../../../python/casemate/_http.py"),
    ),
    (
        "core.py",
        include_str!("../../../../python/casemate/core.py"),
    ),
    (
        "webservice.py",
        include_str!("../../../../python/casemate/webservice.py"),
    ),
    (
        "_scoring_server.py",
        include_str!("../../../../python/casemate/_scoring_server.py"),
    ),
    (
        "_upload_outputs.py",
        include_str!("../../../../python/casemate/_upload_outputs.py"),
    ),
];

/// Writes the package to `directory/casemate/`, each file replaced whole (written beside, then
/// renamed), so a run starting meanwhile never imports half a file.
pub fn install(directory: &Path) -> std::io::Result<()> {
    let package = directory.join("casemate");
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&package)?;
    for (name, text) in FILES {
        let partial = package.join(format!(".{name}.partial"));
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&partial)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&partial, package.join(name))?;
    }
    Ok(())
}

/// A run's `PYTHONPATH`: the one it asked for, if any, then the SDK.
pub fn python_path(sdk: &Path, requested: Option<&String>) -> String {
    match requested.filter(|path| !path.is_empty()) {
        Some(requested) => format!("{requested}:{}", sdk.display()),
        None => sdk.display().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_of_the_package_is_carried() {
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../python/casemate");
        let mut on_disk: Vec<String> = std::fs::read_dir(&source)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".py"))
            .collect();
        on_disk.sort();
        let mut carried: Vec<String> = FILES.iter().map(|(name, _)| (*name).to_owned()).collect();
        carried.sort();
        assert_eq!(carried, on_disk, "python/casemate/ and FILES differ");
    }

    #[test]
    fn a_requested_path_comes_first() {
        let sdk = Path::new("/home/sdk");
        assert_eq!(python_path(sdk, None), "/home/sdk");
        assert_eq!(python_path(sdk, Some(&String::new())), "/home/sdk");
        assert_eq!(
            python_path(sdk, Some(&"/mine".to_owned())),
            "/mine:/home/sdk"
        );
    }
}
