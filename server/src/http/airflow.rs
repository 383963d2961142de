//! What the DAG files Trellis renders for Airflow call: one task's state, or
//! the run's start and end, authenticated by the run's own callback token
//! (given to Airflow in the run's conf; it opens nothing but this run).

use super::json::Json;
use crate::db::{self, runs::TaskChange};
use crate::executors::emr::StepRef;
use crate::state::AppState;
use crate::{Error, Result};
use app::api::{FieldError, Problem};
use app::types::{RunId, TaskKey};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use serde::Deserialize;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(report))
}

/// A report from a task of a run on Airflow.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct Report {
    /// `task` (a task's state changed) or `run` (PEntry/PExit ran).
    pub kind: String,
    /// The task id (`PEntry`, `C_<node>`, `W_<node>`, `PExit`).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub task: Option<TaskKey>,
    /// `running`, `succeeded`, `failed`, `up_for_retry` or `skipped`.
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub attempt: Option<i64>,
    #[serde(default)]
    pub error: Option<String>,
    /// The EMR step ids a `C_` task added.
    #[serde(default)]
    pub steps: Option<Vec<String>>,
    /// For `run`: `started` or `finished`.
    #[serde(default)]
    pub event: Option<String>,
}

const STATES: [&str; 5] = ["running", "succeeded", "failed", "up_for_retry", "skipped"];

/// Records a task state a run on Airflow reports (its DAG file's callbacks).
#[utoipa::path(post, path = "/airflow/runs/{run}/report", tag = "runs",
    params(("run" = String, Path, description = "The run id")),
    request_body = Report,
    responses((status = 204, description = "Recorded (or already known)"),
        (status = 401, description = "No valid callback token for this run, or it has expired", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The run has ended", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid report; every problem is listed", body = Problem, content_type = "application/problem+json")))]
async fn report(
    State(state): State<AppState>,
    Path(run): Path<RunId>,
    headers: HeaderMap,
    Json(body): Json<Report>,
) -> Result<StatusCode> {
    let refused = || Error::Unauthorized("no valid callback token for this run".into());
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(refused)?;
    let tenant = db::runs::tenant_of(&state.db, &run)
        .await?
        .ok_or_else(refused)?;
    let now = chrono::Utc::now().timestamp();
    let sealer = state.engine.sealer();
    if !crate::engine::airflow::check_callback_token(sealer, &tenant, &run, token, now) {
        return Err(refused());
    }
    let stored = db::runs::get(&state.db, &tenant, &run)
        .await?
        .ok_or_else(refused)?;
    if stored.state.is_terminal() {
        return Err(Error::Conflict {
            field: None,
            message: format!(
                "run {run} has ended ({}); reports for it are refused",
                stored.state
            ),
        });
    }

    match body.kind.as_str() {
        // The run's own start and end are followed by the engine, which
        // reconciles with Airflow; PEntry's and PExit's task states say more.
        "run" => match body.event.as_deref() {
            Some("started" | "finished") => Ok(StatusCode::NO_CONTENT),
            _ => Err(Error::Validation(vec![FieldError::new(
                "event",
                "invalid",
                "`started` or `finished`",
            )])),
        },
        "task" => {
            let mut errors = Vec::new();
            let task = body.task.as_ref().map_or("", TaskKey::as_str);
            let known = stored.tasks.iter().find(|t| t.key == task);
            if known.is_none() {
                errors.push(FieldError::new(
                    "task",
                    "not_found",
                    format!("run {run} has no task `{task}`"),
                ));
            }
            let state_name = body.state.as_deref().unwrap_or_default();
            if !STATES.contains(&state_name) {
                errors.push(FieldError::new(
                    "state",
                    "invalid",
                    format!("one of {}", STATES.join(", ")),
                ));
            }
            let (Some(known), true) = (known, errors.is_empty()) else {
                return Err(Error::Validation(errors));
            };
            // The step a submit added, as the engine records steps: a stop
            // cancels it.
            let mut reference = None;
            let submits = known.kind == app::types::TaskKind::Submit;
            if let Some(step) = body
                .steps
                .as_ref()
                .and_then(|s| s.first())
                .filter(|_| submits)
            {
                let version =
                    db::processes::version_get(&state.db, &tenant, &stored.process, stored.version)
                        .await?;
                let connection = version
                    .as_ref()
                    .and_then(|v| v.graph.emr_connection().cloned());
                if let Some(connection) = connection {
                    if let Some(c) = db::connections::get(&state.db, &tenant, &connection).await? {
                        reference = Some(
                            StepRef {
                                connection,
                                cluster: c.public.cluster_id,
                                step: step.clone(),
                            }
                            .to_string(),
                        );
                    }
                }
            }
            let error = body.error.as_deref().map(|e| {
                let mut end = e.len().min(4000);
                while !e.is_char_boundary(end) {
                    end -= 1;
                }
                &e[..end]
            });
            state
                .engine
                .airflow_task(
                    &tenant,
                    &run,
                    &known.key,
                    state_name,
                    TaskChange {
                        attempt: body.attempt.filter(|a| *a > 0),
                        external_ref: reference.as_deref(),
                        error,
                    },
                )
                .await?;
            Ok(StatusCode::NO_CONTENT)
        }
        other => Err(Error::Validation(vec![FieldError::new(
            "kind",
            "invalid",
            format!("`task` or `run`, not `{other}`"),
        )])),
    }
}
