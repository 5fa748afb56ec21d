-- A block's `points` are packed (points_format 1), as in SQLite's migration 0022 (which says
-- why). Blocks already stored keep the fixed layout (points_format 0) and are read as they are.
ALTER TABLE run_metric_blocks ADD COLUMN points_format INTEGER NOT NULL DEFAULT 0;
