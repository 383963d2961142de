//! The run store: a run starts queued with every task pending; each state
//! change is stored with its event, numbered without gaps, even when many
//! writers change one run at once; transitions from the wrong state change
//! nothing; another tenant sees nothing.

use crate::common::{Backend, TestApp};
use app::types::dag::compile;
use app::types::{ProcessId, RunId, RunState, TaskKey, TaskState, TenantId, Trigger, VersionId};
use serde_json::json;
use server::db::runs::{self, NewRun, TaskChange};

on_both_backends!(
    a_new_run_is_queued_with_pending_tasks,
    transitions_are_guarded_and_numbered,
    concurrent_writers_never_reuse_a_number,
    other_tenants_see_no_run,
);

/// A process with two chained nodes and its version 1; returns (tenant, run id).
pub(crate) async fn start_run(app: &TestApp) -> (TenantId, RunId) {
    let tenant = app.demo_tenant().await;
    let graph = serde_json::from_value(json!({
        "nodes": [{"id": "a", "component": "noop"}, {"id": "b", "component": "noop"}],
        "edges": [{"from": "a", "to": "b"}]
    }))
    .unwrap();
    let admin = app.admin().await;
    let created = app
        .as_user(
            &admin,
            axum::http::Method::POST,
            "/api/v1/tenants/demo/processes",
            Some(json!({"name": "p", "graph": graph})),
        )
        .await
        .json();
    let process = ProcessId::new(created["id"].as_str().unwrap());
    app.as_user(
        &admin,
        axum::http::Method::POST,
        &format!("/api/v1/tenants/demo/processes/{process}/versions"),
        Some(json!({})),
    )
    .await;
    let version_id: VersionId = sqlx::query_scalar("SELECT id FROM versions WHERE process_id = $1")
        .bind(&process)
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    let dag = compile(&graph).unwrap();
    let params = json!({"day": "2026-11-26"});
    let (run, first) = runs::create(
        &app.db,
        NewRun {
            id: app::types::RunId::new(server::db::new_id()),
            resolved: &Default::default(),
            rerun_of: None,
            tenant: &tenant,
            process: &process,
            version_id: &version_id,
            version_number: 1,
            trigger: Trigger::Manual,
            params: &params,
            by: None,
            dag: &dag,
            scheduled_for: None,
            owner: "test",
        },
    )
    .await
    .unwrap();
    assert_eq!(
        (
            first.seq,
            first.task.as_ref().map(TaskKey::as_str),
            first.state.as_str()
        ),
        (1, None, "queued")
    );
    (tenant, run)
}

async fn a_new_run_is_queued_with_pending_tasks(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (tenant, run) = start_run(&app).await;
    let stored = runs::get(&app.db, &tenant, &run).await.unwrap().unwrap();
    assert_eq!(stored.state, RunState::Queued);
    assert_eq!(stored.version, 1);
    assert_eq!(stored.trigger, Trigger::Manual);
    assert_eq!(stored.params, json!({"day": "2026-11-26"}));
    let keys: Vec<&str> = stored.tasks.iter().map(|t| t.key.as_str()).collect();
    assert_eq!(
        keys,
        ["PEntry", "C_a", "W_a", "C_b", "W_b", "PExit"],
        "tasks list in DAG order"
    );
    assert!(stored
        .tasks
        .iter()
        .all(|t| t.state == TaskState::Pending && t.attempt == 0));
}

