-- Training runs: code snapshots, runs and their tokens, metrics, tags and sealed log chunks.
-- Experiments and computes are rows of `resources` (kinds `experiments` and `computes`).

CREATE TABLE snapshots (
    workspace_id TEXT NOT NULL COLLATE NOCASE,
    sha256       TEXT NOT NULL,                  -- of the tar, lower-case hex: the snapshot id
    blob         TEXT NOT NULL,                  -- where its sealed bytes are, under the workspace
    size         INTEGER NOT NULL,
    files        INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    created_by   TEXT NOT NULL,
    PRIMARY KEY (workspace_id, sha256)
);

CREATE TABLE runs (
    id                 TEXT PRIMARY KEY,
    workspace_id       TEXT NOT NULL COLLATE NOCASE,
    experiment         TEXT NOT NULL COLLATE NOCASE,
    compute            TEXT NOT NULL,
    snapshot           TEXT NOT NULL,
    command            TEXT NOT NULL,
    status             TEXT NOT NULL,            -- Queued, Preparing, Running, Completed, Failed, Canceled
    reason             TEXT,
    exit_code          INTEGER,
    submitted_by       TEXT NOT NULL,            -- principal id
    submitted_by_name  TEXT NOT NULL,
    submitted_at       INTEGER NOT NULL,         -- Unix milliseconds
    started_at         INTEGER,
    ended_at           INTEGER,
    time_limit_seconds INTEGER NOT NULL,
    pid                INTEGER,
    scratch            TEXT,                     -- the run's scratch directory while it is kept
    environment        BLOB                      -- sealed JSON; NULL when not recorded (hbi)
);
CREATE INDEX runs_by_workspace ON runs (workspace_id, submitted_at);
CREATE INDEX runs_by_status ON runs (status);

CREATE TABLE run_tokens (
    id          TEXT PRIMARY KEY,
    run_id      TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    secret_hash BLOB NOT NULL,
    expires_at  INTEGER NOT NULL,                -- Unix seconds
    revoked_at  INTEGER
);
CREATE INDEX run_tokens_by_run ON run_tokens (run_id);

CREATE TABLE run_metrics (
    seq       INTEGER PRIMARY KEY,
    run_id    TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    name      TEXT NOT NULL,
    value     REAL NOT NULL,
    step      INTEGER NOT NULL,
    timestamp INTEGER NOT NULL                   -- Unix milliseconds
);
CREATE INDEX run_metrics_by_run ON run_metrics (run_id, name, step);

CREATE TABLE run_tags (
    run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    name   TEXT NOT NULL,
    value  TEXT NOT NULL,
    PRIMARY KEY (run_id, name)
);

CREATE TABLE run_log_chunks (
    run_id   TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    seq      INTEGER NOT NULL,
    stream   TEXT NOT NULL,                      -- stdout, stderr or casemate
    data_key TEXT NOT NULL,
    sealed   BLOB NOT NULL,
    PRIMARY KEY (run_id, seq)
);
