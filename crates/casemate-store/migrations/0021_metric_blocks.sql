-- A run's metric points are kept in blocks: the points of one name that one request logged, in
-- one row. A 1,000-point batch of ten names is ten rows and ten index entries, where it was a
-- thousand of each: the (run, name, step) index was what a batch spent its time in, and the
-- ceiling it set was below what MLflow clients send (benches/README.md, mlflow).
-- Each block's columns hold its latest point (highest step, then time, then value), so a run's
-- latest values are read from one row per block; `points` holds every point of a block of more
-- than one, in the order logged, 24 bytes each: value (IEEE 754 double), step, time (Unix
-- milliseconds, signed 64-bit), all little-endian. An existing point becomes a block of one.
CREATE TABLE run_metric_blocks (
    seq       INTEGER PRIMARY KEY,
    run_key   INTEGER NOT NULL REFERENCES runs (metric_key) ON DELETE CASCADE,
    name      TEXT NOT NULL,
    value     REAL NOT NULL,
    step      INTEGER NOT NULL,
    timestamp INTEGER NOT NULL,
    points    BLOB
);
INSERT INTO run_metric_blocks (seq, run_key, name, value, step, timestamp)
    SELECT seq, run_key, name, value, step, timestamp FROM run_metrics;
DROP TABLE run_metrics;
CREATE INDEX run_metric_blocks_by_run ON run_metric_blocks (run_key, name);
