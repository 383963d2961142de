//! One run on the embedded engine, from `Queued` to its end: the driver
//! keeps every task's state in memory, starts ready tasks (a submit waits
//! for a slot), records what the watches report, cancels what has not
//! started when the run is stopped, and ends the run with `PExit`.

use super::slots::Slot;
use super::start::{Ready, Work};
use super::{Engine, RunCtx};
use crate::db::runs::TaskChange;
use crate::executors::emr::StepRef;
use crate::executors::{CancelMode, ExternalRef, Outcome};
use app::api::runs::{Run, TaskRun};
use app::types::dag::{submit_key, watch_key, Dag, DagTask};
use app::types::{RunState, TaskKey, TaskKind, TaskState};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::watch;
use tokio::task::{JoinError, JoinSet};

/// What a watch hands back when its work ended: the watch task, how the
/// work ended, and the slot it held (freed once the end is recorded).
pub(super) type Watched = (TaskKey, Outcome, Option<Slot>);

/// What looking at one task did.
enum Step {
    /// Nothing: the task is not ready, or not waiting.
    Idle,
    /// The task moved on.
    Progressed,
    /// The run was stopped while the task waited for a slot.
    Stopped,
}

pub(super) struct RunDriver {
    engine: Engine,
    ctx: RunCtx,
    dag: Arc<Dag>,
    /// Every task's state as this driver last stored it.
    states: HashMap<TaskKey, TaskState>,
    /// Every task's latest attempt, as stored when the driver began (a
    /// retried run's tasks count on from there) and as it started them.
    attempts: HashMap<TaskKey, u32>,
    /// The work each node's submit started, by node.
    refs: HashMap<String, ExternalRef>,
    /// Slots taken by a node's submit, until its watch takes them over.
    held: HashMap<String, Slot>,
    watching: JoinSet<Watched>,
    stop: watch::Receiver<Option<CancelMode>>,
}

impl RunDriver {
    pub(super) fn new(engine: Engine, ctx: RunCtx, dag: Dag, stored: &Run) -> Self {
        let states = stored
            .tasks
            .iter()
            .map(|t| (t.key.clone(), t.state))
            .collect();
        let attempts = stored
            .tasks
            .iter()
            .map(|t| (t.key.clone(), u32::try_from(t.attempt).unwrap_or(0)))
            .collect();
        // What earlier submits started (this server's, or one that stopped).
        let mut refs = HashMap::new();
        for t in &stored.tasks {
            let step = t.external_ref.as_deref().and_then(StepRef::parse);
            if let (TaskKind::Submit, Some(node), Some(step)) = (t.kind, &t.node, step) {
                refs.entry(node.clone()).or_insert(ExternalRef::Emr(step));
            }
        }
        let stop = ctx.stop.clone();
        Self {
            engine,
            ctx,
            dag: Arc::new(dag),
            states,
            attempts,
            refs,
            held: HashMap::new(),
            watching: JoinSet::new(),
            stop,
        }
    }

    /// Drives the run to its end.
    pub(super) async fn drive(mut self, stored: &Run) -> anyhow::Result<()> {
        self.recover_watches(&stored.tasks).await?;
        self.engine
            .run_state(&self.ctx.tenant, &self.ctx.run, RunState::Running)
            .await?;
        loop {
            // A stop cancels what has not started; running work is cancelled
            // by its watch (see `follow`).
            if self.stop.borrow_and_update().is_some() {
                self.cancel_waiting().await?;
            }
            if self.advance().await? {
                continue;
            }
            if self.watching.is_empty() {
                break;
            }
            tokio::select! {
                Some(done) = self.watching.join_next() => self.watched(done).await?,
                _ = self.stop.changed() => {}
            }
        }
        self.end().await
    }

