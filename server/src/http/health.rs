//! Liveness and readiness probes.

use crate::db::Db;
use crate::state::AppState;
use crate::{Error, Result};
use app::api::Problem;
use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, description = "Alive")))]
async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok", "version": app::VERSION }))
}

/// The database answers and every migration is applied; otherwise 503.
#[utoipa::path(get, path = "/readyz", tag = "health", responses(
    (status = 200, description = "Ready"),
    (status = 503, description = "Database unreachable or migrations pending", body = Problem, content_type = "application/problem+json")))]
async fn readyz(State(db): State<Db>) -> Result<Json<Value>> {
    db.readiness()
        .await
        .map_err(|e| Error::Unavailable(e.to_string()))?;
    Ok(Json(json!({ "status": "ready" })))
}
