//! Metric points on either backend, and the migrations that keyed them by an integer run key
//! and kept them in blocks, their points first in fixed words and then packed.

use super::{open_temp, submitted_run};
use crate::backend::on_db;
use crate::*;
use uuid::Uuid;

fn point(name: &str, step: i64) -> MetricRecord {
    MetricRecord {
        name: name.into(),
        value: step as f64 * 0.5,
        step,
        timestamp: 1_000 + step,
    }
}

/// A stored block's columns: name, latest value, step and time, points and their format.
type StoredBlock = (String, f64, i64, i64, Option<Vec<u8>>, i32);

/// Every point in the database, whichever run it belongs to.
async fn stored_points(store: &Store) -> i64 {
    let blocks: Vec<StoredBlock> = on_db!(store, |pool, durable| {
        sqlx::query_as(
            "SELECT name, value, step, timestamp, points, points_format FROM run_metric_blocks",
        )
        .fetch_all(pool)
        .await
        .unwrap()
    });
    let mut points = Vec::new();
    for (name, value, step, timestamp, encoded, format) in blocks {
        crate::run_metrics::decode_block(
            name,
            (value, step, timestamp),
            encoded.as_deref(),
            format,
            &mut points,
        )
        .unwrap();
    }
    i64::try_from(points.len()).unwrap()
}

#[tokio::test]
async fn points_are_stored_all_or_none_and_go_with_their_run() {
    let (_dir, store) = open_temp().await;
    let (first, token) = submitted_run(None, 1);
    store.insert_run(&first, &token).await.unwrap();
    let (second, token) = submitted_run(None, 2);
    store.insert_run(&second, &token).await.unwrap();

    // Two names' points, each name's kept in the order they came.
    let many: Vec<_> = (0..2_500)
        .map(|step| point(if step % 2 == 0 { "loss" } else { "acc" }, step))
        .collect();
    let (loss, acc): (Vec<_>, Vec<_>) = many.iter().cloned().partition(|p| p.name == "loss");
    let by_name = [loss.clone(), acc].concat();
    store.insert_metrics(first.id, &many).await.unwrap();
    assert_eq!(store.metrics(first.id).await.unwrap(), by_name);
    assert_eq!(store.metric_history(first.id, "loss").await.unwrap(), loss);
    assert!(store.metrics(second.id).await.unwrap().is_empty());

    // The one-statement path stores only for a live run of the workspace named.
    let one = [point("loss", 7)];
    assert!(
        !store
            .insert_metrics_for_live_run("another-ws", second.id, &one)
            .await
            .unwrap()
    );
    assert!(
        store
            .insert_metrics_for_live_run("ws", second.id, &one)
            .await
            .unwrap()
    );
    assert_eq!(store.metrics(second.id).await.unwrap(), one);
    store.set_run_lifecycle(second.id, "deleted").await.unwrap();
    assert!(
        !store
            .insert_metrics_for_live_run("ws", second.id, &[point("loss", 8)])
            .await
            .unwrap()
    );
    let many_names: Vec<_> = (0..2_000)
        .map(|step| point(&format!("m{step}"), step))
        .collect();
    assert!(
        !store
            .insert_metrics_for_live_run("ws", second.id, &many_names)
            .await
            .unwrap(),
        "more names than one statement holds are left to the slow path"
    );

    // A run that is not there: refused, nothing stored, however many points.
    let missing = Uuid::new_v4();
    for points in [&one[..], &many[..], &many_names[..]] {
        assert!(matches!(
            store.insert_metrics(missing, points).await,
            Err(StoreError::NotFound("run"))
        ));
    }
    let batch = TrackingBatch {
        metrics: many.clone(),
        params: Vec::new(),
        tags: Vec::new(),
    };
    assert!(matches!(
        store.log_batch(missing, &batch).await,
        Err(StoreError::NotFound("run"))
    ));
    assert_eq!(stored_points(&store).await, 2_501);

    let latest = store.latest_metrics("ws", None).await.unwrap();
    let shown: Vec<_> = latest
        .iter()
        .map(|l| (l.run_id, l.metric.name.as_str(), l.metric.step))
        .collect();
    let mut expected = vec![
        (first.id, "acc", 2_499),
        (first.id, "loss", 2_498),
        (second.id, "loss", 7),
    ];
    expected.sort_by_key(|(run, name, _)| (run.to_string(), *name));
    assert_eq!(shown, expected);
    let of_second = store.latest_metrics("ws", Some(second.id)).await.unwrap();
    assert_eq!(of_second.len(), 1);
    assert_eq!(of_second[0].metric, one[0]);
    assert!(
        store
            .latest_metrics("another-ws", None)
            .await
            .unwrap()
            .is_empty()
    );

    // A deleted run's points go with it; a run made afterwards starts with none.
    store.delete_run(first.id).await.unwrap();
    assert_eq!(stored_points(&store).await, 1);
    let (third, token) = submitted_run(None, 3);
    store.insert_run(&third, &token).await.unwrap();
    assert!(store.metrics(third.id).await.unwrap().is_empty());
    store.log_batch(third.id, &batch).await.unwrap();
    assert_eq!(store.metrics(third.id).await.unwrap(), by_name);
    assert_eq!(store.metrics(second.id).await.unwrap(), one);

    // Many names in one request: more blocks than one statement holds, in one transaction.
    store.insert_metrics(third.id, &many_names).await.unwrap();
    assert_eq!(
        store.metrics(third.id).await.unwrap(),
        [by_name, many_names].concat()
    );
}

