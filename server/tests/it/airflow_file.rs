//! `GET …/versions/{n}/airflow.py`: a published EMR version as an Airflow DAG
//! file — the tenant's cluster and Airflow connection id in it, the same
//! bytes every time, a hostile parameter kept as data (a real Airflow
//! imports the file and finds the value unchanged), a node that refers to a
//! run parameter taking its arguments from the run's conf — and clear
//! refusals.

use crate::common::{ended, Backend, Session, TestApp};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::process::Command;

on_both_backends!(
    a_version_on_emr_renders_as_an_airflow_dag_file,
    versions_that_cannot_render_are_refused_with_the_reason,
    the_airflow_connection_is_named_by_trellis,
    the_report_route_takes_only_the_runs_own_token,
    publishing_for_airflow_needs_an_airflow_and_a_connection,
);

const DEMO: &str = "/api/v1/tenants/demo";
const HOSTILE: &str =
    "\"\"\"'''\n{{ var.value.get('x') }}\"); import os; os.system('touch /tmp/trellis-pwned') #";

async fn connection(app: &TestApp, admin: &Session, body: Value) -> String {
    let created = app
        .as_user(
            admin,
            Method::POST,
            &format!("{DEMO}/connections"),
            Some(body),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    created.json()["id"].as_str().unwrap().to_owned()
}

/// Creates and publishes a process; its path.
async fn published(app: &TestApp, admin: &Session, graph: Value, message: &str) -> String {
    static COUNT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let name = format!(
        "nightly {}",
        COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    app.published(admin, &name, graph, json!({ "message": message }))
        .await
}

async fn a_version_on_emr_renders_as_an_airflow_dag_file(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let conn = connection(
        &app,
        &admin,
        json!({"name": "prod", "region": "eu-west-1", "role_arn": "arn:aws:iam::123456789012:role/trellis", "cluster_id": "j-3KQ7PROD"}),
    )
    .await;
    let graph = json!({"connection": conn, "nodes": [
        {"id": "boom", "component": "fail", "params": {"message": HOSTILE}},
        {"id": "nap", "component": "sleep", "params": {"seconds": "{{ params.nap }}"}},
        {"id": "last", "component": "noop"}],
        "edges": [{"from": "boom", "to": "last"}, {"from": "nap", "to": "last"}],
        "params": [{"name": "nap", "type": "number", "default": 1}]});
    let path = published(&app, &admin, graph, "first on MWAA").await;
    let process = path.rsplit('/').next().unwrap().to_owned();
    let version = app
        .get_as(&admin, &format!("{path}/versions/1"))
        .await
        .json();

    let viewer = app.member("demo", "vera", "viewer").await;
    let file = app
        .get_as(&viewer, &format!("{path}/versions/1/airflow.py"))
        .await;
    assert_eq!(file.status, StatusCode::OK, "{}", file.text());
    assert_eq!(file.header("content-type"), "text/x-python; charset=utf-8");
    let dag_id = format!("trellis.demo.{process}.v1");
    assert_eq!(
        file.header("content-disposition"),
        format!("inline; filename=\"{dag_id}.py\"")
    );
    let text = file.text();
    assert!(text.contains("CLUSTER_ID = \"j-3KQ7PROD\""), "{text}");
    let conn_id = format!("trellis_demo_{conn}");
    assert!(
        text.contains(&format!("AWS_CONN_ID = \"{conn_id}\"")),
        "{text}"
    );
    // The reference is text in the file; a run's conf brings its value.
    assert!(
        text.contains(r#""Args": ["sleep", "{{ params.nap }}"]"#),
        "{text}"
    );
    let hash = version["content_hash"].as_str().unwrap();
    assert!(text.contains(&format!("\"trellis-hash:{hash}\"")));
    // The same version gives the same bytes.
    let again = app
        .get_as(&admin, &format!("{path}/versions/1/airflow.py"))
        .await;
    assert_eq!(again.text(), text);

    if crate::common::airflow::skipped("importing the rendered file into a real Airflow") {
        return;
    }
    // A real Airflow imports it: the DAG of the version, the hostile value
    // exactly as given, not run, not templated.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(format!("{dag_id}.py")), &text).unwrap();
    let upstream: BTreeMap<String, Vec<String>> = version["dag"]["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let mut ups: Vec<String> = serde_json::from_value(t["depends_on"].clone()).unwrap();
            ups.sort();
            (t["key"].as_str().unwrap().to_owned(), ups)
        })
        .collect();
    let step = |args: Value| json!({"Jar": "command-runner.jar", "Args": args, "ActionOnFailure": "CONTINUE"});
    let expected = json!({
        "dag_id": dag_id,
        "description": "first on MWAA",
        "tags": ["trellis", "tenant:demo", format!("process:{process}"), "version:1",
                 format!("trellis-hash:{hash}")],
        "upstream": upstream,
        "steps": {
            "boom": step(json!(["bash", "-c", "echo \"$0\" >&2; exit 1", HOSTILE])),
            "nap": step(json!(["sleep", "{{ params.nap }}"])),
            "last": step(json!(["true"])),
        },
        "cluster_id": "j-3KQ7PROD",
        "aws_conn_id": conn_id,
        "exit_trigger_rule": "all_done",
        // Sends nothing without the run's values.
        "from_run": ["nap"],
    });
    std::fs::write(
        dir.path().join(format!("{dag_id}.json")),
        serde_json::to_string(&expected).unwrap(),
    )
    .unwrap();
    let out = Command::new(crate::common::airflow::python())
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/airflow/check_dags.py"
        ))
        .arg(dir.path())
        .env("AIRFLOW_HOME", dir.path().join("home"))
        .output()
        .expect("Airflow's Python (source scripts/env.sh first)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(&format!("ok {dag_id}.json")), "{stdout}");
}

async fn versions_that_cannot_render_are_refused_with_the_reason(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let local = published(
        &app,
        &admin,
        json!({"nodes": [{"id": "a", "component": "noop"}], "edges": []}),
        "",
    )
    .await;
    let refused = app
        .get_as(&admin, &format!("{local}/versions/1/airflow.py"))
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert_eq!(refused.header("content-type"), "application/problem+json");
    let problem = refused.json();
    assert_eq!(problem["errors"][0]["field"], "connection", "{problem}");
    assert!(problem["detail"]
        .as_str()
        .unwrap()
        .contains("version 1 runs on the embedded engine"));

    let conn = connection(
        &app,
        &admin,
        json!({"name": "gone", "region": "eu-west-1", "role_arn": "arn:aws:iam::123456789012:role/trellis", "cluster_id": "j-GONE"}),
    )
    .await;
    let emr = published(
        &app,
        &admin,
        json!({"connection": conn, "nodes": [{"id": "a", "component": "noop"}], "edges": []}),
        "",
    )
    .await;
    let ok = app
        .get_as(&admin, &format!("{emr}/versions/1/airflow.py"))
        .await;
    assert_eq!(ok.status, StatusCode::OK);
    assert!(ok
        .text()
        .contains(&format!("AWS_CONN_ID = \"trellis_demo_{conn}\"")));
    let deleted = app
        .as_user(
            &admin,
            Method::DELETE,
            &format!("{DEMO}/connections/{conn}"),
            None,
        )
        .await;
    assert!(deleted.status.is_success(), "{}", deleted.text());
    let gone = app
        .get_as(&admin, &format!("{emr}/versions/1/airflow.py"))
        .await;
    assert_eq!(gone.status, StatusCode::CONFLICT);
    assert_eq!(
        gone.json()["detail"],
        "the connection of version 1 no longer exists"
    );

    for (path, status) in [
        (
            format!("{emr}/versions/2/airflow.py"),
            StatusCode::NOT_FOUND,
        ),
        (
            format!("{emr}/versions/x/airflow.py"),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ] {
        assert_eq!(app.get_as(&admin, &path).await.status, status, "{path}");
    }
}

async fn the_airflow_connection_is_named_by_trellis(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let bad = app
        .as_user(
            &admin,
            Method::POST,
            &format!("{DEMO}/connections"),
            Some(
                json!({"name": "x", "region": "eu-west-1", "role_arn": "arn:aws:iam::123456789012:role/trellis", "cluster_id": "j-X",
                        "airflow_conn_id": "aws_default"}),
            ),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.json()["errors"][0]["field"], "airflow_conn_id");
    assert_eq!(bad.json()["errors"][0]["code"], "read_only");
    let id = connection(
        &app,
        &admin,
        json!({"name": "x", "region": "eu-west-1", "role_arn": "arn:aws:iam::123456789012:role/trellis", "cluster_id": "j-X"}),
    )
    .await;
    let path = format!("{DEMO}/connections/{id}");
    let named = format!("trellis_demo_{id}");
    assert_eq!(
        app.get_as(&admin, &path).await.json()["airflow_conn_id"],
        named.as_str()
    );
    // Another tenant's connection is named for that tenant: no tenant can
    // point its DAG files at another's.
    let listed = app
        .get_as(&admin, &format!("{DEMO}/connections"))
        .await
        .json();
    assert!(listed
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["airflow_conn_id"]
            .as_str()
            .unwrap()
            .starts_with("trellis_demo_")));
    let changed = app
        .as_user(
            &admin,
            Method::PUT,
            &path,
            Some(
                json!({"name": "x", "region": "eu-west-1", "role_arn": "arn:aws:iam::123456789012:role/trellis", "cluster_id": "j-X",
                        "airflow_conn_id": "emr.prod-1"}),
            ),
        )
        .await;
    assert_eq!(
        changed.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        changed.text()
    );
    assert_eq!(
        app.get_as(&admin, &path).await.json()["airflow_conn_id"],
        named.as_str()
    );
}

async fn the_report_route_takes_only_the_runs_own_token(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let path = published(
        &app,
        &admin,
        json!({"nodes": [{"id": "a", "component": "sleep", "params": {"seconds": 30}}], "edges": []}),
        "",
    )
    .await;
    let mut runs = Vec::new();
    for _ in 0..2 {
        runs.push(app.start_run(&admin, &path).await);
    }
    let run = &runs[0];
    // Reports are taken while the run is active (and its `PEntry` has
    // ended, which the late report below must not reopen).
    app.wait_for_run(&admin, run, |r| {
        r["state"] == "running" && crate::common::task(r, "PEntry")["state"] == "succeeded"
    })
    .await;
    let (tenant, _) = server::db::tenants::by_slug(&app.db, "demo")
        .await
        .unwrap()
        .unwrap();
    let in_an_hour = chrono::Utc::now().timestamp() + 3600;
    let token_at = |run: &str, expires: i64| {
        server::engine::airflow::callback_token(
            app.state.engine.sealer(),
            &tenant,
            &app::types::RunId::from(run),
            expires,
        )
    };
    let token_of = |run: &str| token_at(run, in_an_hour);
    let report = |token: Option<String>, body: Value| {
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(format!("/api/v1/airflow/runs/{run}/report"))
            .header("content-type", "application/json");
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        app.send(request.body(Body::from(body.to_string())).unwrap())
    };
    let running = json!({"kind": "task", "task": "PEntry", "state": "running", "attempt": 1});
    let expired = token_at(run, chrono::Utc::now().timestamp() - 1);
    let stretched =
        token_of(run).replacen(&in_an_hour.to_string(), &(in_an_hour + 9999).to_string(), 1);
    for token in [
        None,
        Some("made-up".to_owned()),
        Some(token_of(&runs[1])),
        Some(expired),
        Some(stretched),
    ] {
        let refused = report(token, running.clone()).await;
        assert_eq!(
            refused.status,
            StatusCode::UNAUTHORIZED,
            "{}",
            refused.text()
        );
        assert_eq!(refused.header("content-type"), "application/problem+json");
    }
    let mine = token_of(run);
    for (body, field) in [
        (json!({"kind": "bogus"}), "kind"),
        (
            json!({"kind": "task", "task": "nope", "state": "running"}),
            "task",
        ),
        (
            json!({"kind": "task", "task": "PEntry", "state": "exploded"}),
            "state",
        ),
        (json!({"kind": "run", "event": "later"}), "event"),
    ] {
        let bad = report(Some(mine.clone()), body).await;
        assert_eq!(
            bad.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            bad.text()
        );
        assert_eq!(bad.json()["errors"][0]["field"], field);
    }
    // Accepted; a late report never reopens a task that ended.
    let late = report(Some(mine.clone()), running.clone()).await;
    assert_eq!(late.status, StatusCode::NO_CONTENT, "{}", late.text());
    let run_now = app
        .get_as(&admin, &format!("{DEMO}/runs/{run}"))
        .await
        .json();
    let entry = run_now["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["key"] == "PEntry")
        .unwrap();
    assert_eq!(entry["state"], "succeeded");
    let started = report(
        Some(mine.clone()),
        json!({"kind": "run", "event": "started"}),
    )
    .await;
    assert_eq!(started.status, StatusCode::NO_CONTENT);
    // Once the run has ended, its reports are refused.
    let stop = app
        .as_user(
            &admin,
            Method::POST,
            &format!("{DEMO}/runs/{run}/stop?mode=force"),
            None,
        )
        .await;
    assert_eq!(stop.status, StatusCode::ACCEPTED, "{}", stop.text());
    app.wait_for_run(&admin, run, ended).await;
    let after = report(Some(mine), running.clone()).await;
    assert_eq!(after.status, StatusCode::CONFLICT, "{}", after.text());
    for other in &runs[1..] {
        app.as_user(
            &admin,
            Method::POST,
            &format!("{DEMO}/runs/{other}/stop?mode=force"),
            None,
        )
        .await;
    }
}

async fn publishing_for_airflow_needs_an_airflow_and_a_connection(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let p = app
        .as_user(
            &admin,
            Method::POST,
            &format!("{DEMO}/processes"),
            Some(
                json!({"name": "wants airflow", "graph": {"orchestrator": "airflow",
                "params": [{"name": "wait", "type": "integer", "default": 1}],
                "nodes": [{"id": "a", "component": "noop"},
                          {"id": "b", "component": "sleep", "params": {"seconds": "{{ params.wait }}"}}],
                "edges": []}}),
            ),
        )
        .await;
    assert_eq!(p.status, StatusCode::CREATED, "{}", p.text());
    let path = format!("{DEMO}/processes/{}", p.json()["id"].as_str().unwrap());
    let refused = app
        .as_user(
            &admin,
            Method::POST,
            &format!("{path}/versions"),
            Some(json!({})),
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    let errors = refused.json()["errors"].clone();
    let fields: Vec<&str> = errors
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert!(fields.contains(&"orchestrator"), "{errors}");
    assert!(fields.contains(&"connection"), "{errors}");
    // A value that refers to a run parameter runs on Airflow too (through
    // the run's conf): it is no reason to refuse.
    assert_eq!(fields.len(), 2, "{errors}");
    assert!(app
        .get_as(&admin, &format!("{path}/versions"))
        .await
        .json()
        .as_array()
        .unwrap()
        .is_empty());
}
