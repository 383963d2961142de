//! The scheduler with the real binary and the real clock: a server killed
//! between a fire and its run's start, then started again; and two servers
//! on one PostgreSQL database firing the same schedule, one of them killed.
//! Every fire time gets exactly one run, and every run ends.

use crate::common::binary::{
    call, event_stream, postgres_for, published, sign_in, start_run, start_sharing, start_with,
    wait_for, Server,
};
use crate::common::{ended, task};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::process::Command;
use std::time::{Duration, Instant};

/// A published process of one node; answers its API path.
fn process(server: &Server, cookie: &str, name: &str, node: Value) -> String {
    let graph = json!({"nodes": [node], "edges": []});
    published(&server.addr, cookie, name, graph)
}

fn every_second(server: &Server, cookie: &str, path: &str, enabled: bool) {
    let (status, _, s) = call(
        &server.addr,
        "PUT",
        &format!("{path}/schedule"),
        cookie,
        Some(
            json!({"cron": "* * * * * *", "timezone": "UTC", "enabled": enabled, "max_active_runs": 100}),
        ),
    );
    assert!(status == 200 || status == 201, "{s}");
}

fn runs(server: &Server, cookie: &str, path: &str) -> Vec<Value> {
    let (status, _, list) = call(
        &server.addr,
        "GET",
        &format!("{path}/runs?limit=200"),
        cookie,
        None,
    );
    assert_eq!(status, 200, "{list}");
    list.as_array().unwrap().clone()
}

/// Every run ended; answers the fire times, checking each has one run.
fn fire_times(server: &Server, cookie: &str, path: &str) -> BTreeSet<String> {
    let all = runs(server, cookie, path);
    let mut times = BTreeSet::new();
    for r in &all {
        assert_eq!(r["trigger"], "schedule");
        let at = r["scheduled_for"].as_str().unwrap().to_owned();
        assert!(times.insert(at.clone()), "two runs for the fire at {at}");
        let id = r["id"].as_str().unwrap();
        let done = wait_for(&server.addr, cookie, id, ended);
        assert_eq!(done["state"], "succeeded", "{done}");
    }
    times
}

/// The fire times form an unbroken run of seconds.
fn assert_contiguous(times: &BTreeSet<String>) {
    let secs: Vec<i64> = times
        .iter()
        .map(|t| chrono::DateTime::parse_from_rfc3339(t).unwrap().timestamp())
        .collect();
    for pair in secs.windows(2) {
        assert_eq!(pair[1] - pair[0], 1, "a fire was lost: {times:?}");
    }
}

fn terminate(mut server: Server) {
    Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    server.child.wait().unwrap();
}

#[test]
fn a_server_killed_between_fire_and_run_start_fires_nothing_twice() {
    let data = tempfile::tempdir().unwrap();
    let mut first = start_with(data.path(), &[("TRELLIS_FAULT", "schedule-after-fire")]);
    let cookie = sign_in(&first.addr);
    let path = process(
        &first,
        &cookie,
        "Every second",
        json!({"id": "work", "component": "noop"}),
    );
    every_second(&first, &cookie, &path, true);
    // The first fire is stored with its run, then the server dies.
    let status = first.child.wait().unwrap();
    assert!(!status.success(), "the fault point stopped the server");

    let second = start_with(data.path(), &[]);
    let cookie = sign_in(&second.addr);
    std::thread::sleep(Duration::from_secs(3));
    every_second(&second, &cookie, &path, false);
    let times = fire_times(&second, &cookie, &path);
    assert!(times.len() >= 3, "{times:?}");
    assert_contiguous(&times);
    terminate(second);
}

