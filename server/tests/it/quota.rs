//! The per-tenant disk quota: a step that would take the tenant's folder past
//! it fails with the quota, the usage and what it lacks, and leaves the old
//! dataset in place; platform admins set and clear a tenant's own quota and
//! see each tenant's usage.

use crate::common::{ended, task, Backend, Session, TestApp};
use axum::http::{Method, StatusCode};
use serde_json::{json, Value};
use server::engine::EngineSettings;
use std::path::Path;
use std::time::Duration;

on_both_backends!(
    a_dataset_past_the_quota_fails_and_the_old_one_stays,
    platform_admins_set_and_clear_a_tenants_quota,
    the_tenant_list_shows_each_tenants_usage,
);

const DEMO: &str = "/api/v1/tenants/demo";

/// The application with a platform default quota of `quota` bytes.
async fn with_quota(backend: Backend, quota: u64) -> TestApp {
    TestApp::start(backend)
        .await
        .with_engine(|s| EngineSettings {
            tenant_quota_bytes: quota,
            ..s
        })
}

/// A CSV of `rows` rows (`id,name`).
fn csv(rows: usize) -> String {
    let mut text = String::from("id,name\n");
    for i in 0..rows {
        text.push_str(&format!("{i},customer-{i:06}\n"));
    }
    text
}

async fn data_dir(app: &TestApp) -> std::path::PathBuf {
    let dir = app
        .state
        .engine
        .tenant_dir(&app.demo_tenant().await)
        .join("data");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Ingests `source` into dataset `target` in a new process's run; the run.
async fn ingest(app: &TestApp, s: &Session, name: &str, source: &str) -> Value {
    let graph = json!({"nodes": [{"id": "load", "component": "ingest.file",
                                  "params": {"source": source, "dataset": "target"}}],
                       "edges": []});
    let path = app.published(s, name, graph, json!({})).await;
    let run = app.start_run(s, &path).await;
    app.wait_for_run_within(s, &run, Duration::from_secs(60), ended)
        .await
}

fn hidden_entries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with('.'))
        .collect()
}

async fn a_dataset_past_the_quota_fails_and_the_old_one_stays(backend: Backend) {
    let app = with_quota(backend, 100_000).await;
    let s = app.admin().await;
    let data = data_dir(&app).await;
    std::fs::write(data.join("small.csv"), csv(3)).unwrap();
    // About 60 kB in the data folder, and as much again as a dataset: more
    // than the 100 kB quota holds.
    std::fs::write(data.join("big.csv"), csv(3000)).unwrap();

    let run = ingest(&app, &s, "small", "small.csv").await;
    assert_eq!(run["state"], "succeeded", "{run}");

    let run = ingest(&app, &s, "big", "big.csv").await;
    assert_eq!(run["state"], "failed", "{run}");
    let error = task(&run, "W_load")["error"].as_str().unwrap().to_owned();
    assert!(
        error.starts_with("the tenant's disk quota of 100.0 kB is used up (6"),
        "{error}"
    );
    let (_, need) = error
        .split_once("; this dataset would need ")
        .unwrap_or_else(|| panic!("{error}"));
    assert!(need.lines().next().unwrap().ends_with("kB more"), "{error}");

    let dataset = app.get_as(&s, &format!("{DEMO}/datasets/target")).await;
    assert_eq!(dataset.status, StatusCode::OK, "{}", dataset.text());
    assert_eq!(dataset.json()["rows"], 3, "the old dataset stays in place");
    let datasets = data.parent().unwrap().join("datasets");
    assert_eq!(hidden_entries(&datasets), Vec::<String>::new());

    // Under a larger quota of the tenant's own, the same ingest works.
    let patch = app
        .as_user(
            &s,
            Method::PATCH,
            "/api/v1/admin/tenants/demo",
            Some(json!({"quota_bytes": 10_000_000})),
        )
        .await;
    assert_eq!(patch.status, StatusCode::OK, "{}", patch.text());
    let run = ingest(&app, &s, "big again", "big.csv").await;
    assert_eq!(run["state"], "succeeded", "{run}");
    let dataset = app.get_as(&s, &format!("{DEMO}/datasets/target")).await;
    assert_eq!(dataset.json()["rows"], 3000);
}

