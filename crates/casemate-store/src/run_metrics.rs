//! A run's metric points (migrations 0005 and 0019): each names its run by the run's integer
//! metric key, which the statements storing and reading points look up from `runs` themselves.

use crate::backend::{StoreRow, on_db};
use crate::records::parse_uuid;
use crate::{Store, StoreError, StoreResult};
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

/// The values one metric point binds.
const METRIC_COLUMNS: usize = 4;
/// The most points one statement stores.
const METRICS_PER_STATEMENT: usize = crate::MAX_BINDS_PER_STATEMENT / METRIC_COLUMNS;

/// The run a batch of points goes to. Its metric key is looked up in the statement that stores
/// them, so the run's id is bound once per statement, not once per point; with `live_in`, the
/// points are stored only while the run is active in that workspace.
pub(crate) struct MetricTarget<'a> {
    pub(crate) run: &'a str,
    pub(crate) live_in: Option<&'a str>,
}

/// Stores `metrics` for `target` in as few statements as the bind limit allows, returning how
/// many were stored: none when the run is not there (or not live where `live_in` asks).
pub(crate) async fn insert_metric_rows<'a, DB, C>(
    connection: &mut C,
    target: &MetricTarget<'a>,
    metrics: &'a [MetricRecord],
) -> StoreResult<u64>
where
    DB: sqlx::Database + sqlx::database::HasStatementCache,
    for<'c> &'c mut C: sqlx::Executor<'c, Database = DB>,
    DB::Arguments: sqlx::IntoArguments<DB>,
    <DB as sqlx::Database>::QueryResult: RowsAffected,
    &'a String: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    &'a str: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    f64: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    i64: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
{
    let mut stored = 0;
    for chunk in metrics.chunks(METRICS_PER_STATEMENT) {
        let mut builder = sqlx::QueryBuilder::<DB>::new(
            "INSERT INTO run_metrics (run_key, name, value, step, timestamp) \
             SELECT r.metric_key, batch.column1, batch.column2, batch.column3, batch.column4 FROM (",
        );
        builder.push_values(chunk, |mut row, metric| {
            row.push_bind(&metric.name)
                .push_bind(metric.value)
                .push_bind(metric.step)
                .push_bind(metric.timestamp);
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
        stored += builder
            .build()
            .persistent(crate::keep_prepared(chunk.len()))
            .execute(&mut *connection)
            .await?
            .rows_affected();
    }
    Ok(stored)
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
pub(crate) fn stored_all(stored: u64, metrics: &[MetricRecord]) -> StoreResult<()> {
    if usize::try_from(stored).is_ok_and(|stored| stored == metrics.len()) {
        Ok(())
    } else {
        Err(StoreError::NotFound("run"))
    }
}

impl Store {
    /// Stores metrics for a run only while it is in `workspace_id` and not deleted, checking and
    /// inserting in one statement. False (storing nothing) when it is not, or when there are more
    /// points than one statement binds (2,000); the caller then finds out why the slow way.
    pub async fn insert_metrics_for_live_run(
        &self,
        workspace_id: &str,
        run_id: Uuid,
        metrics: &[MetricRecord],
    ) -> StoreResult<bool> {
        on_db!(self, |pool, durable| {
            if metrics.is_empty() || metrics.len() > METRICS_PER_STATEMENT {
                return Ok(false);
            }
            let run = run_id.to_string();
            let target = MetricTarget {
                run: &run,
                live_in: Some(workspace_id),
            };
            let mut connection = pool.acquire().await?;
            Ok(insert_metric_rows(&mut *connection, &target, metrics).await? > 0)
        })
    }

    /// Stores metrics for a run, all or none: NotFound when the run is not there.
    pub async fn insert_metrics(&self, run_id: Uuid, metrics: &[MetricRecord]) -> StoreResult<()> {
        on_db!(self, |pool, durable| {
            let run = run_id.to_string();
            let target = MetricTarget {
                run: &run,
                live_in: None,
            };
            // One statement applies whole or not at all: it needs no transaction of its own.
            if metrics.len() <= METRICS_PER_STATEMENT {
                let mut connection = pool.acquire().await?;
                let stored = insert_metric_rows(&mut *connection, &target, metrics).await?;
                return stored_all(stored, metrics);
            }
            let mut tx = pool.begin().await?;
            stored_all(
                insert_metric_rows(&mut *tx, &target, metrics).await?,
                metrics,
            )?;
            tx.commit().await?;
            Ok(())
        })
    }

    /// A run's metrics in the order they were logged. A point logged again with the same name,
    /// value, step and time is the same point, listed once, as MLflow keeps it (its client logs
    /// a run's metrics again, linked to each model the run logs).
    pub async fn metrics(&self, run_id: Uuid) -> StoreResult<Vec<MetricRecord>> {
        on_db!(self, |pool, durable| {
            let rows = sqlx::query(
                "SELECT name, value, step, timestamp FROM run_metrics \
             WHERE run_key = (SELECT metric_key FROM runs WHERE id = $1) \
             GROUP BY name, value, step, timestamp ORDER BY MIN(seq)",
            )
            .bind(run_id.to_string())
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|row| {
                    Ok(MetricRecord {
                        name: row.value("name")?,
                        value: row.value("value")?,
                        step: row.value("step")?,
                        timestamp: row.value("timestamp")?,
                    })
                })
                .collect()
        })
    }

    /// The latest value of every metric of a workspace's runs, or of one of them.
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
               FROM run_metrics m JOIN runs r ON r.metric_key = m.run_key \
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
                        run_id: parse_uuid("run_metrics.run_id", row.value("run_id")?)?,
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
