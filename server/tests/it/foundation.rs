//! The foundation as a client sees it: probes, error bodies, request ids, the
//! schema's constraints, first-start bootstrap and the server-rendered shell —
//! each over SQLite and over PostgreSQL.

use crate::common::{Backend, TestApp};
use app::types::{Role, RunState, TaskState};
use argon2::{PasswordHash, PasswordVerifier};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use server::db::bootstrap::{bootstrap, Bootstrap};
use server::db::{new_id, now, Db};

on_both_backends!(
    healthz_reports_the_version,
    readyz_is_ready_after_migrations,
    readyz_is_unavailable_before_migrations,
    readyz_is_unavailable_when_the_database_is_gone,
    migrations_apply_twice_without_change,
    unknown_api_paths_are_problem_404s,
    every_answer_carries_the_security_headers,
    oversized_bodies_are_problem_413s,
    wrong_methods_are_problem_405s_with_allow,
    request_ids_are_set_or_propagated,
    first_start_creates_demo_tenant_and_admin,
    configured_admin_password_is_used,
    state_checks_match_the_rust_enums,
    tenant_owned_rows_need_a_tenant,
    pages_render_the_shell,
);

fn assert_problem(reply: &crate::common::Reply, status: StatusCode) -> serde_json::Value {
    assert_eq!(reply.status, status, "{}", reply.text());
    assert_eq!(reply.header("content-type"), "application/problem+json");
    let body = reply.json();
    assert_eq!(body["status"], status.as_u16());
    assert!(
        body["title"].as_str().is_some_and(|t| !t.is_empty()),
        "{body}"
    );
    assert_eq!(
        body["request_id"],
        reply.header("x-request-id"),
        "the body names the request"
    );
    body
}

async fn healthz_reports_the_version(backend: Backend) {
    let app = TestApp::start(backend).await;
    let reply = app.get("/healthz").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()["status"], "ok");
    assert_eq!(reply.json()["version"], env!("CARGO_PKG_VERSION"));
}

async fn readyz_is_ready_after_migrations(backend: Backend) {
    let app = TestApp::start(backend).await;
    let reply = app.get("/readyz").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.json()["status"], "ready");
}

async fn readyz_is_unavailable_before_migrations(backend: Backend) {
    let database = crate::common::fresh_database(backend).await;
    let db = Db::connect(&database.url).await.unwrap();
    let app = TestApp::over(db.clone(), database);
    let body = assert_problem(&app.get("/readyz").await, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        body["detail"].as_str().unwrap().contains("migration"),
        "{body}"
    );

    db.migrate().await.unwrap();
    assert_eq!(
        app.get("/readyz").await.status,
        StatusCode::OK,
        "ready as soon as migrations are applied"
    );
}

async fn readyz_is_unavailable_when_the_database_is_gone(backend: Backend) {
    let app = TestApp::start(backend).await;
    app.db.pool.close().await;
    let body = assert_problem(&app.get("/readyz").await, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        body["detail"].as_str().unwrap().contains("unreachable"),
        "{body}"
    );
    assert_eq!(
        app.get("/healthz").await.status,
        StatusCode::OK,
        "liveness does not depend on the database"
    );
}

async fn migrations_apply_twice_without_change(backend: Backend) {
    let app = TestApp::start(backend).await;
    app.db.migrate().await.expect("a second run is a no-op");
    let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(applied as usize, server::db::MIGRATOR.iter().count());
}

async fn unknown_api_paths_are_problem_404s(backend: Backend) {
    let app = TestApp::start(backend).await;
    for path in ["/api/v1/nothing-here", "/api/v2/processes", "/api"] {
        let body = assert_problem(&app.get(path).await, StatusCode::NOT_FOUND);
        assert_eq!(body["detail"], format!("API endpoint GET {path} not found"));
    }
}

