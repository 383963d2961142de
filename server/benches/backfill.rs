//! A backfill of 1,000 fire times (a one-`noop` process, `max_active_runs`
//! 50) on SQLite with the real scheduler loop and engine: the time to create
//! the backfill, to store every run, and to finish; how soon a freed slot is
//! taken (a run's end → the next run stored) and each run's start delay
//! (stored → started), p50/p99/max. Then a retry of a 100-node run whose last
//! node failed: the request → the failed task running again.
//!
//! `cargo bench -p server --bench backfill` (BENCH_FIRES=n, BENCH_ACTIVE=m
//! for another size).

mod support;

use chrono::{DateTime, Utc};
use serde_json::json;
use std::time::{Duration, Instant};
use support::{call, env, parse};

fn ms(a: &str, b: &str) -> f64 {
    (parse(b) - parse(a)).num_microseconds().unwrap() as f64 / 1000.0
}

fn show(name: &str, mut v: Vec<f64>) {
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return println!("{name}: none");
    }
    println!(
        "{name}: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms (n = {})",
        support::percentile(&v, 0.5),
        support::percentile(&v, 0.99),
        v[v.len() - 1],
        v.len()
    );
}

async fn publish(
    router: &axum::Router,
    cookie: &str,
    name: &str,
    graph: serde_json::Value,
) -> String {
    let (status, p, _) = call(
        router,
        "POST",
        "/api/v1/tenants/demo/processes",
        cookie,
        json!({"name": name, "graph": graph}),
    )
    .await;
    assert_eq!(status, 201, "{p}");
    let path = format!(
        "/api/v1/tenants/demo/processes/{}",
        p["id"].as_str().unwrap()
    );
    let (status, v, _) = call(
        router,
        "POST",
        &format!("{path}/versions"),
        cookie,
        json!({}),
    )
    .await;
    assert_eq!(status, 201, "{v}");
    path
}

