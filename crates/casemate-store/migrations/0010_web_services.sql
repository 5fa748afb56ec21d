-- Web services: registered model versions deployed as scoring endpoints, the short-lived tokens
-- of token-auth services, and the scoring log (one row per scoring request, never a body).

CREATE TABLE web_services (
    id                TEXT PRIMARY KEY,              -- 32 hex digits
    workspace_id      TEXT NOT NULL COLLATE NOCASE,
    name              TEXT NOT NULL COLLATE NOCASE,
    kind              TEXT NOT NULL,                 -- mlflow or entry_script
    models            TEXT NOT NULL,                 -- JSON [{"name": ..., "version": n}]
    snapshot          TEXT NOT NULL,                 -- the entry script's snapshot; '' for mlflow
    entry_script      TEXT NOT NULL,
    python            TEXT NOT NULL,
    compute           TEXT NOT NULL,
    compute_type      TEXT NOT NULL,                 -- the compute's kind (local), as the scoring log names it
    auth_mode         TEXT NOT NULL,                 -- key or token
    primary_key       BLOB NOT NULL,                 -- sealed under the workspace data key; empty for token
    primary_key_hash  BLOB NOT NULL,                 -- SHA-256 of the key, compared in constant time
    secondary_key     BLOB NOT NULL,
    secondary_key_hash BLOB NOT NULL,
    max_body_bytes    INTEGER NOT NULL,
    token_ttl_seconds INTEGER NOT NULL,
    state             TEXT NOT NULL,                 -- Transitioning, Healthy, Unhealthy, Failed
    state_reason      TEXT NOT NULL,
    pid               INTEGER,                       -- the scoring process, to stop after a crash of casemate
    restarts          INTEGER NOT NULL,
    created_at        INTEGER NOT NULL,              -- Unix milliseconds
    updated_at        INTEGER NOT NULL,
    created_by        TEXT NOT NULL,
    UNIQUE (workspace_id, name)
);

CREATE TABLE service_tokens (
    id           TEXT PRIMARY KEY,                   -- 32 hex digits
    service_id   TEXT NOT NULL REFERENCES web_services (id) ON DELETE CASCADE,
    principal_id TEXT NOT NULL,
    secret_hash  BLOB NOT NULL,
    expires_at   INTEGER NOT NULL                    -- Unix seconds
);

CREATE TABLE scoring_requests (
    seq            INTEGER PRIMARY KEY,
    service_id     TEXT NOT NULL,
    workspace_id   TEXT NOT NULL COLLATE NOCASE,
    time_ms        INTEGER NOT NULL,
    method         TEXT NOT NULL,
    url            TEXT NOT NULL,
    user_agent     TEXT NOT NULL,
    compute_type   TEXT NOT NULL,
    status         INTEGER NOT NULL,
    request_id     TEXT NOT NULL,
    model_us       INTEGER NOT NULL,
    overhead_us    INTEGER NOT NULL,
    client_address TEXT NOT NULL,
    credential     TEXT NOT NULL                     -- key slot (primary, secondary) or token principal
);
CREATE INDEX scoring_requests_by_service ON scoring_requests (service_id, time_ms);

-- The gate reads services (auth mode, key hashes) and service tokens on every scoring request.
CREATE TRIGGER web_services_insert_moves_gate_generation AFTER INSERT ON web_services
BEGIN
    UPDATE installation SET value = CAST(value AS INTEGER) + 1 WHERE key = 'gate_generation';
END;

CREATE TRIGGER web_services_update_moves_gate_generation AFTER UPDATE ON web_services
BEGIN
    UPDATE installation SET value = CAST(value AS INTEGER) + 1 WHERE key = 'gate_generation';
END;

CREATE TRIGGER web_services_delete_moves_gate_generation AFTER DELETE ON web_services
BEGIN
    UPDATE installation SET value = CAST(value AS INTEGER) + 1 WHERE key = 'gate_generation';
END;

CREATE TRIGGER service_tokens_delete_moves_gate_generation AFTER DELETE ON service_tokens
BEGIN
    UPDATE installation SET value = CAST(value AS INTEGER) + 1 WHERE key = 'gate_generation';
END;
