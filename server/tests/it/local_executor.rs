//! The local executor against real processes: outcomes, logs, a clean
//! environment, and stops that leave no process of the task behind.

use crate::common::alive;
use server::executors::local::{LocalExecutor, ProcessRef};
use server::executors::{CancelMode, ExecError, Executor, ExternalRef, Outcome, TaskSpec};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn executor(log_limit: u64) -> LocalExecutor {
    LocalExecutor::new(PathBuf::from(env!("CARGO_BIN_EXE_trellis")), log_limit)
}

fn spec(dir: &Path, program: &str, args: &[&str]) -> TaskSpec {
    TaskSpec {
        program: program.into(),
        args: args.iter().map(|a| a.to_string()).collect(),
        env: vec![("TRELLIS_RUN".into(), "run-1".into())],
        workdir: dir.join("work"),
        log_path: dir.join("logs/task.log"),
        run: None,
    }
}

fn log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("logs/task.log")).unwrap()
}

async fn wait_for_file(path: &Path) -> String {
    for _ in 0..100 {
        if let Ok(text) = std::fs::read_to_string(path) {
            if !text.trim().is_empty() {
                return text;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{} never appeared", path.display());
}

#[tokio::test]
async fn a_successful_step_logs_its_output() {
    let dir = tempfile::tempdir().unwrap();
    let exec = executor(1 << 20);
    let pid = exec
        .submit(&spec(dir.path(), "trellis", &["step", "noop"]))
        .await
        .unwrap();
    assert_eq!(exec.watch(&pid).await.unwrap(), Outcome::Succeeded);
    assert!(log(dir.path()).contains("noop: nothing to do"));
}

#[tokio::test]
async fn a_failing_step_reports_its_last_stderr_lines() {
    let dir = tempfile::tempdir().unwrap();
    let exec = executor(1 << 20);
    let pid = exec
        .submit(&spec(
            dir.path(),
            "trellis",
            &["step", "fail", "--message", "3 rows violate not_null(id)"],
        ))
        .await
        .unwrap();
    let Outcome::Failed { error } = exec.watch(&pid).await.unwrap() else {
        panic!("expected a failure")
    };
    assert_eq!(error, "3 rows violate not_null(id)\n(exited with code 1)");
}

#[tokio::test]
async fn the_child_gets_a_clean_environment_and_its_workdir() {
    let dir = tempfile::tempdir().unwrap();
    let exec = executor(1 << 20);
    let pid = exec
        .submit(&spec(dir.path(), "/bin/sh", &["-c", "env; pwd"]))
        .await
        .unwrap();
    assert_eq!(exec.watch(&pid).await.unwrap(), Outcome::Succeeded);
    let text = log(dir.path());
    let mut vars: Vec<&str> = text
        .lines()
        .filter(|l| l.contains('='))
        .map(|l| l.split('=').next().unwrap())
        .collect();
    vars.sort();
    vars.retain(|v| !["PWD", "SHLVL", "_"].contains(v)); // set by the shell itself
    assert_eq!(vars, ["PATH", "TRELLIS_RUN"], "{text}");
    let workdir = dir.path().join("work").canonicalize().unwrap();
    assert!(text.lines().any(|l| Path::new(l) == workdir), "{text}");
}

#[tokio::test]
async fn a_graceful_stop_ends_the_whole_process_group() {
    let dir = tempfile::tempdir().unwrap();
    let exec = executor(1 << 20);
    let script = "sleep 60 & echo $! > grandchild.pid; wait";
    let external = exec
        .submit(&spec(dir.path(), "/bin/sh", &["-c", script]))
        .await
        .unwrap();
    let ExternalRef::Pid(ProcessRef { pid, .. }) = external else {
        panic!("a local process")
    };
    let grandchild: u32 = wait_for_file(&dir.path().join("work/grandchild.pid"))
        .await
        .trim()
        .parse()
        .unwrap();
    assert!(alive(pid) && alive(grandchild));

    let started = Instant::now();
    exec.cancel(
        &external,
        CancelMode::Graceful {
            grace: Duration::from_secs(10),
        },
    )
    .await
    .unwrap();
    assert_eq!(exec.watch(&external).await.unwrap(), Outcome::Cancelled);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "SIGTERM was enough"
    );
    for _ in 0..50 {
        if !alive(pid) && !alive(grandchild) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!alive(pid), "the task's process is gone");
    assert!(!alive(grandchild), "so is the process it started");
}

#[tokio::test]
async fn a_process_that_ignores_sigterm_is_killed_after_the_grace_period() {
    let dir = tempfile::tempdir().unwrap();
    let exec = executor(1 << 20);
    let script = "trap '' TERM; echo ready > ready; while true; do sleep 1; done";
    let external = exec
        .submit(&spec(dir.path(), "/bin/sh", &["-c", script]))
        .await
        .unwrap();
    wait_for_file(&dir.path().join("work/ready")).await;
    let started = Instant::now();
    exec.cancel(
        &external,
        CancelMode::Graceful {
            grace: Duration::from_millis(400),
        },
    )
    .await
    .unwrap();
    assert_eq!(exec.watch(&external).await.unwrap(), Outcome::Cancelled);
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(400) && took < Duration::from_secs(5),
        "took {took:?}"
    );
    let ExternalRef::Pid(ProcessRef { pid, .. }) = external else {
        panic!("a local process")
    };
    assert!(!alive(pid));
}

#[tokio::test]
async fn a_forced_stop_is_immediate() {
    let dir = tempfile::tempdir().unwrap();
    let exec = executor(1 << 20);
    let external = exec
        .submit(&spec(
            dir.path(),
            "trellis",
            &["step", "sleep", "--seconds", "60"],
        ))
        .await
        .unwrap();
    let started = Instant::now();
    exec.cancel(&external, CancelMode::Force).await.unwrap();
    assert_eq!(exec.watch(&external).await.unwrap(), Outcome::Cancelled);
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn logs_are_cut_at_their_limit_without_blocking_the_child() {
    let dir = tempfile::tempdir().unwrap();
    let exec = executor(1000);
    let script = "i=0; while [ $i -lt 5000 ]; do echo line $i; i=$((i+1)); done";
    let pid = exec
        .submit(&spec(dir.path(), "/bin/sh", &["-c", script]))
        .await
        .unwrap();
    assert_eq!(exec.watch(&pid).await.unwrap(), Outcome::Succeeded);
    let text = log(dir.path());
    assert!(text.starts_with("line 0\n"));
    assert!(
        text.ends_with("[trellis: log truncated at 1000 bytes; further output discarded]\n"),
        "{text}"
    );
    assert!(text.len() < 1100);
}

#[tokio::test]
async fn unknown_programs_and_references_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let exec = executor(1 << 20);
    let err = exec
        .submit(&spec(dir.path(), "/no/such/program", &[]))
        .await
        .unwrap_err();
    assert!(matches!(err, ExecError::Spawn { .. }), "{err}");
    let unknown = ProcessRef {
        pid: 999_999,
        boot: "b".into(),
        start: 1,
    };
    let err = exec.watch(&ExternalRef::Pid(unknown)).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "no process pid:999999@b:1 is known to this server"
    );
}
