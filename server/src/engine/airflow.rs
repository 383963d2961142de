//! Runs orchestrated by Airflow: Trellis triggers the version's DAG (conf:
//! the run's parameters, its id, where to report and the run's callback
//! token), records each task state the DAG's callbacks report, reconciles
//! with Airflow's task instances every poll, and on a stop fails the Airflow
//! run and cancels the EMR steps itself, so the work really stops. Every
//! change goes through the same transitions, events and streams as runs on
//! the embedded engine.

use super::Engine;
use crate::db::processes::VersionRow;
use crate::db::runs::{self, TaskChange};
use crate::executors::emr::StepRef;
use crate::executors::{CancelMode, Outcome};
use app::api::processes::DeployState;
use app::api::runs::Run;
use app::types::dag::ENTRY;
use app::types::{RunState, TaskKind, TaskState, TenantId};
use serde_json::json;
use tokio::sync::watch;

/// What a run's callback token signs.
pub fn token_context(tenant: &TenantId, run: &str) -> String {
    format!("airflow-callback:{}:{run}", tenant.as_str())
}

const OPEN: &[TaskState] = &[
    TaskState::Pending,
    TaskState::Queued,
    TaskState::Running,
    TaskState::UpForRetry,
];

/// An Airflow task state in Trellis's terms, with the states it may follow.
/// While the run is stopping, what Airflow ends is cancelled.
fn map(state: &str, stopping: bool) -> Option<(TaskState, &'static [TaskState])> {
    use TaskState::*;
    Some(match state {
        "scheduled" | "queued" => (Queued, &[Pending]),
        "running" | "restarting" | "deferred" | "up_for_reschedule" => {
            (Running, &[Pending, Queued, UpForRetry])
        }
        "up_for_retry" => (UpForRetry, &[Pending, Queued, Running]),
        "success" | "succeeded" => (Succeeded, OPEN),
        "failed" | "skipped" | "upstream_failed" | "removed" if stopping => (Cancelled, OPEN),
        "failed" => (Failed, OPEN),
        "skipped" | "upstream_failed" => (Skipped, OPEN),
        "removed" => (Cancelled, OPEN),
        _ => return None,
    })
}

impl Engine {
    /// Records one task state Airflow reported (by callback or poll).
    /// Repeats and late, older reports change nothing.
    pub async fn airflow_task(
        &self,
        tenant: &TenantId,
        run: &str,
        key: &str,
        state: &str,
        change: TaskChange<'_>,
    ) -> sqlx::Result<bool> {
        let stopping = runs::get(&self.inner.db, tenant, run)
            .await?
            .is_some_and(|r| r.state == RunState::Cancelling);
        self.airflow_task_in(tenant, run, key, state, stopping, change)
            .await
    }

    /// `airflow_task` for a caller that knows whether the run is stopping.
    async fn airflow_task_in(
        &self,
        tenant: &TenantId,
        run: &str,
        key: &str,
        state: &str,
        stopping: bool,
        change: TaskChange<'_>,
    ) -> sqlx::Result<bool> {
        let Some((to, from)) = map(state, stopping) else {
            return Ok(false);
        };
        let reference = change.external_ref;
        let moved = self.task(tenant, run, key, from, to, change).await?;
        if let (false, Some(reference)) = (moved, reference) {
            runs::note_external_ref(&self.inner.db, tenant, run, key, reference).await?;
        }
        Ok(moved)
    }

    /// Fails a run that could not start on Airflow, saying why on PEntry.
    async fn airflow_refused(
        &self,
        tenant: &TenantId,
        stored: &Run,
        why: &str,
    ) -> anyhow::Result<()> {
        let run = stored.id.as_str();
        let error = TaskChange {
            error: Some(why),
            ..Default::default()
        };
        self.task(tenant, run, ENTRY, OPEN, TaskState::Failed, error)
            .await?;
        for t in stored.tasks.iter().filter(|t| t.key != ENTRY) {
            self.task(
                tenant,
                run,
                &t.key,
                OPEN,
                TaskState::Skipped,
                TaskChange::default(),
            )
            .await?;
        }
        let active = [RunState::Queued, RunState::Running];
        if !self
            .run_state(tenant, run, &active, RunState::Failed)
            .await?
        {
            self.run_state(tenant, run, &[RunState::Cancelling], RunState::Cancelled)
                .await?;
        }
        Ok(())
    }

