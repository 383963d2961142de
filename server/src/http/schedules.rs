//! Schedules: every member sees them; tenant admins set, pause and delete
//! them. A process has at most one.

use super::doc::{Forbidden, Invalid, NotFound, TenantPath, Unauthorized};
use super::json::Json;
use super::query::Query;
use crate::access::{AdminAccess, TenantAccess};
use crate::db::{processes, schedules};
use crate::scheduler::timing::Timing;
use crate::scheduler::{key, Scheduler};
use crate::state::AppState;
use crate::{Error, Result};
use app::api::access::AuditAction;
use app::api::query::PreviewQuery;
use app::api::schedules::{Schedule, ScheduleInput, SchedulePreview};
use app::api::{FieldError, Problem};
use app::types::ProcessId;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(read, replace, remove))
        .routes(routes!(list))
        .routes(routes!(preview))
}

/// The next 5 fires (UTC, and local in the schedule's zone).
fn upcoming(scheduler: &Scheduler, timing: &Timing) -> (Vec<String>, Vec<String>) {
    let fires = timing.upcoming(scheduler.now(), 5);
    (
        fires.iter().map(|t| key(*t)).collect(),
        fires.iter().map(|t| timing.local(*t)).collect(),
    )
}

async fn view(state: &AppState, s: schedules::Stored) -> Result<Schedule> {
    let timing = state.scheduler.timing(&s.cron, &s.timezone);
    let (next_fires, next_fires_local) = match (&timing, s.enabled) {
        (Some(t), true) => upcoming(&state.scheduler, t),
        _ => (Vec::new(), Vec::new()),
    };
    let recent_fires = schedules::recent_fires(&state.db, &s.tenant, &s.id, 20).await?;
    Ok(Schedule {
        process: s.process,
        process_name: s.process_name,
        description: timing.map(|t| t.describe()).unwrap_or_default(),
        cron: s.cron,
        timezone: s.timezone,
        enabled: s.enabled,
        version: s.version,
        params: s.params,
        catchup: s.catchup,
        max_active_runs: s.max_active_runs,
        when_busy: s.when_busy,
        next_fires,
        next_fires_local,
        recent_fires,
        updated_at: s.updated_at,
        updated_by: s.updated_by,
    })
}

/// The process, unless it does not exist (404) or is archived (409).
pub(super) async fn live_process(
    state: &AppState,
    access: &TenantAccess,
    process: &ProcessId,
) -> Result<processes::ProcessRow> {
    let row = processes::get(&state.db, &access.tenant, process)
        .await?
        .ok_or_else(|| Error::NotFound(format!("process `{process}`")))?;
    if row.summary.archived {
        return Err(Error::Conflict {
            field: None,
            message: format!("process `{process}` is archived"),
        });
    }
    Ok(row)
}

/// The process's schedule.
#[utoipa::path(get, path = "/tenants/{tenant}/processes/{process}/schedule", tag = "schedules",
    params(TenantPath, ("process" = String, Path, description = "The process id")),
    responses((status = 200, body = Schedule),
        Unauthorized,
        (status = 404, description = "No such process, or it has no schedule", body = Problem, content_type = "application/problem+json")))]
async fn read(
    State(state): State<AppState>,
    access: TenantAccess,
    Path((_, process)): Path<(String, ProcessId)>,
) -> Result<axum::Json<Schedule>> {
    processes::get(&state.db, &access.tenant, &process)
        .await?
        .ok_or_else(|| Error::NotFound(format!("process `{process}`")))?;
    let s = schedules::get(&state.db, &access.tenant, &process)
        .await?
        .ok_or_else(|| Error::NotFound(format!("a schedule for process `{process}`")))?;
    Ok(axum::Json(view(&state, s).await?))
}

