-- The Airflow connection (in the tenant's Airflow / MWAA) that holds the AWS
-- credentials the rendered DAG files use for this connection's EMR cluster.
ALTER TABLE connections ADD COLUMN airflow_conn_id TEXT NOT NULL DEFAULT 'aws_default';

-- A version deployed to Airflow: its DAG file uploaded to the DAGs bucket,
-- then `deploying` until Airflow has parsed it (`ready`) or refused it
-- (`failed`, with Airflow's import error).
CREATE TABLE deployments (
    version_id  TEXT PRIMARY KEY REFERENCES versions (id) ON DELETE CASCADE,
    tenant_id   TEXT NOT NULL,
    dag_id      TEXT NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('deploying', 'ready', 'failed')),
    error       TEXT,
    uploaded_at TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX deployments_by_state ON deployments (state);
