-- Principals, their credentials, sign-in sessions, token signing keys, role assignments.
-- Times are Unix seconds (UTC).

CREATE TABLE installation (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE principals (
    id            TEXT PRIMARY KEY,
    kind          TEXT NOT NULL CHECK (kind IN ('user', 'service_principal', 'managed_identity')),
    name          TEXT NOT NULL COLLATE NOCASE UNIQUE,
    display_name  TEXT NOT NULL,
    enabled       INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    created_at    INTEGER NOT NULL,
    password_hash TEXT,
    client_id     TEXT UNIQUE
);

CREATE TABLE totp_factors (
    principal_id  TEXT PRIMARY KEY REFERENCES principals (id) ON DELETE CASCADE,
    sealed_secret BLOB NOT NULL,
    confirmed     INTEGER NOT NULL CHECK (confirmed IN (0, 1)),
    last_step     INTEGER,
    created_at    INTEGER NOT NULL
);

CREATE TABLE client_secrets (
    id           TEXT PRIMARY KEY,
    principal_id TEXT NOT NULL REFERENCES principals (id) ON DELETE CASCADE,
    secret_hash  BLOB NOT NULL,
    hint         TEXT NOT NULL,
    description  TEXT,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
);
CREATE INDEX client_secrets_by_principal ON client_secrets (principal_id);

CREATE TABLE personal_access_tokens (
    id           TEXT PRIMARY KEY,
    principal_id TEXT NOT NULL REFERENCES principals (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    secret_hash  BLOB NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    revoked_at   INTEGER
);
CREATE INDEX personal_access_tokens_by_principal ON personal_access_tokens (principal_id);

CREATE TABLE sessions (
    id           TEXT PRIMARY KEY,
    principal_id TEXT NOT NULL REFERENCES principals (id) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    revoked_at   INTEGER
);
CREATE INDEX sessions_by_principal ON sessions (principal_id);

CREATE TABLE refresh_tokens (
    id          TEXT PRIMARY KEY,
    session_id  TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    secret_hash BLOB NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER
);
CREATE INDEX refresh_tokens_by_session ON refresh_tokens (session_id);

CREATE TABLE signing_keys (
    kid            TEXT PRIMARY KEY,
    wrapped_secret BLOB NOT NULL,
    public_key     BLOB NOT NULL,
    created_at     INTEGER NOT NULL,
    retired_at     INTEGER,
    verify_until   INTEGER
);

CREATE TABLE role_assignments (
    id           TEXT PRIMARY KEY,
    principal_id TEXT NOT NULL REFERENCES principals (id) ON DELETE CASCADE,
    role_name    TEXT NOT NULL,
    scope        TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    UNIQUE (principal_id, role_name, scope)
);
CREATE INDEX role_assignments_by_principal ON role_assignments (principal_id);
