//! Executors run one component's work where it belongs: `local` as a child
//! process, `emr` as a step on the tenant's EMR cluster. The engine submits (and records the
//! external reference), watches until the work ends, and cancels on stop.

pub mod emr;
pub mod local;
mod log;
pub mod render;

use app::api::runs::StopMode;
use std::path::PathBuf;
use std::time::Duration;

/// Everything needed to start one attempt of one task.
#[derive(Clone)]
pub struct TaskSpec {
    /// The program: an absolute path, a name looked up on `PATH`, or
    /// `trellis` for the running Trellis binary.
    pub program: String,
    /// Arguments, already rendered from the parameters.
    pub args: Vec<String>,
    /// The only environment variables the child gets (besides a minimal PATH).
    pub env: Vec<(String, String)>,
    /// Working directory (inside the tenant's data dir); created if missing.
    pub workdir: PathBuf,
    /// Where stdout and stderr go.
    pub log_path: PathBuf,
    /// The run the task belongs to: its processes end when this server
    /// loses the run to another ([`local::LocalExecutor::kill_run`]).
    pub run: Option<app::types::RunId>,
}

/// The environment's values stay out of logs: they may carry credentials.
impl std::fmt::Debug for TaskSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskSpec")
            .field("program", &self.program)
            .field("args", &self.args)
            .field("env", &self.env.iter().map(|(k, _)| k).collect::<Vec<_>>())
            .field("workdir", &self.workdir)
            .field("log_path", &self.log_path)
            .field("run", &self.run)
            .finish()
    }
}

/// What identifies submitted work outside Trellis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExternalRef {
    /// A local child process; it leads its own process group.
    Pid(local::ProcessRef),
    /// A step on a tenant's EMR cluster.
    Emr(emr::StepRef),
}

impl std::fmt::Display for ExternalRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExternalRef::Pid(process) => process.fmt(f),
            ExternalRef::Emr(step) => step.fmt(f),
        }
    }
}

/// How submitted work ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Succeeded,
    Failed { error: String },
    Cancelled,
}

/// How to stop work: a [`StopMode`] with the grace period it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelMode {
    /// Ask it to stop (SIGTERM), then force it after the grace period.
    Graceful { grace: Duration },
    /// Stop it at once (SIGKILL).
    Force,
}

impl CancelMode {
    /// `mode`, graceful ones allowed `grace`.
    pub fn new(mode: StopMode, grace: Duration) -> Self {
        match mode {
            StopMode::Graceful => CancelMode::Graceful { grace },
            StopMode::Force => CancelMode::Force,
        }
    }

    /// The mode, as requested and recorded.
    pub fn mode(self) -> StopMode {
        match self {
            CancelMode::Graceful { .. } => StopMode::Graceful,
            CancelMode::Force => StopMode::Force,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error("could not start `{program}`: {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    #[error("could not prepare {what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("no process {0} is known to this server")]
    Unknown(ExternalRef),
    /// The service that runs the work (EMR) refused, in its own words.
    #[error("{0}")]
    Refused(String),
}

/// The contract every executor fulfils; the engine's one watch loop
/// (`engine::follow`) drives any of them.
pub trait Executor {
    /// What starting one attempt needs.
    type Spec;
    /// What identifies the started work.
    type Work: Sync;
    /// Starts the work and returns its reference; never waits for it to end.
    fn submit(
        &self,
        spec: &Self::Spec,
    ) -> impl std::future::Future<Output = Result<Self::Work, ExecError>> + Send;
    /// Waits until the referenced work ends.
    fn watch(
        &self,
        work: &Self::Work,
    ) -> impl std::future::Future<Output = Result<Outcome, ExecError>> + Send;
    /// Stops the referenced work; `watch` then reports how it ended.
    fn cancel(
        &self,
        work: &Self::Work,
        mode: CancelMode,
    ) -> impl std::future::Future<Output = Result<(), ExecError>> + Send;
}
