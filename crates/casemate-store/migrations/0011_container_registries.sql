-- Container registries (OCI distribution): blobs are sealed in the blob store under the
-- registry's data key; these tables say which registry and repository hold what.

CREATE TABLE registry_blobs (
    registry_id  TEXT NOT NULL COLLATE NOCASE,
    repository   TEXT NOT NULL,
    digest       TEXT NOT NULL,                 -- sha256:<64 hex>
    size         INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,              -- Unix milliseconds
    PRIMARY KEY (registry_id, repository, digest)
);

CREATE TABLE registry_manifests (
    registry_id  TEXT NOT NULL COLLATE NOCASE,
    repository   TEXT NOT NULL,
    digest       TEXT NOT NULL,
    media_type   TEXT NOT NULL,
    content      BLOB NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (registry_id, repository, digest)
);

CREATE TABLE registry_tags (
    registry_id  TEXT NOT NULL COLLATE NOCASE,
    repository   TEXT NOT NULL,
    tag          TEXT NOT NULL,
    digest       TEXT NOT NULL,
    PRIMARY KEY (registry_id, repository, tag),
    FOREIGN KEY (registry_id, repository, digest)
        REFERENCES registry_manifests (registry_id, repository, digest) ON DELETE CASCADE
);
