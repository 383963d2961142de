//! Retrying a run from its failed part, and running it again: what succeeded
//! is kept and never runs twice, attempts and the event stream go on, and a
//! run again is a new run of the same version with the same parameters.

use crate::common::{ended, task, Backend, Session, TestApp};
use crate::runs_api::read_events;
use axum::http::{Method, StatusCode};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

on_both_backends!(
    a_retry_runs_only_the_failed_part_again,
    a_retry_from_a_node_reruns_what_succeeded,
    what_cannot_be_retried_is_refused,
    a_retry_on_airflow_clears_the_failed_part_of_the_same_airflow_run,
    run_again_starts_a_new_run_with_the_same_params,
);

const DEMO: &str = "/api/v1/tenants/demo";

struct Gated {
    app: TestApp,
    admin: Session,
    editor: Session,
    viewer: Session,
    /// The tenant's work dir: a gate fails while `block-<label>` is there,
    /// and every gate that runs appends `<label> <note>` to `ran.txt`.
    work: PathBuf,
    /// The process a → b → c of gates, its nodes' notes from `{{ params.note }}`.
    path: String,
}

/// The demo tenant with a gate component and the process a → b → c of gates.
async fn gated(backend: Backend) -> Gated {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let editor = app.member("demo", "eddie", "editor").await;
    let viewer = app.member("demo", "vera", "viewer").await;
    let gate = json!({
        "key": "test.gate", "name": "Gate", "category": "Testing",
        "params": [{"name": "label", "type": "string", "required": true},
                   {"name": "note", "type": "string", "required": true}],
        "local": {"program": "/bin/sh", "args": [
            "-c", "echo \"$1 $2\" >> ran.txt; if [ -e \"block-$1\" ]; then echo \"$1 is blocked\" >&2; exit 1; fi",
            "gate", "{label}", "{note}"]}
    });
    let added = app
        .as_user(&admin, Method::POST, "/api/v1/admin/components", Some(gate))
        .await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.text());
    let node = |id: &str| json!({"id": id, "component": "test.gate", "params": {"label": id, "note": "{{ params.note }}"}});
    let graph = json!({
        "params": [{"name": "note", "type": "string", "default": "plain"}],
        "nodes": [node("a"), node("b"), node("c")],
        "edges": [{"from": "a", "to": "b"}, {"from": "b", "to": "c"}],
    });
    let path = app.published(&admin, "gated", graph, json!({})).await;
    let tenant = app.demo_tenant().await;
    let work = app.state.engine.tenant_dir(&tenant).join("work");
    std::fs::create_dir_all(&work).unwrap();
    Gated {
        app,
        admin,
        editor,
        viewer,
        work,
        path,
    }
}

impl Gated {
    fn block(&self, node: &str) {
        std::fs::write(self.work.join(format!("block-{node}")), "").unwrap();
    }

    fn unblock(&self, node: &str) {
        std::fs::remove_file(self.work.join(format!("block-{node}"))).unwrap();
    }

    /// How often each gate ran with `note`, in the order of `nodes`.
    fn ran(&self, nodes: &[&str], note: &str) -> Vec<usize> {
        let log = std::fs::read_to_string(self.work.join("ran.txt")).unwrap_or_default();
        nodes
            .iter()
            .map(|n| log.lines().filter(|l| *l == format!("{n} {note}")).count())
            .collect()
    }

    /// Starts a run with `params` and waits for its end; the run.
    async fn run_to_end(&self, params: Value) -> Value {
        let started = self
            .app
            .as_user(
                &self.admin,
                Method::POST,
                &format!("{}/runs", self.path),
                Some(json!({ "params": params })),
            )
            .await;
        assert_eq!(started.status, StatusCode::CREATED, "{}", started.text());
        let id = started.json()["id"].as_str().unwrap().to_owned();
        self.app.wait_for_run(&self.admin, &id, ended).await
    }

    async fn retry(&self, who: &Session, run: &str, body: Value) -> crate::common::Reply {
        self.app
            .as_user(
                who,
                Method::POST,
                &format!("{DEMO}/runs/{run}/retry"),
                Some(body),
            )
            .await
    }
}

fn id(run: &Value) -> String {
    run["id"].as_str().unwrap().to_owned()
}

