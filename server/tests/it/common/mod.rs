//! Test harness: the real router over a real database — a fresh SQLite file,
//! or a fresh database in a throwaway PostgreSQL cluster (or in the server at
//! `DATABASE_URL` when that names a PostgreSQL server).

#![allow(dead_code)]

pub mod airflow;
pub mod binary;
pub mod emulator;
pub mod pg;
pub mod receivers;

use app::types::TenantId;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use server::config::HttpSettings;
use server::db::Db;
use server::engine::EngineSettings;
use server::AppState;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tower::ServiceExt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// Whether tests on `backend` are turned away: `TRELLIS_TEST_BACKENDS` lists
/// the backends to test (`sqlite`, `postgres`, comma-separated; unset means
/// both, which is what `make test` runs). Prints a "skipped" line naming
/// `test` when they are.
pub fn skipped(backend: Backend, test: &str) -> bool {
    let wanted = match std::env::var("TRELLIS_TEST_BACKENDS") {
        Ok(list) => list.split(',').any(|b| b.trim() == backend.name()),
        Err(_) => true,
    };
    if !wanted {
        println!(
            "skipped: {test} (TRELLIS_TEST_BACKENDS leaves out {})",
            backend.name()
        );
    }
    !wanted
}

/// Runs each named `async fn(Backend)` as two tests, `sqlite::name` and
/// `postgres::name`, each skipped when `TRELLIS_TEST_BACKENDS` leaves it out.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test] async fn $name() {
                let backend = $crate::common::Backend::Sqlite;
                if $crate::common::skipped(backend, concat!(module_path!(), "::", stringify!($name))) {
                    return;
                }
                super::$name(backend).await
            })*
        }
        mod postgres {
            $(#[tokio::test] async fn $name() {
                let backend = $crate::common::Backend::Postgres;
                if $crate::common::skipped(backend, concat!(module_path!(), "::", stringify!($name))) {
                    return;
                }
                super::$name(backend).await
            })*
        }
    };
}

/// A database of its own for one test. Holds the SQLite temp dir alive.
pub struct TestDb {
    pub url: String,
    dir: tempfile::TempDir,
}

impl TestDb {
    /// The test's own data dir (task logs, work dirs; the SQLite file).
    pub fn data_dir(&self) -> std::path::PathBuf {
        self.dir.path().to_owned()
    }
}

pub async fn fresh_database(backend: Backend) -> TestDb {
    let dir = tempfile::tempdir().unwrap();
    let url = match backend {
        Backend::Sqlite => format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("trellis.db").display()
        ),
        Backend::Postgres => pg::fresh_database().await,
    };
    TestDb { url, dir }
}

/// The loopback addresses the test suite's own servers (HTTP sources, the
/// AWS emulator) listen on: allowed by the platform setting, as an operator
/// would allow an internal service.
pub const LOOPBACK_ALLOWED: &str = "127.0.0.1/32,::1/128";

/// The Trellis principal tenants' roles trust, in tests.
pub const PRINCIPAL_ARN: &str = "arn:aws:iam::111111111111:role/trellis-server";

/// The platform's AWS side in tests: the AWS emulator's keys are the
/// server's own credentials (they only assume the connections' roles),
/// static keys on connections are not allowed.
pub fn aws_platform() -> server::aws::Platform {
    server::aws::Platform {
        allow_static_keys: false,
        principal_arn: Some(PRINCIPAL_ARN.into()),
        credentials: Some(aws_sdk_emr::config::Credentials::new(
            emulator::ACCESS_KEY_ID,
            emulator::SECRET_ACCESS_KEY,
            None,
            None,
            "trellis-tests",
        )),
    }
}

