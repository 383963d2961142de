//! Runs orchestrated by Airflow: Trellis triggers the version's DAG (conf:
//! the run's parameters, its id, where to report, the run's callback token
//! and every node's EMR step arguments rendered from the run's resolved
//! values), records each task state the DAG's callbacks report, reconciles
//! with Airflow's task instances every poll, and on a stop fails the Airflow
//! run and cancels the EMR steps itself, so the work really stops (a retry
//! clears the failed part of the same Airflow run: `retry.rs`). Every change goes through
//! the same transitions, events and streams as runs on the embedded engine.

use super::driver::unsuccessful;
use super::Engine;
use crate::airflow::render::run_args;
use crate::airflow::{Airflow, AirflowError};
use crate::db::processes::{self, VersionRow};
use crate::db::runs::{self, TaskChange};
use crate::executors::emr::StepRef;
use crate::executors::{CancelMode, Executor, Outcome};
use app::api::processes::DeployState;
use app::api::runs::Run;
use app::types::component::ComponentType;
use app::types::dag::{Dag, ENTRY};
use app::types::graph::ProcessGraph;
use app::types::{RunId, RunState, TaskKey, TaskKind, TaskState, TenantId};
use serde_json::{json, Value};
use std::sync::Arc;
use tokio::sync::watch;

/// What a run's callback token signs.
pub fn token_context(tenant: &TenantId, run: &RunId) -> String {
    format!("airflow-callback:{}:{run}", tenant.as_str())
}

/// What a callback token's lifetime adds to the run's own budget.
const TOKEN_MARGIN_SECONDS: f64 = 3600.0;
/// No callback token lives longer than this.
const TOKEN_MAX_SECONDS: f64 = 30.0 * 24.0 * 3600.0;

/// The longest a run of `graph` can take: every node's timeout (its
/// component's, at most the platform's `task_timeout`) times its tries, plus
/// the waits between them, one after the other; plus a margin. A run's
/// callback token expires that long after the run was stored.
pub fn callback_lifetime(
    graph: &ProcessGraph,
    components: &[ComponentType],
    task_timeout: std::time::Duration,
) -> chrono::Duration {
    let platform = task_timeout.as_secs_f64();
    let seconds: f64 = graph
        .nodes
        .iter()
        .map(|n| {
            let c = components.iter().find(|c| c.key == n.component);
            let timeout = c
                .and_then(|c| c.timeout_seconds)
                .map_or(platform, |t| t.min(platform));
            let retries = c.map_or(0, |c| c.retries);
            let delay = c.map_or(0.0, |c| c.retry_delay_seconds);
            let waits: f64 = (0..retries).map(|i| delay * 2f64.powi(i as i32)).sum();
            timeout * f64::from(retries + 1) + waits
        })
        .sum::<f64>()
        + TOKEN_MARGIN_SECONDS;
    chrono::Duration::seconds(seconds.min(TOKEN_MAX_SECONDS) as i64)
}

/// When the callback token of a run stored at `created_at` expires (unix
/// seconds).
pub fn token_expiry(created_at: &str, lifetime: chrono::Duration) -> i64 {
    let created = crate::time::Timestamp::parse(created_at)
        .map_or_else(chrono::Utc::now, crate::time::Timestamp::as_datetime);
    (created + lifetime).timestamp()
}

/// A run's callback token: its expiry (unix seconds) and the HMAC of the run
/// and that expiry under the server's key, `<expiry>.<mac>`.
pub fn callback_token(
    sealer: &crate::secrets::Sealer,
    tenant: &TenantId,
    run: &RunId,
    expires: i64,
) -> String {
    let context = format!("{}:{expires}", token_context(tenant, run));
    format!("{expires}.{}", sealer.token(&context))
}

/// Whether `token` is the run's callback token and has not expired at `now`.
pub fn check_callback_token(
    sealer: &crate::secrets::Sealer,
    tenant: &TenantId,
    run: &RunId,
    token: &str,
    now: i64,
) -> bool {
    let Some((expires, mac)) = token.split_once('.') else {
        return false;
    };
    let Ok(expires) = expires.parse::<i64>() else {
        return false;
    };
    let context = format!("{}:{expires}", token_context(tenant, run));
    sealer.check_token(&context, mac) && now <= expires
}

