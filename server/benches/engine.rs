//! Engine benchmarks on SQLite (release build):
//! - per-hop latency of a 100-task chain of `noop` (end of W_n → start of
//!   C_n+1), p50/p99 (target p50 ≤ 5 ms);
//! - a 1,000-task fan-out/fan-in: makespan and tasks/s;
//! - event delivery (commit → SSE client receive) p99 with 1,000 connected
//!   SSE clients over real TCP while a second fan-out runs (target ≤ 100 ms);
//! - 1,000 runs started at once (1,000 concurrent `POST …/runs`): time from
//!   each request to its `PEntry` running, p50/p99 (target p99 ≤ 1 s);
//! - the server's RSS throughout.
//!
//! Run: `cargo bench -p server --bench engine`.

mod support;

use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

async fn http(
    addr: &str,
    method: &str,
    path: &str,
    cookie: &str,
    body: Option<Value>,
) -> (String, Value) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let csrf = cookie
        .split("; ")
        .find_map(|c| c.strip_prefix("trellis_csrf="))
        .unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nCookie: {cookie}\r\nX-CSRF-Token: {csrf}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap();
    let cookie = head
        .lines()
        .filter_map(|l| l.strip_prefix("set-cookie: "))
        .map(|c| c.split(';').next().unwrap().to_owned())
        .collect::<Vec<_>>()
        .join("; ");
    (cookie, serde_json::from_str(body).unwrap_or(Value::Null))
}

/// Publishes `graph` as version 1 of a new process; the process's API path.
async fn published(addr: &str, cookie: &str, name: &str, graph: Value) -> String {
    let (_, p) = http(
        addr,
        "POST",
        "/api/v1/tenants/demo/processes",
        cookie,
        Some(json!({"name": name, "graph": graph})),
    )
    .await;
    let path = format!(
        "/api/v1/tenants/demo/processes/{}",
        p["id"].as_str().unwrap()
    );
    http(
        addr,
        "POST",
        &format!("{path}/versions"),
        cookie,
        Some(json!({})),
    )
    .await;
    path
}

async fn start_run(addr: &str, cookie: &str, name: &str, graph: Value) -> String {
    let path = published(addr, cookie, name, graph).await;
    run_of(addr, cookie, &path).await
}

/// Starts a run of the published process at `path`; its id.
async fn run_of(addr: &str, cookie: &str, path: &str) -> String {
    let (_, run) = http(
        addr,
        "POST",
        &format!("{path}/runs"),
        cookie,
        Some(json!({})),
    )
    .await;
    run["id"].as_str().expect("a run").to_owned()
}

