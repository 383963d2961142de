//! Watching a node's work to its end: timeouts, retries with backoff, and
//! stop requests.

use super::{Engine, Policy, RunCtx};
use crate::db::runs::TaskChange;
use crate::executors::emr::StepRef;
use crate::executors::{CancelMode, Executor, ExternalRef, Outcome};
use app::types::TaskState;
use std::time::Duration;
use tokio::sync::watch;

impl Engine {
    /// Waits for a node's work: kills it at its timeout, submits it again while
    /// retries are left (backing off exponentially), and follows stop requests.
    pub(super) async fn watch_with_retries(
        &self,
        ctx: &RunCtx,
        key: &str,
        node: &str,
        mut external: ExternalRef,
        policy: Policy,
    ) -> Outcome {
        let mut stop = ctx.stop.clone();
        let mut attempt: u32 = 1;
        loop {
            let outcome = self
                .watch_once(ctx, node, &external, policy.timeout, &mut stop)
                .await;
            let Outcome::Failed { error } = &outcome else {
                return outcome;
            };
            if attempt > policy.retries || stop.borrow().is_some() {
                return outcome;
            }
            let change = TaskChange {
                error: Some(error),
                ..Default::default()
            };
            let retrying = self.task(
                &ctx.tenant,
                &ctx.run,
                key,
                &[TaskState::Running],
                TaskState::UpForRetry,
                change,
            );
            if !matches!(retrying.await, Ok(true)) {
                return outcome;
            }
            let wait = Duration::from_secs_f64(policy.delay * 2f64.powi(attempt as i32 - 1));
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = stop.wait_for(Option::is_some) => return Outcome::Cancelled,
            }
            attempt += 1;
            let _ = self
                .task(
                    &ctx.tenant,
                    &ctx.run,
                    key,
                    &[TaskState::UpForRetry],
                    TaskState::Queued,
                    TaskChange::default(),
                )
                .await;
            let submitted = match self
                .submit(&ctx.tenant, &ctx.run, &ctx.graph, node, attempt)
                .await
            {
                Ok(result) => result,
                Err(e) => Err(e.to_string()),
            };
            let text = submitted.as_ref().map(|r| r.to_string()).ok();
            let change = TaskChange {
                attempt: Some(attempt as i64),
                external_ref: text.as_deref(),
                error: None,
            };
            let _ = self
                .task(
                    &ctx.tenant,
                    &ctx.run,
                    key,
                    &[TaskState::Queued],
                    TaskState::Running,
                    change,
                )
                .await;
            match submitted {
                Ok(next) => external = next,
                Err(error) => return Outcome::Failed { error },
            }
        }
    }

    /// One attempt's end, killing it when it outlives its timeout and
    /// cancelling it when the run is stopped.
    async fn watch_once(
        &self,
        ctx: &RunCtx,
        node: &str,
        external: &ExternalRef,
        timeout: Option<f64>,
        stop: &mut watch::Receiver<Option<CancelMode>>,
    ) -> Outcome {
        if let ExternalRef::Emr(step) = external {
            return self.watch_step(ctx, node, step, timeout, stop).await;
        }
        let local = &self.inner.local;
        let ended = local.watch(external);
        tokio::pin!(ended);
        let deadline = async {
            match timeout {
                Some(t) => tokio::time::sleep(Duration::from_secs_f64(t)).await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(deadline);
        let mut timed_out = false;
        let already = *stop.borrow();
        let mut stopping = already.is_some();
        if let Some(mode) = already {
            let _ = local.cancel(external, mode).await;
        }
        loop {
            tokio::select! {
                outcome = &mut ended => {
                    let outcome = outcome.unwrap_or_else(|e| Outcome::Failed { error: e.to_string() });
                    return match outcome {
                        Outcome::Cancelled if timed_out && !stopping => Outcome::Failed {
                            error: format!("timed out after {} s and was killed", timeout.unwrap_or_default()),
                        },
                        other => other,
                    };
                }
                _ = &mut deadline, if !timed_out => {
                    timed_out = true;
                    let _ = local.cancel(external, CancelMode::Force).await;
                }
                Ok(()) = stop.changed(), if !stopping => {
                    let mode = *stop.borrow_and_update();
                    if let Some(mode) = mode {
                        stopping = true;
                        let _ = local.cancel(external, mode).await;
                    }
                }
            }
        }
    }
}

impl Engine {
    /// An EMR step's end. A stop (or the timeout) sends `CancelSteps` and
    /// keeps watching until EMR says the step ended; when EMR refuses to
    /// cancel, the task's log says so and the step is followed to its end.
    async fn watch_step(
        &self,
        ctx: &RunCtx,
        node: &str,
        step: &StepRef,
        timeout: Option<f64>,
        stop: &mut watch::Receiver<Option<CancelMode>>,
    ) -> Outcome {
        let emr = &self.inner.emr;
        let ended = emr.watch(&ctx.tenant, step);
        tokio::pin!(ended);
        let deadline = async {
            match timeout {
                Some(t) => tokio::time::sleep(Duration::from_secs_f64(t)).await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(deadline);
        let mut timed_out = false;
        let log = self.log_path(&ctx.tenant, &ctx.run, &app::types::dag::submit_key(node));
        let note = |text: String| {
            use std::io::Write;
            if let Some(dir) = log.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            if let Ok(mut f) = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&log)
            {
                let _ = writeln!(f, "[trellis] {text}");
            }
        };
        note(format!(
            "submitted as EMR step {} on cluster {}",
            step.step, step.cluster
        ));
        let already = *stop.borrow();
        let mut stopping = already.is_some();
        if let Some(mode) = already {
            if let Err(refused) = emr.cancel(&ctx.tenant, step, mode).await {
                note(refused);
            }
        }
        loop {
            tokio::select! {
                outcome = &mut ended => {
                    note(format!("EMR step {} ended: {outcome:?}", step.step));
                    return match outcome {
                        Outcome::Cancelled if timed_out && !stopping => Outcome::Failed {
                            error: format!("timed out after {} s and was cancelled", timeout.unwrap_or_default()),
                        },
                        other => other,
                    };
                }
                _ = &mut deadline, if !timed_out => {
                    timed_out = true;
                    if let Err(refused) = emr.cancel(&ctx.tenant, step, CancelMode::Force).await {
                        note(refused);
                    }
                }
                Ok(()) = stop.changed(), if !stopping => {
                    let mode = *stop.borrow_and_update();
                    if let Some(mode) = mode {
                        stopping = true;
                        note(format!("asking EMR to cancel step {}", step.step));
                        if let Err(refused) = emr.cancel(&ctx.tenant, step, mode).await {
                            note(format!("{refused}; following the step to its end"));
                        }
                    }
                }
            }
        }
    }
}
