//! Runs: start one of a version, list and read them, stop one, and follow its
//! events live over SSE (with `Last-Event-ID` replay from the database).

use super::json::Json;
use crate::access::{EditorAccess, TenantAccess};
use crate::db::{processes, runs};
use crate::engine::prepare::{prepare, When};
use crate::events::Published;
use crate::executors::CancelMode;
use crate::state::AppState;
use crate::{Error, Result};
use app::api::access::AuditAction;
use app::api::query::{RunListQuery as ListQuery, StopQuery};
use app::api::runs::{Run, RunEvent, RunSummary, StartRun, StopMode};
use app::api::{FieldError, Problem};
use app::types::{ProcessId, RunId, TaskKey, TenantId};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use serde::Deserialize;
use std::collections::VecDeque;
use std::convert::Infallible;
use tokio::sync::broadcast;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, start))
        .routes(routes!(read))
        .routes(routes!(stop))
        .routes(routes!(events))
        .routes(routes!(tenant_events))
        .routes(routes!(task_log))
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

/// What a follower still has to send, and how far it got.
struct Follow {
    state: AppState,
    tenant: TenantId,
    run: RunId,
    live: broadcast::Receiver<Published>,
    backlog: VecDeque<RunEvent>,
    last: i64,
}

impl Follow {
    async fn refill(&mut self) {
        if let Ok(events) =
            runs::events_after(&self.state.db, &self.tenant, &self.run, self.last).await
        {
            self.backlog.extend(events);
        }
    }

    /// The next event in order: from the backlog, else live; a gap in the live
    /// numbering is filled from the database, so nothing is skipped or repeated.
    async fn next(&mut self) -> Option<RunEvent> {
        loop {
            if let Some(event) = self.backlog.pop_front() {
                if event.seq == self.last + 1 {
                    self.last = event.seq;
                    return Some(event);
                }
                continue;
            }
            match self.live.recv().await {
                Ok(p) if p.tenant == self.tenant && p.event.run == self.run => {
                    if p.event.seq == self.last + 1 {
                        self.last = p.event.seq;
                        return Some(p.event);
                    }
                    if p.event.seq > self.last {
                        self.refill().await;
                    }
                }
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(_)) => self.refill().await,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }
}

fn to_sse(event: &RunEvent) -> Event {
    Event::default()
        .id(event.seq.to_string())
        .json_data(event)
        .unwrap_or_else(|_| Event::default())
}

/// The run's events as `text/event-stream`; `Last-Event-ID` resumes after it.
#[utoipa::path(get, path = "/tenants/{tenant}/runs/{run}/events", tag = "runs",
    params(super::doc::TenantPath, ("run" = String, Path, description = "The run id"),
        ("Last-Event-ID" = Option<i64>, Header, minimum = 0, description = "Resume after this event number")),
    responses((status = 200, description = "An event stream; each event's id is its number", content_type = "text/event-stream", body = RunEvent),
        super::doc::Unauthorized,
        super::doc::NotFound))]
