//! Reading runs: one with its tasks and events, the lists and their
//! filters and pages, runs per day, and the ended runs retention removes.

use super::super::sql::Sql;
use super::super::{json, optional_json, text, Db};
use app::api::runs::{EventState, Run, RunDay, RunEvent, RunOrigin, RunSummary, TaskRun};
use app::types::{ProcessId, RunId, RunState, TaskKey, TenantId, Trigger};
use sqlx::any::AnyRow;
use sqlx::Row;

const EVENT_COLUMNS: &str = "seq, task_key, state, at";

fn event_from_row(run: &RunId, row: &AnyRow) -> sqlx::Result<RunEvent> {
    let task: Option<TaskKey> = row.try_get("task_key")?;
    let state: String = row.try_get("state")?;
    Ok(RunEvent {
        seq: row.try_get("seq")?,
        run: run.clone(),
        state: EventState::parse(&state, task.is_some())
            .map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
        task,
        at: row.try_get("at")?,
    })
}

/// The run's events after `after`, in order.
pub async fn events_after(
    db: &Db,
    tenant: &TenantId,
    run: &RunId,
    after: i64,
) -> sqlx::Result<Vec<RunEvent>> {
    let rows = sqlx::query(&format!(
        "SELECT {EVENT_COLUMNS} FROM events WHERE tenant_id = $1 AND run_id = $2 AND seq > $3 ORDER BY seq"
    ))
    .bind(tenant.as_str())
    .bind(run)
    .bind(after)
    .fetch_all(&db.pool)
    .await?;
    rows.iter().map(|r| event_from_row(run, r)).collect()
}

fn duration_ms(start: Option<&str>, end: Option<&str>) -> Option<i64> {
    let parse = |t: &str| chrono::DateTime::parse_from_rfc3339(t).ok();
    Some((parse(end?)? - parse(start?)?).num_milliseconds())
}

const TASK_COLUMNS: &str =
    "task_key, kind, node, state, attempt, external_ref, error, started_at, finished_at";

fn task_from_row(row: &AnyRow) -> sqlx::Result<TaskRun> {
    let started_at: Option<String> = row.try_get("started_at")?;
    let finished_at: Option<String> = row.try_get("finished_at")?;
    Ok(TaskRun {
        key: row.try_get("task_key")?,
        kind: text(row, "kind")?,
        node: row.try_get("node")?,
        state: text(row, "state")?,
        attempt: row.try_get("attempt")?,
        external_ref: row.try_get("external_ref")?,
        error: row.try_get("error")?,
        duration_ms: duration_ms(started_at.as_deref(), finished_at.as_deref()),
        started_at,
        finished_at,
    })
}

const RUN_COLUMNS: &str =
    "r.id, r.process_id, r.version_number, r.state, r.trigger_type, u.username, \
     r.created_at, r.started_at, r.finished_at, r.scheduled_for, r.backfill_id, \
     p.name AS process_name, r.retries, r.rerun_of, r.number";
const RUN_FROM: &str = "FROM runs r LEFT JOIN users u ON u.id = r.created_by \
                        JOIN processes p ON p.id = r.process_id";

fn summary_from_row(row: &AnyRow) -> sqlx::Result<RunSummary> {
    Ok(RunSummary {
        id: row.try_get("id")?,
        process: row.try_get("process_id")?,
        version: row.try_get("version_number")?,
        state: text(row, "state")?,
        trigger: text(row, "trigger_type")?,
        created_by: row.try_get("username")?,
        created_at: row.try_get("created_at")?,
        started_at: row.try_get("started_at")?,
        finished_at: row.try_get("finished_at")?,
        scheduled_for: row.try_get("scheduled_for")?,
        backfill: row.try_get("backfill_id")?,
        process_name: row.try_get("process_name")?,
        retries: row.try_get("retries")?,
        rerun_of: row.try_get("rerun_of")?,
        number: row.try_get::<Option<i64>, _>("number")?.unwrap_or(0),
    })
}

/// The tenant a run belongs to (for callers that hold only the run's id
/// and prove their right to it otherwise).
pub async fn tenant_of(db: &Db, run: &RunId) -> sqlx::Result<Option<TenantId>> {
    let tenant: Option<String> = sqlx::query_scalar("SELECT tenant_id FROM runs WHERE id = $1")
        .bind(run)
        .fetch_optional(&db.pool)
        .await?;
    Ok(tenant.map(TenantId::new))
}

