//! Schedules and their fires. A fire's key (schedule, fire time) is written
//! in the same transaction as the run it starts, so a fire never starts two
//! runs — whatever restarts, crashes or other servers happen around it.

use super::runs::{self, NewRun};
use super::{flag, json, new_id, now, optional_text, text, Db};
use app::api::runs::RunEvent;
use app::api::schedules::{Catchup, FireOutcome, ScheduleFire, WhenBusy};
use app::types::{ProcessId, RunId, ScheduleId, TenantId, UserId};
use sqlx::any::AnyRow;
use sqlx::Row;

/// A schedule as stored.
#[derive(Clone, Debug)]
pub struct Stored {
    pub id: ScheduleId,
    pub tenant: TenantId,
    pub process: ProcessId,
    pub process_name: String,
    pub cron: String,
    pub timezone: String,
    pub enabled: bool,
    pub version: Option<i64>,
    pub params: serde_json::Map<String, serde_json::Value>,
    pub max_active_runs: i64,
    pub when_busy: WhenBusy,
    pub catchup: Catchup,
    /// Fires after this time (UTC) are still to be handled.
    pub cursor_at: String,
    pub updated_at: String,
    pub updated_by: Option<String>,
}

/// What a `PUT` stores.
pub struct Fields<'a> {
    pub cron: &'a str,
    pub timezone: &'a str,
    pub enabled: bool,
    pub version: Option<i64>,
    pub params: &'a serde_json::Map<String, serde_json::Value>,
    pub max_active_runs: i64,
    pub when_busy: WhenBusy,
    pub catchup: Catchup,
}

const COLUMNS: &str =
    "s.id, s.tenant_id, s.process_id, p.name AS process_name, s.cron, s.timezone, s.enabled, \
     s.version_number, s.params, s.max_active_runs, s.when_busy, s.catchup, s.cursor_at, \
     s.updated_at, u.username AS updated_by";
const FROM: &str =
    "FROM schedules s JOIN processes p ON p.id = s.process_id LEFT JOIN users u ON u.id = s.created_by";

fn from_row(row: &AnyRow) -> sqlx::Result<Stored> {
    Ok(Stored {
        id: row.try_get("id")?,
        tenant: TenantId::new(row.try_get::<String, _>("tenant_id")?),
        process: row.try_get("process_id")?,
        process_name: row.try_get("process_name")?,
        cron: row.try_get("cron")?,
        timezone: row.try_get("timezone")?,
        enabled: flag(row, "enabled")?,
        version: row.try_get("version_number")?,
        params: json(row, "params")?,
        max_active_runs: row.try_get("max_active_runs")?,
        when_busy: text(row, "when_busy")?,
        catchup: text(row, "catchup")?,
        cursor_at: row.try_get("cursor_at")?,
        updated_at: row.try_get("updated_at")?,
        updated_by: row.try_get("updated_by")?,
    })
}

/// The process's schedule.
pub async fn get(db: &Db, tenant: &TenantId, process: &ProcessId) -> sqlx::Result<Option<Stored>> {
    sqlx::query(&format!(
        "SELECT {COLUMNS} {FROM} WHERE s.tenant_id = $1 AND s.process_id = $2"
    ))
    .bind(tenant.as_str())
    .bind(process)
    .fetch_optional(&db.pool)
    .await?
    .as_ref()
    .map(from_row)
    .transpose()
}

/// Every schedule of the tenant, by process name.
pub async fn list(db: &Db, tenant: &TenantId) -> sqlx::Result<Vec<Stored>> {
    sqlx::query(&format!(
        "SELECT {COLUMNS} {FROM} WHERE s.tenant_id = $1 ORDER BY p.name, s.id"
    ))
    .bind(tenant.as_str())
    .fetch_all(&db.pool)
    .await?
    .iter()
    .map(from_row)
    .collect()
}

