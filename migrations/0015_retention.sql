-- How long a tenant keeps its ended runs (their events and task logs), in
-- days. NULL: the platform default (TRELLIS_RETENTION_DAYS); 0: forever.
ALTER TABLE tenants ADD COLUMN retention_days BIGINT CHECK (retention_days >= 0);
-- What the last retention sweep freed in the tenant: when, runs, bytes.
ALTER TABLE tenants ADD COLUMN swept_at TEXT;
ALTER TABLE tenants ADD COLUMN swept_runs BIGINT;
ALTER TABLE tenants ADD COLUMN swept_bytes BIGINT;
