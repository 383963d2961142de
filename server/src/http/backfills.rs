//! Backfills of a process: editors start and cancel them, every member sees
//! their progress. The scheduler's backfill pass starts the runs.

use super::doc::{Forbidden, Invalid, NotFound, TenantPath, Unauthorized};
use super::json::Json;
use super::query::Query;
use crate::access::{EditorAccess, TenantAccess};
use crate::db::backfills::{self, NewBackfill as Stored};
use crate::db::{processes, schedules};
use crate::executors::CancelMode;
use crate::scheduler::key;
use crate::scheduler::timing::Timing;
use crate::state::AppState;
use crate::time::Timestamp;
use crate::{Error, Result};
use app::api::access::AuditAction;
use app::api::backfills::{Backfill, BackfillPreview, CancelQuery, NewBackfill, MAX_RUNS};
use app::api::runs::StopMode;
use app::api::{FieldError, Problem};
use app::types::ProcessId;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(read))
        .routes(routes!(cancel))
}

fn invalid(field: &str, code: &str, message: impl Into<String>) -> Error {
    Error::Validation(vec![FieldError::new(field, code, message)])
}

/// The checked request: its timing, version and fire times.
struct Checked {
    cron: String,
    timezone: String,
    version: i64,
    fires: Vec<chrono::DateTime<chrono::Utc>>,
    timing: Timing,
}

async fn check(
    state: &AppState,
    access: &TenantAccess,
    process: &ProcessId,
    input: &NewBackfill,
) -> Result<Checked> {
    let mut errors = Vec::new();
    let start = Timestamp::parse(&input.start);
    if start.is_none() {
        errors.push(FieldError::new(
            "start",
            "format",
            "a time such as 2026-10-01T00:00:00Z",
        ));
    }
    let end = Timestamp::parse(&input.end);
    if end.is_none() {
        errors.push(FieldError::new(
            "end",
            "format",
            "a time such as 2026-10-31T23:59:59Z",
        ));
    }
    if let (Some(s), Some(e)) = (start, end) {
        if e.as_datetime() < s.as_datetime() {
            errors.push(FieldError::new(
                "end",
                "order",
                "the range ends before it starts",
            ));
        }
    }
    if !(1..=100).contains(&input.max_active_runs) {
        errors.push(FieldError::new("max_active_runs", "range", "from 1 to 100"));
    }
    let schedule = schedules::get(&state.db, &access.tenant, process).await?;
    let cron = input
        .cron
        .clone()
        .or_else(|| schedule.as_ref().map(|s| s.cron.clone()));
    let timezone = input
        .timezone
        .clone()
        .or_else(|| schedule.as_ref().map(|s| s.timezone.clone()))
        .unwrap_or_else(|| "UTC".into());
    let Some(cron) = cron else {
        errors.push(FieldError::new(
            "cron",
            "no_schedule",
            "the process has no schedule to take the cron expression from; give one",
        ));
        return Err(Error::Validation(errors));
    };
    let timing = match Timing::parse(cron.trim(), timezone.trim()) {
        Ok(t) => Some(t),
        Err(problems) => {
            errors.extend(problems);
            None
        }
    };
    let version = match input.version {
        Some(n) => processes::version_get(&state.db, &access.tenant, process, n).await?,
        None => processes::latest_version(&state.db, &access.tenant, process).await?,
    };
    let Some(version) = version else {
        errors.push(FieldError::new(
            "version",
            "not_found",
            match input.version {
                Some(n) => format!("there is no version {n}"),
                None => "nothing is published yet; publish a version first".into(),
            },
        ));
        return Err(Error::Validation(errors));
    };
    if let Err(problems) = app::params::check_run_params(&version.graph.params, &input.params) {
        errors.extend(problems);
    }
    let (Some(timing), Some(start), Some(end), true) = (timing, start, end, errors.is_empty())
    else {
        return Err(Error::Validation(errors));
    };
    let after = start.as_datetime() - chrono::Duration::milliseconds(1);
    let (fires, more) = timing.fires_between(after, end.as_datetime(), MAX_RUNS, false);
    if more {
        return Err(invalid(
            "end",
            "too_many_runs",
            format!("a backfill makes at most {MAX_RUNS} runs; this range has more fires"),
        ));
    }
    if fires.is_empty() {
        return Err(invalid(
            "end",
            "no_runs",
            "the range holds no fire of the cron expression",
        ));
    }
    Ok(Checked {
        cron: cron.trim().to_owned(),
        timezone: timezone.trim().to_owned(),
        version: version.summary.number,
        fires,
        timing,
    })
}

/// Starts a backfill (201): one run per fire time in the range, started as
/// its `max_active_runs` allows. With `dry_run`, only what it would run (200).
#[utoipa::path(post, path = "/tenants/{tenant}/processes/{process}/backfills", tag = "backfills",
    request_body = NewBackfill,
    params(TenantPath, ("process" = String, Path, description = "The process id")),
    responses((status = 201, body = Backfill), (status = 200, description = "A dry run", body = BackfillPreview),
        Unauthorized, Forbidden, NotFound,
        (status = 409, description = "The process is archived", body = Problem, content_type = "application/problem+json"),
        Invalid))]
