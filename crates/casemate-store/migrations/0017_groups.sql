-- no-transaction
-- Groups: principals of their own kind that hold role assignments for their members, who are
-- added by an administrator or, for single sign-on, follow the provider's group claim at each
-- sign-in. `principals` is rebuilt for the new kind as 0012 did (the same documented way, with
-- foreign keys off outside a transaction); rerunning it after a crash is harmless.

PRAGMA foreign_keys = OFF;

BEGIN;

CREATE TABLE principals_rebuilt (
    id            TEXT PRIMARY KEY,
    kind          TEXT NOT NULL CHECK (kind IN ('user', 'service_principal', 'managed_identity', 'registry_admin', 'group')),
    name          TEXT NOT NULL COLLATE NOCASE UNIQUE,
    display_name  TEXT NOT NULL,
    enabled       INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    created_at    INTEGER NOT NULL,
    password_hash TEXT,
    client_id     TEXT UNIQUE
);

INSERT INTO principals_rebuilt (id, kind, name, display_name, enabled, created_at, password_hash, client_id)
    SELECT id, kind, name, display_name, enabled, created_at, password_hash, client_id FROM principals;

DROP TABLE principals;

ALTER TABLE principals_rebuilt RENAME TO principals;

CREATE TRIGGER principals_insert_moves_gate_generation AFTER INSERT ON principals
BEGIN
    UPDATE installation SET value = CAST(value AS INTEGER) + 1 WHERE key = 'gate_generation';
END;

CREATE TRIGGER principals_update_moves_gate_generation AFTER UPDATE ON principals
BEGIN
    UPDATE installation SET value = CAST(value AS INTEGER) + 1 WHERE key = 'gate_generation';
END;

CREATE TRIGGER principals_delete_moves_gate_generation AFTER DELETE ON principals
BEGIN
    UPDATE installation SET value = CAST(value AS INTEGER) + 1 WHERE key = 'gate_generation';
END;

CREATE TABLE IF NOT EXISTS group_members (
    group_id  TEXT NOT NULL REFERENCES principals (id) ON DELETE CASCADE,
    member_id TEXT NOT NULL REFERENCES principals (id) ON DELETE CASCADE,
    -- 'admin': added by an administrator; 'sso': from the provider's group claim, replaced at
    -- each single sign-on.
    source    TEXT NOT NULL CHECK (source IN ('admin', 'sso')),
    PRIMARY KEY (group_id, member_id)
);
CREATE INDEX IF NOT EXISTS group_members_by_member ON group_members (member_id);

CREATE TRIGGER IF NOT EXISTS group_members_insert_moves_gate_generation AFTER INSERT ON group_members
BEGIN
    UPDATE installation SET value = CAST(value AS INTEGER) + 1 WHERE key = 'gate_generation';
END;

CREATE TRIGGER IF NOT EXISTS group_members_delete_moves_gate_generation AFTER DELETE ON group_members
BEGIN
    UPDATE installation SET value = CAST(value AS INTEGER) + 1 WHERE key = 'gate_generation';
END;

COMMIT;

PRAGMA foreign_keys = ON;
