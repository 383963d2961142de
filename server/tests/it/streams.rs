//! Live streams are bounded: a per-user cap (429 past it, a closed stream
//! frees its slot), a run's stream ends with the run, a stream ends when its
//! caller's access does, and a followed log is pushed line by line.

use crate::common::{ended, Backend, Session, TestApp};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tower::ServiceExt;

on_both_backends!(
    streams_past_the_cap_are_refused_until_one_closes,
    a_run_stream_ends_after_the_runs_final_event,
    a_removed_member_or_a_revoked_token_stops_receiving,
    a_followed_log_gets_each_line_as_it_is_written,
);

const DEMO: &str = "/api/v1/tenants/demo";

/// A GET with a session cookie, or a bearer token.
fn get(path: &str, who: &Who) -> Request<Body> {
    let request = Request::get(path);
    let request = match who {
        Who::Session(s) => request.header("cookie", &s.cookie),
        Who::Token(t) => request.header("authorization", format!("Bearer {t}")),
    };
    request.body(Body::empty()).unwrap()
}

enum Who<'a> {
    Session(&'a Session),
    Token(&'a str),
}

/// Opens a stream: its status and its (still open) body.
async fn open(app: &TestApp, request: Request<Body>) -> (StatusCode, Body) {
    let response = app.router.clone().oneshot(request).await.unwrap();
    (response.status(), response.into_body())
}

/// Reads `body` until it ends (within `limit`); its text.
async fn until_end(body: &mut Body, limit: Duration) -> String {
    let deadline = Instant::now() + limit;
    let mut text = String::new();
    loop {
        let frame = tokio::time::timeout_at(deadline.into(), body.frame())
            .await
            .unwrap_or_else(|_| panic!("the stream is still open after {limit:?}: {text}"));
        match frame {
            None => return text,
            Some(frame) => {
                if let Some(data) = frame.unwrap().data_ref() {
                    text.push_str(&String::from_utf8_lossy(data));
                }
            }
        }
    }
}

/// Reads `body` for `span`, failing if it ends meanwhile.
async fn stays_open(body: &mut Body, span: Duration) {
    let deadline = Instant::now() + span;
    while let Ok(frame) = tokio::time::timeout_at(deadline.into(), body.frame()).await {
        assert!(frame.is_some(), "the stream ended");
    }
}

/// The SSE events' data in `text`, as JSON.
fn events_in(text: &str) -> Vec<Value> {
    text.split("\n\n")
        .filter_map(|block| block.lines().find_map(|l| l.strip_prefix("data: ")))
        .map(|data| serde_json::from_str(data).unwrap())
        .collect()
}

async fn user_id(app: &TestApp, username: &str) -> app::types::UserId {
    let id: String = sqlx::query_scalar("SELECT id FROM users WHERE username = $1")
        .bind(username)
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    app::types::UserId::new(id)
}

async fn long_run(app: &TestApp, admin: &Session) -> String {
    let graph = json!({"nodes": [{"id": "nap", "component": "sleep", "params": {"seconds": 60}}], "edges": []});
    let path = app.published(admin, "long", graph, json!({})).await;
    let run = app.start_run(admin, &path).await;
    app.wait_for_run(admin, &run, |r| r["tasks"][2]["state"] == "running")
        .await;
    run
}

async fn stop(app: &TestApp, admin: &Session, run: &str) {
    let reply = app
        .as_user(
            admin,
            Method::POST,
            &format!("{DEMO}/runs/{run}/stop?mode=force"),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text());
    app.wait_for_run(admin, run, ended).await;
}

async fn streams_past_the_cap_are_refused_until_one_closes(backend: Backend) {
    let app = TestApp::start(backend)
        .await
        .with_streams(|s| s.max_per_user = 2);
    let admin = app.admin().await;
    let me = Who::Session(&admin);
    let run = long_run(&app, &admin).await;
    let tenant = format!("{DEMO}/events");
    let run_events = format!("{DEMO}/runs/{run}/events");
    let log = format!("{DEMO}/runs/{run}/tasks/W_nap/log?follow=true");

    let (status, first) = open(&app, get(&tenant, &me)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, second) = open(&app, get(&run_events, &me)).await;
    assert_eq!(status, StatusCode::OK);

    // Every kind of live stream counts, and each is refused past the cap.
    for path in [&log, &tenant, &run_events] {
        let refused = app.send(get(path, &me)).await;
        assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS, "{path}");
        assert_eq!(refused.header("content-type"), "application/problem+json");
        assert!(!refused.header("retry-after").is_empty());
        let detail = refused.json()["detail"].as_str().unwrap().to_owned();
        assert!(
            detail.starts_with("at most 2 live streams per user; close one"),
            "{detail}"
        );
    }
    // A log read whole is no stream.
    let plain = format!("{DEMO}/runs/{run}/tasks/W_nap/log");
    assert_eq!(app.get_as(&admin, &plain).await.status, StatusCode::OK);
    // Another user has slots of their own.
    let vera = app.member("demo", "vera", "viewer").await;
    let (status, _theirs) = open(&app, get(&tenant, &Who::Session(&vera))).await;
    assert_eq!(status, StatusCode::OK);

    // Closing a stream (the client goes away) frees its slot.
    drop(first);
    let (status, third) = open(&app, get(&log, &me)).await;
    assert_eq!(status, StatusCode::OK, "a closed stream frees its slot");
    let admin_id = user_id(&app, "admin").await;
    assert_eq!(app.state.streams.open(&admin_id), 2);
    drop((second, third));
    assert_eq!(app.state.streams.open(&admin_id), 0, "nothing leaks");
    stop(&app, &admin, &run).await;
}