/// Sets the process's schedule (tenant admins): 201 when it is new, 200
/// when it replaced the old one. A new, resumed or re-timed schedule fires
/// from now on (no catch-up of the old rule).
#[utoipa::path(put, path = "/tenants/{tenant}/processes/{process}/schedule", tag = "schedules",
    request_body = ScheduleInput,
    params(TenantPath, ("process" = String, Path, description = "The process id")),
    responses((status = 200, body = Schedule), (status = 201, body = Schedule),
        Unauthorized,
        Forbidden,
        NotFound,
        (status = 409, description = "The process is archived", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is wrong; the problem names it", body = Problem, content_type = "application/problem+json")))]
async fn replace(
    State(state): State<AppState>,
    access: AdminAccess,
    Path((_, process)): Path<(String, ProcessId)>,
    Json(input): Json<ScheduleInput>,
) -> Result<(StatusCode, axum::Json<Schedule>)> {
    live_process(&state, &access, &process).await?;
    let cron = input.cron.trim().to_owned();
    let timezone = input.timezone.trim().to_owned();
    let mut errors = Timing::parse(&cron, &timezone).err().unwrap_or_default();
    if !(1..=100).contains(&input.max_active_runs) {
        errors.push(FieldError::new("max_active_runs", "range", "from 1 to 100"));
    }
    // The values must fit the declarations of the version it will run (the
    // pinned one, else the latest; nothing to check before a first publish).
    let version = match input.version {
        Some(n) => {
            let found = processes::version_get(&state.db, &access.tenant, &process, n).await?;
            if found.is_none() {
                errors.push(FieldError::new(
                    "version",
                    "not_found",
                    format!("there is no version {n}; leave it empty to run the latest"),
                ));
            }
            found
        }
        None => processes::latest_version(&state.db, &access.tenant, &process).await?,
    };
    if let Some(version) = version {
        if let Err(problems) = app::params::check_run_params(&version.graph.params, &input.params) {
            errors.extend(problems);
        }
    }
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    let created = schedules::put(
        &state.db,
        &access.tenant,
        &process,
        schedules::Fields {
            cron: &cron,
            timezone: &timezone,
            enabled: input.enabled,
            version: input.version,
            params: &input.params,
            max_active_runs: input.max_active_runs,
            when_busy: input.when_busy,
            catchup: input.catchup,
        },
        &access.caller.user_id,
        &key(state.scheduler.now()),
    )
    .await?;
    state.scheduler.changed();
    access
        .audit(
            &state.db,
            AuditAction::ScheduleSet,
            process.as_str(),
            Some(serde_json::json!({
                "cron": cron, "timezone": timezone, "enabled": input.enabled, "version": input.version,
            })),
        )
        .await;
    let s = schedules::get(&state.db, &access.tenant, &process)
        .await?
        .ok_or_else(|| Error::NotFound(format!("a schedule for process `{process}`")))?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, axum::Json(view(&state, s).await?)))
}

/// Deletes the process's schedule (tenant admins); its runs stay.
#[utoipa::path(delete, path = "/tenants/{tenant}/processes/{process}/schedule", tag = "schedules",
    params(TenantPath, ("process" = String, Path, description = "The process id")),
    responses((status = 204, description = "Deleted"),
        Unauthorized,
        Forbidden,
        NotFound))]
async fn remove(
    State(state): State<AppState>,
    access: AdminAccess,
    Path((_, process)): Path<(String, ProcessId)>,
) -> Result<StatusCode> {
    if !schedules::delete(&state.db, &access.tenant, &process).await? {
        return Err(Error::NotFound(format!(
            "a schedule for process `{process}`"
        )));
    }
    state.scheduler.changed();
    access
        .audit(
            &state.db,
            AuditAction::ScheduleDelete,
            process.as_str(),
            None,
        )
        .await;
    Ok(StatusCode::NO_CONTENT)
}

/// Every schedule of the tenant, by process name.
#[utoipa::path(get, path = "/tenants/{tenant}/schedules", tag = "schedules",
    params(TenantPath),
    responses((status = 200, body = [Schedule]),
        Unauthorized,
        NotFound))]
async fn list(
    State(state): State<AppState>,
    access: TenantAccess,
) -> Result<axum::Json<Vec<Schedule>>> {
    let mut out = Vec::new();
    for s in schedules::list(&state.db, &access.tenant).await? {
        out.push(view(&state, s).await?);
    }
    Ok(axum::Json(out))
}

/// What a cron expression means in a time zone: in words, and its next 5
/// fires — for the editor's live preview. 422 names the wrong field.
#[utoipa::path(get, path = "/tenants/{tenant}/schedules/preview", tag = "schedules",
    params(TenantPath, PreviewQuery),
    responses((status = 200, body = SchedulePreview),
        Unauthorized,
        NotFound,
        Invalid))]
async fn preview(
    State(state): State<AppState>,
    _access: TenantAccess,
    Query(q): Query<PreviewQuery>,
) -> Result<axum::Json<SchedulePreview>> {
    let cron = q.cron.unwrap_or_default();
    let timezone = q.timezone.unwrap_or_else(|| "UTC".into());
    let timing = Timing::parse(cron.trim(), timezone.trim()).map_err(Error::Validation)?;
    let (next_fires, next_fires_local) = upcoming(&state.scheduler, &timing);
    Ok(axum::Json(SchedulePreview {
        description: timing.describe(),
        next_fires,
        next_fires_local,
    }))
}
