//! Retention: a sweep at a chosen time (a manual clock) deletes the ended
//! runs older than their tenant's retention, with their events and task
//! logs — never an active run, never a process's latest run — and says what
//! it freed on the admin's tenant list.

use crate::common::{ended, Backend, TestApp};
use axum::http::{Method, StatusCode};
use serde_json::json;
use server::time::Timestamp;

on_both_backends!(
    old_ended_runs_go_with_their_events_and_logs,
    old_datasets_go_unless_a_schedule_or_an_active_run_uses_them,
);

const DEMO: &str = "/api/v1/tenants/demo";

async fn old_ended_runs_go_with_their_events_and_logs(backend: Backend) {
    let app = TestApp::start(backend)
        .await
        .with_engine(|s| server::engine::EngineSettings {
            retention_days: 30,
            ..s
        });
    let admin = app.admin().await;
    let noop = json!({"nodes": [{"id": "a", "component": "noop"}], "edges": []});
    let nap = json!({"nodes": [{"id": "nap", "component": "sleep", "params": {"seconds": 30}}], "edges": []});
    let daily = app
        .published(&admin, "Daily", noop.clone(), json!({}))
        .await;
    let once = app.published(&admin, "Once", noop, json!({})).await;
    let long = app.published(&admin, "Long", nap, json!({})).await;

    // Daily: three ended runs; Once: one; Long: an ended run, then one that
    // is still running.
    let mut old = Vec::new();
    for _ in 0..3 {
        let run = app.start_run(&admin, &daily).await;
        app.wait_for_run(&admin, &run, ended).await;
        old.push(run);
    }
    let only = app.start_run(&admin, &once).await;
    app.wait_for_run(&admin, &only, ended).await;
    let first_long = app.start_run(&admin, &long).await;
    let stop = format!("{DEMO}/runs/{first_long}/stop?mode=force");
    app.as_user(&admin, Method::POST, &stop, None).await;
    app.wait_for_run(&admin, &first_long, ended).await;
    let active = app.start_run(&admin, &long).await;
    let tenants_dir = app.database.data_dir().join("tenants");
    let log_dir = |run: &str| {
        std::fs::read_dir(&tenants_dir)
            .unwrap()
            .map(|t| t.unwrap().path().join("runs").join(run))
            .find(|p| p.exists())
    };
    assert!(log_dir(&old[0]).is_some(), "a run's task logs are on disk");

    // A delivered test alert: the alert log keeps as long as the runs.
    let hook = crate::common::receivers::HttpReceiver::start();
    app.alerts_running().await;
    let alerts = format!("{DEMO}/alerts");
    let channel = app
        .as_user(
            &admin,
            Method::POST,
            &format!("{alerts}/channels"),
            Some(json!({"name": "ops", "kind": "slack", "target": hook.url})),
        )
        .await
        .json();
    let test = format!("{alerts}/channels/{}/test", channel["id"].as_str().unwrap());
    app.as_user(&admin, Method::POST, &test, None).await;
    hook.arrived(1, std::time::Duration::from_secs(20)).await;
    let deliveries = || async {
        let log = app
            .get_as(&admin, &format!("{alerts}/deliveries"))
            .await
            .json();
        log.as_array()
            .unwrap()
            .iter()
            .map(|d| d["status"].clone())
            .collect::<Vec<_>>()
    };
    while deliveries().await != vec![json!("delivered")] {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    // Nothing is old enough yet.
    let now = Timestamp::now().as_datetime();
    let swept = app.state.engine.sweep(Timestamp::from(now)).await.unwrap();
    assert!(swept.is_empty(), "{swept:?}");

    // 31 days on: the older Daily runs and the stopped Long run go; the
    // latest Daily run, Once's only run and the running one stay.
    let later = Timestamp::from(now + chrono::Duration::days(31));
    let swept = app.state.engine.sweep(later).await.unwrap();
    assert_eq!(swept.len(), 1, "{swept:?}");
    assert_eq!(swept[0].runs, 3, "{swept:?}");
    assert!(swept[0].bytes > 0, "task logs were freed: {swept:?}");
    for gone in [&old[0], &old[1], &first_long] {
        let reply = app.get_as(&admin, &format!("{DEMO}/runs/{gone}")).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{gone}");
        assert!(log_dir(gone).is_none(), "{gone}'s logs are gone");
        let events: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM events WHERE run_id = $1")
            .bind(gone)
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
        assert_eq!(events, 0, "{gone}'s events are gone");
    }
    for kept in [&old[2], &only, &active] {
        let reply = app.get_as(&admin, &format!("{DEMO}/runs/{kept}")).await;
        assert_eq!(reply.status, StatusCode::OK, "{kept}");
    }
    let listed = app.get_as(&admin, &format!("{DEMO}/runs")).await.json();
    assert_eq!(listed["runs"].as_array().unwrap().len(), 3, "{listed}");
    assert!(deliveries().await.is_empty(), "the old delivery went too");

    // The admin sees what it freed, and a tenant of its own keeps forever.
    let tenants = app.get_as(&admin, "/api/v1/admin/tenants").await.json();
    let demo = tenants
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["slug"] == "demo")
        .unwrap()
        .clone();
    assert_eq!(demo["retention_days"], serde_json::Value::Null);
    assert_eq!(demo["effective_retention_days"], 30);
    assert_eq!(demo["last_sweep"]["runs"], 3, "{demo}");
    let keep = app
        .as_user(
            &admin,
            Method::PATCH,
            "/api/v1/admin/tenants/demo",
            Some(json!({"retention_days": 0})),
        )
        .await;
    assert_eq!(keep.status, StatusCode::OK, "{}", keep.text());
    assert_eq!(keep.json()["effective_retention_days"], 0);
    let much_later = Timestamp::from(now + chrono::Duration::days(400));
    let swept = app.state.engine.sweep(much_later).await.unwrap();
    assert!(swept.is_empty(), "forever keeps everything: {swept:?}");
    let bad = app
        .as_user(
            &admin,
            Method::PATCH,
            "/api/v1/admin/tenants/demo",
            Some(json!({"retention_days": -1})),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.json()["errors"][0]["field"], "retention_days");

    let stop = format!("{DEMO}/runs/{active}/stop?mode=force");
    app.as_user(&admin, Method::POST, &stop, None).await;
    app.wait_for_run(&admin, &active, ended).await;
}

