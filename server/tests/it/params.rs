//! Process parameters end to end through the API: declared in the graph,
//! referenced from node values, checked at publish and at run start, resolved
//! once and stored with the run, reaching the work as plain arguments — and
//! versions that keep behaving as published when the catalog changes.

use crate::common::{ended, task, Backend, Session, TestApp};
use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

on_both_backends!(
    run_values_reach_the_work_as_single_arguments,
    run_values_are_checked_against_the_declarations,
    publish_refuses_unknown_and_ill_typed_references,
    a_version_keeps_the_component_it_was_published_with
);

/// A component that prints how many arguments it got and the first two,
/// then fails, so the task's error shows exactly what reached the process.
fn echo(args: &[&str]) -> Value {
    json!({
        "key": "test.echo", "name": "Echo", "category": "Testing",
        "params": [{"name": "a", "type": "string"}, {"name": "n", "type": "integer", "min": 1}],
        "local": {"program": "/bin/sh", "args": args},
    })
}

const EXIT: &str = "(exited with code 1)";

const PRINT: [&str; 5] = ["-c", "echo \"$#|$1|$2\" >&2; exit 1", "sh", "{a}", "{n}"];

async fn add_echo(app: &TestApp, admin: &Session) {
    let reply = app
        .as_user(
            admin,
            Method::POST,
            "/api/v1/admin/components",
            Some(echo(&PRINT)),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
}

fn graph() -> Value {
    json!({
        "params": [
            {"name": "country", "type": "string", "required": true},
            {"name": "limit", "type": "integer", "default": 7},
        ],
        "nodes": [{"id": "say", "component": "test.echo",
                   "params": {"a": "{{ params.country }} on {{ run.logical_date }} v{{ version }}",
                              "n": "{{ params.limit }}"}}],
        "edges": [],
    })
}

async fn run(app: &TestApp, s: &Session, path: &str, body: Value) -> crate::common::Reply {
    app.as_user(s, Method::POST, &format!("{path}/runs"), Some(body))
        .await
}

async fn run_values_reach_the_work_as_single_arguments(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    add_echo(&app, &admin).await;
    let path = app.published(&admin, "Echo", graph(), json!({})).await;

    let hostile = "'; rm -rf / # {{ params.limit }} {% raw %} $(id) `id`";
    let reply = run(&app, &admin, &path, json!({"params": {"country": hostile}})).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    let started = reply.json();
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let expected_a = format!("{hostile} on {today} v1");
    // What exactly runs is stored with the run, defaults filled in.
    assert_eq!(
        started["resolved"]["params"],
        json!({"country": hostile, "limit": 7})
    );
    assert_eq!(
        started["resolved"]["nodes"]["say"],
        json!({"a": expected_a, "n": 7})
    );
    assert_eq!(started["resolved"]["logical_date"], today);

    let done = app
        .wait_for_run(&admin, started["id"].as_str().unwrap(), ended)
        .await;
    assert_eq!(done["state"], "failed", "{done}");
    // Two arguments, each exactly the resolved value: nothing was run or
    // expanded again, not even the `{{ … }}` inside the value.
    assert_eq!(
        task(&done, "W_say")["error"],
        json!(format!("2|{expected_a}|7\n{EXIT}"))
    );

    let reply = run(
        &app,
        &admin,
        &path,
        json!({"params": {"country": "DE", "limit": 3}}),
    )
    .await;
    let done = app
        .wait_for_run(&admin, reply.json()["id"].as_str().unwrap(), ended)
        .await;
    assert_eq!(
        task(&done, "W_say")["error"],
        json!(format!("2|DE on {today} v1|3\n{EXIT}"))
    );
}

async fn run_values_are_checked_against_the_declarations(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    add_echo(&app, &admin).await;
    let path = app.published(&admin, "Echo", graph(), json!({})).await;
    let fields = |reply: &crate::common::Reply| -> Vec<(String, String)> {
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
            .map(|e| {
                (
                    e["field"].as_str().unwrap().to_owned(),
                    e["code"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let runs_before = app.get_as(&admin, &format!("{path}/runs")).await.json();

    let missing = run(&app, &admin, &path, json!({})).await;
    assert_eq!(
        fields(&missing),
        [("params.country".into(), "required".into())]
    );
    let wrong = run(
        &app,
        &admin,
        &path,
        json!({"params": {"country": 5, "limit": "ten", "extra": 1}}),
    )
    .await;
    assert_eq!(
        fields(&wrong),
        [
            ("params.extra".to_owned(), "unknown_param".to_owned()),
            ("params.country".into(), "type".into()),
            ("params.limit".into(), "type".into()),
        ]
    );
    // A value of the right type that breaks the node's own rule (`n` ≥ 1).
    let below = run(
        &app,
        &admin,
        &path,
        json!({"params": {"country": "DE", "limit": 0}}),
    )
    .await;
    assert_eq!(fields(&below), [("params.limit".into(), "min".into())]);
    assert_eq!(below.json()["errors"][0]["node"], "say");
    let huge = run(
        &app,
        &admin,
        &path,
        json!({"params": {"country": "x".repeat(1 << 20)}}),
    )
    .await;
    assert_eq!(
        huge.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "a megabyte is refused, never run"
    );
    let runs_after = app.get_as(&admin, &format!("{path}/runs")).await.json();
    assert_eq!(runs_before, runs_after, "refused starts store nothing");
}

async fn publish_refuses_unknown_and_ill_typed_references(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    add_echo(&app, &admin).await;
    let mut g = graph();
    g["params"][0]["name"] = json!("Country");
    g["nodes"][0]["params"]["n"] = json!("{{ params.country }}");
    let created = app
        .as_user(
            &admin,
            Method::POST,
            "/api/v1/tenants/demo/processes",
            Some(json!({"name": "Bad", "graph": g})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "drafts may be wrong");
    let path = format!(
        "/api/v1/tenants/demo/processes/{}",
        created.json()["id"].as_str().unwrap()
    );
    let published = app
        .as_user(
            &admin,
            Method::POST,
            &format!("{path}/versions"),
            Some(json!({})),
        )
        .await;
    assert_eq!(
        published.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        published.text()
    );
    let errors: Vec<(Value, String, String)> = published.json()["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["node"].clone(),
                e["field"].as_str().unwrap().to_owned(),
                e["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        errors,
        [
            (
                json!("say"),
                "params.a".to_owned(),
                "unknown_reference".to_owned()
            ),
            (json!("say"), "params.n".into(), "unknown_reference".into()),
            (Value::Null, "params[0].name".into(), "invalid_name".into()),
        ]
    );
}

async fn a_version_keeps_the_component_it_was_published_with(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    add_echo(&app, &admin).await;
    let path = app.published(&admin, "Echo", graph(), json!({})).await;
    let changed = app
        .as_user(
            &admin,
            Method::PUT,
            "/api/v1/admin/components/test.echo",
            Some(echo(&[
                "-c",
                "echo changed >&2; exit 1",
                "sh",
                "{a}",
                "{n}",
            ])),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.text());

    let reply = run(&app, &admin, &path, json!({"params": {"country": "FR"}})).await;
    let done = app
        .wait_for_run(&admin, reply.json()["id"].as_str().unwrap(), ended)
        .await;
    let error = task(&done, "W_say")["error"].as_str().unwrap().to_owned();
    assert!(
        error.starts_with("2|FR on "),
        "version 1 runs as published: {error}"
    );

    // Publishing again picks the new definition up, on purpose: a new
    // version although the graph is the same.
    let v2 = app
        .as_user(
            &admin,
            Method::POST,
            &format!("{path}/versions"),
            Some(json!({})),
        )
        .await;
    assert_eq!(v2.status, StatusCode::CREATED, "{}", v2.text());
    assert_ne!(
        v2.json()["content_hash"],
        app.get_as(&admin, &format!("{path}/versions")).await.json()[1]["content_hash"]
    );
    let diff = app
        .get_as(&admin, &format!("{path}/versions/1/diff/2"))
        .await
        .json();
    assert_eq!(diff["components_changed"][0]["key"], "test.echo", "{diff}");
    assert_eq!(
        diff["components_changed"][0]["new"]["local"]["args"][1],
        "echo changed >&2; exit 1"
    );
    assert_eq!(
        diff["nodes_changed"],
        json!([]),
        "the graph itself is the same"
    );
    let reply = run(&app, &admin, &path, json!({"params": {"country": "FR"}})).await;
    let done = app
        .wait_for_run(&admin, reply.json()["id"].as_str().unwrap(), ended)
        .await;
    assert_eq!(task(&done, "W_say")["error"], format!("changed\n{EXIT}"));
}