/// A new store holding one run of workspace `ws`.
async fn store_with_a_run() -> (tempfile::TempDir, Store, RunRecord) {
    let (dir, store) = open_temp().await;
    let (run, token) = submitted_run(None, 1);
    store.insert_run(&run, &token).await.unwrap();
    (dir, store, run)
}

#[tokio::test]
async fn a_block_keeps_each_point_exactly_and_its_latest_by_step_then_time_then_value() {
    let (_dir, store, run) = store_with_a_run().await;
    let at = |value: f64, step: i64, timestamp: i64| MetricRecord {
        name: "loss".into(),
        value,
        step,
        timestamp,
    };
    // Out of order: the latest is neither the first nor the last point logged.
    let batch = vec![
        at(f64::INFINITY, 3, 10),
        at(0.1 + 0.2, 9, 5),
        at(-0.0, i64::MIN, i64::MAX),
        at(7.5, 9, 5),
        at(f64::MIN_POSITIVE, 9, 4),
        at(1e308, 2, -1),
    ];
    store.insert_metrics(run.id, &batch).await.unwrap();
    let stored = store.metric_history(run.id, "loss").await.unwrap();
    assert_eq!(stored.len(), batch.len());
    for (stored, logged) in stored.iter().zip(&batch) {
        assert_eq!(stored.value.to_bits(), logged.value.to_bits(), "{logged:?}");
        assert_eq!(
            (stored.step, stored.timestamp),
            (logged.step, logged.timestamp)
        );
    }
    let latest = store.latest_metrics("ws", Some(run.id)).await.unwrap();
    assert_eq!(latest.len(), 1);
    assert_eq!(latest[0].metric, batch[3]);

    // A later single point outranks the block; logging the batch again adds no point.
    store
        .insert_metrics(run.id, &[at(0.5, 10, 1)])
        .await
        .unwrap();
    store.insert_metrics(run.id, &batch).await.unwrap();
    assert_eq!(
        store.metric_history(run.id, "loss").await.unwrap(),
        [batch.clone(), vec![at(0.5, 10, 1)]].concat()
    );
    let latest = store.latest_metrics("ws", Some(run.id)).await.unwrap();
    assert_eq!(latest[0].metric, at(0.5, 10, 1));
    assert!(
        store
            .metric_history(run.id, "acc")
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_damaged_block_is_reported_not_misread() {
    let (_dir, store, run) = store_with_a_run().await;
    store
        .insert_metrics(run.id, &[point("loss", 1), point("loss", 2)])
        .await
        .unwrap();
    for (points, format, says) in [
        (vec![0_u8; 25], 0, "25 bytes, not a whole number of points"),
        (vec![0x80, 0x02], 1, "(2 bytes) ends inside a point"),
        (
            vec![0x80; 2],
            7,
            "points format 7, which this release does not read",
        ),
    ] {
        on_db!(store, |pool, durable| {
            sqlx::query("UPDATE run_metric_blocks SET points = $1, points_format = $2")
                .bind(points.clone())
                .bind(format)
                .execute(pool)
                .await
                .unwrap()
                .rows_affected()
        });
        let error = store.metrics(run.id).await.unwrap_err().to_string();
        assert!(
            error.contains("metric 'loss'") && error.contains(says),
            "{error}"
        );
    }
}

/// How an earlier schema held a run's points.
#[derive(Clone, Copy, PartialEq)]
enum Held {
    /// One row per point, by run id (before migration 0019).
    ByRunId,
    /// One row per point, by run key (before 0021).
    ByRunKey,
    /// In blocks whose points are 24-byte words (before 0022).
    InFixedBlocks,
}

/// Two runs and their points, interleaved, as an earlier schema held them.
async fn rows_before<DB>(pool: &sqlx::Pool<DB>, held: Held) -> [(Uuid, Vec<MetricRecord>); 2]
where
    DB: sqlx::Database,
    for<'c> &'c sqlx::Pool<DB>: sqlx::Executor<'c, Database = DB>,
    DB::Arguments: sqlx::IntoArguments<DB>,
    String: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    f64: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    i64: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<Vec<u8>>: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    let runs = [Uuid::new_v4(), Uuid::new_v4()];
    for (at, run) in (1_i64..).zip(runs) {
        sqlx::query(
            "INSERT INTO runs (id, workspace_id, experiment, compute, snapshot, command, status, \
             submitted_by, submitted_by_name, submitted_at, time_limit_seconds) \
             VALUES ($1, 'ws', 'exp', 'local', 'snap', 'true', 'Running', $2, 'alice', $3, 60)",
        )
        .bind(run.to_string())
        .bind(Uuid::new_v4().to_string())
        .bind(at)
        .execute(pool)
        .await
        .unwrap();
    }
    let mut points = [Vec::new(), Vec::new()];
    for step in 0..6 {
        let which = usize::from(step % 3 == 0);
        let metric = point(["loss", "acc"][which], step);
        points[which].push(metric.clone());
        if held == Held::InFixedBlocks {
            continue;
        }
        sqlx::query(if held == Held::ByRunKey {
            "INSERT INTO run_metrics (run_key, name, value, step, timestamp) \
             VALUES ((SELECT metric_key FROM runs WHERE id = $1), $2, $3, $4, $5)"
        } else {
            "INSERT INTO run_metrics (run_id, name, value, step, timestamp) \
             VALUES ($1, $2, $3, $4, $5)"
        })
        .bind(runs[which].to_string())
        .bind(metric.name.clone())
        .bind(metric.value)
        .bind(metric.step)
        .bind(metric.timestamp)
        .execute(pool)
        .await
        .unwrap();
    }
    if held == Held::InFixedBlocks {
        // The first run's points in one block of 24-byte words; the second's in blocks of one.
        let fixed: Vec<u8> = points[0]
            .iter()
            .flat_map(|p| {
                [
                    p.value.to_le_bytes(),
                    p.step.to_le_bytes(),
                    p.timestamp.to_le_bytes(),
                ]
                .concat()
            })
            .collect();
        let blocks = points[0].last().map(|latest| (0, latest, Some(fixed)));
        let singles = points[1].iter().map(|p| (1, p, None));
        for (which, latest, encoded) in blocks.into_iter().chain(singles) {
            sqlx::query(
                "INSERT INTO run_metric_blocks (run_key, name, value, step, timestamp, points) \
                 VALUES ((SELECT metric_key FROM runs WHERE id = $1), $2, $3, $4, $5, $6)",
            )
            .bind(runs[which].to_string())
            .bind(latest.name.clone())
            .bind(latest.value)
            .bind(latest.step)
            .bind(latest.timestamp)
            .bind(encoded)
            .execute(pool)
            .await
            .unwrap();
        }
    }
    let [first, second] = points;
    [(runs[0], first), (runs[1], second)]
}

/// What the upgraded store must show: each old run's points, in order; a new run's own; and a
/// deleted run's points gone with it.
async fn check_upgraded(store: &Store, before: [(Uuid, Vec<MetricRecord>); 2]) {
    for (run, points) in &before {
        assert_eq!(&store.metrics(*run).await.unwrap(), points);
    }
    let (new, token) = submitted_run(None, 3);
    store.insert_run(&new, &token).await.unwrap();
    assert!(store.metrics(new.id).await.unwrap().is_empty());
    let added = [point("loss", 10), point("loss", 11)];
    store.insert_metrics(new.id, &added).await.unwrap();
    assert_eq!(store.metrics(new.id).await.unwrap(), added);
    store.delete_run(before[0].0).await.unwrap();
    assert_eq!(
        stored_points(store).await,
        i64::try_from(before[1].1.len() + added.len()).unwrap()
    );
    assert_eq!(store.metrics(before[1].0).await.unwrap(), before[1].1);
}

#[tokio::test]
async fn upgrading_sqlite_keeps_every_point_under_its_run() {
    for (version, held) in [
        (18, Held::ByRunId),
        (20, Held::ByRunKey),
        (21, Held::InFixedBlocks),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("casemate.db");
        let options = SqliteConnectOptions::from_str("sqlite:")
            .unwrap()
            .filename(&path)
            .foreign_keys(true)
            .create_if_missing(true);
        let previous = SqlitePoolOptions::new()
            .connect_with(options)
            .await
            .unwrap();
        MIGRATOR.run_to(version, &previous).await.unwrap();
        let before = rows_before(&previous, held).await;
        previous.close().await;
        check_upgraded(&Store::open(&path).await.unwrap(), before).await;
    }
}

/// Run by `.ci/run`'s PostgreSQL pass, which sets `CASEMATE_TEST_DATABASE_URL`.
#[tokio::test]
async fn upgrading_postgres_keeps_every_point_under_its_run() {
    let Ok(admin) = std::env::var("CASEMATE_TEST_DATABASE_URL") else {
        return;
    };
    for (version, held) in [
        (6, Held::ByRunId),
        (8, Held::ByRunKey),
        (9, Held::InFixedBlocks),
    ] {
        let name = format!("casemate_store_{}", Uuid::new_v4().simple());
        let url = Store::create_postgres_database(&admin, &name)
            .await
            .unwrap();
        let previous = sqlx::postgres::PgPool::connect(&url).await.unwrap();
        POSTGRES_MIGRATOR.run_to(version, &previous).await.unwrap();
        let before = rows_before(&previous, held).await;
        previous.close().await;
        check_upgraded(&Store::open_postgres(&url).await.unwrap(), before).await;
    }
}
