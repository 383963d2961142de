//! The embedded engine running real processes: a chain succeeds in order, a
//! failure skips what depends on it and still runs PExit, and a stop ends the
//! run `cancelled` with no process left behind.

use crate::common::{engine_settings, Backend, TestApp};
use app::api::runs::Run;
use app::types::dag::compile;
use app::types::graph::ProcessGraph;
use app::types::{ProcessId, RunId, RunState, TaskKey, TaskState, TenantId, Trigger, VersionId};
use serde_json::json;
use server::db::runs::{self, NewRun};
use server::engine::{Engine, EngineSettings};
use server::events::EventBus;
use server::executors::CancelMode;
use std::time::{Duration, Instant};

on_both_backends!(
    failed_work_is_retried_with_backoff,
    work_past_its_timeout_is_killed_and_fails,
    tenants_take_turns_within_the_limits,
    a_chain_runs_in_order,
    a_failure_skips_downstream_and_fails_the_run,
    a_stop_cancels_the_run_and_its_processes,
    a_stop_received_by_another_server_stops_the_run,
    a_server_that_lost_its_run_stops_driving_it,
    a_stale_write_is_refused_and_ends_its_driver,
    a_stale_driver_starts_no_further_attempt
);

pub(crate) struct Fixture {
    pub app: TestApp,
    pub engine: Engine,
    pub bus: EventBus,
    pub tenant: TenantId,
    _data: tempfile::TempDir,
}

async fn fixture(backend: Backend) -> Fixture {
    fixture_with(backend, 64, 16).await
}

async fn fixture_with(backend: Backend, max_running: usize, per_tenant: usize) -> Fixture {
    fixture_on(backend, |settings| EngineSettings {
        max_running,
        max_running_per_tenant: per_tenant,
        ..settings
    })
    .await
}

/// An engine of its own over a fresh database, on the test settings as
/// `settings` changes them.
pub(crate) async fn fixture_on(
    backend: Backend,
    settings: impl FnOnce(EngineSettings) -> EngineSettings,
) -> Fixture {
    let app = TestApp::start(backend).await;
    let data = tempfile::tempdir().unwrap();
    let bus = EventBus::new(1024);
    let settings = settings(engine_settings(data.path().to_owned()));
    let engine = Engine::new(app.db.clone(), bus.clone(), settings);
    let tenant = app.demo_tenant().await;
    Fixture {
        app,
        engine,
        bus,
        tenant,
        _data: data,
    }
}

/// Publishes `graph` as version 1 of a new process and starts a run of it.
pub(crate) async fn run_of(f: &Fixture, graph: serde_json::Value) -> RunId {
    let admin = f.app.admin().await;
    run_in(f, &admin, "demo", &f.tenant, graph).await
}

async fn run_in(
    f: &Fixture,
    admin: &crate::common::Session,
    slug: &str,
    tenant: &TenantId,
    graph: serde_json::Value,
) -> RunId {
    let post = |path: String, body| {
        let admin = admin.clone();
        async move {
            f.app
                .as_user(&admin, axum::http::Method::POST, &path, Some(body))
                .await
        }
    };
    let process = post(
        format!("/api/v1/tenants/{slug}/processes"),
        json!({"name": format!("p-{}", uuid::Uuid::new_v4()), "graph": graph}),
    )
    .await
    .json();
    let id = ProcessId::new(process["id"].as_str().unwrap());
    let version = post(
        format!("/api/v1/tenants/{slug}/processes/{id}/versions"),
        json!({}),
    )
    .await;
    assert_eq!(version.status, 201, "{}", version.text());
    let version_id: VersionId = sqlx::query_scalar("SELECT id FROM versions WHERE process_id = $1")
        .bind(&id)
        .fetch_one(&f.app.db.pool)
        .await
        .unwrap();
    let graph: ProcessGraph = serde_json::from_value(graph).unwrap();
    let dag = compile(&graph).unwrap();
    let params = json!({});
    let (run, _) = runs::create(
        &f.app.db,
        NewRun {
            id: app::types::RunId::new(server::db::new_id()),
            resolved: &Default::default(),
            rerun_of: None,
            tenant,
            process: &id,
            version_id: &version_id,
            version_number: 1,
            trigger: Trigger::Manual,
            params: &params,
            by: None,
            dag: &dag,
            scheduled_for: None,
            owner: f.engine.server_id(),
        },
    )
    .await
    .unwrap();
    f.engine.launch(tenant.clone(), run.clone());
    run
}