/// An Airflow task state in Trellis's terms. While the run is stopping,
/// what Airflow ends is cancelled.
fn map(state: &str, stopping: bool) -> Option<TaskState> {
    use TaskState::*;
    Some(match state {
        "scheduled" | "queued" => Queued,
        "running" | "restarting" | "deferred" | "up_for_reschedule" => Running,
        "up_for_retry" => UpForRetry,
        "success" | "succeeded" => Succeeded,
        "failed" | "skipped" | "upstream_failed" | "removed" if stopping => Cancelled,
        "failed" => Failed,
        "skipped" | "upstream_failed" => Skipped,
        "removed" => Cancelled,
        _ => return None,
    })
}

/// The moves that take a task from `from` to `to` through the task state
/// machine, passing at most through `queued` and `running` (Airflow's
/// callbacks never report the first, nor a poll a short-lived second).
/// `None` when there is none: the task ended, is there already, or the
/// report is older than what is stored (a late `queued` never fakes a retry).
fn moves(from: TaskState, to: TaskState) -> Option<Vec<TaskState>> {
    use TaskState::{Queued, Running};
    if from == to {
        return None;
    }
    let ways: [&[TaskState]; 4] = [&[], &[Queued], &[Running], &[Queued, Running]];
    ways.iter().find_map(|via| {
        let path: Vec<TaskState> = via.iter().copied().chain([to]).collect();
        let mut at = from;
        let legal = path.iter().all(|next| {
            let ok = at.can_become(*next);
            at = *next;
            ok
        });
        legal.then_some(path)
    })
}

/// A task state Airflow reported.
struct Reported<'a> {
    key: &'a TaskKey,
    /// The task's state as last read.
    from: TaskState,
    /// Airflow's name of the state.
    state: &'a str,
    change: TaskChange<'a>,
}

impl Engine {
    /// Records one task state Airflow reported (by callback or poll).
    /// Repeats and late, older reports change nothing.
    pub async fn airflow_task(
        &self,
        tenant: &TenantId,
        run: &RunId,
        key: &TaskKey,
        state: &str,
        change: TaskChange<'_>,
    ) -> sqlx::Result<bool> {
        let Some(stored) = runs::get(&self.inner.db, tenant, run).await? else {
            return Ok(false);
        };
        let Some(task) = stored.tasks.iter().find(|t| t.key == *key) else {
            return Ok(false);
        };
        let stopping = stored.state == RunState::Cancelling;
        let report = Reported {
            key,
            from: task.state,
            state,
            change,
        };
        self.airflow_report(tenant, run, stopping, report).await
    }

    /// `airflow_task` for a caller that knows whether the run is stopping.
    async fn airflow_report(
        &self,
        tenant: &TenantId,
        run: &RunId,
        stopping: bool,
        report: Reported<'_>,
    ) -> sqlx::Result<bool> {
        let Some(to) = map(report.state, stopping) else {
            return Ok(false);
        };
        let reference = report.change.external_ref;
        let moved = match moves(report.from, to) {
            Some(path) => {
                self.walk(tenant, run, report.key, &path, report.change)
                    .await?
            }
            None => false,
        };
        if let (false, Some(reference)) = (moved, reference) {
            runs::note_external_ref(&self.inner.db, tenant, run, report.key, reference).await?;
        }
        Ok(moved)
    }

    /// Moves a task through `path`, `change` going with the last move;
    /// whether it got to the end (a move another writer made first stops it).
    async fn walk(
        &self,
        tenant: &TenantId,
        run: &RunId,
        key: &TaskKey,
        path: &[TaskState],
        change: TaskChange<'_>,
    ) -> sqlx::Result<bool> {
        let Some((last, via)) = path.split_last() else {
            return Ok(false);
        };
        for step in via {
            if !self
                .task(tenant, run, key, *step, TaskChange::default())
                .await?
            {
                return Ok(false);
            }
        }
        self.task(tenant, run, key, *last, change).await
    }

