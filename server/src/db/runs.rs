//! Runs, task runs and their events. Every state change is written in one
//! transaction together with its event, numbered from the run's `last_seq`;
//! callers broadcast the returned event only after this returns (after commit).

use super::{new_id, now, Db};
use app::api::runs::{Run, RunEvent, TaskRun};
use app::types::dag::Dag;
use app::types::{RunState, TaskState, TenantId, Trigger, UserId};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

/// What starting a run stores.
pub struct NewRun<'a> {
    pub tenant: &'a TenantId,
    pub process: &'a str,
    pub version_id: &'a str,
    pub version_number: i64,
    pub trigger: Trigger,
    pub params: &'a serde_json::Value,
    pub by: Option<&'a UserId>,
    pub dag: &'a Dag,
    /// The fire time, for a run a schedule started.
    pub scheduled_for: Option<&'a str>,
    /// The server that drives the run.
    pub owner: &'a str,
}

/// Fields a task transition may set besides its state.
#[derive(Default)]
pub struct TaskChange<'a> {
    pub attempt: Option<i64>,
    pub external_ref: Option<&'a str>,
    pub error: Option<&'a str>,
}

fn placeholders(from: usize, count: usize) -> String {
    (from..from + count)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Appends the next event of `run` inside `tx`.
async fn append_event(
    tx: &mut Transaction<'static, Any>,
    tenant: &TenantId,
    run: &str,
    task: Option<&str>,
    state: &str,
    at: &str,
) -> sqlx::Result<RunEvent> {
    let seq: i64 =
        sqlx::query_scalar("UPDATE runs SET last_seq = last_seq + 1 WHERE tenant_id = $1 AND id = $2 RETURNING last_seq")
            .bind(tenant.as_str())
            .bind(run)
            .fetch_one(&mut **tx)
            .await?;
    sqlx::query("INSERT INTO events (run_id, seq, tenant_id, task_key, state, at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(run)
        .bind(seq)
        .bind(tenant.as_str())
        .bind(task)
        .bind(state)
        .bind(at)
        .execute(&mut **tx)
        .await?;
    Ok(RunEvent {
        seq,
        run: run.to_owned(),
        task: task.map(str::to_owned),
        state: state.to_owned(),
        at: at.to_owned(),
    })
}

/// Stores a queued run with every task pending, and its first event.
pub async fn create(db: &Db, r: NewRun<'_>) -> sqlx::Result<(String, RunEvent)> {
    let mut tx = db.pool.begin().await?;
    let created = create_in(&mut tx, r).await?;
    tx.commit().await?;
    Ok(created)
}

/// [`create`] inside the caller's transaction.
pub async fn create_in(
    tx: &mut Transaction<'static, Any>,
    r: NewRun<'_>,
) -> sqlx::Result<(String, RunEvent)> {
    let id = new_id();
    let at = now();
    sqlx::query(
        "INSERT INTO runs (id, tenant_id, process_id, version_id, version_number, state, trigger_type, params, \
         created_by, created_at, scheduled_for, owner) VALUES ($1, $2, $3, $4, $5, 'queued', $6, $7, $8, $9, $10, $11)",
    )
    .bind(&id)
    .bind(r.tenant.as_str())
    .bind(r.process)
    .bind(r.version_id)
    .bind(r.version_number)
    .bind(r.trigger.as_str())
    .bind(r.params.to_string())
    .bind(r.by.map(|u| u.as_str().to_owned()))
    .bind(&at)
    .bind(r.scheduled_for)
    .bind(r.owner)
    .execute(&mut **tx)
    .await?;
    for (position, task) in r.dag.tasks.iter().enumerate() {
        sqlx::query(
            "INSERT INTO task_runs (run_id, task_key, tenant_id, kind, node, state, position) \
             VALUES ($1, $2, $3, $4, $5, 'pending', $6)",
        )
        .bind(&id)
        .bind(&task.key)
        .bind(r.tenant.as_str())
        .bind(task.kind.as_str())
        .bind(task.node.as_deref())
        .bind(position as i64)
        .execute(&mut **tx)
        .await?;
    }
    let event = append_event(tx, r.tenant, &id, None, RunState::Queued.as_str(), &at).await?;
    Ok((id, event))
}

/// Moves the run to `to` if it is in one of `from`; `None` when it was not.
pub async fn set_run_state(
    db: &Db,
    tenant: &TenantId,
    run: &str,
    from: &[RunState],
    to: RunState,
) -> sqlx::Result<Option<RunEvent>> {
    let at = now();
    let stamp = match to {
        RunState::Running => ", started_at = COALESCE(started_at, $3)",
        s if s.is_terminal() => ", finished_at = $3",
        _ => "",
    };
    let sql = format!(
        "UPDATE runs SET state = $4{stamp} WHERE tenant_id = $1 AND id = $2 AND state IN ({})",
        placeholders(5, from.len())
    );
    let mut tx = db.pool.begin().await?;
    let mut query = sqlx::query(&sql)
        .bind(tenant.as_str())
        .bind(run)
        .bind(&at)
        .bind(to.as_str());
    for state in from {
        query = query.bind(state.as_str());
    }
    if query.execute(&mut *tx).await?.rows_affected() == 0 {
        return Ok(None);
    }
    let event = append_event(&mut tx, tenant, run, None, to.as_str(), &at).await?;
    tx.commit().await?;
    Ok(Some(event))
}

/// Moves a task to `to` if it is in one of `from`; `None` when it was not.
pub async fn set_task_state(
    db: &Db,
    tenant: &TenantId,
    run: &str,
    task: &str,
    from: &[TaskState],
    to: TaskState,
    change: TaskChange<'_>,
) -> sqlx::Result<Option<RunEvent>> {
    let at = now();
    let stamp = match to {
        TaskState::Running => ", started_at = $4, finished_at = NULL",
        s if s.is_terminal() => ", finished_at = $4",
        _ => "",
    };
    let sql = format!(
        "UPDATE task_runs SET state = $5, attempt = COALESCE($6, attempt), external_ref = COALESCE($7, external_ref), \
         error = COALESCE($8, error){stamp} WHERE tenant_id = $1 AND run_id = $2 AND task_key = $3 AND state IN ({})",
        placeholders(9, from.len())
    );
    let mut tx = db.pool.begin().await?;
    let mut query = sqlx::query(&sql)
        .bind(tenant.as_str())
        .bind(run)
        .bind(task)
        .bind(&at)
        .bind(to.as_str())
        .bind(change.attempt)
        .bind(change.external_ref)
        .bind(change.error);
    for state in from {
        query = query.bind(state.as_str());
    }
    if query.execute(&mut *tx).await?.rows_affected() == 0 {
        return Ok(None);
    }
    let event = append_event(&mut tx, tenant, run, Some(task), to.as_str(), &at).await?;
    tx.commit().await?;
    Ok(Some(event))
}

/// Records a task's external reference when it has none yet (a reference
/// that arrives after the state it belongs to; no event).
pub async fn note_external_ref(
    db: &Db,
    tenant: &TenantId,
    run: &str,
    task: &str,
    external_ref: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE task_runs SET external_ref = $4 \
         WHERE tenant_id = $1 AND run_id = $2 AND task_key = $3 AND external_ref IS NULL",
    )
    .bind(tenant.as_str())
    .bind(run)
    .bind(task)
    .bind(external_ref)
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// The run's events after `after`, in order.
pub async fn events_after(
    db: &Db,
    tenant: &TenantId,
    run: &str,
    after: i64,
) -> sqlx::Result<Vec<RunEvent>> {
    let rows = sqlx::query(
        "SELECT seq, task_key, state, at FROM events WHERE tenant_id = $1 AND run_id = $2 AND seq > $3 ORDER BY seq",
    )
    .bind(tenant.as_str())
    .bind(run)
    .bind(after)
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(RunEvent {
                seq: r.try_get(0)?,
                run: run.to_owned(),
                task: r.try_get(1)?,
                state: r.try_get(2)?,
                at: r.try_get(3)?,
            })
        })
        .collect()
}

