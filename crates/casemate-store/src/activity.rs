//! The activity log: append-only rows, each carrying the hash of the one before it.
use crate::backend::{StoreRow, on_db};

use crate::{Durability, Store, StoreResult};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityRecord {
    pub seq: i64,
    pub id: String,
    pub time_ms: i64,
    pub operation: String,
    pub phase: String,
    pub status: i64,
    pub caller_id: String,
    pub caller_name: String,
    pub resource_id: String,
    pub correlation_id: String,
    pub client_address: String,
    pub user_agent: String,
    pub detail: String,
    pub prev_hash: Vec<u8>,
    pub hash: Vec<u8>,
}

/// What to list; every field narrows the result.
#[derive(Debug, Clone, Default)]
pub struct ActivityFilter {
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    /// The scope and everything below it.
    pub scope: Option<String>,
    pub caller_id: Option<String>,
    pub operation: Option<String>,
    pub phase: Option<String>,
    /// Only records after this sequence number (paging).
    pub after_seq: Option<i64>,
    pub limit: i64,
}

fn record_from_row(row: &impl StoreRow) -> StoreResult<ActivityRecord> {
    Ok(ActivityRecord {
        seq: row.value("seq")?,
        id: row.value("id")?,
        time_ms: row.value("time")?,
        operation: row.value("operation")?,
        phase: row.value("phase")?,
        status: row.value("status")?,
        caller_id: row.value("caller_id")?,
        caller_name: row.value("caller_name")?,
        resource_id: row.value("resource_id")?,
        correlation_id: row.value("correlation_id")?,
        client_address: row.value("client_address")?,
        user_agent: row.value("user_agent")?,
        detail: row.value("detail")?,
        prev_hash: row.value("prev_hash")?,
        hash: row.value("hash")?,
    })
}

impl Store {
    /// Appends records (already chained by the caller) all or nothing; with `Durability::Now`,
    /// one sync for the batch and every commit before it. A record whose sequence number is
    /// taken (another process appended first) is a `Conflict`.
    pub async fn append_activity(
        &self,
        records: &[ActivityRecord],
        durability: Durability,
    ) -> StoreResult<()> {
        on_db!(self, |pool, durable| {
            crate::insert_rows(
            if durability == Durability::Now { durable } else { pool },
            "INSERT INTO activity_log (seq, id, time, operation, phase, status, caller_id, caller_name, resource_id, \
             correlation_id, client_address, user_agent, detail, prev_hash, hash) ",
            15,
            records,
            |row, record| {
                row.push_bind(record.seq)
                    .push_bind(&record.id)
                    .push_bind(record.time_ms)
                    .push_bind(&record.operation)
                    .push_bind(&record.phase)
                    .push_bind(record.status)
                    .push_bind(&record.caller_id)
                    .push_bind(&record.caller_name)
                    .push_bind(&record.resource_id)
                    .push_bind(&record.correlation_id)
                    .push_bind(&record.client_address)
                    .push_bind(&record.user_agent)
                    .push_bind(&record.detail)
                    .push_bind(&record.prev_hash)
                    .push_bind(&record.hash);
            },
        )
        .await
        })
    }

    /// The last record's sequence number and hash, where the chain continues.
    pub async fn activity_head(&self) -> StoreResult<Option<(i64, Vec<u8>)>> {
        on_db!(self, |pool, durable| {
            let row = sqlx::query("SELECT seq, hash FROM activity_log ORDER BY seq DESC LIMIT 1")
                .fetch_optional(pool)
                .await?;
            row.map(|row| Ok((row.value("seq")?, row.value("hash")?)))
                .transpose()
        })
    }

    pub async fn list_activity(&self, filter: &ActivityFilter) -> StoreResult<Vec<ActivityRecord>> {
        on_db!(self, |pool, durable| {
            let mut query = sqlx::QueryBuilder::new("SELECT * FROM activity_log WHERE 1 = 1");
            if let Some(from) = filter.from_ms {
                query.push(" AND time >= ").push_bind(from);
            }
            if let Some(to) = filter.to_ms {
                query.push(" AND time < ").push_bind(to);
            }
            if let Some(scope) = &filter.scope
                && scope != "/"
            {
                query
                    .push(" AND (lower(resource_id) = lower(")
                    .push_bind(scope.clone())
                    .push(") OR lower(substr(resource_id, 1, CAST(")
                    .push_bind(i64::try_from(scope.len() + 1).unwrap_or(i64::MAX))
                    .push(" AS INTEGER))) = lower(")
                    .push_bind(format!("{scope}/"))
                    .push("))");
            }
            if let Some(caller) = &filter.caller_id {
                query.push(" AND (caller_id = ").push_bind(caller.clone());
                query
                    .push(" OR caller_name = ")
                    .push_bind(caller.clone())
                    .push(" COLLATE NOCASE)");
            }
            if let Some(operation) = &filter.operation {
                query
                    .push(" AND operation = ")
                    .push_bind(operation.clone())
                    .push(" COLLATE NOCASE");
            }
            if let Some(phase) = &filter.phase {
                query
                    .push(" AND phase = ")
                    .push_bind(phase.clone())
                    .push(" COLLATE NOCASE");
            }
            if let Some(after) = filter.after_seq {
                query.push(" AND seq > ").push_bind(after);
            }
            query.push(" ORDER BY seq LIMIT ").push_bind(filter.limit);
            let rows = query.build().fetch_all(pool).await?;
            rows.iter().map(record_from_row).collect()
        })
    }

    /// Records in sequence order from `after_seq` on, for verification in pages.
    pub async fn activity_page(
        &self,
        after_seq: i64,
        limit: i64,
    ) -> StoreResult<Vec<ActivityRecord>> {
        on_db!(self, |pool, durable| {
            let rows =
                sqlx::query("SELECT * FROM activity_log WHERE seq > $1 ORDER BY seq LIMIT $2")
                    .bind(after_seq)
                    .bind(limit)
                    .fetch_all(pool)
                    .await?;
            rows.iter().map(record_from_row).collect()
        })
    }
}