async fn every_answer_carries_the_security_headers(backend: Backend) {
    let app = TestApp::start(backend).await;
    // A page, an API answer, an error and a static file alike.
    for path in ["/", "/healthz", "/api/v1/nothing-here", "/login"] {
        let reply = app.get(path).await;
        assert_eq!(reply.header("x-content-type-options"), "nosniff", "{path}");
        assert_eq!(reply.header("x-frame-options"), "DENY", "{path}");
        assert!(
            reply
                .header("content-security-policy")
                .contains("frame-ancestors 'none'"),
            "{path}"
        );
        assert_eq!(
            reply.header("referrer-policy"),
            "strict-origin-when-cross-origin",
            "{path}"
        );
        // Served over plain http here: no HSTS promise.
        assert_eq!(reply.header("strict-transport-security"), "", "{path}");
    }

    // Reached over https (a `https://` public URL): browsers are told to
    // keep to https.
    let mut http = server::config::HttpSettings::default();
    http.auth.secure_cookies = true;
    let state = server::AppState::new(
        app.db.clone(),
        app.state.leptos.clone(),
        http,
        crate::common::engine_settings(app.database.data_dir()),
    );
    let reply = tower::ServiceExt::oneshot(
        server::router(state),
        axum::http::Request::get("/healthz")
            .body(axum::body::Body::empty())
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(
        reply.headers()["strict-transport-security"],
        "max-age=31536000"
    );
}

async fn oversized_bodies_are_problem_413s(backend: Backend) {
    let app = TestApp::start(backend).await;
    let big = format!("{{\"name\": \"{}\"}}", "x".repeat(200 * 1024));
    let reply = app
        .call(Method::POST, "/api/v1/tenants/demo/processes", big)
        .await;
    assert_problem(&reply, StatusCode::PAYLOAD_TOO_LARGE);
}

async fn wrong_methods_are_problem_405s_with_allow(backend: Backend) {
    let app = TestApp::start(backend).await;
    let reply = app.call(Method::DELETE, "/healthz", "").await;
    assert_problem(&reply, StatusCode::METHOD_NOT_ALLOWED);
    assert!(
        reply.header("allow").contains("GET"),
        "allow: {}",
        reply.header("allow")
    );
}

async fn request_ids_are_set_or_propagated(backend: Backend) {
    let app = TestApp::start(backend).await;
    let a = app.get("/healthz").await;
    let b = app.get("/healthz").await;
    assert!(!a.header("x-request-id").is_empty());
    assert_ne!(a.header("x-request-id"), b.header("x-request-id"));

    let given = Request::get("/api/v1/missing")
        .header("x-request-id", "trace-42")
        .body(Body::empty())
        .unwrap();
    let reply = app.send(given).await;
    assert_eq!(reply.header("x-request-id"), "trace-42");
    assert_eq!(reply.json()["request_id"], "trace-42");
}

async fn first_start_creates_demo_tenant_and_admin(backend: Backend) {
    let database = crate::common::fresh_database(backend).await;
    let db = server::open_db(&database.url).await.unwrap();
    let Bootstrap::Created {
        generated_password: Some(password),
    } = bootstrap(&db, None).await.unwrap()
    else {
        panic!("an empty database is bootstrapped with a generated password");
    };
    assert!(password.len() >= 16);

    let (hash, admin): (String, i64) =
        sqlx::query_as("SELECT password_hash, platform_admin FROM users WHERE username = 'admin'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(admin, 1, "admin is a platform admin");
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    let parsed = PasswordHash::new(&hash).unwrap();
    assert!(argon2::Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok());
    assert!(argon2::Argon2::default()
        .verify_password(b"wrong", &parsed)
        .is_err());

    let role: String = sqlx::query_scalar(
        "SELECT m.role FROM memberships m JOIN tenants t ON t.id = m.tenant_id \
         JOIN users u ON u.id = m.user_id WHERE t.slug = 'demo' AND u.username = 'admin'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(role, Role::TenantAdmin.as_str());

    assert_eq!(
        bootstrap(&db, None).await.unwrap(),
        Bootstrap::AlreadyDone,
        "only the first start"
    );
    let users: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(users, 1);
}

async fn configured_admin_password_is_used(backend: Backend) {
    let database = crate::common::fresh_database(backend).await;
    let db = server::open_db(&database.url).await.unwrap();
    let outcome = bootstrap(&db, Some("correct horse".into())).await.unwrap();
    assert_eq!(
        outcome,
        Bootstrap::Created {
            generated_password: None
        }
    );
    let hash: String =
        sqlx::query_scalar("SELECT password_hash FROM users WHERE username = 'admin'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    let parsed = PasswordHash::new(&hash).unwrap();
    assert!(argon2::Argon2::default()
        .verify_password(b"correct horse", &parsed)
        .is_ok());
}

/// Inserts a process, a version and a run in `state`, returning the run id.
async fn insert_run(db: &Db, state: &str) -> Result<String, sqlx::Error> {
    let tenant: String = sqlx::query_scalar("SELECT id FROM tenants WHERE slug = 'demo'")
        .fetch_one(&db.pool)
        .await?;
    let (process, version, run) = (new_id(), new_id(), new_id());
    let at = now();
    sqlx::query("INSERT INTO processes (id, tenant_id, name, draft, created_at, updated_at) VALUES ($1, $2, $3, '{}', $4, $4)")
        .bind(&process)
        .bind(&tenant)
        .bind(format!("p-{process}"))
        .bind(&at)
        .execute(&db.pool)
        .await?;
    sqlx::query(
        "INSERT INTO versions (id, tenant_id, process_id, number, content_hash, graph, dag, created_at) \
         VALUES ($1, $2, $3, 1, 'sha256:0', '{}', '{}', $4)",
    )
    .bind(&version)
    .bind(&tenant)
    .bind(&process)
    .bind(&at)
    .execute(&db.pool)
    .await?;
    sqlx::query(
        "INSERT INTO runs (id, tenant_id, process_id, version_id, state, trigger_type, created_at) \
         VALUES ($1, $2, $3, $4, $5, 'manual', $6)",
    )
    .bind(&run)
    .bind(&tenant)
    .bind(&process)
    .bind(&version)
    .bind(state)
    .bind(&at)
    .execute(&db.pool)
    .await?;
    Ok(run)
}

async fn insert_task(db: &Db, run: &str, key: &str, state: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO task_runs (run_id, task_key, tenant_id, kind, state) \
         SELECT $1, $2, tenant_id, 'submit', $3 FROM runs WHERE id = $1",
    )
    .bind(run)
    .bind(key)
    .bind(state)
    .execute(&db.pool)
    .await
    .map(|_| ())
}

async fn state_checks_match_the_rust_enums(backend: Backend) {
    let app = TestApp::start(backend).await;
    let db = &app.db;
    let mut run = String::new();
    for state in RunState::ALL {
        run = insert_run(db, state.as_str())
            .await
            .unwrap_or_else(|e| panic!("run state {state}: {e}"));
    }
    assert!(
        insert_run(db, "done").await.is_err(),
        "an unknown run state is refused"
    );

    for state in TaskState::ALL {
        insert_task(db, &run, state.as_str(), state.as_str())
            .await
            .unwrap_or_else(|e| panic!("task state {state}: {e}"));
    }
    assert!(
        insert_task(db, &run, "x", "finished").await.is_err(),
        "an unknown task state is refused"
    );
}

async fn tenant_owned_rows_need_a_tenant(backend: Backend) {
    let app = TestApp::start(backend).await;
    let at = now();
    let orphan = sqlx::query(
        "INSERT INTO processes (id, tenant_id, name, draft, created_at, updated_at) VALUES ($1, 'no-such-tenant', 'x', '{}', $2, $2)",
    )
    .bind(new_id())
    .bind(&at)
    .execute(&app.db.pool)
    .await;
    assert!(orphan.is_err(), "foreign keys are enforced");
}

async fn pages_render_the_shell(backend: Backend) {
    let app = TestApp::start(backend).await;
    let reply = app.get("/").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.header("content-type").starts_with("text/html"));
    let html = reply.text();
    for label in ["Processes", "Runs", "Schedules", "Connections"] {
        assert!(
            html.contains(&format!(">{label}</a>")),
            "nav has {label}: {html}"
        );
    }
    // Administration is offered only once the page knows who is signed in.
    assert!(!html.contains(">Admin</a>"), "{html}");
    assert!(
        html.contains(env!("CARGO_PKG_VERSION")),
        "footer shows the version"
    );
    assert!(
        html.contains("/pkg/trellis.js"),
        "the page loads the hydration bundle"
    );

    let page = app.get("/schedules").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text().contains("<h1>Schedules</h1>"));

    let missing = app.get("/no-such-page").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(
        missing.text().contains("Page not found"),
        "unknown pages get the HTML shell, not JSON"
    );
}

#[tokio::test]
async fn sqlite_runs_in_wal_mode_with_foreign_keys() {
    let app = TestApp::start(Backend::Sqlite).await;
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    let fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(fk, 1);
}

/// A page allows its own scripts by a nonce that is new on every response
/// and that every script of the page carries; other answers keep the short
/// policy.
#[tokio::test]
async fn pages_allow_their_scripts_by_a_fresh_nonce() {
    let app = TestApp::start(Backend::Sqlite).await;
    let mut seen: Vec<String> = Vec::new();
    for path in ["/", "/", "/login", "/no-such-page"] {
        let reply = app.get(path).await;
        let policy = reply.header("content-security-policy").to_owned();
        let nonce = policy
            .split("'nonce-")
            .nth(1)
            .and_then(|rest| rest.split('\'').next())
            .unwrap_or_else(|| panic!("{path}: no nonce in `{policy}`"))
            .to_owned();
        assert!(nonce.len() >= 16, "{path}: a short nonce `{nonce}`");
        for directive in [
            "default-src 'self'",
            "'wasm-unsafe-eval'",
            "style-src 'self';",
            "connect-src 'self'",
            "frame-ancestors 'none'",
            "object-src 'none'",
        ] {
            assert!(
                policy.contains(directive),
                "{path}: {directive} in `{policy}`"
            );
        }
        assert!(!policy.contains("unsafe-inline"), "{path}: `{policy}`");

        let html = reply.text();
        let scripts: Vec<&str> = html
            .split("<script")
            .skip(1)
            .map(|tag| tag.split('>').next().unwrap_or_default())
            .collect();
        assert!(!scripts.is_empty(), "{path} has its hydration script");
        for tag in scripts {
            assert!(
                tag.contains(&format!("nonce=\"{nonce}\"")),
                "{path}: <script{tag}> lacks the nonce of `{policy}`"
            );
        }
        assert!(!html.contains(" style=\""), "{path}: an inline style");
        assert!(!seen.contains(&nonce), "{path}: nonce `{nonce}` used twice");
        seen.push(nonce);
    }

    for path in ["/healthz", "/api/v1/nothing-here"] {
        assert_eq!(
            app.get(path).await.header("content-security-policy"),
            "frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'",
            "{path}"
        );
    }
}
