//! The local executor: each task is a child process in its own process group,
//! started from an argv (never a shell) with a clean environment, its output
//! in the task log. Stopping signals the whole group, so nothing it started
//! outlives it. Each child runs under resource limits ([`ProcessLimits`]) set
//! before its program starts.

use super::log::{pump, LogFile};
use super::{CancelMode, ExecError, Executor, ExternalRef, Outcome, TaskSpec};
use nix::sys::resource::{getrlimit, setrlimit, Resource, RLIM_INFINITY};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use std::collections::{HashMap, VecDeque};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::process::Command;
use tokio::sync::watch;

/// The `PATH` a child sees; nothing else is inherited from the server.
const CHILD_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// Resource limits of each child process (rlimits); 0 is unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessLimits {
    /// Address space (virtual memory), in bytes.
    pub address_space_bytes: u64,
    /// CPU time, all threads together, in seconds; past it, SIGXCPU.
    pub cpu_seconds: u64,
    /// Largest file written, in bytes; past it, SIGXFSZ.
    pub file_bytes: u64,
    /// Files open at once.
    pub open_files: u64,
    /// Processes and threads of the server's user (system-wide, not per
    /// task) above which the child cannot start another; root is exempt.
    pub processes: u64,
}

impl Default for ProcessLimits {
    fn default() -> Self {
        Self {
            address_space_bytes: 4 << 30,
            cpu_seconds: 6 * 3600,
            file_bytes: 10 << 30,
            open_files: 1024,
            processes: 4096,
        }
    }
}

/// Seconds of CPU past the soft limit (SIGXCPU, which a process may catch)
/// before the hard limit kills it.
const CPU_HARD_MARGIN: u64 = 5;

impl ProcessLimits {
    /// No limits at all.
    pub const UNLIMITED: Self = Self {
        address_space_bytes: 0,
        cpu_seconds: 0,
        file_bytes: 0,
        open_files: 0,
        processes: 0,
    };

    /// Each limit as (resource, soft, hard): the hard limit equals the soft
    /// one (the child cannot raise it) except for CPU time, whose soft limit
    /// signals and whose hard limit kills. Core dumps are always off: a
    /// process killed by a limit must not write one into the tenant's folder.
    fn rlimits(&self) -> Vec<(Resource, u64, u64)> {
        let mut limits = vec![(Resource::RLIMIT_CORE, 0, 0)];
        let mut add = |resource, value: u64, margin: u64| {
            if value > 0 {
                limits.push((resource, value, value.saturating_add(margin)));
            }
        };
        add(Resource::RLIMIT_AS, self.address_space_bytes, 0);
        add(Resource::RLIMIT_CPU, self.cpu_seconds, CPU_HARD_MARGIN);
        add(Resource::RLIMIT_FSIZE, self.file_bytes, 0);
        add(Resource::RLIMIT_NOFILE, self.open_files, 0);
        add(Resource::RLIMIT_NPROC, self.processes, 0);
        limits
    }
}

/// util-linux's `prlimit`, when this host has it: the program a child is
/// started through, to set its limits and exec the task's program, when
/// `trellis-launch` is not installed beside `trellis` ([`limiter`]).
/// Starting either needs no `fork` of the server (`posix_spawn`, which
/// shares the server's memory until the exec): a fork copies the server's
/// page tables, which cost more CPU than anything else in starting a task.
/// Without both, children are forked and set their limits before exec
/// ([`apply`]).
fn prlimit() -> Option<&'static Path> {
    static LIMITER: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();
    LIMITER
        .get_or_init(|| {
            ["/usr/bin/prlimit", "/bin/prlimit"]
                .iter()
                .map(PathBuf::from)
                .find(|p| is_executable(p))
        })
        .as_deref()
}

