//! The built-in components that run as child processes of the local executor
//! (`trellis step …`): they print progress to stdout, errors to stderr, and
//! report success through their exit code.

use crate::config::Step;
use std::process::ExitCode;
use std::time::Duration;

pub async fn run(step: Step) -> ExitCode {
    match step {
        Step::Noop => {
            println!("noop: nothing to do");
            ExitCode::SUCCESS
        }
        Step::Sleep { seconds } => {
            if !seconds.is_finite() || seconds < 0.0 {
                eprintln!("sleep: --seconds must be a non-negative number, got {seconds}");
                return ExitCode::from(2);
            }
            println!("sleep: waiting {seconds} s");
            tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
            println!("sleep: done");
            ExitCode::SUCCESS
        }
        Step::Fail { message } => {
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}
