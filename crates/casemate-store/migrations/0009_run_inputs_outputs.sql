-- What an MLflow run read and wrote beyond metrics: datasets and logged models as inputs,
-- logged models as outputs. Each is kept once per run (MLflow's own dedup key in `item_key`),
-- in the order first logged.

CREATE TABLE run_io (
    run_id    TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    seq       INTEGER NOT NULL,
    direction TEXT NOT NULL,                     -- input, output
    kind      TEXT NOT NULL,                     -- dataset, model
    item_key  TEXT NOT NULL,
    body      TEXT NOT NULL,                     -- the item as MLflow sent it, as JSON
    PRIMARY KEY (run_id, direction, kind, item_key)
);
CREATE INDEX run_io_by_run ON run_io (run_id, seq);
