-- Alerts: channels (where notifications go), rules (when), the outbox of
-- ended runs (written in the same transaction as the run's final state) and
-- deliveries (one per notification and channel, with its attempts).

-- The tenant's webhook signing secret, sealed (see `secrets`), and when it
-- was made.
ALTER TABLE tenants ADD COLUMN alert_secret TEXT;
ALTER TABLE tenants ADD COLUMN alert_secret_at TEXT;

CREATE TABLE alert_channels (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name        TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    kind        TEXT NOT NULL CHECK (kind IN ('webhook', 'email', 'slack')),
    target      TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    UNIQUE (tenant_id, name)
);

CREATE TABLE alert_rules (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    -- NULL: the tenant default, for processes without rules of their own.
    process_id  TEXT REFERENCES processes (id) ON DELETE CASCADE,
    trigger     TEXT NOT NULL CHECK (trigger IN ('failure', 'success', 'overdue', 'failure_streak', 'recovery')),
    threshold   BIGINT,
    channel_id  TEXT NOT NULL REFERENCES alert_channels (id) ON DELETE CASCADE,
    created_at  TEXT NOT NULL
);
CREATE INDEX alert_rules_tenant ON alert_rules (tenant_id, process_id);
-- The same rule twice would send everything twice.
CREATE UNIQUE INDEX alert_rules_once ON alert_rules
    (tenant_id, COALESCE(process_id, ''), trigger, COALESCE(threshold, 0), channel_id);

-- Runs that ended in a tenant with rules, not yet turned into deliveries.
CREATE TABLE alert_outbox (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    run_id      TEXT NOT NULL,
    state       TEXT NOT NULL,
    ended_at    TEXT NOT NULL
);

CREATE TABLE alert_deliveries (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    -- No foreign keys: the log outlives a deleted channel, rule or run.
    channel_id      TEXT NOT NULL,
    channel_name    TEXT NOT NULL,
    channel_kind    TEXT NOT NULL,
    rule_id         TEXT,
    trigger         TEXT,                  -- NULL: a test
    run_id          TEXT,
    process_name    TEXT,
    run_number      BIGINT,
    -- One delivery per (trigger, rule, run, end): a second server or a
    -- restart turning the same ending into deliveries adds nothing.
    dedupe          TEXT UNIQUE,
    summary         TEXT NOT NULL,
    payload         TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at TEXT,
    last_error      TEXT,
    -- The server sending it now, and until when its claim holds.
    claimed_by      TEXT,
    claimed_until   TEXT,
    created_at      TEXT NOT NULL,
    delivered_at    TEXT
);
CREATE INDEX alert_deliveries_due ON alert_deliveries (status, next_attempt_at);
CREATE INDEX alert_deliveries_tenant ON alert_deliveries (tenant_id, created_at);
