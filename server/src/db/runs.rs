//! Runs, task runs and their events. Every state change is written in one
//! transaction together with its event, numbered from the run's `last_seq`;
//! callers broadcast the returned event only after this returns (after commit).

use super::sql::Sql;
use super::{now, Db};
use app::api::runs::{EventState, RunEvent, StopMode};
use app::types::dag::Dag;
use app::types::params::Resolved;
use app::types::{
    ProcessId, RunId, RunState, TaskKey, TaskState, TenantId, Trigger, UserId, VersionId,
};
use sqlx::{Any, Row, Transaction};

mod ownership;
mod read;
pub use ownership::*;
pub use read::*;

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
