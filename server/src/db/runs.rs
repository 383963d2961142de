//! Runs, task runs and their events. Every state change is written in one
//! transaction together with its event, numbered from the run's `last_seq`;
//! callers broadcast the returned event only after this returns (after commit).

use super::sql::Sql;
use super::{json, now, optional_json, text, Db};
use app::api::runs::{EventState, Run, RunDay, RunEvent, RunOrigin, RunSummary, StopMode, TaskRun};
use app::types::dag::Dag;
use app::types::params::Resolved;
use app::types::{
    ProcessId, RunId, RunState, TaskKey, TaskState, TenantId, Trigger, UserId, VersionId,
};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

/// What starting a run stores.
pub struct NewRun<'a> {
    /// Chosen by the caller, since `{{ run.id }}` resolves before the insert.
    pub id: RunId,
    pub tenant: &'a TenantId,
    pub process: &'a ProcessId,
    pub version_id: &'a VersionId,
    pub version_number: i64,
    pub trigger: Trigger,
    pub params: &'a serde_json::Value,
    pub by: Option<&'a UserId>,
    pub dag: &'a Dag,
    /// The fire time, for a run a schedule started.
    pub scheduled_for: Option<&'a str>,
    /// The server that drives the run.
    pub owner: &'a str,
    /// What the run resolved (parameters and node values).
    pub resolved: &'a Resolved,
    /// The run this one runs again.
    pub rerun_of: Option<&'a RunId>,
}

/// Fields a task transition may set besides its state.
#[derive(Default, Clone, Copy)]
pub struct TaskChange<'a> {
    pub attempt: Option<i64>,
    pub external_ref: Option<&'a str>,
    pub error: Option<&'a str>,
}

/// The ownership epoch of a run as a driver holds it: every takeover (a
/// server claiming a stopped server's runs, a retry) bumps the run's epoch,
/// and a write made under an older one is refused with [`Fenced`].
pub type Epoch = i64;

/// A driver's write refused because the run was taken over since it began
/// driving it (its epoch is no longer the run's).
#[derive(Debug)]
pub struct Fenced {
    pub run: RunId,
    pub held: Epoch,
}

impl std::fmt::Display for Fenced {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "run {} was taken over by another server (this one held epoch {})",
            self.run, self.held
        )
    }
}

impl std::error::Error for Fenced {}

fn fenced(run: &RunId, held: Epoch) -> sqlx::Error {
    sqlx::Error::Decode(Box::new(Fenced {
        run: run.clone(),
        held,
    }))
}

/// Whether `e` is a write refused by [`Fenced`].
pub fn is_fenced(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Decode(inner) if inner.is::<Fenced>())
}

/// Whether `e` (an error from anywhere in a driver) is a refusal by [`Fenced`].
pub fn fenced_in(e: &anyhow::Error) -> bool {
    e.chain()
        .any(|c| c.downcast_ref::<sqlx::Error>().is_some_and(is_fenced) || c.is::<Fenced>())
}