pub(crate) async fn until(f: &Fixture, run: &RunId, done: impl Fn(&Run) -> bool) -> Run {
    let started = Instant::now();
    loop {
        let r = runs::get(&f.app.db, &f.tenant, run).await.unwrap().unwrap();
        if done(&r) {
            return r;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "run stuck: {r:#?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The PID of the local process `key` (a submit task) started.
fn pid_of(run: &Run, key: &str) -> u32 {
    run.tasks
        .iter()
        .find(|t| t.key == key)
        .and_then(|t| t.external_ref.as_deref())
        .and_then(server::executors::local::ProcessRef::parse)
        .unwrap_or_else(|| panic!("{key} started a local process"))
        .pid
}

/// A minute-long sleep, then a node that waits for it.
fn long_then_later() -> serde_json::Value {
    json!({"nodes": [{"id": "long", "component": "sleep", "params": {"seconds": 60}}, {"id": "later", "component": "noop"}],
           "edges": [{"from": "long", "to": "later"}]})
}

fn state_of(run: &Run, key: &str) -> TaskState {
    run.tasks.iter().find(|t| t.key == key).unwrap().state
}

async fn a_chain_runs_in_order(backend: Backend) {
    let f = fixture(backend).await;
    let mut live = f.bus.subscribe();
    let run = run_of(
        &f,
        json!({"nodes": [{"id": "a", "component": "noop"}, {"id": "b", "component": "sleep", "params": {"seconds": 0.2}}],
               "edges": [{"from": "a", "to": "b"}]}),
    )
    .await;
    let done = until(&f, &run, |r| r.state.is_terminal()).await;
    assert_eq!(done.state, RunState::Succeeded, "{done:#?}");
    assert!(
        done.tasks
            .iter()
            .all(|t| t.state == TaskState::Succeeded && t.attempt == 1),
        "{done:#?}"
    );
    let c_b = done.tasks.iter().find(|t| t.key == "C_b").unwrap();
    let w_a = done.tasks.iter().find(|t| t.key == "W_a").unwrap();
    assert!(c_b.started_at >= w_a.finished_at, "b starts after a ends");
    assert!(c_b.external_ref.as_deref().unwrap().starts_with("pid:"));

    let log =
        std::fs::read_to_string(f.engine.log_path(&f.tenant, &run, &TaskKey::from("C_b"))).unwrap();
    assert!(log.contains("sleep: done"), "{log}");

    let stored = runs::events_after(&f.app.db, &f.tenant, &run, 0)
        .await
        .unwrap();
    assert_eq!(stored.last().unwrap().state, "succeeded");
    assert_eq!(stored.last().unwrap().task, None);
    let mut published = Vec::new();
    while let Ok(p) = live.try_recv() {
        published.push(p.event);
    }
    assert_eq!(
        published,
        stored[1..].to_vec(),
        "every stored event after creation was published, in order"
    );
}

async fn a_failure_skips_downstream_and_fails_the_run(backend: Backend) {
    let f = fixture(backend).await;
    let run = run_of(
        &f,
        json!({"nodes": [{"id": "bad", "component": "fail", "params": {"message": "3 rows violate not_null(id)"}},
                         {"id": "after", "component": "noop"}, {"id": "side", "component": "noop"}],
               "edges": [{"from": "bad", "to": "after"}]}),
    )
    .await;
    let done = until(&f, &run, |r| r.state.is_terminal()).await;
    assert_eq!(done.state, RunState::Failed);
    assert_eq!(state_of(&done, "W_bad"), TaskState::Failed);
    let error = done
        .tasks
        .iter()
        .find(|t| t.key == "W_bad")
        .unwrap()
        .error
        .clone()
        .unwrap();
    assert!(error.starts_with("3 rows violate not_null(id)"), "{error}");
    assert_eq!(state_of(&done, "C_after"), TaskState::Skipped);
    assert_eq!(state_of(&done, "W_after"), TaskState::Skipped);
    assert_eq!(
        state_of(&done, "W_side"),
        TaskState::Succeeded,
        "independent branches still run"
    );
    assert_eq!(
        state_of(&done, "PExit"),
        TaskState::Succeeded,
        "PExit always runs"
    );
}

/// A stop received by another server (sharing the database) reaches the run
/// where it runs: the request is stored, and the server driving the run
/// acts on it at its next look, in the mode asked for.
async fn a_stop_received_by_another_server_stops_the_run(backend: Backend) {
    let f = fixture(backend).await;
    let shutdown = tokio_util::sync::CancellationToken::new();
    f.engine
        .spawn_stop_watch(Duration::from_millis(100), shutdown.clone());
    let other = Engine::new(
        f.app.db.clone(),
        EventBus::new(64),
        engine_settings(f._data.path().to_owned()),
    );
    assert_ne!(other.server_id(), f.engine.server_id());
    let run = run_of(&f, long_then_later()).await;
    let running = until(&f, &run, |r| state_of(r, "W_long") == TaskState::Running).await;
    let pid = pid_of(&running, "C_long");

    let started = Instant::now();
    let stopped = other
        .stop(&f.tenant, &run, CancelMode::Force)
        .await
        .unwrap();
    assert!(stopped.is_some());
    let done = until(&f, &run, |r| r.state.is_terminal()).await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(done.state, RunState::Cancelled);
    assert_eq!(state_of(&done, "W_long"), TaskState::Cancelled);
    assert_eq!(state_of(&done, "C_later"), TaskState::Cancelled);
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "the step's process is gone"
    );
    shutdown.cancel();
}

/// Another server takes `run` over, as one does after this server stalled
/// past its lease (a new owner, a later epoch).
async fn take_over(f: &Fixture, run: &RunId) {
    sqlx::query("UPDATE runs SET owner = 'another-server', epoch = epoch + 1 WHERE id = $1")
        .bind(run)
        .execute(&f.app.db.pool)
        .await
        .unwrap();
}

/// Every event stored for `run`, as (task, state).
async fn stored_events(f: &Fixture, run: &RunId) -> Vec<String> {
    runs::events_after(&f.app.db, &f.tenant, run, 0)
        .await
        .unwrap()
        .iter()
        .map(|e| format!("{:?}:{}", e.task, e.state.as_str()))
        .collect()
}

async fn a_server_that_lost_its_run_stops_driving_it(backend: Backend) {
    let f = fixture(backend).await;
    let shutdown = tokio_util::sync::CancellationToken::new();
    f.engine
        .spawn_stop_watch(Duration::from_millis(100), shutdown.clone());
    let run = run_of(&f, long_then_later()).await;
    let running = until(&f, &run, |r| state_of(r, "W_long") == TaskState::Running).await;
    let pid = pid_of(&running, "C_long");
    let before = stored_events(&f, &run).await;

    take_over(&f, &run).await;
    let began = Instant::now();
    while std::path::Path::new(&format!("/proc/{pid}")).exists() {
        assert!(
            began.elapsed() < Duration::from_secs(5),
            "the lost run's process is killed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Its end (killed) is not recorded, nor anything after it: the run is
    // the new owner's to recover.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(stored_events(&f, &run).await, before);
    let after = runs::get(&f.app.db, &f.tenant, &run)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.state, RunState::Running);
    assert_eq!(state_of(&after, "W_long"), TaskState::Running);
    assert_eq!(state_of(&after, "C_later"), TaskState::Pending);
    shutdown.cancel();
}

async fn a_stale_write_is_refused_and_ends_its_driver(backend: Backend) {
    // No look for lost runs here: the driver learns it at its next write.
    let f = fixture(backend).await;
    let graph = json!({"nodes": [{"id": "short", "component": "sleep", "params": {"seconds": 1}}, {"id": "later", "component": "noop"}],
                       "edges": [{"from": "short", "to": "later"}]});
    let run = run_of(&f, graph).await;
    until(&f, &run, |r| state_of(r, "W_short") == TaskState::Running).await;
    let before = stored_events(&f, &run).await;

    take_over(&f, &run).await;
    // The step ends after a second; recording its end is refused (the
    // task row's change is rolled back with the event), and the driver
    // stops there rather than start `later` or give the run up.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(stored_events(&f, &run).await, before);
    let after = runs::get(&f.app.db, &f.tenant, &run)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.state, RunState::Running);
    assert_eq!(state_of(&after, "W_short"), TaskState::Running);
    assert_eq!(state_of(&after, "C_later"), TaskState::Pending);
}

async fn a_stale_driver_starts_no_further_attempt(backend: Backend) {
    // The run is taken over while its work waits to be tried again: the
    // old driver's next attempt is refused before it starts, so the work
    // ran once, in the one attempt its task counts.
    let f = fixture(backend).await;
    add_component(
        &f,
        json!({
            "key": "test.fails", "name": "Fails", "category": "Testing", "params": [],
            "local": {"program": "/bin/sh", "args": ["-c", "echo ran >> stale-attempts; exit 1"]},
            "retries": 2, "retry_delay_seconds": 1.5
        }),
    )
    .await;
    let graph = json!({"nodes": [{"id": "x", "component": "test.fails"}], "edges": []});
    let run = run_of(&f, graph).await;
    until(&f, &run, |r| state_of(r, "W_x") == TaskState::UpForRetry).await;
    let before = stored_events(&f, &run).await;

    take_over(&f, &run).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        stored_events(&f, &run).await,
        before,
        "the old driver wrote nothing more"
    );
    let after = runs::get(&f.app.db, &f.tenant, &run)
        .await
        .unwrap()
        .unwrap();
    let w = after.tasks.iter().find(|t| t.key == "W_x").unwrap();
    assert_eq!((w.state, w.attempt), (TaskState::UpForRetry, 1));
    let marks = std::fs::read_to_string(f.engine.tenant_dir(&f.tenant).join("work/stale-attempts"))
        .unwrap();
    assert_eq!(marks.lines().count(), 1, "the work ran once");
}

async fn a_stop_cancels_the_run_and_its_processes(backend: Backend) {
    let f = fixture(backend).await;
    let run = run_of(&f, long_then_later()).await;
    let running = until(&f, &run, |r| state_of(r, "W_long") == TaskState::Running).await;
    let pid = pid_of(&running, "C_long");

    let started = Instant::now();
    let stopped = f
        .engine
        .stop(
            &f.tenant,
            &run,
            CancelMode::Graceful {
                grace: Duration::from_secs(5),
            },
        )
        .await
        .unwrap();
    assert!(stopped.is_some());
    let done = until(&f, &run, |r| r.state.is_terminal()).await;
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(done.state, RunState::Cancelled);
    assert_eq!(state_of(&done, "W_long"), TaskState::Cancelled);
    assert_eq!(state_of(&done, "C_later"), TaskState::Cancelled);
    assert_eq!(state_of(&done, "PExit"), TaskState::Succeeded);
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "the step's process is gone"
    );

    let again = f
        .engine
        .stop(&f.tenant, &run, CancelMode::Force)
        .await
        .unwrap();
    assert!(again.is_none(), "an ended run cannot be stopped");
}

