-- A block's `points` are packed (points_format 1): each point as its difference from the one
-- before, 4 to 8 bytes for a training loop's point where migration 0021's fixed layout
-- (points_format 0) took 24, so a 100-point block no longer fills a page of its own. The layout
-- is described in crates/casemate-store/src/run_metrics/packed.rs. Blocks already stored keep
-- the fixed layout and are read as they are.
ALTER TABLE run_metric_blocks ADD COLUMN points_format INTEGER NOT NULL DEFAULT 0;
