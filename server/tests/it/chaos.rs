//! Chaos: three real servers on one PostgreSQL database and one data folder
//! run 100 runs of a process with local steps and retries (two of them
//! stopped), while the test SIGKILLs (and restarts) or SIGSTOPs past the
//! lease (and resumes) a random one of two servers every few seconds. The
//! third is never disturbed, and follows some runs live. Every run ends, as
//! it should; no node's work runs more often than its task recorded
//! attempts (each execution leaves a mark); every run's event log is
//! gap-free; every live stream on the undisturbed server received its run's
//! whole log.

use crate::common::binary::{
    call, event_stream, postgres_for, published, sign_in, start_sharing, Server,
};
use crate::common::{ended, task};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

/// A server of the test: on the shared database and data folder, a 2 s
/// lease, and few task slots, so the chaos meets runs queued as well as
/// running.
fn start(data: &Path, url: &str) -> Server {
    let env = [
        ("TRELLIS_SERVER_LEASE_SECONDS", "2"),
        ("TRELLIS_MAX_RUNNING_TASKS_PER_TENANT", "8"),
    ];
    start_sharing(data, url, &env)
}

/// A run's live event stream on `addr`, read on a thread until the server
/// ends it (or 150 s pass): its events.
fn follow(addr: &str, cookie: &str, run: &str) -> std::thread::JoinHandle<Vec<Value>> {
    let (addr, cookie, run) = (addr.to_owned(), cookie.to_owned(), run.to_owned());
    std::thread::spawn(move || {
        event_stream(&addr, &cookie, &run, Duration::from_secs(150))
            .lines()
            .filter_map(|l| l.strip_prefix("data: "))
            .filter_map(|d| serde_json::from_str(d).ok())
            .collect()
    })
}

/// Every stored event of `run`, through `addr` (a finished run's stream is
/// its whole log).
fn stored_events(addr: &str, cookie: &str, run: &str) -> Vec<Value> {
    follow(addr, cookie, run).join().unwrap()
}