async fn tenants_take_turns_within_the_limits(backend: Backend) {
    let f = fixture_with(backend, 2, 2).await;
    let nodes: Vec<serde_json::Value> = (0..6)
        .map(|i| json!({"id": format!("n{i}"), "component": "sleep", "params": {"seconds": 0.6}}))
        .collect();
    let big = run_of(&f, json!({"nodes": nodes, "edges": []})).await;

    let other_admin = f.app.member("acme", "olga", "tenant_admin").await;
    let acme: String = sqlx::query_scalar("SELECT id FROM tenants WHERE slug = 'acme'")
        .fetch_one(&f.app.db.pool)
        .await
        .unwrap();
    let acme = TenantId::new(acme);
    let small = run_in(
        &f,
        &other_admin,
        "acme",
        &acme,
        json!({"nodes": [{"id": "one", "component": "noop"}], "edges": []}),
    )
    .await;

    let big = until(&f, &big, |r| r.state.is_terminal()).await;
    assert_eq!(big.state, RunState::Succeeded, "{big:#?}");
    let started = Instant::now();
    let small = loop {
        let r = runs::get(&f.app.db, &acme, &small).await.unwrap().unwrap();
        if r.state.is_terminal() {
            break r;
        }
        assert!(started.elapsed() < Duration::from_secs(10));
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    assert_eq!(small.state, RunState::Succeeded);

    // Each node holds its slot from its submit's start to its watch's end.
    let spans = |run: &Run| -> Vec<(String, String)> {
        run.tasks
            .iter()
            .filter(|t| t.key.as_str().starts_with("C_"))
            .map(|c| {
                let w = run
                    .tasks
                    .iter()
                    .find(|w| w.key == format!("W_{}", &c.key.as_str()[2..]).as_str())
                    .unwrap();
                (
                    c.started_at.clone().unwrap(),
                    w.finished_at.clone().unwrap(),
                )
            })
            .collect()
    };
    let mut all = spans(&big);
    all.extend(spans(&small));
    for (start, _) in &all {
        let overlapping = all.iter().filter(|(s, e)| s <= start && start < e).count();
        assert!(overlapping <= 2, "at most 2 tasks run at once: {all:?}");
    }
    let mut big_starts: Vec<String> = spans(&big).into_iter().map(|(s, _)| s).collect();
    big_starts.sort();
    let small_start = &spans(&small)[0].0;
    assert!(small_start < &big_starts[3], "the small run gets a turn before the big one's later tasks: {small_start} vs {big_starts:?}");
}

/// Registers `component` in the catalog, as the platform admin.
pub(crate) async fn add_component(f: &Fixture, component: serde_json::Value) {
    let admin = f.app.admin().await;
    let reply = f
        .app
        .as_user(
            &admin,
            axum::http::Method::POST,
            "/api/v1/admin/components",
            Some(component),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text());
}

/// Registers a component that fails until its `succeed_on`-th run.
async fn add_components(f: &Fixture) {
    let flaky = json!({
        "key": "test.flaky", "name": "Flaky", "category": "Testing",
        "params": [{"name": "succeed_on", "type": "integer", "required": true}],
        "local": {"program": "/bin/sh", "args": ["-c", "n=$(cat count 2>/dev/null || echo 0); n=$((n+1)); echo $n > count; echo attempt $n >&2; [ $n -ge {succeed_on} ]"]},
        "retries": 2, "retry_delay_seconds": 0.1
    });
    let slow = json!({
        "key": "test.slow", "name": "Slow", "category": "Testing", "params": [],
        "local": {"program": "trellis", "args": ["step", "sleep", "--seconds", "30"]},
        "timeout_seconds": 0.5
    });
    for c in [flaky, slow] {
        add_component(f, c).await;
    }
}

async fn failed_work_is_retried_with_backoff(backend: Backend) {
    let f = fixture(backend).await;
    add_components(&f).await;
    let started = Instant::now();
    let run = run_of(&f, json!({"nodes": [{"id": "x", "component": "test.flaky", "params": {"succeed_on": 3}}], "edges": []})).await;
    let done = until(&f, &run, |r| r.state.is_terminal()).await;
    assert_eq!(done.state, RunState::Succeeded, "{done:#?}");
    let w = done.tasks.iter().find(|t| t.key == "W_x").unwrap();
    assert_eq!((w.state, w.attempt), (TaskState::Succeeded, 3));
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "backs off 0.1 s, then 0.2 s"
    );
    let states: Vec<String> = runs::events_after(&f.app.db, &f.tenant, &run, 0)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.task.as_ref().map(TaskKey::as_str) == Some("W_x"))
        .map(|e| e.state.to_string())
        .collect();
    assert_eq!(
        states,
        [
            "queued",
            "running",
            "up_for_retry",
            "queued",
            "running",
            "up_for_retry",
            "queued",
            "running",
            "succeeded"
        ]
    );

    let run = run_of(&f, json!({"nodes": [{"id": "y", "component": "test.flaky", "params": {"succeed_on": 99}}], "edges": []})).await;
    let done = until(&f, &run, |r| r.state.is_terminal()).await;
    assert_eq!(done.state, RunState::Failed);
    let w = done.tasks.iter().find(|t| t.key == "W_y").unwrap();
    assert_eq!(
        (w.state, w.attempt),
        (TaskState::Failed, 3),
        "2 retries, then it fails for good"
    );
    assert!(w.error.as_deref().unwrap().starts_with("attempt"), "{w:?}");
}

