//! Backfills and their fires. Every fire is stored with its backfill in one
//! transaction; a fire's run is stored in the transaction that claims the
//! fire (`run_id IS NULL`), so no fire ever gets two runs or none, whatever
//! restarts, crashes or other servers happen in between.

use super::runs::{self, NewRun};
use super::{json, new_id, now, text, Db};
use app::api::backfills::{Backfill, BackfillOrder};
use app::api::runs::RunEvent;
use app::types::{ProcessId, RunId, TenantId, UserId};
use sqlx::any::AnyRow;
use sqlx::Row;
use std::collections::BTreeMap;

/// What creating a backfill stores.
pub struct NewBackfill<'a> {
    pub tenant: &'a TenantId,
    pub process: &'a ProcessId,
    pub start: &'a str,
    pub end: &'a str,
    pub cron: &'a str,
    pub timezone: &'a str,
    pub version: i64,
    pub params: &'a serde_json::Map<String, serde_json::Value>,
    pub max_active_runs: i64,
    pub order: BackfillOrder,
    pub by: &'a UserId,
    /// Its fire times (UTC keys), oldest first.
    pub fires: &'a [String],
}

/// Stores a backfill with all its fires; its id.
pub async fn create(db: &Db, b: NewBackfill<'_>) -> sqlx::Result<String> {
    let id = new_id();
    let mut tx = db.pool.begin().await?;
    sqlx::query(
        "INSERT INTO backfills (id, tenant_id, process_id, range_start, range_end, cron, timezone, version_number, \
         params, max_active_runs, run_order, state, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'running', $12, $13)",
    )
    .bind(&id)
    .bind(b.tenant.as_str())
    .bind(b.process)
    .bind(b.start)
    .bind(b.end)
    .bind(b.cron)
    .bind(b.timezone)
    .bind(b.version)
    .bind(serde_json::Value::Object(b.params.clone()).to_string())
    .bind(b.max_active_runs)
    .bind(b.order.as_str())
    .bind(b.by.as_str())
    .bind(now())
    .execute(&mut *tx)
    .await?;
    let n = b.fires.len();
    for (i, at) in b.fires.iter().enumerate() {
        let position = match b.order {
            BackfillOrder::OldestFirst => i,
            BackfillOrder::NewestFirst => n - 1 - i,
        };
        sqlx::query(
            "INSERT INTO backfill_fires (backfill_id, fire_at, tenant_id, position) VALUES ($1, $2, $3, $4)",
        )
        .bind(&id)
        .bind(at)
        .bind(b.tenant.as_str())
        .bind(position as i64)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(id)
}

const COLUMNS: &str = "b.id, b.process_id, b.range_start, b.range_end, b.cron, b.timezone, b.version_number, \
    b.params, b.max_active_runs, b.run_order, b.state, u.username AS created_by, b.created_at, \
    (SELECT COUNT(*) FROM backfill_fires f WHERE f.backfill_id = b.id) AS total, \
    (SELECT COUNT(*) FROM backfill_fires f WHERE f.backfill_id = b.id AND f.run_id IS NULL AND f.cancelled = 0) AS pending, \
    (SELECT COUNT(*) FROM backfill_fires f WHERE f.backfill_id = b.id AND f.run_id IS NULL AND f.cancelled = 1) AS never";
const FROM: &str = "FROM backfills b LEFT JOIN users u ON u.id = b.created_by";

fn from_row(row: &AnyRow) -> sqlx::Result<Backfill> {
    Ok(Backfill {
        id: row.try_get("id")?,
        process: row.try_get("process_id")?,
        start: row.try_get("range_start")?,
        end: row.try_get("range_end")?,
        cron: row.try_get("cron")?,
        timezone: row.try_get("timezone")?,
        version: row.try_get("version_number")?,
        params: json(row, "params")?,
        max_active_runs: row.try_get("max_active_runs")?,
        order: text(row, "run_order")?,
        state: text(row, "state")?,
        created_by: row.try_get("created_by")?,
        created_at: row.try_get("created_at")?,
        total: row.try_get("total")?,
        pending: row.try_get("pending")?,
        cancelled_before_start: row.try_get("never")?,
        runs: BTreeMap::new(),
    })
}

/// Fills in the run counts by state of each backfill of `process`, in one
/// query.
async fn with_runs(
    db: &Db,
    tenant: &TenantId,
    process: &ProcessId,
    mut list: Vec<Backfill>,
) -> sqlx::Result<Vec<Backfill>> {
    if list.is_empty() {
        return Ok(list);
    }
    let rows = sqlx::query(
        "SELECT backfill_id, state, COUNT(*) AS n FROM runs \
         WHERE tenant_id = $1 AND process_id = $2 AND backfill_id IS NOT NULL GROUP BY backfill_id, state",
    )
    .bind(tenant.as_str())
    .bind(process)
    .fetch_all(&db.pool)
    .await?;
    for row in rows {
        let id: String = row.try_get("backfill_id")?;
        if let Some(b) = list.iter_mut().find(|b| b.id == id) {
            b.runs.insert(row.try_get("state")?, row.try_get("n")?);
        }
    }
    Ok(list)
}

/// A process's backfills, newest first.
pub async fn list(db: &Db, tenant: &TenantId, process: &ProcessId) -> sqlx::Result<Vec<Backfill>> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} {FROM} WHERE b.tenant_id = $1 AND b.process_id = $2 ORDER BY b.created_at DESC, b.id DESC"
    ))
    .bind(tenant.as_str())
    .bind(process)
    .fetch_all(&db.pool)
    .await?;
    let list = rows.iter().map(from_row).collect::<sqlx::Result<_>>()?;
    with_runs(db, tenant, process, list).await
}

