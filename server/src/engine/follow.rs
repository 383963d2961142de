//! Watching a node's work to its end: timeouts, retries with backoff, and
//! stop requests.

use super::{Engine, Policy, RunCtx, Timeout};
use crate::db::runs::TaskChange;
use crate::executors::emr::StepRef;
use crate::executors::{CancelMode, ExecError, Executor, ExternalRef, Outcome};
use app::types::{TaskKey, TaskState};
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::watch;

impl Engine {
    /// Waits for a node's work (attempt `first`): kills it at its timeout,
    /// submits it again while retries are left (backing off exponentially),
    /// and follows stop requests.
    pub(super) async fn watch_with_retries(
        &self,
        ctx: &RunCtx,
        key: &TaskKey,
        node: &str,
        mut external: ExternalRef,
        first: u32,
        policy: Policy,
    ) -> Outcome {
        let mut stop = ctx.stop.clone();
        let mut attempt = first;
        let component = ctx
            .graph
            .node(node)
            .map_or_else(|| "unknown".to_owned(), |n| n.component.to_string());
        loop {
            let began = std::time::Instant::now();
            let outcome = self
                .watch_once(ctx, node, &external, policy.timeout, &mut stop)
                .await;
            let (executor, ended) = (executor_of(&external), outcome_of(&outcome));
            crate::metrics::task_ended(&component, executor, ended, began.elapsed());
            let Outcome::Failed { error } = &outcome else {
                return outcome;
            };
            if attempt - first >= policy.retries || stop.borrow().is_some() {
                return outcome;
            }
            let change = TaskChange {
                error: Some(error),
                ..Default::default()
            };
            let retrying = self.task(&ctx.tenant, &ctx.run, key, TaskState::UpForRetry, change);
            if !matches!(retrying.await, Ok(true)) {
                return outcome;
            }
            let wait = seconds(policy.delay * 2f64.powi((attempt - first) as i32));
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = stop.wait_for(Option::is_some) => return Outcome::Cancelled,
            }
            attempt += 1;
            // The next attempt is recorded before its work starts, and only
            // a driver whose writes still land starts it: a server that
            // lost the run meanwhile (fenced) or dies after the start never
            // leaves work behind that its task does not count.
            let queued = TaskChange {
                attempt: Some(i64::from(attempt)),
                ..Default::default()
            };
            let requeued = self.task(&ctx.tenant, &ctx.run, key, TaskState::Queued, queued);
            if !matches!(requeued.await, Ok(true)) {
                return outcome;
            }
            let submitted = match self.submit(ctx, node, attempt).await {
                Ok(result) => result,
                Err(e) => Err(e.to_string()),
            };
            let text = submitted.as_ref().map(|r| r.to_string()).ok();
            let change = TaskChange {
                external_ref: text.as_deref(),
                ..Default::default()
            };
            let running = self.task(&ctx.tenant, &ctx.run, key, TaskState::Running, change);
            if !matches!(running.await, Ok(true)) {
                // Work no task counts must not go on.
                let stopped = match &submitted {
                    Ok(work @ ExternalRef::Pid(_)) => {
                        self.inner.local.cancel(work, CancelMode::Force).await
                    }
                    Ok(ExternalRef::Emr(step)) => {
                        let steps = self.inner.emr.tenant(&ctx.tenant);
                        steps.cancel(step, CancelMode::Force).await
                    }
                    Err(_) => Ok(()),
                };
                if let Err(e) = stopped {
                    tracing::warn!(run = %ctx.run, error = %e, "stopping an unrecorded attempt failed");
                }
                return Outcome::Failed {
                    error: "this server could not record the next attempt's start".into(),
                };
            }
            match submitted {
                Ok(next) => external = next,
                Err(error) => return Outcome::Failed { error },
            }
        }
    }

    /// One attempt's end, through the executor that runs it.
    async fn watch_once(
        &self,
        ctx: &RunCtx,
        node: &str,
        external: &ExternalRef,
        timeout: Timeout,
        stop: &mut watch::Receiver<Option<CancelMode>>,
    ) -> Outcome {
        match external {
            ExternalRef::Emr(step) => {
                let log = self.log_path(&ctx.tenant, &ctx.run, &app::types::dag::submit_key(node));
                let signal = self.inner.bus.logs().signal(&log);
                let story = StepLog { log, step, signal };
                story.note(format!(
                    "submitted as EMR step {} on cluster {}",
                    step.step, step.cluster
                ));
                let steps = self.inner.emr.tenant(&ctx.tenant);
                watch_attempt(&steps, step, timeout, &story, stop).await
            }
            ExternalRef::Pid(_) => {
                watch_attempt(&self.inner.local, external, timeout, &Quiet, stop).await
            }
        }
    }
}