/// Every enabled schedule of every tenant whose process is not archived.
pub async fn enabled(db: &Db) -> sqlx::Result<Vec<Stored>> {
    sqlx::query(&format!(
        "SELECT {COLUMNS} {FROM} WHERE s.enabled = 1 AND p.archived_at IS NULL ORDER BY s.id"
    ))
    .fetch_all(&db.pool)
    .await?
    .iter()
    .map(from_row)
    .collect()
}

/// Creates or replaces the process's schedule at time `at` (the
/// scheduler's clock); answers whether it was new.
/// The cursor moves to now when the schedule is new, resumed, or fires at
/// other times than before — so no fire of an old rule is caught up.
pub async fn put(
    db: &Db,
    tenant: &TenantId,
    process: &ProcessId,
    f: Fields<'_>,
    by: &UserId,
    at: &str,
) -> sqlx::Result<bool> {
    let params = serde_json::Value::Object(f.params.clone()).to_string();
    let mut tx = db.pool.begin().await?;
    // Write first: SQLite then holds its write lock for the whole
    // transaction (a read first could not upgrade under concurrent writers).
    sqlx::query(
        "UPDATE schedules SET updated_at = updated_at WHERE tenant_id = $1 AND process_id = $2",
    )
    .bind(tenant.as_str())
    .bind(process)
    .execute(&mut *tx)
    .await?;
    let current = sqlx::query(
        "SELECT cron, timezone, enabled FROM schedules WHERE tenant_id = $1 AND process_id = $2",
    )
    .bind(tenant.as_str())
    .bind(process)
    .fetch_optional(&mut *tx)
    .await?
    .map(|row| -> sqlx::Result<(String, String, bool)> {
        Ok((
            row.try_get("cron")?,
            row.try_get("timezone")?,
            flag(&row, "enabled")?,
        ))
    })
    .transpose()?;
    let created = current.is_none();
    match current {
        None => {
            sqlx::query(
                "INSERT INTO schedules (id, tenant_id, process_id, cron, timezone, enabled, version_number, params, \
                 max_active_runs, when_busy, catchup, cursor_at, created_by, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $12, $12)",
            )
            .bind(new_id())
            .bind(tenant.as_str())
            .bind(process)
            .bind(f.cron)
            .bind(f.timezone)
            .bind(i64::from(f.enabled))
            .bind(f.version)
            .bind(&params)
            .bind(f.max_active_runs)
            .bind(f.when_busy.as_str())
            .bind(f.catchup.as_str())
            .bind(at)
            .bind(by.as_str())
            .execute(&mut *tx)
            .await?;
        }
        Some((cron, timezone, enabled)) => {
            let restart = cron != f.cron || timezone != f.timezone || (!enabled && f.enabled);
            sqlx::query(
                "UPDATE schedules SET cron = $3, timezone = $4, enabled = $5, version_number = $6, params = $7, \
                 max_active_runs = $8, when_busy = $9, catchup = $10, updated_at = $11, created_by = $12, \
                 cursor_at = CASE WHEN $13 = 1 THEN $11 ELSE cursor_at END \
                 WHERE tenant_id = $1 AND process_id = $2",
            )
            .bind(tenant.as_str())
            .bind(process)
            .bind(f.cron)
            .bind(f.timezone)
            .bind(i64::from(f.enabled))
            .bind(f.version)
            .bind(&params)
            .bind(f.max_active_runs)
            .bind(f.when_busy.as_str())
            .bind(f.catchup.as_str())
            .bind(at)
            .bind(by.as_str())
            .bind(i64::from(restart))
            .execute(&mut *tx)
            .await?;
            if !f.enabled {
                // Paused: fires that were waiting for a free slot are dropped.
                skip_waiting(&mut tx, tenant, process, "the schedule was paused").await?;
            }
        }
    }
    tx.commit().await?;
    Ok(created)
}

