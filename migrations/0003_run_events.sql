-- Per-run event numbering and stop requests. `last_seq` is bumped in the same
-- transaction that appends an event, so numbers are gap-free and never reused
-- even with several writers.
ALTER TABLE runs ADD COLUMN last_seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN version_number BIGINT NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN stop_mode TEXT CHECK (stop_mode IN ('graceful', 'force'));
-- A task's place in its DAG, so task runs list in DAG order.
ALTER TABLE task_runs ADD COLUMN position BIGINT NOT NULL DEFAULT 0;