    /// Fails a run that could not start on Airflow, saying why on PEntry.
    async fn airflow_refused(
        &self,
        tenant: &TenantId,
        stored: &Run,
        why: &str,
    ) -> anyhow::Result<()> {
        let run = &stored.id;
        let entry_key = TaskKey::from(ENTRY);
        let error = TaskChange {
            error: Some(why),
            ..Default::default()
        };
        let entry = stored.tasks.iter().find(|t| t.key == ENTRY);
        let path = entry.and_then(|t| moves(t.state, TaskState::Failed));
        if let Some(path) = path {
            self.walk(tenant, run, &entry_key, &path, error).await?;
        }
        for t in stored.tasks.iter().filter(|t| t.key != ENTRY) {
            self.task(
                tenant,
                run,
                &t.key,
                TaskState::Skipped,
                TaskChange::default(),
            )
            .await?;
        }
        if !self.run_state(tenant, run, RunState::Failed).await? {
            self.run_state(tenant, run, RunState::Cancelled).await?;
        }
        Ok(())
    }

    pub(super) async fn drive_airflow(
        &self,
        tenant: &TenantId,
        stored: Run,
        version: VersionRow,
        stop: watch::Receiver<Option<CancelMode>>,
    ) -> anyhow::Result<()> {
        match AirflowDriver::start(self, tenant, &stored, version, stop).await? {
            Ok(driver) => driver.drive().await,
            Err(why) => self.airflow_refused(tenant, &stored, &why).await,
        }
    }

    /// Cancels the EMR step of every node whose step may still run — the
    /// step the submit task recorded, or found by its name — and waits for
    /// EMR to confirm each ended.
    async fn cancel_airflow_steps(
        &self,
        tenant: &TenantId,
        run: &RunId,
        version: &VersionRow,
        mode: CancelMode,
    ) -> anyhow::Result<()> {
        let Some(connection) = version.graph.emr_connection() else {
            return Ok(());
        };
        let current = runs::get(&self.inner.db, tenant, run)
            .await?
            .ok_or_else(|| anyhow::anyhow!("run {run} vanished"))?;
        let emr = &self.inner.emr;
        let steps = emr.tenant(tenant);
        let mut cancelled = Vec::new();
        for submit in current.tasks.iter().filter(|t| t.kind == TaskKind::Submit) {
            let Some(node) = &submit.node else { continue };
            let watch_done = current.tasks.iter().any(|t| {
                t.kind == TaskKind::Watch && t.node == submit.node && t.state.is_terminal()
            });
            if watch_done || matches!(submit.state, TaskState::Pending | TaskState::Skipped) {
                continue;
            }
            // Only a step found on the cluster under the run's own step name
            // is ever cancelled, whatever a report said the submit added.
            let attempt = u32::try_from(submit.attempt.max(1)).unwrap_or(1);
            let name = super::start::step_name(run, node, attempt);
            let step = emr
                .find(tenant, connection, &name)
                .await
                .unwrap_or_else(|e| {
                    tracing::warn!(%run, error = %e, "looking for a step to cancel");
                    None
                });
            let recorded = submit.external_ref.as_deref().and_then(StepRef::parse);
            if let (Some(recorded), Some(found)) = (&recorded, &step) {
                if recorded.step != found.step {
                    tracing::warn!(%run, reported = %recorded, found = %found,
                        "a report named another step than the run's own; only the run's own is cancelled");
                }
            }
            let Some(step) = step else { continue };
            match steps.cancel(&step, mode).await {
                Ok(()) => cancelled.push(step),
                Err(why) => tracing::warn!(%run, step = %step, %why, "EMR refused to cancel"),
            }
        }
        for step in cancelled {
            if let Ok(Outcome::Failed { error }) = steps.watch(&step).await {
                tracing::info!(%run, step = %step, %error, "cancelled step ended");
            }
        }
        Ok(())
    }
}

/// The id of the Airflow run a run triggered, which its `PEntry` records.
pub(super) fn airflow_run_of(stored: &Run) -> Option<String> {
    stored
        .tasks
        .iter()
        .find(|t| t.key == ENTRY)
        .and_then(|t| t.external_ref.as_deref())
        .and_then(|r| r.strip_prefix("airflow:"))
        .map(str::to_owned)
}

