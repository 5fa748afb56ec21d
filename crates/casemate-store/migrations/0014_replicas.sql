-- The casemate processes sharing this database, each with a lease it renews, and which one
-- drives each submitted run: when a lease runs out, another replica ends that replica's runs.

CREATE TABLE replicas (
    id               TEXT PRIMARY KEY,
    host             TEXT NOT NULL,
    pid              INTEGER NOT NULL,
    started_at       INTEGER NOT NULL,
    lease_expires_at INTEGER NOT NULL
);

ALTER TABLE runs ADD COLUMN owner_replica TEXT;
CREATE INDEX runs_in_flight_by_owner ON runs (owner_replica) WHERE status IN ('Queued', 'Preparing', 'Running');