async fn a_run_stream_ends_after_the_runs_final_event(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let me = Who::Session(&admin);
    let graph = json!({"nodes": [{"id": "nap", "component": "sleep", "params": {"seconds": 0.3}}], "edges": []});
    let path = app.published(&admin, "short", graph, json!({})).await;
    let run = app.start_run(&admin, &path).await;
    let events = format!("{DEMO}/runs/{run}/events");

    // Followed live from the start: it ends once the run has.
    let (status, mut body) = open(&app, get(&events, &me)).await;
    assert_eq!(status, StatusCode::OK);
    let all = events_in(&until_end(&mut body, Duration::from_secs(30)).await);
    let last = all.last().unwrap();
    assert!(last["task"].is_null(), "{last}");
    assert_eq!(last["state"], "succeeded");
    let n = all.len() as i64;
    assert_eq!(last["seq"], n, "every event, then the end");
    let admin_id = user_id(&app, "admin").await;
    assert_eq!(
        app.state.streams.open(&admin_id),
        0,
        "an ended stream frees its slot"
    );

    // Resuming after the end: what is left, then the end.
    let resume = |after: i64| {
        Request::get(&events)
            .header("cookie", &admin.cookie)
            .header("last-event-id", after.to_string())
            .body(Body::empty())
            .unwrap()
    };
    let (status, mut body) = open(&app, resume(n - 2)).await;
    assert_eq!(status, StatusCode::OK);
    let rest = events_in(&until_end(&mut body, Duration::from_secs(5)).await);
    let seqs: Vec<i64> = rest.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, [n - 1, n]);
    // Nothing left: 204, which tells an EventSource to stop reconnecting.
    let (status, _) = open(&app, resume(n)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

async fn a_removed_member_or_a_revoked_token_stops_receiving(backend: Backend) {
    let app = TestApp::start(backend)
        .await
        .with_streams(|s| s.recheck = Duration::from_secs(1));
    let admin = app.admin().await;
    let vera = app.member("demo", "vera", "viewer").await;
    let token = app
        .as_user(
            &vera,
            Method::POST,
            &format!("{DEMO}/tokens"),
            Some(json!({"name": "watcher", "role": "viewer"})),
        )
        .await;
    assert_eq!(token.status, StatusCode::CREATED, "{}", token.text());
    let token = token.json();
    let (token_id, secret) = (
        token["id"].as_str().unwrap(),
        token["secret"].as_str().unwrap(),
    );

    let tenant = format!("{DEMO}/events");
    let (_, mut by_token) = open(&app, get(&tenant, &Who::Token(secret))).await;
    let (_, mut by_session) = open(&app, get(&tenant, &Who::Session(&vera))).await;
    let (status, mut admins) = open(&app, get(&tenant, &Who::Session(&admin))).await;
    assert_eq!(status, StatusCode::OK);

    let revoked = app
        .as_user(
            &vera,
            Method::DELETE,
            &format!("{DEMO}/tokens/{token_id}"),
            None,
        )
        .await;
    assert!(revoked.status.is_success(), "{}", revoked.text());
    until_end(&mut by_token, Duration::from_secs(5)).await;
    // Her session still may: its stream outlives a re-check.
    stays_open(&mut by_session, Duration::from_millis(1500)).await;

    let removed = app
        .as_user(
            &admin,
            Method::DELETE,
            &format!("{DEMO}/members/vera"),
            None,
        )
        .await;
    assert!(removed.status.is_success(), "{}", removed.text());
    until_end(&mut by_session, Duration::from_secs(5)).await;
    assert_eq!(app.state.streams.open(&user_id(&app, "vera").await), 0);
    stays_open(&mut admins, Duration::from_millis(1500)).await;
}

async fn a_followed_log_gets_each_line_as_it_is_written(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let component = json!({
        "key": "test.talk", "name": "Talk", "category": "Testing", "params": [],
        "local": {"program": "/bin/sh", "args": ["-c", "echo one; sleep 1; echo two; sleep 1; echo three"]}
    });
    let added = app
        .as_user(
            &admin,
            Method::POST,
            "/api/v1/admin/components",
            Some(component),
        )
        .await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.text());
    let graph = json!({"nodes": [{"id": "talk", "component": "test.talk"}], "edges": []});
    let path = app.published(&admin, "talk", graph, json!({})).await;
    let run = app.start_run(&admin, &path).await;

    let log = format!("{DEMO}/runs/{run}/tasks/W_talk/log?follow=true");
    let (status, mut body) = open(&app, get(&log, &Who::Session(&admin))).await;
    assert_eq!(status, StatusCode::OK);
    let mut text = String::new();
    let mut arrived = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while let Some(frame) = tokio::time::timeout_at(deadline.into(), body.frame())
        .await
        .expect("the log ends with its task")
    {
        if let Some(data) = frame.unwrap().data_ref() {
            text.push_str(&String::from_utf8_lossy(data));
            while arrived.len() < text.matches('\n').count() {
                arrived.push(Instant::now());
            }
        }
    }
    let ended_at = Instant::now();
    assert_eq!(text, "one\ntwo\nthree\n");
    // Written a second apart, each line comes as it is written: a poll of
    // the log (the 2 s fallback) would bring them together or 2 s apart.
    let gap = arrived[2] - arrived[1];
    assert!(
        gap > Duration::from_millis(500) && gap < Duration::from_millis(1600),
        "two → three took {gap:?}"
    );
    assert!(
        ended_at - arrived[2] < Duration::from_millis(1500),
        "the log ends as its task does"
    );
    assert_eq!(app.state.bus.logs().followed(), 0, "the follower is gone");
    app.wait_for_run(&admin, &run, ended).await;
}

#[tokio::test]
async fn the_document_names_the_stream_cap() {
    let app = TestApp::start(Backend::Sqlite).await;
    let doc = app.get("/api/v1/openapi.json").await.json();
    for path in [
        "/api/v1/tenants/{tenant}/events",
        "/api/v1/tenants/{tenant}/runs/{run}/events",
        "/api/v1/tenants/{tenant}/runs/{run}/tasks/{task}/log",
    ] {
        let responses = &doc["paths"][path]["get"]["responses"];
        assert!(responses.get("429").is_some(), "{path} documents 429");
    }
    let run_events = &doc["paths"]["/api/v1/tenants/{tenant}/runs/{run}/events"]["get"];
    for status in ["204", "400"] {
        assert!(run_events["responses"].get(status).is_some(), "{status}");
    }
}
