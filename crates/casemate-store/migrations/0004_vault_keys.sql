-- Vault keys (customer-managed keys): versioned AES-256 keys whose material is stored wrapped by
-- the root key.

CREATE TABLE vault_keys (
    vault              TEXT NOT NULL COLLATE NOCASE,
    name               TEXT NOT NULL COLLATE NOCASE,
    enabled            INTEGER NOT NULL CHECK (enabled IN (0, 1)),
    created_at         INTEGER NOT NULL,
    deleted_at         INTEGER,
    scheduled_purge_at INTEGER,
    PRIMARY KEY (vault, name)
);

CREATE TABLE vault_key_versions (
    vault            TEXT NOT NULL COLLATE NOCASE,
    name             TEXT NOT NULL COLLATE NOCASE,
    version          TEXT NOT NULL,
    seq              INTEGER NOT NULL,
    wrapped_material BLOB NOT NULL,
    enabled          INTEGER NOT NULL CHECK (enabled IN (0, 1)),
    created_at       INTEGER NOT NULL,
    PRIMARY KEY (vault, name, version),
    FOREIGN KEY (vault, name) REFERENCES vault_keys (vault, name) ON DELETE CASCADE
);
