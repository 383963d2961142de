//! Crash recovery with the real binary: the server is killed (SIGKILL) in the
//! middle of a run and started again; the run reaches a final state, its
//! orphaned process is stopped, and no task ran twice. On EMR, a server that
//! dies at any point of the submit path never leaves a step submitted twice.

use crate::common::alive;
use crate::common::binary::{
    call, published, sign_in, start, start_run, start_with, try_call, wait_for,
};
use crate::common::{ended, task};
use serde_json::json;
use std::process::Command;
use std::time::{Duration, Instant};

#[test]
fn a_killed_server_resumes_its_runs_to_a_final_state() {
    let data = tempfile::tempdir().unwrap();
    let mut first = start(data.path());
    let addr = first.addr.clone();
    let cookie = sign_in(&addr);
    let graph = json!({"nodes": [{"id": "long", "component": "sleep", "params": {"seconds": 60}}, {"id": "next", "component": "noop"}],
                       "edges": [{"from": "long", "to": "next"}]});
    let path = published(&addr, &cookie, "p", graph);
    let id = start_run(&addr, &cookie, &path);
    let running = wait_for(&addr, &cookie, &id, |r| {
        task(r, "W_long")["state"] == "running"
    });
    let pid: u32 = task(&running, "C_long")["external_ref"]
        .as_str()
        .map(|r| server::executors::local::ProcessRef::parse(r).unwrap().pid)
        .unwrap();
    assert!(alive(pid));

    first.child.kill().unwrap(); // SIGKILL: no graceful anything
    first.child.wait().unwrap();
    assert!(
        alive(pid),
        "the step outlives the killed server until recovery"
    );

    let mut second = start(data.path());
    let cookie = sign_in(&second.addr);
    let done = wait_for(&second.addr, &cookie, &id, ended);
    assert_eq!(done["state"], "failed", "{done}");
    let w = task(&done, "W_long");
    assert_eq!(w["state"], "failed");
    assert!(
        w["error"]
            .as_str()
            .unwrap()
            .starts_with("Trellis restarted while this task was running"),
        "{w}"
    );
    assert_eq!(task(&done, "C_next")["state"], "skipped");
    assert_eq!(task(&done, "PExit")["state"], "succeeded");
    assert!(
        done["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["attempt"].as_i64().unwrap() <= 1),
        "nothing ran twice"
    );
    for _ in 0..50 {
        if !alive(pid) {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!alive(pid), "the orphaned step was stopped");

    Command::new("kill")
        .args(["-TERM", &second.child.id().to_string()])
        .status()
        .unwrap();
    second.child.wait().unwrap();
}

/// A server killed while its run's `PExit` was under way (the node had
/// ended): `PExit` only records the end, so the next server does it again
/// and the run ends as its tasks did, rather than failed.
#[test]
fn a_run_killed_during_its_exit_ends_as_its_tasks_did() {
    let data = tempfile::tempdir().unwrap();
    let mut first = start(data.path());
    let cookie = sign_in(&first.addr);
    let graph = json!({"nodes": [{"id": "long", "component": "sleep", "params": {"seconds": 60}}], "edges": []});
    let path = published(&first.addr, &cookie, "p", graph);
    let id = start_run(&first.addr, &cookie, &path);
    let running = wait_for(&first.addr, &cookie, &id, |r| {
        task(r, "W_long")["state"] == "running"
    });
    let pid = task(&running, "C_long")["external_ref"]
        .as_str()
        .map(|r| server::executors::local::ProcessRef::parse(r).unwrap().pid)
        .unwrap();
    first.child.kill().unwrap();
    first.child.wait().unwrap();
    // The step is over (ended by hand), and PExit was running when the
    // server died.
    Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap();
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let url = format!("sqlite://{}", data.path().join("trellis.db").display());
        let db = server::db::Db::connect(&url).await.unwrap();
        for (key, state, attempt) in [
            ("C_long", "succeeded", 1),
            ("W_long", "succeeded", 1),
            ("PExit", "running", 1),
        ] {
            sqlx::query(
                "UPDATE task_runs SET state = $1, attempt = $2 WHERE run_id = $3 AND task_key = $4",
            )
            .bind(state)
            .bind(attempt)
            .bind(&id)
            .bind(key)
            .execute(&db.pool)
            .await
            .unwrap();
        }
    });

    let second = start(data.path());
    let cookie = sign_in(&second.addr);
    let done = wait_for(&second.addr, &cookie, &id, ended);
    assert_eq!(done["state"], "succeeded", "{done}");
    let exit = task(&done, "PExit");
    assert_eq!(exit["state"], "succeeded", "{exit}");
    assert_eq!(exit["attempt"], 2, "done again: {exit}");
    assert_eq!(exit["error"], serde_json::Value::Null);
    drop(second);
}

