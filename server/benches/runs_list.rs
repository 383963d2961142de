//! The tenant's runs list over 1,000,000 runs (release build): the time of
//! a page of 50 through the router, for each filter a user sets on the Runs
//! page and for the pages after the first, p50/p99 over repeated requests
//! (target p99 ≤ 50 ms), on SQLite and on PostgreSQL (a throwaway cluster,
//! as the tests start one).
//!
//! Run: `cargo bench -p server --bench runs_list` (`BENCH_RUNS=n` for another
//! number of runs).

mod support;

#[path = "../tests/it/common/pg.rs"]
#[allow(dead_code)]
mod pg;

use serde_json::json;
use std::time::Instant;

/// Processes the runs are spread over.
const PROCESSES: usize = 20;

#[tokio::main]
async fn main() {
    let runs = support::env("BENCH_RUNS", 1_000_000);
    let dir = tempfile::tempdir().unwrap();
    let sqlite = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("bench.db").display()
    );
    bench("SQLite", &sqlite, dir.path(), runs).await;
    let postgres = pg::fresh_database().await;
    bench("PostgreSQL", &postgres, dir.path(), runs).await;
}

async fn bench(backend: &str, url: &str, dir: &std::path::Path, runs: usize) {
    let state = support::app_state_on(url, support::engine_settings(dir)).await;
    let db = state.db.clone();
    let router = server::router(state);
    let cookie = support::sign_in(&router).await;

    // Twenty published processes, then the runs straight into the table.
    let mut processes = Vec::new();
    for i in 0..PROCESSES {
        let graph = json!({"nodes": [{"id": "a", "component": "noop"}], "edges": []});
        let (status, p, _) = support::call(
            &router,
            "POST",
            "/api/v1/tenants/demo/processes",
            &cookie,
            json!({"name": format!("Pipeline {i:02}"), "graph": graph}),
        )
        .await;
        assert_eq!(status, 201, "{p}");
        let id = p["id"].as_str().unwrap().to_owned();
        let (status, v, _) = support::call(
            &router,
            "POST",
            &format!("/api/v1/tenants/demo/processes/{id}/versions"),
            &cookie,
            json!({}),
        )
        .await;
        assert_eq!(status, 201, "{v}");
        processes.push(id);
    }
    let filling = Instant::now();
    fill(&db, runs).await;
    println!(
        "{backend}: {runs} runs stored in {:.1} s",
        filling.elapsed().as_secs_f64()
    );

    let (_, first, _) = support::call(
        &router,
        "GET",
        "/api/v1/tenants/demo/runs?limit=50",
        &cookie,
        None,
    )
    .await;
    let deep = first["next"].as_str().unwrap().to_owned();
    let deep: String = form_urlencoded::byte_serialize(deep.as_bytes()).collect();
    let p = &processes[7];
    let filters = [
        ("no filter", String::new()),
        ("a process", format!("process={p}")),
        ("failed", "state=failed".into()),
        ("cancelled (rare)", "state=cancelled".into()),
        ("schedule or api", "trigger=schedule,api".into()),
        ("started by admin", "started_by=admin".into()),
        (
            "a week",
            "from=2026-03-01T00:00:00Z&to=2026-03-08T00:00:00Z".into(),
        ),
        ("name search", "q=line%2013".into()),
        (
            "process + failed + a month",
            format!("process={p}&state=failed&from=2026-02-01T00:00:00Z&to=2026-03-01T00:00:00Z"),
        ),
        ("the second page", format!("before={deep}")),
    ];
    let mut all = Vec::new();
    for (name, query) in &filters {
        let path = format!("/api/v1/tenants/demo/runs?limit=50&{query}");
        let mut times = Vec::new();
        let mut rows = 0;
        for _ in 0..40 {
            let started = Instant::now();
            let (status, page, _) = support::call(&router, "GET", &path, &cookie, None).await;
            times.push(started.elapsed().as_secs_f64() * 1000.0);
            assert_eq!(status, 200, "{name}: {page}");
            rows = page["runs"].as_array().unwrap().len();
        }
        times.sort_by(f64::total_cmp);
        println!(
            "{backend}: {name:<28} {rows:>2} runs, p50 {:>6.2} ms, p99 {:>6.2} ms",
            support::percentile(&times, 0.5),
            support::percentile(&times, 0.99)
        );
        all.extend(times);
    }
    all.sort_by(f64::total_cmp);
    println!(
        "{backend}: a filtered page of 50 over {runs} runs: p50 {:.2} ms, p99 {:.2} ms (target p99 ≤ 50 ms)",
        support::percentile(&all, 0.5),
        support::percentile(&all, 0.99)
    );
    // The page's chart: runs per day over the last 30 days (~86,000 runs).
    for (name, query) in [
        ("runs per day, 30 days", String::new()),
        ("runs per day, a process", format!("process={p}")),
    ] {
        let path = format!("/api/v1/tenants/demo/runs/daily?{query}");
        let mut times = Vec::new();
        for _ in 0..10 {
            let started = Instant::now();
            let (status, days, _) = support::call(&router, "GET", &path, &cookie, None).await;
            times.push(started.elapsed().as_secs_f64() * 1000.0);
            assert_eq!(status, 200, "{name}: {days}");
        }
        times.sort_by(f64::total_cmp);
        println!(
            "{backend}: {name:<28} p50 {:>6.2} ms, max {:>6.2} ms",
            support::percentile(&times, 0.5),
            times[times.len() - 1]
        );
    }
}

