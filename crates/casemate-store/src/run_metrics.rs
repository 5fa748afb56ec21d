//! A run's metric points (migrations 0005, 0019, 0021 and 0022), kept in blocks: the points of
//! one name that one request logged, in one row. Each block names its run by the run's integer
//! metric key, which the statements storing and reading blocks look up from `runs` themselves.

mod packed;

use crate::backend::{StoreRow, on_db};
use crate::records::parse_uuid;
use crate::{Store, StoreError, StoreResult};
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq)]
pub struct MetricRecord {
    pub name: String,
    pub value: f64,
    pub step: i64,
    /// Unix milliseconds.
    pub timestamp: i64,
}

/// A metric's latest value: the highest step, then the latest time, then the largest value.
#[derive(Debug, Clone, PartialEq)]
pub struct LatestMetric {
    pub run_id: Uuid,
    pub metric: MetricRecord,
}

/// The values one block binds: its name, its latest point and its points.
const BLOCK_COLUMNS: usize = 5;
/// The most blocks one statement stores.
const BLOCKS_PER_STATEMENT: usize = crate::MAX_BINDS_PER_STATEMENT / BLOCK_COLUMNS;
/// A training loop logs the same few names at every step, so statements of up to this many
/// blocks recur and stay prepared; longer ones vary and would crowd the statement cache.
const PREPARED_BLOCKS: usize = 16;
/// The 8-byte words of one point in a block's `points` in the fixed layout: value, step, time.
const POINT_WORDS: usize = 3;
/// `points_format` of a block whose points are 24-byte words (migration 0021).
const FIXED_POINTS: i32 = 0;
/// `points_format` of a block whose points are packed (migration 0022), as every new block is.
const PACKED_POINTS: i32 = 1;

/// The points of one name in one request, as a row stores them.
pub(crate) struct Block {
    name: String,
    latest: (f64, i64, i64),
    /// Every point, packed, when there is more than one; the latest alone says it otherwise.
    points: Option<Vec<u8>>,
}

/// Whether `a` is later than `b` by the latest-value rule: step, then time, then value.
fn later(a: &MetricRecord, b: &MetricRecord) -> bool {
    (a.step, a.timestamp)
        .cmp(&(b.step, b.timestamp))
        .then(a.value.total_cmp(&b.value))
        .is_gt()
}

/// `metrics` as blocks, one per name in the order the names first appear.
pub(crate) fn blocks_of(metrics: &[MetricRecord]) -> Vec<Block> {
    let mut by_name: HashMap<&str, Vec<&MetricRecord>> = HashMap::new();
    let mut names = Vec::new();
    for metric in metrics {
        by_name
            .entry(&metric.name)
            .or_insert_with(|| {
                names.push(metric.name.as_str());
                Vec::new()
            })
            .push(metric);
    }
    names
        .into_iter()
        .filter_map(|name| {
            let points = by_name.remove(name)?;
            let latest = points
                .iter()
                .copied()
                .reduce(|latest, point| if later(point, latest) { point } else { latest })?;
            Some(Block {
                name: name.to_owned(),
                latest: (latest.value, latest.step, latest.timestamp),
                points: (points.len() > 1).then(|| packed::pack(&points)),
            })
        })
        .collect()
}

/// Appends a stored block's points, laid out as `format` says, to `into`.
pub(crate) fn decode_block(
    name: String,
    latest: (f64, i64, i64),
    points: Option<&[u8]>,
    format: i32,
    into: &mut Vec<MetricRecord>,
) -> StoreResult<()> {
    let Some(bytes) = points else {
        let (value, step, timestamp) = latest;
        into.push(MetricRecord {
            name,
            value,
            step,
            timestamp,
        });
        return Ok(());
    };
    match format {
        PACKED_POINTS => packed::unpack(&name, bytes, into).map_err(|flaw| {
            StoreError::Corrupt(format!(
                "a block of metric '{name}' ({} bytes) {flaw}",
                bytes.len()
            ))
        }),
        FIXED_POINTS => decode_fixed_points(name, bytes, into),
        other => Err(StoreError::Corrupt(format!(
            "a block of metric '{name}' is in points format {other}, which this release does not read"
        ))),
    }
}

