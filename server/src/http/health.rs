//! Liveness and readiness probes.

use crate::db::Db;
use crate::state::AppState;
use crate::{Error, Result};
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

/// The process is up.
async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok", "version": app::VERSION }))
}

/// The database answers and every migration is applied; otherwise 503.
async fn readyz(State(db): State<Db>) -> Result<Json<Value>> {
    db.readiness()
        .await
        .map_err(|e| Error::Unavailable(e.to_string()))?;
    Ok(Json(json!({ "status": "ready" })))
}
