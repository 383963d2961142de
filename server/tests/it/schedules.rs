//! Schedules through the real router and the real engine, on both
//! databases, with the scheduler's clock set by the test: the API and its
//! field-named errors, fires on time with trigger `schedule` and their fire
//! time, catch-up policies after downtime, `max_active_runs` (skip and
//! queue), pause and resume, version pinning, idempotent passes.

use crate::common::{ended, Backend, Session, TestApp};
use axum::http::{Method, StatusCode};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use server::scheduler::{ManualClock, SchedulerSettings};
use std::sync::Arc;
use std::time::Duration;

const DEMO: &str = "/api/v1/tenants/demo";

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

struct Fixture {
    app: TestApp,
    admin: Session,
    clock: Arc<ManualClock>,
}

async fn fixture(backend: Backend, now: &str, catchup_max: usize) -> Fixture {
    let clock = ManualClock::new(at(now));
    let app = TestApp::start(backend).await.with_scheduler(
        clock.clone(),
        SchedulerSettings {
            grace: Duration::from_secs(60),
            catchup_max,
            refresh: Duration::from_secs(1),
        },
    );
    let admin = app.admin().await;
    Fixture { app, admin, clock }
}

impl Fixture {
    async fn send(&self, method: Method, path: &str, body: Option<Value>) -> crate::common::Reply {
        self.app.as_user(&self.admin, method, path, body).await
    }

