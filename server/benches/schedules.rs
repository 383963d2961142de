//! 1,000 schedules firing every minute (each runs a one-`noop` process), on
//! SQLite, with the real scheduler loop and engine: fire lag (fire time →
//! run stored and handed to the engine; and → run started), p50/p99/max,
//! whether every fire got its run, the scheduler's pass time and the
//! process's CPU over the measured minutes.
//!
//! `cargo bench -p server --bench schedules` (BENCH_SCHEDULES=n,
//! BENCH_MINUTES=m for another size).

mod support;

use chrono::{DateTime, Timelike, Utc};
use serde_json::json;
use std::time::Instant;
use support::{call, env, parse};

fn children_cpu() -> f64 {
    let usage = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN)
        .expect("getrusage");
    let seconds = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
    seconds(usage.user_time()) + seconds(usage.system_time())
}

async fn sleep_until(t: DateTime<Utc>) {
    if let Ok(d) = (t - Utc::now()).to_std() {
        tokio::time::sleep(d).await;
    }
}

#[tokio::main]
async fn main() {
    let count = env("BENCH_SCHEDULES", 1000);
    let minutes = env("BENCH_MINUTES", 3).max(1);
    let dir = tempfile::tempdir().unwrap();
    let state = support::app_state(dir.path(), 64).await;
    let router = server::router(state.clone());
    let cookie = support::sign_in(&router).await;

    let setup = Instant::now();
    for i in 0..count {
        let graph = json!({"nodes": [{"id": "work", "component": "noop"}], "edges": []});
        let (status, p, _) = call(
            &router,
            "POST",
            "/api/v1/tenants/demo/processes",
            &cookie,
            json!({"name": format!("Every minute {i}"), "graph": graph}),
        )
        .await;
        assert_eq!(status, 201, "{p}");
        let path = format!(
            "/api/v1/tenants/demo/processes/{}",
            p["id"].as_str().unwrap()
        );
        let (status, _, _) = call(
            &router,
            "POST",
            &format!("{path}/versions"),
            &cookie,
            json!({}),
        )
        .await;
        assert_eq!(status, 201);
        let (status, s, _) = call(
            &router,
            "PUT",
            &format!("{path}/schedule"),
            &cookie,
            json!({"cron": "* * * * *", "timezone": "UTC"}),
        )
        .await;
        assert_eq!(status, 201, "{s}");
    }
    println!(
        "{count} processes published and scheduled every minute in {:.1} s",
        setup.elapsed().as_secs_f64()
    );

    state.scheduler.spawn(state.shutdown.clone());
    let now = Utc::now();
    let first = (now + chrono::Duration::seconds(60 - i64::from(now.second())))
        .with_nanosecond(0)
        .unwrap();
    let last = first + chrono::Duration::minutes(minutes as i64 - 1);
    sleep_until(first - chrono::Duration::seconds(1)).await;
    let (_, cpu0) = support::usage();
    let children0 = children_cpu();
    let (passes0, busy0) = state.scheduler.pass_stats();
    let window = Instant::now();
    sleep_until(last + chrono::Duration::seconds(59)).await;
    let seconds = window.elapsed().as_secs_f64();
    let (rss, cpu1) = support::usage();
    let children1 = children_cpu();
    let (passes1, busy1) = state.scheduler.pass_stats();

    let rows: Vec<(String, String, Option<String>, String)> = sqlx::query_as(
        "SELECT scheduled_for, created_at, started_at, state FROM runs WHERE scheduled_for >= $1 AND scheduled_for <= $2",
    )
    .bind(server::scheduler::key(first))
    .bind(server::scheduler::key(last))
    .fetch_all(&state.db.pool)
    .await
    .unwrap();
    let lag = |a: &str, b: &str| (parse(b) - parse(a)).num_microseconds().unwrap() as f64 / 1000.0;
    let mut stored: Vec<f64> = rows.iter().map(|r| lag(&r.0, &r.1)).collect();
    let mut started: Vec<f64> = rows
        .iter()
        .filter_map(|r| r.2.as_deref().map(|s| lag(&r.0, s)))
        .collect();
    stored.sort_by(f64::total_cmp);
    started.sort_by(f64::total_cmp);
    let succeeded = rows.iter().filter(|r| r.3 == "succeeded").count();
    println!(
        "fires {first} … {last}: {} runs for {} fires expected ({succeeded} succeeded)",
        rows.len(),
        count * minutes
    );
    let show = |name: &str, v: &[f64]| {
        if v.is_empty() {
            return println!("{name}: none");
        }
        println!(
            "{name}: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
            support::percentile(v, 0.5),
            support::percentile(v, 0.99),
            v[v.len() - 1]
        );
    };
    show("fire → run stored and launched", &stored);
    show("fire → run started (PEntry)", &started);
    println!(
        "scheduler: {} passes, {:.2} s in passes over {seconds:.0} s ({:.1} % of one core at most)",
        passes1 - passes0,
        (busy1 - busy0).as_secs_f64(),
        100.0 * (busy1 - busy0).as_secs_f64() / seconds
    );
    println!(
        "server process CPU {:.1} % of one core (scheduler + engine + API), task processes {:.1} %, RSS {rss:.0} MiB",
        100.0 * (cpu1 - cpu0) / seconds,
        100.0 * (children1 - children0) / seconds
    );
    state.shutdown.cancel();
}
