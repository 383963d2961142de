//! Taking over runs that a killed server left unfinished.

use super::Engine;
use crate::db::processes;
use crate::db::runs::{self, TaskChange};
use crate::executors::local::ProcessRef;
use app::types::{RunId, RunState, TaskKey, TaskKind, TaskState, TenantId};

impl Engine {
    /// Takes over the runs a stopped server process left unfinished (see
    /// `lease`; call `heartbeat` first). Work
    /// that was started then cannot be watched by this process (it is not our
    /// child): it is stopped and its task failed with a clear error, so no
    /// work is ever submitted twice; `PEntry` and `PExit`, which only record,
    /// run again; the rest of each run then continues and ends as usual
    /// (`PExit` runs). Answers how many runs were resumed.
    pub async fn recover(&self) -> anyhow::Result<usize> {
        let db = &self.inner.db;
        let inflight = runs::claim_orphans(db, self.server_id()).await?;
        for (tenant, run, epoch) in &inflight {
            match self.resume(tenant, run, *epoch).await {
                Err(e) if runs::fenced_in(&e) => {
                    tracing::info!(run = %run, "another server claimed the run meanwhile");
                }
                other => other?,
            }
        }
        Ok(inflight.len())
    }

    /// Makes a claimed run drivable again (see [`recover`](Self::recover))
    /// and launches it. Written under the epoch of this claim: a server
    /// that claimed the run after this one did wins.
    async fn resume(
        &self,
        tenant: &TenantId,
        run: &RunId,
        epoch: runs::Epoch,
    ) -> anyhow::Result<()> {
        let db = &self.inner.db;
        let fence = Some(epoch);
        let Some(stored) = runs::get(db, tenant, run).await? else {
            return Ok(());
        };
        let connection = processes::version_get(db, tenant, &stored.process, stored.version)
            .await?
            .and_then(|v| v.graph.emr_connection().cloned());
        for task in &stored.tasks {
            if let Some(connection) = &connection {
                // EMR steps outlive this server: watches resume on their
                // recorded steps (see `drive`), and a submit that was under
                // way adopts its step if EMR has it, or submits it now.
                if task.kind == TaskKind::Submit && task.state == TaskState::Running {
                    self.resume_submit(tenant, run, task, connection, fence)
                        .await?;
                    continue;
                }
                if task.kind == TaskKind::Watch && task.state == TaskState::Running {
                    continue;
                }
            }
            let unfinished = |key: &TaskKey| {
                stored
                    .tasks
                    .iter()
                    .any(|t| t.key == *key && !t.state.is_terminal())
            };
            // A node's first attempt is on its submit, a retry's on its
            // watch.
            let orphan = match task.kind {
                TaskKind::Submit => task
                    .node
                    .as_deref()
                    .is_some_and(|n| unfinished(&app::types::dag::watch_key(n))),
                TaskKind::Watch => !task.state.is_terminal(),
                _ => false,
            };
            // Only the very process recorded: not one on another
            // host, nor one that has reused its PID since.
            if let (true, Some(process)) = (
                orphan,
                task.external_ref.as_deref().and_then(ProcessRef::parse),
            ) {
                process.kill_if_running_here();
            }
            if task.state == TaskState::UpForRetry {
                // Its next attempt was never submitted; the driver takes it from the queue.
                let change = TaskChange::default();
                self.task_fenced(tenant, run, &task.key, TaskState::Queued, change, fence)
                    .await?;
            }
            if task.state == TaskState::Running
                && matches!(task.kind, TaskKind::Entry | TaskKind::Exit)
            {
                // `PEntry` and `PExit` only record the run's start and end,
                // with no work outside this server: they are done again
                // (a failed `PExit` would fail a run whose tasks succeeded).
                for to in [TaskState::UpForRetry, TaskState::Queued] {
                    self.task_fenced(tenant, run, &task.key, to, TaskChange::default(), fence)
                        .await?;
                }
                continue;
            }
            if task.state == TaskState::Running {
                let error = format!(
                    "Trellis restarted while this task was running; its work{} was stopped and its outcome is unknown",
                    task.external_ref.as_deref().map(|r| format!(" ({r})")).unwrap_or_default()
                );
                let change = TaskChange {
                    error: Some(&error),
                    ..Default::default()
                };
                self.task_fenced(tenant, run, &task.key, TaskState::Failed, change, fence)
                    .await?;
            }
        }
        tracing::info!(run = %run, "resuming a run left unfinished by a previous server");
        self.launch(tenant.clone(), run.clone());
        Ok(())
    }

