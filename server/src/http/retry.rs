//! Running a run's work again: retry an ended run from its failed part (the
//! same run goes on), or run it again (a new run of the same version with
//! the same parameters).

use super::json::Json;
use super::runs::{get_run, start_run, RunOf};
use crate::access::EditorAccess;
use crate::db::processes;
use crate::engine::retry::{plan, RetryRefused};
use crate::state::AppState;
use crate::{Error, Result};
use app::api::access::AuditAction;
use app::api::runs::{RetryRun, Run};
use app::api::{FieldError, Problem};
use app::types::graph::Orchestrator;
use app::types::{RunId, RunState};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(retry))
        .routes(routes!(rerun))
}

/// Retries a failed or cancelled run from its failed part: what failed, was
/// cancelled or skipped (and with `from_node`, that node), and everything
/// downstream of it, runs again as the next attempt; what succeeded is kept.
/// The run goes on with the same id and event stream. On Airflow, those
/// tasks are cleared in the same Airflow run, which runs them again.
#[utoipa::path(post, path = "/tenants/{tenant}/runs/{run}/retry", tag = "runs",
    params(super::doc::TenantPath, ("run" = String, Path, description = "The run id")),
    request_body = RetryRun,
    responses((status = 202, body = Run),
        super::doc::Unauthorized,
        super::doc::Forbidden,
        super::doc::NotFound,
        (status = 409, description = "The run is still active or succeeded, or its Airflow is not there to run it", body = Problem, content_type = "application/problem+json"),
        super::doc::Invalid,
        (status = 502, description = "Airflow refused to clear the run's tasks or could not be reached; nothing was changed", body = Problem, content_type = "application/problem+json")))]
async fn retry(
    State(state): State<AppState>,
    access: EditorAccess,
    Path((_, run)): Path<(String, RunId)>,
    Json(body): Json<RetryRun>,
) -> Result<(StatusCode, axum::Json<Run>)> {
    let db = &state.db;
    let stored = get_run(&state, &access, &run).await?;
    match stored.state {
        RunState::Failed | RunState::Cancelled => {}
        RunState::Succeeded => {
            return Err(Error::Conflict {
                field: None,
                message: format!(
                    "run `{run}` succeeded; there is nothing to retry (run it again instead)"
                ),
            })
        }
        active => {
            return Err(Error::Conflict {
                field: None,
                message: format!(
                    "run `{run}` is still {active}; only a failed or cancelled run can be retried"
                ),
            })
        }
    }
    let version = processes::version_get(db, &access.tenant, &stored.process, stored.version)
        .await?
        .ok_or_else(|| Error::NotFound(format!("version {} of run `{run}`", stored.version)))?;
    let from_node = body.from_node.as_deref();
    let tasks = plan(&version.dag, &stored.tasks, from_node).map_err(|e| {
        Error::Validation(vec![FieldError::new(
            "from_node",
            "not_found",
            e.to_string(),
        )])
    })?;
    let (engine, by) = (&state.engine, &access.caller.user_id);
    let retried = if version.graph.orchestrator == Some(Orchestrator::Airflow) {
        match engine
            .retry_airflow(&access.tenant, &stored, &version, &tasks, by)
            .await?
        {
            Ok(retried) => retried,
            Err(RetryRefused::NotRunnable(why)) => {
                return Err(Error::Conflict {
                    field: None,
                    message: format!("run `{run}` cannot run again on Airflow: {why}"),
                })
            }
            Err(RetryRefused::Airflow(why)) => {
                return Err(Error::Upstream(FieldError::new("airflow", "refused", why)))
            }
        }
    } else {
        engine.retry(&access.tenant, &run, &tasks, by).await?
    };
    if !retried {
        let now = get_run(&state, &access, &run).await?;
        return Err(Error::Conflict {
            field: None,
            message: format!("run `{run}` is {} now; it was not retried", now.state),
        });
    }
    access
        .audit(
            db,
            AuditAction::RunRetry,
            run.as_str(),
            Some(serde_json::json!({ "from_node": from_node, "tasks": tasks.len() })),
        )
        .await;
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(get_run(&state, &access, &run).await?),
    ))
}

/// Runs a run again: a new run of the same version with the same given
/// parameters (resolved afresh: defaults, built-ins such as the date), linked
/// to the original by `rerun_of`. Any run, ended or not, can be run again.
#[utoipa::path(post, path = "/tenants/{tenant}/runs/{run}/rerun", tag = "runs",
    params(super::doc::TenantPath, ("run" = String, Path, description = "The run id")),
    responses((status = 201, body = Run),
        super::doc::Unauthorized,
        super::doc::Forbidden,
        super::doc::NotFound,
        (status = 409, description = "The process is archived, or its Airflow version is not deployed", body = Problem, content_type = "application/problem+json"),
        super::doc::Invalid))]
async fn rerun(
    State(state): State<AppState>,
    access: EditorAccess,
    Path((_, run)): Path<(String, RunId)>,
) -> Result<(StatusCode, axum::Json<Run>)> {
    let db = &state.db;
    let original = get_run(&state, &access, &run).await?;
    let process = processes::get(db, &access.tenant, &original.process)
        .await?
        .ok_or_else(|| Error::NotFound(format!("process `{}`", original.process)))?;
    let version = processes::version_get(db, &access.tenant, &original.process, original.version)
        .await?
        .ok_or_else(|| Error::NotFound(format!("version {} of run `{run}`", original.version)))?;
    let given = match original.params {
        serde_json::Value::Object(given) => given,
        _ => serde_json::Map::new(),
    };
    let of = RunOf {
        process: &process,
        version: &version,
        given,
        rerun_of: Some(&run),
    };
    let id = start_run(&state, &access, of).await?;
    access
        .audit(
            db,
            AuditAction::RunRerun,
            id.as_str(),
            Some(serde_json::json!({ "of": run, "version": original.version })),
        )
        .await;
    Ok((
        StatusCode::CREATED,
        axum::Json(get_run(&state, &access, &id).await?),
    ))
}
