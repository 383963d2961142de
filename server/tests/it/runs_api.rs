//! Runs through the HTTP API: start, read, list, stop, and the live event
//! stream with `Last-Event-ID` resumption.

use crate::common::{ended, Backend, Session, TestApp};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tower::ServiceExt;

on_both_backends!(
    a_run_starts_and_succeeds,
    runs_are_listed_newest_first_with_filters,
    a_stop_answers_202_and_ends_cancelled,
    bad_run_requests_are_refused,
    the_event_stream_resumes_without_gaps_or_repeats,
    task_logs_can_be_read_and_followed,
    the_tenant_stream_carries_run_changes,
);

const PROCESSES: &str = "/api/v1/tenants/demo/processes";

/// Publishes `graph` as the process `p`; its path.
async fn published(app: &TestApp, s: &Session, graph: Value) -> String {
    app.published(s, "p", graph, json!({})).await
}

fn chain() -> Value {
    json!({"nodes": [{"id": "a", "component": "noop"}, {"id": "b", "component": "sleep", "params": {"seconds": 0.3}}],
           "edges": [{"from": "a", "to": "b"}], "params": [{"name": "day", "type": "string"}]})
}

async fn a_run_starts_and_succeeds(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let path = published(&app, &admin, chain()).await;
    let reply = app
        .as_user(
            &admin,
            Method::POST,
            &format!("{path}/runs"),
            Some(json!({"params": {"day": "mon"}})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    let run = reply.json();
    assert_eq!(run["version"], 1);
    assert_eq!(run["trigger"], "manual");
    assert_eq!(run["created_by"], "admin");
    assert_eq!(run["params"], json!({"day": "mon"}));
    assert_eq!(run["tasks"].as_array().unwrap().len(), 6);

    let done = app
        .wait_for_run(&admin, run["id"].as_str().unwrap(), ended)
        .await;
    assert_eq!(done["state"], "succeeded", "{done}");
    assert!(done["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t["state"] == "succeeded"));
    // The sleep (0.3 s) runs from its submit to the end of its watch; the
    // watch itself starts once the process is under way.
    let at = |key: &str, field: &str| {
        let task = crate::common::task(&done, key);
        chrono::DateTime::parse_from_rfc3339(task[field].as_str().unwrap()).unwrap()
    };
    let slept = at("W_b", "finished_at") - at("C_b", "started_at");
    assert!(slept.num_milliseconds() >= 300, "{slept:?}: {done}");
    let process = app.get_as(&admin, &path).await.json();
    assert_eq!(process["last_run_state"], "succeeded");
    let versions = app.get_as(&admin, &format!("{path}/versions")).await.json();
    assert_eq!(versions[0]["runs"], 1, "{versions}");
}

async fn runs_are_listed_newest_first_with_filters(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let path = published(
        &app,
        &admin,
        json!({"nodes": [{"id": "a", "component": "noop"}], "edges": []}),
    )
    .await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        let run = app
            .as_user(
                &admin,
                Method::POST,
                &format!("{path}/runs"),
                Some(json!({})),
            )
            .await
            .json();
        ids.push(run["id"].as_str().unwrap().to_owned());
    }
    for id in &ids {
        app.wait_for_run(&admin, id, ended).await;
    }
    let list = app.get_as(&admin, &format!("{path}/runs")).await.json();
    let listed: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    let newest_first: Vec<&str> = ids.iter().rev().map(String::as_str).collect();
    assert_eq!(listed, newest_first);
    let page = app
        .get_as(&admin, &format!("{path}/runs?limit=1&offset=1"))
        .await
        .json();
    assert_eq!(page[0]["id"], ids[1].as_str());
    assert_eq!(
        app.get_as(&admin, &format!("{path}/runs?version=2"))
            .await
            .json(),
        json!([])
    );
    assert_eq!(
        app.get_as(&admin, &format!("{path}/runs?state=failed"))
            .await
            .json(),
        json!([])
    );
    assert_eq!(
        app.get_as(&admin, &format!("{path}/runs?state=succeeded"))
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        3
    );
    assert_eq!(
        app.get_as(&admin, &format!("{path}/runs?limit=0"))
            .await
            .status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        app.get_as(&admin, &format!("{path}/runs?state=done"))
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
}

async fn a_stop_answers_202_and_ends_cancelled(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let path = published(&app, &admin, json!({"nodes": [{"id": "long", "component": "sleep", "params": {"seconds": 60}}], "edges": []})).await;
    let run = app
        .as_user(
            &admin,
            Method::POST,
            &format!("{path}/runs"),
            Some(json!({})),
        )
        .await
        .json();
    let id = run["id"].as_str().unwrap().to_owned();
    app.wait_for_run(&admin, &id, |r| r["tasks"][2]["state"] == "running")
        .await;

    let stop = app
        .as_user(
            &admin,
            Method::POST,
            &format!("/api/v1/tenants/demo/runs/{id}/stop"),
            None,
        )
        .await;
    assert_eq!(stop.status, StatusCode::ACCEPTED, "{}", stop.text());
    assert!(["cancelling", "cancelled"].contains(&stop.json()["state"].as_str().unwrap()));
    let done = app.wait_for_run(&admin, &id, ended).await;
    assert_eq!(done["state"], "cancelled");
    assert_eq!(done["tasks"][2]["state"], "cancelled");
    assert_eq!(done["tasks"][3]["key"], "PExit");
    assert_eq!(done["tasks"][3]["state"], "succeeded");

    let again = app
        .as_user(
            &admin,
            Method::POST,
            &format!("/api/v1/tenants/demo/runs/{id}/stop?mode=force"),
            None,
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(again.header("content-type"), "application/problem+json");
}

async fn bad_run_requests_are_refused(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let draft = app
        .as_user(
            &admin,
            Method::POST,
            PROCESSES,
            Some(json!({"name": "draft only"})),
        )
        .await
        .json();
    let unpublished = format!("{PROCESSES}/{}/runs", draft["id"].as_str().unwrap());
    assert_eq!(
        app.as_user(&admin, Method::POST, &unpublished, Some(json!({})))
            .await
            .status,
        StatusCode::CONFLICT
    );

    let path = published(&app, &admin, chain()).await;
    let missing = app
        .as_user(
            &admin,
            Method::POST,
            &format!("{path}/runs"),
            Some(json!({"version": 7})),
        )
        .await;
    assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(missing.json()["errors"][0]["field"], "version");

    let viewer = app.member("demo", "vera", "viewer").await;
    assert_eq!(
        app.as_user(
            &viewer,
            Method::POST,
            &format!("{path}/runs"),
            Some(json!({}))
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );

    let run = app
        .as_user(
            &admin,
            Method::POST,
            &format!("{path}/runs"),
            Some(json!({})),
        )
        .await
        .json();
    let id = run["id"].as_str().unwrap();
    let stranger = app.member("acme", "sam", "tenant_admin").await;
    for p in [
        format!("/api/v1/tenants/demo/runs/{id}"),
        format!("/api/v1/tenants/acme/runs/{id}"),
        format!("{path}/runs"),
    ] {
        assert_eq!(
            app.get_as(&stranger, &p).await.status,
            StatusCode::NOT_FOUND,
            "{p}"
        );
    }
    let crafted = format!("/api/v1/tenants/acme/runs/{id}/stop");
    assert_eq!(
        app.as_user(&stranger, Method::POST, &crafted, None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let bad_mode = format!("/api/v1/tenants/demo/runs/{id}/stop?mode=now");
    assert_eq!(
        app.as_user(&admin, Method::POST, &bad_mode, None)
            .await
            .status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    app.wait_for_run(&admin, id, ended).await;
}

/// Opens the run's event stream (after `last`, as `Last-Event-ID`) and
/// reads events until `stop` says enough.
pub(crate) async fn read_events(
    app: &TestApp,
    s: &Session,
    run: &str,
    last: Option<i64>,
    stop: impl Fn(&Value) -> bool,
) -> Vec<Value> {
    let mut request =
        Request::get(format!("/api/v1/tenants/demo/runs/{run}/events")).header("cookie", &s.cookie);
    if let Some(last) = last {
        request = request.header("last-event-id", last.to_string());
    }
    let response = app
        .router
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let mut body = response.into_body();
    let mut buffer = String::new();
    let mut events = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let id = block
                .lines()
                .find_map(|l| l.strip_prefix("id: "))
                .map(|s| s.parse::<i64>().unwrap());
            if let Some(data) = block.lines().find_map(|l| l.strip_prefix("data: ")) {
                let event: Value = serde_json::from_str(data).unwrap();
                assert_eq!(
                    Some(event["seq"].as_i64().unwrap()),
                    id,
                    "the SSE id is the event number"
                );
                let done = stop(&event);
                events.push(event);
                if done {
                    return events; // dropping the body disconnects
                }
            }
        }
        let frame = tokio::time::timeout_at(deadline.into(), body.frame())
            .await
            .expect("events keep coming");
        let frame = frame.expect("the stream stays open").unwrap();
        if let Some(data) = frame.data_ref() {
            buffer.push_str(&String::from_utf8_lossy(data));
        }
    }
}

async fn the_event_stream_resumes_without_gaps_or_repeats(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let graph = json!({"nodes": [{"id": "a", "component": "sleep", "params": {"seconds": 0.3}},
                                 {"id": "b", "component": "sleep", "params": {"seconds": 0.3}}],
                       "edges": [{"from": "a", "to": "b"}]});
    let path = published(&app, &admin, graph).await;
    let run = app
        .as_user(
            &admin,
            Method::POST,
            &format!("{path}/runs"),
            Some(json!({})),
        )
        .await
        .json();
    let id = run["id"].as_str().unwrap().to_owned();

    let first = read_events(&app, &admin, &id, None, |e| {
        e["task"] == "W_a" && e["state"] == "running"
    })
    .await;
    let last = first.last().unwrap()["seq"].as_i64().unwrap();
    let terminal = |e: &Value| {
        e["task"].is_null()
            && ["succeeded", "failed", "cancelled"].contains(&e["state"].as_str().unwrap())
    };
    let rest = read_events(&app, &admin, &id, Some(last), terminal).await;

    let joined: Vec<Value> = first.into_iter().chain(rest).collect();
    let seqs: Vec<i64> = joined.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert_eq!(
        seqs,
        (1..=seqs.len() as i64).collect::<Vec<_>>(),
        "no gap, no repeat"
    );
    let stored = app.state.db.pool.clone();
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM events WHERE run_id = $1")
        .bind(&id)
        .fetch_one(&stored)
        .await
        .unwrap();
    assert_eq!(
        count as usize,
        joined.len(),
        "the streams together are the run's whole event log"
    );
    assert_eq!(joined.last().unwrap()["state"], "succeeded");
}

async fn body_text(app: &TestApp, s: &Session, path: &str) -> (StatusCode, String) {
    let request = Request::get(path)
        .header("cookie", &s.cookie)
        .body(Body::empty())
        .unwrap();
    let response = app.router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = tokio::time::timeout(Duration::from_secs(30), response.into_body().collect())
        .await
        .unwrap()
        .unwrap();
    (
        status,
        String::from_utf8_lossy(&bytes.to_bytes()).into_owned(),
    )
}

async fn task_logs_can_be_read_and_followed(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let path = published(&app, &admin, json!({"nodes": [{"id": "nap", "component": "sleep", "params": {"seconds": 0.5}}], "edges": []})).await;
    let run = app
        .as_user(
            &admin,
            Method::POST,
            &format!("{path}/runs"),
            Some(json!({})),
        )
        .await
        .json();
    let id = run["id"].as_str().unwrap().to_owned();
    app.wait_for_run(&admin, &id, |r| r["tasks"][2]["state"] == "running")
        .await;

    // Following while it runs returns everything, and ends when the task ends.
    let (status, followed) = body_text(
        &app,
        &admin,
        &format!("/api/v1/tenants/demo/runs/{id}/tasks/W_nap/log?follow=true"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(followed, "sleep: waiting 0.5 s\nsleep: done\n");
    let (_, plain) = body_text(
        &app,
        &admin,
        &format!("/api/v1/tenants/demo/runs/{id}/tasks/C_nap/log"),
    )
    .await;
    assert_eq!(plain, followed, "submit and watch share the node's log");

    let (status, _) = body_text(
        &app,
        &admin,
        &format!("/api/v1/tenants/demo/runs/{id}/tasks/PEntry/log"),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = body_text(
        &app,
        &admin,
        &format!("/api/v1/tenants/demo/runs/{id}/tasks/C_ghost/log"),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let stranger = app.member("acme", "sam", "tenant_admin").await;
    let (status, _) = body_text(
        &app,
        &stranger,
        &format!("/api/v1/tenants/acme/runs/{id}/tasks/C_nap/log"),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.wait_for_run(&admin, &id, ended).await;
}

async fn the_tenant_stream_carries_run_changes(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let path = published(
        &app,
        &admin,
        json!({"nodes": [{"id": "a", "component": "noop"}], "edges": []}),
    )
    .await;
    let request = Request::get("/api/v1/tenants/demo/events")
        .header("cookie", &admin.cookie)
        .body(Body::empty())
        .unwrap();
    let response = app.router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.into_body();

    let run = app
        .as_user(
            &admin,
            Method::POST,
            &format!("{path}/runs"),
            Some(json!({})),
        )
        .await
        .json();
    let id = run["id"].as_str().unwrap();
    let mut states = Vec::new();
    let mut buffer = String::new();
    while !states.contains(&"succeeded".to_owned()) {
        let frame = tokio::time::timeout(Duration::from_secs(30), body.frame())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        if let Some(data) = frame.data_ref() {
            buffer.push_str(&String::from_utf8_lossy(data));
        }
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            if let Some(data) = block.lines().find_map(|l| l.strip_prefix("data: ")) {
                let event: Value = serde_json::from_str(data).unwrap();
                assert_eq!(event["run"], id);
                assert!(event["task"].is_null(), "only run-level changes: {event}");
                states.push(event["state"].as_str().unwrap().to_owned());
            }
        }
    }
    assert_eq!(states, ["queued", "running", "succeeded"]);
}
