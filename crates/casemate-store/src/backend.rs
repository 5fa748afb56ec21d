//! The seam between the store's operations and its two databases, SQLite (embedded) and
//! PostgreSQL. Each operation is written once, in SQL both accept (numbered parameters,
//! standard upserts), and compiled for each backend by [`on_db!`]: the body is the same text,
//! typed against that backend's pool. What must differ between them lives here.

use crate::inline::InlineReads;
use sqlx::{PgConnection, PgPool, SqliteConnection, SqlitePool};
use std::sync::Arc;

#[derive(Debug, Clone)]
pub(crate) enum Pools {
    Sqlite {
        pool: SqlitePool,
        /// The one connection whose commits sync the write-ahead log before they return.
        durable: SqlitePool,
        /// Read-only connections for the gate's reads, run without a thread hand-over.
        inline: Arc<InlineReads>,
    },
    /// Every commit is durable on return (`synchronous_commit = on`), so one pool serves both.
    Postgres { pool: PgPool },
}

impl Pools {
    /// Makes the current transaction check foreign keys at its commit, so a key and the rows
    /// naming it can move together (PostgreSQL's constraints for this are DEFERRABLE).
    pub(crate) fn defer_foreign_keys(&self) -> &'static str {
        match self {
            Pools::Sqlite { .. } => "PRAGMA defer_foreign_keys = ON",
            Pools::Postgres { .. } => "SET CONSTRAINTS ALL DEFERRED",
        }
    }

    /// `InlineReads::rows` on SQLite; `None` on PostgreSQL, whose driver has no thread to hand
    /// over to.
    pub(crate) fn inline_rows<T>(
        &self,
        sql: &'static str,
        params: impl rusqlite::Params,
        row: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Option<Vec<T>> {
        match self {
            Pools::Sqlite { inline, .. } => inline.rows(sql, params, row),
            Pools::Postgres { .. } => None,
        }
    }
}

/// Runs `$body` with `$pool` (ordinary commits) and `$durable` (commits that must be durable
/// when they return) bound to the store's pools: the body is compiled once per backend.
macro_rules! on_db {
    ($store:expr, |$pool:ident, $durable:ident| $body:expr) => {
        match &$store.pools {
            $crate::backend::Pools::Sqlite { pool, durable, .. } => {
                #[allow(unused_variables)]
                let ($pool, $durable) = (pool, durable);
                $body
            }
            $crate::backend::Pools::Postgres { pool } => {
                #[allow(unused_variables)]
                let ($pool, $durable) = (pool, pool);
                $body
            }
        }
    };
}
pub(crate) use on_db;

/// A connection (or an open transaction) of either backend, for helpers that run inside an
/// operation's transaction.
pub(crate) enum Conn<'a> {
    Sqlite(&'a mut SqliteConnection),
    Postgres(&'a mut PgConnection),
}

impl<'a> From<&'a mut SqliteConnection> for Conn<'a> {
    fn from(connection: &'a mut SqliteConnection) -> Self {
        Self::Sqlite(connection)
    }
}

impl<'a> From<&'a mut PgConnection> for Conn<'a> {
    fn from(connection: &'a mut PgConnection) -> Self {
        Self::Postgres(connection)
    }
}

/// Runs `$body` with `$connection` bound to the backend's connection.
macro_rules! on_conn {
    ($conn:expr, |$connection:ident| $body:expr) => {
        match $conn {
            $crate::backend::Conn::Sqlite($connection) => $body,
            $crate::backend::Conn::Postgres($connection) => $body,
        }
    };
}
pub(crate) use on_conn;

/// A result row of either backend, read by column name into any type both decode.
pub(crate) trait StoreRow {
    fn value<'r, T>(&'r self, name: &str) -> Result<T, sqlx::Error>
    where
        T: sqlx::Decode<'r, sqlx::Sqlite>
            + sqlx::Type<sqlx::Sqlite>
            + sqlx::Decode<'r, sqlx::Postgres>
            + sqlx::Type<sqlx::Postgres>;
}

impl StoreRow for sqlx::sqlite::SqliteRow {
    fn value<'r, T>(&'r self, name: &str) -> Result<T, sqlx::Error>
    where
        T: sqlx::Decode<'r, sqlx::Sqlite>
            + sqlx::Type<sqlx::Sqlite>
            + sqlx::Decode<'r, sqlx::Postgres>
            + sqlx::Type<sqlx::Postgres>,
    {
        sqlx::Row::try_get(self, name)
    }
}

impl StoreRow for sqlx::postgres::PgRow {
    fn value<'r, T>(&'r self, name: &str) -> Result<T, sqlx::Error>
    where
        T: sqlx::Decode<'r, sqlx::Sqlite>
            + sqlx::Type<sqlx::Sqlite>
            + sqlx::Decode<'r, sqlx::Postgres>
            + sqlx::Type<sqlx::Postgres>,
    {
        sqlx::Row::try_get(self, name)
    }
}