#[test]
fn three_servers_under_kills_and_pauses_end_every_run_and_run_no_work_twice() {
    let Some(url) =
        postgres_for("three_servers_under_kills_and_pauses_end_every_run_and_run_no_work_twice")
    else {
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let mut servers: Vec<Server> = (0..3).map(|_| start(data.path(), &url)).collect();
    let steady = servers[2].addr.clone();
    let cookie = sign_in(&steady);

    // Each execution of a node's work leaves a mark: `<run> <node>`.
    let components = [
        json!({
            "key": "chaos.mark", "name": "Mark", "category": "Testing",
            "params": [{"name": "seconds", "type": "number", "required": true}],
            "local": {"program": "/bin/sh", "args": ["-c", "echo $TRELLIS_RUN $TRELLIS_NODE >> ../marks; sleep {seconds}"]}
        }),
        // Fails its first execution in each run, then succeeds (retried).
        json!({
            "key": "chaos.flaky", "name": "Flaky", "category": "Testing", "params": [],
            "local": {"program": "/bin/sh", "args": ["-c", "echo $TRELLIS_RUN $TRELLIS_NODE >> ../marks; f=../flaky-$TRELLIS_RUN; [ -e $f ] && exit 0; touch $f; exit 1"]},
            "retries": 2, "retry_delay_seconds": 0.2
        }),
    ];
    for c in components {
        let (status, _, body) = call(
            &steady,
            "POST",
            "/api/v1/admin/components",
            &cookie,
            Some(c),
        );
        assert_eq!(status, 201, "{body}");
    }
    let graph = json!({
        "nodes": [
            {"id": "first", "component": "chaos.mark", "params": {"seconds": 2}},
            {"id": "flaky", "component": "chaos.flaky"},
            {"id": "side", "component": "chaos.mark", "params": {"seconds": 3}},
            {"id": "last", "component": "chaos.mark", "params": {"seconds": 1}}],
        "edges": [{"from": "first", "to": "flaky"}, {"from": "first", "to": "side"},
                  {"from": "flaky", "to": "last"}, {"from": "side", "to": "last"}]});
    let path = published(&steady, &cookie, "Chaos", graph);

    // 100 runs, started on the three servers in turn; ten followed live on
    // the steady one.
    let mut runs = Vec::new();
    let mut live = Vec::new();
    for i in 0..100 {
        // Sessions are in the database: one sign-in serves every server.
        let addr = servers[i % 3].addr.clone();
        let (status, _, run) = call(
            &addr,
            "POST",
            &format!("{path}/runs"),
            &cookie,
            Some(json!({})),
        );
        assert_eq!(status, 201, "{run}");
        let id = run["id"].as_str().unwrap().to_owned();
        if i % 10 == 0 {
            live.push((id.clone(), follow(&steady, &cookie, &id)));
        }
        runs.push(id);
    }
    // Two are stopped at once.
    let mut stopped = Vec::new();
    for id in &runs[..2] {
        let (status, _, _) = call(
            &steady,
            "POST",
            &format!("/api/v1/tenants/demo/runs/{id}/stop?mode=force"),
            &cookie,
            None,
        );
        if status == 202 {
            stopped.push(id.clone());
        }
    }

    // Chaos among the first two servers for about 20 s.
    let began = Instant::now();
    let mut round = 0u32;
    let mut disturbances = Vec::new();
    while began.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_secs(3));
        round += 1;
        let victim = (round as usize * 7 + round as usize / 3) % 2;
        if round % 2 == 1 {
            let server = &mut servers[victim];
            server.child.kill().unwrap();
            server.child.wait().unwrap();
            servers[victim] = start(data.path(), &url);
            disturbances.push(format!("killed and restarted server {victim}"));
        } else {
            let pid = Pid::from_raw(servers[victim].child.id() as i32);
            kill(pid, Signal::SIGSTOP).unwrap();
            std::thread::sleep(Duration::from_secs(4));
            kill(pid, Signal::SIGCONT).unwrap();
            disturbances.push(format!("paused server {victim} for 4 s"));
        }
    }

    // Every run ends.
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut done: HashMap<String, Value> = HashMap::new();
    while done.len() < runs.len() {
        assert!(
            Instant::now() < deadline,
            "runs left active: {:?}",
            runs.iter()
                .filter(|r| !done.contains_key(*r))
                .collect::<Vec<_>>()
        );
        for id in &runs {
            if done.contains_key(id) {
                continue;
            }
            let (status, _, run) = call(
                &steady,
                "GET",
                &format!("/api/v1/tenants/demo/runs/{id}"),
                &cookie,
                None,
            );
            assert_eq!(status, 200);
            if ended(&run) {
                done.insert(id.clone(), run);
            }
        }
        std::thread::sleep(Duration::from_millis(500));
    }

    // No node's work ran more often than its task recorded attempts.
    let marks = std::fs::read_dir(data.path().join("tenants"))
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.unwrap().path().join("marks")).ok())
        .collect::<String>();
    let mut executions: HashMap<(String, String), u32> = HashMap::new();
    for line in marks.lines() {
        let (run, node) = line.split_once(' ').unwrap();
        *executions
            .entry((run.to_owned(), node.to_owned()))
            .or_default() += 1;
    }
    let mut states: HashMap<String, u32> = HashMap::new();
    for (id, run) in &done {
        *states
            .entry(run["state"].as_str().unwrap().to_owned())
            .or_default() += 1;
        for node in ["first", "flaky", "side", "last"] {
            let watch = task(run, &format!("W_{node}"));
            let attempts = watch["attempt"].as_u64().unwrap_or(0) as u32;
            let ran = executions
                .get(&(id.clone(), node.to_owned()))
                .copied()
                .unwrap_or(0);
            assert!(
                ran <= attempts.max(1),
                "{node} of {id} ran {ran} times in {attempts} attempts: {run}"
            );
            if watch["state"] == "succeeded" {
                assert!(ran >= 1, "{node} of {id} succeeded without running: {run}");
            }
        }
        // The run's state agrees with its tasks.
        let failed =
            run["tasks"].as_array().unwrap().iter().any(|t| {
                ["failed", "skipped", "cancelled"].contains(&t["state"].as_str().unwrap())
            });
        match run["state"].as_str().unwrap() {
            "succeeded" => assert!(!failed, "{run}"),
            "failed" => assert!(failed, "{run}"),
            _ => {}
        }
        assert_eq!(task(run, "PExit")["state"], "succeeded", "{run}");
    }
    for id in &stopped {
        assert_eq!(
            done[id]["state"], "cancelled",
            "a stopped run ends cancelled"
        );
    }

    // Every run's log is gap-free, and the live streams on the steady
    // server received all of it.
    for id in &runs {
        let stored = stored_events(&steady, &cookie, id);
        let seqs: Vec<i64> = stored.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
        assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>(), "{id}");
    }
    for (id, stream) in live {
        let received = stream.join().unwrap();
        let stored = stored_events(&steady, &cookie, &id);
        assert_eq!(
            received, stored,
            "the live stream of {id} has the whole log"
        );
    }
    println!(
        "chaos: {} runs ({states:?}), {} executions, {}",
        runs.len(),
        marks.lines().count(),
        disturbances.join("; ")
    );
    for mut server in servers {
        let _ = server.child.kill();
        let _ = server.child.wait();
    }
}
