//! Bounded resources: every task times out (the platform's timeout when its
//! component sets none or a longer one), local processes run under rlimits
//! and say which one stopped them, and `transform.sql` stops a query past its
//! time budget, rows or bytes.

use crate::common::Backend;
use crate::engine::{add_component, fixture_on, run_of, until};
use app::api::runs::Run;
use app::types::RunState;
use serde_json::json;
use server::components::env::SqlLimits;
use server::engine::EngineSettings;
use server::executors::local::{LocalExecutor, ProcessLimits};
use server::executors::{Executor, Outcome, TaskSpec};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

on_both_backends!(
    a_component_without_a_timeout_gets_the_platform_timeout,
    the_engine_bounds_its_tasks_with_the_platform_limits
);

const FOREVER: &str = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c)";

/// Runs `script` under `/bin/sh` as a task with `limits`; how it ended,
/// and how long that took.
async fn run_limited(dir: &Path, limits: ProcessLimits, script: &str) -> (Outcome, Duration) {
    let exec = LocalExecutor::new(PathBuf::from(env!("CARGO_BIN_EXE_trellis")), 1 << 20)
        .with_limits(limits);
    let spec = TaskSpec {
        program: "/bin/sh".into(),
        args: vec!["-c".into(), script.into()],
        env: vec![],
        workdir: dir.join("work"),
        log_path: dir.join("logs/task.log"),
        run: None,
    };
    let started = Instant::now();
    let pid = exec.submit(&spec).await.unwrap();
    let outcome = tokio::time::timeout(Duration::from_secs(60), exec.watch(&pid))
        .await
        .expect("the limit stops the process")
        .unwrap();
    (outcome, started.elapsed())
}

fn error(outcome: Outcome) -> String {
    match outcome {
        Outcome::Failed { error } => error,
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[tokio::test]
async fn a_process_past_its_cpu_limit_is_killed_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let limits = ProcessLimits {
        cpu_seconds: 1,
        ..ProcessLimits::default()
    };
    let (outcome, took) = run_limited(dir.path(), limits, "while :; do :; done").await;
    assert_eq!(
        error(outcome),
        "killed: exceeded the CPU time limit of 1 s (SIGXCPU)"
    );
    assert!(took < Duration::from_secs(30), "took {took:?}");
}

#[tokio::test]
async fn a_process_writing_past_the_file_size_limit_is_killed_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let limits = ProcessLimits {
        file_bytes: 1_000_000,
        ..ProcessLimits::default()
    };
    let (outcome, _) =
        run_limited(dir.path(), limits, "exec head -c 5000000 /dev/zero > big").await;
    assert_eq!(
        error(outcome),
        "killed: exceeded the file size limit of 1.0 MB (SIGXFSZ)"
    );
    let written = std::fs::metadata(dir.path().join("work/big"))
        .unwrap()
        .len();
    assert_eq!(written, 1_000_000, "not a byte past the limit");

    // A shell reports the command it ran as killed by SIGXFSZ (128 + 25).
    let (outcome, _) = run_limited(
        dir.path(),
        limits,
        "head -c 5000000 /dev/zero > big2; exit $?",
    )
    .await;
    let error = error(outcome);
    assert!(
        error.contains("exited with code 153; a process it ran was likely killed for exceeding the file size limit of 1.0 MB"),
        "{error}"
    );
}

/// The child's own view of its limits: `/proc/self/limits`, one line per limit.
async fn limits_seen(limits: ProcessLimits) -> String {
    let dir = tempfile::tempdir().unwrap();
    let (outcome, _) = run_limited(dir.path(), limits, "exec cat /proc/self/limits").await;
    assert_eq!(outcome, Outcome::Succeeded);
    std::fs::read_to_string(dir.path().join("logs/task.log")).unwrap()
}

fn limit_line<'a>(text: &'a str, name: &str) -> Vec<&'a str> {
    let line = text
        .lines()
        .find(|l| l.starts_with(name))
        .unwrap_or_else(|| panic!("no `{name}` in {text}"));
    line[name.len()..].split_whitespace().collect()
}