fn duration_ms(start: Option<&str>, end: Option<&str>) -> Option<i64> {
    let parse = |t: &str| chrono::DateTime::parse_from_rfc3339(t).ok();
    Some((parse(end?)? - parse(start?)?).num_milliseconds())
}

fn parse<T: std::str::FromStr>(row: &AnyRow, i: usize) -> sqlx::Result<T>
where
    T::Err: std::error::Error + Send + Sync + 'static,
{
    row.try_get::<String, _>(i)?
        .parse()
        .map_err(|e: T::Err| sqlx::Error::Decode(Box::new(e)))
}

/// A run with its task runs, in DAG order.
/// The tenant a run belongs to (for callers that hold only the run's id
/// and prove their right to it otherwise).
pub async fn tenant_of(db: &Db, run: &str) -> sqlx::Result<Option<TenantId>> {
    let tenant: Option<String> = sqlx::query_scalar("SELECT tenant_id FROM runs WHERE id = $1")
        .bind(run)
        .fetch_optional(&db.pool)
        .await?;
    Ok(tenant.map(TenantId::new))
}

pub async fn get(db: &Db, tenant: &TenantId, run: &str) -> sqlx::Result<Option<Run>> {
    let row = sqlx::query(
        "SELECT r.id, r.process_id, r.version_number, r.state, r.trigger_type, r.params, u.username, r.created_at, \
         r.started_at, r.finished_at, r.scheduled_for FROM runs r LEFT JOIN users u ON u.id = r.created_by \
         WHERE r.tenant_id = $1 AND r.id = $2",
    )
    .bind(tenant.as_str())
    .bind(run)
    .fetch_optional(&db.pool)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let tasks = sqlx::query(
        "SELECT task_key, kind, node, state, attempt, external_ref, error, started_at, finished_at FROM task_runs \
         WHERE tenant_id = $1 AND run_id = $2 ORDER BY position",
    )
    .bind(tenant.as_str())
    .bind(run)
    .fetch_all(&db.pool)
    .await?;
    let tasks = tasks
        .iter()
        .map(|t| {
            Ok(TaskRun {
                key: t.try_get(0)?,
                kind: parse(t, 1)?,
                node: t.try_get(2)?,
                state: parse(t, 3)?,
                attempt: t.try_get(4)?,
                external_ref: t.try_get(5)?,
                error: t.try_get(6)?,
                started_at: t.try_get(7)?,
                finished_at: t.try_get(8)?,
                duration_ms: None,
            })
            .map(|mut task: TaskRun| {
                task.duration_ms =
                    duration_ms(task.started_at.as_deref(), task.finished_at.as_deref());
                task
            })
        })
        .collect::<sqlx::Result<Vec<_>>>()?;
    let params: String = row.try_get(5)?;
    Ok(Some(Run {
        id: row.try_get(0)?,
        process: row.try_get(1)?,
        version: row.try_get(2)?,
        state: parse(&row, 3)?,
        trigger: parse(&row, 4)?,
        params: serde_json::from_str(&params).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
        created_by: row.try_get(6)?,
        created_at: row.try_get(7)?,
        started_at: row.try_get(8)?,
        finished_at: row.try_get(9)?,
        scheduled_for: row.try_get(10)?,
        tasks,
    }))
}

