//! `GET /metrics`: Prometheus text, read back with a Prometheus text
//! parser, whose values follow what the server did — on the real binary
//! (a process of its own, so every count is exact), and AWS calls counted
//! by operation and outcome.

use crate::common::binary::{published, sign_in, start_run, start_with, wait_for};
use crate::common::emulator::Emulator;
use crate::common::{ended, Backend, TestApp};
use axum::http::{Method, StatusCode};
use prometheus_parse::{Scrape, Value as Sample};
use serde_json::json;
use std::io::{Read, Write};

/// `GET /metrics` on `addr` with `token` as its bearer; (status, body).
fn scrape(addr: &str, token: Option<&str>) -> (u16, String) {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    write!(
        stream,
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{auth}\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    if token.is_some() && head.contains(" 200 ") {
        assert!(
            head.to_ascii_lowercase()
                .contains("content-type: text/plain; version=0.0.4"),
            "{head}"
        );
    }
    (head[9..12].parse().unwrap(), body.to_owned())
}

fn parse(text: &str) -> Scrape {
    Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).expect("Prometheus text")
}

/// The sum of `name`'s samples whose labels include `labels` (a
/// histogram's count: its `+Inf` bucket).
fn value(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == name)
        .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match &s.value {
            Sample::Counter(v) | Sample::Gauge(v) | Sample::Untyped(v) => *v,
            Sample::Histogram(buckets) => buckets.last().map_or(0.0, |b| b.count),
            Sample::Summary(_) => 0.0,
        })
        .sum()
}

#[test]
fn the_metrics_follow_the_runs_and_answer_only_the_token() {
    let data = tempfile::tempdir().unwrap();
    let server = start_with(data.path(), &[("TRELLIS_METRICS_TOKEN", "scrape-me")]);
    let addr = server.addr.clone();
    assert_eq!(scrape(&addr, None).0, 401);
    assert_eq!(scrape(&addr, Some("wrong")).0, 401);

    let cookie = sign_in(&addr);
    let noop = json!({"nodes": [{"id": "a", "component": "noop"}], "edges": []});
    let quick = published(&addr, &cookie, "Metered", noop);
    let run = start_run(&addr, &cookie, &quick);
    wait_for(&addr, &cookie, &run, ended);
    let nap = json!({"nodes": [{"id": "nap", "component": "sleep", "params": {"seconds": 30}}], "edges": []});
    let slow = published(&addr, &cookie, "Stopped", nap);
    let stopped = start_run(&addr, &cookie, &slow);
    wait_for(&addr, &cookie, &stopped, |r| {
        r["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["key"] == "W_nap" && t["state"] == "running")
    });
    let stop = format!("/api/v1/tenants/demo/runs/{stopped}/stop?mode=force");
    let (status, _, _) = crate::common::binary::call(&addr, "POST", &stop, &cookie, None);
    assert_eq!(status, 202);
    wait_for(&addr, &cookie, &stopped, ended);

    let (status, text) = scrape(&addr, Some("scrape-me"));
    assert_eq!(status, 200, "{text}");
    let m = parse(&text);
    // Runs, by tenant and final state (one tenant here).
    assert_eq!(value(&m, "trellis_runs_started_total", &[]), 2.0, "{text}");
    assert_eq!(
        value(&m, "trellis_runs_finished_total", &[("state", "succeeded")]),
        1.0
    );
    assert_eq!(
        value(&m, "trellis_runs_finished_total", &[("state", "cancelled")]),
        1.0
    );
    // Tasks: each attempt's duration, the wait for a slot.
    let noop_ok = [
        ("component", "noop"),
        ("executor", "local"),
        ("outcome", "succeeded"),
    ];
    assert_eq!(
        value(&m, "trellis_task_duration_seconds", &noop_ok),
        1.0,
        "{text}"
    );
    let sleep_cancelled = [("component", "sleep"), ("outcome", "cancelled")];
    assert_eq!(
        value(&m, "trellis_task_duration_seconds", &sleep_cancelled),
        1.0
    );
    assert_eq!(
        value(
            &m,
            "trellis_task_queue_wait_seconds",
            &[("component", "noop")]
        ),
        1.0
    );
    assert_eq!(value(&m, "trellis_task_slots_in_use", &[]), 0.0);
    // Requests by route template and status, with their latency.
    let starts = [
        ("method", "POST"),
        ("route", "/api/v1/tenants/:tenant/processes/:process/runs"),
        ("status", "201"),
    ];
    assert_eq!(
        value(&m, "trellis_http_requests_total", &starts),
        2.0,
        "{text}"
    );
    let login = [("route", "/api/v1/auth/login"), ("status", "200")];
    assert_eq!(value(&m, "trellis_http_requests_total", &login), 1.0);
    assert_eq!(
        value(
            &m,
            "trellis_http_request_duration_seconds",
            &[("method", "POST"), ("route", starts[1].1)]
        ),
        2.0
    );
    assert!(
        !text.contains(&run),
        "labels hold route templates, never ids"
    );
    // The pool, as of the scrape.
    assert!(m
        .samples
        .iter()
        .any(|s| s.metric == "trellis_db_connections" && s.labels.get("state") == Some("in_use")));
}

on_both_backends!(aws_calls_are_counted_by_operation_and_outcome);

async fn aws_calls_are_counted_by_operation_and_outcome(backend: Backend) {
    // This test process's recorder is shared by every test in it: the
    // counts only grow, and other tests may add to them.
    let aws = Emulator::start();
    let cluster = aws.cluster("us-east-1").await;
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let before = parse(&app.get("/metrics").await.text());
    for cluster in [cluster.as_str(), "j-DOESNOTEXIST"] {
        let body = json!({
            "name": format!("to {cluster}"), "region": "us-east-1",
            "role_arn": "arn:aws:iam::123456789012:role/trellis",
            "cluster_id": cluster, "endpoint_url": aws.url,
        });
        let created = app
            .as_user(
                &admin,
                Method::POST,
                "/api/v1/tenants/demo/connections",
                Some(body),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
        let id = created.json()["id"].as_str().unwrap().to_owned();
        let test = format!("/api/v1/tenants/demo/connections/{id}/test");
        app.as_user(&admin, Method::POST, &test, None).await;
    }
    let reply = app.get("/metrics").await;
    assert_eq!(reply.status, StatusCode::OK);
    let after = parse(&reply.text());
    let grew = |operation: &str, outcome: &str| {
        let labels = [("operation", operation), ("outcome", outcome)];
        value(&after, "trellis_aws_api_calls_total", &labels)
            - value(&before, "trellis_aws_api_calls_total", &labels)
    };
    assert!(grew("AssumeRole", "ok") >= 2.0, "{}", reply.text());
    assert!(grew("DescribeCluster", "ok") >= 1.0, "{}", reply.text());
    assert!(grew("DescribeCluster", "error") >= 1.0, "{}", reply.text());
}
