//! The embedded engine: drives each run through its DAG (`PEntry → C_n → W_n
//! → … → PExit`), one driver task per run. Every transition is stored with its
//! event first and published after commit. `PExit` always runs and sets the
//! run's final state; a stop cancels pending tasks and running work.

use crate::db::runs::{self, TaskChange};
use crate::db::{processes, Db};
use crate::events::EventBus;
use crate::executors::emr::StepRef;
use crate::executors::local::LocalExecutor;
use crate::executors::{CancelMode, ExternalRef, Outcome};
use app::types::dag::Dag;
use app::types::graph::ProcessGraph;
use app::types::{RunState, TaskKind, TaskState, TenantId};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinSet;

pub mod airflow;
mod follow;
mod lease;
mod recover;
mod slots;
mod start;
use slots::{Slot, Slots};
pub(crate) use start::fault;
pub use start::step_name;

#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// Tenant work dirs and task logs live under here.
    pub data_dir: PathBuf,
    /// How long a graceful stop waits after SIGTERM before SIGKILL.
    pub stop_grace: Duration,
    /// The binary that `trellis` as a component program means.
    pub trellis_bin: PathBuf,
    /// Largest task log, in bytes; the rest is cut off with a marker.
    pub log_limit: u64,
    /// Tasks running at once on this server, all tenants together.
    pub max_running: usize,
    /// Tasks running at once for one tenant.
    pub max_running_per_tenant: usize,
    /// Largest download of a data step, in bytes.
    pub fetch_max_bytes: u64,
    /// Longest download or upload of a data step.
    pub fetch_timeout: Duration,
    /// Seals and opens secrets at rest (connection keys).
    pub sealer: Arc<crate::secrets::Sealer>,
    /// How often watched EMR steps are looked at.
    pub emr_polling: crate::executors::emr::Polling,
}

/// A component's retry and timeout policy.
#[derive(Clone, Copy)]
struct Policy {
    retries: u32,
    delay: f64,
    timeout: Option<f64>,
}

/// What the tasks of one run share.
#[derive(Clone)]
struct RunCtx {
    tenant: TenantId,
    run: String,
    graph: Arc<ProcessGraph>,
    stop: watch::Receiver<Option<CancelMode>>,
}

#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    bus: EventBus,
    local: LocalExecutor,
    emr: Arc<crate::executors::emr::EmrExecutor>,
    settings: EngineSettings,
    slots: Arc<Slots>,
    /// Stop requests of the runs this server drives.
    stops: Mutex<HashMap<String, watch::Sender<Option<CancelMode>>>>,
    /// This server process, as the owner of the runs it drives.
    server_id: String,
    /// The Airflow deployment processes may choose to run on.
    airflow: std::sync::OnceLock<Arc<crate::airflow::Airflow>>,
}

impl Engine {
    pub fn new(db: Db, bus: EventBus, settings: EngineSettings) -> Self {
        let local = LocalExecutor::new(settings.trellis_bin.clone(), settings.log_limit);
        let stops = Mutex::new(HashMap::new());
        let slots = Slots::new(settings.max_running, settings.max_running_per_tenant);
        let emr = Arc::new(crate::executors::emr::EmrExecutor::new(
            db.clone(),
            settings.sealer.clone(),
            settings.emr_polling,
        ));
        Self {
            inner: Arc::new(Inner {
                db,
                bus,
                local,
                emr,
                settings,
                slots,
                stops,
                server_id: crate::db::new_id(),
                airflow: std::sync::OnceLock::new(),
            }),
        }
    }

    /// Sets how many tasks `tenant` may run at once (`None`: the server's
    /// per-tenant default).
    pub fn set_tenant_limit(&self, tenant: &TenantId, limit: Option<i64>) {
        let limit = limit.map(|n| usize::try_from(n).unwrap_or(1));
        self.inner.slots.set_limit(tenant, limit);
    }

    /// Applies every tenant's own limit on running tasks, as stored.
    pub async fn load_tenant_limits(&self) -> sqlx::Result<()> {
        for (tenant, limit) in crate::db::access::task_limits(&self.inner.db).await? {
            self.set_tenant_limit(&tenant, Some(limit));
        }
        Ok(())
    }

