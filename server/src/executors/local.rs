//! The local executor: each task is a child process in its own process group,
//! started from an argv (never a shell) with a clean environment, its output
//! in the task log. Stopping signals the whole group, so nothing it started
//! outlives it.

use super::log::{pump, LogFile};
use super::{CancelMode, ExecError, Executor, ExternalRef, Outcome, TaskSpec};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use std::collections::{HashMap, VecDeque};
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::process::Command;
use tokio::sync::watch;

/// The `PATH` a child sees; nothing else is inherited from the server.
const CHILD_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

struct Running {
    outcome: watch::Receiver<Option<Outcome>>,
    cancelled: Arc<AtomicBool>,
}

pub struct LocalExecutor {
    /// The binary that `trellis` as a program name means.
    trellis: PathBuf,
    log_limit: u64,
    running: Mutex<HashMap<u32, Running>>,
}

impl LocalExecutor {
    pub fn new(trellis: PathBuf, log_limit: u64) -> Self {
        Self {
            trellis,
            log_limit,
            running: Mutex::new(HashMap::new()),
        }
    }

    fn program(&self, name: &str) -> PathBuf {
        if name == "trellis" {
            self.trellis.clone()
        } else {
            PathBuf::from(name)
        }
    }

    fn entry(
        &self,
        external: &ExternalRef,
    ) -> Result<(watch::Receiver<Option<Outcome>>, Arc<AtomicBool>), ExecError> {
        let ExternalRef::Pid(pid) = external else {
            return Err(ExecError::Unknown(external.clone()));
        };
        let running = self.running.lock().expect("executor lock");
        running
            .get(pid)
            .map(|r| (r.outcome.clone(), r.cancelled.clone()))
            .ok_or_else(|| ExecError::Unknown(external.clone()))
    }
}

fn signal_group(pid: u32, signal: Signal) {
    // ESRCH (the group is gone) is the outcome we want anyway.
    let _ = killpg(Pid::from_raw(pid as i32), signal);
}

fn describe_exit(status: std::process::ExitStatus, stderr_tail: &VecDeque<String>) -> Outcome {
    if status.success() {
        return Outcome::Succeeded;
    }
    let how = match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with code {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        _ => "ended abnormally".to_owned(),
    };
    let error = if stderr_tail.is_empty() {
        how
    } else {
        format!(
            "{}\n({how})",
            stderr_tail.iter().cloned().collect::<Vec<_>>().join("\n")
        )
    };
    Outcome::Failed { error }
}

impl Executor for LocalExecutor {
    type Spec = TaskSpec;
    type Work = ExternalRef;

    async fn submit(&self, task: &TaskSpec) -> Result<ExternalRef, ExecError> {
        let io = |what: &str| {
            let what = what.to_owned();
            move |source| ExecError::Io { what, source }
        };
        tokio::fs::create_dir_all(&task.workdir)
            .await
            .map_err(io("the working directory"))?;
        let log = LogFile::create(&task.log_path, self.log_limit)
            .await
            .map_err(io("the task log"))?;

        let program = self.program(&task.program);
        let mut child = Command::new(&program)
            .args(&task.args)
            .env_clear()
            .env("PATH", CHILD_PATH)
            .envs(task.env.iter().map(|(k, v)| (k, v)))
            .current_dir(&task.workdir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .map_err(|source| ExecError::Spawn {
                program: program.display().to_string(),
                source,
            })?;
        let pid = child.id().expect("a just-spawned child has a pid");

        let (tx, rx) = watch::channel(None);
        let cancelled = Arc::new(AtomicBool::new(false));
        self.running.lock().expect("executor lock").insert(
            pid,
            Running {
                outcome: rx,
                cancelled: cancelled.clone(),
            },
        );

        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        tokio::spawn(async move {
            let mut tail = VecDeque::new();
            let (_, _, status) = tokio::join!(
                pump(stdout, log.clone(), None),
                pump(stderr, log.clone(), Some(&mut tail)),
                child.wait()
            );
            // Whatever the leader left behind in its group goes with it.
            signal_group(pid, Signal::SIGKILL);
            let outcome = match status {
                _ if cancelled.load(Ordering::SeqCst) => Outcome::Cancelled,
                Ok(status) => describe_exit(status, &tail),
                Err(e) => Outcome::Failed {
                    error: format!("waiting for the process failed: {e}"),
                },
            };
            let _ = tx.send(Some(outcome));
        });
        Ok(ExternalRef::Pid(pid))
    }

    async fn watch(&self, external: &ExternalRef) -> Result<Outcome, ExecError> {
        let (mut outcome, _) = self.entry(external)?;
        let ended = outcome
            .wait_for(Option::is_some)
            .await
            .map(|o| o.clone())
            .ok()
            .flatten()
            .unwrap_or(Outcome::Failed {
                error: "the process's watcher ended without an outcome".into(),
            });
        if let ExternalRef::Pid(pid) = external {
            self.running.lock().expect("executor lock").remove(pid);
        }
        Ok(ended)
    }

    async fn cancel(&self, external: &ExternalRef, mode: CancelMode) -> Result<(), ExecError> {
        let (mut outcome, cancelled) = self.entry(external)?;
        let ExternalRef::Pid(pid) = *external else {
            return Err(ExecError::Unknown(external.clone()));
        };
        cancelled.store(true, Ordering::SeqCst);
        match mode {
            CancelMode::Force => signal_group(pid, Signal::SIGKILL),
            CancelMode::Graceful { grace } => {
                signal_group(pid, Signal::SIGTERM);
                if tokio::time::timeout(grace, outcome.wait_for(Option::is_some))
                    .await
                    .is_err()
                {
                    signal_group(pid, Signal::SIGKILL);
                }
            }
        }
        Ok(())
    }
}