/// The engine's settings in tests: the real `trellis` binary, small limits,
/// fast EMR polling, the loopback servers allowed, the emulator's keys as
/// the server's AWS credentials. A test that needs other limits overrides
/// fields.
pub fn engine_settings(data_dir: PathBuf) -> EngineSettings {
    EngineSettings {
        data_dir,
        stop_grace: Duration::from_secs(5),
        trellis_bin: env!("CARGO_BIN_EXE_trellis").into(),
        log_limit: 1 << 20,
        max_running: 64,
        max_running_per_tenant: 16,
        fetch_max_bytes: 1 << 20,
        tenant_quota_bytes: 0,
        fetch_timeout: Duration::from_secs(5),
        task_timeout: Duration::from_secs(6 * 3600),
        process_limits: Default::default(),
        sql_limits: Default::default(),
        outbound: server::outbound::Guard::new(LOOPBACK_ALLOWED.parse().unwrap()),
        sealer: std::sync::Arc::new(server::secrets::Sealer::random()),
        emr_polling: server::executors::emr::Polling {
            min: Duration::from_millis(50),
            max: Duration::from_millis(250),
        },
        aws: aws_platform(),
        db_retry: std::time::Duration::from_secs(30),
        retention_days: 0,
    }
}

/// The application over a migrated, bootstrapped database.
pub struct TestApp {
    pub router: Router,
    pub db: Db,
    pub database: TestDb,
    pub state: AppState,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }
}

fn test_state(db: &Db, engine: EngineSettings) -> AppState {
    let leptos = server::state::leptos_options(
        "127.0.0.1:0".parse().unwrap(),
        std::path::Path::new("target/site"),
    );
    let http = HttpSettings {
        max_body_bytes: 64 * 1024,
        upload_max_bytes: 1 << 20,
        ..HttpSettings::default()
    };
    AppState::new(db.clone(), leptos, http, engine)
}

impl TestApp {
    pub async fn start(backend: Backend) -> TestApp {
        let database = fresh_database(backend).await;
        let db = server::open_db(&database.url)
            .await
            .expect("open and migrate");
        server::db::bootstrap::bootstrap(&db, Some("admin-password".into()))
            .await
            .unwrap();
        TestApp::over(db, database)
    }

    /// The application over `db` exactly as it is (no migration, no bootstrap).
    pub fn over(db: Db, database: TestDb) -> TestApp {
        let engine = engine_settings(database.data_dir());
        let state = test_state(&db, engine);
        TestApp {
            router: server::router(state.clone()),
            db,
            database,
            state,
        }
    }

    /// The same database served again, with the platform allowing only
    /// `allow` of the internal addresses (`TRELLIS_OUTBOUND_ALLOW`; empty:
    /// none). Sessions carry over; connection secrets sealed before do not.
    pub fn allowing(mut self, allow: &str) -> TestApp {
        let engine = EngineSettings {
            outbound: server::outbound::Guard::new(allow.parse().unwrap()),
            ..engine_settings(self.database.data_dir())
        };
        self.state = test_state(&self.db, engine);
        self.router = server::router(self.state.clone());
        self
    }

    /// The same database served again with the engine's settings as
    /// `change` makes them.
    pub fn with_engine(mut self, change: impl FnOnce(EngineSettings) -> EngineSettings) -> TestApp {
        let engine = change(engine_settings(self.database.data_dir()));
        self.state = test_state(&self.db, engine);
        self.router = server::router(self.state.clone());
        self
    }

    /// The same database served again with the platform's AWS side changed
    /// (e.g. static keys allowed). Sessions carry over; connection secrets
    /// sealed before do not.
    pub fn with_aws(self, change: impl FnOnce(&mut server::aws::Platform)) -> TestApp {
        self.with_engine(|mut engine| {
            change(&mut engine.aws);
            engine
        })
    }

    /// The same application with its scheduler on `clock` (tests drive
    /// its passes with `state.scheduler.tick()`).
    pub fn with_scheduler(
        mut self,
        clock: std::sync::Arc<dyn server::scheduler::Clock>,
        settings: server::scheduler::SchedulerSettings,
    ) -> TestApp {
        self.state = self.state.clone().with_scheduler(clock, settings);
        self.router = server::router(self.state.clone());
        self
    }

    /// The same application with other sign-in settings (limits, trusted
    /// proxies).
    pub fn with_auth(mut self, change: impl FnOnce(&mut server::config::AuthSettings)) -> TestApp {
        change(&mut self.state.http.auth);
        self.state.auth = server::access::AuthState::new(self.state.http.auth.clone());
        self.router = server::router(self.state.clone());
        self
    }

