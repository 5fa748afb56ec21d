-- The image a run names (a reference into a casemate registry) and the manifest digest it
-- resolved to, through its compute's identity, before it started.

ALTER TABLE runs ADD COLUMN image TEXT;
ALTER TABLE runs ADD COLUMN image_digest TEXT;
