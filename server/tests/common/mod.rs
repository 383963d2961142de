//! Test harness: the real router over a real database — a fresh SQLite file,
//! or a fresh database in a throwaway PostgreSQL cluster (or in the server at
//! `DATABASE_URL` when that names a PostgreSQL server).

#![allow(dead_code)]

pub mod pg;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use server::config::HttpSettings;
use server::db::Db;
use server::AppState;
use tower::ServiceExt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs each named `async fn(Backend)` as two tests: `sqlite::name` and `postgres::name`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test] async fn $name() { super::$name($crate::common::Backend::Sqlite).await })*
        }
        mod postgres {
            $(#[tokio::test] async fn $name() { super::$name($crate::common::Backend::Postgres).await })*
        }
    };
}

/// A database of its own for one test. Holds the SQLite temp dir alive.
pub struct TestDb {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

pub async fn fresh_database(backend: Backend) -> TestDb {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let url = format!(
                "sqlite://{}?mode=rwc",
                dir.path().join("trellis.db").display()
            );
            TestDb {
                url,
                _dir: Some(dir),
            }
        }
        Backend::Postgres => TestDb {
            url: pg::fresh_database().await,
            _dir: None,
        },
    }
}

/// The application over a migrated, bootstrapped database.
pub struct TestApp {
    pub router: Router,
    pub db: Db,
    pub database: TestDb,
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
        let leptos = server::state::leptos_options(
            "127.0.0.1:0".parse().unwrap(),
            std::path::Path::new("target/site"),
        );
        let state = AppState::new(
            db.clone(),
            leptos,
            HttpSettings {
                max_body_bytes: 64 * 1024,
            },
        );
        TestApp {
            router: server::router(state),
            db,
            database,
        }
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