/// What a child is started through to set its limits: `trellis-launch`
/// beside the `trellis` binary (which also runs the built-in steps without
/// starting `trellis`, see [`crate::launch`]), else `prlimit`; both take the
/// same options.
fn limiter(trellis: &Path) -> Option<PathBuf> {
    let launch = trellis.with_file_name("trellis-launch");
    if is_executable(&launch) {
        return Some(launch);
    }
    prlimit().map(Path::to_path_buf)
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Where `program` is, as the child in `workdir` finds it: a relative path
/// with a slash from `workdir`, a bare name on the child's `PATH`; `None`
/// when nothing executable is there.
fn resolve(program: &Path, workdir: &Path) -> Option<PathBuf> {
    if program.is_absolute() || program.components().count() > 1 {
        let path = workdir.join(program);
        return is_executable(&path).then_some(path);
    }
    CHILD_PATH
        .split(':')
        .map(|dir| Path::new(dir).join(program))
        .find(|p| is_executable(p))
}

/// `prlimit`'s arguments setting `limits` (each never above the hard limit
/// this process has, which the child inherits and could not exceed).
fn limiter_args(limits: &[(Resource, u64, u64)]) -> std::io::Result<Vec<String>> {
    let mut args = Vec::new();
    for &(resource, soft, hard) in limits {
        let (_, current_hard) = getrlimit(resource)?;
        let cap = |v: u64| match current_hard {
            RLIM_INFINITY => v,
            h => v.min(h),
        };
        let Some((_, option)) = crate::launch::LIMITS
            .into_iter()
            .find(|(r, _)| *r == resource)
        else {
            continue;
        };
        args.push(format!("--{option}={}:{}", cap(soft), cap(hard)));
    }
    args.push("--".to_owned());
    Ok(args)
}

/// Applies `limits` to the calling process, never above the hard limits it
/// already has (only root may raise those). Runs in the forked child before
/// exec: system calls only, no allocation.
fn apply(limits: &[(Resource, u64, u64)]) -> std::io::Result<()> {
    for &(resource, soft, hard) in limits {
        let (_, current_hard) = getrlimit(resource)?;
        let cap = |v: u64| match current_hard {
            RLIM_INFINITY => v,
            h => v.min(h),
        };
        setrlimit(resource, cap(soft), cap(hard))?;
    }
    Ok(())
}

struct Running {
    outcome: watch::Receiver<Option<Outcome>>,
    cancelled: Arc<AtomicBool>,
    run: Option<app::types::RunId>,
}

pub struct LocalExecutor {
    /// The binary that `trellis` as a program name means.
    trellis: PathBuf,
    /// What children are started through to set their limits, found once
    /// ([`limiter`]).
    limiter: Option<PathBuf>,
    log_limit: u64,
    limits: ProcessLimits,
    running: Mutex<HashMap<u32, Running>>,
    /// Told when a task's log grows.
    logs: crate::events::LogWatch,
}

impl LocalExecutor {
    /// An executor whose children run under the default [`ProcessLimits`].
    pub fn new(trellis: PathBuf, log_limit: u64) -> Self {
        Self {
            limiter: limiter(&trellis),
            trellis,
            log_limit,
            limits: ProcessLimits::default(),
            running: Mutex::new(HashMap::new()),
            logs: crate::events::LogWatch::default(),
        }
    }

    /// The same executor telling `logs` when a task's log grows.
    pub fn with_log_watch(self, logs: crate::events::LogWatch) -> Self {
        Self { logs, ..self }
    }

    /// The same executor with its children under `limits`.
    pub fn with_limits(self, limits: ProcessLimits) -> Self {
        Self { limits, ..self }
    }

    fn program(&self, name: &str) -> PathBuf {
        if name == "trellis" {
            self.trellis.clone()
        } else {
            PathBuf::from(name)
        }
    }

    /// Kills (SIGKILL, whole process group) every process this executor
    /// runs for `run`, and stops following them; how many there were.
    pub fn kill_run(&self, run: &app::types::RunId) -> usize {
        let mut running = self.running.lock().expect("executor lock");
        let pids: Vec<u32> = running
            .iter()
            .filter(|(_, r)| r.run.as_ref() == Some(run))
            .map(|(pid, _)| *pid)
            .collect();
        for pid in &pids {
            if let Some(r) = running.remove(pid) {
                r.cancelled.store(true, Ordering::SeqCst);
                signal_group(*pid, Signal::SIGKILL);
            }
        }
        pids.len()
    }

    /// The command that starts `task`'s program under this executor's
    /// limits (through [`limiter`] when there is one), in its own process
    /// group, with only the task's environment and its output piped.
    fn command(&self, task: &TaskSpec) -> Result<Command, ExecError> {
        let program = self.program(&task.program);
        let rlimits = self.limits.rlimits();
        let spawn_error = |source| ExecError::Spawn {
            program: program.display().to_string(),
            source,
        };
        let mut command = match &self.limiter {
            Some(limiter) => {
                let found = resolve(&program, &task.workdir).ok_or_else(|| {
                    spawn_error(std::io::Error::new(
                        std::io::ErrorKind::NotFound,
                        "no such executable program",
                    ))
                })?;
                let mut command = Command::new(limiter);
                command
                    .args(limiter_args(&rlimits).map_err(spawn_error)?)
                    .arg(found);
                command
            }
            None => {
                let mut command = Command::new(&program);
                // SAFETY: `apply` only makes the getrlimit/setrlimit system
                // calls, which are async-signal-safe, on memory allocated
                // before the fork.
                unsafe {
                    command.pre_exec(move || apply(&rlimits));
                }
                command
            }
        };
        command
            .args(&task.args)
            .env_clear()
            .env("PATH", CHILD_PATH)
            .envs(task.env.iter().map(|(k, v)| (k, v)))
            .current_dir(&task.workdir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        Ok(command)
    }

    fn entry(
        &self,
        external: &ExternalRef,
    ) -> Result<(watch::Receiver<Option<Outcome>>, Arc<AtomicBool>), ExecError> {
        let ExternalRef::Pid(process) = external else {
            return Err(ExecError::Unknown(external.clone()));
        };
        let running = self.running.lock().expect("executor lock");
        running
            .get(&process.pid)
            .map(|r| (r.outcome.clone(), r.cancelled.clone()))
            .ok_or_else(|| ExecError::Unknown(external.clone()))
    }
}

/// A local process as recorded with its task: its PID, the boot it ran in
/// and its start time (in clock ticks since boot, `/proc/<pid>/stat`), so
/// that a recovery never signals another host's process, or one that has
/// reused the PID since. Written `pid:<pid>@<boot id>:<start>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessRef {
    pub pid: u32,
    pub boot: String,
    pub start: u64,
}

impl ProcessRef {
    /// The running process `pid` of this boot.
    pub fn of(pid: u32) -> ProcessRef {
        ProcessRef {
            pid,
            boot: boot_id(),
            start: start_time(pid).unwrap_or_default(),
        }
    }

    /// Reads a recorded reference; `None` for anything else (including a
    /// bare `pid:<n>` that names no boot).
    pub fn parse(text: &str) -> Option<ProcessRef> {
        let (pid, rest) = text.strip_prefix("pid:")?.split_once('@')?;
        let (boot, start) = rest.rsplit_once(':')?;
        Some(ProcessRef {
            pid: pid.parse().ok()?,
            boot: boot.to_owned(),
            start: start.parse().ok()?,
        })
    }

    /// Whether it is still the very process recorded: same boot, and the
    /// process with its PID started at the recorded time.
    pub fn is_running_here(&self) -> bool {
        self.boot == boot_id() && start_time(self.pid) == Some(self.start)
    }

    /// Kills its process group, only when [`is_running_here`](Self::is_running_here).
    pub fn kill_if_running_here(&self) -> bool {
        let here = self.is_running_here();
        if here {
            signal_group(self.pid, Signal::SIGKILL);
        }
        here
    }
}

impl std::fmt::Display for ProcessRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "pid:{}@{}:{}", self.pid, self.boot, self.start)
    }
}

