//! What the benchmarks share: the application over a fresh SQLite database
//! with the demo tenant and `admin`/`pw`; calls through the router; this
//! process's memory and CPU; percentiles.

#![allow(dead_code)]

use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt;
use serde_json::Value;
use server::config::HttpSettings;
use server::engine::EngineSettings;
use std::path::Path;
use std::time::Duration;
use tower::ServiceExt;

/// The engine's settings in benchmarks: the real `trellis` binary, room for
/// large fetches, the loopback servers (the AWS emulator) allowed. A
/// benchmark that needs other limits overrides fields.
pub fn engine_settings(dir: &Path) -> EngineSettings {
    EngineSettings {
        data_dir: dir.to_owned(),
        stop_grace: Duration::from_secs(10),
        trellis_bin: env!("CARGO_BIN_EXE_trellis").into(),
        log_limit: 1 << 20,
        max_running: 64,
        max_running_per_tenant: 16,
        fetch_max_bytes: 1 << 30,
        tenant_quota_bytes: 0,
        fetch_timeout: Duration::from_secs(300),
        task_timeout: Duration::from_secs(6 * 3600),
        process_limits: Default::default(),
        sql_limits: Default::default(),
        outbound: server::outbound::Guard::new("127.0.0.1/32,::1/128".parse().unwrap()),
        sealer: std::sync::Arc::new(server::secrets::Sealer::random()),
        emr_polling: Default::default(),
        // The AWS emulator's keys as the server's own credentials: they
        // only assume the connections' roles.
        aws: server::aws::Platform {
            credentials: Some(aws_sdk_emr::config::Credentials::new(
                "AKIAEMULATORTESTKEY1",
                "emulator-secret",
                None,
                None,
                "bench",
            )),
            ..Default::default()
        },
        db_retry: std::time::Duration::from_secs(120),
        retention_days: 0,
    }
}

pub async fn app_state(dir: &Path, max_running_per_tenant: usize) -> server::AppState {
    let engine = EngineSettings {
        max_running_per_tenant,
        ..engine_settings(dir)
    };
    app_state_with(dir, engine).await
}

/// The application over a fresh SQLite database in `dir`, its engine on `engine`.
pub async fn app_state_with(dir: &Path, engine: EngineSettings) -> server::AppState {
    let url = format!("sqlite://{}?mode=rwc", dir.join("bench.db").display());
    app_state_on(&url, engine).await
}

/// The application over the empty database at `url` (SQLite or PostgreSQL).
pub async fn app_state_on(url: &str, engine: EngineSettings) -> server::AppState {
    let db = server::open_db(url).await.unwrap();
    server::db::bootstrap::bootstrap(&db, Some("pw".into()))
        .await
        .unwrap();
    let leptos =
        server::state::leptos_options("127.0.0.1:0".parse().unwrap(), Path::new("target/site"));
    server::AppState::new(db, leptos, HttpSettings::default(), engine)
}

/// Signs in through `router` as the bootstrapped `admin`; the session's cookies.
pub async fn sign_in(router: &axum::Router) -> String {
    let login = serde_json::json!({"username": "admin", "password": "pw"});
    let (status, _, cookie) = call(router, "POST", "/api/v1/auth/login", "", login).await;
    assert_eq!(status, 200, "signing in");
    cookie
}

/// One call through the router as `cookie`'s session: (status, JSON body, Set-Cookie).
pub async fn call(
    router: &axum::Router,
    method: &str,
    path: &str,
    cookie: &str,
    body: impl Into<Option<Value>>,
) -> (u16, Value, String) {
    let text = body.into().map(|b| b.to_string()).unwrap_or_default();
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json")
        .header("cookie", cookie)
        .header(
            "x-csrf-token",
            cookie
                .split("; ")
                .find_map(|c| c.strip_prefix("trellis_csrf="))
                .unwrap_or_default(),
        )
        .body(Body::from(text))
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let cookie = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok()?.split(';').next().map(str::to_owned))
        .collect::<Vec<_>>()
        .join("; ");
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        cookie,
    )
}

/// This process's resident memory (MiB) and CPU time used so far (s).
pub fn usage() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let rss_kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0);
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    (rss_kb / 1024.0, ticks / 100.0)
}

pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// The number in environment variable `name` (a benchmark's size), else `default`.
pub fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// An RFC 3339 time as stored.
pub fn parse(t: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(t)
        .unwrap()
        .with_timezone(&chrono::Utc)
}
