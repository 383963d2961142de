//! Benchmark: publish latency on SQLite, p50 and p99 over 200 publishes of a
//! changed draft (target p50 < 20 ms), through the real router.
//! Run: `cargo bench -p server --bench publish`.

mod support;

use serde_json::{json, Value};
use std::time::{Duration, Instant};
use support::call;

fn graph(seconds: u64) -> Value {
    let nodes: Vec<Value> = (0..20)
        .map(|i| json!({"id": format!("n{i}"), "component": "sleep", "params": {"seconds": seconds + i}}))
        .collect();
    let edges: Vec<Value> = (1..20)
        .map(|i| json!({"from": format!("n{}", i - 1), "to": format!("n{i}")}))
        .collect();
    json!({"nodes": nodes, "edges": edges})
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let state = support::app_state(dir.path(), 16).await;
    let router = server::router(state);

    let cookie = support::sign_in(&router).await;
    let (status, process, _) = call(
        &router,
        "POST",
        "/api/v1/tenants/demo/processes",
        &cookie,
        json!({"name": "bench", "graph": graph(0)}),
    )
    .await;
    assert_eq!(status, 201);
    let path = format!(
        "/api/v1/tenants/demo/processes/{}",
        process["id"].as_str().unwrap()
    );

    let mut times = Vec::new();
    for i in 0..200u64 {
        let (status, _, _) = call(
            &router,
            "PUT",
            &path,
            &cookie,
            json!({"revision": i + 1, "graph": graph(i + 1)}),
        )
        .await;
        assert_eq!(status, 200);
        let start = Instant::now();
        let (status, version, _) = call(
            &router,
            "POST",
            &format!("{path}/versions"),
            &cookie,
            json!({"message": "bench"}),
        )
        .await;
        times.push(start.elapsed());
        assert_eq!(status, 201, "{version}");
    }
    times.sort();
    let pct = |p: f64| -> Duration { times[((times.len() as f64 - 1.0) * p).round() as usize] };
    println!(
        "publish (20-node process, SQLite): p50 {:?}, p99 {:?}, max {:?} over {} publishes",
        pct(0.5),
        pct(0.99),
        times.last().unwrap(),
        times.len()
    );
}
