//! Starting one ready task: entry and exit are bookkeeping, a submit starts
//! the node's work through its executor, a watch follows that work.

use super::driver::Watched;
use super::slots::Slot;
use super::{Engine, Policy, RunCtx};
use crate::db::runs::TaskChange;
use crate::executors::emr::{StepSpec, StepSubmit};
use crate::executors::render::render_args;
use crate::executors::{Executor, ExternalRef, Outcome, TaskSpec};
use app::types::component::ComponentType;
use app::types::dag::DagTask;
use app::types::graph::Node;
use app::types::{ConnectionId, RunId, TaskKey, TaskKind, TaskState, TenantId};
use serde_json::{Map, Value};
use tokio::task::JoinSet;

/// The name of attempt `attempt` of a node's EMR step. Unique per run, task
/// and attempt, so a submit interrupted by a crash can find its step again.
pub fn step_name(run: &RunId, node: &str, attempt: u32) -> String {
    format!(
        "trellis:{run}:{}:{attempt}",
        app::types::dag::submit_key(node)
    )
}

/// Crash tests: with `TRELLIS_FAULT=<point>` the server aborts at that point
/// of the submit path (`emr-before-submit`, `emr-after-submit`,
/// `emr-after-record`) or of a schedule's fire (`schedule-after-fire`: the
/// run is stored, not yet started), as a kill would stop it there.
pub(crate) fn fault(point: &str) {
    static FAULT: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    if FAULT
        .get_or_init(|| std::env::var("TRELLIS_FAULT").ok())
        .as_deref()
        == Some(point)
    {
        eprintln!("TRELLIS_FAULT: aborting at {point}");
        std::process::abort();
    }
}

/// What adding attempt `attempt` of `node` as an EMR step needs, or why
/// it cannot run on EMR.
fn step_spec(
    run: &RunId,
    node: &Node,
    values: &Map<String, Value>,
    attempt: u32,
    component: &ComponentType,
    connection: &ConnectionId,
) -> Result<StepSubmit, String> {
    let Some(emr) = component.emr.as_ref() else {
        return Err(format!("component `{}` cannot run on EMR", component.key));
    };
    let args = render_args(component, &emr.args, values).map_err(|e| e.to_string())?;
    Ok(StepSubmit {
        connection: connection.clone(),
        step: StepSpec {
            name: step_name(run, &node.id, attempt),
            jar: emr.jar.clone(),
            args,
            action_on_failure: emr.action_on_failure.clone(),
        },
    })
}

/// A node's submitted work to follow: its watch task, the attempt the work
/// is (later attempts count on from it), and the slot it holds.
pub(super) struct Work {
    pub key: TaskKey,
    pub node: String,
    pub external: ExternalRef,
    pub attempt: u32,
    pub slot: Option<Slot>,
}

impl Engine {
    /// Starts attempt `attempt` of node `node`'s work; the outcome of
    /// starting it, and its reference.
    pub(super) async fn submit(
        &self,
        ctx: &RunCtx,
        node: &str,
        attempt: u32,
    ) -> anyhow::Result<Result<ExternalRef, String>> {
        let (tenant, run) = (&ctx.tenant, &ctx.run);
        let Some(node) = ctx.graph.node(node) else {
            return Ok(Err(format!("node `{node}` is not in the version")));
        };
        let Some(component) = ctx.component(&node.component) else {
            return Ok(Err(format!(
                "component `{}` is not in the catalog",
                node.component
            )));
        };
        let values = ctx.values(node);
        if let Some(connection) = ctx.graph.emr_connection() {
            let spec = match step_spec(run, node, values, attempt, component, connection) {
                Ok(spec) => spec,
                Err(e) => return Ok(Err(e)),
            };
            fault("emr-before-submit");
            let submitted = self.inner.emr.tenant(tenant).submit(&spec).await;
            fault("emr-after-submit");
            return Ok(submitted.map(ExternalRef::Emr).map_err(|e| e.to_string()));
        }
        let mut spec = match self.task_spec(tenant, run, node, values, component) {
            Ok(spec) => spec,
            Err(e) => return Ok(Err(e)),
        };
        if let Some(allowance) = self.allowance(tenant).await? {
            spec.env.extend(allowance.env());
        }
        if let Some(connection) = &ctx.graph.connection {
            // Steps on this server reach the tenant's S3 data as the
            // connection's role, with credentials assumed for this start.
            match self.inner.emr.access(tenant, connection).await {
                Ok((target, assumed)) => {
                    spec.env
                        .extend(crate::aws::step_env(connection.as_str(), &target, &assumed))
                }
                Err(e) => return Ok(Err(format!("connection `{connection}`: {e}"))),
            }
        }
        Ok(self
            .inner
            .local
            .submit(&spec)
            .await
            .map_err(|e| e.to_string()))
    }

