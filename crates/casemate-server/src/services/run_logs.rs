//! A run's captured output: masked per stream as it arrives, sealed in chunks under the
//! workspace's data key, and read back a page at a time.

use super::Services;
use super::executor::OutputStream;
use super::masking::{FetchedSecrets, Masker};
use super::resources::WorkspaceStorage;
use crate::error::{Error, Result};
use casemate_store::LogChunkRecord;
use casemate_types::wire::{LogChunk, RunLogs, RunStatus};
use std::collections::BTreeMap;
use std::sync::Arc;
use uuid::Uuid;

/// Output held before it is sealed and stored, whatever the flush interval.
const LOG_CHUNK_BYTES: usize = 64 * 1024;
/// Chunks answered per read of a run's output.
const LOG_PAGE: i64 = 256;

fn log_context(workspace: &str, run: Uuid, seq: i64) -> Vec<u8> {
    format!("{}/runs/{run}/logs/{seq}", workspace.to_ascii_lowercase()).into_bytes()
}

/// Cuts `bytes` after the last complete UTF-8 character; returns the incomplete rest.
fn split_incomplete_utf8(bytes: &mut Vec<u8>) -> Vec<u8> {
    match std::str::from_utf8(bytes) {
        Ok(_) => Vec::new(),
        Err(error) if error.error_len().is_none() => bytes.split_off(error.valid_up_to()),
        Err(_) => Vec::new(),
    }
}

/// A run's output on its way to the store: masked per stream, collected, sealed in chunks.
pub(super) struct LogWriter {
    run: Uuid,
    workspace: String,
    seq: i64,
    pending: Vec<(OutputStream, Vec<u8>)>,
    pending_bytes: usize,
    stdout: Masker,
    stderr: Masker,
    carry: BTreeMap<&'static str, Vec<u8>>,
}

impl LogWriter {
    pub(super) fn new(run: Uuid, workspace: &str, secrets: Arc<FetchedSecrets>) -> Self {
        Self {
            run,
            workspace: workspace.to_owned(),
            seq: 0,
            pending: Vec::new(),
            pending_bytes: 0,
            stdout: Masker::new(secrets.clone()),
            stderr: Masker::new(secrets),
            carry: BTreeMap::new(),
        }
    }

    pub(super) fn take(&mut self, stream: OutputStream, bytes: &[u8]) {
        let released = match stream {
            OutputStream::Stdout => self.stdout.push(bytes),
            OutputStream::Stderr => self.stderr.push(bytes),
        };
        self.queue(stream, released);
    }

    /// Enough output is held to be sealed and stored now.
    pub(super) fn is_full(&self) -> bool {
        self.pending_bytes >= LOG_CHUNK_BYTES
    }

    fn queue(&mut self, stream: OutputStream, bytes: Vec<u8>) {
        if bytes.is_empty() {
            return;
        }
        self.pending_bytes += bytes.len();
        match self.pending.last_mut() {
            Some((last, buffer)) if *last == stream => buffer.extend(bytes),
            _ => self.pending.push((stream, bytes)),
        }
    }

    /// The streams ended: everything held back (for masking, or an unfinished character) is stored.
    pub(super) async fn finish(
        &mut self,
        services: &Services,
        storage: &WorkspaceStorage,
    ) -> Result<()> {
        let out = self.stdout.finish();
        self.queue(OutputStream::Stdout, out);
        let err = self.stderr.finish();
        self.queue(OutputStream::Stderr, err);
        self.flush(services, storage).await?;
        for (name, rest) in std::mem::take(&mut self.carry) {
            self.store(services, storage, name, &rest).await?;
        }
        Ok(())
    }

    pub(super) async fn flush(
        &mut self,
        services: &Services,
        storage: &WorkspaceStorage,
    ) -> Result<()> {
        let pending = std::mem::take(&mut self.pending);
        self.pending_bytes = 0;
        for (stream, bytes) in pending {
            let name = stream.as_str();
            let mut text = self.carry.remove(name).unwrap_or_default();
            text.extend(bytes);
            let rest = split_incomplete_utf8(&mut text);
            if !rest.is_empty() {
                self.carry.insert(name, rest);
            }
            self.store(services, storage, name, &text).await?;
        }
        Ok(())
    }

    /// Stores a note from casemate itself in the log.
    pub(super) async fn note(
        &mut self,
        services: &Services,
        storage: &WorkspaceStorage,
        text: &str,
    ) -> Result<()> {
        self.store(
            services,
            storage,
            "casemate",
            format!("{text}\n").as_bytes(),
        )
        .await
    }

    async fn store(
        &mut self,
        services: &Services,
        storage: &WorkspaceStorage,
        stream: &str,
        text: &[u8],
    ) -> Result<()> {
        if text.is_empty() {
            return Ok(());
        }
        let (data_key, key) = services
            .current_data_key("", &storage.id, &storage.kek)
            .await?;
        self.seq += 1;
        let sealed = casemate_crypto::aead::seal(
            &key,
            text,
            &log_context(&self.workspace, self.run, self.seq),
        )?;
        services
            .store
            .insert_log_chunk(
                self.run,
                &LogChunkRecord {
                    seq: self.seq,
                    stream: stream.to_owned(),
                    data_key,
                    sealed,
                },
            )
            .await?;
        Ok(())
    }
}

impl Services {
    /// Up to a page of log chunks after `after`, unsealed.
    pub async fn run_logs(&self, rg: &str, ws: &str, run: Uuid, after: i64) -> Result<RunLogs> {
        let storage = self.workspace_storage(rg, ws).await?;
        let record = self.run_in(&storage, run).await?;
        let status = RunStatus::parse(&record.status)
            .ok_or_else(|| Error::internal(format!("run {run} has status {}", record.status)))?;
        let chunks = self.store.log_chunks(run, after.max(0), LOG_PAGE).await?;
        let mut out = Vec::with_capacity(chunks.len());
        for chunk in &chunks {
            let key = self.data_key_by_id("", &chunk.data_key).await?;
            let text = casemate_crypto::aead::open(
                &key,
                &chunk.sealed,
                &log_context(&storage.id, run, chunk.seq),
            )
            .map_err(|e| Error::internal(format!("run {run} log chunk {}: {e}", chunk.seq)))?;
            out.push(LogChunk {
                seq: chunk.seq,
                stream: chunk.stream.clone(),
                text: String::from_utf8_lossy(&text).into_owned(),
            });
        }
        let next = chunks.last().map_or(after.max(0), |c| c.seq);
        Ok(RunLogs {
            complete: status.is_final() && (chunks.len() as i64) < LOG_PAGE,
            chunks: out,
            next,
            status,
        })
    }
}