async fn a_retry_runs_only_the_failed_part_again(backend: Backend) {
    let g = gated(backend).await;
    g.block("b");
    let failed = g.run_to_end(json!({"note": "first"})).await;
    assert_eq!(failed["state"], "failed", "{failed}");
    assert_eq!(task(&failed, "W_b")["state"], "failed");
    assert_eq!(task(&failed, "W_c")["state"], "skipped");
    assert_eq!(g.ran(&["a", "b", "c"], "first"), [1, 1, 0]);
    let run = id(&failed);
    let before = read_events(&g.app, &g.admin, &run, None, |e| {
        e["task"].is_null() && e["state"] == "failed"
    })
    .await;
    let last = before.last().unwrap()["seq"].as_i64().unwrap();

    // The run's stream ended with the run; a client that reconnects with
    // Last-Event-ID after the retry sees it all, numbered on.
    g.unblock("b");
    let reply = g.retry(&g.editor, &run, json!({})).await;
    let after = read_events(&g.app, &g.admin, &run, Some(last), |e| {
        e["task"].is_null() && (e["state"] == "succeeded" || e["state"] == "failed")
    })
    .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text());
    let answered = reply.json();
    assert!(
        ["queued", "running"].contains(&answered["state"].as_str().unwrap()),
        "{answered}"
    );
    assert_eq!(answered["retries"], 1);
    assert_eq!(answered["retried_by"], "eddie");
    assert!(answered["retried_at"].is_string(), "{answered}");
    assert!(answered["finished_at"].is_null(), "{answered}");

    let seqs: Vec<i64> = after.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    let expected: Vec<i64> = (last + 1..last + 1 + after.len() as i64).collect();
    assert_eq!(seqs, expected, "the same stream goes on, without gaps");
    assert_eq!(
        (after[0]["task"].clone(), after[0]["state"].clone()),
        (Value::Null, json!("queued"))
    );
    let reset: Vec<&str> = after
        .iter()
        .filter(|e| e["state"] == "pending")
        .map(|e| e["task"].as_str().unwrap())
        .collect();
    assert_eq!(reset, ["C_b", "W_b", "C_c", "W_c", "PExit"]);
    for kept in ["PEntry", "C_a", "W_a"] {
        assert!(
            after.iter().all(|e| e["task"] != kept),
            "{kept} is kept: {after:?}"
        );
    }
    assert_eq!(after.last().unwrap()["state"], "succeeded");

    let done = g.app.wait_for_run(&g.admin, &run, ended).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!(
        g.ran(&["a", "b", "c"], "first"),
        [1, 2, 1],
        "a ran once across the run and its retry"
    );
    let attempts = |key: &str| task(&done, key)["attempt"].as_i64().unwrap();
    assert_eq!(
        (attempts("C_a"), attempts("W_a")),
        (1, 1),
        "a was not started again"
    );
    assert_eq!((attempts("C_b"), attempts("W_b")), (2, 2));
    assert_eq!(attempts("W_c"), 1, "c's first attempt");
    assert_eq!(attempts("PExit"), 2);
    assert!(task(&done, "W_b")["error"].is_null(), "{done}");
    assert_eq!(done["retries"], 1);
    assert_eq!(done["retried_by"], "eddie");
    assert_eq!(done["started_at"], failed["started_at"]);

    let audit = g
        .app
        .get_as(&g.admin, &format!("{DEMO}/audit?action=run.retry"))
        .await
        .json();
    assert_eq!(audit.as_array().unwrap().len(), 1, "{audit}");
    assert_eq!(audit[0]["target"], run.as_str());
    assert_eq!(audit[0]["actor"], "eddie");
}

async fn a_retry_from_a_node_reruns_what_succeeded(backend: Backend) {
    let g = gated(backend).await;
    g.block("c");
    let failed = g.run_to_end(json!({"note": "n"})).await;
    assert_eq!(failed["state"], "failed", "{failed}");
    let run = id(&failed);

    let unknown = g.retry(&g.editor, &run, json!({"from_node": "zz"})).await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(unknown.json()["errors"][0]["field"], "from_node");
    assert!(
        unknown.json()["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("`zz`"),
        "{}",
        unknown.text()
    );
    let denied = g.retry(&g.viewer, &run, json!({})).await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    assert_eq!(
        g.app
            .get_as(&g.admin, &format!("{DEMO}/runs/{run}"))
            .await
            .json()["retries"],
        0,
        "refused retries change nothing"
    );

    g.unblock("c");
    let reply = g.retry(&g.editor, &run, json!({"from_node": "b"})).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text());
    let done = g.app.wait_for_run(&g.admin, &run, ended).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!(
        g.ran(&["a", "b", "c"], "n"),
        [1, 2, 2],
        "b succeeded and ran again; a did not"
    );
    assert_eq!(task(&done, "W_a")["attempt"], 1);
    assert_eq!(task(&done, "W_b")["attempt"], 2);
    assert_eq!(task(&done, "C_c")["attempt"], 2);

    // Once it succeeded there is nothing left to retry.
    let again = g.retry(&g.editor, &run, json!({})).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
}

