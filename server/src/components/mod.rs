//! The built-in components that run as child processes of the local executor
//! (`trellis step …`): they print progress to stdout, errors to stderr, and
//! report success through their exit code. The last lines on stderr become
//! the task's error, so a failing step ends with one line saying why.

pub mod builtin;
pub mod env;
pub mod export;
pub mod ingest;
mod keysort;
pub mod quality;
pub mod remote;
pub mod s3;
pub mod transform;

use crate::config::Step;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// How a step failed.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// The step was called wrongly (exit code 2).
    #[error("{0}")]
    Usage(String),
    /// The work failed (exit code 1).
    #[error("{0}")]
    Failed(String),
}

impl From<std::io::Error> for StepError {
    fn from(e: std::io::Error) -> Self {
        StepError::Failed(e.to_string())
    }
}

impl From<csv::Error> for StepError {
    fn from(e: csv::Error) -> Self {
        StepError::Failed(e.to_string())
    }
}

/// Fails the step with `message`.
pub fn fail<T>(message: impl Into<String>) -> Result<T, StepError> {
    Err(StepError::Failed(message.into()))
}

pub async fn run(step: Step) -> ExitCode {
    let result = match step {
        Step::Noop => builtin::noop(),
        Step::Sleep { seconds } => builtin::sleep(seconds),
        Step::Fail { message } => builtin::fail(message),
        Step::IngestFile(args) => ingest::run(args).await,
        Step::QualityCheck(args) => quality::run(args).await,
        Step::TransformSql(args) => transform::run(args).await,
        Step::ExportFile(args) => export::run(args).await,
    };
    exit_code(result)
}

/// How a step's process ends: its error on stderr and the exit code saying
/// what kind of error it was.
pub fn exit_code(result: Result<(), StepError>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            match e {
                StepError::Usage(_) => ExitCode::from(2),
                StepError::Failed(_) => ExitCode::FAILURE,
            }
        }
    }
}

/// `1.5 MB`, `320 B`.
pub fn human_bytes(bytes: u64) -> String {
    app::components::bytes::human(bytes)
}

/// Prints a progress line to the task log every few seconds.
pub struct Progress {
    label: &'static str,
    total_bytes: Option<u64>,
    started: Instant,
    next: Instant,
    calls: u32,
}

const PROGRESS_EVERY: Duration = Duration::from_secs(2);

impl Progress {
    pub fn new(label: &'static str, total_bytes: Option<u64>) -> Self {
        let now = Instant::now();
        Self {
            label,
            total_bytes,
            started: now,
            next: now + PROGRESS_EVERY,
            calls: 0,
        }
    }

    /// Notes that `rows` rows (and `bytes` of the input) are done.
    pub fn tick(&mut self, rows: u64, bytes: u64) {
        // Looking at the clock for every row would cost more than the row.
        self.calls += 1;
        if !self.calls.is_multiple_of(4096) {
            return;
        }
        let now = Instant::now();
        if now < self.next {
            return;
        }
        self.next = now + PROGRESS_EVERY;
        let rate = bytes as f64 / now.duration_since(self.started).as_secs_f64().max(1e-3);
        let of = match self.total_bytes {
            Some(total) if total > 0 => format!(
                " of {} ({:.0}%)",
                human_bytes(total),
                bytes as f64 * 100.0 / total as f64
            ),
            _ => String::new(),
        };
        println!(
            "{}: {rows} rows, {}{of}, {}/s",
            self.label,
            human_bytes(bytes),
            human_bytes(rate as u64)
        );
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn bytes_read_like_people_write_them() {
        assert_eq!(super::human_bytes(320), "320 B");
        assert_eq!(super::human_bytes(1_500_000), "1.5 MB");
        assert_eq!(super::human_bytes(1_073_741_824), "1.1 GB");
    }
}