/// Appends points in the fixed layout of migration 0021 to `into`.
fn decode_fixed_points(
    name: String,
    bytes: &[u8],
    into: &mut Vec<MetricRecord>,
) -> StoreResult<()> {
    let (words, rest) = bytes.as_chunks::<8>();
    if !rest.is_empty() || words.len() % POINT_WORDS != 0 {
        return Err(StoreError::Corrupt(format!(
            "a block of metric '{name}' holds {} bytes, not a whole number of points",
            bytes.len()
        )));
    }
    for point in words.chunks_exact(POINT_WORDS) {
        if let [value, step, timestamp] = point {
            into.push(MetricRecord {
                name: name.clone(),
                value: f64::from_le_bytes(*value),
                step: i64::from_le_bytes(*step),
                timestamp: i64::from_le_bytes(*timestamp),
            });
        }
    }
    Ok(())
}

/// The run a request's points go to. Its metric key is looked up in the statement that stores
/// them, so the run's id is bound once per statement, not once per block; with `live_in`, the
/// points are stored only while the run is active in that workspace.
pub(crate) struct MetricTarget<'a> {
    pub(crate) run: &'a str,
    pub(crate) live_in: Option<&'a str>,
}

/// Stores `blocks` for `target` in as few statements as the bind limit allows.
/// True when every block was stored; false when none was, the run not being there (or not live
/// where `live_in` asks): each statement joins the run, so it stores all its blocks or none.
pub(crate) async fn insert_metric_rows<'a, DB, C>(
    connection: &mut C,
    target: &MetricTarget<'a>,
    blocks: Vec<Block>,
) -> StoreResult<bool>
where
    DB: sqlx::Database + sqlx::database::HasStatementCache,
    for<'c> &'c mut C: sqlx::Executor<'c, Database = DB>,
    DB::Arguments: sqlx::IntoArguments<DB>,
    <DB as sqlx::Database>::QueryResult: RowsAffected,
    &'a str: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    String: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    Option<Vec<u8>>: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    f64: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    i64: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
{
    let mut blocks = blocks.into_iter().peekable();
    while blocks.peek().is_some() {
        let chunk: Vec<Block> = blocks.by_ref().take(BLOCKS_PER_STATEMENT).collect();
        let count = chunk.len();
        let mut builder = sqlx::QueryBuilder::<DB>::new(format!(
            "INSERT INTO run_metric_blocks \
             (run_key, name, value, step, timestamp, points, points_format) \
             SELECT r.metric_key, batch.column1, batch.column2, batch.column3, batch.column4, \
             batch.column5, {PACKED_POINTS} FROM ("
        ));
        builder.push_values(chunk, |mut row, block| {
            let (value, step, timestamp) = block.latest;
            row.push_bind(block.name)
                .push_bind(value)
                .push_bind(step)
                .push_bind(timestamp)
                .push_bind(block.points);
        });
        builder
            .push(") AS batch JOIN runs r ON r.id = ")
            .push_bind(target.run);
        if let Some(workspace_id) = target.live_in {
            builder
                .push(" AND r.workspace_id = ")
                .push_bind(workspace_id)
                .push(" AND r.lifecycle = 'active'");
        }
        let stored = builder
            .build()
            .persistent(count <= PREPARED_BLOCKS)
            .execute(&mut *connection)
            .await?
            .rows_affected();
        if usize::try_from(stored).ok() != Some(count) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The rows a statement changed, on either backend.
pub(crate) trait RowsAffected {
    fn rows_affected(&self) -> u64;
}

impl RowsAffected for sqlx::sqlite::SqliteQueryResult {
    fn rows_affected(&self) -> u64 {
        self.rows_affected()
    }
}

impl RowsAffected for sqlx::postgres::PgQueryResult {
    fn rows_affected(&self) -> u64 {
        self.rows_affected()
    }
}

/// Every point stored, or the run was not there (nothing is kept then: the caller's statement
/// or transaction stored nothing, or is rolled back).
pub(crate) fn stored_all(stored: bool) -> StoreResult<()> {
    if stored {
        Ok(())
    } else {
        Err(StoreError::NotFound("run"))
    }
}

impl Store {
    /// Stores metrics for a run only while it is in `workspace_id` and not deleted, checking and
    /// inserting in one statement. False (storing nothing) when it is not, or when there are more
    /// names than one statement binds (1,600); the caller then finds out why the slow way.
    pub async fn insert_metrics_for_live_run(
        &self,
        workspace_id: &str,
        run_id: Uuid,
        metrics: &[MetricRecord],
    ) -> StoreResult<bool> {
        on_db!(self, |pool, durable| {
            let blocks = blocks_of(metrics);
            if blocks.is_empty() || blocks.len() > BLOCKS_PER_STATEMENT {
                return Ok(false);
            }
            let run = run_id.to_string();
            let target = MetricTarget {
                run: &run,
                live_in: Some(workspace_id),
            };
            let mut connection = pool.acquire().await?;
            insert_metric_rows(&mut *connection, &target, blocks).await
        })
    }

    /// Stores metrics for a run, all or none: NotFound when the run is not there.
    pub async fn insert_metrics(&self, run_id: Uuid, metrics: &[MetricRecord]) -> StoreResult<()> {
        on_db!(self, |pool, durable| {
            let blocks = blocks_of(metrics);
            let run = run_id.to_string();
            let target = MetricTarget {
                run: &run,
                live_in: None,
            };
            // One statement applies whole or not at all: it needs no transaction of its own.
            if blocks.len() <= BLOCKS_PER_STATEMENT {
                let mut connection = pool.acquire().await?;
                return stored_all(insert_metric_rows(&mut *connection, &target, blocks).await?);
            }
            let mut tx = pool.begin().await?;
            stored_all(insert_metric_rows(&mut *tx, &target, blocks).await?)?;
            tx.commit().await?;
            Ok(())
        })
    }

    /// A run's metrics in the order they were logged, name by name within one request.
    pub async fn metrics(&self, run_id: Uuid) -> StoreResult<Vec<MetricRecord>> {
        self.metric_points(run_id, None).await
    }

    /// One metric of a run, in the order it was logged.
    pub async fn metric_history(&self, run_id: Uuid, name: &str) -> StoreResult<Vec<MetricRecord>> {
        self.metric_points(run_id, Some(name)).await
    }

    /// A run's points, of one name or all. A point logged again with the same name, value, step
    /// and time is the same point, listed once, as MLflow keeps it (its client logs a run's
    /// metrics again, linked to each model the run logs).
    async fn metric_points(
        &self,
        run_id: Uuid,
        name: Option<&str>,
    ) -> StoreResult<Vec<MetricRecord>> {
        on_db!(self, |pool, durable| {
            let rows = sqlx::query(
                "SELECT name, value, step, timestamp, points, points_format FROM run_metric_blocks \
                 WHERE run_key = (SELECT metric_key FROM runs WHERE id = $1) \
                 AND ($2 IS NULL OR name = $2) ORDER BY seq",
            )
            .bind(run_id.to_string())
            .bind(name)
            .fetch_all(pool)
            .await?;
            let mut points = Vec::new();
            let mut block = Vec::new();
            let mut seen: HashMap<String, HashSet<(u64, i64, i64)>> = HashMap::new();
            for row in &rows {
                let name: String = row.value("name")?;
                let latest = (
                    row.value("value")?,
                    row.value("step")?,
                    row.value("timestamp")?,
                );
                let encoded: Option<&[u8]> = row.value("points")?;
                let format: i32 = row.value("points_format")?;
                let seen = seen.entry(name.clone()).or_default();
                decode_block(name, latest, encoded, format, &mut block)?;
                points.extend(block.drain(..).filter(|point| {
                    seen.insert((point.value.to_bits(), point.step, point.timestamp))
                }));
            }
            Ok(points)
        })
    }

    /// The latest value of every metric of a workspace's runs, or of one of them: a block's
    /// columns hold its latest point, so this ranks blocks, not points.
    pub async fn latest_metrics(
        &self,
        workspace_id: &str,
        run: Option<Uuid>,
    ) -> StoreResult<Vec<LatestMetric>> {
        on_db!(self, |pool, durable| {
            let rows = sqlx::query(
            "SELECT run_id, name, value, step, timestamp FROM ( \
               SELECT r.id AS run_id, m.name, m.value, m.step, m.timestamp, ROW_NUMBER() OVER ( \
                 PARTITION BY m.run_key, m.name ORDER BY m.step DESC, m.timestamp DESC, m.value DESC \
               ) AS position \
               FROM run_metric_blocks m JOIN runs r ON r.metric_key = m.run_key \
               WHERE r.workspace_id = $1 AND ($2 IS NULL OR r.id = $2) \
             ) AS ranked WHERE position = 1 ORDER BY run_id, name",
        )
        .bind(workspace_id)
        .bind(run.map(|id| id.to_string()))
        .fetch_all(pool)
        .await?;
            rows.iter()
                .map(|row| {
                    Ok(LatestMetric {
                        run_id: parse_uuid("run_metric_blocks.run_id", row.value("run_id")?)?,
                        metric: MetricRecord {
                            name: row.value("name")?,
                            value: row.value("value")?,
                            step: row.value("step")?,
                            timestamp: row.value("timestamp")?,
                        },
                    })
                })
                .collect()
        })
    }
}
