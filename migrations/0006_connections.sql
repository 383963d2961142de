-- Tenant AWS connections. Secrets (the external id, static keys) are sealed
-- with AES-256-GCM under the server's key, bound to the tenant; the API
-- never returns them.
CREATE TABLE connections (
    id                TEXT PRIMARY KEY,
    tenant_id         TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name              TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    region            TEXT NOT NULL,
    role_arn          TEXT,
    external_id       TEXT,
    session_seconds   BIGINT NOT NULL DEFAULT 3600 CHECK (session_seconds BETWEEN 900 AND 43200),
    cluster_id        TEXT NOT NULL,
    endpoint_url      TEXT,
    access_key_id     TEXT,
    secret_access_key TEXT,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    UNIQUE (tenant_id, name)
);
