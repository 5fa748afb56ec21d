-- What workspace metrics count that no other table keeps: each model registration and web
-- service deployment, succeeded or failed (a failed one leaves no other row behind).

CREATE TABLE workspace_events (
    workspace_id TEXT NOT NULL COLLATE NOCASE,
    time_ms      INTEGER NOT NULL,               -- Unix milliseconds
    kind         TEXT NOT NULL,                  -- model_registration, deployment
    outcome      TEXT NOT NULL                   -- succeeded, failed
);
CREATE INDEX workspace_events_by_time ON workspace_events (workspace_id, time_ms);