    /// A submit to EMR that a stopped server left under way: adopt the step
    /// EMR already has under the attempt's name, or queue the submit again
    /// when EMR has none — so no step is ever added twice.
    async fn resume_submit(
        &self,
        tenant: &app::types::TenantId,
        run: &RunId,
        task: &app::api::runs::TaskRun,
        connection: &app::types::ConnectionId,
        fence: Option<runs::Epoch>,
    ) -> anyhow::Result<()> {
        let Some(node) = task.node.as_deref() else {
            return Ok(());
        };
        let attempt = u32::try_from(task.attempt).unwrap_or(1).max(1);
        let name = super::start::step_name(run, node, attempt);
        let found = self
            .inner
            .emr
            .find(tenant, connection, &name)
            .await
            .map_err(|e| anyhow::anyhow!("looking for step {name}: {e}"))?;
        match found {
            Some(step) => {
                tracing::info!(%run, %name, step = %step, "adopting an EMR step submitted before the restart");
                let text = step.to_string();
                let change = TaskChange {
                    external_ref: Some(&text),
                    ..Default::default()
                };
                self.task_fenced(tenant, run, &task.key, TaskState::Succeeded, change, fence)
                    .await?;
            }
            None => {
                tracing::info!(%run, %name, "an EMR submit was interrupted before EMR had the step; submitting it again");
                let error = "Trellis restarted before EMR had this step; it is submitted again";
                // The attempt never reached EMR: the submit makes it again,
                // under the same step name (the driver counts on from here).
                let change = TaskChange {
                    error: Some(error),
                    attempt: Some(i64::from(attempt - 1)),
                    ..Default::default()
                };
                self.task_fenced(tenant, run, &task.key, TaskState::UpForRetry, change, fence)
                    .await?;
                let queued = TaskChange::default();
                self.task_fenced(tenant, run, &task.key, TaskState::Queued, queued, fence)
                    .await?;
            }
        }
        Ok(())
    }
}

impl Engine {
    /// Ends a run whose driver died — on an error it could not get past
    /// (the database refusing longer than `db_retry`, say) or a panic — so
    /// that it never stays active with nobody driving it: its local
    /// processes are killed, a running task fails with `reason`, a waiting
    /// one is skipped, and the run fails (or, if it was being stopped, is
    /// cancelled). The database may be what failed: this keeps trying, with
    /// a growing wait, until it is done. (A step on EMR or a DAG run on
    /// Airflow is left to end there; the run's page says why it was given
    /// up.)
    pub(super) async fn give_up(&self, tenant: &TenantId, run: &RunId, reason: &str) {
        let mut wait = std::time::Duration::from_millis(200);
        while let Err(e) = self.try_give_up(tenant, run, reason).await {
            if runs::is_fenced(&e) {
                // Another server took the run over: it is that server's now.
                self.lost(run, &e.to_string());
                return;
            }
            tracing::warn!(run = %run, error = %e, ?wait, "giving a run up failed; trying again");
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(std::time::Duration::from_secs(30));
        }
    }

    async fn try_give_up(&self, tenant: &TenantId, run: &RunId, reason: &str) -> sqlx::Result<()> {
        let Some(stored) = runs::get(&self.inner.db, tenant, run).await? else {
            return Ok(());
        };
        if stored.state.is_terminal() {
            return Ok(());
        }
        let working: Vec<&str> = stored
            .tasks
            .iter()
            .filter(|t| t.kind == TaskKind::Watch && !t.state.is_terminal())
            .filter_map(|t| t.node.as_deref())
            .collect();
        for task in &stored.tasks {
            let process = task.external_ref.as_deref().and_then(ProcessRef::parse);
            if let (Some(process), Some(node)) = (process, task.node.as_deref()) {
                if working.contains(&node) {
                    process.kill_if_running_here();
                }
            }
        }
        let error = format!("Trellis gave this run up: {reason}");
        for task in stored.tasks.iter().filter(|t| !t.state.is_terminal()) {
            let (to, change) = if task.state == TaskState::Running {
                let failed = TaskChange {
                    error: Some(&error),
                    ..Default::default()
                };
                (TaskState::Failed, failed)
            } else {
                (TaskState::Skipped, TaskChange::default())
            };
            self.task(tenant, run, &task.key, to, change).await?;
        }
        let to = if stored.state == RunState::Cancelling {
            RunState::Cancelled
        } else {
            RunState::Failed
        };
        self.run_state(tenant, run, to).await?;
        Ok(())
    }
}
