-- casemate's schema on PostgreSQL: the SQLite schema of migrations 0001-0013 as it stands, in
-- PostgreSQL's types (BIGINT, BYTEA, BOOLEAN, DOUBLE PRECISION). Names SQLite compares without
-- case (COLLATE NOCASE) use a nondeterministic ICU collation, so equality, uniqueness and keys
-- ignore case as they do on SQLite. Later migrations follow SQLite's one for one.

CREATE COLLATION nocase (provider = icu, locale = 'und-u-ks-level2', deterministic = false);

CREATE TABLE installation (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE principals (
    id            TEXT PRIMARY KEY,
    kind          TEXT NOT NULL CHECK (kind IN ('user', 'service_principal', 'managed_identity', 'registry_admin')),
    name          TEXT NOT NULL COLLATE nocase UNIQUE,
    display_name  TEXT NOT NULL,
    enabled       BOOLEAN NOT NULL DEFAULT TRUE,
    created_at    BIGINT NOT NULL,
    password_hash TEXT,
    client_id     TEXT UNIQUE
);
CREATE TABLE totp_factors (
    principal_id  TEXT PRIMARY KEY REFERENCES principals (id) ON DELETE CASCADE,
    sealed_secret BYTEA NOT NULL,
    confirmed     BOOLEAN NOT NULL,
    last_step     BIGINT,
    created_at    BIGINT NOT NULL
);
CREATE TABLE client_secrets (
    id           TEXT PRIMARY KEY,
    principal_id TEXT NOT NULL REFERENCES principals (id) ON DELETE CASCADE,
    secret_hash  BYTEA NOT NULL,
    hint         TEXT NOT NULL,
    description  TEXT,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL
);
CREATE INDEX client_secrets_by_principal ON client_secrets (principal_id);
CREATE TABLE personal_access_tokens (
    id           TEXT PRIMARY KEY,
    principal_id TEXT NOT NULL REFERENCES principals (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    secret_hash  BYTEA NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    revoked_at   BIGINT
);
CREATE INDEX personal_access_tokens_by_principal ON personal_access_tokens (principal_id);
CREATE TABLE sessions (
    id           TEXT PRIMARY KEY,
    principal_id TEXT NOT NULL REFERENCES principals (id) ON DELETE CASCADE,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    revoked_at   BIGINT
);
CREATE INDEX sessions_by_principal ON sessions (principal_id);
CREATE TABLE refresh_tokens (
    id          TEXT PRIMARY KEY,
    session_id  TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    secret_hash BYTEA NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT
);
CREATE INDEX refresh_tokens_by_session ON refresh_tokens (session_id);
CREATE TABLE signing_keys (
    kid            TEXT PRIMARY KEY,
    wrapped_secret BYTEA NOT NULL,
    public_key     BYTEA NOT NULL,
    created_at     BIGINT NOT NULL,
    retired_at     BIGINT,
    verify_until   BIGINT
);
CREATE TABLE role_assignments (
    id           TEXT PRIMARY KEY,
    principal_id TEXT NOT NULL REFERENCES principals (id) ON DELETE CASCADE,
    role_name    TEXT NOT NULL,
    scope        TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    UNIQUE (principal_id, role_name, scope)
);
CREATE INDEX role_assignments_by_principal ON role_assignments (principal_id);
CREATE TABLE resources (
    id          TEXT PRIMARY KEY COLLATE nocase,   -- the resource id, e.g. /resourceGroups/rg/workspaces/ws
    kind        TEXT NOT NULL,                     -- resourceGroups, workspaces, vaults, storage, registries, monitors
    parent      TEXT COLLATE nocase,               -- the containing resource group's id
    name        TEXT NOT NULL,
    properties  TEXT NOT NULL,                     -- JSON, shaped by the kind
    created_at  BIGINT NOT NULL,
    created_by  TEXT NOT NULL
);
CREATE INDEX resources_by_parent ON resources (parent, kind);
CREATE INDEX role_assignments_by_scope ON role_assignments (scope COLLATE nocase);
CREATE TABLE custom_roles (
    name        TEXT PRIMARY KEY COLLATE nocase,
    definition  TEXT NOT NULL,                     -- JSON in the cloud platform's shape
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE TABLE activity_log (
    seq            BIGINT PRIMARY KEY,
    id             TEXT NOT NULL UNIQUE,
    time           BIGINT NOT NULL,                -- Unix milliseconds
    operation      TEXT NOT NULL,
    phase          TEXT NOT NULL,                   -- Started, Succeeded, Failed, Denied
    status         BIGINT NOT NULL,                -- HTTP status; 0 while Started
    caller_id      TEXT NOT NULL,
    caller_name    TEXT NOT NULL,
    resource_id    TEXT NOT NULL,
    correlation_id TEXT NOT NULL,
    client_address TEXT NOT NULL,
    user_agent     TEXT NOT NULL,
    detail         TEXT NOT NULL,
    prev_hash      BYTEA NOT NULL,
    hash           BYTEA NOT NULL
);
CREATE INDEX activity_log_by_time ON activity_log (time);
CREATE INDEX activity_log_by_caller ON activity_log (caller_id);
CREATE INDEX activity_log_by_correlation ON activity_log (correlation_id);
CREATE TABLE data_keys (
    id           TEXT PRIMARY KEY,
    owner        TEXT NOT NULL COLLATE nocase,      -- the resource id whose data the key seals
    wrapped      BYTEA NOT NULL,
    wrapping_key TEXT NOT NULL,                     -- which key wrapped it
    created_at   BIGINT NOT NULL
);
CREATE INDEX data_keys_by_owner ON data_keys (owner);
CREATE TABLE secrets (
    vault              TEXT NOT NULL COLLATE nocase,
    name               TEXT NOT NULL COLLATE nocase,
    created_at         BIGINT NOT NULL,
    deleted_at         BIGINT,
    scheduled_purge_at BIGINT,
    PRIMARY KEY (vault, name)
);
CREATE TABLE secret_versions (
    vault        TEXT NOT NULL COLLATE nocase,
    name         TEXT NOT NULL COLLATE nocase,
    version      TEXT NOT NULL,
    seq          BIGINT NOT NULL,                  -- orders versions; the highest is the latest
    ciphertext   BYTEA NOT NULL,
    data_key     TEXT NOT NULL REFERENCES data_keys (id),
    enabled      BOOLEAN NOT NULL,
    not_before   BIGINT,
    expires      BIGINT,
    content_type TEXT,
    tags         TEXT NOT NULL,                     -- JSON object
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (vault, name, version),
    FOREIGN KEY (vault, name) REFERENCES secrets (vault, name) ON DELETE CASCADE
);
CREATE TABLE vault_keys (
    vault              TEXT NOT NULL COLLATE nocase,
    name               TEXT NOT NULL COLLATE nocase,
    enabled            BOOLEAN NOT NULL,
    created_at         BIGINT NOT NULL,
    deleted_at         BIGINT,
    scheduled_purge_at BIGINT,
    PRIMARY KEY (vault, name)
);
CREATE TABLE vault_key_versions (
    vault            TEXT NOT NULL COLLATE nocase,
    name             TEXT NOT NULL COLLATE nocase,
    version          TEXT NOT NULL,
    seq              BIGINT NOT NULL,
    wrapped_material BYTEA NOT NULL,
    enabled          BOOLEAN NOT NULL,
    created_at       BIGINT NOT NULL,
    PRIMARY KEY (vault, name, version),
    FOREIGN KEY (vault, name) REFERENCES vault_keys (vault, name) ON DELETE CASCADE
);
CREATE TABLE snapshots (
    workspace_id TEXT NOT NULL COLLATE nocase,
    sha256       TEXT NOT NULL,                  -- of the tar, lower-case hex: the snapshot id
    blob         TEXT NOT NULL,                  -- where its sealed bytes are, under the workspace
    size         BIGINT NOT NULL,
    files        BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    created_by   TEXT NOT NULL,
    PRIMARY KEY (workspace_id, sha256)
);
CREATE TABLE runs (
    id                 TEXT PRIMARY KEY,
    workspace_id       TEXT NOT NULL COLLATE nocase,
    experiment         TEXT NOT NULL COLLATE nocase,
    compute            TEXT NOT NULL,
    snapshot           TEXT NOT NULL,
    command            TEXT NOT NULL,
    status             TEXT NOT NULL,            -- Queued, Preparing, Running, Completed, Failed, Canceled
    reason             TEXT,
    exit_code          BIGINT,
    submitted_by       TEXT NOT NULL,            -- principal id
    submitted_by_name  TEXT NOT NULL,
    submitted_at       BIGINT NOT NULL,         -- Unix milliseconds
    started_at         BIGINT,
    ended_at           BIGINT,
    time_limit_seconds BIGINT NOT NULL,
    pid                BIGINT,
    scratch            TEXT,                     -- the run's scratch directory while it is kept
    environment        BYTEA,                    -- sealed JSON; NULL when not recorded (hbi)
    origin             TEXT NOT NULL DEFAULT 'submitted',  -- submitted, or tracked (an MLflow client's)
    lifecycle          TEXT NOT NULL DEFAULT 'active',     -- active or deleted (MLflow's soft delete)
    image              TEXT,                     -- the base image the run asked for
    image_digest       TEXT                      -- and the digest it resolved to
);
CREATE INDEX runs_by_workspace ON runs (workspace_id, submitted_at);
CREATE INDEX runs_by_status ON runs (status);
CREATE TABLE run_tokens (
    id          TEXT PRIMARY KEY,
    run_id      TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    secret_hash BYTEA NOT NULL,
    expires_at  BIGINT NOT NULL,                -- Unix seconds
    revoked_at  BIGINT
);
CREATE INDEX run_tokens_by_run ON run_tokens (run_id);
CREATE TABLE run_metrics (
    seq       BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    run_id    TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    name      TEXT NOT NULL,
    value     DOUBLE PRECISION NOT NULL,
    step      BIGINT NOT NULL,
    timestamp BIGINT NOT NULL                   -- Unix milliseconds
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
    seq      BIGINT NOT NULL,
    stream   TEXT NOT NULL,                      -- stdout, stderr or casemate
    data_key TEXT NOT NULL,
    sealed   BYTEA NOT NULL,
    PRIMARY KEY (run_id, seq)
);
CREATE TABLE run_params (
    run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    name   TEXT NOT NULL,
    value  TEXT NOT NULL,
    PRIMARY KEY (run_id, name)
);
CREATE TABLE registered_models (
    workspace_id TEXT NOT NULL COLLATE nocase,
    name         TEXT NOT NULL,
    description  TEXT NOT NULL,
    created_at   BIGINT NOT NULL,               -- Unix milliseconds, as are the times below
    updated_at   BIGINT NOT NULL,
    created_by   TEXT NOT NULL,
    PRIMARY KEY (workspace_id, name)
);
CREATE TABLE registered_model_tags (
    workspace_id TEXT NOT NULL COLLATE nocase,
    model        TEXT NOT NULL,
    name         TEXT NOT NULL,
    value        TEXT NOT NULL,
    PRIMARY KEY (workspace_id, model, name),
    FOREIGN KEY (workspace_id, model) REFERENCES registered_models (workspace_id, name)
        ON DELETE CASCADE DEFERRABLE INITIALLY IMMEDIATE
);
CREATE TABLE model_versions (
    workspace_id TEXT NOT NULL COLLATE nocase,
    model        TEXT NOT NULL,
    version      BIGINT NOT NULL,
    source       TEXT NOT NULL,
    run_id       TEXT NOT NULL,                  -- '' when the version is not from a run
    description  TEXT NOT NULL,
    stage        TEXT NOT NULL,                  -- None, Staging, Production, Archived
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    created_by   TEXT NOT NULL,
    PRIMARY KEY (workspace_id, model, version),
    FOREIGN KEY (workspace_id, model) REFERENCES registered_models (workspace_id, name)
        ON DELETE CASCADE DEFERRABLE INITIALLY IMMEDIATE
);
CREATE TABLE model_version_tags (
    workspace_id TEXT NOT NULL COLLATE nocase,
    model        TEXT NOT NULL,
    version      BIGINT NOT NULL,
    name         TEXT NOT NULL,
    value        TEXT NOT NULL,
    PRIMARY KEY (workspace_id, model, version, name),
    FOREIGN KEY (workspace_id, model, version) REFERENCES model_versions (workspace_id, model, version)
        ON DELETE CASCADE DEFERRABLE INITIALLY IMMEDIATE
);
CREATE TABLE model_aliases (
    workspace_id TEXT NOT NULL COLLATE nocase,
    model        TEXT NOT NULL,
    alias        TEXT NOT NULL,
    version      BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, model, alias),
    FOREIGN KEY (workspace_id, model, version) REFERENCES model_versions (workspace_id, model, version)
        ON DELETE CASCADE DEFERRABLE INITIALLY IMMEDIATE
);
CREATE TABLE logged_models (
    id            TEXT PRIMARY KEY,              -- m-<32 hex>
    workspace_id  TEXT NOT NULL COLLATE nocase,
    experiment    TEXT NOT NULL COLLATE nocase,
    name          TEXT NOT NULL,
    model_type    TEXT NOT NULL,
    source_run_id TEXT NOT NULL,                 -- '' when not logged from a run
    status        TEXT NOT NULL,                 -- LOGGED_MODEL_PENDING, _READY, _UPLOAD_FAILED
    params        TEXT NOT NULL,                 -- JSON object
    tags          TEXT NOT NULL,                 -- JSON object
    created_at    BIGINT NOT NULL,              -- Unix milliseconds
    updated_at    BIGINT NOT NULL
);
CREATE INDEX logged_models_by_workspace ON logged_models (workspace_id, created_at);
CREATE TABLE workspace_events (
    workspace_id TEXT NOT NULL COLLATE nocase,
    time_ms      BIGINT NOT NULL,               -- Unix milliseconds
    kind         TEXT NOT NULL,                  -- model_registration, deployment
    outcome      TEXT NOT NULL                   -- succeeded, failed
);
CREATE INDEX workspace_events_by_time ON workspace_events (workspace_id, time_ms);
CREATE TABLE run_io (
    run_id    TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    seq       BIGINT NOT NULL,
    direction TEXT NOT NULL,                     -- input, output
    kind      TEXT NOT NULL,                     -- dataset, model
    item_key  TEXT NOT NULL,
    body      TEXT NOT NULL,                     -- the item as MLflow sent it, as JSON
    PRIMARY KEY (run_id, direction, kind, item_key)
);
CREATE INDEX run_io_by_run ON run_io (run_id, seq);
CREATE TABLE web_services (
    id                TEXT PRIMARY KEY,              -- 32 hex digits
    workspace_id      TEXT NOT NULL COLLATE nocase,
    name              TEXT NOT NULL COLLATE nocase,
    kind              TEXT NOT NULL,                 -- mlflow or entry_script
    models            TEXT NOT NULL,                 -- JSON [{"name": ..., "version": n}]
    snapshot          TEXT NOT NULL,                 -- the entry script's snapshot; '' for mlflow
    entry_script      TEXT NOT NULL,
    python            TEXT NOT NULL,
    compute           TEXT NOT NULL,
    compute_type      TEXT NOT NULL,                 -- the compute's kind (local), as the scoring log names it
    auth_mode         TEXT NOT NULL,                 -- key or token
    primary_key       BYTEA NOT NULL,                 -- sealed under the workspace data key; empty for token
    primary_key_hash  BYTEA NOT NULL,                 -- SHA-256 of the key, compared in constant time
    secondary_key     BYTEA NOT NULL,
    secondary_key_hash BYTEA NOT NULL,
    max_body_bytes    BIGINT NOT NULL,
    token_ttl_seconds BIGINT NOT NULL,
    state             TEXT NOT NULL,                 -- Transitioning, Healthy, Unhealthy, Failed
    state_reason      TEXT NOT NULL,
    pid               BIGINT,                       -- the scoring process, to stop after a crash of casemate
    restarts          BIGINT NOT NULL,
    created_at        BIGINT NOT NULL,              -- Unix milliseconds
    updated_at        BIGINT NOT NULL,
    created_by        TEXT NOT NULL,
    UNIQUE (workspace_id, name)
);
CREATE TABLE service_tokens (
    id           TEXT PRIMARY KEY,                   -- 32 hex digits
    service_id   TEXT NOT NULL REFERENCES web_services (id) ON DELETE CASCADE,
    principal_id TEXT NOT NULL,
    secret_hash  BYTEA NOT NULL,
    expires_at   BIGINT NOT NULL                    -- Unix seconds
);
CREATE TABLE scoring_requests (
    seq            BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    service_id     TEXT NOT NULL,
    workspace_id   TEXT NOT NULL COLLATE nocase,
    time_ms        BIGINT NOT NULL,
    method         TEXT NOT NULL,
    url            TEXT NOT NULL,
    user_agent     TEXT NOT NULL,
    compute_type   TEXT NOT NULL,
    status         BIGINT NOT NULL,
    request_id     TEXT NOT NULL,
    model_us       BIGINT NOT NULL,
    overhead_us    BIGINT NOT NULL,
    client_address TEXT NOT NULL,
    credential     TEXT NOT NULL                     -- key slot (primary, secondary) or token principal
);
CREATE INDEX scoring_requests_by_service ON scoring_requests (service_id, time_ms);
CREATE TABLE registry_blobs (
    registry_id  TEXT NOT NULL COLLATE nocase,
    repository   TEXT NOT NULL,
    digest       TEXT NOT NULL,                 -- sha256:<64 hex>
    size         BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,              -- Unix milliseconds
    PRIMARY KEY (registry_id, repository, digest)
);
CREATE TABLE registry_manifests (
    registry_id  TEXT NOT NULL COLLATE nocase,
    repository   TEXT NOT NULL,
    digest       TEXT NOT NULL,
    media_type   TEXT NOT NULL,
    content      BYTEA NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (registry_id, repository, digest)
);
CREATE TABLE registry_tags (
    registry_id  TEXT NOT NULL COLLATE nocase,
    repository   TEXT NOT NULL,
    tag          TEXT NOT NULL,
    digest       TEXT NOT NULL,
    PRIMARY KEY (registry_id, repository, tag),
    FOREIGN KEY (registry_id, repository, digest)
        REFERENCES registry_manifests (registry_id, repository, digest) ON DELETE CASCADE
);

INSERT INTO installation (key, value) VALUES ('gate_generation', '0') ON CONFLICT (key) DO NOTHING;

-- The activity log is append-only, as on SQLite.
CREATE FUNCTION activity_log_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the activity log is append-only';
END;
$$;
CREATE TRIGGER activity_log_is_append_only_update BEFORE UPDATE ON activity_log
    FOR EACH ROW EXECUTE FUNCTION activity_log_is_append_only();
CREATE TRIGGER activity_log_is_append_only_delete BEFORE DELETE ON activity_log
    FOR EACH ROW EXECUTE FUNCTION activity_log_is_append_only();
CREATE TRIGGER activity_log_is_append_only_truncate BEFORE TRUNCATE ON activity_log
    FOR EACH STATEMENT EXECUTE FUNCTION activity_log_is_append_only();

-- Any change to what the gate caches moves the generation every replica compares before it
-- trusts its cache (see gate_cache.rs).
CREATE FUNCTION moves_gate_generation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE installation SET value = (CAST(value AS BIGINT) + 1)::text WHERE key = 'gate_generation';
    RETURN NULL;
END;
$$;
CREATE TRIGGER principals_moves_gate_generation AFTER INSERT OR UPDATE OR DELETE ON principals
    FOR EACH STATEMENT EXECUTE FUNCTION moves_gate_generation();
CREATE TRIGGER sessions_moves_gate_generation AFTER INSERT OR UPDATE OR DELETE ON sessions
    FOR EACH STATEMENT EXECUTE FUNCTION moves_gate_generation();
CREATE TRIGGER role_assignments_moves_gate_generation AFTER INSERT OR UPDATE OR DELETE ON role_assignments
    FOR EACH STATEMENT EXECUTE FUNCTION moves_gate_generation();
CREATE TRIGGER custom_roles_moves_gate_generation AFTER INSERT OR UPDATE OR DELETE ON custom_roles
    FOR EACH STATEMENT EXECUTE FUNCTION moves_gate_generation();
CREATE TRIGGER personal_access_tokens_moves_gate_generation AFTER INSERT OR UPDATE OR DELETE ON personal_access_tokens
    FOR EACH STATEMENT EXECUTE FUNCTION moves_gate_generation();
CREATE TRIGGER run_tokens_moves_gate_generation AFTER INSERT OR UPDATE OR DELETE ON run_tokens
    FOR EACH STATEMENT EXECUTE FUNCTION moves_gate_generation();
CREATE TRIGGER web_services_moves_gate_generation AFTER INSERT OR UPDATE OR DELETE ON web_services
    FOR EACH STATEMENT EXECUTE FUNCTION moves_gate_generation();
CREATE TRIGGER runs_delete_moves_gate_generation AFTER DELETE ON runs
    FOR EACH STATEMENT EXECUTE FUNCTION moves_gate_generation();
CREATE TRIGGER service_tokens_delete_moves_gate_generation AFTER DELETE ON service_tokens
    FOR EACH STATEMENT EXECUTE FUNCTION moves_gate_generation();