async fn old_datasets_go_unless_a_schedule_or_an_active_run_uses_them(backend: Backend) {
    let app = TestApp::start(backend)
        .await
        .with_engine(|s| server::engine::EngineSettings {
            retention_days: 30,
            ..s
        });
    let admin = app.admin().await;
    let tenant_dir = app.state.engine.tenant_dir(&app.demo_tenant().await);
    std::fs::create_dir_all(tenant_dir.join("data")).unwrap();
    std::fs::write(tenant_dir.join("data/x.csv"), "id,amount\n1,2\n3,4\n").unwrap();
    let ingest = |id: &str, dataset: &str| json!({"id": id, "component": "ingest.file", "params": {"source": "x.csv", "dataset": dataset}});
    let loads = json!({"nodes": [ingest("a", "for_schedule"), ingest("b", "unread"), ingest("c", "for_active")], "edges": []});
    let loads = app.published(&admin, "Loads", loads, json!({})).await;
    let run = app.start_run(&admin, &loads).await;
    let done = app.wait_for_run(&admin, &run, ended).await;
    assert_eq!(done["state"], "succeeded", "{done}");

    // A scheduled process reads one; a running run reads another.
    let reads = |dataset: &str| json!({"id": "out", "component": "export.file", "params": {"dataset": dataset, "destination": format!("{dataset}.csv")}});
    let scheduled = json!({"nodes": [reads("for_schedule")], "edges": []});
    let scheduled = app
        .published(&admin, "Nightly export", scheduled, json!({}))
        .await;
    let schedule = app
        .as_user(
            &admin,
            Method::PUT,
            &format!("{scheduled}/schedule"),
            Some(json!({"cron": "0 3 * * *", "timezone": "UTC", "enabled": false})),
        )
        .await;
    assert_eq!(schedule.status, StatusCode::CREATED, "{}", schedule.text());
    let busy = json!({"nodes": [{"id": "nap", "component": "sleep", "params": {"seconds": 30}}, reads("for_active")],
                      "edges": [{"from": "nap", "to": "out"}]});
    let busy = app.published(&admin, "Busy", busy, json!({})).await;
    let active = app.start_run(&admin, &busy).await;

    let dataset = |name: &str| tenant_dir.join("datasets").join(name);
    let now = Timestamp::now().as_datetime();
    let swept = app.state.engine.sweep(Timestamp::from(now)).await.unwrap();
    assert!(swept.is_empty(), "nothing is old yet: {swept:?}");
    let later = Timestamp::from(now + chrono::Duration::days(31));
    let swept = app.state.engine.sweep(later).await.unwrap();
    assert_eq!(swept.len(), 1, "{swept:?}");
    assert_eq!((swept[0].runs, swept[0].datasets), (0, 1), "{swept:?}");
    assert!(swept[0].bytes > 0, "{swept:?}");
    assert!(
        !dataset("unread").exists(),
        "an old dataset nothing uses goes"
    );
    assert!(
        dataset("for_schedule").exists(),
        "a scheduled process reads it"
    );
    assert!(dataset("for_active").exists(), "an active run reads it");
    let listed = app.get_as(&admin, &format!("{DEMO}/datasets")).await.json();
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["for_active", "for_schedule"]);

    // Once the run has ended, its dataset is free to go.
    let stop = format!("{DEMO}/runs/{active}/stop?mode=force");
    app.as_user(&admin, Method::POST, &stop, None).await;
    app.wait_for_run(&admin, &active, ended).await;
    let swept = app.state.engine.sweep(later).await.unwrap();
    assert_eq!(swept[0].datasets, 1, "{swept:?}");
    assert!(!dataset("for_active").exists());
    assert!(dataset("for_schedule").exists());
}