/// Why a run cannot start on Airflow, said on its PEntry.
type Refusal = String;

/// One run on Airflow, from its trigger to its end.
struct AirflowDriver {
    engine: Engine,
    tenant: TenantId,
    run: RunId,
    airflow: Arc<Airflow>,
    dag_id: String,
    /// Airflow's id of the run.
    airflow_run: String,
    version: VersionRow,
    stop: watch::Receiver<Option<CancelMode>>,
    /// Whether Airflow's run was failed and its steps cancelled already.
    stopped: bool,
}

impl AirflowDriver {
    /// Finds the Airflow run — the one triggered before a restart, or a new
    /// one — or why there can be none.
    async fn start(
        engine: &Engine,
        tenant: &TenantId,
        stored: &Run,
        version: VersionRow,
        stop: watch::Receiver<Option<CancelMode>>,
    ) -> anyhow::Result<Result<Self, Refusal>> {
        let Some(airflow) = engine.airflow().cloned() else {
            return Ok(Err("this Trellis server has no Airflow configured".into()));
        };
        let dag_id = match ready_dag(&version) {
            Ok(dag_id) => dag_id,
            Err(why) => return Ok(Err(why)),
        };
        let airflow_run = match airflow_run_of(stored) {
            Some(id) => id,
            None => match trigger(engine, tenant, stored, &version, &airflow, &dag_id).await? {
                Ok(id) => id,
                Err(why) => return Ok(Err(why)),
            },
        };
        Ok(Ok(Self {
            engine: engine.clone(),
            tenant: tenant.clone(),
            run: stored.id.clone(),
            airflow,
            dag_id,
            airflow_run,
            version,
            stop,
            stopped: false,
        }))
    }

    /// Follows the Airflow run until Airflow ends it, then ends the run.
    async fn drive(mut self) -> anyhow::Result<()> {
        self.engine
            .run_state(&self.tenant, &self.run, RunState::Running)
            .await?;
        loop {
            let mode = *self.stop.borrow_and_update();
            if let (Some(mode), false) = (mode, self.stopped) {
                self.stopped = true;
                self.stop_airflow(mode).await?;
            }
            match self.poll().await?.as_deref() {
                // Airflow can finish a run it was told to fail (its scheduler
                // racing the change): a stopped run is failed on Airflow too.
                Some("success") if self.stopped => {
                    if let Err(e) = self
                        .airflow
                        .api
                        .fail_run(&self.dag_id, &self.airflow_run)
                        .await
                    {
                        tracing::warn!(run = %self.run, error = %e, "failing the ended Airflow run");
                    }
                    break;
                }
                Some(_) => break,
                None => {}
            }
            tokio::select! {
                _ = tokio::time::sleep(self.airflow.settings.poll) => {}
                _ = self.stop.changed() => {}
            }
        }
        self.end().await
    }

    /// Fails Airflow's run first, so no further task starts (and PExit does
    /// not turn the cancelled steps into a success), then cancels the steps
    /// themselves.
    async fn stop_airflow(&self, mode: CancelMode) -> anyhow::Result<()> {
        let api = &self.airflow.api;
        for attempt in 1..=5 {
            match api.fail_run(&self.dag_id, &self.airflow_run).await {
                Ok(()) => break,
                Err(e) => {
                    tracing::warn!(run = %self.run, attempt, error = %e, "failing the Airflow run");
                    tokio::time::sleep(self.airflow.settings.poll).await;
                }
            }
        }
        self.engine
            .cancel_airflow_steps(&self.tenant, &self.run, &self.version, mode)
            .await
    }

    /// Reads the Airflow run once and records what its tasks did; Airflow's
    /// final state of the run once it has ended it.
    async fn poll(&self) -> anyhow::Result<Option<String>> {
        match self.airflow.api.run(&self.dag_id, &self.airflow_run).await {
            Ok((state, instances)) => {
                self.reconcile(&instances).await?;
                Ok(matches!(state.as_str(), "success" | "failed").then_some(state))
            }
            Err(e) => {
                tracing::warn!(run = %self.run, error = %e, "reading the Airflow run");
                Ok(None)
            }
        }
    }

