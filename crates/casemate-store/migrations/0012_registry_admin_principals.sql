-- no-transaction
-- A container registry's admin user is a principal of its own kind. SQLite cannot change a
-- CHECK constraint in place, so `principals` is rebuilt the documented way
-- (https://www.sqlite.org/lang_altertable.html#otheralter): foreign keys off (only possible
-- outside a transaction, hence no-transaction above), the rebuild in one transaction, foreign
-- keys checked and back on. Rerunning it after a crash between its commit and sqlx's
-- bookkeeping does the same rebuild again, harmlessly.

PRAGMA foreign_keys = OFF;

BEGIN;

CREATE TABLE principals_rebuilt (
    id            TEXT PRIMARY KEY,
    kind          TEXT NOT NULL CHECK (kind IN ('user', 'service_principal', 'managed_identity', 'registry_admin')),
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

COMMIT;

PRAGMA foreign_keys = ON;
