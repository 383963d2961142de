-- A version freezes the definitions of the components it uses (JSON array of
-- component types), so runs of it behave as published whatever the catalog
-- becomes. Versions published before this hold `[]` and use the catalog.
ALTER TABLE versions ADD COLUMN components TEXT NOT NULL DEFAULT '[]';

-- What a run resolved when it started: built-ins, parameters with defaults,
-- and every node's values after `{{ … }}` references (JSON; NULL for runs
-- started before parameters existed).
ALTER TABLE runs ADD COLUMN resolved TEXT;

-- Retries of a run from its failed part: how many, and the last one.
ALTER TABLE runs ADD COLUMN retries BIGINT NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN retried_by TEXT REFERENCES users (id);
ALTER TABLE runs ADD COLUMN retried_at TEXT;

-- "Run again": the run this one repeats (same version, same parameters).
ALTER TABLE runs ADD COLUMN rerun_of TEXT REFERENCES runs (id) ON DELETE SET NULL;