    /// EMR steps a stopped server was watching: follows them again (their
    /// latest attempt is on the watch task).
    async fn recover_watches(&mut self, tasks: &[TaskRun]) -> anyhow::Result<()> {
        let running = tasks
            .iter()
            .filter(|t| t.kind == TaskKind::Watch && t.state == TaskState::Running);
        for t in running {
            let (Some(node), Some(step)) =
                (&t.node, t.external_ref.as_deref().and_then(StepRef::parse))
            else {
                continue;
            };
            let slot = self.engine.inner.slots.acquire(&self.ctx.tenant).await;
            self.refs
                .insert(node.clone(), ExternalRef::Emr(step.clone()));
            let work = Work {
                key: t.key.clone(),
                node: node.clone(),
                external: ExternalRef::Emr(step),
                attempt: u32::try_from(t.attempt).unwrap_or(1).max(1),
                slot: Some(slot),
            };
            self.engine
                .follow(&self.ctx, work, &mut self.watching)
                .await?;
        }
        Ok(())
    }

    /// Cancels every task that is still waiting to start (`PExit` aside).
    async fn cancel_waiting(&mut self) -> anyhow::Result<()> {
        let dag = self.dag.clone();
        for task in dag.tasks.iter().filter(|t| t.kind != TaskKind::Exit) {
            if matches!(
                self.states[&task.key],
                TaskState::Pending | TaskState::Queued
            ) && self.set(&task.key, TaskState::Cancelled).await?
            {
                self.states.insert(task.key.clone(), TaskState::Cancelled);
            }
        }
        Ok(())
    }

    /// Looks at every task once; whether any moved on (or the run was
    /// stopped meanwhile).
    async fn advance(&mut self) -> anyhow::Result<bool> {
        let dag = self.dag.clone();
        let mut progressed = false;
        for task in dag.tasks.iter().filter(|t| t.kind != TaskKind::Exit) {
            match self.advance_task(task).await? {
                Step::Idle => {}
                Step::Progressed => progressed = true,
                Step::Stopped => return Ok(true),
            }
        }
        Ok(progressed)
    }

    /// Skips a waiting task whose upstream did not succeed, or starts it
    /// once every upstream succeeded.
    async fn advance_task(&mut self, task: &DagTask) -> anyhow::Result<Step> {
        let state = self.states[&task.key];
        if !matches!(state, TaskState::Pending | TaskState::Queued) {
            return Ok(Step::Idle);
        }
        let deps: Vec<TaskState> = task.depends_on.iter().map(|d| self.states[d]).collect();
        if deps.iter().any(|s| unsuccessful(*s)) {
            // Only a task that never queued is skipped.
            if state == TaskState::Pending && self.set(&task.key, TaskState::Skipped).await? {
                self.states.insert(task.key.clone(), TaskState::Skipped);
                return Ok(Step::Progressed);
            }
            return Ok(Step::Idle);
        }
        if !deps.iter().all(|s| *s == TaskState::Succeeded) {
            return Ok(Step::Idle);
        }
        let node = task.node.clone().unwrap_or_default();
        if task.kind == TaskKind::Submit {
            // Queued until a slot is free (or the run is stopped).
            if state == TaskState::Pending {
                self.set(&task.key, TaskState::Queued).await?;
            }
            self.states.insert(task.key.clone(), TaskState::Queued);
            let Some(slot) = self.acquire_slot().await? else {
                return Ok(Step::Stopped);
            };
            self.held.insert(node.clone(), slot);
        }
        // A watch holds its node's slot until the work ends.
        let slot = match task.kind {
            TaskKind::Watch => self.held.remove(&node),
            _ => None,
        };
        let attempt = self.next_attempt(task);
        self.attempts.insert(task.key.clone(), attempt);
        let ready = Ready {
            task,
            attempt,
            slot,
        };
        let state = self
            .engine
            .start(&self.ctx, ready, &mut self.refs, &mut self.watching)
            .await?;
        if state.is_terminal() && state != TaskState::Succeeded {
            self.held.remove(&node);
        }
        self.states.insert(task.key.clone(), state);
        Ok(Step::Progressed)
    }