    pub(super) async fn drive_airflow(
        &self,
        tenant: &TenantId,
        stored: Run,
        version: VersionRow,
        mut stop: watch::Receiver<Option<CancelMode>>,
    ) -> anyhow::Result<()> {
        let db = &self.inner.db;
        let run = stored.id.clone();
        let Some(airflow) = self.airflow().cloned() else {
            return self
                .airflow_refused(
                    tenant,
                    &stored,
                    "this Trellis server has no Airflow configured",
                )
                .await;
        };
        let deployment = match &version.summary.deployment {
            Some(d) if d.state == DeployState::Ready => d.clone(),
            Some(d) => {
                let why = format!(
                    "version {} is not ready on Airflow: {}{}",
                    version.summary.number,
                    d.state.as_str(),
                    d.error
                        .as_deref()
                        .map(|e| format!(" ({e})"))
                        .unwrap_or_default()
                );
                return self.airflow_refused(tenant, &stored, &why).await;
            }
            None => {
                let why = format!(
                    "version {} was never deployed to Airflow",
                    version.summary.number
                );
                return self.airflow_refused(tenant, &stored, &why).await;
            }
        };
        let dag_id = deployment.dag_id;

        // The Airflow run: the one triggered before a restart, or a new one.
        let entry_ref = stored
            .tasks
            .iter()
            .find(|t| t.key == ENTRY)
            .and_then(|t| t.external_ref.as_deref())
            .and_then(|r| r.strip_prefix("airflow:"))
            .map(str::to_owned);
        let airflow_run = match entry_ref {
            Some(id) => id,
            None => {
                let conf = json!({
                    "trellis": {
                        "url": airflow.callback_url(&run),
                        "token": self.sealer().token(&token_context(tenant, &run)),
                        "run": run,
                    },
                    "params": stored.params,
                });
                match airflow.api.trigger(&dag_id, &conf).await {
                    Ok(id) => {
                        let reference = format!("airflow:{id}");
                        let change = TaskChange {
                            external_ref: Some(&reference),
                            ..Default::default()
                        };
                        self.task(
                            tenant,
                            &run,
                            ENTRY,
                            &[TaskState::Pending],
                            TaskState::Queued,
                            change,
                        )
                        .await?;
                        id
                    }
                    Err(e) => return self.airflow_refused(tenant, &stored, &e.to_string()).await,
                }
            }
        };
        self.run_state(tenant, &run, &[RunState::Queued], RunState::Running)
            .await?;

        let mut stopped = false;
        loop {
            let mode = *stop.borrow_and_update();
            if let (Some(mode), false) = (mode, stopped) {
                stopped = true;
                // Fail Airflow's run first, so no further task starts (and
                // PExit does not turn the cancelled steps into a success),
                // then cancel the steps themselves.
                for attempt in 1..=5 {
                    match airflow.api.fail_run(&dag_id, &airflow_run).await {
                        Ok(()) => break,
                        Err(e) => {
                            tracing::warn!(run = %run, attempt, error = %e, "failing the Airflow run");
                            tokio::time::sleep(airflow.settings.poll).await;
                        }
                    }
                }
                self.cancel_airflow_steps(tenant, &run, &version, mode)
                    .await?;
            }
            match airflow.api.run(&dag_id, &airflow_run).await {
                Ok((state, instances)) => {
                    // One read of the run per poll: whether it is stopping,
                    // and which tasks Airflow has moved since.
                    let known = runs::get(db, tenant, &run)
                        .await?
                        .ok_or_else(|| anyhow::anyhow!("run {run} vanished"))?;
                    let stopping = known.state == RunState::Cancelling;
                    for ti in &instances {
                        let Some(ti_state) = &ti.state else { continue };
                        let unchanged = map(ti_state, stopping).is_some_and(|(to, _)| {
                            known
                                .tasks
                                .iter()
                                .any(|t| t.key == ti.task_id && t.state == to)
                        });
                        if unchanged {
                            continue;
                        }
                        let change = TaskChange {
                            attempt: Some(ti.try_number.max(1)),
                            ..Default::default()
                        };
                        self.airflow_task_in(tenant, &run, &ti.task_id, ti_state, stopping, change)
                            .await?;
                    }
                    if matches!(state.as_str(), "success" | "failed") {
                        break;
                    }
                }
                Err(e) => tracing::warn!(run = %run, error = %e, "reading the Airflow run"),
            }
            tokio::select! {
                _ = tokio::time::sleep(airflow.settings.poll) => {}
                _ = stop.changed() => {}
            }
        }

        // Airflow has ended the run: what never ran did not run.
        let ended = runs::get(db, tenant, &run)
            .await?
            .ok_or_else(|| anyhow::anyhow!("run {run} vanished"))?;
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
                self.task(tenant, &run, &t.key, OPEN, leftover, TaskChange::default())
                    .await?;
                leftover
            };
            failed |= matches!(
                state,
                TaskState::Failed | TaskState::Skipped | TaskState::Cancelled
            );
        }
        let to = if failed {
            RunState::Failed
        } else {
            RunState::Succeeded
        };
        if stopping
            || !self
                .run_state(tenant, &run, &[RunState::Running], to)
                .await?
        {
            self.run_state(tenant, &run, &[RunState::Cancelling], RunState::Cancelled)
                .await?;
        }
        Ok(())
    }

    /// Cancels the EMR step of every node whose step may still run — the
    /// step the submit task recorded, or found by its name — and waits for
    /// EMR to confirm each ended.
    async fn cancel_airflow_steps(
        &self,
        tenant: &TenantId,
        run: &str,
        version: &VersionRow,
        mode: CancelMode,
    ) -> anyhow::Result<()> {
        let Some(connection) = &version.graph.connection else {
            return Ok(());
        };
        let current = runs::get(&self.inner.db, tenant, run)
            .await?
            .ok_or_else(|| anyhow::anyhow!("run {run} vanished"))?;
        let emr = &self.inner.emr;
        let mut cancelled = Vec::new();
        for submit in current.tasks.iter().filter(|t| t.kind == TaskKind::Submit) {
            let Some(node) = &submit.node else { continue };
            let watch_done = current.tasks.iter().any(|t| {
                t.kind == TaskKind::Watch && t.node == submit.node && t.state.is_terminal()
            });
            if watch_done || matches!(submit.state, TaskState::Pending | TaskState::Skipped) {
                continue;
            }
            let recorded = submit.external_ref.as_deref().and_then(StepRef::parse);
            let step = match recorded {
                Some(step) => Some(step),
                None => {
                    let attempt = u32::try_from(submit.attempt.max(1)).unwrap_or(1);
                    let name = super::start::step_name(run, node, attempt);
                    emr.find(tenant, connection, &name)
                        .await
                        .unwrap_or_else(|e| {
                            tracing::warn!(run, error = %e, "looking for a step to cancel");
                            None
                        })
                }
            };
            let Some(step) = step else { continue };
            match emr.cancel(tenant, &step, mode).await {
                Ok(()) => cancelled.push(step),
                Err(why) => tracing::warn!(run, step = %step, %why, "EMR refused to cancel"),
            }
        }
        for step in cancelled {
            let outcome = emr.watch(tenant, &step).await;
            if let Outcome::Failed { error } = outcome {
                tracing::info!(run, step = %step, %error, "cancelled step ended");
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn airflow_states_map_to_trellis_transitions() {
        assert_eq!(map("running", false).unwrap().0, TaskState::Running);
        assert_eq!(map("success", false).unwrap().0, TaskState::Succeeded);
        assert_eq!(map("upstream_failed", false).unwrap().0, TaskState::Skipped);
        assert_eq!(map("failed", false).unwrap().0, TaskState::Failed);
        assert_eq!(map("failed", true).unwrap().0, TaskState::Cancelled);
        assert_eq!(map("skipped", true).unwrap().0, TaskState::Cancelled);
        assert_eq!(map("success", true).unwrap().0, TaskState::Succeeded);
        // A late "running" never reopens an ended task.
        assert!(!map("running", false)
            .unwrap()
            .1
            .contains(&TaskState::Succeeded));
        assert!(map("none", false).is_none());
    }
}
