//! Backfills through the real router and engine on both databases: the
//! preview and the stored runs (one per fire, with its logical date and data
//! interval, across a DST change), `max_active_runs`, field-named refusals,
//! cancel; and with the real binary, a server killed in the middle of a
//! backfill that, restarted, makes exactly one run per fire.

use crate::common::binary::{call, published, sign_in, start, start_with, try_call, wait_until};
use crate::common::{Backend, Session, TestApp};
use axum::http::{Method, StatusCode};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use server::scheduler::{ManualClock, SchedulerSettings};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

on_both_backends!(
    a_backfill_runs_each_fire_once_with_its_dates,
    bad_backfills_are_refused_naming_the_field,
    a_cancelled_backfill_starts_nothing_more
);

const DEMO: &str = "/api/v1/tenants/demo";

async fn app(backend: Backend) -> (TestApp, Session) {
    let now: DateTime<Utc> = "2026-11-30T12:00:00Z".parse().unwrap();
    let app = TestApp::start(backend).await.with_scheduler(
        ManualClock::new(now),
        SchedulerSettings {
            grace: Duration::from_secs(60),
            catchup_max: 100,
            refresh: Duration::from_secs(1),
        },
    );
    let admin = app.admin().await;
    (app, admin)
}

fn graph(seconds: f64) -> Value {
    json!({
        "params": [{"name": "region", "type": "string", "default": "EU"}],
        "nodes": [{"id": "work", "component": "sleep", "params": {"seconds": seconds}}],
        "edges": [],
    })
}

async fn post(app: &TestApp, s: &Session, path: &str, body: Value) -> crate::common::Reply {
    app.as_user(s, Method::POST, path, Some(body)).await
}

/// Ticks the scheduler until `done` holds of the backfill (30 s at most);
/// checks `each` of every reading on the way.
async fn until(
    app: &TestApp,
    s: &Session,
    path: &str,
    done: impl Fn(&Value) -> bool,
    each: impl Fn(&Value),
) -> Value {
    let started = Instant::now();
    loop {
        app.state.scheduler.tick().await.unwrap();
        let b = app.get_as(s, path).await.json();
        each(&b);
        if done(&b) {
            return b;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "stuck: {b}");
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
}

fn active(b: &Value) -> i64 {
    ["queued", "running", "cancelling"]
        .iter()
        .map(|s| b["runs"][s].as_i64().unwrap_or(0))
        .sum()
}

async fn a_backfill_runs_each_fire_once_with_its_dates(backend: Backend) {
    let (app, admin) = app(backend).await;
    let path = app.published(&admin, "Daily", graph(0.05), json!({})).await;
    // October 2026 in Berlin: summer time until the 25th, then winter time.
    let body = json!({"start": "2026-10-01T00:00:00+02:00", "end": "2026-10-31T23:59:59+01:00",
                      "cron": "0 6 * * *", "timezone": "Europe/Berlin",
                      "params": {"region": "US"}, "max_active_runs": 4});
    let mut dry = body.clone();
    dry["dry_run"] = json!(true);
    let preview = post(&app, &admin, &format!("{path}/backfills"), dry).await;
    assert_eq!(preview.status, StatusCode::OK, "{}", preview.text());
    let preview = preview.json();
    assert_eq!(preview["runs"], 31);
    assert_eq!(preview["first"], "2026-10-01T04:00:00.000Z");
    assert_eq!(
        preview["last"], "2026-10-31T05:00:00.000Z",
        "06:00 in winter time"
    );
    assert!(
        app.get_as(&admin, &format!("{path}/backfills"))
            .await
            .json()
            == json!([]),
        "a dry run stores nothing"
    );

    let created = post(&app, &admin, &format!("{path}/backfills"), body).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    let b = created.json();
    assert_eq!(
        (b["total"].clone(), b["pending"].clone(), b["state"].clone()),
        (json!(31), json!(31), json!("running"))
    );
    let one = format!("{path}/backfills/{}", b["id"].as_str().unwrap());
    let done = until(
        &app,
        &admin,
        &one,
        |b| b["state"] == "done",
        |b| {
            assert!(active(b) <= 4, "at most max_active_runs at once: {b}");
        },
    )
    .await;
    assert_eq!(done["runs"], json!({"succeeded": 31}));
    assert_eq!(done["pending"], 0);

    let runs = app
        .get_as(&admin, &format!("{path}/runs?limit=100"))
        .await
        .json();
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 31);
    let fires: BTreeSet<&str> = runs
        .iter()
        .map(|r| r["scheduled_for"].as_str().unwrap())
        .collect();
    assert_eq!(fires.len(), 31, "one run per fire");
    assert!(runs
        .iter()
        .all(|r| r["backfill"] == b["id"] && r["trigger"] == "schedule"));
    // Each run's dates: the fire's local day, the previous fire → this one.
    let mut by_fire: Vec<&Value> = runs.iter().collect();
    by_fire.sort_by_key(|r| r["scheduled_for"].as_str().unwrap().to_owned());
    for (day, r) in by_fire.iter().enumerate() {
        let run = app
            .get_as(
                &admin,
                &format!("{DEMO}/runs/{}", r["id"].as_str().unwrap()),
            )
            .await
            .json();
        let resolved = &run["resolved"];
        assert_eq!(
            resolved["logical_date"],
            format!("2026-10-{:02}", day + 1),
            "{resolved}"
        );
        assert_eq!(resolved["data_interval_end"], run["scheduled_for"]);
        assert_eq!(resolved["params"], json!({"region": "US"}));
        if day == 25 {
            // The first fire in winter time: 23 + 2 hours after the last in summer.
            assert_eq!(resolved["data_interval_start"], "2026-10-25T05:00:00.000Z");
            assert_eq!(resolved["data_interval_end"], "2026-10-26T05:00:00.000Z");
        }
    }
}