    /// The attempt `task` starts as. A node's submit counts on from the
    /// node's latest attempt (its watch's, whose retries submit again): a
    /// retried run's nodes never repeat an attempt, nor an EMR step name.
    /// A watch follows the attempt its submit started; PEntry and PExit
    /// count their own.
    fn next_attempt(&self, task: &DagTask) -> u32 {
        let of = |key: &TaskKey| self.attempts.get(key).copied().unwrap_or(0);
        match (task.kind, task.node.as_deref()) {
            (TaskKind::Submit, Some(node)) => of(&submit_key(node)).max(of(&watch_key(node))) + 1,
            (TaskKind::Watch, Some(node)) => of(&submit_key(node)).max(1),
            _ => of(&task.key) + 1,
        }
    }

    /// Waits for a slot, recording other tasks' ends meanwhile; `None` when
    /// the run is stopped first.
    async fn acquire_slot(&mut self) -> anyhow::Result<Option<Slot>> {
        let (slots, tenant) = (self.engine.inner.slots.clone(), self.ctx.tenant.clone());
        let acquire = slots.acquire(&tenant);
        tokio::pin!(acquire);
        loop {
            tokio::select! {
                slot = &mut acquire => return Ok(Some(slot)),
                Some(done) = self.watching.join_next() => self.watched(done).await?,
                _ = self.stop.changed() => return Ok(None),
            }
        }
    }

    /// Records how a watched task ended; its slot is freed only afterwards.
    async fn watched(&mut self, done: Result<Watched, JoinError>) -> anyhow::Result<()> {
        let (key, outcome, _slot) = done?;
        let (tenant, run) = (&self.ctx.tenant, &self.ctx.run);
        if self.engine.finish(tenant, run, &key, &outcome).await? {
            self.states.insert(key, ended(&outcome));
        }
        Ok(())
    }

    /// `PExit` always runs, and decides how the run ends.
    async fn end(&mut self) -> anyhow::Result<()> {
        let (tenant, run) = (&self.ctx.tenant, &self.ctx.run);
        let engine = &self.engine;
        let exit = self
            .dag
            .tasks
            .iter()
            .find(|t| t.kind == TaskKind::Exit)
            .expect("every DAG has an exit");
        let attempt = self.next_attempt(exit);
        engine.begin(tenant, run, &exit.key, None, attempt).await?;
        engine
            .finish(tenant, run, &exit.key, &Outcome::Succeeded)
            .await?;
        if self.stop.borrow().is_none() {
            let failed = self.states.values().any(|s| unsuccessful(*s));
            let to = if failed {
                RunState::Failed
            } else {
                RunState::Succeeded
            };
            if engine.run_state(tenant, run, to).await? {
                return Ok(());
            }
            // A stop arrived after the last task ended.
        }
        engine.run_state(tenant, run, RunState::Cancelled).await?;
        Ok(())
    }

    /// Moves one task of this run to `to`, if the state machine allows it.
    async fn set(&self, key: &TaskKey, to: TaskState) -> sqlx::Result<bool> {
        let (tenant, run) = (&self.ctx.tenant, &self.ctx.run);
        self.engine
            .task(tenant, run, key, to, TaskChange::default())
            .await
    }
}

/// A task that ended without succeeding: its downstream is skipped and its
/// run fails.
pub(super) fn unsuccessful(state: TaskState) -> bool {
    matches!(
        state,
        TaskState::Failed | TaskState::Skipped | TaskState::Cancelled
    )
}

/// The state a task ends in after `outcome`.
pub(super) fn ended(outcome: &Outcome) -> TaskState {
    match outcome {
        Outcome::Succeeded => TaskState::Succeeded,
        Outcome::Failed { .. } => TaskState::Failed,
        Outcome::Cancelled => TaskState::Cancelled,
    }
}
