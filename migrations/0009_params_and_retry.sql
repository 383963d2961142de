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

-- Backfills: one run per fire time of a cron expression over a range. Every
-- fire is stored with the backfill (one transaction), and a fire's run is
-- claimed in the transaction that stores the run, so a backfill never runs
-- a fire twice or misses one, whatever restarts or servers come between.
CREATE TABLE backfills (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    process_id      TEXT NOT NULL REFERENCES processes (id) ON DELETE CASCADE,
    range_start     TEXT NOT NULL,
    range_end       TEXT NOT NULL,
    cron            TEXT NOT NULL,
    timezone        TEXT NOT NULL,
    version_number  BIGINT NOT NULL,
    params          TEXT NOT NULL DEFAULT '{}',
    max_active_runs BIGINT NOT NULL CHECK (max_active_runs BETWEEN 1 AND 100),
    run_order       TEXT NOT NULL CHECK (run_order IN ('oldest_first', 'newest_first')),
    state           TEXT NOT NULL CHECK (state IN ('running', 'done', 'cancelled')),
    created_by      TEXT REFERENCES users (id),
    created_at      TEXT NOT NULL,
    finished_at     TEXT
);
CREATE INDEX backfills_process ON backfills (tenant_id, process_id, created_at);
CREATE INDEX backfills_state ON backfills (state);

CREATE TABLE backfill_fires (
    backfill_id TEXT NOT NULL REFERENCES backfills (id) ON DELETE CASCADE,
    fire_at     TEXT NOT NULL,
    tenant_id   TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    -- The order fires start in (by the backfill's order).
    position    BIGINT NOT NULL,
    run_id      TEXT REFERENCES runs (id) ON DELETE SET NULL,
    -- Set when the backfill was cancelled before this fire's run started,
    -- or the fire could not start (then with the reason).
    cancelled   BIGINT NOT NULL DEFAULT 0 CHECK (cancelled IN (0, 1)),
    detail      TEXT,
    PRIMARY KEY (backfill_id, fire_at)
);
CREATE INDEX backfill_fires_next ON backfill_fires (backfill_id, position);

ALTER TABLE runs ADD COLUMN backfill_id TEXT REFERENCES backfills (id) ON DELETE SET NULL;
CREATE INDEX runs_backfill ON runs (backfill_id, state);
