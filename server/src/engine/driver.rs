//! One run on the embedded engine, from `Queued` to its end: the driver
//! keeps every task's state in memory, starts ready tasks (a submit waits
//! for a slot), records what the watches report, cancels what has not
//! started when the run is stopped, and ends the run with `PExit`.

use super::commit::Move;
use super::slots::Slot;
use super::start::{Started, Work};
use super::{Engine, RunCtx};
use crate::db::runs::TaskChange;
use crate::executors::emr::StepRef;
use crate::executors::{CancelMode, ExternalRef, Outcome};
use app::api::runs::{Run, TaskRun};
use app::types::dag::{submit_key, watch_key, Dag, DagTask};
use app::types::{RunState, TaskKey, TaskKind, TaskState};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::watch;
use tokio::task::{JoinError, JoinSet};

/// What a watch hands back when its work ended: the watch task, how the
/// work ended, and the slot it held (freed once the end is recorded).
pub(super) type Watched = (TaskKey, Outcome, Option<Slot>);

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
    /// When each submit waiting for a slot was queued (for its queue wait).
    queued_at: HashMap<TaskKey, Instant>,
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
            queued_at: HashMap::new(),
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
                Some(done) = self.watching.join_next() => self.watched_ready(done).await?,
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

    /// Looks at every task once: skips those that can never run, and starts
    /// every ready one at once (a submit only with a slot free now), so their
    /// state changes share batches. When none could start but a submit
    /// waits for a slot, waits for one (recording other tasks' ends
    /// meanwhile) and starts it. Whether any task moved on (or the run was
    /// stopped meanwhile).
    async fn advance(&mut self) -> anyhow::Result<bool> {
        let dag = self.dag.clone();
        let mut progressed = false;
        let mut ready: Vec<(&DagTask, Option<Slot>)> = Vec::new();
        let mut waiting: Vec<&DagTask> = Vec::new();
        for task in dag.tasks.iter().filter(|t| t.kind != TaskKind::Exit) {
            let state = self.states[&task.key];
            if !matches!(state, TaskState::Pending | TaskState::Queued) {
                continue;
            }
            let deps: Vec<TaskState> = task.depends_on.iter().map(|d| self.states[d]).collect();
            if deps.iter().any(|s| unsuccessful(*s)) {
                // Only a task that never queued is skipped.
                if state == TaskState::Pending && self.set(&task.key, TaskState::Skipped).await? {
                    self.states.insert(task.key.clone(), TaskState::Skipped);
                    progressed = true;
                }
                continue;
            }
            if !deps.iter().all(|s| *s == TaskState::Succeeded) {
                continue;
            }
            match task.kind {
                TaskKind::Submit => match self.engine.inner.slots.try_acquire(&self.ctx.tenant) {
                    Some(slot) => ready.push((task, Some(slot))),
                    None => waiting.push(task),
                },
                // A watch holds its node's slot until the work ends.
                TaskKind::Watch => {
                    let slot = task.node.as_ref().and_then(|n| self.held.remove(n));
                    ready.push((task, slot));
                }
                _ => ready.push((task, None)),
            }
        }
        // Submits without a slot are queued until one is free.
        let pending: Vec<&DagTask> = waiting
            .iter()
            .copied()
            .filter(|t| self.states[&t.key] == TaskState::Pending)
            .collect();
        if !pending.is_empty() {
            self.queue(&pending).await?;
        }
        if ready.is_empty() {
            let Some((first, others)) = waiting.split_first() else {
                return Ok(progressed);
            };
            // Nothing could start: wait for a slot, or for work to end.
            let Some(slot) = self.acquire_slot().await? else {
                return Ok(true);
            };
            ready.push((first, Some(slot)));
            let slots = self.engine.inner.slots.clone();
            for task in others {
                let Some(slot) = slots.try_acquire(&self.ctx.tenant) else {
                    break;
                };
                ready.push((task, Some(slot)));
            }
        }
        self.start_all(ready).await?;
        Ok(true)
    }

    /// Moves `tasks` from pending to queued, in one write.
    async fn queue(&mut self, tasks: &[&DagTask]) -> anyhow::Result<()> {
        let moves: Vec<Move> = tasks
            .iter()
            .map(|t| Move::task(&t.key, TaskState::Queued, TaskChange::default()))
            .collect();
        let fence = self.engine.fence(&self.ctx.run);
        let moved = self
            .engine
            .write(&self.ctx.tenant, &self.ctx.run, &moves, fence)
            .await?;
        for (task, moved) in tasks.iter().zip(moved) {
            if moved {
                self.states.insert(task.key.clone(), TaskState::Queued);
                self.queued_at.insert(task.key.clone(), Instant::now());
            }
        }
        Ok(())
    }

    /// Starts `ready` tasks together and records what each start did.
    async fn start_all(&mut self, ready: Vec<(&DagTask, Option<Slot>)>) -> anyhow::Result<()> {
        let mut starts = Vec::with_capacity(ready.len());
        let executor = if self.ctx.graph.emr_connection().is_some() {
            "emr"
        } else {
            "local"
        };
        for (task, _) in &ready {
            if let (TaskKind::Submit, Some(node)) = (task.kind, &task.node) {
                let waited = self.queued_at.remove(&task.key).map(|at| at.elapsed());
                let component = self.ctx.graph.node(node).map(|n| n.component.to_string());
                crate::metrics::task_waited(
                    component.as_deref().unwrap_or("unknown"),
                    executor,
                    waited.unwrap_or_default(),
                );
            }
            let attempt = self.next_attempt(task);
            self.attempts.insert(task.key.clone(), attempt);
            let watched = match (task.kind, &task.node) {
                (TaskKind::Watch, Some(node)) => self.refs.get(node).cloned(),
                _ => None,
            };
            starts.push(self.engine.start_task(&self.ctx, task, attempt, watched));
        }
        let started = futures::future::join_all(starts).await;
        for ((task, slot), started) in ready.into_iter().zip(started) {
            let node = task.node.clone().unwrap_or_default();
            match started? {
                Started::Ended(state) => {
                    self.states.insert(task.key.clone(), state);
                }
                Started::Submitted(external) => {
                    self.refs.insert(node.clone(), external);
                    self.states.insert(task.key.clone(), TaskState::Succeeded);
                    if let Some(slot) = slot {
                        self.held.insert(node, slot);
                    }
                }
                Started::Watching(external) => {
                    self.states.insert(task.key.clone(), TaskState::Running);
                    let work = Work {
                        key: task.key.clone(),
                        node,
                        external,
                        attempt: self.attempts[&task.key],
                        slot,
                    };
                    self.engine
                        .follow(&self.ctx, work, &mut self.watching)
                        .await?;
                }
            }
        }
        Ok(())
    }

    /// The attempt `task` starts as. A node's submit counts on from the
    /// node's latest attempt (its watch's, whose retries submit again): a
    /// retried run's nodes never repeat an attempt, nor an EMR step name.
    /// A watch follows the attempt its submit started, or the later one it
    /// recorded itself (a retry's, queued when its server stopped); PEntry
    /// and PExit count their own.
    fn next_attempt(&self, task: &DagTask) -> u32 {
        let of = |key: &TaskKey| self.attempts.get(key).copied().unwrap_or(0);
        match (task.kind, task.node.as_deref()) {
            (TaskKind::Submit, Some(node)) => of(&submit_key(node)).max(of(&watch_key(node))) + 1,
            (TaskKind::Watch, Some(node)) => of(&submit_key(node)).max(of(&task.key)).max(1),
            _ => of(&task.key) + 1,
        }
    }

    /// Waits for a slot, or for watched work to end (recorded, with every
    /// other end that is in: their slots are free again), or for a stop;
    /// `None` unless a slot came. Giving up the wait frees a slot granted
    /// meanwhile.
    async fn acquire_slot(&mut self) -> anyhow::Result<Option<Slot>> {
        let (slots, tenant) = (self.engine.inner.slots.clone(), self.ctx.tenant.clone());
        tokio::select! {
            slot = slots.acquire(&tenant) => Ok(Some(slot)),
            Some(done) = self.watching.join_next() => {
                self.watched_ready(done).await?;
                Ok(None)
            }
            _ = self.stop.changed() => Ok(None),
        }
    }

    /// Records `done` and every other watched end that is in, together.
    async fn watched_ready(&mut self, done: Result<Watched, JoinError>) -> anyhow::Result<()> {
        let mut ends = vec![done];
        while let Some(more) = self.watching.try_join_next() {
            ends.push(more);
        }
        self.watched_all(ends).await
    }

    /// Records how watched tasks ended, together; their slots are freed
    /// only afterwards.
    async fn watched_all(&mut self, ends: Vec<Result<Watched, JoinError>>) -> anyhow::Result<()> {
        let ends = ends
            .into_iter()
            .collect::<Result<Vec<Watched>, JoinError>>()?;
        let (tenant, run) = (&self.ctx.tenant, &self.ctx.run);
        let engine = &self.engine;
        let finished = futures::future::join_all(
            ends.iter()
                .map(|(key, outcome, _)| engine.finish(tenant, run, key, outcome)),
        )
        .await;
        for ((key, outcome, _slot), moved) in ends.into_iter().zip(finished) {
            if moved? {
                self.states.insert(key, ended(&outcome));
            }
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