#[tokio::test]
async fn children_run_under_the_configured_limits() {
    let text = limits_seen(ProcessLimits {
        address_space_bytes: 3 << 30,
        cpu_seconds: 7,
        file_bytes: 5 << 20,
        open_files: 100,
        processes: 300,
    })
    .await;
    let soft_hard = |name| {
        let parts = limit_line(&text, name);
        (parts[0].to_owned(), parts[1].to_owned())
    };
    let same = |v: u64| (v.to_string(), v.to_string());
    assert_eq!(soft_hard("Max address space"), same(3 << 30));
    assert_eq!(
        soft_hard("Max cpu time"),
        ("7".into(), "12".into()),
        "SIGXCPU at the limit, SIGKILL a little later"
    );
    assert_eq!(soft_hard("Max file size"), same(5 << 20));
    assert_eq!(soft_hard("Max open files"), same(100));
    assert_eq!(soft_hard("Max processes"), same(300));
    assert_eq!(soft_hard("Max core file size"), same(0), "no core dumps");

    // 0 is unlimited (JVM components reserve far more than they use).
    let text = limits_seen(ProcessLimits::UNLIMITED).await;
    assert_eq!(limit_line(&text, "Max address space")[0], "unlimited");
    assert_eq!(limit_line(&text, "Max cpu time")[0], "unlimited");
}

/// A tenant folder holding dataset `seed` (one column `x`, one row).
fn tenant_with_seed() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    seed(dir.path());
    dir
}

fn seed(tenant_dir: &Path) {
    let mut writer = server::datasets::DatasetWriter::create(
        &tenant_dir.join("datasets"),
        "seed",
        vec!["x".into()],
    )
    .unwrap();
    writer.write_row(["1"]).unwrap();
    writer.finish(None).unwrap();
}

/// Runs `transform.sql` of `sql` into dataset `out` with `env` set; its
/// exit code, stderr, and how long it took.
async fn transform(tenant: &Path, sql: &str, env: &[(&str, &str)]) -> (i32, String, Duration) {
    let started = Instant::now();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_trellis"))
        .args(["step", "transform.sql", "--inputs=seed", "--dataset=out"])
        .arg(format!("--sql={sql}"))
        .env_clear()
        .env("TRELLIS_TENANT_DIR", tenant)
        .envs(env.iter().copied())
        .output();
    let out = tokio::time::timeout(Duration::from_secs(60), out)
        .await
        .expect("the budget stops the query")
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        started.elapsed(),
    )
}

fn out_data(tenant: &Path) -> String {
    std::fs::read_to_string(tenant.join("datasets/out/data.csv")).unwrap()
}

