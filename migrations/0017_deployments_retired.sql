-- A version superseded on Airflow is retired after a grace period: its DAG
-- file is removed from the bucket and its DAG paused (state 'retired').
CREATE TABLE deployments_next (
    version_id  TEXT PRIMARY KEY REFERENCES versions (id) ON DELETE CASCADE,
    tenant_id   TEXT NOT NULL,
    dag_id      TEXT NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('deploying', 'ready', 'failed', 'retired')),
    error       TEXT,
    uploaded_at TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
INSERT INTO deployments_next (version_id, tenant_id, dag_id, state, error, uploaded_at, updated_at)
    SELECT version_id, tenant_id, dag_id, state, error, uploaded_at, updated_at FROM deployments;
DROP TABLE deployments;
ALTER TABLE deployments_next RENAME TO deployments;
CREATE INDEX deployments_by_state ON deployments (state);
