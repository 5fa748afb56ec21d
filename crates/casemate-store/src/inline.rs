//! Reads the gate makes on every request, run on the calling thread.
//!
//! sqlx's SQLite driver runs each statement on the connection's own worker thread and hands the
//! rows back through a channel: on the 2-core machine that hand-over costs 50-100 µs, where the
//! indexed read itself takes a few. The change counts (read once per request) and a principal's
//! role assignments (read on each cache miss) are such reads, so on SQLite they go through a few
//! read-only connections of their own, opened with `rusqlite` on the same database file and the
//! same SQLite library sqlx links.
//!
//! An inline read never waits: when every connection is in use, or SQLite reports the database
//! busy, the caller reads through sqlx as before, which waits out the busy timeout on its own
//! thread. A tokio worker is therefore held for one indexed read at most.

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Enough that the 2-core machine's workers rarely find all of them taken; each keeps a small
/// page cache, so the footprint stays well under a MiB apiece.
const CONNECTIONS: usize = 4;
const PAGE_CACHE_KIB: i64 = 512;

pub(crate) struct InlineReads {
    connections: Vec<Mutex<rusqlite::Connection>>,
    answered: AtomicU64,
    passed_on: AtomicU64,
}

/// How often inline reads answered, and how often they passed the read on to sqlx.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InlineReadCounts {
    pub answered: u64,
    pub passed_on: u64,
}

impl std::fmt::Debug for InlineReads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InlineReads")
            .field("connections", &self.connections.len())
            .finish_non_exhaustive()
    }
}

impl InlineReads {
    /// Opens the read-only connections on `path`, which must already hold the migrated schema.
    pub(crate) fn open(path: &Path) -> Result<Self, rusqlite::Error> {
        let connections = (0..CONNECTIONS)
            .map(|_| {
                let connection = rusqlite::Connection::open_with_flags(
                    path,
                    rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                        | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                // Busy means "read through sqlx", which waits on its own thread.
                connection.busy_timeout(Duration::ZERO)?;
                connection.pragma_update(None, "cache_size", -PAGE_CACHE_KIB)?;
                Ok(Mutex::new(connection))
            })
            .collect::<Result<_, rusqlite::Error>>()?;
        Ok(Self {
            connections,
            answered: AtomicU64::new(0),
            passed_on: AtomicU64::new(0),
        })
    }

    pub(crate) fn counts(&self) -> InlineReadCounts {
        InlineReadCounts {
            answered: self.answered.load(Ordering::Relaxed),
            passed_on: self.passed_on.load(Ordering::Relaxed),
        }
    }

    /// The rows `sql` returns for `params`, each read by `row`; `None` when no connection was
    /// free or the read failed, and the caller should read through sqlx, whose answer or error
    /// is the one that counts.
    pub(crate) fn rows<T>(
        &self,
        sql: &'static str,
        params: impl rusqlite::Params,
        row: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Option<Vec<T>> {
        let read = self
            .connections
            .iter()
            .find_map(|connection| connection.try_lock().ok())
            .and_then(|connection| {
                let mut statement = connection.prepare_cached(sql).ok()?;
                let rows = statement.query_map(params, row).ok()?;
                rows.collect::<Result<Vec<T>, _>>().ok()
            });
        let counter = if read.is_some() {
            &self.answered
        } else {
            &self.passed_on
        };
        counter.fetch_add(1, Ordering::Relaxed);
        read
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reads_on_a_table_of_one_row() -> (tempfile::TempDir, InlineReads) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("inline.db");
        let writer = rusqlite::Connection::open(&path).unwrap();
        writer
            .execute_batch(
                "PRAGMA journal_mode = WAL; CREATE TABLE t (k TEXT, v INTEGER); \
                 INSERT INTO t VALUES ('a', 1);",
            )
            .unwrap();
        (dir, InlineReads::open(&path).unwrap())
    }

    const READ: &str = "SELECT v FROM t WHERE k = $1";

    #[test]
    fn a_read_answers_from_a_free_connection() {
        let (_dir, reads) = reads_on_a_table_of_one_row();
        let rows = reads.rows(READ, ["a"], |row| row.get::<_, i64>(0));
        assert_eq!(rows, Some(vec![1]));
        assert_eq!(
            reads.counts(),
            InlineReadCounts {
                answered: 1,
                passed_on: 0
            }
        );
    }

    #[test]
    fn a_read_passes_on_instead_of_waiting_or_failing() {
        let (_dir, reads) = reads_on_a_table_of_one_row();
        {
            let _all_taken: Vec<_> = reads
                .connections
                .iter()
                .map(|c| c.lock().unwrap())
                .collect();
            assert_eq!(reads.rows(READ, ["a"], |row| row.get::<_, i64>(0)), None);
        }
        // A column read as the wrong type, and a statement that writes, are passed on too: the
        // sqlx read is the one whose answer or error counts.
        assert_eq!(reads.rows(READ, ["a"], |row| row.get::<_, String>(0)), None);
        assert_eq!(
            reads.rows("INSERT INTO t VALUES ('b', 2) RETURNING v", (), |row| row
                .get::<_, i64>(
                0
            )),
            None
        );
        assert_eq!(reads.counts().passed_on, 3);
    }
}