    /// Lets processes run on Airflow (once, at start).
    pub fn set_airflow(&self, airflow: Arc<crate::airflow::Airflow>) {
        let _ = self.inner.airflow.set(airflow);
    }

    /// The Airflow deployment, when the server has one.
    pub fn airflow(&self) -> Option<&Arc<crate::airflow::Airflow>> {
        self.inner.airflow.get()
    }

    /// This server process's id: the owner of the runs it drives.
    pub fn server_id(&self) -> &str {
        &self.inner.server_id
    }

    pub fn sealer(&self) -> &crate::secrets::Sealer {
        &self.inner.settings.sealer
    }

    pub fn stop_grace(&self) -> Duration {
        self.inner.settings.stop_grace
    }

    /// The tenant's folder: input files, datasets, exports, task logs.
    pub fn tenant_dir(&self, tenant: &TenantId) -> PathBuf {
        self.inner
            .settings
            .data_dir
            .join("tenants")
            .join(tenant.as_str())
    }

    /// Where a task's log is written.
    pub fn log_path(&self, tenant: &TenantId, run: &str, task: &str) -> PathBuf {
        self.tenant_dir(tenant)
            .join("runs")
            .join(run)
            .join(format!("{task}.log"))
    }

    /// Starts driving a stored, queued run.
    pub fn launch(&self, tenant: TenantId, run: String) {
        let (tx, rx) = watch::channel(None);
        self.inner
            .stops
            .lock()
            .expect("stops lock")
            .insert(run.clone(), tx);
        let engine = self.clone();
        tokio::spawn(async move {
            if let Err(e) = engine.drive(&tenant, &run, rx).await {
                tracing::error!(run = %run, error = ?e, "run driver failed");
            }
            engine.inner.stops.lock().expect("stops lock").remove(&run);
        });
    }

    /// Asks a queued or running run to stop; `None` when it has already ended
    /// (or was already stopping).
    pub async fn stop(
        &self,
        tenant: &TenantId,
        run: &str,
        mode: CancelMode,
    ) -> sqlx::Result<Option<()>> {
        let Some(event) = runs::set_run_state(
            &self.inner.db,
            tenant,
            run,
            &[RunState::Queued, RunState::Running],
            RunState::Cancelling,
        )
        .await?
        else {
            return Ok(None);
        };
        self.inner.bus.publish(tenant, event);
        if let Some(tx) = self.inner.stops.lock().expect("stops lock").get(run) {
            let _ = tx.send(Some(mode));
        }
        Ok(Some(()))
    }

    async fn task(
        &self,
        tenant: &TenantId,
        run: &str,
        key: &str,
        from: &[TaskState],
        to: TaskState,
        change: TaskChange<'_>,
    ) -> sqlx::Result<bool> {
        let event =
            runs::set_task_state(&self.inner.db, tenant, run, key, from, to, change).await?;
        let moved = event.is_some();
        if let Some(event) = event {
            self.inner.bus.publish(tenant, event);
        }
        Ok(moved)
    }

    async fn run_state(
        &self,
        tenant: &TenantId,
        run: &str,
        from: &[RunState],
        to: RunState,
    ) -> sqlx::Result<bool> {
        let event = runs::set_run_state(&self.inner.db, tenant, run, from, to).await?;
        let moved = event.is_some();
        if let Some(event) = event {
            self.inner.bus.publish(tenant, event);
        }
        Ok(moved)
    }

    /// (pending →) queued → running (first attempt), as a task that is about to
    /// start; a task recovery left queued skips the first step.
    async fn begin(
        &self,
        tenant: &TenantId,
        run: &str,
        key: &str,
        external_ref: Option<&str>,
    ) -> sqlx::Result<bool> {
        let running = TaskChange {
            attempt: Some(1),
            external_ref,
            error: None,
        };
        self.task(
            tenant,
            run,
            key,
            &[TaskState::Pending],
            TaskState::Queued,
            TaskChange::default(),
        )
        .await?;
        self.task(
            tenant,
            run,
            key,
            &[TaskState::Queued],
            TaskState::Running,
            running,
        )
        .await
    }