async fn bad_backfills_are_refused_naming_the_field(backend: Backend) {
    let (app, admin) = app(backend).await;
    let path = app.published(&admin, "Daily", graph(0.0), json!({})).await;
    let fields = |reply: crate::common::Reply| -> Vec<String> {
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            reply.text()
        );
        reply.json()["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap().to_owned())
            .collect()
    };
    let url = format!("{path}/backfills");
    let no_cron = post(
        &app,
        &admin,
        &url,
        json!({"start": "2026-10-01T00:00:00Z", "end": "2026-10-02T00:00:00Z"}),
    )
    .await;
    assert_eq!(
        fields(no_cron),
        ["cron"],
        "the process has no schedule to default to"
    );
    let too_many = post(&app, &admin, &url, json!({"start": "2026-10-01T00:00:00Z", "end": "2026-10-02T00:00:00Z", "cron": "* * * * *"})).await;
    assert_eq!(fields(too_many), ["end"], "1,440 fires > 1,000");
    let wrong = post(
        &app,
        &admin,
        &url,
        json!({"start": "yesterday", "end": "2026-10-02T00:00:00Z", "cron": "0 6 * * *",
                                                 "max_active_runs": 0, "params": {"nope": 1}}),
    )
    .await;
    assert_eq!(fields(wrong), ["start", "max_active_runs", "params.nope"]);
    let backwards = post(&app, &admin, &url, json!({"start": "2026-10-02T00:00:00Z", "end": "2026-10-01T00:00:00Z", "cron": "0 6 * * *"})).await;
    assert_eq!(fields(backwards), ["end"]);
    assert_eq!(
        app.get_as(&admin, &url).await.json(),
        json!([]),
        "nothing stored"
    );
    let missing = app.get_as(&admin, &format!("{url}/nope")).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

async fn a_cancelled_backfill_starts_nothing_more(backend: Backend) {
    let (app, admin) = app(backend).await;
    let path = app.published(&admin, "Slow", graph(30.0), json!({})).await;
    // The process's schedule gives the cron expression and zone.
    let schedule = app
        .as_user(
            &admin,
            Method::PUT,
            &format!("{path}/schedule"),
            Some(json!({"cron": "0 6 * * *", "timezone": "UTC", "enabled": false})),
        )
        .await;
    assert_eq!(schedule.status, StatusCode::CREATED, "{}", schedule.text());
    let created = post(&app, &admin, &format!("{path}/backfills"),
                       json!({"start": "2026-10-01T00:00:00Z", "end": "2026-10-10T00:00:00Z", "order": "newest_first"})).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    let b = created.json();
    assert_eq!(
        (b["cron"].clone(), b["total"].clone()),
        (json!("0 6 * * *"), json!(9))
    );
    let one = format!("{path}/backfills/{}", b["id"].as_str().unwrap());
    until(&app, &admin, &one, |b| b["runs"]["running"] == 1, |_| {}).await;
    let runs = app.get_as(&admin, &format!("{path}/runs")).await.json();
    assert_eq!(
        runs[0]["scheduled_for"], "2026-10-09T06:00:00.000Z",
        "newest first"
    );

    let cancelled = post(&app, &admin, &format!("{one}/cancel"), json!({})).await;
    assert_eq!(cancelled.status, StatusCode::OK, "{}", cancelled.text());
    let c = cancelled.json();
    assert_eq!(
        (
            c["state"].clone(),
            c["pending"].clone(),
            c["cancelled_before_start"].clone()
        ),
        (json!("cancelled"), json!(0), json!(8))
    );
    assert_eq!(c["runs"], json!({"running": 1}), "the started run goes on");
    let again = post(&app, &admin, &format!("{one}/cancel"), json!({})).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    let bad = post(&app, &admin, &format!("{one}/cancel?mode=later"), json!({})).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);

    let stopped = post(&app, &admin, &format!("{one}/cancel?mode=stop"), json!({})).await;
    assert_eq!(stopped.status, StatusCode::OK, "{}", stopped.text());
    let b = until(&app, &admin, &one, |b| b["runs"]["cancelled"] == 1, |_| {}).await;
    assert_eq!(b["runs"], json!({"cancelled": 1}));
    app.state.scheduler.tick().await.unwrap();
    assert_eq!(
        app.get_as(&admin, &format!("{path}/runs"))
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

/// The server aborts right after storing a backfill's first run, before it
/// starts it; started again, it runs every fire exactly once.
#[test]
fn a_killed_server_finishes_its_backfill_with_one_run_per_fire() {
    let data = tempfile::tempdir().unwrap();
    let mut first = start_with(data.path(), &[("TRELLIS_FAULT", "backfill-after-start")]);
    let addr = first.addr.clone();
    let cookie = sign_in(&addr);
    let path = published(&addr, &cookie, "p", graph(0.05));
    // The server may die at the fault (its first run stored) before it has
    // answered; the backfill is stored by then all the same.
    let created = try_call(
        &addr,
        "POST",
        &format!("{path}/backfills"),
        &cookie,
        Some(
            json!({"start": "2026-10-01T00:00:00Z", "end": "2026-10-20T23:00:00Z", "cron": "0 6 * * *", "max_active_runs": 5}),
        ),
    );
    if let Some((status, _, b)) = &created {
        assert_eq!(*status, 201, "{b}");
    }
    let started = Instant::now();
    while first.child.try_wait().unwrap().is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the server did not stop"
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    let mut second = start(data.path());
    let cookie = sign_in(&second.addr);
    let b = match created {
        Some((_, _, b)) => b,
        None => {
            let (_, _, list) = call(
                &second.addr,
                "GET",
                &format!("{path}/backfills"),
                &cookie,
                None,
            );
            assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
            list[0].clone()
        }
    };
    let one = format!("{path}/backfills/{}", b["id"].as_str().unwrap());
    let done = wait_until(&second.addr, &cookie, &one, Duration::from_secs(60), |b| {
        b["state"] == "done"
    });
    assert_eq!(done["runs"], json!({"succeeded": 20}), "{done}");
    let (_, _, runs) = call(
        &second.addr,
        "GET",
        &format!("{path}/runs?limit=100"),
        &cookie,
        None,
    );
    let fires: BTreeSet<&str> = runs
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["scheduled_for"].as_str().unwrap())
        .collect();
    assert_eq!(
        (runs.as_array().unwrap().len(), fires.len()),
        (20, 20),
        "none missing, none doubled"
    );
    std::process::Command::new("kill")
        .args(["-TERM", &second.child.id().to_string()])
        .status()
        .unwrap();
    second.child.wait().unwrap();
}
