//! Runs, snapshots, experiments and compute targets; and the archive a snapshot is made from.

use super::{Client, ClientError, ClientResult};
use casemate_types::wire::*;
use reqwest::Method;
use std::collections::BTreeMap;
use std::io::{Seek, SeekFrom};
use std::path::Path;
use uuid::Uuid;

/// Directories never archived: git's, and `.casemate/`, which holds the CLI's and SDK's
/// configuration and, by default, a server's data directory (its root key and TLS key).
const NEVER_ARCHIVED: [&str; 2] = [".git", ".casemate"];

/// Files that only a casemate server's data directory holds. A tree that has one holds a
/// server's home, which is refused rather than uploaded.
const SERVER_HOME_FILES: [&str; 2] = ["casemate.db", "root.key"];

/// The tar of a source directory, honouring `.gitignore` and `.casemateignore` (`.git/` and
/// `.casemate/` are never included), written to an anonymous temporary file. Paths are relative,
/// owners and times are zeroed, so the same tree always gives the same bytes (and snapshot id).
/// A tree holding a casemate server's data directory is refused.
pub fn archive_directory(directory: &Path) -> std::io::Result<(std::fs::File, u64)> {
    let mut walker = ignore::WalkBuilder::new(directory);
    walker
        .hidden(false)
        .git_ignore(true)
        .git_global(false)
        .git_exclude(false)
        .require_git(false)
        .add_custom_ignore_filename(".casemateignore")
        .follow_links(false)
        .sort_by_file_name(|a, b| a.cmp(b))
        .filter_entry(|entry| !NEVER_ARCHIVED.iter().any(|name| entry.file_name() == *name));
    let file = tempfile::tempfile()?;
    let mut builder = tar::Builder::new(file);
    builder.mode(tar::HeaderMode::Deterministic);
    builder.follow_symlinks(false);
    for entry in walker.build() {
        let entry = entry.map_err(std::io::Error::other)?;
        let path = entry.path();
        let Ok(relative) = path.strip_prefix(directory) else {
            continue;
        };
        if relative.as_os_str().is_empty() {
            continue;
        }
        if SERVER_HOME_FILES
            .iter()
            .any(|name| entry.file_name() == *name)
        {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!(
                    "{} looks like a casemate server's data directory (it holds {}): its keys must \
                     never be uploaded. Keep the server's home outside the source tree, or list \
                     it in .casemateignore",
                    relative
                        .parent()
                        .filter(|p| !p.as_os_str().is_empty())
                        .map_or_else(|| ".".to_owned(), |p| p.display().to_string()),
                    relative.display()
                ),
            ));
        }
        builder.append_path_with_name(path, relative)?;
    }
    let mut file = builder.into_inner()?;
    let size = file.seek(SeekFrom::End(0))?;
    file.seek(SeekFrom::Start(0))?;
    Ok((file, size))
}

pub(crate) fn ws_path<'a>(rg: &'a str, ws: &'a str, tail: &[&'a str]) -> Vec<&'a str> {
    ["resourceGroups", rg, "workspaces", ws]
        .into_iter()
        .chain(tail.iter().copied())
        .collect()
}

impl Client {
    /// Uploads a tar (any stream of bytes) as a snapshot.
    pub async fn upload_snapshot(
        &self,
        rg: &str,
        ws: &str,
        body: reqwest::Body,
    ) -> ClientResult<Snapshot> {
        let url = self.url(&ws_path(rg, ws, &["snapshots"]))?;
        Self::decode(
            Self::send(
                self.request(Method::POST, url)
                    .header("content-type", "application/x-tar")
                    .body(body),
            )
            .await?,
        )
    }

    pub async fn get_snapshot(&self, rg: &str, ws: &str, id: &str) -> ClientResult<Snapshot> {
        self.get(&ws_path(rg, ws, &["snapshots", id])).await
    }

    pub async fn list_experiments(&self, rg: &str, ws: &str) -> ClientResult<Vec<Experiment>> {
        self.get(&ws_path(rg, ws, &["experiments"])).await
    }

    pub async fn submit_run(
        &self,
        rg: &str,
        ws: &str,
        experiment: &str,
        request: &SubmitRunRequest,
    ) -> ClientResult<Run> {
        self.post(
            &ws_path(rg, ws, &["experiments", experiment, "runs"]),
            request,
        )
        .await
    }

