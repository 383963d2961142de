//! Retrying a run from its failed part, and running it again: what succeeded
//! is kept and never runs twice, attempts and the event stream go on, and a
//! run again is a new run of the same version with the same parameters.

use crate::common::{ended, task, Backend, Session, TestApp};
use crate::runs_api::read_events;
use axum::http::{Method, StatusCode};
use serde_json::{json, Value};
use std::path::PathBuf;

on_both_backends!(
    a_retry_runs_only_the_failed_part_again,
    a_retry_from_a_node_reruns_what_succeeded,
    what_cannot_be_retried_is_refused,
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

    // A client that reconnects with Last-Event-ID sees the retry live.
    g.unblock("b");
    let follow = read_events(&g.app, &g.admin, &run, Some(last), |e| {
        e["task"].is_null() && (e["state"] == "succeeded" || e["state"] == "failed")
    });
    let retry = async {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        g.retry(&g.editor, &run, json!({})).await
    };
    let (after, reply) = tokio::join!(follow, retry);
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

    a_failed_airflow_run_is_not_retried(&g).await;
}

/// A failed run of a version that Airflow orchestrates: its retry would have
/// to clear task instances in Airflow, which Trellis does not do yet.
async fn a_failed_airflow_run_is_not_retried(g: &Gated) {
    g.block("a");
    let failed = g.run_to_end(json!({})).await;
    assert_eq!(failed["state"], "failed", "{failed}");
    g.unblock("a");
    let process = g.path.rsplit('/').next().unwrap();
    let stored: String = sqlx::query_scalar("SELECT graph FROM versions WHERE process_id = $1")
        .bind(process)
        .fetch_one(&g.app.db.pool)
        .await
        .unwrap();
    let mut graph: Value = serde_json::from_str(&stored).unwrap();
    graph["orchestrator"] = json!("airflow");
    sqlx::query("UPDATE versions SET graph = $1 WHERE process_id = $2")
        .bind(graph.to_string())
        .bind(process)
        .execute(&g.app.db.pool)
        .await
        .unwrap();
    let reply = g.retry(&g.editor, &id(&failed), json!({})).await;
    assert_eq!(reply.status, StatusCode::CONFLICT, "{}", reply.text());
    let detail = reply.json()["detail"].as_str().unwrap().to_owned();
    assert!(
        detail.contains("Airflow runs is not supported yet"),
        "{detail}"
    );
    assert!(detail.contains("run it again"), "{detail}");
    let after = g
        .app
        .get_as(&g.admin, &format!("{DEMO}/runs/{}", id(&failed)))
        .await
        .json();
    assert_eq!(
        (after["state"].clone(), after["retries"].clone()),
        (json!("failed"), json!(0))
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