async fn work_past_its_timeout_is_killed_and_fails(backend: Backend) {
    let f = fixture(backend).await;
    add_components(&f).await;
    let started = Instant::now();
    let run = run_of(
        &f,
        json!({"nodes": [{"id": "z", "component": "test.slow"}], "edges": []}),
    )
    .await;
    let done = until(&f, &run, |r| r.state.is_terminal()).await;
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(done.state, RunState::Failed);
    let w = done.tasks.iter().find(|t| t.key == "W_z").unwrap();
    assert_eq!(
        w.error.as_deref(),
        Some("timed out after 0.5 s and was killed")
    );
    let pid = pid_of(&done, "C_z");
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
}

/// Holds SQLite's write lock from a connection of its own for `hold` (past
/// the server's 5 s busy timeout, its writes fail with "database is
/// locked"), as a long migration or a backup would; reads go on (WAL).
async fn lock_database_for(f: &Fixture, hold: Duration) -> tokio::task::JoinHandle<()> {
    use sqlx::{Connection, Executor};
    let mut conn = sqlx::AnyConnection::connect(&f.app.database.url)
        .await
        .unwrap();
    conn.execute("BEGIN EXCLUSIVE").await.unwrap();
    tokio::spawn(async move {
        tokio::time::sleep(hold).await;
        conn.execute("COMMIT").await.unwrap();
    })
}

