//! The tenant's runs across its processes (`GET …/runs`): filters, pages
//! that do not move when runs are added, runs per day, and refusals that
//! name the field.

use crate::common::{ended, Backend, Session, TestApp};
use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

on_both_backends!(
    the_tenants_runs_are_one_list_across_processes,
    bad_filters_are_refused_by_name,
);

const RUNS: &str = "/api/v1/tenants/demo/runs";

/// The ids of a page's runs, in its order.
fn ids(page: &Value) -> Vec<String> {
    page["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn page(app: &TestApp, s: &Session, query: &str) -> Value {
    let reply = app.get_as(s, &format!("{RUNS}?{query}")).await;
    assert_eq!(reply.status, StatusCode::OK, "{query}: {}", reply.text());
    reply.json()
}

async fn listed(app: &TestApp, s: &Session, query: &str) -> Vec<String> {
    ids(&page(app, s, query).await)
}

fn encoded(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

async fn the_tenants_runs_are_one_list_across_processes(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let noop = json!({"nodes": [{"id": "a", "component": "noop"}], "edges": []});
    let long = json!({"nodes": [{"id": "nap", "component": "sleep", "params": {"seconds": 30}}], "edges": []});
    let orders = app.published(&admin, "Orders daily", noop, json!({})).await;
    let billing = app.published(&admin, "Billing", long, json!({})).await;
    let billing_id = billing.rsplit('/').next().unwrap().to_owned();

    // r1: Orders by a person; r2: Billing, stopped; r3: Orders by a token.
    let r1 = app.start_run(&admin, &orders).await;
    app.wait_for_run(&admin, &r1, ended).await;
    let r2 = app.start_run(&admin, &billing).await;
    let stop = app
        .as_user(
            &admin,
            Method::POST,
            &format!("{RUNS}/{r2}/stop?mode=force"),
            None,
        )
        .await;
    assert_eq!(stop.status, StatusCode::ACCEPTED, "{}", stop.text());
    app.wait_for_run(&admin, &r2, ended).await;
    let token = app
        .as_user(
            &admin,
            Method::POST,
            "/api/v1/tenants/demo/tokens",
            Some(json!({"name": "nightly", "role": "editor"})),
        )
        .await
        .json()["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let by_token = app
        .as_token(
            &token,
            Method::POST,
            &format!("{orders}/runs"),
            Some(json!({})),
        )
        .await;
    assert_eq!(by_token.status, StatusCode::CREATED, "{}", by_token.text());
    let r3 = by_token.json()["id"].as_str().unwrap().to_owned();
    app.wait_for_run(&admin, &r3, ended).await;
    // r4: r1 run again.
    let again = app
        .as_user(
            &admin,
            Method::POST,
            &format!("{RUNS}/{r1}/rerun"),
            Some(json!({})),
        )
        .await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.text());
    let r4 = again.json()["id"].as_str().unwrap().to_owned();
    app.wait_for_run(&admin, &r4, ended).await;

    // Newest first, across processes, each with its process's name.
    let all = page(&app, &admin, "").await;
    assert_eq!(ids(&all), [r4.clone(), r3.clone(), r2.clone(), r1.clone()]);
    assert_eq!(all["next"], Value::Null);
    let names: Vec<&str> = all["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["process_name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["Orders daily", "Orders daily", "Billing", "Orders daily"]
    );
    assert_eq!(all["runs"][0]["rerun_of"], r1.as_str());
    // Each run is numbered within its process.
    let numbers: Vec<i64> = all["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["number"].as_i64().unwrap())
        .collect();
    assert_eq!(numbers, [3, 2, 1, 1]);
    let one = app.get_as(&admin, &format!("{RUNS}/{r3}")).await.json();
    assert_eq!(
        (one["process_name"].as_str(), one["number"].as_i64()),
        (Some("Orders daily"), Some(2))
    );

    // Each filter, and filters together.
    let process = format!("process={billing_id}");
    assert_eq!(listed(&app, &admin, &process).await, vec![r2.clone()]);
    assert_eq!(
        listed(&app, &admin, "state=cancelled").await,
        vec![r2.clone()]
    );
    assert_eq!(
        listed(&app, &admin, "state=succeeded,cancelled").await,
        [r4.clone(), r3.clone(), r2.clone(), r1.clone()]
    );
    assert_eq!(
        listed(&app, &admin, "state=failed").await,
        Vec::<String>::new()
    );
    assert_eq!(listed(&app, &admin, "trigger=api").await, vec![r3.clone()]);
    assert_eq!(
        listed(&app, &admin, "trigger=manual").await,
        [r2.clone(), r1.clone()]
    );
    assert_eq!(
        listed(&app, &admin, "trigger=retry").await,
        vec![r4.clone()]
    );
    assert_eq!(
        listed(&app, &admin, "trigger=api,retry").await,
        [r4.clone(), r3.clone()]
    );
    assert_eq!(
        listed(&app, &admin, "trigger=manual&state=succeeded").await,
        vec![r1.clone()]
    );
    assert_eq!(
        listed(&app, &admin, "q=ORDERS").await,
        [r4.clone(), r3.clone(), r1.clone()]
    );
    assert_eq!(listed(&app, &admin, "q=%25").await, Vec::<String>::new());
    assert_eq!(
        listed(&app, &admin, "started_by=nobody").await,
        Vec::<String>::new()
    );
    assert!(listed(&app, &admin, "started_by=admin").await.contains(&r1));
    assert_eq!(
        listed(&app, &admin, "version=2").await,
        Vec::<String>::new()
    );
    let r2_created = all["runs"][2]["created_at"].as_str().unwrap().to_owned();
    let from = format!("from={}", encoded(&r2_created));
    assert_eq!(
        listed(&app, &admin, &from).await,
        [r4.clone(), r3.clone(), r2.clone()]
    );
    let to = format!("to={}", encoded(&r2_created));
    assert_eq!(listed(&app, &admin, &to).await, vec![r1.clone()]);

    // Pages: a run added between two pages does not move the second.
    let first = page(&app, &admin, "limit=2").await;
    assert_eq!(ids(&first), [r4.clone(), r3.clone()]);
    let next = first["next"].as_str().unwrap().to_owned();
    let r5 = app.start_run(&admin, &orders).await;
    let second = page(&app, &admin, &format!("limit=2&before={}", encoded(&next))).await;
    assert_eq!(ids(&second), [r2.clone(), r1.clone()]);
    assert_eq!(second["next"], Value::Null);
    assert_eq!(ids(&page(&app, &admin, "limit=1").await), vec![r5.clone()]);
    app.wait_for_run(&admin, &r5, ended).await;

    // Runs per day, by how they ended (all of them today).
    let days = app.get_as(&admin, &format!("{RUNS}/daily")).await;
    assert_eq!(days.status, StatusCode::OK, "{}", days.text());
    let today = &r2_created[..10];
    assert_eq!(
        days.json(),
        json!([{"day": today, "succeeded": 4, "failed": 0, "cancelled": 1, "active": 0}])
    );
    let filtered = app
        .get_as(&admin, &format!("{RUNS}/daily?{process}"))
        .await
        .json();
    assert_eq!(
        filtered,
        json!([{"day": today, "succeeded": 0, "failed": 0, "cancelled": 1, "active": 0}])
    );

    // Another tenant's list holds none of these.
    let olga = app.member("acme", "olga", "viewer").await;
    let theirs = app.get_as(&olga, "/api/v1/tenants/acme/runs").await;
    assert_eq!(theirs.status, StatusCode::OK);
    assert_eq!(ids(&theirs.json()), Vec::<String>::new());
    let ours = app.get_as(&olga, RUNS).await;
    assert!(
        [StatusCode::FORBIDDEN, StatusCode::NOT_FOUND].contains(&ours.status),
        "{}",
        ours.status
    );
}

async fn bad_filters_are_refused_by_name(backend: Backend) {
    let app = TestApp::start(backend).await;
    let viewer = app.member("demo", "vera", "viewer").await;
    for (query, field, code) in [
        ("state=running,finished", "state", "enum"),
        ("trigger=cron", "trigger", "enum"),
        ("from=yesterday", "from", "format"),
        (
            "from=2026-11-30T00:00:00Z&to=2026-11-29T00:00:00Z",
            "to",
            "order",
        ),
        ("before=not-a-page", "before", "format"),
        ("limit=0", "limit", "range"),
        ("limit=201", "limit", "range"),
        ("version=0", "version", "range"),
    ] {
        for path in [RUNS.to_owned(), format!("{RUNS}/daily")] {
            let reply = app.get_as(&viewer, &format!("{path}?{query}")).await;
            assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{query}");
            assert_eq!(
                reply.header("content-type"),
                "application/problem+json",
                "{query}"
            );
            let errors = &reply.json()["errors"];
            assert_eq!(errors[0]["field"], field, "{query}: {errors}");
            assert_eq!(errors[0]["code"], code, "{query}: {errors}");
        }
    }
    // Every problem at once.
    let reply = app
        .get_as(&viewer, &format!("{RUNS}?state=x&trigger=y&limit=0"))
        .await;
    let fields: Vec<String> = reply.json()["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(fields, ["limit", "state", "trigger"]);
    // A viewer reads the list.
    assert_eq!(app.get_as(&viewer, RUNS).await.status, StatusCode::OK);
}
