//! Runs: start one of a version, list and read them, stop one (following
//! them live is `live`'s).

use super::json::Json;
use super::query::Query;
use crate::access::{EditorAccess, TenantAccess};
use crate::db::{processes, runs};
use crate::engine::prepare::{prepare, When};
use crate::executors::CancelMode;
use crate::state::AppState;
use crate::time::Timestamp;
use crate::{Error, Result};
use app::api::access::AuditAction;
use app::api::query::{RunListQuery as ListQuery, StopQuery, TenantRunQuery};
use app::api::runs::{Run, RunDay, RunPage, RunSummary, StartRun, StopMode};
use app::api::{FieldError, Problem};
use app::types::{ProcessId, RunId};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, start))
        .routes(routes!(tenant_list))
        .routes(routes!(daily))
        .routes(routes!(read))
        .routes(routes!(stop))
}

pub(super) async fn get_run(state: &AppState, access: &TenantAccess, id: &RunId) -> Result<Run> {
    runs::get(&state.db, &access.tenant, id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("run `{id}`")))
}

/// Starts a run of a version (the latest unless `version` is given).
#[utoipa::path(post, path = "/tenants/{tenant}/processes/{process}/runs", tag = "runs",
    params(super::doc::TenantPath, ("process" = String, Path, description = "The process id")),
    request_body = StartRun,
    responses((status = 201, body = Run),
        super::doc::Unauthorized,
        super::doc::Forbidden,
        super::doc::NotFound,
        (status = 409, description = "Archived, or nothing published yet", body = Problem, content_type = "application/problem+json"),
        super::doc::Invalid))]
async fn start(
    State(state): State<AppState>,
    access: EditorAccess,
    Path((_, process)): Path<(String, ProcessId)>,
    Json(body): Json<StartRun>,
) -> Result<(StatusCode, axum::Json<Run>)> {
    let db = &state.db;
    let row = processes::get(db, &access.tenant, &process)
        .await?
        .ok_or_else(|| Error::NotFound(format!("process `{process}`")))?;
    let version = match body.version {
        Some(n) => processes::version_get(db, &access.tenant, &process, n)
            .await?
            .ok_or_else(|| {
                Error::Validation(vec![FieldError::new(
                    "version",
                    "not_found",
                    format!("there is no version {n}"),
                )])
            })?,
        None => processes::latest_version(db, &access.tenant, &process)
            .await?
            .ok_or_else(|| Error::Conflict {
                field: Some("version".into()),
                message: "nothing is published yet; publish a version first".into(),
            })?,
    };
    let number = version.summary.number;
    let of = RunOf {
        process: &row,
        version: &version,
        given: body.params.unwrap_or_default(),
        rerun_of: None,
    };
    let id = start_run(&state, &access, of).await?;
    access
        .audit(
            db,
            AuditAction::RunStart,
            id.as_str(),
            Some(serde_json::json!({ "process": process, "version": number })),
        )
        .await;
    Ok((
        StatusCode::CREATED,
        axum::Json(get_run(&state, &access, &id).await?),
    ))
}

/// A run to start: of which process and version, with which values, and
/// the run it repeats ("run again").
pub(super) struct RunOf<'a> {
    pub process: &'a processes::ProcessRow,
    pub version: &'a processes::VersionRow,
    pub given: serde_json::Map<String, serde_json::Value>,
    pub rerun_of: Option<&'a RunId>,
}

/// Starts a run of a version, as `POST …/processes/{p}/runs` and "run
/// again" both do: refuses an archived process or an Airflow version that is
/// not deployed (409), resolves the values afresh (422 naming
/// `params.<name>`), stores the run, publishes its first event and
/// launches it; the new run's id.
pub(super) async fn start_run(
    state: &AppState,
    access: &TenantAccess,
    of: RunOf<'_>,
) -> Result<RunId> {
    let db = &state.db;
    let (row, version) = (of.process, of.version);
    let process = &row.summary.id;
    if row.summary.archived {
        return Err(Error::Conflict {
            field: None,
            message: format!("process `{process}` is archived"),
        });
    }
    let number = version.summary.number;
    if version.graph.orchestrator == Some(app::types::graph::Orchestrator::Airflow) {
        use app::api::processes::DeployState;
        let why = match &version.summary.deployment {
            Some(d) if d.state == DeployState::Ready => None,
            Some(d) if d.state == DeployState::Deploying => Some(format!(
                "version {number} is still deploying to Airflow; it can run once Airflow has parsed it"
            )),
            Some(d) if d.state == DeployState::Retired => Some(format!(
                "version {number} was retired from Airflow (a later version replaced it; its DAG is paused \
                 and its file removed): run the latest version, or pin a schedule to a version to keep it"
            )),
            Some(d) => Some(format!(
                "version {number} failed to deploy to Airflow: {}",
                d.error.as_deref().unwrap_or("no reason given")
            )),
            None => Some(format!("version {number} was never deployed to Airflow")),
        };
        if let Some(message) = why {
            return Err(Error::Conflict {
                field: Some("version".into()),
                message,
            });
        }
    }
    let (id, resolved) = prepare(db, version, &row.summary.name, &of.given, When::Now)
        .await?
        .map_err(Error::Validation)?;
    let params = serde_json::Value::Object(of.given);
    let (id, event) = runs::create(
        db,
        runs::NewRun {
            id,
            tenant: &access.tenant,
            process,
            version_id: &version.id,
            version_number: number,
            trigger: access.trigger(),
            params: &params,
            by: Some(&access.caller.user_id),
            dag: &version.dag,
            scheduled_for: None,
            owner: state.engine.server_id(),
            resolved: &resolved,
            rerun_of: of.rerun_of,
        },
    )
    .await?;
    state.bus.publish(&access.tenant, event);
    state.engine.launch(access.tenant.clone(), id.clone());
    Ok(id)
}

