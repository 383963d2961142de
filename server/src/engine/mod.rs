//! The embedded engine: drives each run through its DAG (`PEntry → C_n → W_n
//! → … → PExit`), one driver task per run. Every transition is stored with its
//! event first and published after commit. `PExit` always runs and sets the
//! run's final state; a stop cancels pending tasks and running work.

use crate::db::runs::{self, TaskChange};
use crate::db::{processes, Db};
use crate::events::EventBus;
use crate::executors::local::LocalExecutor;
use crate::executors::{CancelMode, Outcome};
use app::types::component::ComponentType;
use app::types::graph::{Node, ProcessGraph};
use app::types::{ComponentKey, RunId, RunState, TaskKey, TaskState, TenantId};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

pub mod airflow;
mod commit;
mod connections;
mod driver;
mod follow;
mod lease;
pub mod prepare;
mod recover;
pub mod retention;
pub mod retry;
mod slots;
mod start;
mod stop;
mod storage;
use driver::RunDriver;
use slots::Slots;
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
    /// Bytes a tenant's folder may hold unless the tenant has its own quota
    /// (0: unlimited).
    pub tenant_quota_bytes: u64,
    /// Longest download or upload of a data step.
    pub fetch_timeout: Duration,
    /// Longest any task may run: the timeout of components that set none,
    /// and the cap of those that set a longer one.
    pub task_timeout: Duration,
    /// Resource limits of each local task's process.
    pub process_limits: crate::executors::local::ProcessLimits,
    /// Bounds of one `transform.sql` query.
    pub sql_limits: crate::components::env::SqlLimits,
    /// Which internal addresses data steps and connections may reach.
    pub outbound: crate::outbound::Guard,
    /// Seals and opens secrets at rest (connection keys).
    pub sealer: Arc<crate::secrets::Sealer>,
    /// How often watched EMR steps are looked at.
    pub emr_polling: crate::executors::emr::Polling,
    /// How tenants' AWS accounts are reached: the server's own credentials
    /// (for `AssumeRole` only), whether static keys are allowed.
    pub aws: crate::aws::Platform,
    /// How long a run's driver keeps trying a state change the database
    /// refuses for a passing reason (busy, a lost connection) before it
    /// gives the run up; the run then fails with the reason.
    pub db_retry: Duration,
    /// Days ended runs are kept unless a tenant has its own retention (0:
    /// forever); see `retention`.
    pub retention_days: u32,
}

/// A component's retry and timeout policy.
#[derive(Clone, Copy)]
struct Policy {
    retries: u32,
    delay: f64,
    timeout: Timeout,
}

/// How long one attempt may run, and whether that is the platform's limit
/// (the component set none, or a longer one) rather than the component's.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Timeout {
    seconds: f64,
    platform: bool,
}

impl std::fmt::Display for Timeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} s", self.seconds)?;
        if self.platform {
            f.write_str(" (the platform's task timeout)")?;
        }
        Ok(())
    }
}

impl Policy {
    /// `component`'s policy (none: no retries) under the platform's task
    /// timeout: a component may lower its timeout, never raise it.
    fn of(component: Option<&ComponentType>, platform: Duration) -> Self {
        let platform = platform.as_secs_f64();
        let timeout = match component.and_then(|c| c.timeout_seconds) {
            Some(own) if own < platform => Timeout {
                seconds: own,
                platform: false,
            },
            _ => Timeout {
                seconds: platform,
                platform: true,
            },
        };
        Self {
            retries: component.map_or(0, |c| c.retries),
            delay: component.map_or(0.0, |c| c.retry_delay_seconds),
            timeout,
        }
    }
}

/// What the tasks of one run share.
#[derive(Clone)]
struct RunCtx {
    tenant: TenantId,
    run: RunId,
    graph: Arc<ProcessGraph>,
    /// The component definitions the version froze (or the catalog's, for a
    /// version from before freezing).
    components: Arc<Vec<ComponentType>>,
    /// Each node's values as the run resolved them; runs from before
    /// parameters use the nodes' own values.
    values: Arc<BTreeMap<String, Map<String, Value>>>,
    stop: watch::Receiver<Option<CancelMode>>,
}

impl RunCtx {
    fn component(&self, key: &ComponentKey) -> Option<&ComponentType> {
        self.components.iter().find(|c| &c.key == key)
    }

    fn values<'a>(&'a self, node: &'a Node) -> &'a Map<String, Value> {
        self.values.get(&node.id).unwrap_or(&node.params)
    }
}