/// Runs `update` (a conditional state change of `run` or of its `task`)
/// and, when it moved, appends its event as `state`, under `fence`. When it
/// moved nothing: refused by [`Fenced`] if the run's epoch is no longer
/// `fence`, else `None` (the state machine refused it).
#[allow(clippy::too_many_arguments)]
async fn record(
    tx: &mut Transaction<'static, Any>,
    update: Sql<'_>,
    tenant: &TenantId,
    run: &RunId,
    task: Option<&TaskKey>,
    state: EventState,
    at: &str,
    fence: Option<Epoch>,
) -> sqlx::Result<Option<RunEvent>> {
    if !update.fetch_all(&mut **tx).await?.is_empty() {
        return append_event(tx, tenant, run, task, state, at, fence)
            .await
            .map(Some);
    }
    let Some(held) = fence else {
        return Ok(None);
    };
    let epoch: Option<i64> =
        sqlx::query_scalar("SELECT epoch FROM runs WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.as_str())
            .bind(run)
            .fetch_optional(&mut **tx)
            .await?;
    match epoch {
        Some(epoch) if epoch != held => Err(fenced(run, held)),
        _ => Ok(None),
    }
}

/// Appends the next event of `run` inside `tx`; with `fence`, only while the
/// run's epoch is still that one ([`Fenced`] otherwise, and the caller's
/// transaction is rolled back).
async fn append_event(
    tx: &mut Transaction<'static, Any>,
    tenant: &TenantId,
    run: &RunId,
    task: Option<&TaskKey>,
    state: EventState,
    at: &str,
    fence: Option<Epoch>,
) -> sqlx::Result<RunEvent> {
    let mut sql = Sql::new("UPDATE runs SET last_seq = last_seq + 1 WHERE tenant_id = ");
    sql.bind(tenant.as_str().to_owned())
        .push(" AND id = ")
        .bind(run.to_owned());
    if let Some(held) = fence {
        sql.push(" AND epoch = ").bind(held);
    }
    sql.push(" RETURNING last_seq");
    let Some(row) = sql.fetch_all(&mut **tx).await?.into_iter().next() else {
        return Err(match fence {
            Some(held) => fenced(run, held),
            None => sqlx::Error::RowNotFound,
        });
    };
    let seq: i64 = row.try_get("last_seq")?;
    sqlx::query("INSERT INTO events (run_id, seq, tenant_id, task_key, state, at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(run)
        .bind(seq)
        .bind(tenant.as_str())
        .bind(task)
        .bind(state.as_str())
        .bind(at)
        .execute(&mut **tx)
        .await?;
    if tx.backend_name() == "PostgreSQL" {
        // Delivered at commit, in commit order, to every server listening
        // (`events::spawn_pg_bridge`); the event itself is read from the table.
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(crate::events::PG_CHANNEL)
            .bind(format!("{}\t{run}\t{seq}", tenant.as_str()))
            .execute(&mut **tx)
            .await?;
    }
    Ok(RunEvent {
        seq,
        run: run.clone(),
        task: task.cloned(),
        state,
        at: at.to_owned(),
    })
}

/// Stores a queued run with every task pending, and its first event.
pub async fn create(db: &Db, r: NewRun<'_>) -> sqlx::Result<(RunId, RunEvent)> {
    let mut tx = db.pool.begin().await?;
    let created = create_in(&mut tx, r).await?;
    tx.commit().await?;
    Ok(created)
}

/// [`create`] inside the caller's transaction.
pub async fn create_in(
    tx: &mut Transaction<'static, Any>,
    r: NewRun<'_>,
) -> sqlx::Result<(RunId, RunEvent)> {
    let id = r.id.clone();
    let at = now();
    let resolved =
        serde_json::to_string(r.resolved).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    sqlx::query(
        "INSERT INTO runs (id, tenant_id, process_id, version_id, version_number, state, trigger_type, params, \
         created_by, created_at, scheduled_for, owner, resolved, rerun_of, number) \
         VALUES ($1, $2, $3, $4, $5, 'queued', $6, $7, $8, $9, $10, $11, $12, $13, \
           (SELECT COALESCE(MAX(number), 0) + 1 FROM runs WHERE process_id = $3))",
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
    .bind(resolved)
    .bind(r.rerun_of)
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
    let event = append_event(tx, r.tenant, &id, None, RunState::Queued.into(), &at, None).await?;
    Ok((id, event))
}

/// Moves the run to `to` from any state the run state machine
/// ([`RunState::can_become`]) allows; `None` (and nothing stored) when the
/// run is in none of them. A driver passes the epoch it holds as `fence`.
pub async fn set_run_state(
    db: &Db,
    tenant: &TenantId,
    run: &RunId,
    to: RunState,
    fence: Option<Epoch>,
) -> sqlx::Result<Option<RunEvent>> {
    transition(db, tenant, run, to, None, fence).await
}

/// Asks `run` to stop (→ `cancelling`, as [`set_run_state`]), keeping `mode`
/// with it for whichever server drives the run ([`stop_requests`]).
pub async fn request_stop(
    db: &Db,
    tenant: &TenantId,
    run: &RunId,
    mode: StopMode,
) -> sqlx::Result<Option<RunEvent>> {
    transition(db, tenant, run, RunState::Cancelling, Some(mode), None).await
}

/// The stops asked for on the runs `owner` drives.
pub async fn stop_requests(db: &Db, owner: &str) -> sqlx::Result<Vec<(TenantId, RunId, StopMode)>> {
    sqlx::query(
        "SELECT tenant_id, id, stop_mode FROM runs \
         WHERE owner = $1 AND state = 'cancelling' AND stop_mode IS NOT NULL",
    )
    .bind(owner)
    .fetch_all(&db.pool)
    .await?
    .iter()
    .map(|row| run_and(row, "stop_mode"))
    .collect()
}

async fn transition(
    db: &Db,
    tenant: &TenantId,
    run: &RunId,
    to: RunState,
    stop: Option<StopMode>,
    fence: Option<Epoch>,
) -> sqlx::Result<Option<RunEvent>> {
    let mut tx = db.pool.begin().await?;
    let moved = transition_in(&mut tx, tenant, run, to, stop, fence).await?;
    if moved.is_some() {
        tx.commit().await?;
    }
    Ok(moved)
}

/// [`set_run_state`] inside the caller's transaction (which a batch of
/// state changes shares; see `engine::commit`).
pub async fn run_state_in(
    tx: &mut Transaction<'static, Any>,
    tenant: &TenantId,
    run: &RunId,
    to: RunState,
    fence: Option<Epoch>,
) -> sqlx::Result<Option<RunEvent>> {
    transition_in(tx, tenant, run, to, None, fence).await
}

async fn transition_in(
    tx: &mut Transaction<'static, Any>,
    tenant: &TenantId,
    run: &RunId,
    to: RunState,
    stop: Option<StopMode>,
    fence: Option<Epoch>,
) -> sqlx::Result<Option<RunEvent>> {
    let at = now();
    // Owned arguments: the builder takes one lifetime for all of them, and
    // the state names are `&'static`.
    let mut sql = Sql::new("UPDATE runs SET state = ");
    sql.bind(to.as_str());
    if let Some(mode) = stop {
        sql.push(", stop_mode = ").bind(mode.as_str());
    }
    match to {
        RunState::Running => {
            sql.push(", started_at = COALESCE(started_at, ")
                .bind(at.clone())
                .push(")");
        }
        s if s.is_terminal() => {
            sql.push(", finished_at = ").bind(at.clone());
        }
        _ => {}
    }
    sql.push(" WHERE tenant_id = ")
        .bind(tenant.as_str().to_owned())
        .push(" AND id = ")
        .bind(run.to_owned())
        .push(" AND state IN ")
        .bind_list(RunState::sources(to).map(RunState::as_str))
        .push(" RETURNING id");
    let event = record(tx, sql, tenant, run, None, to.into(), &at, fence).await?;
    if event.is_some() && to.is_terminal() {
        // The alerts outbox, durable with the final state (see `alerts`).
        super::alerts::note_run_end(tx, tenant, run, to, &at).await?;
    }
    Ok(event)
}

/// Moves a task to `to` from any state the task state machine
/// ([`TaskState::can_become`]) allows, with `change`; `None` (and nothing
/// stored) when the task is in none of them. A driver passes the epoch it
/// holds as `fence`.
pub async fn set_task_state(
    db: &Db,
    tenant: &TenantId,
    run: &RunId,
    task: &TaskKey,
    to: TaskState,
    change: TaskChange<'_>,
    fence: Option<Epoch>,
) -> sqlx::Result<Option<RunEvent>> {
    let mut tx = db.pool.begin().await?;
    let moved = task_state_in(&mut tx, tenant, run, task, to, change, fence).await?;
    if moved.is_some() {
        tx.commit().await?;
    }
    Ok(moved)
}

/// [`set_task_state`] inside the caller's transaction (which a batch of
/// state changes shares; see `engine::commit`).
pub async fn task_state_in(
    tx: &mut Transaction<'static, Any>,
    tenant: &TenantId,
    run: &RunId,
    task: &TaskKey,
    to: TaskState,
    change: TaskChange<'_>,
    fence: Option<Epoch>,
) -> sqlx::Result<Option<RunEvent>> {
    let at = now();
    // Owned arguments: the builder takes one lifetime for all of them, and
    // the state names are `&'static`.
    let mut sql = Sql::new("UPDATE task_runs SET state = ");
    sql.bind(to.as_str())
        .push(", attempt = COALESCE(")
        .bind(change.attempt)
        .push(", attempt), external_ref = COALESCE(")
        .bind(change.external_ref.map(str::to_owned))
        .push(", external_ref), error = COALESCE(")
        .bind(change.error.map(str::to_owned))
        .push(", error)");
    match to {
        TaskState::Running => {
            sql.push(", started_at = ")
                .bind(at.clone())
                .push(", finished_at = NULL");
        }
        s if s.is_terminal() => {
            sql.push(", finished_at = ").bind(at.clone());
        }
        _ => {}
    }
    sql.push(" WHERE tenant_id = ")
        .bind(tenant.as_str().to_owned())
        .push(" AND run_id = ")
        .bind(run.to_owned())
        .push(" AND task_key = ")
        .bind(task.to_owned())
        .push(" AND state IN ")
        .bind_list(TaskState::sources(to).map(TaskState::as_str))
        .push(" RETURNING task_key");
    record(tx, sql, tenant, run, Some(task), to.into(), &at, fence).await
}

/// What retrying an ended run stores.
pub struct Retry<'a> {
    pub tenant: &'a TenantId,
    pub run: &'a RunId,
    /// Who retried it.
    pub by: &'a UserId,
    /// The server that drives the run from now on (the one that drove it
    /// before may be gone, and a queued run it owned would be taken over).
    pub owner: &'a str,
    /// The tasks that go back to `pending`, in DAG order; the others keep
    /// their state (a kept `succeeded` task never runs again).
    pub tasks: &'a [TaskKey],
    /// A task of `tasks` that keeps its external reference: `PEntry` of a
    /// run on Airflow, whose reference is the Airflow run the retry goes on
    /// with (a driver finding none would trigger another).
    pub keep_ref: Option<&'a TaskKey>,
}

/// Queues a failed or cancelled run again, with `tasks` back to `pending`
/// (their error, reference and times cleared, their attempt kept so the
/// next one continues the count), `retries` raised and who retried it noted,
/// in one transaction with the events of every move, numbered after the
/// run's last. The events, in order, for the caller to publish after this
/// returns; `None` (and nothing stored) when the run is not in a state it
/// can be retried from (any more).
pub async fn retry(db: &Db, r: Retry<'_>) -> sqlx::Result<Option<Vec<RunEvent>>> {
    let at = now();
    let mut sql = Sql::new(
        "UPDATE runs SET state = 'queued', finished_at = NULL, stop_mode = NULL, retries = retries + 1, epoch = epoch + 1, retried_by = ",
    );
    sql.bind(r.by.as_str().to_owned())
        .push(", retried_at = ")
        .bind(at.clone())
        .push(", owner = ")
        .bind(r.owner.to_owned())
        .push(" WHERE tenant_id = ")
        .bind(r.tenant.as_str().to_owned())
        .push(" AND id = ")
        .bind(r.run.to_owned())
        .push(" AND state IN ")
        .bind_list(RunState::sources(RunState::Queued).map(RunState::as_str))
        .push(" RETURNING id");
    let mut tx = db.pool.begin().await?;
    if sql.fetch_all(&mut *tx).await?.is_empty() {
        return Ok(None);
    }
    let mut events = vec![
        append_event(
            &mut tx,
            r.tenant,
            r.run,
            None,
            RunState::Queued.into(),
            &at,
            None,
        )
        .await?,
    ];
    for task in r.tasks {
        let reference = if r.keep_ref == Some(task) {
            ""
        } else {
            "external_ref = NULL, "
        };
        let mut sql = Sql::new(format!(
            "UPDATE task_runs SET state = 'pending', error = NULL, {reference}\
             started_at = NULL, finished_at = NULL WHERE tenant_id = "
        ));
        sql.bind(r.tenant.as_str().to_owned())
            .push(" AND run_id = ")
            .bind(r.run.to_owned())
            .push(" AND task_key = ")
            .bind(task.to_owned())
            .push(" AND state IN ")
            .bind_list(TaskState::sources(TaskState::Pending).map(TaskState::as_str))
            .push(" RETURNING task_key");
        if sql.fetch_all(&mut *tx).await?.is_empty() {
            continue;
        }
        let event = append_event(
            &mut tx,
            r.tenant,
            r.run,
            Some(task),
            TaskState::Pending.into(),
            &at,
            None,
        )
        .await?;
        events.push(event);
    }
    tx.commit().await?;
    Ok(Some(events))
}

/// Records a task's external reference when it has none yet (a reference
/// that arrives after the state it belongs to; no event).
pub async fn note_external_ref(
    db: &Db,
    tenant: &TenantId,
    run: &RunId,
    task: &TaskKey,
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

/// Takes over the unfinished runs no live server drives (their server
/// stopped heartbeating, or they predate ownership), bumping each one's
/// epoch: (tenant, run, the epoch `me` now holds).
pub async fn claim_orphans(db: &Db, me: &str) -> sqlx::Result<Vec<(TenantId, RunId, Epoch)>> {
    sqlx::query(
        "UPDATE runs SET owner = $1, epoch = epoch + 1 WHERE state IN ('queued', 'running', 'cancelling') \
         AND (owner IS NULL OR owner NOT IN (SELECT id FROM servers)) RETURNING tenant_id, id, epoch",
    )
    .bind(me)
    .fetch_all(&db.pool)
    .await?
    .iter()
    .map(|row| {
        Ok((
            TenantId::new(row.try_get::<String, _>("tenant_id")?),
            row.try_get("id")?,
            row.try_get("epoch")?,
        ))
    })
    .collect()
}

/// Who drives `run` and under which epoch (`None`: no such run).
pub async fn ownership(db: &Db, run: &RunId) -> sqlx::Result<Option<(Option<String>, Epoch)>> {
    sqlx::query("SELECT owner, epoch FROM runs WHERE id = $1")
        .bind(run)
        .fetch_optional(&db.pool)
        .await?
        .map(|row| Ok((row.try_get("owner")?, row.try_get("epoch")?)))
        .transpose()
}

/// Of the runs `me` drives under the epochs in `held`, those it has lost:
/// another server owns them now, or a later epoch.
pub async fn lost(db: &Db, me: &str, held: &[(RunId, Epoch)]) -> sqlx::Result<Vec<RunId>> {
    let mut lost = Vec::new();
    for chunk in held.chunks(500) {
        let mut sql = Sql::new("SELECT id, owner, epoch FROM runs WHERE id IN ");
        sql.bind_list(chunk.iter().map(|(run, _)| run.to_owned()));
        for row in sql.fetch_all(&db.pool).await? {
            let (id, owner, epoch): (RunId, Option<String>, Epoch) = (
                row.try_get("id")?,
                row.try_get("owner")?,
                row.try_get("epoch")?,
            );
            let held = chunk.iter().find(|(run, _)| *run == id).map(|(_, e)| *e);
            if owner.as_deref() != Some(me) || held != Some(epoch) {
                lost.push(id);
            }
        }
    }
    Ok(lost)
}

/// A row's tenant, run id and the text enum in `column`.
fn run_and<T>(row: &AnyRow, column: &str) -> sqlx::Result<(TenantId, RunId, T)>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    Ok((
        TenantId::new(row.try_get::<String, _>("tenant_id")?),
        row.try_get("id")?,
        text(row, column)?,
    ))
}