fn nap_then_next() -> serde_json::Value {
    json!({"nodes": [{"id": "nap", "component": "sleep", "params": {"seconds": 0.5}}, {"id": "next", "component": "noop"}],
           "edges": [{"from": "nap", "to": "next"}]})
}

/// A database that refuses writes for a while does not end a run: its
/// driver tries the state change again until the database takes it.
#[tokio::test]
async fn a_database_busy_for_a_while_does_not_end_a_run() {
    let f = fixture(Backend::Sqlite).await;
    let run = run_of(&f, nap_then_next()).await;
    until(&f, &run, |r| state_of(r, "W_nap") == TaskState::Running).await;
    let lock = lock_database_for(&f, Duration::from_secs(7)).await;
    let done = until(&f, &run, |r| r.state.is_terminal()).await;
    lock.await.unwrap();
    assert_eq!(done.state, RunState::Succeeded, "{done:#?}");
    assert_eq!(state_of(&done, "C_next"), TaskState::Succeeded);
}

/// A driver that has to give up (the database refused longer than
/// `db_retry`) never leaves its run active: once the database is back, the
/// run fails with the reason, what was waiting is skipped, and no slot is
/// left taken.
#[tokio::test]
async fn a_driver_that_gives_up_fails_its_run_with_the_reason() {
    let f = fixture_on(Backend::Sqlite, |s| EngineSettings {
        db_retry: Duration::from_secs(1),
        max_running: 1,
        max_running_per_tenant: 1,
        ..s
    })
    .await;
    let run = run_of(&f, nap_then_next()).await;
    until(&f, &run, |r| state_of(r, "W_nap") == TaskState::Running).await;
    let lock = lock_database_for(&f, Duration::from_secs(8)).await;
    let done = until(&f, &run, |r| r.state.is_terminal()).await;
    lock.await.unwrap();
    assert_eq!(done.state, RunState::Failed, "{done:#?}");
    let nap = done.tasks.iter().find(|t| t.key == "W_nap").unwrap();
    assert_eq!(nap.state, TaskState::Failed);
    let error = nap.error.as_deref().unwrap_or_default();
    assert!(
        error.starts_with("Trellis gave this run up") && error.contains("locked"),
        "{error}"
    );
    assert_eq!(state_of(&done, "C_next"), TaskState::Skipped);
    // The one slot is free again: another run runs.
    let again = run_of(&f, nap_then_next()).await;
    let done = until(&f, &again, |r| r.state.is_terminal()).await;
    assert_eq!(done.state, RunState::Succeeded, "{done:#?}");
}