async fn backfill(state: &server::AppState, router: &axum::Router, cookie: &str) {
    let fires = env("BENCH_FIRES", 1000);
    let active = env("BENCH_ACTIVE", 50);
    let graph = json!({"nodes": [{"id": "work", "component": "noop"}], "edges": []});
    let path = publish(router, cookie, "Hourly", graph).await;
    let start: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
    let end = start + chrono::Duration::hours(fires as i64 - 1);
    let asked = Instant::now();
    let (status, b, _) = call(
        router,
        "POST",
        &format!("{path}/backfills"),
        cookie,
        json!({"start": start.to_rfc3339(), "end": end.to_rfc3339(), "cron": "0 * * * *",
               "timezone": "UTC", "max_active_runs": active}),
    )
    .await;
    assert_eq!(status, 201, "{b}");
    let created = asked.elapsed();
    let id = b["id"].as_str().unwrap().to_owned();
    let count = |sql: &'static str| {
        let db = state.db.clone();
        let id = id.clone();
        async move {
            sqlx::query_scalar::<_, i64>(sql)
                .bind(id)
                .fetch_one(&db.pool)
                .await
                .unwrap()
        }
    };
    let mut all_stored = None;
    loop {
        let stored = count("SELECT COUNT(*) FROM runs WHERE backfill_id = $1").await;
        if stored as usize == fires && all_stored.is_none() {
            all_stored = Some(asked.elapsed());
        }
        let done = count("SELECT COUNT(*) FROM backfills WHERE id = $1 AND state = 'done'").await;
        if done == 1 {
            break;
        }
        assert!(
            asked.elapsed() < Duration::from_secs(1800),
            "stuck at {stored} runs"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let finished = asked.elapsed();
    let rows: Vec<(String, Option<String>, Option<String>, String)> = sqlx::query_as(
        "SELECT created_at, started_at, finished_at, state FROM runs WHERE backfill_id = $1 ORDER BY created_at",
    )
    .bind(&id)
    .fetch_all(&state.db.pool)
    .await
    .unwrap();
    let succeeded = rows.iter().filter(|r| r.3 == "succeeded").count();
    println!(
        "backfill of {fires} fire times, max_active_runs {active}: created (all fires stored) in {:.0} ms, \
         every run stored after {:.1} s, done after {:.1} s ({succeeded} of {} runs succeeded)",
        created.as_secs_f64() * 1000.0,
        all_stored.unwrap_or(finished).as_secs_f64(),
        finished.as_secs_f64(),
        rows.len()
    );
    let mut ends: Vec<&str> = rows.iter().filter_map(|r| r.2.as_deref()).collect();
    ends.sort();
    let refill: Vec<f64> = rows
        .iter()
        .skip(active)
        .enumerate()
        .filter_map(|(k, r)| ends.get(k).map(|end| ms(end, &r.0)))
        .collect();
    show("a run ends → the next run stored (slot refill)", refill);
    show(
        "run stored → started",
        rows.iter()
            .filter_map(|r| r.1.as_deref().map(|s| ms(&r.0, s)))
            .collect(),
    );
}

async fn retry(state: &server::AppState, router: &axum::Router, cookie: &str) {
    // 99 `noop`s in a chain, then one that fails until the file is gone.
    let mut nodes: Vec<serde_json::Value> = (0..99)
        .map(|i| json!({"id": format!("n{i}"), "component": "noop"}))
        .collect();
    let (status, c, _) = call(
        router,
        "POST",
        "/api/v1/admin/components",
        cookie,
        json!({"key": "bench.gate", "name": "Gate", "category": "Testing", "params": [],
               "local": {"program": "/bin/sh", "args": ["-c", "test ! -e gate"]}}),
    )
    .await;
    assert_eq!(status, 201, "{c}");
    nodes.push(json!({"id": "last", "component": "bench.gate"}));
    let mut edges: Vec<serde_json::Value> = (0..98)
        .map(|i| json!({"from": format!("n{i}"), "to": format!("n{}", i + 1)}))
        .collect();
    edges.push(json!({"from": "n98", "to": "last"}));
    let path = publish(
        router,
        cookie,
        "Chain",
        json!({"nodes": nodes, "edges": edges}),
    )
    .await;
    let work = state
        .engine
        .tenant_dir(
            &server::db::bootstrap::demo_owner(&state.db)
                .await
                .unwrap()
                .unwrap()
                .0,
        )
        .join("work");
    std::fs::create_dir_all(&work).unwrap();
    std::fs::write(work.join("gate"), "").unwrap();
    let (status, run, _) = call(router, "POST", &format!("{path}/runs"), cookie, json!({})).await;
    assert_eq!(status, 201, "{run}");
    let id = run["id"].as_str().unwrap().to_owned();
    let get = || async {
        call(
            router,
            "GET",
            &format!("/api/v1/tenants/demo/runs/{id}"),
            cookie,
            json!(null),
        )
        .await
        .1
    };
    loop {
        if get().await["state"] == "failed" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    std::fs::remove_file(work.join("gate")).unwrap();
    let asked = Instant::now();
    let (status, r, _) = call(
        router,
        "POST",
        &format!("/api/v1/tenants/demo/runs/{id}/retry"),
        cookie,
        json!({}),
    )
    .await;
    assert_eq!(status, 202, "{r}");
    let answered = asked.elapsed();
    let mut running = None;
    loop {
        let run = get().await;
        let c_last = run["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["key"] == "C_last")
            .unwrap()
            .clone();
        if running.is_none()
            && ["running", "succeeded"].contains(&c_last["state"].as_str().unwrap())
        {
            running = Some(asked.elapsed());
        }
        if run["state"] == "succeeded" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    println!(
        "retry of a 100-node run (199 tasks kept; the failed node's 2 and PExit reset): answered in {:.0} ms, \
         the failed task running again after {:.0} ms (polled every 5 ms), run succeeded after {:.0} ms",
        answered.as_secs_f64() * 1000.0,
        running.unwrap().as_secs_f64() * 1000.0,
        asked.elapsed().as_secs_f64() * 1000.0
    );
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let state = support::app_state(dir.path(), 64).await;
    let router = server::router(state.clone());
    let cookie = support::sign_in(&router).await;
    state.scheduler.spawn(state.shutdown.clone());
    backfill(&state, &router, &cookie).await;
    retry(&state, &router, &cookie).await;
}