    /// A published process of one node (`noop`, or `sleep` for `seconds`).
    async fn process(&self, name: &str, sleep: Option<u64>) -> String {
        let node = match sleep {
            Some(s) => json!({"id": "work", "component": "sleep", "label": "Work",
                              "params": {"seconds": s}, "position": {"x": 0, "y": 0}}),
            None => json!({"id": "work", "component": "noop", "label": "Work",
                           "params": {}, "position": {"x": 0, "y": 0}}),
        };
        let created = self
            .send(
                Method::POST,
                &format!("{DEMO}/processes"),
                Some(json!({"name": name, "graph": {"nodes": [node], "edges": [],
                    "params": [{"name": "day", "type": "string"}, {"name": "region", "type": "string"}]}})),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
        let id = created.json()["id"].as_str().unwrap().to_owned();
        self.publish(&id, "first").await;
        id
    }

    async fn publish(&self, process: &str, message: &str) {
        let published = self
            .send(
                Method::POST,
                &format!("{DEMO}/processes/{process}/versions"),
                Some(json!({ "message": message })),
            )
            .await;
        assert!(published.status.is_success(), "{}", published.text());
    }

    async fn schedule(&self, process: &str, body: Value) -> crate::common::Reply {
        self.send(
            Method::PUT,
            &format!("{DEMO}/processes/{process}/schedule"),
            Some(body),
        )
        .await
    }

    /// Sets the clock and makes one scheduler pass.
    async fn tick_at(&self, now: &str) {
        self.clock.set(at(now));
        self.app.state.scheduler.tick().await.unwrap();
    }

    async fn runs(&self, process: &str) -> Vec<Value> {
        let reply = self
            .send(
                Method::GET,
                &format!("{DEMO}/processes/{process}/runs"),
                None,
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK);
        let mut runs = reply.json().as_array().unwrap().clone();
        runs.reverse(); // oldest first
        runs
    }

    /// The fire times the schedule's runs ran for, oldest first.
    async fn fired(&self, process: &str) -> Vec<String> {
        self.runs(process)
            .await
            .iter()
            .map(|r| {
                assert_eq!(r["trigger"], "schedule", "{r}");
                r["scheduled_for"].as_str().unwrap().to_owned()
            })
            .collect()
    }

    async fn fires(&self, process: &str) -> Vec<Value> {
        let reply = self
            .send(
                Method::GET,
                &format!("{DEMO}/processes/{process}/schedule"),
                None,
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        let mut fires = reply.json()["recent_fires"].as_array().unwrap().clone();
        fires.reverse();
        fires
    }

    async fn wait_ended(&self, run: &str) -> Value {
        self.app.wait_for_run(&self.admin, run, ended).await
    }
}

async fn api_names_wrong_fields_and_shows_next_fires(backend: Backend) {
    let f = fixture(backend, "2026-11-26T10:00:30Z", 50).await;
    let p = f.process("Nightly", None).await;

    let bad = f
        .schedule(
            &p,
            json!({"cron": "0 25 * * *", "timezone": "Europe/Berlin"}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.header("content-type"), "application/problem+json");
    let e = &bad.json()["errors"][0];
    assert_eq!(e["field"], "cron");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .starts_with("field 2 (hour) `25`"),
        "{e}"
    );
    let bad = f
        .schedule(
            &p,
            json!({"cron": "0 6 * * *", "timezone": "Europe/Berlln", "max_active_runs": 0, "version": 9}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<String> = bad.json()["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(fields, ["timezone", "max_active_runs", "version"]);
    let none = f
        .send(Method::GET, &format!("{DEMO}/processes/{p}/schedule"), None)
        .await;
    assert_eq!(none.status, StatusCode::NOT_FOUND, "nothing was stored");

    let created = f
        .schedule(
            &p,
            json!({"cron": "0 6 * * 1-5", "timezone": "Europe/Berlin", "params": {"day": "today"}}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    let s = created.json();
    // Thursday 26 Nov 2026, 10:00 UTC: next weekdays at 06:00 CET (05:00 UTC).
    assert_eq!(
        s["next_fires"],
        json!([
            "2026-11-27T05:00:00.000Z",
            "2026-11-30T05:00:00.000Z",
            "2026-12-01T05:00:00.000Z",
            "2026-12-02T05:00:00.000Z",
            "2026-12-03T05:00:00.000Z"
        ])
    );
    assert_eq!(s["next_fires_local"][0], "2026-11-27T06:00:00+01:00");
    assert_eq!(
        (
            s["catchup"].as_str(),
            s["max_active_runs"].as_i64(),
            s["when_busy"].as_str(),
            s["enabled"].as_bool()
        ),
        (Some("none"), Some(1), Some("skip"), Some(true))
    );
    assert!(s["description"].as_str().unwrap().contains("06:00"), "{s}");
    let changed = f
        .schedule(&p, json!({"cron": "*/15 * * * *", "timezone": "UTC"}))
        .await;
    assert_eq!(changed.status, StatusCode::OK);
    assert_eq!(changed.json()["next_fires"][0], "2026-11-26T10:15:00.000Z");

    let listed = f
        .send(Method::GET, &format!("{DEMO}/schedules"), None)
        .await
        .json();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["process_name"], "Nightly");

    let preview = f
        .send(
            Method::GET,
            &format!("{DEMO}/schedules/preview?cron=30%202%20*%20*%20*&timezone=America/New_York"),
            None,
        )
        .await;
    assert_eq!(preview.status, StatusCode::OK, "{}", preview.text());
    assert_eq!(preview.json()["next_fires"][0], "2026-11-27T07:30:00.000Z");
    let preview = f
        .send(
            Method::GET,
            &format!("{DEMO}/schedules/preview?cron=1%202%203"),
            None,
        )
        .await;
    assert_eq!(preview.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(preview.json()["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("has 3 fields"));

    let gone = f
        .send(
            Method::DELETE,
            &format!("{DEMO}/processes/{p}/schedule"),
            None,
        )
        .await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT);
    let again = f
        .send(
            Method::DELETE,
            &format!("{DEMO}/processes/{p}/schedule"),
            None,
        )
        .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
}

async fn fires_on_time_once_with_trigger_and_fire_time(backend: Backend) {
    let f = fixture(backend, "2026-11-26T10:00:30Z", 50).await;
    let p = f.process("Every ten", None).await;
    let reply = f
        .schedule(
            &p,
            json!({"cron": "*/10 * * * *", "timezone": "UTC", "params": {"region": "EU"}}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED);

    f.tick_at("2026-11-26T10:09:59.999Z").await;
    assert!(f.runs(&p).await.is_empty(), "nothing before its time");
    f.tick_at("2026-11-26T10:10:00Z").await;
    f.tick_at("2026-11-26T10:10:00.500Z").await;
    f.tick_at("2026-11-26T10:15:00Z").await;
    assert_eq!(f.fired(&p).await, ["2026-11-26T10:10:00.000Z"]);
    let run = &f.runs(&p).await[0];
    assert_eq!(run["created_by"], Value::Null);
    let done = f.wait_ended(run["id"].as_str().unwrap()).await;
    assert_eq!(done["state"], "succeeded");
    assert_eq!(done["params"], json!({"region": "EU"}));
    assert_eq!(done["scheduled_for"], "2026-11-26T10:10:00.000Z");
    // The fire's date and data interval: the previous fire → this one.
    assert_eq!(done["resolved"]["logical_date"], "2026-11-26");
    assert_eq!(
        done["resolved"]["data_interval_start"],
        "2026-11-26T10:00:00.000Z"
    );
    assert_eq!(
        done["resolved"]["data_interval_end"],
        "2026-11-26T10:10:00.000Z"
    );
    assert_eq!(done["resolved"]["params"], json!({"region": "EU"}));

    f.tick_at("2026-11-26T10:20:00.010Z").await;
    assert_eq!(
        f.fired(&p).await,
        ["2026-11-26T10:10:00.000Z", "2026-11-26T10:20:00.000Z"]
    );
    let fires = f.fires(&p).await;
    assert_eq!(fires.len(), 2);
    assert!(fires.iter().all(|x| x["outcome"] == "started"));
}

/// Three processes every 10 minutes, one per catch-up policy; Trellis is
/// "down" from 10:00:30 to 11:05 (six fires missed: 10:10 … 11:00).
async fn catch_up_policies_after_downtime(backend: Backend) {
    let f = fixture(backend, "2026-11-26T10:00:30Z", 4).await;
    let mut procs = Vec::new();
    for policy in ["none", "latest", "all"] {
        let p = f.process(&format!("Catch-up {policy}"), None).await;
        let reply = f
            .schedule(
                &p,
                json!({"cron": "*/10 * * * *", "timezone": "UTC", "catchup": policy, "max_active_runs": 10}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED);
        procs.push(p);
    }
    f.tick_at("2026-11-26T11:05:00Z").await;

    assert!(f.fired(&procs[0]).await.is_empty(), "none: nothing runs");
    let fires = f.fires(&procs[0]).await;
    assert!(
        fires
            .iter()
            .all(|x| x["outcome"] == "skipped"
                && x["detail"].as_str().unwrap().starts_with("missed")),
        "{fires:?}"
    );
    assert_eq!(f.fired(&procs[1]).await, ["2026-11-26T11:00:00.000Z"]);
    assert_eq!(
        f.fired(&procs[2]).await,
        [
            "2026-11-26T10:30:00.000Z",
            "2026-11-26T10:40:00.000Z",
            "2026-11-26T10:50:00.000Z",
            "2026-11-26T11:00:00.000Z"
        ],
        "all: every missed fire, capped at the newest 4"
    );

    // Back to normal: the next fire runs under every policy, once.
    f.tick_at("2026-11-26T11:10:00.200Z").await;
    f.tick_at("2026-11-26T11:10:00.300Z").await;
    for p in &procs {
        let fired = f.fired(p).await;
        assert_eq!(fired.last().unwrap(), "2026-11-26T11:10:00.000Z");
        assert_eq!(
            fired
                .iter()
                .filter(|t| t.as_str() == "2026-11-26T11:10:00.000Z")
                .count(),
            1
        );
    }

    // A fire a little late (within the grace time) still runs under `none`.
    f.tick_at("2026-11-26T11:20:45Z").await;
    assert_eq!(
        f.fired(&procs[0]).await.last().unwrap(),
        "2026-11-26T11:20:00.000Z"
    );
}

async fn max_active_runs_skips_or_queues(backend: Backend) {
    let f = fixture(backend, "2026-11-26T10:00:30Z", 50).await;
    let skip = f.process("Long, skip", Some(60)).await;
    let queue = f.process("Long, queue", Some(60)).await;
    for (p, policy) in [(&skip, "skip"), (&queue, "queue")] {
        let reply = f
            .schedule(
                p,
                json!({"cron": "* * * * *", "timezone": "UTC", "when_busy": policy}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED);
    }
    f.tick_at("2026-11-26T10:01:00Z").await;
    f.tick_at("2026-11-26T10:02:00Z").await;
    f.tick_at("2026-11-26T10:03:00Z").await;

    assert_eq!(f.fired(&skip).await, ["2026-11-26T10:01:00.000Z"]);
    let fires = f.fires(&skip).await;
    let outcomes: Vec<&str> = fires
        .iter()
        .map(|x| x["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["started", "skipped", "skipped"]);
    assert_eq!(
        fires[1]["detail"],
        "1 run of the process active (max_active_runs 1)"
    );

    assert_eq!(f.fired(&queue).await, ["2026-11-26T10:01:00.000Z"]);
    let outcomes: Vec<String> = f
        .fires(&queue)
        .await
        .iter()
        .map(|x| x["outcome"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(outcomes, ["started", "waiting", "waiting"]);

    // The running one is stopped: the oldest waiting fire starts, then the next.
    let first = f.runs(&queue).await[0]["id"].as_str().unwrap().to_owned();
    let stop = f
        .send(Method::POST, &format!("{DEMO}/runs/{first}/stop"), None)
        .await;
    assert_eq!(stop.status, StatusCode::ACCEPTED, "{}", stop.text());
    f.wait_ended(&first).await;
    f.tick_at("2026-11-26T10:03:01Z").await;
    assert_eq!(
        f.fired(&queue).await,
        ["2026-11-26T10:01:00.000Z", "2026-11-26T10:02:00.000Z"]
    );
    let outcomes: Vec<String> = f
        .fires(&queue)
        .await
        .iter()
        .map(|x| x["outcome"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(outcomes, ["started", "started", "waiting"]);

    // Pausing drops what waits; stop the rest.
    let paused = f
        .schedule(
            &queue,
            json!({"cron": "* * * * *", "timezone": "UTC", "when_busy": "queue", "enabled": false}),
        )
        .await;
    assert_eq!(paused.status, StatusCode::OK, "{}", paused.text());
    assert_eq!(paused.json()["recent_fires"][0]["outcome"], "skipped");
    for p in [&skip, &queue] {
        for r in f.runs(p).await {
            let id = r["id"].as_str().unwrap();
            f.send(
                Method::POST,
                &format!("{DEMO}/runs/{id}/stop?mode=force"),
                None,
            )
            .await;
            f.wait_ended(id).await;
        }
    }
}

async fn pause_and_resume(backend: Backend) {
    let f = fixture(backend, "2026-11-26T10:00:30Z", 50).await;
    let p = f.process("Pausable", None).await;
    let body = |enabled: bool| json!({"cron": "*/10 * * * *", "timezone": "UTC", "catchup": "all", "enabled": enabled, "max_active_runs": 10});
    assert_eq!(f.schedule(&p, body(true)).await.status, StatusCode::CREATED);
    f.tick_at("2026-11-26T10:10:00Z").await;
    f.clock.set(at("2026-11-26T10:12:00Z"));
    let paused = f.schedule(&p, body(false)).await;
    assert_eq!(
        paused.json()["next_fires"],
        json!([]),
        "paused: no next fire"
    );
    f.tick_at("2026-11-26T10:20:00Z").await;
    f.tick_at("2026-11-26T10:45:00Z").await;
    assert_eq!(f.fired(&p).await, ["2026-11-26T10:10:00.000Z"]);

    // Resumed at 10:45: what fell while paused is not caught up, even with `all`.
    let resumed = f.schedule(&p, body(true)).await;
    assert_eq!(resumed.json()["next_fires"][0], "2026-11-26T10:50:00.000Z");
    f.tick_at("2026-11-26T10:50:00Z").await;
    assert_eq!(
        f.fired(&p).await,
        ["2026-11-26T10:10:00.000Z", "2026-11-26T10:50:00.000Z"]
    );
}

async fn pinned_or_latest_version(backend: Backend) {
    let f = fixture(backend, "2026-11-26T10:00:30Z", 50).await;
    let pinned = f.process("Pinned", None).await;
    let latest = f.process("Latest", None).await;
    for p in [&pinned, &latest] {
        // Version 2: a second node.
        let current = f
            .send(Method::GET, &format!("{DEMO}/processes/{p}"), None)
            .await
            .json();
        let mut graph = current["graph"].clone();
        graph["nodes"].as_array_mut().unwrap().push(
            json!({"id": "more", "component": "noop", "label": "More", "params": {}, "position": {"x": 200, "y": 0}}),
        );
        let saved = f
            .send(
                Method::PUT,
                &format!("{DEMO}/processes/{p}"),
                Some(json!({"revision": current["revision"], "graph": graph})),
            )
            .await;
        assert_eq!(saved.status, StatusCode::OK, "{}", saved.text());
        f.publish(p, "second").await;
    }
    f.schedule(
        &pinned,
        json!({"cron": "*/10 * * * *", "timezone": "UTC", "version": 1}),
    )
    .await;
    f.schedule(&latest, json!({"cron": "*/10 * * * *", "timezone": "UTC"}))
        .await;
    f.tick_at("2026-11-26T10:10:00Z").await;
    assert_eq!(f.runs(&pinned).await[0]["version"], 1);
    assert_eq!(f.runs(&latest).await[0]["version"], 2);
}

on_both_backends!(
    api_names_wrong_fields_and_shows_next_fires,
    fires_on_time_once_with_trigger_and_fire_time,
    catch_up_policies_after_downtime,
    max_active_runs_skips_or_queues,
    pause_and_resume,
    pinned_or_latest_version,
);