/// A process's runs, newest first.
#[utoipa::path(get, path = "/tenants/{tenant}/processes/{process}/runs", tag = "runs",
    params(super::doc::TenantPath, ("process" = String, Path, description = "The process id"), ListQuery),
    responses((status = 200, body = [RunSummary]),
        super::doc::Unauthorized,
        super::doc::NotFound,
        super::doc::Invalid))]
async fn list(
    State(state): State<AppState>,
    access: TenantAccess,
    Path((_, process)): Path<(String, ProcessId)>,
    Query(q): Query<ListQuery>,
) -> Result<axum::Json<Vec<RunSummary>>> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(Error::Validation(vec![FieldError::new(
            "limit",
            "range",
            "limit must be between 1 and 200",
        )]));
    }
    let offset = q.offset.unwrap_or(0);
    if offset < 0 {
        return Err(Error::Validation(vec![FieldError::new(
            "offset",
            "range",
            "offset cannot be negative",
        )]));
    }
    if q.version.is_some_and(|v| v < 1) {
        return Err(Error::Validation(vec![FieldError::new(
            "version",
            "range",
            "version numbers start at 1",
        )]));
    }
    processes::get(&state.db, &access.tenant, &process)
        .await?
        .ok_or_else(|| Error::NotFound(format!("process `{process}`")))?;
    let filter = runs::RunFilter {
        process: &process,
        version: q.version,
        state: q.state,
        limit,
        offset,
    };
    Ok(axum::Json(
        runs::list(&state.db, &access.tenant, filter).await?,
    ))
}

/// The filters and page of `q` (page size, where it starts), or every
/// problem with them.
fn tenant_filter(q: &TenantRunQuery) -> Result<(runs::TenantRunFilter, i64, Option<runs::Cursor>)> {
    let mut errors = Vec::new();
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        errors.push(FieldError::new(
            "limit",
            "range",
            "limit must be between 1 and 200",
        ));
    }
    let cursor = q.before.as_deref().map(runs::Cursor::parse);
    if let Some(None) = cursor {
        errors.push(FieldError::new(
            "before",
            "format",
            "not a page of this list: pass the `next` of the previous page",
        ));
    }
    let states = q.states().unwrap_or_else(|e| {
        let known: Vec<&str> = app::types::RunState::ALL
            .iter()
            .map(|s| s.as_str())
            .collect();
        let message = format!("`{}` is not a run state ({})", e.value, known.join(", "));
        errors.push(FieldError::new("state", "enum", message));
        Vec::new()
    });
    let origins = q.triggers().unwrap_or_else(|e| {
        let known: Vec<&str> = app::api::runs::RunOrigin::ALL
            .iter()
            .map(|s| s.as_str())
            .collect();
        let message = format!("`{}` is not a trigger ({})", e.value, known.join(", "));
        errors.push(FieldError::new("trigger", "enum", message));
        Vec::new()
    });
    if q.version.is_some_and(|v| v < 1) {
        errors.push(FieldError::new(
            "version",
            "range",
            "version numbers start at 1",
        ));
    }
    let mut time = |field: &'static str, text: &Option<String>| {
        let at = Timestamp::parse(text.as_deref()?);
        if at.is_none() {
            errors.push(FieldError::new(
                field,
                "format",
                "a time such as 2026-11-30T00:00:00Z",
            ));
        }
        at
    };
    let (from, to) = (time("from", &q.from), time("to", &q.to));
    if let (Some(from), Some(to)) = (from, to) {
        if to <= from {
            errors.push(FieldError::new(
                "to",
                "order",
                "the range ends before it starts",
            ));
        }
    }
    for (field, text) in [("started_by", &q.started_by), ("q", &q.q)] {
        if text.as_ref().is_some_and(|t| t.chars().count() > 200) {
            errors.push(FieldError::new(field, "length", "at most 200 characters"));
        }
    }
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    let text = |v: &Option<String>| v.clone().filter(|v| !v.trim().is_empty());
    let filter = runs::TenantRunFilter {
        process: text(&q.process).map(ProcessId::new),
        version: q.version,
        states,
        origins,
        started_by: text(&q.started_by),
        from: from.map(|t| t.to_string()),
        to: to.map(|t| t.to_string()),
        text: text(&q.q).map(|t| t.trim().to_owned()),
    };
    Ok((filter, limit, cursor.flatten()))
}