async fn create(
    State(state): State<AppState>,
    access: EditorAccess,
    Path((_, process)): Path<(String, ProcessId)>,
    Json(input): Json<NewBackfill>,
) -> Result<Response> {
    super::schedules::live_process(&state, &access, &process).await?;
    let checked = check(&state, &access, &process, &input).await?;
    let (first, last) = (checked.fires[0], checked.fires[checked.fires.len() - 1]);
    if input.dry_run {
        return Ok(axum::Json(BackfillPreview {
            runs: checked.fires.len() as i64,
            first: key(first),
            last: key(last),
            first_local: checked.timing.local(first),
            last_local: checked.timing.local(last),
            cron: checked.cron,
            timezone: checked.timezone,
            version: checked.version,
        })
        .into_response());
    }
    let fires: Vec<String> = checked.fires.iter().map(|t| key(*t)).collect();
    let id = backfills::create(
        &state.db,
        Stored {
            tenant: &access.tenant,
            process: &process,
            start: &Timestamp::parse(&input.start)
                .map(|t| t.to_string())
                .unwrap_or_default(),
            end: &Timestamp::parse(&input.end)
                .map(|t| t.to_string())
                .unwrap_or_default(),
            cron: &checked.cron,
            timezone: &checked.timezone,
            version: checked.version,
            params: &input.params,
            max_active_runs: input.max_active_runs,
            order: input.order,
            by: &access.caller.user_id,
            fires: &fires,
        },
    )
    .await?;
    state.scheduler.changed();
    access
        .audit(
            &state.db,
            AuditAction::BackfillStart,
            &id,
            Some(serde_json::json!({ "process": process, "runs": fires.len(), "version": checked.version })),
        )
        .await;
    let created = backfills::get(&state.db, &access.tenant, &process, &id)
        .await?
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("backfill {id} vanished")))?;
    Ok((StatusCode::CREATED, axum::Json(created)).into_response())
}

/// The process's backfills with their progress, newest first.
#[utoipa::path(get, path = "/tenants/{tenant}/processes/{process}/backfills", tag = "backfills",
    params(TenantPath, ("process" = String, Path, description = "The process id")),
    responses((status = 200, body = [Backfill]), Unauthorized, NotFound))]
async fn list(
    State(state): State<AppState>,
    access: TenantAccess,
    Path((_, process)): Path<(String, ProcessId)>,
) -> Result<axum::Json<Vec<Backfill>>> {
    processes::get(&state.db, &access.tenant, &process)
        .await?
        .ok_or_else(|| Error::NotFound(format!("process `{process}`")))?;
    Ok(axum::Json(
        backfills::list(&state.db, &access.tenant, &process).await?,
    ))
}

async fn found(
    state: &AppState,
    access: &TenantAccess,
    process: &ProcessId,
    id: &str,
) -> Result<Backfill> {
    backfills::get(&state.db, &access.tenant, process, id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("backfill `{id}`")))
}

/// One backfill and its progress.
#[utoipa::path(get, path = "/tenants/{tenant}/processes/{process}/backfills/{backfill}", tag = "backfills",
    params(TenantPath, ("process" = String, Path, description = "The process id"),
        ("backfill" = String, Path, description = "The backfill id")),
    responses((status = 200, body = Backfill), Unauthorized, NotFound))]
async fn read(
    State(state): State<AppState>,
    access: TenantAccess,
    Path((_, process, id)): Path<(String, ProcessId, String)>,
) -> Result<axum::Json<Backfill>> {
    Ok(axum::Json(found(&state, &access, &process, &id).await?))
}

/// Cancels a backfill: what has not started never will; with `mode=stop`
/// its active runs are stopped too (gracefully).
#[utoipa::path(post, path = "/tenants/{tenant}/processes/{process}/backfills/{backfill}/cancel", tag = "backfills",
    params(TenantPath, ("process" = String, Path, description = "The process id"),
        ("backfill" = String, Path, description = "The backfill id"), CancelQuery),
    responses((status = 200, body = Backfill), Unauthorized, Forbidden, NotFound,
        (status = 409, description = "The backfill has already ended", body = Problem, content_type = "application/problem+json"),
        Invalid))]
async fn cancel(
    State(state): State<AppState>,
    access: EditorAccess,
    Path((_, process, id)): Path<(String, ProcessId, String)>,
    Query(q): Query<CancelQuery>,
) -> Result<axum::Json<Backfill>> {
    let stop = match q.mode.as_deref() {
        None | Some("") | Some("pending") => false,
        Some("stop") => true,
        Some(other) => {
            return Err(invalid(
                "mode",
                "enum",
                format!("mode is `pending` or `stop`, not `{other}`"),
            ))
        }
    };
    let current = found(&state, &access, &process, &id).await?;
    let cancelled = backfills::cancel(&state.db, &access.tenant, &id).await?;
    if !cancelled && !stop {
        return Err(Error::Conflict {
            field: None,
            message: format!("backfill `{id}` is already {}", current.state),
        });
    }
    if stop {
        let mode = CancelMode::new(StopMode::Graceful, state.engine.stop_grace());
        for (tenant, run) in backfills::active_runs(&state.db, &id).await? {
            state.engine.stop(&tenant, &run, mode).await?;
        }
    }
    access
        .audit(
            &state.db,
            AuditAction::BackfillCancel,
            &id,
            Some(serde_json::json!({ "process": process, "stop": stop })),
        )
        .await;
    Ok(axum::Json(found(&state, &access, &process, &id).await?))
}
