//! Versions deployed to Airflow: `deploying` until Airflow has parsed the
//! DAG file, then `ready` or `failed`; `retired` once superseded and idle
//! (file removed, DAG paused).

use super::{now, Db};
use app::api::processes::DeployState;
use app::types::{TenantId, VersionId};
use sqlx::any::AnyRow;
use sqlx::Row;

/// A deployment Airflow has not yet answered for.
#[derive(Debug, Clone)]
pub struct Pending {
    pub version_id: VersionId,
    pub tenant: TenantId,
    pub dag_id: String,
    pub content_hash: String,
}

/// Records (or restarts) the deployment of a version whose file is being
/// uploaded now.
pub async fn start(
    db: &Db,
    tenant: &TenantId,
    version_id: &VersionId,
    dag_id: &str,
) -> sqlx::Result<()> {
    let at = now();
    let mut tx = db.pool.begin().await?;
    sqlx::query("DELETE FROM deployments WHERE version_id = $1")
        .bind(version_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO deployments (version_id, tenant_id, dag_id, state, error, uploaded_at, updated_at) \
         VALUES ($1, $2, $3, 'deploying', NULL, $4, $4)",
    )
    .bind(version_id)
    .bind(tenant.as_str())
    .bind(dag_id)
    .bind(&at)
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

/// Moves a `deploying` deployment to `state` (or notes `error` and stays
/// `deploying`); false when it was no longer deploying.
pub async fn set(
    db: &Db,
    version_id: &VersionId,
    state: DeployState,
    error: Option<&str>,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE deployments SET state = $2, error = $3, updated_at = $4 \
         WHERE version_id = $1 AND state = 'deploying'",
    )
    .bind(version_id)
    .bind(state.as_str())
    .bind(error)
    .bind(now())
    .execute(&db.pool)
    .await?;
    Ok(done.rows_affected() > 0)
}

const PENDING_COLUMNS: &str = "d.version_id, d.tenant_id, d.dag_id, v.content_hash";

fn pending(row: &AnyRow) -> sqlx::Result<Pending> {
    Ok(Pending {
        version_id: row.try_get("version_id")?,
        tenant: TenantId::new(row.try_get::<String, _>("tenant_id")?),
        dag_id: row.try_get("dag_id")?,
        content_hash: row.try_get("content_hash")?,
    })
}

/// Every deployment still waiting for Airflow, oldest first.
pub async fn deploying(db: &Db) -> sqlx::Result<Vec<Pending>> {
    sqlx::query(&format!(
        "SELECT {PENDING_COLUMNS} FROM deployments d JOIN versions v ON v.id = d.version_id \
         WHERE d.state = 'deploying' ORDER BY d.uploaded_at"
    ))
    .fetch_all(&db.pool)
    .await?
    .iter()
    .map(pending)
    .collect()
}

/// A deployment whose version may be retired.
#[derive(Debug, Clone)]
pub struct Superseded {
    pub version_id: VersionId,
    pub dag_id: String,
}

/// Deployments (`ready` or `failed`) of versions superseded by a later
/// version of their process published before `cutoff`, with no active run
/// and no schedule pinned to them: at most `limit`, oldest first.
pub async fn superseded(db: &Db, cutoff: &str, limit: i64) -> sqlx::Result<Vec<Superseded>> {
    let rows = sqlx::query(
        "SELECT d.version_id, d.dag_id FROM deployments d JOIN versions v ON v.id = d.version_id \
         WHERE d.state IN ('ready', 'failed') \
           AND EXISTS (SELECT 1 FROM versions n WHERE n.process_id = v.process_id \
                       AND n.number > v.number AND n.created_at <= $1) \
           AND NOT EXISTS (SELECT 1 FROM runs r WHERE r.version_id = v.id \
                           AND r.state IN ('queued', 'running', 'cancelling')) \
           AND NOT EXISTS (SELECT 1 FROM schedules s WHERE s.process_id = v.process_id \
                           AND s.version_number = v.number) \
         ORDER BY d.uploaded_at LIMIT $2",
    )
    .bind(cutoff)
    .bind(limit)
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(Superseded {
                version_id: row.try_get("version_id")?,
                dag_id: row.try_get("dag_id")?,
            })
        })
        .collect()
}

/// Marks a deployment retired (from `ready` or `failed` only).
pub async fn retire(db: &Db, version_id: &VersionId, note: &str) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE deployments SET state = 'retired', error = $2, updated_at = $3 \
         WHERE version_id = $1 AND state IN ('ready', 'failed')",
    )
    .bind(version_id)
    .bind(note)
    .bind(now())
    .execute(&db.pool)
    .await?;
    Ok(done.rows_affected() > 0)
}
