//! Tenants cannot steer Trellis's outbound HTTP to internal addresses:
//! data steps' URLs, their redirects and connections' AWS endpoints are
//! refused with the address's class unless the platform allows it
//! (`TRELLIS_OUTBOUND_ALLOW`), and never reach the internal server.

use crate::common::{ended, task, Backend, TestApp};
use axum::http::{header, Method, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use serde_json::json;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

on_both_backends!(
    data_steps_in_runs_reach_only_allowed_addresses,
    connection_endpoints_are_checked_when_saved_and_when_used,
);

const DEMO: &str = "/api/v1/tenants/demo";
const SECRET: &str = "token\nhunter2\n";

/// An internal service on `ip`: `/secret.csv`, `POST /upload` (counted),
/// and redirects `/to?location=…` (302 to that location), `/loop`.
async fn internal(ip: &str) -> (SocketAddr, Arc<AtomicUsize>) {
    let uploads = Arc::new(AtomicUsize::new(0));
    let counted = uploads.clone();
    let app = Router::new()
        .route("/secret.csv", get(|| async { SECRET }))
        .route(
            "/upload",
            post(move || async move {
                counted.fetch_add(1, Ordering::SeqCst);
                StatusCode::CREATED
            }),
        )
        .route(
            "/to",
            get(
                |axum::extract::Query(q): axum::extract::Query<
                    std::collections::HashMap<String, String>,
                >| async move {
                    (
                        StatusCode::FOUND,
                        [(header::LOCATION, q["location"].clone())],
                    )
                        .into_response()
                },
            ),
        )
        .route(
            "/loop",
            get(|| async { (StatusCode::FOUND, [(header::LOCATION, "/loop")]) }),
        );
    let listener = tokio::net::TcpListener::bind((ip, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, uploads)
}

/// A tenant folder and the real `trellis step …` binary, run with
/// `TRELLIS_OUTBOUND_ALLOW=allow` as the engine would pass it.
struct Step {
    dir: tempfile::TempDir,
    allow: String,
}

impl Step {
    fn allowing(allow: &str) -> Step {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("data")).unwrap();
        std::fs::write(dir.path().join("data/local.csv"), "x\n1\n").unwrap();
        Step {
            dir,
            allow: allow.into(),
        }
    }

    /// Runs the step; its exit code and stderr (the task's error).
    async fn run(&self, args: &[&str]) -> (i32, String) {
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_trellis"))
            .arg("step")
            .args(args)
            .env_clear()
            .env("TRELLIS_TENANT_DIR", self.dir.path())
            .env("TRELLIS_OUTBOUND_ALLOW", &self.allow)
            .env("TRELLIS_FETCH_TIMEOUT_SECONDS", "5")
            .output()
            .await
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        )
    }

    /// Ingests `url`; its error, or `None` when the step succeeded.
    async fn ingest(&self, url: &str) -> Option<String> {
        let source = format!("--source={url}");
        match self
            .run(&["ingest.file", &source, "--dataset=fetched"])
            .await
        {
            (0, _) => None,
            (1, error) => Some(error),
            (code, error) => panic!("{url}: exit {code}: {error}"),
        }
    }

    fn fetched(&self) -> Option<String> {
        std::fs::read_to_string(self.dir.path().join("datasets/fetched/data.csv")).ok()
    }
}

