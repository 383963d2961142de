-- The tenant's runs list, newest first, by creation then id (its cursor),
-- with or without a state filter.
CREATE INDEX runs_tenant_created ON runs (tenant_id, created_at, id);
CREATE INDEX runs_tenant_state_created ON runs (tenant_id, state, created_at, id);