/// Filters and page of a run list.
pub struct RunFilter<'a> {
    pub process: &'a str,
    pub version: Option<i64>,
    pub state: Option<RunState>,
    pub limit: i64,
    pub offset: i64,
}

/// A process's runs, newest first.
pub async fn list(
    db: &Db,
    tenant: &TenantId,
    f: RunFilter<'_>,
) -> sqlx::Result<Vec<app::api::runs::RunSummary>> {
    let mut sql = String::from(
        "SELECT r.id, r.process_id, r.version_number, r.state, r.trigger_type, u.username, r.created_at, r.started_at, \
         r.finished_at, r.scheduled_for FROM runs r LEFT JOIN users u ON u.id = r.created_by WHERE r.tenant_id = $1 AND r.process_id = $2",
    );
    let mut next = 3;
    if f.version.is_some() {
        sql.push_str(&format!(" AND r.version_number = ${next}"));
        next += 1;
    }
    if f.state.is_some() {
        sql.push_str(&format!(" AND r.state = ${next}"));
        next += 1;
    }
    sql.push_str(&format!(
        " ORDER BY r.created_at DESC, r.id DESC LIMIT ${} OFFSET ${}",
        next,
        next + 1
    ));
    let mut query = sqlx::query(&sql).bind(tenant.as_str()).bind(f.process);
    if let Some(v) = f.version {
        query = query.bind(v);
    }
    if let Some(s) = f.state {
        query = query.bind(s.as_str());
    }
    let rows = query
        .bind(f.limit)
        .bind(f.offset)
        .fetch_all(&db.pool)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(app::api::runs::RunSummary {
                id: r.try_get(0)?,
                process: r.try_get(1)?,
                version: r.try_get(2)?,
                state: parse(r, 3)?,
                trigger: parse(r, 4)?,
                created_by: r.try_get(5)?,
                created_at: r.try_get(6)?,
                started_at: r.try_get(7)?,
                finished_at: r.try_get(8)?,
                scheduled_for: r.try_get(9)?,
            })
        })
        .collect()
}

/// Takes over the unfinished runs no live server drives (their server
/// stopped heartbeating, or they predate ownership): (tenant, run, state).
pub async fn claim_orphans(db: &Db, me: &str) -> sqlx::Result<Vec<(TenantId, String, RunState)>> {
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "UPDATE runs SET owner = $1 WHERE state IN ('queued', 'running', 'cancelling') \
         AND (owner IS NULL OR owner NOT IN (SELECT id FROM servers)) RETURNING tenant_id, id, state",
    )
    .bind(me)
    .fetch_all(&db.pool)
    .await?;
    rows.into_iter()
        .map(|(tenant, id, state)| {
            let state = state
                .parse()
                .map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
            Ok((TenantId::new(tenant), id, state))
        })
        .collect()
}
