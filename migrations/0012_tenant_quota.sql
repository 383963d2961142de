-- A tenant's own disk quota for its folder (datasets, data files, exports,
-- task logs), in bytes. NULL: the platform default (TRELLIS_TENANT_QUOTA_BYTES);
-- 0: unlimited.
ALTER TABLE tenants ADD COLUMN quota_bytes BIGINT CHECK (quota_bytes >= 0);