    /// The same application with the platform's alert settings (SMTP).
    pub fn with_alerts(mut self, settings: server::alerts::AlertSettings) -> TestApp {
        self.state = self.state.clone().with_alerts(settings).unwrap();
        self.router = server::router(self.state.clone());
        self
    }

    /// Starts the alerts' loop, as `serve` does (this server registered as
    /// alive first, so its claims on deliveries hold); it stops with the
    /// application's shutdown token.
    pub async fn alerts_running(&self) {
        self.state
            .engine
            .heartbeat(Duration::from_secs(30))
            .await
            .unwrap();
        self.state.alerts.spawn(self.state.shutdown.clone());
    }

    /// The same application with other bounds on live streams.
    pub fn with_streams(
        mut self,
        change: impl FnOnce(&mut server::config::StreamSettings),
    ) -> TestApp {
        change(&mut self.state.http.streams);
        self.state.streams = server::streams::Streams::new(self.state.http.streams.clone());
        self.router = server::router(self.state.clone());
        self
    }

    pub async fn send(&self, request: Request<Body>) -> Reply {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec();
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(Request::get(path).body(Body::empty()).unwrap())
            .await
    }

    pub async fn call(&self, method: Method, path: &str, body: impl Into<String>) -> Reply {
        let body = body.into();
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", "application/json")
            .header("content-length", body.len())
            .body(Body::from(body))
            .unwrap();
        self.send(request).await
    }
}

/// A signed-in client: the cookies to send, and the CSRF token a browser
/// would echo from its cookie.
#[derive(Clone, Debug)]
pub struct Session {
    pub cookie: String,
    pub csrf: String,
}

