//! 10,000 concurrently watched EMR steps against the AWS emulator (each
//! step completes a while after it starts): server RSS and CPU while they
//! are watched, EMR state reads per second (the watches of a cluster share
//! one poller that reads ten steps per `ListSteps` call), and the time from a
//! step's completion on "EMR" to its watch task finishing.
//!
//! `cargo bench -p server --bench emr` (BENCH_STEPS=n for another size).

mod support;

use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::call;

async fn control(url: &str, path: &str, body: Option<Value>) -> Value {
    let client = reqwest::Client::new();
    let request = match body {
        Some(b) => client
            .post(format!("{url}/trellis-emulator/{path}"))
            .header("content-type", "application/json")
            .body(b.to_string()),
        None => client.get(format!("{url}/trellis-emulator/{path}")),
    };
    serde_json::from_str(&request.send().await.unwrap().text().await.unwrap()).unwrap()
}

#[tokio::main]
async fn main() {
    let steps: usize = std::env::var("BENCH_STEPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let per_run = 100.min(steps);
    let runs = steps / per_run;
    let running_seconds = 60.0;

    let python = std::env::var("TRELLIS_EMULATOR_PYTHON").unwrap_or_else(|_| {
        format!(
            "{}/.cache/trellis/tools/moto-venv/bin/python",
            std::env::var("HOME").unwrap()
        )
    });
    let mut emulator = Command::new(python)
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/emulator/aws.py"
        ))
        .args(["--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(emulator.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = format!(
        "http://127.0.0.1:{}",
        line.trim().strip_prefix("ready ").unwrap()
    );
    control(
        &url,
        "emr/auto",
        Some(json!({"enabled": true, "pending_seconds": 1.0, "running_seconds": running_seconds})),
    )
    .await;
    let cluster = control(&url, "emr/cluster", Some(json!({"region": "us-east-1"}))).await
        ["cluster_id"]
        .as_str()
        .unwrap()
        .to_owned();

    let dir = tempfile::tempdir().unwrap();
    let polling = server::executors::emr::Polling::default();
    let engine = server::engine::EngineSettings {
        max_running: steps * 2,
        max_running_per_tenant: steps * 2,
        ..support::engine_settings(dir.path())
    };
    let state = support::app_state_with(dir.path(), engine).await;
    let router = server::router(state);
    let cookie = support::sign_in(&router).await;
    let (status, connection, _) = call(&router, "POST", "/api/v1/tenants/demo/connections", &cookie, Some(json!({
        "name": "bench", "region": "us-east-1", "role_arn": "arn:aws:iam::123456789012:role/trellis",
        "cluster_id": cluster, "endpoint_url": url,
    }))).await;
    assert_eq!(status, 201, "{connection}");
    let nodes: Vec<Value> = (0..per_run)
        .map(|i| json!({"id": format!("n{i:03}"), "component": "noop"}))
        .collect();
    let graph = json!({"connection": connection["id"], "nodes": nodes, "edges": []});
    let (_, process, _) = call(
        &router,
        "POST",
        "/api/v1/tenants/demo/processes",
        &cookie,
        Some(json!({"name": "bench", "graph": graph})),
    )
    .await;
    let path = format!(
        "/api/v1/tenants/demo/processes/{}",
        process["id"].as_str().unwrap()
    );
    call(
        &router,
        "POST",
        &format!("{path}/versions"),
        &cookie,
        Some(json!({})),
    )
    .await;

    println!("{steps} steps: {runs} runs of {per_run} parallel nodes; each step runs {running_seconds} s on the emulator");
    println!(
        "polling every {:?} at first, growing to {:?}, ±20 % jitter",
        polling.min, polling.max
    );
    let (rss0, _) = support::usage();
    println!("RSS before: {rss0:.1} MiB");
    let started = Instant::now();
    let mut ids = Vec::new();
    for _ in 0..runs {
        let (status, run, _) = call(
            &router,
            "POST",
            &format!("{path}/runs"),
            &cookie,
            Some(json!({})),
        )
        .await;
        assert_eq!(status, 201);
        ids.push(run["id"].as_str().unwrap().to_owned());
    }
    loop {
        let calls = control(&url, "calls", None).await;
        if calls["AddJobFlowSteps"].as_u64().unwrap_or(0) as usize >= steps {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!(
        "all {steps} steps submitted after {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // While every step is watched: the API call rate, RSS and CPU.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let window = Duration::from_secs(20);
    let reads = |calls: &Value| {
        calls["ListSteps"].as_f64().unwrap_or(0.0) + calls["DescribeStep"].as_f64().unwrap_or(0.0)
    };
    let before = reads(&control(&url, "calls", None).await);
    let (_, cpu0) = support::usage();
    tokio::time::sleep(window).await;
    let after = reads(&control(&url, "calls", None).await);
    let (rss, cpu1) = support::usage();
    println!(
        "while watching {steps} steps: {:.1} EMR state reads/s; server RSS {rss:.1} MiB; server CPU {:.0} % of one core",
        (after - before) / window.as_secs_f64(),
        100.0 * (cpu1 - cpu0) / window.as_secs_f64()
    );

    // Every run to its end; then completion → watch-finished lag per step.
    for id in &ids {
        loop {
            let (_, run, _) = call(
                &router,
                "GET",
                &format!("/api/v1/tenants/demo/runs/{id}"),
                &cookie,
                None,
            )
            .await;
            if ["succeeded", "failed", "cancelled"].contains(&run["state"].as_str().unwrap_or("")) {
                assert_eq!(run["state"], "succeeded", "{run}");
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    println!(
        "all runs succeeded after {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let listed = control(&url, "emr/steps", None).await;
    let mut ended: std::collections::HashMap<String, chrono::DateTime<chrono::Utc>> =
        Default::default();
    for s in listed.as_array().unwrap() {
        let at = s["ended_at"].as_str().unwrap();
        let at =
            chrono::NaiveDateTime::parse_from_str(&at[..26.min(at.len())], "%Y-%m-%dT%H:%M:%S%.f")
                .unwrap()
                .and_utc();
        ended.insert(s["name"].as_str().unwrap().to_owned(), at);
    }
    let mut lags = Vec::new();
    for id in &ids {
        let (_, run, _) = call(
            &router,
            "GET",
            &format!("/api/v1/tenants/demo/runs/{id}"),
            &cookie,
            None,
        )
        .await;
        for t in run["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["kind"] == "watch")
        {
            let node = t["node"].as_str().unwrap();
            let name = server::engine::step_name(&app::types::RunId::from(id.as_str()), node, 1);
            let finished: chrono::DateTime<chrono::Utc> =
                t["finished_at"].as_str().unwrap().parse().unwrap();
            lags.push((finished - ended[&name]).num_milliseconds() as f64 / 1000.0);
        }
    }
    lags.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!(
        "step completed → its watch finished: p50 {:.1} s, p99 {:.1} s, max {:.1} s ({} steps)",
        support::percentile(&lags, 0.5),
        support::percentile(&lags, 0.99),
        lags.last().unwrap(),
        lags.len()
    );
    let calls = control(&url, "calls", None).await;
    println!("emulator calls in total: {calls}");
    let _ = emulator.kill();
    let _ = emulator.wait();
}