    /// What running `node` as a local process needs, or why it cannot.
    fn task_spec(
        &self,
        tenant: &TenantId,
        run: &RunId,
        node: &Node,
        values: &Map<String, Value>,
        component: &ComponentType,
    ) -> Result<TaskSpec, String> {
        let Some(local) = component.local.as_ref() else {
            return Err(format!(
                "component `{}` cannot run on the embedded engine",
                component.key
            ));
        };
        let args = render_args(component, &local.args, values).map_err(|e| e.to_string())?;
        let tenant_dir = self.tenant_dir(tenant);
        let settings = &self.inner.settings;
        Ok(TaskSpec {
            program: local.program.clone(),
            args,
            env: vec![
                ("TRELLIS_RUN".into(), run.to_string()),
                ("TRELLIS_NODE".into(), node.id.clone()),
                (
                    "TRELLIS_TENANT_DIR".into(),
                    tenant_dir.display().to_string(),
                ),
                (
                    "TRELLIS_FETCH_MAX_BYTES".into(),
                    settings.fetch_max_bytes.to_string(),
                ),
                (
                    "TRELLIS_FETCH_TIMEOUT_SECONDS".into(),
                    settings.fetch_timeout.as_secs_f64().to_string(),
                ),
                (
                    crate::outbound::SETTING.into(),
                    settings.outbound.allow().to_string(),
                ),
            ]
            .into_iter()
            .chain(settings.sql_limits.env())
            .collect(),
            workdir: tenant_dir.join("work"),
            log_path: self.log_path(tenant, run, &app::types::dag::submit_key(&node.id)),
            run: Some(run.clone()),
        })
    }

    /// Follows a node's submitted work to its end (with its component's
    /// retries, and its timeout under the platform's) in `watching`.
    pub(super) async fn follow(
        &self,
        ctx: &RunCtx,
        work: Work,
        watching: &mut JoinSet<Watched>,
    ) -> anyhow::Result<()> {
        let component = ctx
            .graph
            .node(&work.node)
            .and_then(|n| ctx.component(&n.component));
        let policy = Policy::of(component, self.inner.settings.task_timeout);
        let (engine, ctx) = (self.clone(), ctx.clone());
        watching.spawn(async move {
            let outcome = engine
                .watch_with_retries(
                    &ctx,
                    &work.key,
                    &work.node,
                    work.external,
                    work.attempt,
                    policy,
                )
                .await;
            (work.key, outcome, work.slot)
        });
        Ok(())
    }

    /// Starts one ready task (attempt `attempt`; a watch follows the work
    /// `watched` its submit started). Needs nothing of the driver's but
    /// what it is given, so a driver starts all its ready tasks at once
    /// and their state changes share batches; the driver applies what it
    /// answers.
    pub(super) async fn start_task(
        &self,
        ctx: &RunCtx,
        task: &DagTask,
        attempt: u32,
        watched: Option<ExternalRef>,
    ) -> anyhow::Result<Started> {
        let node = task.node.clone().unwrap_or_default();
        let noted = watched.as_ref().map(ToString::to_string);
        let began = self
            .begin(&ctx.tenant, &ctx.run, &task.key, noted.as_deref(), attempt)
            .await?;
        if !began {
            // Only this driver moves its run's tasks; one it cannot start
            // was moved by another writer, and its work must not run twice.
            anyhow::bail!(
                "task {} of run {} was moved by another writer; this driver stops",
                task.key,
                ctx.run
            );
        }
        let outcome = match task.kind {
            TaskKind::Entry | TaskKind::Exit => Outcome::Succeeded,
            TaskKind::Submit => match self.submit(ctx, &node, attempt).await? {
                Ok(external) => {
                    let text = external.to_string();
                    let change = TaskChange {
                        external_ref: Some(&text),
                        ..Default::default()
                    };
                    self.task(
                        &ctx.tenant,
                        &ctx.run,
                        &task.key,
                        TaskState::Succeeded,
                        change,
                    )
                    .await?;
                    fault("emr-after-record");
                    return Ok(Started::Submitted(external));
                }
                Err(error) => Outcome::Failed { error },
            },
            TaskKind::Watch => match watched {
                Some(external) => return Ok(Started::Watching(external)),
                None => Outcome::Failed {
                    error: format!("node `{node}` has no recorded process to watch"),
                },
            },
        };
        self.finish(&ctx.tenant, &ctx.run, &task.key, &outcome)
            .await?;
        Ok(Started::Ended(super::driver::ended(&outcome)))
    }
}

/// What starting a task did.
pub(super) enum Started {
    /// It ended at once in this state (bookkeeping, or a failed start).
    Ended(TaskState),
    /// A submit started this work; its watch follows it next.
    Submitted(ExternalRef),
    /// A watch is to follow this work.
    Watching(ExternalRef),
}