/// The tenant's runs across its processes, newest first, a page at a
/// time (`next` is the following page's `before`).
#[utoipa::path(get, path = "/tenants/{tenant}/runs", tag = "runs",
    params(super::doc::TenantPath, TenantRunQuery),
    responses((status = 200, body = RunPage),
        super::doc::Unauthorized,
        super::doc::NotFound,
        super::doc::Invalid))]
async fn tenant_list(
    State(state): State<AppState>,
    access: TenantAccess,
    Query(q): Query<TenantRunQuery>,
) -> Result<axum::Json<RunPage>> {
    let (filter, limit, cursor) = tenant_filter(&q)?;
    let (runs, next) =
        runs::list_tenant(&state.db, &access.tenant, &filter, cursor.as_ref(), limit).await?;
    Ok(axum::Json(RunPage { runs, next }))
}

/// The tenant's runs (filtered as the list) per day of creation (UTC), by
/// how they ended: the last 30 days unless `from` says otherwise. (`limit`
/// and `before` are checked as the list's, and count nothing here.)
#[utoipa::path(get, path = "/tenants/{tenant}/runs/daily", tag = "runs",
    params(super::doc::TenantPath, TenantRunQuery),
    responses((status = 200, body = [RunDay]),
        super::doc::Unauthorized,
        super::doc::NotFound,
        super::doc::Invalid))]
async fn daily(
    State(state): State<AppState>,
    access: TenantAccess,
    Query(q): Query<TenantRunQuery>,
) -> Result<axum::Json<Vec<RunDay>>> {
    let (mut filter, _, _) = tenant_filter(&q)?;
    if filter.from.is_none() {
        filter.from = Some(Timestamp::ago(chrono::Duration::days(30)).to_string());
    }
    Ok(axum::Json(
        runs::per_day(&state.db, &access.tenant, &filter).await?,
    ))
}

/// A run with every task run.
#[utoipa::path(get, path = "/tenants/{tenant}/runs/{run}", tag = "runs",
    params(super::doc::TenantPath, ("run" = String, Path, description = "The run id")),
    responses((status = 200, body = Run),
        super::doc::Unauthorized,
        super::doc::NotFound))]
async fn read(
    State(state): State<AppState>,
    access: TenantAccess,
    Path((_, run)): Path<(String, RunId)>,
) -> Result<axum::Json<Run>> {
    Ok(axum::Json(get_run(&state, &access, &run).await?))
}

/// Stops a run: it answers `cancelling` at once and ends `cancelled`.
#[utoipa::path(post, path = "/tenants/{tenant}/runs/{run}/stop", tag = "runs",
    params(super::doc::TenantPath, ("run" = String, Path, description = "The run id"), StopQuery),
    responses((status = 202, body = Run),
        super::doc::Unauthorized,
        super::doc::Forbidden,
        super::doc::NotFound,
        (status = 409, description = "The run has already ended or is stopping", body = Problem, content_type = "application/problem+json"),
        super::doc::Invalid))]
async fn stop(
    State(state): State<AppState>,
    access: EditorAccess,
    Path((_, run)): Path<(String, RunId)>,
    Query(q): Query<StopQuery>,
) -> Result<(StatusCode, axum::Json<Run>)> {
    let mode = q.mode().map_err(|e| {
        let modes: Vec<String> = StopMode::ALL.iter().map(|m| format!("`{m}`")).collect();
        let message = format!("mode is {}, not `{}`", modes.join(" or "), e.value);
        Error::Validation(vec![FieldError::new("mode", "enum", message)])
    })?;
    let mode = CancelMode::new(mode, state.engine.stop_grace());
    let current = get_run(&state, &access, &run).await?;
    if state
        .engine
        .stop(&access.tenant, &run, mode)
        .await?
        .is_none()
    {
        return Err(Error::Conflict {
            field: None,
            message: format!("run `{run}` is already {}", current.state),
        });
    }
    access
        .audit(
            &state.db,
            AuditAction::RunStop,
            run.as_str(),
            Some(serde_json::json!({ "mode": mode.mode() })),
        )
        .await;
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(get_run(&state, &access, &run).await?),
    ))
}
