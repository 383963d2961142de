-- Schedules: at most one per process. Fire times are UTC RFC 3339 text with
-- milliseconds (`…T06:00:00.000Z`), so text order is time order.
CREATE TABLE schedules (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    process_id      TEXT NOT NULL UNIQUE REFERENCES processes (id) ON DELETE CASCADE,
    cron            TEXT NOT NULL,
    timezone        TEXT NOT NULL,
    enabled         BIGINT NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    version_number  BIGINT,                -- NULL: the latest version at fire time
    params          TEXT NOT NULL DEFAULT '{}',
    max_active_runs BIGINT NOT NULL DEFAULT 1 CHECK (max_active_runs BETWEEN 1 AND 100),
    when_busy       TEXT NOT NULL DEFAULT 'skip' CHECK (when_busy IN ('skip', 'queue')),
    catchup         TEXT NOT NULL DEFAULT 'none' CHECK (catchup IN ('none', 'latest', 'all')),
    -- Fires after this time count; set when the schedule is created, changed
    -- or resumed, and moved forward past every fire handled.
    cursor_at       TEXT NOT NULL,
    created_by      TEXT REFERENCES users (id),
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE INDEX schedules_tenant ON schedules (tenant_id);

-- One row per fire: the key (schedule, fire time) is written in the same
-- transaction as the run it starts, so no fire ever starts two runs.
CREATE TABLE schedule_fires (
    schedule_id TEXT NOT NULL REFERENCES schedules (id) ON DELETE CASCADE,
    fire_at     TEXT NOT NULL,
    tenant_id   TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    outcome     TEXT NOT NULL CHECK (outcome IN ('started', 'waiting', 'skipped')),
    run_id      TEXT REFERENCES runs (id) ON DELETE SET NULL,
    detail      TEXT,
    recorded_at TEXT NOT NULL,
    PRIMARY KEY (schedule_id, fire_at)
);
CREATE INDEX schedule_fires_waiting ON schedule_fires (outcome, schedule_id, fire_at);

-- Runs started by a schedule carry the fire time.
ALTER TABLE runs ADD COLUMN scheduled_for TEXT;

-- Which server drives a run. A server that stops heartbeating loses its runs
-- to the next server that looks.
ALTER TABLE runs ADD COLUMN owner TEXT;
CREATE TABLE servers (
    id           TEXT PRIMARY KEY,
    host         TEXT NOT NULL,
    pid          BIGINT NOT NULL,
    started_at   TEXT NOT NULL,
    heartbeat_at TEXT NOT NULL
);