async fn what_cannot_be_retried_is_refused(backend: Backend) {
    let g = gated(backend).await;
    let long = g
        .app
        .published(
            &g.admin,
            "long",
            json!({"nodes": [{"id": "nap", "component": "sleep", "params": {"seconds": 30}}], "edges": []}),
            json!({}),
        )
        .await;
    let run = g.app.start_run(&g.admin, &long).await;
    g.app
        .wait_for_run(&g.admin, &run, |r| task(r, "W_nap")["state"] == "running")
        .await;
    let active = g.retry(&g.editor, &run, json!({})).await;
    assert_eq!(active.status, StatusCode::CONFLICT, "{}", active.text());
    assert_eq!(active.header("content-type"), "application/problem+json");
    assert!(
        active.json()["detail"]
            .as_str()
            .unwrap()
            .contains("is still running"),
        "{}",
        active.text()
    );
    let stop = g
        .app
        .as_user(
            &g.admin,
            Method::POST,
            &format!("{DEMO}/runs/{run}/stop?mode=force"),
            None,
        )
        .await;
    assert_eq!(stop.status, StatusCode::ACCEPTED);
    let cancelled = g.app.wait_for_run(&g.admin, &run, ended).await;
    assert_eq!(cancelled["state"], "cancelled");

    let missing = g.retry(&g.editor, "no-such-run", json!({})).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    // A cancelled run can be retried: what was stopped runs again.
    let reply = g.retry(&g.editor, &run, json!({})).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text());
    g.app
        .wait_for_run(&g.admin, &run, |r| task(r, "W_nap")["state"] == "running")
        .await;
    let running = g
        .app
        .get_as(&g.admin, &format!("{DEMO}/runs/{run}"))
        .await
        .json();
    assert_eq!(running["state"], "running");
    assert_eq!(task(&running, "W_nap")["attempt"], 2);
    // The retried run can be stopped like any other.
    let stop = g
        .app
        .as_user(
            &g.admin,
            Method::POST,
            &format!("{DEMO}/runs/{run}/stop?mode=force"),
            None,
        )
        .await;
    assert_eq!(stop.status, StatusCode::ACCEPTED, "{}", stop.text());
    let done = g.app.wait_for_run(&g.admin, &run, ended).await;
    assert_eq!(done["state"], "cancelled", "{done}");
}

/// A stand-in for Airflow's REST API: every call Trellis made (method and
/// path, body), a switch that makes `clearTaskInstances` refuse, and a run
/// whose every task instance (`tasks`) succeeded on its second try.
#[derive(Clone)]
struct FakeAirflow {
    calls: Arc<Mutex<Vec<(String, Value)>>>,
    refuse: Arc<AtomicBool>,
    tasks: Arc<Vec<String>>,
}

impl FakeAirflow {
    /// Serves the fake on a loopback port; its base URL.
    async fn serve(&self) -> String {
        use axum::extract::State;
        use axum::http::Uri;
        use axum::response::IntoResponse;
        async fn answer(
            State(fake): State<FakeAirflow>,
            method: Method,
            uri: Uri,
            body: String,
        ) -> axum::response::Response {
            let path = uri.path().to_owned();
            let body: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
            fake.calls
                .lock()
                .unwrap()
                .push((format!("{method} {path}"), body.clone()));
            let reply =
                |status: StatusCode, body: Value| (status, axum::Json(body)).into_response();
            if path == "/auth/token" {
                return reply(StatusCode::CREATED, json!({"access_token": "fake"}));
            }
            if path.ends_with("/clearTaskInstances") {
                if fake.refuse.load(Ordering::SeqCst) {
                    return reply(StatusCode::CONFLICT, json!({"detail": "the run is locked"}));
                }
                let cleared: Vec<Value> = body["task_ids"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|t| json!({"task_id": t, "state": null}))
                    .collect();
                return reply(
                    StatusCode::OK,
                    json!({"task_instances": cleared, "total_entries": cleared.len()}),
                );
            }
            if method == Method::GET && path.ends_with("/taskInstances") {
                let tis: Vec<Value> = fake
                    .tasks
                    .iter()
                    .map(|t| json!({"task_id": t, "state": "success", "try_number": 2}))
                    .collect();
                return reply(
                    StatusCode::OK,
                    json!({"task_instances": tis, "total_entries": tis.len()}),
                );
            }
            if method == Method::GET && path.contains("/dagRuns/") {
                return reply(StatusCode::OK, json!({"state": "success"}));
            }
            reply(StatusCode::NOT_FOUND, json!({"detail": "not faked"}))
        }
        let router = axum::Router::new()
            .fallback(answer)
            .with_state(self.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        url
    }

    fn calls(&self, suffix: &str) -> Vec<Value> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|(call, _)| call.ends_with(suffix))
            .map(|(_, body)| body.clone())
            .collect()
    }
}