async fn platform_admins_set_and_clear_a_tenants_quota(backend: Backend) {
    let app = with_quota(backend, 50 << 30).await;
    let s = app.admin().await;
    let patch = |body: Value| {
        let s = s.clone();
        let app = &app;
        async move {
            app.as_user(&s, Method::PATCH, "/api/v1/admin/tenants/demo", Some(body))
                .await
        }
    };
    let set = patch(json!({"quota_bytes": 5_000_000})).await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.text());
    assert_eq!(set.json()["quota_bytes"], 5_000_000);
    assert_eq!(set.json()["effective_quota_bytes"], 5_000_000);

    // A change of something else leaves the quota as it is.
    let renamed = patch(json!({"name": "Demo tenant"})).await;
    assert_eq!(renamed.json()["quota_bytes"], 5_000_000);

    let listed = || {
        let s = s.clone();
        let app = &app;
        async move {
            let list = app.get_as(&s, "/api/v1/admin/tenants").await.json();
            list.as_array()
                .unwrap()
                .iter()
                .find(|t| t["slug"] == "demo")
                .cloned()
                .unwrap()
        }
    };
    assert_eq!(listed().await["quota_bytes"], 5_000_000);

    let unlimited = patch(json!({"quota_bytes": 0})).await;
    assert_eq!(unlimited.json()["effective_quota_bytes"], 0);

    let cleared = patch(json!({"quota_bytes": null})).await;
    assert_eq!(cleared.status, StatusCode::OK, "{}", cleared.text());
    assert_eq!(cleared.json()["quota_bytes"], Value::Null);
    assert_eq!(cleared.json()["effective_quota_bytes"], 50_i64 << 30);
    assert_eq!(listed().await["quota_bytes"], Value::Null);

    let negative = patch(json!({"quota_bytes": -1})).await;
    assert_eq!(
        negative.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        negative.text()
    );
    assert_eq!(negative.json()["errors"][0]["field"], "quota_bytes");
    assert_eq!(listed().await["quota_bytes"], Value::Null);

    let editor = app.member("demo", "ed", "editor").await;
    let refused = app
        .as_user(
            &editor,
            Method::PATCH,
            "/api/v1/admin/tenants/demo",
            Some(json!({"quota_bytes": 1})),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
}

async fn the_tenant_list_shows_each_tenants_usage(backend: Backend) {
    let app = with_quota(backend, 1_000_000).await;
    let s = app.admin().await;
    let other = app.member("acme", "wile", "viewer").await;
    drop(other);
    let data = data_dir(&app).await;
    std::fs::write(data.join("a.csv"), vec![b'x'; 12_345]).unwrap();
    std::fs::create_dir_all(data.join("nested")).unwrap();
    std::fs::write(data.join("nested/b.csv"), vec![b'y'; 655]).unwrap();

    let list = app.get_as(&s, "/api/v1/admin/tenants").await;
    assert_eq!(list.status, StatusCode::OK);
    let list = list.json();
    let of = |slug: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|t| t["slug"] == slug)
            .cloned()
            .unwrap_or_else(|| panic!("no {slug} in {list}"))
    };
    assert_eq!(of("demo")["usage_bytes"], 13_000);
    assert_eq!(of("demo")["effective_quota_bytes"], 1_000_000);
    assert_eq!(of("demo")["quota_bytes"], Value::Null);
    assert_eq!(of("acme")["usage_bytes"], 0);
}

/// Runs `trellis step <args>` in `tenant` with a quota of `quota` bytes of
/// which `used` are used; its exit code and stderr.
async fn step(tenant: &Path, quota: u64, used: u64, args: &[&str]) -> (i32, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_trellis"))
        .arg("step")
        .args(args)
        .env_clear()
        .env("TRELLIS_TENANT_DIR", tenant)
        .env("TRELLIS_QUOTA_BYTES", quota.to_string())
        .env("TRELLIS_QUOTA_USED_BYTES", used.to_string())
        .output()
        .await
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).trim().to_owned(),
    )
}

#[tokio::test]
async fn exports_and_queries_past_the_quota_fail_and_write_nothing() {
    let tenant = tempfile::tempdir().unwrap();
    let t = tenant.path();
    std::fs::create_dir_all(t.join("data")).unwrap();
    std::fs::write(t.join("data/in.csv"), csv(1000)).unwrap();
    let ingest = ["ingest.file", "--source=in.csv", "--dataset=orders"];
    assert_eq!(step(t, 1 << 20, 0, &ingest).await, (0, String::new()));
    let size = std::fs::metadata(t.join("datasets/orders/data.csv"))
        .unwrap()
        .len();

    // The export would need the dataset's size again, 1 000 bytes more than left.
    let export = ["export.file", "--dataset=orders", "--destination=out.csv"];
    let (code, error) = step(t, 1_000_000, 1_000_000 - size + 1000, &export).await;
    assert_eq!(code, 1, "{error}");
    assert!(
        error.ends_with("; this export would need 1.0 kB more"),
        "{error}"
    );
    assert!(!t.join("exports/out.csv").exists());
    assert_eq!(hidden_entries(&t.join("exports")), Vec::<String>::new());

    let query = [
        "transform.sql",
        "--inputs=orders",
        "--sql=SELECT * FROM orders",
        "--dataset=copy",
    ];
    let (code, error) = step(t, 1_000_000, 990_000, &query).await;
    assert_eq!(code, 1, "{error}");
    assert!(
        error.starts_with(
            "the tenant's disk quota of 1.0 MB is used up (990.0 kB used); this dataset would need"
        ),
        "{error}"
    );
    assert!(!t.join("datasets/copy").exists());
    assert_eq!(hidden_entries(&t.join("datasets")), Vec::<String>::new());

    // Within the quota both work.
    assert_eq!(step(t, 10 << 20, 0, &export).await, (0, String::new()));
    assert_eq!(step(t, 10 << 20, 0, &query).await, (0, String::new()));
    assert!(t.join("exports/out.csv").exists());
    assert!(t.join("datasets/copy/data.csv").exists());
}
