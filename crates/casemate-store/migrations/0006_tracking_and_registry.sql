-- MLflow-compatible tracking and the model registry.
-- Runs made by a tracking client (origin 'tracked') have no snapshot, command or executor: the
-- client drives their status. Either kind can be soft-deleted and restored (lifecycle).

ALTER TABLE runs ADD COLUMN origin TEXT NOT NULL DEFAULT 'submitted';  -- submitted or tracked
ALTER TABLE runs ADD COLUMN lifecycle TEXT NOT NULL DEFAULT 'active';  -- active or deleted

-- Parameters are write-once: logging a key again with another value is refused.
CREATE TABLE run_params (
    run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    name   TEXT NOT NULL,
    value  TEXT NOT NULL,
    PRIMARY KEY (run_id, name)
);

CREATE TABLE registered_models (
    workspace_id TEXT NOT NULL COLLATE NOCASE,
    name         TEXT NOT NULL,
    description  TEXT NOT NULL,
    created_at   INTEGER NOT NULL,               -- Unix milliseconds, as are the times below
    updated_at   INTEGER NOT NULL,
    created_by   TEXT NOT NULL,
    PRIMARY KEY (workspace_id, name)
);

CREATE TABLE registered_model_tags (
    workspace_id TEXT NOT NULL COLLATE NOCASE,
    model        TEXT NOT NULL,
    name         TEXT NOT NULL,
    value        TEXT NOT NULL,
    PRIMARY KEY (workspace_id, model, name),
    FOREIGN KEY (workspace_id, model) REFERENCES registered_models (workspace_id, name)
        ON DELETE CASCADE
);

CREATE TABLE model_versions (
    workspace_id TEXT NOT NULL COLLATE NOCASE,
    model        TEXT NOT NULL,
    version      INTEGER NOT NULL,
    source       TEXT NOT NULL,
    run_id       TEXT NOT NULL,                  -- '' when the version is not from a run
    description  TEXT NOT NULL,
    stage        TEXT NOT NULL,                  -- None, Staging, Production, Archived
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    created_by   TEXT NOT NULL,
    PRIMARY KEY (workspace_id, model, version),
    FOREIGN KEY (workspace_id, model) REFERENCES registered_models (workspace_id, name)
        ON DELETE CASCADE
);

CREATE TABLE model_version_tags (
    workspace_id TEXT NOT NULL COLLATE NOCASE,
    model        TEXT NOT NULL,
    version      INTEGER NOT NULL,
    name         TEXT NOT NULL,
    value        TEXT NOT NULL,
    PRIMARY KEY (workspace_id, model, version, name),
    FOREIGN KEY (workspace_id, model, version) REFERENCES model_versions (workspace_id, model, version)
        ON DELETE CASCADE
);

CREATE TABLE model_aliases (
    workspace_id TEXT NOT NULL COLLATE NOCASE,
    model        TEXT NOT NULL,
    alias        TEXT NOT NULL,
    version      INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, model, alias),
    FOREIGN KEY (workspace_id, model, version) REFERENCES model_versions (workspace_id, model, version)
        ON DELETE CASCADE
);

-- Models logged by a tracking client (MLflow 3's LoggedModel); their files are workspace
-- artifacts under models/{id}/artifacts.
CREATE TABLE logged_models (
    id            TEXT PRIMARY KEY,              -- m-<32 hex>
    workspace_id  TEXT NOT NULL COLLATE NOCASE,
    experiment    TEXT NOT NULL COLLATE NOCASE,
    name          TEXT NOT NULL,
    model_type    TEXT NOT NULL,
    source_run_id TEXT NOT NULL,                 -- '' when not logged from a run
    status        TEXT NOT NULL,                 -- LOGGED_MODEL_PENDING, _READY, _UPLOAD_FAILED
    params        TEXT NOT NULL,                 -- JSON object
    tags          TEXT NOT NULL,                 -- JSON object
    created_at    INTEGER NOT NULL,              -- Unix milliseconds
    updated_at    INTEGER NOT NULL
);
CREATE INDEX logged_models_by_workspace ON logged_models (workspace_id, created_at);