/// This boot's id (Linux's `/proc/sys/kernel/random/boot_id`, the same for
/// every process until the host restarts; a container sees its host's).
fn boot_id() -> String {
    static BOOT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    BOOT.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
            .map(|s| s.trim().to_owned())
            .unwrap_or_default()
    })
    .clone()
}

/// When process `pid` started, in clock ticks after boot (field 22 of
/// `/proc/<pid>/stat`, counted after the command name, which may hold
/// spaces and parentheses).
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(19)?.parse().ok()
}

fn signal_group(pid: u32, signal: Signal) {
    // ESRCH (the group is gone) is the outcome we want anyway.
    let _ = killpg(Pid::from_raw(pid as i32), signal);
}

/// How a process that ended by `signal` ended, in words; a limit it
/// exceeded is named with its value.
fn killed_by(signal: i32, limits: &ProcessLimits) -> String {
    match Signal::try_from(signal) {
        Ok(Signal::SIGXCPU) if limits.cpu_seconds > 0 => format!(
            "killed: exceeded the CPU time limit of {} s (SIGXCPU)",
            limits.cpu_seconds
        ),
        Ok(Signal::SIGXFSZ) if limits.file_bytes > 0 => format!(
            "killed: exceeded the file size limit of {} (SIGXFSZ)",
            crate::components::human_bytes(limits.file_bytes)
        ),
        Ok(Signal::SIGKILL) if limits.cpu_seconds > 0 => format!(
            "killed by signal {signal} (SIGKILL; past the CPU time limit of {} s, or out of memory)",
            limits.cpu_seconds
        ),
        Ok(named) => format!("killed by signal {signal} ({named})"),
        Err(_) => format!("killed by signal {signal}"),
    }
}

