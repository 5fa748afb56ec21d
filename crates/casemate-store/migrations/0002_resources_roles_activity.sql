-- Resources (resource groups, workspaces and their associated resources), custom roles, and the
-- append-only activity log.

CREATE TABLE resources (
    id          TEXT PRIMARY KEY COLLATE NOCASE,   -- the resource id, e.g. /resourceGroups/rg/workspaces/ws
    kind        TEXT NOT NULL,                     -- resourceGroups, workspaces, vaults, storage, registries, monitors
    parent      TEXT COLLATE NOCASE,               -- the containing resource group's id
    name        TEXT NOT NULL,
    properties  TEXT NOT NULL,                     -- JSON, shaped by the kind
    created_at  INTEGER NOT NULL,
    created_by  TEXT NOT NULL
);
CREATE INDEX resources_by_parent ON resources (parent, kind);

CREATE INDEX role_assignments_by_scope ON role_assignments (scope COLLATE NOCASE);

CREATE TABLE custom_roles (
    name        TEXT PRIMARY KEY COLLATE NOCASE,
    definition  TEXT NOT NULL,                     -- JSON in the cloud platform's shape
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

CREATE TABLE activity_log (
    seq            INTEGER PRIMARY KEY,
    id             TEXT NOT NULL UNIQUE,
    time           INTEGER NOT NULL,                -- Unix milliseconds
    operation      TEXT NOT NULL,
    phase          TEXT NOT NULL,                   -- Started, Succeeded, Failed, Denied
    status         INTEGER NOT NULL,                -- HTTP status; 0 while Started
    caller_id      TEXT NOT NULL,
    caller_name    TEXT NOT NULL,
    resource_id    TEXT NOT NULL,
    correlation_id TEXT NOT NULL,
    client_address TEXT NOT NULL,
    user_agent     TEXT NOT NULL,
    detail         TEXT NOT NULL,
    prev_hash      BLOB NOT NULL,
    hash           BLOB NOT NULL
);
CREATE INDEX activity_log_by_time ON activity_log (time);
CREATE INDEX activity_log_by_caller ON activity_log (caller_id);
CREATE INDEX activity_log_by_correlation ON activity_log (correlation_id);

CREATE TRIGGER activity_log_is_append_only_update BEFORE UPDATE ON activity_log
BEGIN
    SELECT RAISE(ABORT, 'the activity log is append-only');
END;

CREATE TRIGGER activity_log_is_append_only_delete BEFORE DELETE ON activity_log
BEGIN
    SELECT RAISE(ABORT, 'the activity log is append-only');
END;