async fn events(
    State(state): State<AppState>,
    access: TenantAccess,
    Path((_, run)): Path<(String, RunId)>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = std::result::Result<Event, Infallible>>>> {
    get_run(&state, &access, &run).await?;
    let last = match headers
        .get("last-event-id")
        .map(|v| v.to_str().ok().and_then(|s| s.trim().parse::<i64>().ok()))
    {
        None => 0,
        Some(Some(n)) if n >= 0 => n,
        Some(_) => {
            return Err(Error::BadRequest(
                "Last-Event-ID must be an event number".into(),
            ))
        }
    };
    // Subscribe before replaying, so nothing committed in between is missed.
    let live = state.bus.subscribe();
    let mut follow = Follow {
        state,
        tenant: access.tenant,
        run,
        live,
        backlog: VecDeque::new(),
        last,
    };
    follow.refill().await;
    let stream = futures::stream::unfold(follow, |mut f| async move {
        let event = f.next().await?;
        Some((Ok(to_sse(&event)), f))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// Run-level state changes of every run of the tenant, live (for list pages).
#[utoipa::path(get, path = "/tenants/{tenant}/events", tag = "runs",
    params(super::doc::TenantPath),
    responses((status = 200, description = "An event stream of run state changes", content_type = "text/event-stream", body = RunEvent),
        super::doc::Unauthorized,
        super::doc::NotFound))]
async fn tenant_events(
    State(state): State<AppState>,
    access: TenantAccess,
) -> Sse<impl Stream<Item = std::result::Result<Event, Infallible>>> {
    let live = state.bus.subscribe();
    let stream = futures::stream::unfold((live, access.tenant), |(mut live, tenant)| async move {
        loop {
            match live.recv().await {
                Ok(p) if p.tenant == tenant && p.event.task.is_none() => {
                    let event = Event::default()
                        .json_data(&p.event)
                        .unwrap_or_else(|_| Event::default());
                    return Some((Ok(event), (live, tenant)));
                }
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

#[derive(Deserialize, utoipa::IntoParams)]
struct LogQuery {
    /// Keep the response open and send new output until the task ends.
    #[serde(default)]
    follow: bool,
}

/// A task's log (its process's stdout and stderr), as plain text.
#[utoipa::path(get, path = "/tenants/{tenant}/runs/{run}/tasks/{task}/log", tag = "runs",
    params(super::doc::TenantPath, ("run" = String, Path, description = "The run id"),
        ("task" = String, Path, description = "The task key"), LogQuery),
    responses((status = 200, description = "The log so far (or, with follow, until the task ends)", content_type = "text/plain"),
        super::doc::Unauthorized,
        super::doc::NotFound))]
async fn task_log(
    State(state): State<AppState>,
    access: TenantAccess,
    Path((_, run, task)): Path<(String, RunId, TaskKey)>,
    Query(q): Query<LogQuery>,
) -> Result<axum::response::Response> {
    use axum::response::IntoResponse;
    let stored = get_run(&state, &access, &run).await?;
    let found = stored
        .tasks
        .iter()
        .find(|t| t.key == task)
        .ok_or_else(|| Error::NotFound(format!("task `{task}` of run `{run}`")))?;
    let Some(node) = found.node.clone() else {
        return Err(Error::NotFound(format!(
            "a log for task `{task}` (it runs no process)"
        )));
    };
    let path = state
        .engine
        .log_path(&access.tenant, &run, &app::types::dag::submit_key(&node));
    let headers = [(
        axum::http::header::CONTENT_TYPE,
        "text/plain; charset=utf-8",
    )];
    if !q.follow {
        let text = tokio::fs::read(&path).await.unwrap_or_default();
        return Ok((headers, text).into_response());
    }
    let watch_key = app::types::dag::watch_key(&node);
    let follow = (state, access.tenant, run, watch_key, path, 0u64, false);
    let stream = futures::stream::unfold(
        follow,
        |(state, tenant, run, key, path, offset, ended)| async move {
            use tokio::io::{AsyncReadExt, AsyncSeekExt};
            loop {
                let mut chunk = Vec::new();
                if let Ok(mut file) = tokio::fs::File::open(&path).await {
                    if file.seek(std::io::SeekFrom::Start(offset)).await.is_ok() {
                        let _ = file.read_to_end(&mut chunk).await;
                    }
                }
                if !chunk.is_empty() {
                    let next = offset + chunk.len() as u64;
                    return Some((
                        Ok::<_, Infallible>(axum::body::Bytes::from(chunk)),
                        (state, tenant, run, key, path, next, ended),
                    ));
                }
                if ended {
                    return None;
                }
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                let done = match runs::get(&state.db, &tenant, &run).await {
                    Ok(Some(r)) => r
                        .tasks
                        .iter()
                        .find(|t| t.key == key)
                        .is_none_or(|t| t.state.is_terminal()),
                    _ => true,
                };
                // One more read after the end, for what was written just before it.
                if done {
                    return Some((
                        Ok(axum::body::Bytes::new()),
                        (state, tenant, run, key, path, offset, true),
                    ));
                }
            }
        },
    );
    Ok((headers, axum::body::Body::from_stream(stream)).into_response())
}
