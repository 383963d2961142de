-- The first schema: the glossary of DESIGN.md. Portable between SQLite and
-- PostgreSQL: ids and timestamps (RFC 3339 UTC) are TEXT, JSON is TEXT,
-- integers are BIGINT, flags are BIGINT 0/1, states are TEXT with CHECKs that
-- list exactly the values of the Rust enums in app/src/types/state.rs.

CREATE TABLE tenants (
    id                   TEXT PRIMARY KEY,
    slug                 TEXT NOT NULL UNIQUE CHECK (length(slug) BETWEEN 1 AND 63),
    name                 TEXT NOT NULL,
    max_concurrent_tasks BIGINT CHECK (max_concurrent_tasks > 0),
    created_at           TEXT NOT NULL
);

CREATE TABLE users (
    id             TEXT PRIMARY KEY,
    username       TEXT NOT NULL UNIQUE CHECK (length(username) BETWEEN 1 AND 64),
    -- argon2id in PHC string format; NULL for users who only sign in by SSO
    password_hash  TEXT,
    platform_admin BIGINT NOT NULL DEFAULT 0 CHECK (platform_admin IN (0, 1)),
    created_at     TEXT NOT NULL
);

CREATE TABLE memberships (
    tenant_id  TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       TEXT NOT NULL CHECK (role IN ('viewer', 'editor', 'tenant_admin')),
    created_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id);

-- The global component catalog (platform admins manage it).
CREATE TABLE component_types (
    key          TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    category     TEXT NOT NULL,
    description  TEXT NOT NULL DEFAULT '',
    icon         TEXT NOT NULL DEFAULT '',
    params       TEXT NOT NULL,           -- JSON parameter schema
    local_exec   TEXT,                    -- JSON: program + argv template
    emr_step     TEXT,                    -- JSON: EMR step template
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);

CREATE TABLE processes (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    draft       TEXT NOT NULL,            -- JSON process graph
    revision    BIGINT NOT NULL DEFAULT 1 CHECK (revision > 0),
    created_by  TEXT REFERENCES users (id),
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    archived_at TEXT
);
CREATE UNIQUE INDEX processes_live_name ON processes (tenant_id, name) WHERE archived_at IS NULL;

CREATE TABLE versions (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    process_id   TEXT NOT NULL REFERENCES processes (id) ON DELETE CASCADE,
    number       BIGINT NOT NULL CHECK (number > 0),
    content_hash TEXT NOT NULL,
    message      TEXT NOT NULL DEFAULT '',
    graph        TEXT NOT NULL,           -- JSON process graph, immutable
    dag          TEXT NOT NULL,           -- JSON compiled DAG, immutable
    created_by   TEXT REFERENCES users (id),
    created_at   TEXT NOT NULL,
    UNIQUE (process_id, number)
);
CREATE INDEX versions_tenant ON versions (tenant_id, process_id);

CREATE TABLE runs (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    process_id  TEXT NOT NULL REFERENCES processes (id) ON DELETE CASCADE,
    version_id  TEXT NOT NULL REFERENCES versions (id),
    state       TEXT NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelling', 'cancelled')),
    trigger_type TEXT NOT NULL CHECK (trigger_type IN ('manual', 'schedule', 'api')),
    params      TEXT NOT NULL DEFAULT '{}', -- JSON run parameters
    created_by  TEXT REFERENCES users (id),
    created_at  TEXT NOT NULL,
    started_at  TEXT,
    finished_at TEXT
);
CREATE INDEX runs_process ON runs (tenant_id, process_id, created_at);
CREATE INDEX runs_state ON runs (state);

CREATE TABLE task_runs (
    run_id       TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    task_key     TEXT NOT NULL,
    tenant_id    TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    kind         TEXT NOT NULL CHECK (kind IN ('entry', 'submit', 'watch', 'exit')),
    node         TEXT,
    state        TEXT NOT NULL CHECK (state IN ('pending', 'queued', 'running', 'succeeded', 'failed', 'up_for_retry', 'skipped', 'cancelled')),
    attempt      BIGINT NOT NULL DEFAULT 0 CHECK (attempt >= 0),
    external_ref TEXT,                    -- pid or EMR step id
    error        TEXT,
    started_at   TEXT,
    finished_at  TEXT,
    PRIMARY KEY (run_id, task_key)
);
CREATE INDEX task_runs_tenant_state ON task_runs (tenant_id, state);

-- Append-only, numbered per run: the source of live status.
CREATE TABLE events (
    run_id    TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    seq       BIGINT NOT NULL CHECK (seq > 0),
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    task_key  TEXT,
    state     TEXT NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelling', 'cancelled',
                                             'pending', 'up_for_retry', 'skipped')),
    at        TEXT NOT NULL,
    detail    TEXT,
    PRIMARY KEY (run_id, seq)
);
CREATE INDEX events_tenant ON events (tenant_id, at);