    async fn finish(
        &self,
        tenant: &TenantId,
        run: &str,
        key: &str,
        outcome: &Outcome,
    ) -> sqlx::Result<bool> {
        let (to, error) = match outcome {
            Outcome::Succeeded => (TaskState::Succeeded, None),
            Outcome::Failed { error } => (TaskState::Failed, Some(error.as_str())),
            Outcome::Cancelled => (TaskState::Cancelled, None),
        };
        self.task(
            tenant,
            run,
            key,
            &[TaskState::Running, TaskState::UpForRetry],
            to,
            TaskChange {
                error,
                ..Default::default()
            },
        )
        .await
    }

    async fn drive(
        &self,
        tenant: &TenantId,
        run: &str,
        mut stop: watch::Receiver<Option<CancelMode>>,
    ) -> anyhow::Result<()> {
        let db = &self.inner.db;
        let stored = runs::get(db, tenant, run)
            .await?
            .ok_or_else(|| anyhow::anyhow!("run {run} not found"))?;
        let version = processes::version_get(db, tenant, &stored.process, stored.version)
            .await?
            .ok_or_else(|| anyhow::anyhow!("version {} of run {run} not found", stored.version))?;
        if version.graph.orchestrator == Some(app::types::graph::Orchestrator::Airflow) {
            return self.drive_airflow(tenant, stored, version, stop).await;
        }
        let dag: Dag = version.dag;
        let ctx = RunCtx {
            tenant: tenant.clone(),
            run: run.to_owned(),
            graph: Arc::new(version.graph),
            stop: stop.clone(),
        };
        let mut states: HashMap<String, TaskState> = stored
            .tasks
            .iter()
            .map(|t| (t.key.clone(), t.state))
            .collect();
        let mut refs: HashMap<String, ExternalRef> = HashMap::new();
        let mut held: HashMap<String, Slot> = HashMap::new();
        let mut watching: JoinSet<(String, Outcome, Option<Slot>)> = JoinSet::new();

        // What earlier submits started (this server's, or one that stopped).
        for t in &stored.tasks {
            let step = t.external_ref.as_deref().and_then(StepRef::parse);
            if let (TaskKind::Submit, Some(node), Some(step)) = (t.kind, &t.node, step) {
                refs.entry(node.clone()).or_insert(ExternalRef::Emr(step));
            }
        }
        // EMR steps a stopped server was watching: follow them again (their
        // latest attempt is on the watch task).
        for t in stored
            .tasks
            .iter()
            .filter(|t| t.kind == TaskKind::Watch && t.state == TaskState::Running)
        {
            let (Some(node), Some(step)) =
                (&t.node, t.external_ref.as_deref().and_then(StepRef::parse))
            else {
                continue;
            };
            let slot = self.inner.slots.acquire(tenant).await;
            refs.insert(node.clone(), ExternalRef::Emr(step.clone()));
            self.follow(
                &ctx,
                &t.key,
                node,
                ExternalRef::Emr(step),
                &mut watching,
                Some(slot),
            )
            .await?;
        }

        self.run_state(tenant, run, &[RunState::Queued], RunState::Running)
            .await?;
        loop {
            // A stop cancels what has not started; running work is cancelled
            // by its watch (see `watch_once`).
            if stop.borrow_and_update().is_some() {
                let waiting = [TaskState::Pending, TaskState::Queued];
                for task in dag.tasks.iter().filter(|t| t.kind != TaskKind::Exit) {
                    if waiting.contains(&states[&task.key])
                        && self
                            .task(
                                tenant,
                                run,
                                &task.key,
                                &waiting,
                                TaskState::Cancelled,
                                TaskChange::default(),
                            )
                            .await?
                    {
                        states.insert(task.key.clone(), TaskState::Cancelled);
                    }
                }
            }

            let mut progressed = false;
            for task in dag.tasks.iter().filter(|t| t.kind != TaskKind::Exit) {
                if !matches!(states[&task.key], TaskState::Pending | TaskState::Queued) {
                    continue;
                }
                let deps: Vec<TaskState> = task.depends_on.iter().map(|d| states[d]).collect();
                if deps.iter().any(|s| {
                    matches!(
                        s,
                        TaskState::Failed | TaskState::Skipped | TaskState::Cancelled
                    )
                }) {
                    if self
                        .task(
                            tenant,
                            run,
                            &task.key,
                            &[TaskState::Pending],
                            TaskState::Skipped,
                            TaskChange::default(),
                        )
                        .await?
                    {
                        states.insert(task.key.clone(), TaskState::Skipped);
                        progressed = true;
                    }
                    continue;
                }
                if deps.iter().all(|s| *s == TaskState::Succeeded) {
                    if task.kind == TaskKind::Submit {
                        // Queued until a slot is free (or the run is stopped).
                        self.task(
                            tenant,
                            run,
                            &task.key,
                            &[TaskState::Pending],
                            TaskState::Queued,
                            TaskChange::default(),
                        )
                        .await?;
                        states.insert(task.key.clone(), TaskState::Queued);
                        // While it waits, other tasks' ends are still recorded.
                        let acquire = self.inner.slots.acquire(tenant);
                        tokio::pin!(acquire);
                        let slot = loop {
                            tokio::select! {
                                slot = &mut acquire => break Some(slot),
                                Some(done) = watching.join_next() => {
                                    // The slot is freed only once the end is recorded.
                                    let (key, outcome, _slot) = done?;
                                    self.watched(tenant, run, &key, &outcome, &mut states).await?;
                                }
                                _ = stop.changed() => break None,
                            }
                        };
                        let Some(slot) = slot else {
                            progressed = true;
                            break;
                        };
                        held.insert(task.node.clone().unwrap_or_default(), slot);
                    }
                    // A watch holds its node's slot until the work ends.
                    let slot = match task.kind {
                        TaskKind::Watch => held.remove(task.node.as_deref().unwrap_or_default()),
                        _ => None,
                    };
                    let state = self
                        .start(&ctx, task, &mut refs, &mut watching, slot)
                        .await?;
                    if state.is_terminal() && state != TaskState::Succeeded {
                        held.remove(task.node.as_deref().unwrap_or_default());
                    }
                    states.insert(task.key.clone(), state);
                    progressed = true;
                }
            }
            if progressed {
                continue;
            }
            if watching.is_empty() {
                break;
            }
            tokio::select! {
                Some(done) = watching.join_next() => {
                    let (key, outcome, _slot) = done?;
                    self.watched(tenant, run, &key, &outcome, &mut states).await?;
                }
                _ = stop.changed() => {}
            }
        }

        // PExit always runs, and decides how the run ends.
        let exit = dag
            .tasks
            .iter()
            .find(|t| t.kind == TaskKind::Exit)
            .expect("every DAG has an exit");
        self.begin(tenant, run, &exit.key, None).await?;
        self.finish(tenant, run, &exit.key, &Outcome::Succeeded)
            .await?;
        if stop.borrow().is_some() {
            self.run_state(tenant, run, &[RunState::Cancelling], RunState::Cancelled)
                .await?;
        } else {
            let failed = states.values().any(|s| {
                matches!(
                    s,
                    TaskState::Failed | TaskState::Skipped | TaskState::Cancelled
                )
            });
            let to = if failed {
                RunState::Failed
            } else {
                RunState::Succeeded
            };
            if !self
                .run_state(tenant, run, &[RunState::Running], to)
                .await?
            {
                // A stop arrived after the last task ended.
                self.run_state(tenant, run, &[RunState::Cancelling], RunState::Cancelled)
                    .await?;
            }
        }
        Ok(())
    }

    /// Records how a watched task ended.
    async fn watched(
        &self,
        tenant: &TenantId,
        run: &str,
        key: &str,
        outcome: &Outcome,
        states: &mut HashMap<String, TaskState>,
    ) -> sqlx::Result<()> {
        if self.finish(tenant, run, key, outcome).await? {
            let state = match outcome {
                Outcome::Succeeded => TaskState::Succeeded,
                Outcome::Failed { .. } => TaskState::Failed,
                Outcome::Cancelled => TaskState::Cancelled,
            };
            states.insert(key.to_owned(), state);
        }
        Ok(())
    }
}