    /// Records the task states Airflow has moved to since the last look.
    async fn reconcile(
        &self,
        instances: &[crate::airflow::api::TaskInstance],
    ) -> anyhow::Result<()> {
        // One read of the run per poll: whether it is stopping, and where
        // each task is.
        let known = self.stored().await?;
        let stopping = known.state == RunState::Cancelling;
        for ti in instances {
            let Some(state) = &ti.state else { continue };
            let Some(task) = known.tasks.iter().find(|t| t.key == ti.task_id) else {
                continue;
            };
            let report = Reported {
                key: &ti.task_id,
                from: task.state,
                state,
                change: TaskChange {
                    attempt: Some(ti.try_number.max(1)),
                    ..Default::default()
                },
            };
            self.engine
                .airflow_report(&self.tenant, &self.run, stopping, report)
                .await?;
        }
        Ok(())
    }

    /// Airflow has ended the run: what never ran did not run (or was
    /// cancelled, when the run is stopping); the run ends accordingly.
    async fn end(&self) -> anyhow::Result<()> {
        let (engine, tenant, run) = (&self.engine, &self.tenant, &self.run);
        let ended = self.stored().await?;
        let stopping = ended.state == RunState::Cancelling;
        let leftover = if stopping {
            TaskState::Cancelled
        } else {
            TaskState::Skipped
        };
        let mut failed = false;
        for t in &ended.tasks {
            let state = if t.state.is_terminal() {
                t.state
            } else {
                engine
                    .task(tenant, run, &t.key, leftover, TaskChange::default())
                    .await?;
                leftover
            };
            failed |= unsuccessful(state);
        }
        let to = if failed {
            RunState::Failed
        } else {
            RunState::Succeeded
        };
        if stopping || !engine.run_state(tenant, run, to).await? {
            engine.run_state(tenant, run, RunState::Cancelled).await?;
        }
        Ok(())
    }

    async fn stored(&self) -> anyhow::Result<Run> {
        runs::get(&self.engine.inner.db, &self.tenant, &self.run)
            .await?
            .ok_or_else(|| anyhow::anyhow!("run {} vanished", self.run))
    }
}

/// The Airflow DAG of a version that is ready on Airflow, or why it is not.
pub(super) fn ready_dag(version: &VersionRow) -> Result<String, Refusal> {
    let number = version.summary.number;
    match &version.summary.deployment {
        Some(d) if d.state == DeployState::Ready => Ok(d.dag_id.clone()),
        Some(d) => Err(format!(
            "version {number} is not ready on Airflow: {}{}",
            d.state.as_str(),
            d.error
                .as_deref()
                .map(|e| format!(" ({e})"))
                .unwrap_or_default()
        )),
        None => Err(format!("version {number} was never deployed to Airflow")),
    }
}

/// What a run tells its Airflow run: where to report and with which token,
/// the run's parameters as given, and (`trellis.args`) each node's EMR step
/// arguments rendered from the values the run resolved, which the DAG file
/// sends as they are, never as templates.
fn conf(
    stored: &Run,
    graph: &ProcessGraph,
    dag: &Dag,
    components: &[ComponentType],
    callback: (String, String),
) -> Result<Value, AirflowError> {
    let values = stored
        .resolved
        .as_ref()
        .map(|r| r.nodes.clone())
        .unwrap_or_default();
    let args = run_args(graph, dag, components, &values)?;
    let (url, token) = callback;
    Ok(json!({
        "trellis": {
            "url": url,
            "token": token,
            "run": stored.id,
            "args": args,
        },
        "params": stored.params,
    }))
}