/// A run with its task runs, in DAG order.
pub async fn get(db: &Db, tenant: &TenantId, run: &RunId) -> sqlx::Result<Option<Run>> {
    let row = sqlx::query(&format!(
        "SELECT {RUN_COLUMNS}, r.params, r.resolved, r.retried_at, \
         (SELECT username FROM users WHERE id = r.retried_by) AS retried_by \
         {RUN_FROM} WHERE r.tenant_id = $1 AND r.id = $2"
    ))
    .bind(tenant.as_str())
    .bind(run)
    .fetch_optional(&db.pool)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let tasks = sqlx::query(&format!(
        "SELECT {TASK_COLUMNS} FROM task_runs WHERE tenant_id = $1 AND run_id = $2 ORDER BY position"
    ))
    .bind(tenant.as_str())
    .bind(run)
    .fetch_all(&db.pool)
    .await?
    .iter()
    .map(task_from_row)
    .collect::<sqlx::Result<Vec<_>>>()?;
    let s = summary_from_row(&row)?;
    Ok(Some(Run {
        id: s.id,
        process: s.process,
        version: s.version,
        state: s.state,
        trigger: s.trigger,
        params: json(&row, "params")?,
        created_by: s.created_by,
        created_at: s.created_at,
        started_at: s.started_at,
        finished_at: s.finished_at,
        scheduled_for: s.scheduled_for,
        backfill: s.backfill,
        resolved: optional_json(&row, "resolved")?,
        retries: s.retries,
        retried_by: row.try_get("retried_by")?,
        retried_at: row.try_get("retried_at")?,
        rerun_of: s.rerun_of,
        process_name: s.process_name,
        number: s.number,
        tasks,
    }))
}

/// Filters and page of a run list.
pub struct RunFilter<'a> {
    pub process: &'a ProcessId,
    pub version: Option<i64>,
    pub state: Option<RunState>,
    pub limit: i64,
    pub offset: i64,
}

/// A process's runs, newest first.
pub async fn list(db: &Db, tenant: &TenantId, f: RunFilter<'_>) -> sqlx::Result<Vec<RunSummary>> {
    let mut sql = Sql::new(format!(
        "SELECT {RUN_COLUMNS} {RUN_FROM} WHERE r.tenant_id = "
    ));
    sql.bind(tenant.as_str())
        .push(" AND r.process_id = ")
        .bind(f.process);
    if let Some(v) = f.version {
        sql.push(" AND r.version_number = ").bind(v);
    }
    if let Some(s) = f.state {
        sql.push(" AND r.state = ").bind(s.as_str());
    }
    sql.push(" ORDER BY r.created_at DESC, r.id DESC LIMIT ")
        .bind(f.limit)
        .push(" OFFSET ")
        .bind(f.offset);
    sql.fetch_all(&db.pool)
        .await?
        .iter()
        .map(summary_from_row)
        .collect()
}

/// Filters of the tenant's runs list (and of its runs per day).
#[derive(Debug, Default)]
pub struct TenantRunFilter {
    pub process: Option<ProcessId>,
    pub version: Option<i64>,
    /// Any of these states (none: any state).
    pub states: Vec<RunState>,
    /// Any of these origins (none: any).
    pub origins: Vec<RunOrigin>,
    /// The username that started the run.
    pub started_by: Option<String>,
    /// Created at or after this time, and before `to` (stored form).
    pub from: Option<String>,
    pub to: Option<String>,
    /// Text the process's name holds, any case.
    pub text: Option<String>,
}

impl TenantRunFilter {
    /// `AND …` for each filter set, on `runs r` joined with `processes p`.
    fn push(&self, sql: &mut Sql<'_>) {
        if let Some(process) = &self.process {
            sql.push(" AND r.process_id = ").bind(process.to_owned());
        }
        if let Some(v) = self.version {
            sql.push(" AND r.version_number = ").bind(v);
        }
        if !self.states.is_empty() {
            sql.push(" AND r.state IN ")
                .bind_list(self.states.iter().map(|s| s.as_str()));
        }
        if !self.origins.is_empty() {
            sql.push(" AND (");
            for (i, origin) in self.origins.iter().enumerate() {
                if i > 0 {
                    sql.push(" OR ");
                }
                sql.push(match origin {
                    RunOrigin::Backfill => "r.backfill_id IS NOT NULL",
                    RunOrigin::Retry => "(r.backfill_id IS NULL AND (r.retries > 0 OR r.rerun_of IS NOT NULL))",
                    _ => "(r.backfill_id IS NULL AND r.retries = 0 AND r.rerun_of IS NULL AND r.trigger_type = ",
                });
                let trigger = match origin {
                    RunOrigin::Manual => Trigger::Manual,
                    RunOrigin::Api => Trigger::Api,
                    RunOrigin::Schedule => Trigger::Schedule,
                    RunOrigin::Backfill | RunOrigin::Retry => continue,
                };
                sql.bind(trigger.as_str()).push(")");
            }
            sql.push(")");
        }
        if let Some(name) = &self.started_by {
            sql.push(" AND u.username = ").bind(name.to_owned());
        }
        if let Some(from) = &self.from {
            sql.push(" AND r.created_at >= ").bind(from.to_owned());
        }
        if let Some(to) = &self.to {
            sql.push(" AND r.created_at < ").bind(to.to_owned());
        }
        if let Some(text) = &self.text {
            let escaped = text
                .to_lowercase()
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            sql.push(" AND LOWER(p.name) LIKE ")
                .bind(format!("%{escaped}%"))
                .push(" ESCAPE '\\'");
        }
    }
}

/// Where a page of the tenant's runs starts: after the run created at
/// `created_at` with id `id` (newest first), as `next` gave it.
pub struct Cursor {
    pub created_at: String,
    pub id: String,
}