/// Stores `runs` ended runs of the tenant's processes, one every 30 s
/// back from 2026-11-29: 91 % succeeded, 7 % failed, 2 % cancelled;
/// a third each by a person, the schedule and the API.
async fn fill(db: &server::db::Db, runs: usize) {
    let postgres = db.backend == server::db::Backend::Postgres;
    let series = if postgres {
        "SELECT generate_series(1, $1) AS i".to_owned()
    } else {
        "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < $1) SELECT i FROM s".to_owned()
    };
    let at = |offset: &str| {
        if postgres {
            format!("to_char(to_timestamp(1796000000 - n.i * 30 + {offset}) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')")
        } else {
            format!("strftime('%Y-%m-%dT%H:%M:%fZ', 1796000000 - n.i * 30 + {offset}, 'unixepoch')")
        }
    };
    let sql = format!(
        "WITH n AS ({series}), p AS (SELECT v.id AS version_id, v.process_id, \
           ROW_NUMBER() OVER (ORDER BY v.process_id) - 1 AS k FROM versions v) \
         INSERT INTO runs (id, tenant_id, process_id, version_id, version_number, state, trigger_type, \
           params, created_by, created_at, started_at, finished_at) \
         SELECT 'bench-' || n.i, t.id, p.process_id, p.version_id, 1, \
           CASE WHEN n.i % 53 = 0 THEN 'cancelled' WHEN n.i % 13 = 0 THEN 'failed' ELSE 'succeeded' END, \
           CASE n.i % 3 WHEN 0 THEN 'manual' WHEN 1 THEN 'schedule' ELSE 'api' END, \
           '{{}}', CASE WHEN n.i % 3 = 0 THEN u.id END, {}, {}, {} \
         FROM n JOIN p ON p.k = n.i % {PROCESSES} \
         CROSS JOIN (SELECT id FROM tenants WHERE slug = 'demo') t \
         CROSS JOIN (SELECT id FROM users WHERE username = 'admin') u",
        at("0"),
        at("1"),
        at("9"),
    );
    sqlx::query(&sql)
        .bind(runs as i64)
        .execute(&db.pool)
        .await
        .expect("storing the runs");
    if postgres {
        sqlx::query("ANALYZE runs").execute(&db.pool).await.unwrap();
    } else {
        sqlx::query("ANALYZE").execute(&db.pool).await.unwrap();
    }
}