/// The server dies at each point of an EMR submit — before `AddJobFlowSteps`,
/// after it but before the step id is recorded, after it is recorded — and
/// a new server finishes the run with exactly one step on the cluster.
#[test]
fn no_emr_step_is_submitted_twice_whatever_point_the_server_dies_at() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    for point in ["emr-before-submit", "emr-after-submit", "emr-after-record"] {
        let aws = crate::common::emulator::Emulator::start();
        rt.block_on(aws.control(
            "emr/auto",
            json!({"enabled": true, "pending_seconds": 0.05, "running_seconds": 0.3}),
        ));
        let cluster = rt.block_on(aws.cluster("us-east-1"));
        let data = tempfile::tempdir().unwrap();
        let mut first = start_with(data.path(), &[("TRELLIS_FAULT", point)]);
        let addr = first.addr.clone();
        let cookie = sign_in(&addr);
        let (status, _, connection) = call(
            &addr,
            "POST",
            "/api/v1/tenants/demo/connections",
            &cookie,
            Some(aws.connection_body(&cluster)),
        );
        assert_eq!(status, 201, "{connection}");
        let graph = json!({"connection": connection["id"], "nodes": [{"id": "a", "component": "noop"}], "edges": []});
        let path = published(&addr, &cookie, "p", graph);
        // The server may die at the fault before it answers the start.
        let started = try_call(
            &addr,
            "POST",
            &format!("{path}/runs"),
            &cookie,
            Some(json!({})),
        );
        let id = started.map(|(status, _, run)| {
            assert_eq!(status, 201, "{run}");
            run["id"].as_str().unwrap().to_owned()
        });

        // The fault aborts the server at that point of the submit.
        let started = Instant::now();
        while first.child.try_wait().unwrap().is_none() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "{point}: the server did not stop"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let before = rt.block_on(aws.read("emr/steps"));
        let expected_before = if point == "emr-before-submit" { 0 } else { 1 };
        assert_eq!(
            before.as_array().unwrap().len(),
            expected_before,
            "{point}: {before}"
        );

        let mut second = start(data.path());
        let cookie = sign_in(&second.addr);
        let id = id.unwrap_or_else(|| {
            let (_, _, runs) = call(&second.addr, "GET", &format!("{path}/runs"), &cookie, None);
            runs[0]["id"].as_str().unwrap().to_owned()
        });
        let done = wait_for(&second.addr, &cookie, &id, ended);
        assert_eq!(done["state"], "succeeded", "{point}: {done}");
        let steps = rt.block_on(aws.read("emr/steps"));
        let names: Vec<&str> = steps
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [format!("trellis:{id}:C_a:1")],
            "{point}: exactly one step"
        );
        assert_eq!(steps[0]["state"], "COMPLETED", "{point}");
        assert_eq!(
            rt.block_on(aws.read("calls"))["AddJobFlowSteps"],
            1,
            "{point}"
        );
        let reference = task(&done, "C_a")["external_ref"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(
            reference.ends_with(steps[0]["step_id"].as_str().unwrap()),
            "{point}: {reference}"
        );

        Command::new("kill")
            .args(["-TERM", &second.child.id().to_string()])
            .status()
            .unwrap();
        second.child.wait().unwrap();
    }
}