async fn skip_waiting(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    tenant: &TenantId,
    process: &ProcessId,
    why: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE schedule_fires SET outcome = 'skipped', detail = $3 WHERE tenant_id = $1 AND outcome = 'waiting' \
         AND schedule_id IN (SELECT id FROM schedules WHERE tenant_id = $1 AND process_id = $2)",
    )
    .bind(tenant.as_str())
    .bind(process)
    .bind(why)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Deletes the process's schedule (and its fire records); answers whether
/// there was one.
pub async fn delete(db: &Db, tenant: &TenantId, process: &ProcessId) -> sqlx::Result<bool> {
    let mut tx = db.pool.begin().await?;
    sqlx::query(
        "DELETE FROM schedule_fires WHERE schedule_id IN \
         (SELECT id FROM schedules WHERE tenant_id = $1 AND process_id = $2)",
    )
    .bind(tenant.as_str())
    .bind(process)
    .execute(&mut *tx)
    .await?;
    let gone = sqlx::query("DELETE FROM schedules WHERE tenant_id = $1 AND process_id = $2")
        .bind(tenant.as_str())
        .bind(process)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    tx.commit().await?;
    Ok(gone > 0)
}

/// [`ScheduleFire`] columns of `schedule_fires f LEFT JOIN runs r`.
const FIRE_COLUMNS: &str = "f.fire_at, f.outcome, f.run_id, r.state AS run_state, f.detail";

fn fire(row: &AnyRow) -> sqlx::Result<ScheduleFire> {
    Ok(ScheduleFire {
        at: row.try_get("fire_at")?,
        outcome: text(row, "outcome")?,
        run: row.try_get("run_id")?,
        run_state: optional_text(row, "run_state")?,
        detail: row.try_get("detail")?,
    })
}

/// The schedule's newest fires.
pub async fn recent_fires(
    db: &Db,
    tenant: &TenantId,
    schedule: &ScheduleId,
    limit: i64,
) -> sqlx::Result<Vec<ScheduleFire>> {
    sqlx::query(&format!(
        "SELECT {FIRE_COLUMNS} FROM schedule_fires f \
         LEFT JOIN runs r ON r.id = f.run_id WHERE f.tenant_id = $1 AND f.schedule_id = $2 \
         ORDER BY f.fire_at DESC LIMIT $3"
    ))
    .bind(tenant.as_str())
    .bind(schedule)
    .bind(limit)
    .fetch_all(&db.pool)
    .await?
    .iter()
    .map(fire)
    .collect()
}

/// The fires waiting for a free slot, per schedule id, oldest first.
pub async fn waiting(db: &Db) -> sqlx::Result<Vec<(ScheduleId, String)>> {
    sqlx::query(
        "SELECT schedule_id, fire_at FROM schedule_fires WHERE outcome = 'waiting' ORDER BY fire_at",
    )
    .fetch_all(&db.pool)
    .await?
    .iter()
    .map(|row| Ok((row.try_get("schedule_id")?, row.try_get("fire_at")?)))
    .collect()
}

/// `(process_id, n)` rows as a map.
fn per_process(rows: Vec<AnyRow>) -> sqlx::Result<std::collections::HashMap<ProcessId, i64>> {
    rows.iter()
        .map(|row| Ok((row.try_get("process_id")?, row.try_get("n")?)))
        .collect()
}

/// What a fire does.
pub enum Decision<'a> {
    Start(NewRun<'a>),
    Wait(String),
    Skip(String),
}