/// One backfill of a process.
pub async fn get(
    db: &Db,
    tenant: &TenantId,
    process: &ProcessId,
    id: &str,
) -> sqlx::Result<Option<Backfill>> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} {FROM} WHERE b.tenant_id = $1 AND b.process_id = $2 AND b.id = $3"
    ))
    .bind(tenant.as_str())
    .bind(process)
    .bind(id)
    .fetch_optional(&db.pool)
    .await?;
    let Some(b) = row.as_ref().map(from_row).transpose()? else {
        return Ok(None);
    };
    Ok(with_runs(db, tenant, process, vec![b]).await?.pop())
}

/// Cancels a running backfill: its fires that have not started never will.
/// False when it was not running.
pub async fn cancel(db: &Db, tenant: &TenantId, id: &str) -> sqlx::Result<bool> {
    let mut tx = db.pool.begin().await?;
    let done = sqlx::query(
        "UPDATE backfills SET state = 'cancelled', finished_at = $3 \
         WHERE tenant_id = $1 AND id = $2 AND state = 'running'",
    )
    .bind(tenant.as_str())
    .bind(id)
    .bind(now())
    .execute(&mut *tx)
    .await?
    .rows_affected();
    sqlx::query(
        "UPDATE backfill_fires SET cancelled = 1 WHERE backfill_id = $1 AND run_id IS NULL AND cancelled = 0",
    )
    .bind(id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(done == 1)
}

/// The active runs of a backfill: (tenant, run).
pub async fn active_runs(db: &Db, id: &str) -> sqlx::Result<Vec<(TenantId, RunId)>> {
    sqlx::query(
        "SELECT tenant_id, id FROM runs WHERE backfill_id = $1 AND state IN ('queued', 'running')",
    )
    .bind(id)
    .fetch_all(&db.pool)
    .await?
    .iter()
    .map(|r| {
        Ok((
            TenantId::new(r.try_get::<String, _>("tenant_id")?),
            r.try_get("id")?,
        ))
    })
    .collect()
}

/// A running backfill, as its pass needs it.
pub struct Active {
    pub id: String,
    pub tenant: TenantId,
    pub process: ProcessId,
    pub process_name: String,
    pub cron: String,
    pub timezone: String,
    pub version: i64,
    pub params: serde_json::Map<String, serde_json::Value>,
    pub max_active_runs: i64,
    /// Its runs not yet ended.
    pub active: i64,
}

/// Every running backfill of every tenant.
pub async fn running(db: &Db) -> sqlx::Result<Vec<Active>> {
    sqlx::query(
        "SELECT b.id, b.tenant_id, b.process_id, p.name, b.cron, b.timezone, b.version_number, b.params, \
         b.max_active_runs, (SELECT COUNT(*) FROM runs r WHERE r.backfill_id = b.id \
         AND r.state IN ('queued', 'running', 'cancelling')) AS active \
         FROM backfills b JOIN processes p ON p.id = b.process_id WHERE b.state = 'running' ORDER BY b.created_at, b.id",
    )
    .fetch_all(&db.pool)
    .await?
    .iter()
    .map(|row| {
        Ok(Active {
            id: row.try_get("id")?,
            tenant: TenantId::new(row.try_get::<String, _>("tenant_id")?),
            process: row.try_get("process_id")?,
            process_name: row.try_get("name")?,
            cron: row.try_get("cron")?,
            timezone: row.try_get("timezone")?,
            version: row.try_get("version_number")?,
            params: json(row, "params")?,
            max_active_runs: row.try_get("max_active_runs")?,
            active: row.try_get("active")?,
        })
    })
    .collect()
}

/// The next `n` fires of a backfill still to start, in its order.
pub async fn next_fires(db: &Db, id: &str, n: i64) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "SELECT fire_at FROM backfill_fires WHERE backfill_id = $1 AND run_id IS NULL AND cancelled = 0 \
         ORDER BY position LIMIT $2",
    )
    .bind(id)
    .bind(n)
    .fetch_all(&db.pool)
    .await
}