#[test]
fn two_servers_on_one_postgres_fire_each_time_once_and_take_over_runs() {
    let Some(url) =
        postgres_for("two_servers_on_one_postgres_fire_each_time_once_and_take_over_runs")
    else {
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let env = [("TRELLIS_SERVER_LEASE_SECONDS", "3")];
    let mut a = start_sharing(data.path(), &url, &env);
    let b = start_sharing(data.path(), &url, &env);
    let cookie_a = sign_in(&a.addr);
    let cookie_b = sign_in(&b.addr);
    let path = process(
        &a,
        &cookie_a,
        "Every second",
        json!({"id": "work", "component": "noop"}),
    );
    every_second(&a, &cookie_a, &path, true);
    std::thread::sleep(Duration::from_secs(5));
    every_second(&b, &cookie_b, &path, false);
    let times = fire_times(&b, &cookie_b, &path);
    assert!(times.len() >= 4, "{times:?}");
    assert_contiguous(&times);

    // A run server A drives, followed live on B: B's event stream carries
    // every event, in order, to the run's end (PostgreSQL announces each
    // committed event to every server).
    let short = process(
        &a,
        &cookie_a,
        "Short",
        json!({"id": "nap", "component": "sleep", "params": {"seconds": 2}}),
    );
    let id = start_run(&a.addr, &cookie_a, &short);
    let began = Instant::now();
    let stream = event_stream(&b.addr, &cookie_b, &id, Duration::from_secs(20));
    assert!(
        began.elapsed() < Duration::from_secs(15),
        "the stream ends with the run"
    );
    let ids: Vec<i64> = stream
        .lines()
        .filter_map(|l| l.strip_prefix("id:"))
        .map(|n| n.trim().parse().unwrap())
        .collect();
    assert_eq!(ids, (1..=ids.len() as i64).collect::<Vec<_>>(), "{stream}");
    assert!(
        stream.contains(r#""task":null"#) && stream.contains(r#""state":"succeeded""#),
        "the run's end reaches B: {stream}"
    );

    // A stop sent to B stops the work A drives, at once.
    let nap = process(
        &a,
        &cookie_a,
        "Nap",
        json!({"id": "nap", "component": "sleep", "params": {"seconds": 60}}),
    );
    let id = start_run(&a.addr, &cookie_a, &nap);
    wait_for(&a.addr, &cookie_a, &id, |r| {
        task(r, "W_nap")["state"] == "running"
    });
    let began = Instant::now();
    let (status, _, _) = call(
        &b.addr,
        "POST",
        &format!("/api/v1/tenants/demo/runs/{id}/stop?mode=force"),
        &cookie_b,
        None,
    );
    assert_eq!(status, 202);
    let done = wait_for(&b.addr, &cookie_b, &id, ended);
    assert_eq!(done["state"], "cancelled", "{done}");
    assert!(
        began.elapsed() < Duration::from_secs(5),
        "{:?}",
        began.elapsed()
    );

    // A run server A drives, A killed: B takes it over and ends it.
    let long = process(
        &a,
        &cookie_a,
        "Long",
        json!({"id": "long", "component": "sleep", "params": {"seconds": 30}}),
    );
    let id = start_run(&a.addr, &cookie_a, &long);
    wait_for(&a.addr, &cookie_a, &id, |r| {
        task(r, "W_long")["state"] == "running"
    });
    a.child.kill().unwrap();
    a.child.wait().unwrap();
    let begun = Instant::now();
    let done = wait_for(&b.addr, &cookie_b, &id, ended);
    assert!(begun.elapsed() < Duration::from_secs(20));
    assert!(
        task(&done, "W_long")["error"]
            .as_str()
            .unwrap_or_default()
            .starts_with("Trellis restarted while this task was running"),
        "{done}"
    );
    assert_eq!(task(&done, "PExit")["state"], "succeeded");
    terminate(b);
}

#[test]
fn a_server_paused_past_its_lease_writes_nothing_to_the_runs_it_lost() {
    use nix::sys::signal::{kill, Signal};
    use nix::unistd::Pid;
    let Some(url) =
        postgres_for("a_server_paused_past_its_lease_writes_nothing_to_the_runs_it_lost")
    else {
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let env = [
        ("TRELLIS_SERVER_LEASE_SECONDS", "3"),
        // One task at a time: `second` waits for `first`'s slot.
        ("TRELLIS_MAX_RUNNING_TASKS_PER_TENANT", "1"),
    ];
    let a = start_sharing(data.path(), &url, &env);
    let b = start_sharing(data.path(), &url, &env);
    let cookie_a = sign_in(&a.addr);
    let cookie_b = sign_in(&b.addr);
    // Each execution of a node's work leaves a mark in the shared folder.
    let mark = json!({
        "key": "test.mark", "name": "Mark", "category": "Testing",
        "params": [{"name": "seconds", "type": "integer", "required": true}],
        "local": {"program": "/bin/sh", "args": ["-c", "echo $TRELLIS_NODE >> ../marks; sleep {seconds}"]}
    });
    let (status, _, body) = call(
        &a.addr,
        "POST",
        "/api/v1/admin/components",
        &cookie_a,
        Some(mark),
    );
    assert_eq!(status, 201, "{body}");
    let graph = json!({"nodes": [
            {"id": "first", "component": "test.mark", "params": {"seconds": 60}},
            {"id": "second", "component": "test.mark", "params": {"seconds": 0}}],
        "edges": []});
    let path = published(&a.addr, &cookie_a, "Marks", graph);
    let id = start_run(&a.addr, &cookie_a, &path);
    wait_for(&a.addr, &cookie_a, &id, |r| {
        task(r, "W_first")["state"] == "running" && task(r, "C_second")["state"] == "queued"
    });

    // A stalls past its lease; B takes the run over and ends it.
    let pid_a = Pid::from_raw(a.child.id() as i32);
    kill(pid_a, Signal::SIGSTOP).unwrap();
    let done = wait_for(&b.addr, &cookie_b, &id, ended);
    assert_eq!(done["state"], "failed", "{done}");
    assert_eq!(task(&done, "W_second")["state"], "succeeded", "{done}");
    let lines = |stream: String| -> Vec<String> {
        stream
            .lines()
            .filter(|l| l.starts_with("data:"))
            .map(str::to_owned)
            .collect()
    };
    let events = lines(event_stream(
        &b.addr,
        &cookie_b,
        &id,
        Duration::from_secs(20),
    ));
    assert!(events.len() > 10, "{events:?}");

    // A wakes up: it learns it lost the run and writes nothing to it.
    kill(pid_a, Signal::SIGCONT).unwrap();
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        lines(event_stream(
            &b.addr,
            &cookie_b,
            &id,
            Duration::from_secs(20)
        )),
        events,
        "the paused server added nothing"
    );
    let marks: String = std::fs::read_dir(data.path().join("tenants"))
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.unwrap().path().join("marks")).ok())
        .collect();
    let mut marks: Vec<&str> = marks.lines().collect();
    marks.sort();
    assert_eq!(marks, ["first", "second"], "each node's work ran once");
    // A is alive and serving.
    let (status, _, _) = call(
        &a.addr,
        "GET",
        &format!("/api/v1/tenants/demo/runs/{id}"),
        &cookie_a,
        None,
    );
    assert_eq!(status, 200);
    terminate(a);
    terminate(b);
}