/// Triggers the version's DAG for a run (its PEntry queued with the Airflow
/// run's id); the Airflow run's id, or why it cannot run there.
async fn trigger(
    engine: &Engine,
    tenant: &TenantId,
    stored: &Run,
    version: &VersionRow,
    airflow: &Airflow,
    dag_id: &str,
) -> anyhow::Result<Result<String, Refusal>> {
    let run = &stored.id;
    let components = processes::components_of(&engine.inner.db, version).await?;
    let expires = token_expiry(
        &stored.created_at,
        callback_lifetime(
            &version.graph,
            &components,
            engine.inner.settings.task_timeout,
        ),
    );
    let callback = (
        airflow.callback_url(run),
        callback_token(engine.sealer(), tenant, run, expires),
    );
    let (graph, dag) = (&version.graph, &version.dag);
    let conf = match conf(stored, graph, dag, &components, callback) {
        Ok(conf) => conf,
        Err(e) => return Ok(Err(e.to_string())),
    };
    let id = match airflow.api.trigger(dag_id, &conf).await {
        Ok(id) => id,
        Err(e) => return Ok(Err(e.to_string())),
    };
    let reference = format!("airflow:{id}");
    let change = TaskChange {
        external_ref: Some(&reference),
        ..Default::default()
    };
    engine
        .task(
            tenant,
            run,
            &TaskKey::from(ENTRY),
            TaskState::Queued,
            change,
        )
        .await?;
    Ok(Ok(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callback_tokens_expire_and_bind_their_expiry() {
        let sealer = crate::secrets::Sealer::from_key(&[3; 32]);
        let (tenant, run) = (TenantId::new("t".to_owned()), RunId::from("r1"));
        let token = callback_token(&sealer, &tenant, &run, 1_000);
        assert!(check_callback_token(&sealer, &tenant, &run, &token, 999));
        assert!(check_callback_token(&sealer, &tenant, &run, &token, 1_000));
        assert!(
            !check_callback_token(&sealer, &tenant, &run, &token, 1_001),
            "expired"
        );
        let stretched = token.replacen("1000", "9000", 1);
        assert!(
            !check_callback_token(&sealer, &tenant, &run, &stretched, 999),
            "the expiry is signed"
        );
        assert!(!check_callback_token(
            &sealer,
            &tenant,
            &RunId::from("r2"),
            &token,
            999
        ));
        assert!(!check_callback_token(&sealer, &tenant, &run, "nodot", 0));
    }

    #[test]
    fn a_tokens_lifetime_is_the_runs_budget_plus_a_margin() {
        let components = app::catalog::builtin();
        let graph: ProcessGraph = serde_json::from_value(json!({
            "nodes": [{"id": "a", "component": "noop"}, {"id": "b", "component": "noop"}], "edges": []
        }))
        .unwrap();
        let noop = components.iter().find(|c| c.key == "noop").unwrap();
        let platform = 6.0 * 3600.0;
        let per_node = noop
            .timeout_seconds
            .map_or(platform, |t: f64| t.min(platform))
            * f64::from(noop.retries + 1);
        let waits: f64 = (0..noop.retries)
            .map(|i| noop.retry_delay_seconds * 2f64.powi(i as i32))
            .sum();
        assert_eq!(
            callback_lifetime(
                &graph,
                &components,
                std::time::Duration::from_secs(6 * 3600)
            )
            .num_seconds(),
            (2.0 * (per_node + waits) + TOKEN_MARGIN_SECONDS) as i64
        );
        assert_eq!(
            token_expiry("2026-01-01T00:00:00.000Z", chrono::Duration::seconds(60)),
            1_767_225_660
        );
    }

    /// A run of `first` (sleep, its seconds from the run) → `say` (fail,
    /// its message from the run).
    fn run_of(resolved: Value) -> (Run, ProcessGraph, Dag) {
        let graph: ProcessGraph = serde_json::from_value(json!({
            "connection": "c1", "orchestrator": "airflow",
            "params": [{"name": "wait", "type": "integer", "default": 5},
                       {"name": "why", "type": "string"}],
            "nodes": [{"id": "first", "component": "sleep", "params": {"seconds": "{{ params.wait }}"}},
                      {"id": "say", "component": "fail", "params": {"message": "{{ params.why }}!"}}],
            "edges": [{"from": "first", "to": "say"}],
        }))
        .unwrap();
        let dag = app::types::dag::compile(&graph).unwrap();
        let run: Run = serde_json::from_value(json!({
            "id": "r-1", "process": "p-1", "version": 3, "state": "queued", "trigger": "manual",
            "params": {"why": "given"}, "created_by": "ann", "created_at": "2026-11-30T06:00:00Z",
            "started_at": null, "finished_at": null, "resolved": resolved, "tasks": [],
        }))
        .unwrap();
        (run, graph, dag)
    }

    #[test]
    fn the_conf_carries_each_nodes_arguments_from_the_resolved_values() {
        let hostile = "{{ var.value.get('secret') }} '; rm -rf / # $(id)\n--force";
        let (run, graph, dag) = run_of(json!({
            "logical_date": "2026-11-30", "data_interval_start": "2026-11-30T06:00:00Z",
            "data_interval_end": "2026-11-30T06:00:00Z", "params": {"wait": 2, "why": hostile},
            "nodes": {"first": {"seconds": 2}, "say": {"message": format!("{hostile}!")}},
        }));
        let components = app::catalog::builtin();
        let callback = ("https://trellis.example/cb".to_owned(), "tok".to_owned());
        let conf = conf(&run, &graph, &dag, &components, callback).unwrap();
        assert_eq!(
            conf["trellis"]["args"],
            json!({
                "first": ["sleep", "2"],
                "say": ["bash", "-c", "echo \"$0\" >&2; exit 1", format!("{hostile}!")],
            }),
            "each value is one argument, exactly as resolved"
        );
        assert_eq!(conf["trellis"]["run"], "r-1");
        assert_eq!(conf["trellis"]["url"], "https://trellis.example/cb");
        assert_eq!(conf["trellis"]["token"], "tok");
        assert_eq!(
            conf["params"],
            json!({"why": "given"}),
            "the parameters as given"
        );
    }

    #[test]
    fn a_run_from_before_parameters_sends_the_nodes_own_values() {
        let (run, mut graph, dag) = run_of(Value::Null);
        graph.nodes[0].params.insert("seconds".into(), json!(1.5));
        let components = app::catalog::builtin();
        let conf = conf(&run, &graph, &dag, &components, Default::default()).unwrap();
        assert_eq!(conf["trellis"]["args"]["first"], json!(["sleep", "1.5"]));
        let mut local_only = components.clone();
        local_only.iter_mut().for_each(|c| c.emr = None);
        let refused = conf_error(&run, &graph, &dag, &local_only);
        assert_eq!(refused, "node `first`: `sleep` cannot run on EMR");
    }

    fn conf_error(
        run: &Run,
        graph: &ProcessGraph,
        dag: &Dag,
        components: &[ComponentType],
    ) -> String {
        conf(run, graph, dag, components, Default::default())
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn airflow_states_map_to_trellis_transitions() {
        assert_eq!(map("running", false), Some(TaskState::Running));
        assert_eq!(map("success", false), Some(TaskState::Succeeded));
        assert_eq!(map("upstream_failed", false), Some(TaskState::Skipped));
        assert_eq!(map("failed", false), Some(TaskState::Failed));
        assert_eq!(map("failed", true), Some(TaskState::Cancelled));
        assert_eq!(map("skipped", true), Some(TaskState::Cancelled));
        assert_eq!(map("success", true), Some(TaskState::Succeeded));
        assert!(map("none", false).is_none());
    }

    #[test]
    fn reports_move_tasks_along_the_state_machine() {
        use TaskState::*;
        assert_eq!(moves(Pending, Running), Some(vec![Queued, Running]));
        assert_eq!(
            moves(Pending, Succeeded),
            Some(vec![Queued, Running, Succeeded])
        );
        assert_eq!(moves(UpForRetry, Running), Some(vec![Queued, Running]));
        assert_eq!(moves(Running, UpForRetry), Some(vec![UpForRetry]));
        assert_eq!(moves(Queued, Skipped), Some(vec![Skipped]));
        // A late "running" never reopens an ended task, a late "queued"
        // never fakes a retry, and a repeat changes nothing.
        assert_eq!(moves(Succeeded, Running), None);
        assert_eq!(moves(Running, Queued), None);
        assert_eq!(moves(Running, Running), None);
        assert_eq!(moves(UpForRetry, UpForRetry), None);
    }
}
