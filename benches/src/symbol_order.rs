//! Writes `crates/casemate-cli/symbol-order.txt`, the functions a start on an existing home and
//! a first `GET /health` run, which release builds of the server place side by side (see the
//! crate's `build.rs`). The kernel brings a binary's code in by the page and maps the pages
//! around each one it faults in; with those functions spread over the 29 MiB of code, a start
//! made about 19 MiB of it resident, where the functions themselves are about 5.
//!
//! The functions are those callgrind (`apt-get install valgrind`) sees run, named as the
//! binary's symbol table (`nm`) names them. Regenerate after upgrading the toolchain or the
//! dependencies; the startup benchmark prints how much of the list the binary still has.

use crate::server::{CasemateServer, casemate_binary};
use anyhow::{Context, bail};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

fn order_file() -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or(Path::new(".."));
    workspace.join("crates/casemate-cli/symbol-order.txt")
}

/// The functions `binary` defines, by symbol name, with their sizes in bytes.
pub fn defined_functions(binary: &Path) -> anyhow::Result<HashMap<String, u64>> {
    let listing = Command::new("nm")
        .args(["--defined-only", "--print-size"])
        .arg(binary)
        .output()
        .context("running nm (binutils)")?;
    if !listing.status.success() {
        bail!("nm failed on {}", binary.display());
    }
    let mut functions = HashMap::new();
    for line in String::from_utf8_lossy(&listing.stdout).lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if let [_, size, kind, name] = fields[..]
            && matches!(kind, "t" | "T" | "w" | "W")
            && let Ok(size) = u64::from_str_radix(size, 16)
        {
            functions.insert(name.to_owned(), size);
        }
    }
    Ok(functions)
}

/// How many of the ordering file's functions `binary` still defines, of how many listed.
pub fn listed_functions_found(binary: &Path) -> anyhow::Result<(usize, usize)> {
    let listed = std::fs::read_to_string(order_file())
        .with_context(|| format!("reading {}", order_file().display()))?;
    let defined = defined_functions(binary)?;
    let names: Vec<&str> = listed.lines().filter(|name| !name.is_empty()).collect();
    let found = names
        .iter()
        .filter(|name| defined.contains_key(**name))
        .count();
    Ok((found, names.len()))
}

/// Function names in a callgrind profile, in the order they first appear: each is named once,
/// on the first `fn=(id) name` or `cfn=(id) name` line that gives its id.
fn profiled_functions(profile: &str) -> Vec<String> {
    let mut seen = HashSet::new();
    let mut names = Vec::new();
    for line in profile.lines() {
        let Some(rest) = line
            .strip_prefix("fn=(")
            .or_else(|| line.strip_prefix("cfn=("))
        else {
            continue;
        };
        if let Some((_, name)) = rest.split_once(") ")
            && seen.insert(name.to_owned())
        {
            names.push(name.to_owned());
        }
    }
    names
}

pub async fn run() -> anyhow::Result<()> {
    let binary = casemate_binary()?;
    let home = tempfile::tempdir()?;
    // The first start makes the home; the list is of a start on an existing one.
    drop(CasemateServer::start(home.path())?);
    let profile = home.path().join("callgrind.out");
    let mut valgrind = Command::new("valgrind");
    valgrind
        .args(["--tool=callgrind", "--demangle=no"])
        .arg(format!("--callgrind-out-file={}", profile.display()))
        .arg(&binary);
    let server = CasemateServer::start_with(valgrind, home.path(), None)
        .context("running the server under valgrind (apt-get install valgrind)")?;
    server.client()?.health().await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    server.terminate()?;
    let profiled = profiled_functions(&std::fs::read_to_string(&profile)?);
    let defined = defined_functions(&binary)?;
    let listed: Vec<String> = profiled
        .into_iter()
        .filter(|name| defined.contains_key(name))
        .collect();
    let bytes: u64 = listed.iter().filter_map(|name| defined.get(name)).sum();
    let mut contents = listed.join("\n");
    contents.push('\n');
    std::fs::write(order_file(), contents)?;
    println!(
        "{} functions ({:.1} MiB of code) written to {}; rebuild the release binary to use them",
        listed.len(),
        bytes as f64 / (1024.0 * 1024.0),
        order_file().display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::profiled_functions;

    #[test]
    fn profiled_functions_are_named_once_in_first_appearance_order() {
        let profile = "ob=(1) /bin/casemate\nfn=(1) _RNvCs1_4main\ncfn=(2) _RNvCs1_5start\ncalls=1 0\n\
                       fn=(2)\nfn=(3) memcpy\ncfn=(2)\nfn=(1)\n";
        assert_eq!(
            profiled_functions(profile),
            ["_RNvCs1_4main", "_RNvCs1_5start", "memcpy"]
        );
    }
}