impl Cursor {
    /// `created_at~id`, the `next` of a page.
    pub fn of(run: &RunSummary) -> String {
        format!("{}~{}", run.created_at, run.id)
    }

    /// Reads a `next`; `None` when the text is not one.
    pub fn parse(text: &str) -> Option<Cursor> {
        let (created_at, id) = text.split_once('~')?;
        (!id.contains('~')).then(|| Cursor {
            created_at: created_at.to_owned(),
            id: id.to_owned(),
        })
    }
}

/// A page of the tenant's runs, newest first (by creation, then id: a
/// page never moves when runs are added), with the `next` page's cursor.
pub async fn list_tenant(
    db: &Db,
    tenant: &TenantId,
    filter: &TenantRunFilter,
    before: Option<&Cursor>,
    limit: i64,
) -> sqlx::Result<(Vec<RunSummary>, Option<String>)> {
    let mut sql = Sql::new(format!(
        "SELECT {RUN_COLUMNS} {RUN_FROM} WHERE r.tenant_id = "
    ));
    sql.bind(tenant.as_str().to_owned());
    filter.push(&mut sql);
    if let Some(c) = before {
        sql.push(" AND (r.created_at < ")
            .bind(c.created_at.clone())
            .push(" OR (r.created_at = ")
            .bind(c.created_at.clone())
            .push(" AND r.id < ")
            .bind(c.id.clone())
            .push("))");
    }
    // One more than the page: whether there is a next one.
    sql.push(" ORDER BY r.created_at DESC, r.id DESC LIMIT ")
        .bind(limit + 1);
    let mut runs = sql
        .fetch_all(&db.pool)
        .await?
        .iter()
        .map(summary_from_row)
        .collect::<sqlx::Result<Vec<_>>>()?;
    let next = if runs.len() as i64 > limit {
        runs.truncate(limit as usize);
        runs.last().map(Cursor::of)
    } else {
        None
    };
    Ok((runs, next))
}

/// The tenant's runs (under `filter`) per day of creation (UTC), by how
/// they ended, oldest day first; days without runs are left out.
pub async fn per_day(
    db: &Db,
    tenant: &TenantId,
    filter: &TenantRunFilter,
) -> sqlx::Result<Vec<RunDay>> {
    let mut sql = Sql::new(format!(
        "SELECT substr(r.created_at, 1, 10) AS day, r.state, COUNT(*) AS runs {RUN_FROM} WHERE r.tenant_id = "
    ));
    sql.bind(tenant.as_str().to_owned());
    filter.push(&mut sql);
    sql.push(" GROUP BY substr(r.created_at, 1, 10), r.state ORDER BY day");
    let mut days: Vec<RunDay> = Vec::new();
    for row in sql.fetch_all(&db.pool).await? {
        let day: String = row.try_get("day")?;
        let state: RunState = text(&row, "state")?;
        let runs: i64 = row.try_get("runs")?;
        if days.last().is_none_or(|d| d.day != day) {
            days.push(RunDay {
                day,
                ..Default::default()
            });
        }
        let counts = days.last_mut().expect("pushed above");
        match state {
            RunState::Succeeded => counts.succeeded += runs,
            RunState::Failed => counts.failed += runs,
            RunState::Cancelled => counts.cancelled += runs,
            _ => counts.active += runs,
        }
    }
    Ok(days)
}

/// Up to `limit` of the tenant's runs that ended before `cutoff` (stored
/// form) and may go: never an active run, never the latest run of its
/// process.
pub async fn expired(
    db: &Db,
    tenant: &TenantId,
    cutoff: &str,
    limit: i64,
) -> sqlx::Result<Vec<RunId>> {
    sqlx::query_scalar(
        "SELECT r.id FROM runs r WHERE r.tenant_id = $1 \
         AND r.state IN ('succeeded', 'failed', 'cancelled') AND r.finished_at < $2 \
         AND EXISTS (SELECT 1 FROM runs n WHERE n.tenant_id = r.tenant_id \
                     AND n.process_id = r.process_id AND n.created_at > r.created_at) \
         ORDER BY r.finished_at LIMIT $3",
    )
    .bind(tenant.as_str())
    .bind(cutoff)
    .bind(limit)
    .fetch_all(&db.pool)
    .await
}

/// Deletes the tenant's ended runs `ids` with their task runs and events
/// (a run that became active again meanwhile, retried, is kept); the runs
/// deleted.
pub async fn delete_ended(db: &Db, tenant: &TenantId, ids: &[RunId]) -> sqlx::Result<Vec<RunId>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut sql = Sql::new("DELETE FROM runs WHERE tenant_id = ");
    sql.bind(tenant.as_str().to_owned())
        .push(" AND state IN ('succeeded', 'failed', 'cancelled') AND id IN ")
        .bind_list(ids.iter().map(|id| id.as_str().to_owned()))
        .push(" RETURNING id");
    sql.fetch_all(&db.pool)
        .await?
        .iter()
        .map(|row| row.try_get("id"))
        .collect()
}