/// What the watch loop tells the task's log about the work.
trait Narration {
    /// What a timeout did to the work, for the task's error.
    const TIMED_OUT: &'static str;
    fn ended(&self, _outcome: &Outcome) {}
    fn stopping(&self) {}
    /// The executor would not stop the work (`following`: on a stop
    /// request, and the work is followed to its end).
    fn refused(&self, _why: &ExecError, _following: bool) {}
}

/// A local process: its log is its own output.
struct Quiet;

impl Narration for Quiet {
    const TIMED_OUT: &'static str = "killed";
}

/// An EMR step runs far away: the submit task's log tells its story.
struct StepLog<'a> {
    log: PathBuf,
    step: &'a StepRef,
    signal: crate::events::LogSignal,
}

impl StepLog<'_> {
    fn note(&self, text: String) {
        use std::io::Write;
        if let Some(dir) = self.log.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
        {
            let _ = writeln!(f, "[trellis] {text}");
        }
        self.signal.grew();
    }
}

impl Narration for StepLog<'_> {
    const TIMED_OUT: &'static str = "cancelled";

    fn ended(&self, outcome: &Outcome) {
        self.note(format!("EMR step {} ended: {outcome:?}", self.step.step));
    }

    fn stopping(&self) {
        self.note(format!("asking EMR to cancel step {}", self.step.step));
    }

    fn refused(&self, why: &ExecError, following: bool) {
        match following {
            true => self.note(format!("{why}; following the step to its end")),
            false => self.note(why.to_string()),
        }
    }
}

/// Waits for one attempt's end: stops the work (forcefully) when it
/// outlives its timeout (every task has one), and as asked when the run is
/// stopped; work that the executor cannot stop is followed to its end.
async fn watch_attempt<E: Executor, N: Narration>(
    executor: &E,
    work: &E::Work,
    timeout: Timeout,
    narration: &N,
    stop: &mut watch::Receiver<Option<CancelMode>>,
) -> Outcome {
    let ended = executor.watch(work);
    tokio::pin!(ended);
    let deadline = tokio::time::sleep(seconds(timeout.seconds));
    tokio::pin!(deadline);
    let mut timed_out = false;
    let already = *stop.borrow();
    let mut stopping = already.is_some();
    if let Some(mode) = already {
        if let Err(why) = executor.cancel(work, mode).await {
            narration.refused(&why, false);
        }
    }
    loop {
        tokio::select! {
            outcome = &mut ended => {
                let outcome = outcome.unwrap_or_else(|e| Outcome::Failed { error: e.to_string() });
                narration.ended(&outcome);
                return match outcome {
                    Outcome::Cancelled if timed_out && !stopping => Outcome::Failed {
                        error: format!("timed out after {timeout} and was {}", N::TIMED_OUT),
                    },
                    other => other,
                };
            }
            _ = &mut deadline, if !timed_out => {
                timed_out = true;
                if let Err(why) = executor.cancel(work, CancelMode::Force).await {
                    narration.refused(&why, false);
                }
            }
            Ok(()) = stop.changed(), if !stopping => {
                let mode = *stop.borrow_and_update();
                if let Some(mode) = mode {
                    stopping = true;
                    narration.stopping();
                    if let Err(why) = executor.cancel(work, mode).await {
                        narration.refused(&why, true);
                    }
                }
            }
        }
    }
}

/// A policy's seconds as a duration, saturating: a version stored before its
/// bounds were checked can never make the driver panic.
fn seconds(value: f64) -> Duration {
    Duration::try_from_secs_f64(value.max(0.0)).unwrap_or(Duration::MAX)
}

/// The executor label of a node's work, for metrics.
fn executor_of(work: &ExternalRef) -> &'static str {
    match work {
        ExternalRef::Emr(_) => "emr",
        ExternalRef::Pid(_) => "local",
    }
}

/// The outcome label of an attempt, for metrics.
fn outcome_of(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Succeeded => "succeeded",
        Outcome::Failed { .. } => "failed",
        Outcome::Cancelled => "cancelled",
    }
}

#[cfg(test)]
mod tests {
    use super::seconds;
    use std::time::Duration;

    #[test]
    fn policy_seconds_saturate_instead_of_panicking() {
        assert_eq!(seconds(1.5), Duration::from_millis(1500));
        assert_eq!(seconds(1e300), Duration::MAX);
        assert_eq!(seconds(f64::INFINITY), Duration::MAX);
        assert_eq!(seconds(-3.0), Duration::ZERO);
        assert_eq!(seconds(f64::NAN), Duration::ZERO);
    }
}