/// A failed run of a version that Airflow orchestrates (the run's version
/// turned into one after it failed on the engine, its `PEntry` given the
/// Airflow run it would have triggered): the retry clears exactly the failed
/// part in that Airflow run — no new Airflow run, nothing run here — and the
/// run follows Airflow to its end. Without an Airflow, or when Airflow
/// refuses, nothing changes.
async fn a_retry_on_airflow_clears_the_failed_part_of_the_same_airflow_run(backend: Backend) {
    let g = gated(backend).await;
    g.block("a");
    let failed = g.run_to_end(json!({})).await;
    assert_eq!(failed["state"], "failed", "{failed}");
    g.unblock("a");
    let run = id(&failed);
    let process = g.path.rsplit('/').next().unwrap().to_owned();
    let stored: String = sqlx::query_scalar("SELECT graph FROM versions WHERE process_id = $1")
        .bind(&process)
        .fetch_one(&g.app.db.pool)
        .await
        .unwrap();
    let mut graph: Value = serde_json::from_str(&stored).unwrap();
    graph["orchestrator"] = json!("airflow");
    sqlx::query("UPDATE versions SET graph = $1 WHERE process_id = $2")
        .bind(graph.to_string())
        .bind(&process)
        .execute(&g.app.db.pool)
        .await
        .unwrap();
    let version: String = sqlx::query_scalar("SELECT id FROM versions WHERE process_id = $1")
        .bind(&process)
        .fetch_one(&g.app.db.pool)
        .await
        .unwrap();
    let version = app::types::VersionId::from(version.as_str());
    let tenant = g.app.demo_tenant().await;
    let dag_id = format!("trellis.demo.{process}.v1");
    server::db::deployments::start(&g.app.db, &tenant, &version, &dag_id)
        .await
        .unwrap();
    server::db::deployments::set(
        &g.app.db,
        &version,
        app::api::processes::DeployState::Ready,
        None,
    )
    .await
    .unwrap();
    let airflow_run = "manual__2026-11-30T06:00:00+00:00";
    sqlx::query("UPDATE task_runs SET external_ref = $1 WHERE run_id = $2 AND task_key = 'PEntry'")
        .bind(format!("airflow:{airflow_run}"))
        .bind(&run)
        .execute(&g.app.db.pool)
        .await
        .unwrap();
    let unchanged = |run_now: &Value| {
        assert_eq!(
            (run_now["state"].clone(), run_now["retries"].clone()),
            (json!("failed"), json!(0)),
            "{run_now}"
        );
    };
    let run_path = format!("{DEMO}/runs/{run}");
    let read = || g.app.get_as(&g.admin, &run_path);

    let reply = g.retry(&g.editor, &run, json!({})).await;
    assert_eq!(reply.status, StatusCode::CONFLICT, "{}", reply.text());
    assert!(
        reply.json()["detail"]
            .as_str()
            .unwrap()
            .contains("this Trellis server has no Airflow configured"),
        "{}",
        reply.text()
    );
    unchanged(&read().await.json());

    let fake = FakeAirflow {
        calls: Arc::default(),
        refuse: Arc::new(AtomicBool::new(true)),
        tasks: Arc::new(
            failed["tasks"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["key"].as_str().unwrap().to_owned())
                .collect(),
        ),
    };
    let url = fake.serve().await;
    g.app
        .state
        .engine
        .set_airflow(server::airflow::Airflow::new(
            server::airflow::AirflowSettings {
                door: server::airflow::Door::Direct {
                    url,
                    username: "trellis".into(),
                    password: server::config::Secret::new("secret"),
                },
                dags: server::airflow::Folder::parse("s3://dags"),
                credentials: None,
                s3_endpoint_url: None,
                s3_region: "us-east-1".into(),
                poll: std::time::Duration::from_millis(100),
                retire_after: std::time::Duration::from_secs(3600),
                public_url: "http://127.0.0.1:9".into(),
            },
        ));
    let reply = g.retry(&g.editor, &run, json!({})).await;
    assert_eq!(reply.status, StatusCode::BAD_GATEWAY, "{}", reply.text());
    let problem = reply.json();
    assert_eq!(problem["errors"][0]["field"], "airflow", "{problem}");
    assert!(
        problem["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("the run is locked"),
        "{problem}"
    );
    unchanged(&read().await.json());

    fake.refuse.store(false, Ordering::SeqCst);
    let reply = g.retry(&g.editor, &run, json!({})).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text());
    let done = g.app.wait_for_run(&g.admin, &run, ended).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!(done["retries"], 1);
    let clears = fake.calls("/clearTaskInstances");
    assert_eq!(clears.len(), 2, "the refused clear and this one");
    let clear = &clears[1];
    assert_eq!(clear["dag_run_id"], airflow_run, "{clear}");
    assert_eq!(clear["dry_run"], false, "{clear}");
    let mut cleared: Vec<&str> = clear["task_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    cleared.sort_unstable();
    assert_eq!(
        cleared,
        ["C_a", "C_b", "C_c", "PExit", "W_a", "W_b", "W_c"],
        "the failed node, what it skipped and PExit; PEntry is kept"
    );
    assert!(
        fake.calls("/dagRuns").is_empty(),
        "no new Airflow run is triggered"
    );
    assert_eq!(
        task(&done, "PEntry")["external_ref"],
        format!("airflow:{airflow_run}")
    );
    assert_eq!(task(&done, "C_a")["attempt"], 2, "{done}");
    assert_eq!(
        g.ran(&["a", "b", "c"], "plain"),
        [1, 0, 0],
        "Airflow ran the work, not this engine"
    );
}

async fn run_again_starts_a_new_run_with_the_same_params(backend: Backend) {
    let g = gated(backend).await;
    let first = g.run_to_end(json!({"note": "mine"})).await;
    assert_eq!(first["state"], "succeeded", "{first}");
    let original = id(&first);

    let denied = g
        .app
        .as_user(
            &g.viewer,
            Method::POST,
            &format!("{DEMO}/runs/{original}/rerun"),
            None,
        )
        .await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);

    let reply = g
        .app
        .as_user(
            &g.editor,
            Method::POST,
            &format!("{DEMO}/runs/{original}/rerun"),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    let again = reply.json();
    assert_ne!(again["id"], first["id"]);
    assert_eq!(again["rerun_of"], original.as_str());
    assert_eq!(again["params"], json!({"note": "mine"}));
    assert_eq!(again["version"], first["version"]);
    assert_eq!(again["created_by"], "eddie");
    assert_eq!(again["retries"], 0);
    let done = g.app.wait_for_run(&g.admin, &id(&again), ended).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!(done["resolved"]["nodes"]["a"]["note"], "mine");
    assert_eq!(
        g.ran(&["a", "b", "c"], "mine"),
        [2, 2, 2],
        "the new run ran everything with the same parameters"
    );
    let untouched = g
        .app
        .get_as(&g.admin, &format!("{DEMO}/runs/{original}"))
        .await
        .json();
    assert_eq!(untouched["state"], "succeeded");
    assert!(untouched["rerun_of"].is_null());

    let audit = g
        .app
        .get_as(&g.admin, &format!("{DEMO}/audit?action=run.rerun"))
        .await
        .json();
    assert_eq!(audit[0]["target"], again["id"]);
    assert_eq!(audit[0]["detail"]["of"], original.as_str());

    // An active run can be run again too.
    let nap = g
        .app
        .published(
            &g.admin,
            "nap",
            json!({"nodes": [{"id": "nap", "component": "sleep", "params": {"seconds": 30}}], "edges": []}),
            json!({}),
        )
        .await;
    let active = g.app.start_run(&g.admin, &nap).await;
    let twin = g
        .app
        .as_user(
            &g.editor,
            Method::POST,
            &format!("{DEMO}/runs/{active}/rerun"),
            None,
        )
        .await;
    assert_eq!(twin.status, StatusCode::CREATED, "{}", twin.text());
    assert_eq!(twin.json()["rerun_of"], active.as_str());
    for run in [active, id(&twin.json())] {
        let stop = g
            .app
            .as_user(
                &g.admin,
                Method::POST,
                &format!("{DEMO}/runs/{run}/stop?mode=force"),
                None,
            )
            .await;
        assert_eq!(stop.status, StatusCode::ACCEPTED, "{}", stop.text());
        g.app.wait_for_run(&g.admin, &run, ended).await;
    }
}