async fn wait_done(addr: &str, cookie: &str, run: &str) -> Value {
    loop {
        let (_, r) = http(
            addr,
            "GET",
            &format!("/api/v1/tenants/demo/runs/{run}"),
            cookie,
            None,
        )
        .await;
        if ["succeeded", "failed", "cancelled"].contains(&r["state"].as_str().unwrap_or("")) {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::main]
async fn main() {
    use nix::sys::resource::{setrlimit, Resource};
    setrlimit(Resource::RLIMIT_NOFILE, 16_384, 16_384)
        .expect("raise the open-file limit for 1,000 SSE clients");
    let dir = tempfile::tempdir().unwrap();
    let state = support::app_state(dir.path(), 64).await;
    let bus = state.bus.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move { axum::serve(listener, server::router(state)).await });
    println!("RSS at start: {:.1} MiB", rss_mib());
    let (cookie, _) = http(
        &addr,
        "POST",
        "/api/v1/auth/login",
        "",
        Some(json!({"username": "admin", "password": "pw"})),
    )
    .await;

    // 1. A 100-task chain: time from a watch's end to the next submit's start.
    let mut live = bus.subscribe();
    let nodes: Vec<Value> = (0..100)
        .map(|i| json!({"id": format!("n{i:03}"), "component": "noop"}))
        .collect();
    let edges: Vec<Value> = (1..100)
        .map(|i| json!({"from": format!("n{:03}", i - 1), "to": format!("n{i:03}")}))
        .collect();
    let run = start_run(
        &addr,
        &cookie,
        "chain",
        json!({"nodes": nodes, "edges": edges}),
    )
    .await;
    let mut seen: HashMap<String, Instant> = HashMap::new();
    loop {
        let p = live.recv().await.unwrap();
        if p.event.run != run.as_str() {
            continue;
        }
        let key = format!(
            "{}:{}",
            p.event.task.as_ref().map_or("", |t| t.as_str()),
            p.event.state
        );
        seen.insert(key, Instant::now());
        if p.event.task.is_none() && ["succeeded", "failed"].contains(&p.event.state.as_str()) {
            assert_eq!(p.event.state, "succeeded");
            break;
        }
    }
    let mut hops: Vec<f64> = (1..100)
        .map(|i| {
            let end = seen[&format!("W_n{:03}:succeeded", i - 1)];
            let next = seen[&format!("C_n{i:03}:running")];
            next.duration_since(end).as_secs_f64() * 1000.0
        })
        .collect();
    hops.sort_by(f64::total_cmp);
    println!(
        "100-task chain: per-hop latency p50 {:.2} ms, p99 {:.2} ms; RSS {:.1} MiB",
        support::percentile(&hops, 0.5),
        support::percentile(&hops, 0.99),
        rss_mib()
    );

    // 2. Fan-out/fan-in of 1,000 tasks.
    let mut nodes = vec![
        json!({"id": "src", "component": "noop"}),
        json!({"id": "sink", "component": "noop"}),
    ];
    let mut edges = Vec::new();
    for i in 0..998 {
        nodes.push(json!({"id": format!("m{i}"), "component": "noop"}));
        edges.push(json!({"from": "src", "to": format!("m{i}")}));
        edges.push(json!({"from": format!("m{i}"), "to": "sink"}));
    }
    let (fan_nodes, fan_edges) = (nodes.clone(), edges.clone());
    // Publishing the 1,000-node version is timed apart: the run's makespan
    // is from its request to its end.
    let publishing = Instant::now();
    let path = published(
        &addr,
        &cookie,
        "fan",
        json!({"nodes": nodes, "edges": edges}),
    )
    .await;
    let publish = publishing.elapsed().as_secs_f64();
    let started = Instant::now();
    let run = run_of(&addr, &cookie, &path).await;
    let done = wait_done(&addr, &cookie, &run).await;
    let makespan = started.elapsed().as_secs_f64();
    assert_eq!(done["state"], "succeeded");
    println!(
        "1,000-task fan-out/fan-in: makespan {:.2} s, {:.0} tasks/s (publishing the version took {:.2} s before); RSS {:.1} MiB",
        makespan,
        1000.0 / makespan,
        publish,
        rss_mib()
    );

    // 3. 1,000 SSE clients on a run: commit → receive, from each event's stored time.
    let nodes: Vec<Value> = (0..20)
        .map(|i| json!({"id": format!("s{i:02}"), "component": "noop"}))
        .collect();
    let edges: Vec<Value> = (1..20)
        .map(|i| json!({"from": format!("s{:02}", i - 1), "to": format!("s{i:02}")}))
        .collect();
    let path = published(
        &addr,
        &cookie,
        "sse",
        json!({"nodes": nodes, "edges": edges}),
    )
    .await;
    // The clients follow the tenant-wide stream, connected before the run starts.
    let mut clients = Vec::new();
    for _ in 0..1000 {
        let (addr, cookie) = (addr.clone(), cookie.clone());
        clients.push(tokio::spawn(async move {
            let mut s = TcpStream::connect(&addr).await.unwrap();
            let req = format!(
                "GET /api/v1/tenants/demo/events HTTP/1.1\r\nHost: x\r\nCookie: {cookie}\r\n\r\n"
            );
            s.write_all(req.as_bytes()).await.unwrap();
            let mut buf = vec![0u8; 8192];
            let mut text = String::new();
            let mut delays = Vec::new();
            loop {
                let n = match tokio::time::timeout(Duration::from_secs(60), s.read(&mut buf)).await
                {
                    Ok(Ok(n)) if n > 0 => n,
                    _ => break,
                };
                let now = SystemTime::now();
                text.push_str(&String::from_utf8_lossy(&buf[..n]));
                while let Some(i) = text.find("data: ") {
                    let Some(end) = text[i..].find('\n') else {
                        break;
                    };
                    let event: Value =
                        serde_json::from_str(&text[i + 6..i + end]).unwrap_or(Value::Null);
                    text.drain(..i + end);
                    if let Some(at) = event["at"].as_str() {
                        let at: SystemTime =
                            chrono::DateTime::parse_from_rfc3339(at).unwrap().into();
                        delays.push(
                            now.duration_since(at).unwrap_or_default().as_secs_f64() * 1000.0,
                        );
                        if ["succeeded", "failed"].contains(&event["state"].as_str().unwrap_or(""))
                        {
                            return delays;
                        }
                    }
                }
            }
            delays
        }));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_connected = rss_mib();
    // A second fan-out runs meanwhile.
    let fan = {
        let (addr, cookie, nodes, edges) = (
            addr.clone(),
            cookie.clone(),
            fan_nodes.clone(),
            fan_edges.clone(),
        );
        tokio::spawn(async move {
            let run = start_run(
                &addr,
                &cookie,
                "fan again",
                json!({"nodes": nodes, "edges": edges}),
            )
            .await;
            wait_done(&addr, &cookie, &run).await
        })
    };
    let (_, run) = http(
        &addr,
        "POST",
        &format!("{path}/runs"),
        &cookie,
        Some(json!({})),
    )
    .await;
    assert!(run["id"].is_string());
    let mut delays = Vec::new();
    for c in clients {
        delays.extend(c.await.unwrap());
    }
    delays.sort_by(f64::total_cmp);
    println!(
        "1,000 SSE clients while a fan-out runs: {} deliveries, commit→receive p50 {:.1} ms, p99 {:.1} ms; RSS {:.1} MiB connected, {:.1} MiB after",
        delays.len(),
        support::percentile(&delays, 0.5),
        support::percentile(&delays, 0.99),
        rss_connected,
        rss_mib()
    );
    assert_eq!(fan.await.unwrap()["state"], "succeeded");

    // 4. 1,000 runs started at once: request → PEntry running.
    let burst = json!({"nodes": [{"id": "one", "component": "noop"}], "edges": []});
    let path = published(&addr, &cookie, "burst", burst).await;
    let mut posts = Vec::new();
    for _ in 0..1000 {
        let (addr, cookie, path) = (addr.clone(), cookie.clone(), path.clone());
        posts.push(tokio::spawn(async move {
            let sent = SystemTime::now();
            let (_, run) = http(
                &addr,
                "POST",
                &format!("{path}/runs"),
                &cookie,
                Some(json!({})),
            )
            .await;
            (run["id"].as_str().expect("a run").to_owned(), sent)
        }));
    }
    let mut waits = Vec::new();
    let mut last = SystemTime::UNIX_EPOCH;
    let first = SystemTime::now();
    for post in posts {
        let (run, sent) = post.await.unwrap();
        // When its PEntry started, as stored.
        let entered = loop {
            let (_, r) = http(
                &addr,
                "GET",
                &format!("/api/v1/tenants/demo/runs/{run}"),
                &cookie,
                None,
            )
            .await;
            let entry = r["tasks"]
                .as_array()
                .unwrap()
                .iter()
                .find(|t| t["key"] == "PEntry")
                .cloned()
                .unwrap();
            if let Some(at) = entry["started_at"].as_str() {
                break SystemTime::from(chrono::DateTime::parse_from_rfc3339(at).unwrap());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        last = last.max(entered);
        waits.push(
            entered
                .duration_since(sent)
                .unwrap_or_default()
                .as_secs_f64()
                * 1000.0,
        );
    }
    let all = last.duration_since(first).unwrap_or_default().as_secs_f64();
    waits.sort_by(f64::total_cmp);
    println!(
        "1,000 runs at once: request → PEntry running p50 {:.0} ms, p99 {:.0} ms, all started after {:.2} s; RSS {:.1} MiB",
        support::percentile(&waits, 0.5),
        support::percentile(&waits, 0.99),
        all,
        rss_mib()
    );
}