#[tokio::test]
async fn internal_addresses_are_refused_by_class_in_any_spelling() {
    let (addr, _) = internal("127.0.0.1").await;
    let port = addr.port();
    let step = Step::allowing("");
    for (url, want) in [
        (
            format!("http://127.0.0.1:{port}/secret.csv"),
            "refused: 127.0.0.1 is a loopback address; allow it with TRELLIS_OUTBOUND_ALLOW".to_owned(),
        ),
        (
            "http://169.254.169.254/latest/meta-data/iam/security-credentials/".into(),
            "refused: 169.254.169.254 is a link-local address (cloud metadata); allow it with TRELLIS_OUTBOUND_ALLOW".into(),
        ),
        (format!("http://[::1]:{port}/secret.csv"), "refused: ::1 is a loopback address".into()),
        (
            format!("http://[::ffff:127.0.0.1]:{port}/secret.csv"),
            "refused: ::ffff:127.0.0.1 is an IPv4-mapped loopback address".into(),
        ),
        // The URL parser reads decimal, octal and hexadecimal spellings as
        // the address they mean, and the address is checked.
        (format!("http://2130706433:{port}/secret.csv"), "refused: 127.0.0.1 is a loopback address".into()),
        (format!("http://0177.0.0.1:{port}/secret.csv"), "refused: 127.0.0.1 is a loopback address".into()),
        (format!("http://0x7f.1:{port}/secret.csv"), "refused: 127.0.0.1 is a loopback address".into()),
        ("http://0xa9fea9fe/latest/meta-data/".into(), "refused: 169.254.169.254 is a link-local address (cloud metadata)".into()),
        ("http://10.0.0.1/x.csv".into(), "refused: 10.0.0.1 is a private address".into()),
        ("http://100.100.100.200/x.csv".into(), "refused: 100.100.100.200 is a carrier-grade NAT address".into()),
        ("http://[fd00:ec2::254]/latest/meta-data/".into(), "refused: fd00:ec2::254 is a unique-local address (cloud metadata)".into()),
        ("http://[fe80::1]/x.csv".into(), "refused: fe80::1 is a link-local address".into()),
        ("http://0.0.0.0:22/".into(), "refused: 0.0.0.0 is an unspecified address".into()),
    ] {
        let error = step.ingest(&url).await.unwrap_or_else(|| panic!("{url} was fetched"));
        assert!(error.contains(&want), "{url}: {error}");
        assert!(!error.contains("hunter2"), "{url}: {error}");
    }
    // A name is resolved once and each of its addresses checked.
    let url = format!("http://localhost:{port}/secret.csv");
    let error = step.ingest(&url).await.expect("localhost is refused");
    assert!(
        error.contains("refused: `localhost` resolves to") && error.contains("a loopback address"),
        "{error}"
    );
    assert_eq!(step.fetched(), None, "nothing internal was read");

    // Exports are refused the same way, before anything is sent.
    let (addr, uploads) = internal("127.0.0.1").await;
    assert_eq!(
        step.run(&["ingest.file", "--source=local.csv", "--dataset=local"])
            .await
            .0,
        0
    );
    let destination = format!("--destination=http://{addr}/upload");
    let (code, error) = step
        .run(&["export.file", "--dataset=local", &destination])
        .await;
    assert_eq!(code, 1);
    assert!(
        error.contains("refused: 127.0.0.1 is a loopback address"),
        "{error}"
    );
    assert_eq!(uploads.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn allowed_servers_work_and_their_redirects_are_checked_again() {
    let (allowed, _) = internal("127.0.0.1").await;
    // Another loopback service, not allowed: Linux routes all of 127/8.
    let (other, _) = internal("127.0.0.2").await;
    let step = Step::allowing("127.0.0.1/32");

    assert_eq!(
        step.ingest(&format!("http://{allowed}/secret.csv")).await,
        None
    );
    assert!(step.fetched().unwrap().contains("hunter2"));
    std::fs::remove_dir_all(step.dir.path().join("datasets/fetched")).unwrap();

    let secret = format!("http://{other}/secret.csv");
    let port = other.port();
    for (location, want) in [
        (
            secret.clone(),
            "refused: 127.0.0.2 is a loopback address".to_owned(),
        ),
        (
            "http://169.254.169.254/latest/meta-data/".into(),
            "refused: 169.254.169.254 is a link-local address (cloud metadata)".into(),
        ),
        (
            format!("http://2130706434:{port}/secret.csv"),
            "refused: 127.0.0.2 is a loopback address".into(),
        ),
        (
            format!("http://[::ffff:127.0.0.2]:{port}/secret.csv"),
            "refused: ::ffff:127.0.0.2 is an IPv4-mapped loopback address".into(),
        ),
        (
            format!("http://[::1]:{port}/secret.csv"),
            "refused: ::1 is a loopback address".into(),
        ),
    ] {
        let url = format!(
            "http://{allowed}/to?location={}",
            form_urlencoded::byte_serialize(location.as_bytes()).collect::<String>()
        );
        let error = step
            .ingest(&url)
            .await
            .unwrap_or_else(|| panic!("{location} was followed"));
        assert!(error.contains(&want), "{location}: {error}");
        assert_eq!(step.fetched(), None, "{location}");
    }
    let error = step
        .ingest(&format!("http://{allowed}/loop"))
        .await
        .unwrap();
    assert!(error.contains("more than 5 redirects"), "{error}");
    // The service refused above is real: allowed, it answers.
    assert_eq!(Step::allowing("127.0.0.0/8").ingest(&secret).await, None);
}

/// A process of `ingest.file` nodes, one per URL, each after the one
/// before, run to its end.
async fn run_ingests(app: &TestApp, urls: &[(&str, String)]) -> serde_json::Value {
    let admin = app.admin().await;
    let nodes: Vec<_> = urls
        .iter()
        .map(|(id, url)| {
            json!({"id": id, "component": "ingest.file",
                   "params": {"source": url, "dataset": id}})
        })
        .collect();
    let edges: Vec<_> = urls
        .windows(2)
        .map(|w| json!({"from": w[0].0, "to": w[1].0}))
        .collect();
    let path = app
        .published(
            &admin,
            "fetch",
            json!({"nodes": nodes, "edges": edges}),
            json!({}),
        )
        .await;
    let run = app.start_run(&admin, &path).await;
    app.wait_for_run(&admin, &run, ended).await
}

async fn data_steps_in_runs_reach_only_allowed_addresses(backend: Backend) {
    let (addr, _) = internal("127.0.0.1").await;
    // The test suite allows its loopback servers, as an operator would.
    let app = TestApp::start(backend).await;
    let run = run_ingests(
        &app,
        &[
            ("allowed", format!("http://{addr}/secret.csv")),
            (
                "metadata",
                "http://169.254.169.254/latest/meta-data/".into(),
            ),
        ],
    )
    .await;
    assert_eq!(task(&run, "W_allowed")["state"], "succeeded", "{run}");
    assert_eq!(task(&run, "W_metadata")["state"], "failed", "{run}");
    let error = task(&run, "W_metadata")["error"].as_str().unwrap();
    assert!(
        error.contains("refused: 169.254.169.254 is a link-local address (cloud metadata); allow it with TRELLIS_OUTBOUND_ALLOW"),
        "{error}"
    );
    let admin = app.admin().await;
    let missing = app
        .get_as(&admin, &format!("{DEMO}/datasets/metadata"))
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);

    // Without the setting, the engine's steps are refused loopback too.
    let app = TestApp::start(backend).await.allowing("");
    let run = run_ingests(&app, &[("loopback", format!("http://{addr}/secret.csv"))]).await;
    let error = task(&run, "W_loopback")["error"].as_str().unwrap();
    assert!(
        error.contains("refused: 127.0.0.1 is a loopback address"),
        "{error}"
    );
    let admin = app.admin().await;
    let missing = app
        .get_as(&admin, &format!("{DEMO}/datasets/loopback"))
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

async fn connection_endpoints_are_checked_when_saved_and_when_used(backend: Backend) {
    let app = TestApp::start(backend).await.allowing("");
    let admin = app.admin().await;
    let connection = |endpoint: &str| {
        json!({"name": "emr", "region": "us-east-1", "cluster_id": "j-ABC",
               "role_arn": "arn:aws:iam::123456789012:role/trellis",
               "endpoint_url": endpoint})
    };
    for (endpoint, want) in [
        (
            "http://169.254.169.254/",
            "169.254.169.254 is a link-local address (cloud metadata)",
        ),
        ("http://127.0.0.1:4566", "127.0.0.1 is a loopback address"),
        ("http://[::1]:4566", "::1 is a loopback address"),
        ("http://0x7f.1:4566", "127.0.0.1 is a loopback address"),
        ("http://localhost:4566", "`localhost` resolves to"),
        (
            "https://[fd00:ec2::254]",
            "fd00:ec2::254 is a unique-local address (cloud metadata)",
        ),
    ] {
        let saved = app
            .as_user(
                &admin,
                Method::POST,
                &format!("{DEMO}/connections"),
                Some(connection(endpoint)),
            )
            .await;
        assert_eq!(
            saved.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{endpoint}: {}",
            saved.text()
        );
        let problem = saved.json();
        assert_eq!(problem["errors"][0]["field"], "endpoint_url", "{problem}");
        assert_eq!(problem["errors"][0]["code"], "refused", "{problem}");
        let message = problem["errors"][0]["message"].as_str().unwrap();
        assert!(
            message.contains(want) && message.contains("TRELLIS_OUTBOUND_ALLOW"),
            "{endpoint}: {message}"
        );
    }

    // Saved while the platform allowed it; used after it no longer does.
    let app = app.allowing("127.0.0.1/32");
    let admin = app.admin().await;
    let saved = app
        .as_user(
            &admin,
            Method::POST,
            &format!("{DEMO}/connections"),
            Some(connection("http://127.0.0.1:1")),
        )
        .await;
    assert_eq!(saved.status, StatusCode::CREATED, "{}", saved.text());
    let id = saved.json()["id"].as_str().unwrap().to_owned();
    let app = app.allowing("");
    let admin = app.admin().await;
    let tested = app
        .as_user(
            &admin,
            Method::POST,
            &format!("{DEMO}/connections/{id}/test"),
            None,
        )
        .await;
    assert_eq!(tested.status, StatusCode::BAD_GATEWAY, "{}", tested.text());
    let problem = tested.json();
    assert_eq!(problem["errors"][0]["field"], "endpoint_url", "{problem}");
    assert_eq!(problem["errors"][0]["code"], "refused", "{problem}");
    assert!(
        problem["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("refused: 127.0.0.1 is a loopback address"),
        "{problem}"
    );
}