/// How a process that exited with `code` ended: a shell reports a command
/// it ran that a signal killed as 128 + the signal.
fn exited_with(code: i32, limits: &ProcessLimits) -> String {
    let hint = match code.checked_sub(128).map(Signal::try_from) {
        Some(Ok(Signal::SIGXCPU)) if limits.cpu_seconds > 0 => format!(
            "; a process it ran was likely killed for exceeding the CPU time limit of {} s",
            limits.cpu_seconds
        ),
        Some(Ok(Signal::SIGXFSZ)) if limits.file_bytes > 0 => format!(
            "; a process it ran was likely killed for exceeding the file size limit of {}",
            crate::components::human_bytes(limits.file_bytes)
        ),
        _ => String::new(),
    };
    format!("exited with code {code}{hint}")
}

fn describe_exit(
    status: std::process::ExitStatus,
    stderr_tail: &VecDeque<String>,
    limits: &ProcessLimits,
) -> Outcome {
    if status.success() {
        return Outcome::Succeeded;
    }
    let how = match (status.code(), status.signal()) {
        (Some(code), _) => exited_with(code, limits),
        (None, Some(signal)) => killed_by(signal, limits),
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
        log.lock().await.signal_to(self.logs.signal(&task.log_path));

        let mut child = self
            .command(task)?
            .spawn()
            .map_err(|source| ExecError::Spawn {
                program: self.program(&task.program).display().to_string(),
                source,
            })?;
        let pid = child.id().expect("a just-spawned child has a pid");
        let process = ProcessRef::of(pid);

        let limits = self.limits;
        let (tx, rx) = watch::channel(None);
        let cancelled = Arc::new(AtomicBool::new(false));
        self.running.lock().expect("executor lock").insert(
            pid,
            Running {
                outcome: rx,
                cancelled: cancelled.clone(),
                run: task.run.clone(),
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
                Ok(status) => describe_exit(status, &tail, &limits),
                Err(e) => Outcome::Failed {
                    error: format!("waiting for the process failed: {e}"),
                },
            };
            let _ = tx.send(Some(outcome));
        });
        Ok(ExternalRef::Pid(process))
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
        if let ExternalRef::Pid(process) = external {
            self.running
                .lock()
                .expect("executor lock")
                .remove(&process.pid);
        }
        Ok(ended)
    }

    async fn cancel(&self, external: &ExternalRef, mode: CancelMode) -> Result<(), ExecError> {
        let (mut outcome, cancelled) = self.entry(external)?;
        let ExternalRef::Pid(ProcessRef { pid, .. }) = *external else {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::CommandExt as _;
    use std::process::ExitStatus;

    #[test]
    fn the_limiter_sets_every_limit_and_then_runs_the_program() {
        let limits = ProcessLimits {
            address_space_bytes: 1 << 30,
            cpu_seconds: 60,
            file_bytes: 1 << 20,
            open_files: 64,
            processes: 100,
        };
        // This test process's hard limits are at least these (or unlimited).
        let args = limiter_args(&limits.rlimits()).unwrap();
        assert_eq!(
            args,
            [
                "--core=0:0",
                "--as=1073741824:1073741824",
                "--cpu=60:65",
                "--fsize=1048576:1048576",
                "--nofile=64:64",
                "--nproc=100:100",
                "--"
            ]
        );
        assert_eq!(
            limiter_args(&ProcessLimits::UNLIMITED.rlimits()).unwrap(),
            ["--core=0:0", "--"]
        );
    }

    #[test]
    fn programs_are_found_as_the_child_would_find_them() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            resolve(Path::new("sh"), dir.path()),
            Some(PathBuf::from("/usr/bin/sh"))
        );
        assert_eq!(resolve(Path::new("no-such-program"), dir.path()), None);
        let script = dir.path().join("run.sh");
        std::fs::write(&script, "#!/bin/sh\n").unwrap();
        assert_eq!(
            resolve(Path::new("./run.sh"), dir.path()),
            None,
            "not executable"
        );
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(
            resolve(Path::new("./run.sh"), dir.path()),
            Some(dir.path().join("./run.sh"))
        );
        assert_eq!(
            resolve(&script, Path::new("/elsewhere")),
            Some(script.clone())
        );
    }

    /// A recorded process is the one running here only with the same boot
    /// and the same start time: another host's process, or one that reused
    /// the PID, is never signalled.
    #[test]
    fn a_process_reference_names_one_process_of_one_boot() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .process_group(0)
            .spawn()
            .unwrap();
        let here = ProcessRef::of(child.id());
        assert!(here.start > 0 && !here.boot.is_empty(), "{here}");
        assert_eq!(ProcessRef::parse(&here.to_string()), Some(here.clone()));
        assert!(here.is_running_here());
        let reused = ProcessRef {
            start: here.start + 1,
            ..here.clone()
        };
        let elsewhere = ProcessRef {
            boot: "another-host".into(),
            ..here.clone()
        };
        assert!(!reused.kill_if_running_here() && !elsewhere.kill_if_running_here());
        assert!(child.try_wait().unwrap().is_none(), "still running");
        assert!(here.kill_if_running_here());
        child.wait().unwrap();
        assert!(!here.is_running_here(), "gone once reaped");
        // A bare PID names no boot: it is never acted on.
        assert_eq!(ProcessRef::parse("pid:12"), None);
    }

    fn ended(raw: i32, stderr: &[&str]) -> String {
        let tail = stderr.iter().map(|s| s.to_string()).collect();
        let limits = ProcessLimits {
            cpu_seconds: 60,
            file_bytes: 2_000_000,
            ..ProcessLimits::default()
        };
        match describe_exit(ExitStatus::from_raw(raw), &tail, &limits) {
            Outcome::Failed { error } => error,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_exit_names_the_limit_that_caused_it() {
        assert_eq!(
            ended(Signal::SIGXCPU as i32, &[]),
            "killed: exceeded the CPU time limit of 60 s (SIGXCPU)"
        );
        assert_eq!(
            ended(Signal::SIGXFSZ as i32, &["writing"]),
            "writing\n(killed: exceeded the file size limit of 2.0 MB (SIGXFSZ))"
        );
        assert_eq!(
            ended(Signal::SIGSEGV as i32, &[]),
            "killed by signal 11 (SIGSEGV)"
        );
        assert_eq!(
            ended(Signal::SIGKILL as i32, &[]),
            "killed by signal 9 (SIGKILL; past the CPU time limit of 60 s, or out of memory)"
        );
        assert_eq!(ended(3 << 8, &[]), "exited with code 3");
        assert_eq!(
            ended((128 + Signal::SIGXCPU as i32) << 8, &[]),
            "exited with code 152; a process it ran was likely killed for exceeding the CPU time limit of 60 s"
        );
    }

    #[test]
    fn zero_is_unlimited_and_cpu_keeps_a_margin_to_its_hard_limit() {
        let rlimits = ProcessLimits::UNLIMITED.rlimits();
        assert_eq!(
            rlimits,
            [(Resource::RLIMIT_CORE, 0, 0)],
            "only core dumps stay off"
        );
        let rlimits = ProcessLimits::default().rlimits();
        assert!(rlimits.contains(&(Resource::RLIMIT_CPU, 21_600, 21_605)));
        assert!(rlimits.contains(&(Resource::RLIMIT_AS, 4 << 30, 4 << 30)));
        assert!(rlimits.contains(&(Resource::RLIMIT_NOFILE, 1024, 1024)));
    }
}