fn leftovers(tenant: &Path) -> Vec<String> {
    std::fs::read_dir(tenant.join("datasets"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with('.'))
        .collect()
}

#[tokio::test]
async fn a_query_that_never_ends_stops_at_its_budget() {
    let tenant = tenant_with_seed();
    let t = tenant.path();
    let (code, err, _) = transform(t, "SELECT x FROM seed", &[]).await;
    assert_eq!((code, err.as_str()), (0, ""));
    let before = out_data(t);

    let budget = [("TRELLIS_SQL_TIMEOUT_SECONDS", "1")];
    // Rows forever (the writing loop sees the deadline), and no row ever
    // (only SQLite's progress handler can stop it).
    for sql in [
        format!("{FOREVER} SELECT x FROM c"),
        format!("{FOREVER} SELECT count(*) FROM c"),
    ] {
        let (code, err, took) = transform(t, &sql, &budget).await;
        assert_eq!(code, 1, "{sql}: {err}");
        assert_eq!(err, "stopped: the query ran past its 1 s budget", "{sql}");
        assert!(took < Duration::from_secs(15), "{sql} took {took:?}");
    }
    assert_eq!(out_data(t), before, "the old dataset stays in place");
    assert_eq!(leftovers(t), Vec::<String>::new());
}

#[tokio::test]
async fn a_query_stops_past_its_rows_and_bytes() {
    let tenant = tenant_with_seed();
    let t = tenant.path();
    let (code, err, _) = transform(
        t,
        &format!("{FOREVER} SELECT x FROM c"),
        &[("TRELLIS_SQL_MAX_ROWS", "1000")],
    )
    .await;
    assert_eq!(code, 1, "{err}");
    assert_eq!(
        err,
        "stopped: the query returns more than 1000 rows, the most a query may write"
    );

    let (code, err, _) = transform(
        t,
        &format!("{FOREVER} SELECT x, 'padding padding' AS pad FROM c LIMIT 100000"),
        &[("TRELLIS_SQL_MAX_BYTES", "10000")],
    )
    .await;
    assert_eq!(code, 1, "{err}");
    assert_eq!(
        err,
        "stopped: the query's result is larger than 10.0 kB, the most a query may write"
    );

    // Within the limits, the same query writes its dataset.
    let (code, err, _) = transform(
        t,
        &format!("{FOREVER} SELECT x FROM c LIMIT 1000"),
        &[("TRELLIS_SQL_MAX_ROWS", "1000")],
    )
    .await;
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(out_data(t).lines().count(), 1001);
    assert_eq!(leftovers(t), Vec::<String>::new());
}

fn task_error(run: &Run, key: &str) -> String {
    let task = run.tasks.iter().find(|t| t.key == key).unwrap();
    task.error.clone().unwrap_or_default()
}

async fn a_component_without_a_timeout_gets_the_platform_timeout(backend: Backend) {
    let f = fixture_on(backend, |s| EngineSettings {
        task_timeout: Duration::from_secs(1),
        ..s
    })
    .await;
    add_component(
        &f,
        json!({
            "key": "test.patient", "name": "Patient", "category": "Testing", "params": [],
            "local": {"program": "trellis", "args": ["step", "sleep", "--seconds", "60"]},
            "timeout_seconds": 3600
        }),
    )
    .await;
    let started = Instant::now();
    let run = run_of(
        &f,
        json!({"nodes": [{"id": "plain", "component": "sleep", "params": {"seconds": 60}},
                         {"id": "own", "component": "test.patient"}], "edges": []}),
    )
    .await;
    let done = until(&f, &run, |r| r.state.is_terminal()).await;
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(done.state, RunState::Failed);
    for key in ["W_plain", "W_own"] {
        assert_eq!(
            task_error(&done, key),
            "timed out after 1 s (the platform's task timeout) and was killed",
            "{key}: none, or a longer one than the platform's, is capped"
        );
    }
}

async fn the_engine_bounds_its_tasks_with_the_platform_limits(backend: Backend) {
    let f = fixture_on(backend, |s| EngineSettings {
        process_limits: ProcessLimits {
            cpu_seconds: 1,
            ..ProcessLimits::default()
        },
        sql_limits: SqlLimits {
            timeout: Duration::from_secs(1),
            ..SqlLimits::default()
        },
        ..s
    })
    .await;
    seed(&f.engine.tenant_dir(&f.tenant));
    add_component(
        &f,
        json!({
            "key": "test.busy", "name": "Busy", "category": "Testing", "params": [],
            "local": {"program": "/bin/sh", "args": ["-c", "while :; do :; done"]}
        }),
    )
    .await;
    let sql = format!("{FOREVER} SELECT count(*) FROM c");
    let run = run_of(
        &f,
        json!({"nodes": [{"id": "busy", "component": "test.busy"},
                         {"id": "query", "component": "transform.sql",
                          "params": {"inputs": "seed", "sql": sql, "dataset": "out"}}],
               "edges": []}),
    )
    .await;
    let done = until(&f, &run, |r| r.state.is_terminal()).await;
    assert_eq!(done.state, RunState::Failed, "{done:#?}");
    assert_eq!(
        task_error(&done, "W_busy"),
        "killed: exceeded the CPU time limit of 1 s (SIGXCPU)"
    );
    let error = task_error(&done, "W_query");
    assert!(
        error.starts_with("stopped: the query ran past its 1 s budget\n"),
        "{error}"
    );
}