/// Stores a fire's run and claims the fire, in one transaction; `None`
/// (nothing stored) when the fire was already started or cancelled.
pub async fn start_fire(
    db: &Db,
    id: &str,
    at: &str,
    new: NewRun<'_>,
) -> sqlx::Result<Option<(RunId, RunEvent)>> {
    let mut tx = db.pool.begin().await?;
    let run = runs::create_in(&mut tx, new).await?;
    sqlx::query("UPDATE runs SET backfill_id = $2 WHERE id = $1")
        .bind(&run.0)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let claimed = sqlx::query(
        "UPDATE backfill_fires SET run_id = $3 WHERE backfill_id = $1 AND fire_at = $2 \
         AND run_id IS NULL AND cancelled = 0",
    )
    .bind(id)
    .bind(at)
    .bind(&run.0)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if claimed == 0 {
        tx.rollback().await?;
        return Ok(None);
    }
    tx.commit().await?;
    Ok(Some(run))
}

/// Marks a fire that cannot start (with why): it never will.
pub async fn drop_fire(db: &Db, id: &str, at: &str, why: &str) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE backfill_fires SET cancelled = 1, detail = $3 WHERE backfill_id = $1 AND fire_at = $2 AND run_id IS NULL",
    )
    .bind(id)
    .bind(at)
    .bind(why)
    .execute(&db.pool)
    .await
    .map(|_| ())
}

/// Marks a backfill done once nothing is left to start and no run is active.
pub async fn finish_if_done(db: &Db, id: &str) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE backfills SET state = 'done', finished_at = $2 WHERE id = $1 AND state = 'running' \
         AND NOT EXISTS (SELECT 1 FROM backfill_fires f WHERE f.backfill_id = $1 AND f.run_id IS NULL AND f.cancelled = 0) \
         AND NOT EXISTS (SELECT 1 FROM runs r WHERE r.backfill_id = $1 AND r.state IN ('queued', 'running', 'cancelling'))",
    )
    .bind(id)
    .bind(now())
    .execute(&db.pool)
    .await?
    .rows_affected();
    Ok(done == 1)
}