    pub async fn list_runs(
        &self,
        rg: &str,
        ws: &str,
        experiment: Option<&str>,
    ) -> ClientResult<Vec<Run>> {
        let query: Vec<(&str, &str)> = experiment.map(|e| ("experiment", e)).into_iter().collect();
        self.get_query(&ws_path(rg, ws, &["runs"]), &query).await
    }

    pub async fn get_run(&self, rg: &str, ws: &str, run: Uuid) -> ClientResult<Run> {
        let id = run.to_string();
        self.get(&ws_path(rg, ws, &["runs", &id])).await
    }

    pub async fn cancel_run(&self, rg: &str, ws: &str, run: Uuid) -> ClientResult<Run> {
        let id = run.to_string();
        self.post_empty(&ws_path(rg, ws, &["runs", &id, "cancel"]))
            .await
    }

    pub async fn delete_run(&self, rg: &str, ws: &str, run: Uuid) -> ClientResult<()> {
        let id = run.to_string();
        self.no_content(Method::DELETE, &ws_path(rg, ws, &["runs", &id]), None)
            .await
    }

    pub async fn run_logs(
        &self,
        rg: &str,
        ws: &str,
        run: Uuid,
        after: i64,
    ) -> ClientResult<RunLogs> {
        let id = run.to_string();
        let after = after.to_string();
        self.get_query(
            &ws_path(rg, ws, &["runs", &id, "logs"]),
            &[("after", &after)],
        )
        .await
    }

    pub async fn log_metrics(
        &self,
        rg: &str,
        ws: &str,
        run: Uuid,
        metrics: Vec<MetricPoint>,
    ) -> ClientResult<()> {
        let id = run.to_string();
        let body = serde_json::to_value(LogMetricsRequest { metrics })
            .map_err(|e| ClientError::Url(e.to_string()))?;
        self.no_content(
            Method::POST,
            &ws_path(rg, ws, &["runs", &id, "metrics"]),
            Some(&body),
        )
        .await
    }

    pub async fn run_metrics(&self, rg: &str, ws: &str, run: Uuid) -> ClientResult<Vec<Metric>> {
        let id = run.to_string();
        self.get(&ws_path(rg, ws, &["runs", &id, "metrics"])).await
    }

    pub async fn set_run_tags(
        &self,
        rg: &str,
        ws: &str,
        run: Uuid,
        tags: BTreeMap<String, String>,
    ) -> ClientResult<BTreeMap<String, String>> {
        let id = run.to_string();
        self.send_json(
            Method::PATCH,
            &ws_path(rg, ws, &["runs", &id, "tags"]),
            &[],
            &SetRunTagsRequest { tags },
        )
        .await
    }

    pub async fn put_run_output(
        &self,
        rg: &str,
        ws: &str,
        run: Uuid,
        path: &str,
        content: Vec<u8>,
    ) -> ClientResult<Artifact> {
        let id = run.to_string();
        let mut segments = ws_path(rg, ws, &["runs", &id, "outputs"]);
        segments.extend(path.split('/'));
        let url = self.url(&segments)?;
        Self::decode(Self::send(self.request(Method::PUT, url).body(content)).await?)
    }

    pub async fn list_computes(&self, rg: &str, ws: &str) -> ClientResult<Vec<Compute>> {
        self.get(&ws_path(rg, ws, &["computes"])).await
    }

    pub async fn create_compute(
        &self,
        rg: &str,
        ws: &str,
        name: &str,
        request: &CreateComputeRequest,
    ) -> ClientResult<Compute> {
        self.send_json(
            Method::PUT,
            &ws_path(rg, ws, &["computes", name]),
            &[],
            request,
        )
        .await
    }

    pub async fn get_compute(&self, rg: &str, ws: &str, name: &str) -> ClientResult<Compute> {
        self.get(&ws_path(rg, ws, &["computes", name])).await
    }

    pub async fn delete_compute(&self, rg: &str, ws: &str, name: &str) -> ClientResult<()> {
        self.no_content(Method::DELETE, &ws_path(rg, ws, &["computes", name]), None)
            .await
    }
}