/// Records fires with what each did, and moves each schedule's cursor
/// past them, in one transaction; a run a fire starts is stored in it too.
/// For each fire: `None` when it was already recorded (by an earlier pass,
/// or another server), else the run it started, if any. Fires are taken in
/// the order given; callers keep one order (schedule id, fire time) so two
/// servers never wait on each other in a cycle.
pub async fn record_fires(
    db: &Db,
    fires: Vec<(&Stored, &str, Decision<'_>)>,
) -> sqlx::Result<Vec<Option<Option<(RunId, RunEvent)>>>> {
    let mut out = Vec::with_capacity(fires.len());
    let mut tx = db.pool.begin().await?;
    let recorded_at = now();
    for (schedule, at, decision) in fires {
        let (outcome, detail, new) = match decision {
            Decision::Start(new) => (FireOutcome::Started, None, Some(new)),
            Decision::Wait(why) => (FireOutcome::Waiting, Some(why), None),
            Decision::Skip(why) => (FireOutcome::Skipped, Some(why), None),
        };
        let recorded = sqlx::query(
            "INSERT INTO schedule_fires (schedule_id, fire_at, tenant_id, outcome, detail, recorded_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (schedule_id, fire_at) DO NOTHING",
        )
        .bind(&schedule.id)
        .bind(at)
        .bind(schedule.tenant.as_str())
        .bind(outcome.as_str())
        .bind(detail)
        .bind(&recorded_at)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if recorded == 0 {
            out.push(None);
            continue;
        }
        let run = match new {
            Some(new) => {
                let run = runs::create_in(&mut tx, new).await?;
                sqlx::query(
                    "UPDATE schedule_fires SET run_id = $3 WHERE schedule_id = $1 AND fire_at = $2",
                )
                .bind(&schedule.id)
                .bind(at)
                .bind(&run.0)
                .execute(&mut *tx)
                .await?;
                Some(run)
            }
            None => None,
        };
        advance_in(&mut tx, &schedule.id, at).await?;
        out.push(Some(run));
    }
    tx.commit().await?;
    Ok(out)
}

/// The latest version number of every process that has one.
pub async fn latest_numbers(db: &Db) -> sqlx::Result<std::collections::HashMap<ProcessId, i64>> {
    let rows = sqlx::query("SELECT process_id, MAX(number) AS n FROM versions GROUP BY process_id")
        .fetch_all(&db.pool)
        .await?;
    per_process(rows)
}

/// Active (queued, running, cancelling) runs per process, of every tenant.
pub async fn active_counts(db: &Db) -> sqlx::Result<std::collections::HashMap<ProcessId, i64>> {
    let rows = sqlx::query(
        "SELECT process_id, COUNT(*) AS n FROM runs WHERE state IN ('queued', 'running', 'cancelling') GROUP BY process_id",
    )
    .fetch_all(&db.pool)
    .await?;
    per_process(rows)
}

/// Starts the run of a waiting fire; `None` when it no longer waits.
pub async fn start_waiting(
    db: &Db,
    schedule: &ScheduleId,
    at: &str,
    new: NewRun<'_>,
) -> sqlx::Result<Option<(RunId, RunEvent)>> {
    let mut tx = db.pool.begin().await?;
    let run = runs::create_in(&mut tx, new).await?;
    let moved = sqlx::query(
        "UPDATE schedule_fires SET outcome = 'started', run_id = $3, detail = NULL \
         WHERE schedule_id = $1 AND fire_at = $2 AND outcome = 'waiting'",
    )
    .bind(schedule)
    .bind(at)
    .bind(&run.0)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if moved == 0 {
        tx.rollback().await?;
        return Ok(None);
    }
    tx.commit().await?;
    Ok(Some(run))
}

/// Drops a waiting fire that can no longer start (nothing to run).
pub async fn skip_waiting_fire(
    db: &Db,
    schedule: &ScheduleId,
    at: &str,
    why: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE schedule_fires SET outcome = 'skipped', detail = $3 \
         WHERE schedule_id = $1 AND fire_at = $2 AND outcome = 'waiting'",
    )
    .bind(schedule)
    .bind(at)
    .bind(why)
    .execute(&db.pool)
    .await?;
    Ok(())
}

async fn advance_in(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    schedule: &ScheduleId,
    at: &str,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE schedules SET cursor_at = $2 WHERE id = $1 AND cursor_at < $2")
        .bind(schedule)
        .bind(at)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