async fn transitions_are_guarded_and_numbered(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (tenant, run) = start_run(&app).await;
    let db = &app.db;
    let e = runs::set_run_state(db, &tenant, &run, RunState::Running, None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((e.seq, e.state.as_str()), (2, "running"));
    assert!(
        runs::set_run_state(db, &tenant, &run, RunState::Running, None)
            .await
            .unwrap()
            .is_none(),
        "a run that is no longer queued cannot start again"
    );

    let change = TaskChange {
        attempt: Some(1),
        external_ref: Some("pid:42"),
        error: None,
    };
    runs::set_task_state(
        db,
        &tenant,
        &run,
        &TaskKey::from("C_a"),
        TaskState::Queued,
        TaskChange::default(),
        None,
    )
    .await
    .unwrap()
    .unwrap();
    let e = runs::set_task_state(
        db,
        &tenant,
        &run,
        &TaskKey::from("C_a"),
        TaskState::Running,
        change,
        None,
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(
        (
            e.seq,
            e.task.as_ref().map(TaskKey::as_str),
            e.state.as_str()
        ),
        (4, Some("C_a"), "running")
    );
    let failed = TaskChange {
        error: Some("boom"),
        ..Default::default()
    };
    runs::set_task_state(
        db,
        &tenant,
        &run,
        &TaskKey::from("C_a"),
        TaskState::Failed,
        failed,
        None,
    )
    .await
    .unwrap()
    .unwrap();

    let stored = runs::get(db, &tenant, &run).await.unwrap().unwrap();
    let c_a = stored.tasks.iter().find(|t| t.key == "C_a").unwrap();
    assert_eq!((c_a.state, c_a.attempt), (TaskState::Failed, 1));
    assert_eq!(
        c_a.external_ref.as_deref(),
        Some("pid:42"),
        "earlier fields are kept"
    );
    assert_eq!(c_a.error.as_deref(), Some("boom"));
    assert!(c_a.started_at.is_some() && c_a.finished_at.is_some());
    assert!(stored.started_at.is_some() && stored.finished_at.is_none());

    let events = runs::events_after(db, &tenant, &run, 0).await.unwrap();
    let seqs: Vec<i64> = events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5]);
    assert_eq!(
        runs::events_after(db, &tenant, &run, 2).await.unwrap(),
        events[2..].to_vec()
    );
}

async fn concurrent_writers_never_reuse_a_number(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (tenant, run) = start_run(&app).await;
    let keys: [&'static str; 6] = ["PEntry", "C_a", "W_a", "C_b", "W_b", "PExit"];
    let writers = keys.into_iter().map(|key| {
        let (db, tenant, run) = (app.db.clone(), tenant.clone(), run.clone());
        tokio::spawn(async move {
            runs::set_task_state(
                &db,
                &tenant,
                &run,
                &TaskKey::from(key),
                TaskState::Queued,
                TaskChange::default(),
                None,
            )
            .await
            .unwrap()
            .unwrap()
            .seq
        })
    });
    let mut seqs: Vec<i64> = futures_seqs(writers).await;
    seqs.sort();
    assert_eq!(seqs, [2, 3, 4, 5, 6, 7]);
    let stored: Vec<i64> = runs::events_after(&app.db, &tenant, &run, 0)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(stored, [1, 2, 3, 4, 5, 6, 7]);
}

async fn futures_seqs(handles: impl Iterator<Item = tokio::task::JoinHandle<i64>>) -> Vec<i64> {
    let mut out = Vec::new();
    for handle in handles.collect::<Vec<_>>() {
        out.push(handle.await.unwrap());
    }
    out
}

async fn other_tenants_see_no_run(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (tenant, run) = start_run(&app).await;
    app.member("acme", "sam", "tenant_admin").await;
    let acme: String = sqlx::query_scalar("SELECT id FROM tenants WHERE slug = 'acme'")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    let acme = TenantId::new(acme);
    assert!(runs::get(&app.db, &acme, &run).await.unwrap().is_none());
    assert!(runs::events_after(&app.db, &acme, &run, 0)
        .await
        .unwrap()
        .is_empty());
    let moved = runs::set_run_state(&app.db, &acme, &run, RunState::Running, None)
        .await
        .unwrap();
    assert!(
        moved.is_none(),
        "a transition through another tenant changes nothing"
    );
    assert_eq!(
        runs::get(&app.db, &tenant, &run)
            .await
            .unwrap()
            .unwrap()
            .state,
        RunState::Queued
    );
}
