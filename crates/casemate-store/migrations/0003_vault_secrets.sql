-- Data keys (wrapped; never stored in the clear) and versioned vault secrets, sealed with them.

CREATE TABLE data_keys (
    id           TEXT PRIMARY KEY,
    owner        TEXT NOT NULL COLLATE NOCASE,      -- the resource id whose data the key seals
    wrapped      BLOB NOT NULL,
    wrapping_key TEXT NOT NULL,                     -- which key wrapped it
    created_at   INTEGER NOT NULL
);
CREATE INDEX data_keys_by_owner ON data_keys (owner);

CREATE TABLE secrets (
    vault              TEXT NOT NULL COLLATE NOCASE,
    name               TEXT NOT NULL COLLATE NOCASE,
    created_at         INTEGER NOT NULL,
    deleted_at         INTEGER,
    scheduled_purge_at INTEGER,
    PRIMARY KEY (vault, name)
);

CREATE TABLE secret_versions (
    vault        TEXT NOT NULL COLLATE NOCASE,
    name         TEXT NOT NULL COLLATE NOCASE,
    version      TEXT NOT NULL,
    seq          INTEGER NOT NULL,                  -- orders versions; the highest is the latest
    ciphertext   BLOB NOT NULL,
    data_key     TEXT NOT NULL REFERENCES data_keys (id),
    enabled      INTEGER NOT NULL CHECK (enabled IN (0, 1)),
    not_before   INTEGER,
    expires      INTEGER,
    content_type TEXT,
    tags         TEXT NOT NULL,                     -- JSON object
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    PRIMARY KEY (vault, name, version),
    FOREIGN KEY (vault, name) REFERENCES secrets (vault, name) ON DELETE CASCADE
);