impl TestApp {
    /// Signs in through the API and keeps the session cookie.
    pub async fn login(&self, username: &str, password: &str) -> Session {
        let body = serde_json::json!({ "username": username, "password": password }).to_string();
        let reply = self.call(Method::POST, "/api/v1/auth/login", body).await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "login of {username}: {}",
            reply.text()
        );
        let cookies: Vec<String> = reply
            .headers
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
            .collect();
        let csrf = cookies
            .iter()
            .find_map(|c| c.strip_prefix("trellis_csrf="))
            .expect("a CSRF cookie")
            .to_owned();
        Session {
            cookie: cookies.join("; "),
            csrf,
        }
    }

    /// The bootstrapped platform admin.
    pub async fn admin(&self) -> Session {
        self.login("admin", "admin-password").await
    }

    /// Sends `body` (JSON) as the signed-in `session`.
    pub async fn as_user(
        &self,
        session: &Session,
        method: Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Reply {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header("cookie", &session.cookie)
            .header("x-csrf-token", &session.csrf);
        let body = match body {
            Some(json) => {
                let text = json.to_string();
                request = request
                    .header("content-type", "application/json")
                    .header("content-length", text.len());
                Body::from(text)
            }
            None => Body::empty(),
        };
        self.send(request.body(body).unwrap()).await
    }

    /// Sends `body` (JSON) with an API token.
    pub async fn as_token(
        &self,
        token: &str,
        method: Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Reply {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {token}"));
        let body = match body {
            Some(json) => {
                request = request.header("content-type", "application/json");
                Body::from(json.to_string())
            }
            None => Body::empty(),
        };
        self.send(request.body(body).unwrap()).await
    }

    /// The status of a request, without waiting for its body (which may be
    /// an endless event stream).
    pub async fn status_of(&self, request: Request<Body>) -> StatusCode {
        self.router.clone().oneshot(request).await.unwrap().status()
    }

    pub async fn get_as(&self, session: &Session, path: &str) -> Reply {
        self.as_user(session, Method::GET, path, None).await
    }

    /// Creates a tenant (if new) and a user with `role` in it; returns the
    /// user's session.
    pub async fn member(&self, tenant: &str, username: &str, role: &str) -> Session {
        let at = server::db::now();
        sqlx::query(
            "INSERT INTO tenants (id, slug, name, created_at) SELECT $1, $2, $2, $3 \
             WHERE NOT EXISTS (SELECT 1 FROM tenants WHERE slug = $2)",
        )
        .bind(server::db::new_id())
        .bind(tenant)
        .bind(&at)
        .execute(&self.db.pool)
        .await
        .unwrap();
        let hash = server::db::bootstrap::hash_password("pw".into())
            .await
            .unwrap();
        let user = server::db::new_id();
        sqlx::query(
            "INSERT INTO users (id, username, password_hash, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(&user)
        .bind(username)
        .bind(&hash)
        .bind(&at)
        .execute(&self.db.pool)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO memberships (tenant_id, user_id, role, created_at) \
             SELECT id, $2, $3, $4 FROM tenants WHERE slug = $1",
        )
        .bind(tenant)
        .bind(&user)
        .bind(role)
        .bind(&at)
        .execute(&self.db.pool)
        .await
        .unwrap();
        self.login(username, "pw").await
    }
}

/// The demo tenant's processes, runs and other resources, in its API.
const DEMO: &str = "/api/v1/tenants/demo";

/// The demo tenant's processes and runs through the API.
impl TestApp {
    /// The demo tenant's id.
    pub async fn demo_tenant(&self) -> TenantId {
        let id: String = sqlx::query_scalar("SELECT id FROM tenants WHERE slug = 'demo'")
            .fetch_one(&self.db.pool)
            .await
            .unwrap();
        TenantId::new(id)
    }

    /// Creates a process called `name` with `graph` and publishes it (`version`
    /// is the publish request's body); the process's path.
    pub async fn published(&self, s: &Session, name: &str, graph: Value, version: Value) -> String {
        let p = self
            .as_user(
                s,
                Method::POST,
                &format!("{DEMO}/processes"),
                Some(json!({"name": name, "graph": graph})),
            )
            .await;
        assert_eq!(p.status, StatusCode::CREATED, "{}", p.text());
        let path = format!("{DEMO}/processes/{}", p.json()["id"].as_str().unwrap());
        let v = self
            .as_user(s, Method::POST, &format!("{path}/versions"), Some(version))
            .await;
        assert_eq!(v.status, StatusCode::CREATED, "{}", v.text());
        path
    }

    /// Starts a run of the process at `path`; the run's id.
    pub async fn start_run(&self, s: &Session, path: &str) -> String {
        let r = self
            .as_user(s, Method::POST, &format!("{path}/runs"), Some(json!({})))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        r.json()["id"].as_str().unwrap().to_owned()
    }

    /// Reads the run `run` until `done` holds of it (30 s at most).
    pub async fn wait_for_run(
        &self,
        s: &Session,
        run: &str,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        self.wait_for_run_within(s, run, Duration::from_secs(30), done)
            .await
    }

    /// Reads the run `run` until `done` holds of it (`limit` at most).
    pub async fn wait_for_run_within(
        &self,
        s: &Session,
        run: &str,
        limit: Duration,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let started = Instant::now();
        loop {
            let r = self.get_as(s, &format!("{DEMO}/runs/{run}")).await.json();
            if done(&r) {
                return r;
            }
            assert!(started.elapsed() < limit, "stuck: {r}");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

/// The run (as the API shows it) is over.
pub fn ended(run: &Value) -> bool {
    ["succeeded", "failed", "cancelled"].contains(&run["state"].as_str().unwrap())
}

/// The task `key` of a run as the API shows it.
pub fn task<'a>(run: &'a Value, key: &str) -> &'a Value {
    run["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["key"] == key)
        .unwrap()
}

/// Alive means: the process exists and is not a zombie waiting to be reaped.
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            stat.rsplit(')')
                .next()
                .and_then(|s| s.split_whitespace().next())
                != Some("Z")
        }
        Err(_) => false,
    }
}

impl TestApp {
    /// Creates, as `s`, the demo tenant's connection to the emulator's
    /// `cluster` (see [`emulator::Emulator::connection_body`]); its id.
    pub async fn emulated_connection(
        &self,
        s: &Session,
        aws: &emulator::Emulator,
        cluster: &str,
    ) -> String {
        let created = self
            .as_user(
                s,
                Method::POST,
                &format!("{DEMO}/connections"),
                Some(aws.connection_body(cluster)),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
        created.json()["id"].as_str().unwrap().to_owned()
    }
}