/// Collects `run`'s events from `bus` until the run's final state.
async fn heard_until_the_end(
    bus: &mut tokio::sync::broadcast::Receiver<server::events::Published>,
    run: &RunId,
) -> Vec<i64> {
    let mut seqs = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let p = tokio::time::timeout(left, bus.recv())
            .await
            .expect("the run's events keep coming")
            .unwrap();
        if p.event.run != *run {
            continue;
        }
        seqs.push(p.event.seq);
        if p.event.task.is_none()
            && matches!(
                p.event.state.to_string().as_str(),
                "succeeded" | "failed" | "cancelled"
            )
        {
            return seqs;
        }
    }
}

/// On PostgreSQL every server hears every committed event: a server that
/// does not drive a run publishes its whole event log, in order, from the
/// database's announcements; the driving server, which hears its own echo,
/// publishes nothing twice.
#[tokio::test]
async fn another_server_hears_every_event_of_a_run_it_does_not_drive() {
    if crate::common::skipped(Backend::Postgres, "another_server_hears_every_event") {
        return;
    }
    let f = fixture(Backend::Postgres).await;
    let shutdown = tokio_util::sync::CancellationToken::new();
    let elsewhere = EventBus::new(1024);
    for bus in [&elsewhere, &f.bus] {
        server::events::spawn_pg_bridge(
            f.app.database.url.clone(),
            f.app.db.clone(),
            bus.clone(),
            shutdown.clone(),
        );
    }
    let mut there = elsewhere.subscribe();
    let mut here = f.bus.subscribe();
    tokio::time::sleep(Duration::from_secs(1)).await; // the listeners connect
    let run = run_of(
        &f,
        json!({"nodes": [{"id": "a", "component": "noop"}, {"id": "b", "component": "sleep", "params": {"seconds": 0.2}}],
               "edges": [{"from": "a", "to": "b"}]}),
    )
    .await;
    let there = heard_until_the_end(&mut there, &run).await;
    let here = heard_until_the_end(&mut here, &run).await;
    let stored: Vec<i64> = runs::events_after(&f.app.db, &f.tenant, &run, 0)
        .await
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(there, stored, "another server hears every event, in order");
    assert_eq!(here, stored, "the driving server publishes each event once");
    shutdown.cancel();
}