/// A run this server drives: how its driver is asked to stop, the epoch
/// it holds the run under (once it has read it), and how it is told that
/// another server took the run over.
struct Driving {
    stop: watch::Sender<Option<CancelMode>>,
    epoch: Option<runs::Epoch>,
    lost: tokio_util::sync::CancellationToken,
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
    /// The runs this server drives.
    driving: Mutex<HashMap<RunId, Driving>>,
    /// Writes the drivers' state changes in batches (started on first use,
    /// inside the runtime).
    commit: std::sync::OnceLock<commit::Committer>,
    /// This server process, as the owner of the runs it drives.
    server_id: String,
    /// The Airflow deployment processes may choose to run on.
    airflow: std::sync::OnceLock<Arc<crate::airflow::Airflow>>,
    /// Each tenant's folder size, as last measured.
    usage: crate::quota::Usage,
}

impl Engine {
    pub fn new(db: Db, bus: EventBus, settings: EngineSettings) -> Self {
        let local = LocalExecutor::new(settings.trellis_bin.clone(), settings.log_limit)
            .with_limits(settings.process_limits)
            .with_log_watch(bus.logs().clone());
        let slots = Slots::new(settings.max_running, settings.max_running_per_tenant);
        let emr = Arc::new(crate::executors::emr::EmrExecutor::new(
            db.clone(),
            settings.sealer.clone(),
            settings.emr_polling,
            settings.outbound.clone(),
            settings.aws.clone(),
        ));
        Self {
            inner: Arc::new(Inner {
                db,
                bus,
                local,
                emr,
                settings,
                slots,
                driving: Mutex::new(HashMap::new()),
                commit: std::sync::OnceLock::new(),
                server_id: crate::db::new_id(),
                airflow: std::sync::OnceLock::new(),
                usage: Default::default(),
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
        for (tenant, limit) in crate::db::tenants::task_limits(&self.inner.db).await? {
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

    /// The database the engine stores runs in.
    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    /// The check on addresses tenants choose (data step URLs, AWS endpoints).
    pub fn outbound(&self) -> &crate::outbound::Guard {
        &self.inner.settings.outbound
    }

    /// How tenants' AWS accounts are reached.
    pub fn aws(&self) -> &crate::aws::Platform {
        &self.inner.settings.aws
    }

    pub fn stop_grace(&self) -> Duration {
        self.inner.settings.stop_grace
    }

    /// What an EMR step wrote (its `stderr`, `stdout`, and `controller`
    /// when it failed), read from its cluster's log location with the
    /// tenant's role, each part bounded like a local task's log.
    pub async fn emr_step_log(
        &self,
        tenant: &TenantId,
        step: &crate::executors::emr::StepRef,
        failed: bool,
    ) -> Result<String, String> {
        let limit = self.inner.settings.log_limit;
        self.inner.emr.step_log(tenant, step, failed, limit).await
    }

    /// Which of the S3 files `urls` the connection's role cannot read, with why.
    pub async fn emr_unreadable(
        &self,
        tenant: &TenantId,
        connection: &app::types::ConnectionId,
        urls: &[String],
    ) -> Result<Vec<(String, String)>, String> {
        self.inner.emr.unreadable(tenant, connection, urls).await
    }

    /// Where a task's log is written.
    pub fn log_path(&self, tenant: &TenantId, run: &RunId, task: &TaskKey) -> PathBuf {
        self.tenant_dir(tenant)
            .join("runs")
            .join(run.as_str())
            .join(format!("{task}.log"))
    }

    /// Starts driving a stored, queued run.
    pub fn launch(&self, tenant: TenantId, run: RunId) {
        let (tx, rx) = watch::channel(None);
        let lost = tokio_util::sync::CancellationToken::new();
        let driving = Driving {
            stop: tx,
            epoch: None,
            lost: lost.clone(),
        };
        self.driving().insert(run.clone(), driving);
        let engine = self.clone();
        let mine = rx.clone();
        tokio::spawn(async move {
            // The driver runs as a task of its own, so that this supervisor
            // sees it end however it ends — a panic included — and never
            // leaves its run active with nobody driving it.
            let mut driver = {
                let (engine, tenant, run) = (engine.clone(), tenant.clone(), run.clone());
                tokio::spawn(async move { engine.drive(&tenant, &run, rx).await })
            };
            let ended = tokio::select! {
                ended = &mut driver => Some(ended),
                _ = lost.cancelled() => {
                    driver.abort();
                    let _ = driver.await;
                    None
                }
            };
            let reason = match ended {
                None => {
                    engine.lost(&run, "another server took it over");
                    None
                }
                Some(Ok(Err(e))) if runs::fenced_in(&e) => {
                    engine.lost(&run, &format!("{e:#}"));
                    None
                }
                Some(Ok(Ok(()))) => None,
                Some(Ok(Err(e))) => Some(format!("{e:#}")),
                Some(Err(e)) if e.is_panic() => Some("its driver panicked".to_owned()),
                Some(Err(_)) => None, // the runtime is shutting down
            };
            if let Some(reason) = reason {
                tracing::error!(run = %run, error = %reason, "run driver failed; the run is given up");
                engine.give_up(&tenant, &run, &reason).await;
            }
            // A retry may have launched the run again meanwhile: its entry
            // is not this driver's to remove.
            let mut driving = engine.driving();
            if driving
                .get(&run)
                .is_some_and(|d| d.stop.subscribe().same_channel(&mine))
            {
                driving.remove(&run);
            }
        });
    }

    fn driving(&self) -> std::sync::MutexGuard<'_, HashMap<RunId, Driving>> {
        self.inner.driving.lock().expect("driving lock")
    }

    /// The epoch this server holds `run` under, when it drives it.
    fn fence(&self, run: &RunId) -> Option<runs::Epoch> {
        self.driving().get(run).and_then(|d| d.epoch)
    }

    /// A run this server drove was taken over by another: its driver has
    /// stopped writing; its local processes are killed (the new owner does
    /// not watch them, and must not see their work done twice).
    fn lost(&self, run: &RunId, why: &str) {
        let killed = self.inner.local.kill_run(run);
        tracing::warn!(run = %run, killed, why, "stopped driving a run another server took over");
    }

    /// Moves a task to `to` when the task state machine allows it from the
    /// state it is in, and publishes the change; whether it moved.
    async fn task(
        &self,
        tenant: &TenantId,
        run: &RunId,
        key: &TaskKey,
        to: TaskState,
        change: TaskChange<'_>,
    ) -> sqlx::Result<bool> {
        let fence = self.fence(run);
        self.task_fenced(tenant, run, key, to, change, fence).await
    }

    /// [`task`](Self::task) under the epoch `fence` (recovery writes under
    /// the epoch of its claim, before a driver holds it).
    async fn task_fenced(
        &self,
        tenant: &TenantId,
        run: &RunId,
        key: &TaskKey,
        to: TaskState,
        change: TaskChange<'_>,
        fence: Option<runs::Epoch>,
    ) -> sqlx::Result<bool> {
        let moves = [commit::Move::task(key, to, change)];
        Ok(self.write(tenant, run, &moves, fence).await?[0])
    }

    /// Moves a run to `to` when the run state machine allows it, and
    /// publishes the change; whether it moved. A run that ends here has its
    /// trace exported (every final state passes through here).
    async fn run_state(&self, tenant: &TenantId, run: &RunId, to: RunState) -> sqlx::Result<bool> {
        let fence = self.fence(run);
        let moves = [commit::Move::Run(to)];
        let moved = self.write(tenant, run, &moves, fence).await?[0];
        if moved && to.is_terminal() {
            crate::telemetry::run_ended(&self.inner.db, tenant, run);
        }
        Ok(moved)
    }

    /// Writes `moves` of `run` in order (in the next batch of state changes,
    /// see `commit`), trying again after passing database errors; whether
    /// each one moved. Their events are published once durable.
    async fn write(
        &self,
        tenant: &TenantId,
        run: &RunId,
        moves: &[commit::Move],
        fence: Option<runs::Epoch>,
    ) -> sqlx::Result<Vec<bool>> {
        let committer = self.inner.commit.get_or_init(|| {
            commit::Committer::spawn(self.inner.db.clone(), self.inner.bus.clone())
        });
        self.durably(|| committer.write(tenant, run, moves.to_vec(), fence))
            .await
    }

    /// Runs `write` until it succeeds, trying again after a transient
    /// database error (with a growing wait) for up to `db_retry`.
    async fn durably<T, W>(&self, mut write: impl FnMut() -> W) -> sqlx::Result<T>
    where
        W: std::future::Future<Output = sqlx::Result<T>>,
    {
        let started = std::time::Instant::now();
        let mut wait = Duration::from_millis(50);
        loop {
            match write().await {
                Err(e)
                    if self.inner.db.is_transient(&e)
                        && started.elapsed() < self.inner.settings.db_retry =>
                {
                    tracing::warn!(error = %e, ?wait, "the database refused a state change; trying again");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(5));
                }
                other => return other,
            }
        }
    }

    /// (pending →) queued → running (as attempt `attempt`), as a task that is
    /// about to start; a task recovery left queued skips the first step.
    async fn begin(
        &self,
        tenant: &TenantId,
        run: &RunId,
        key: &TaskKey,
        external_ref: Option<&str>,
        attempt: u32,
    ) -> sqlx::Result<bool> {
        let running = TaskChange {
            attempt: Some(i64::from(attempt)),
            external_ref,
            error: None,
        };
        // One write: both changes share a batch.
        let moves = [
            commit::Move::task(key, TaskState::Queued, TaskChange::default()),
            commit::Move::task(key, TaskState::Running, running),
        ];
        Ok(self.write(tenant, run, &moves, self.fence(run)).await?[1])
    }

    /// Records how a task's work ended.
    async fn finish(
        &self,
        tenant: &TenantId,
        run: &RunId,
        key: &TaskKey,
        outcome: &Outcome,
    ) -> sqlx::Result<bool> {
        let error = match outcome {
            Outcome::Failed { error } => Some(error.as_str()),
            _ => None,
        };
        let change = TaskChange {
            error,
            ..Default::default()
        };
        self.task(tenant, run, key, driver::ended(outcome), change)
            .await
    }

    /// Drives one run to its end, on Airflow or on this engine.
    async fn drive(
        &self,
        tenant: &TenantId,
        run: &RunId,
        stop: watch::Receiver<Option<CancelMode>>,
    ) -> anyhow::Result<()> {
        let db = &self.inner.db;
        // Every write of this driver is conditional on the epoch the run has
        // now; a run another server owns is that server's to drive.
        match runs::ownership(db, run).await? {
            Some((Some(owner), epoch)) if owner == self.server_id() => {
                if let Some(driving) = self.driving().get_mut(run) {
                    if driving.stop.subscribe().same_channel(&stop) {
                        driving.epoch = Some(epoch);
                    }
                }
            }
            Some((owner, _)) => {
                tracing::info!(run = %run, ?owner, "not driving a run another server owns");
                return Ok(());
            }
            None => anyhow::bail!("run {run} not found"),
        }
        let stored = runs::get(db, tenant, run)
            .await?
            .ok_or_else(|| anyhow::anyhow!("run {run} not found"))?;
        let version = processes::version_get(db, tenant, &stored.process, stored.version)
            .await?
            .ok_or_else(|| anyhow::anyhow!("version {} of run {run} not found", stored.version))?;
        if version.graph.orchestrator == Some(app::types::graph::Orchestrator::Airflow) {
            return self.drive_airflow(tenant, stored, version, stop).await;
        }
        let components = processes::components_of(db, &version).await?;
        let values = stored
            .resolved
            .as_ref()
            .map(|r| r.nodes.clone())
            .unwrap_or_default();
        let ctx = RunCtx {
            tenant: tenant.clone(),
            run: run.clone(),
            graph: Arc::new(version.graph),
            components: Arc::new(components),
            values: Arc::new(values),
            stop,
        };
        RunDriver::new(self.clone(), ctx, version.dag, &stored)
            .drive(&stored)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::{Policy, Timeout};
    use app::types::component::ComponentType;
    use std::time::Duration;

    fn component(timeout: Option<f64>) -> ComponentType {
        let mut c: ComponentType = serde_json::from_value(serde_json::json!({
            "key": "c", "name": "C", "category": "Testing",
            "retries": 2, "retry_delay_seconds": 1.5,
        }))
        .unwrap();
        c.timeout_seconds = timeout;
        c
    }

    #[test]
    fn components_may_lower_the_platform_timeout_never_raise_it() {
        let platform = Duration::from_secs(600);
        let timeout = |c: Option<&ComponentType>| Policy::of(c, platform).timeout;
        let own = |seconds| Timeout {
            seconds,
            platform: false,
        };
        let capped = Timeout {
            seconds: 600.0,
            platform: true,
        };
        assert_eq!(timeout(Some(&component(Some(30.0)))), own(30.0));
        assert_eq!(timeout(Some(&component(None))), capped);
        assert_eq!(timeout(Some(&component(Some(7.0 * 86400.0)))), capped);
        assert_eq!(timeout(Some(&component(Some(f64::NAN)))), capped);
        assert_eq!(timeout(None), capped, "a missing component still times out");

        let policy = Policy::of(Some(&component(None)), platform);
        assert_eq!((policy.retries, policy.delay), (2, 1.5));
        assert_eq!(Policy::of(None, platform).retries, 0);
    }

    #[test]
    fn a_timeout_says_whose_it_is() {
        let own = Timeout {
            seconds: 0.5,
            platform: false,
        };
        let platform = Timeout {
            seconds: 21600.0,
            platform: true,
        };
        assert_eq!(own.to_string(), "0.5 s");
        assert_eq!(
            platform.to_string(),
            "21600 s (the platform's task timeout)"
        );
    }
}
