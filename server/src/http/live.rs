//! Live streams: a run's events over SSE (with `Last-Event-ID` replay from
//! the database, ending with the run), every run's state changes of a
//! tenant, and a task's log followed as it is written (an EMR step's, as its
//! cluster shipped it to S3). Each holds one of the
//! caller's stream slots and ends when the caller's access does.

use super::query::Query;
use super::runs::get_run;
use crate::access::TenantAccess;
use crate::db::runs;
use crate::events::{LogFollower, Published};
use crate::executors::emr::StepRef;
use crate::state::AppState;
use crate::{Error, Result};
use app::api::runs::{EventState, RunEvent};
use app::types::{RunId, TaskKey, TaskState, TenantId};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::broadcast;
use utoipa_axum::{router::OpenApiRouter, routes};

/// How often a log follower looks at the log and the task without being
/// woken: catches what another server sharing the data directory wrote.
const LOG_FALLBACK: Duration = Duration::from_secs(2);

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(events))
        .routes(routes!(tenant_events))
        .routes(routes!(task_log))
}

/// Whether `event` ends its run: the run itself reaching an end state.
fn ends_run(event: &RunEvent) -> bool {
    event.task.is_none() && matches!(event.state, EventState::Run(s) if s.is_terminal())
}

/// What a follower still has to send, and how far it got.
struct Follow {
    state: AppState,
    tenant: TenantId,
    run: RunId,
    live: broadcast::Receiver<Published>,
    backlog: VecDeque<RunEvent>,
    last: i64,
    /// The run's end was sent with nothing after it: the stream is over.
    done: bool,
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
    /// numbering is filled from the database, so nothing is skipped or
    /// repeated. None once the run's end was sent (a retry's later events
    /// come on the next stream).
    async fn next(&mut self) -> Option<RunEvent> {
        if self.done {
            return None;
        }
        let event = self.next_in_order().await?;
        self.done = ends_run(&event) && self.backlog.iter().all(|e| e.seq <= self.last);
        Some(event)
    }

    async fn next_in_order(&mut self) -> Option<RunEvent> {
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

/// The run's events as `text/event-stream`; `Last-Event-ID` resumes after
/// it. The stream ends after the run's final event; resuming after that
/// answers 204 (which tells a browser's `EventSource` to stop reconnecting).
/// It also ends when the caller's access does (checked every
/// `TRELLIS_STREAM_RECHECK_SECONDS`).
#[utoipa::path(get, path = "/tenants/{tenant}/runs/{run}/events", tag = "runs",
    params(super::doc::TenantPath, ("run" = String, Path, description = "The run id"),
        ("Last-Event-ID" = Option<i64>, Header, minimum = 0, description = "Resume after this event number")),
    responses((status = 200, description = "An event stream; each event's id is its number; it ends after the run's final event", content_type = "text/event-stream", body = super::doc::SseEvent),
        (status = 204, description = "The run has ended and nothing follows `Last-Event-ID`"),
        (status = 400, description = "`Last-Event-ID` is not an event number", body = app::api::Problem, content_type = "application/problem+json"),
        super::doc::Unauthorized,
        super::doc::NotFound,
        super::doc::TooManyStreams))]
async fn events(
    State(state): State<AppState>,
    access: TenantAccess,
    Path((_, run)): Path<(String, RunId)>,
    headers: HeaderMap,
) -> Result<Response> {
    let ended = get_run(&state, &access, &run).await?.state.is_terminal();
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
        state: state.clone(),
        tenant: access.tenant.clone(),
        run,
        live,
        backlog: VecDeque::new(),
        last,
        done: false,
    };
    follow.refill().await;
    if ended && follow.backlog.iter().all(|e| e.seq <= last) {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let lease = state.stream_lease(&access)?;
    let stream = futures::stream::unfold(follow, |mut f| async move {
        let event = f.next().await?;
        Some((Ok::<_, Infallible>(to_sse(&event)), f))
    });
    Ok(Sse::new(lease.hold(stream))
        .keep_alive(KeepAlive::default())
        .into_response())
}

/// Run-level state changes of every run of the tenant, live (for list
/// pages), until the caller's access ends.
#[utoipa::path(get, path = "/tenants/{tenant}/events", tag = "runs",
    params(super::doc::TenantPath),
    responses((status = 200, description = "An event stream of run state changes", content_type = "text/event-stream", body = super::doc::SseEvent),
        super::doc::Unauthorized,
        super::doc::NotFound,
        super::doc::TooManyStreams))]
async fn tenant_events(State(state): State<AppState>, access: TenantAccess) -> Result<Response> {
    let lease = state.stream_lease(&access)?;
    let live = state.bus.subscribe();
    let stream = futures::stream::unfold((live, access.tenant), |(mut live, tenant)| async move {
        loop {
            match live.recv().await {
                Ok(p) if p.tenant == tenant && p.event.task.is_none() => {
                    let event = Event::default()
                        .json_data(&p.event)
                        .unwrap_or_else(|_| Event::default());
                    return Some((Ok::<_, Infallible>(event), (live, tenant)));
                }
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    Ok(Sse::new(lease.hold(stream))
        .keep_alive(KeepAlive::default())
        .into_response())
}

#[derive(Deserialize, serde::Serialize, utoipa::IntoParams)]
struct LogQuery {
    /// Keep the response open and send new output until the task ends.
    #[serde(default)]
    follow: bool,
}

/// A task's log (its process's stdout and stderr), as plain text. For a
/// step on EMR: Trellis's notes on the step, then its `stderr`, `stdout` (and
/// `controller` when it failed) as the cluster shipped them to its log
/// location on S3, read with the tenant's role — or a note that EMR has not
/// shipped them yet (they arrive minutes after the step ends).
#[utoipa::path(get, path = "/tenants/{tenant}/runs/{run}/tasks/{task}/log", tag = "runs",
    params(super::doc::TenantPath, ("run" = String, Path, description = "The run id"),
        ("task" = String, Path, description = "The task key"), LogQuery),
    responses((status = 200, description = "The log so far (or, with follow, until the task ends)", content_type = "text/plain"),
        super::doc::Unauthorized,
        super::doc::NotFound,
        super::doc::TooManyStreams))]
async fn task_log(
    State(state): State<AppState>,
    access: TenantAccess,
    Path((_, run, task)): Path<(String, RunId, TaskKey)>,
    Query(q): Query<LogQuery>,
) -> Result<Response> {
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
    let headers = [(
        axum::http::header::CONTENT_TYPE,
        "text/plain; charset=utf-8",
    )];
    let path = state
        .engine
        .log_path(&access.tenant, &run, &app::types::dag::submit_key(&node));
    // A step on EMR: Trellis's notes on it, then what the cluster shipped to
    // its log location (read as it is now; following it is looking again).
    let step = stored
        .tasks
        .iter()
        .filter(|t| t.node.as_deref() == Some(node.as_str()))
        .find_map(|t| t.external_ref.as_deref().and_then(StepRef::parse));
    if let Some(step) = step {
        let failed = stored
            .tasks
            .iter()
            .any(|t| t.node.as_deref() == Some(node.as_str()) && t.state == TaskState::Failed);
        let mut text = tokio::fs::read(&path).await.unwrap_or_default();
        let shipped = state
            .engine
            .emr_step_log(&access.tenant, &step, failed)
            .await
            .unwrap_or_else(|e| format!("Reading the step's logs from its cluster failed: {e}\n"));
        text.extend_from_slice(shipped.as_bytes());
        return Ok((headers, text).into_response());
    }
    if !q.follow {
        let text = tokio::fs::read(&path).await.unwrap_or_default();
        return Ok((headers, text).into_response());
    }
    let lease = state.stream_lease(&access)?;
    // Listen before looking, so no write and no end in between is missed.
    let grown = state.bus.logs().follow(&path);
    let live = state.bus.subscribe();
    let mut follow = LogFollow {
        state: state.clone(),
        tenant: access.tenant.clone(),
        run,
        task: app::types::dag::watch_key(&node),
        path,
        offset: 0,
        ended: false,
        grown,
        live,
        fallback: tokio::time::interval_at(
            tokio::time::Instant::now() + LOG_FALLBACK,
            LOG_FALLBACK,
        ),
    };
    follow.ended = follow.task_ended().await;
    let stream = futures::stream::unfold(follow, |mut f| async move {
        let chunk = f.next().await?;
        Some((Ok::<_, Infallible>(axum::body::Bytes::from(chunk)), f))
    });
    Ok((headers, axum::body::Body::from_stream(lease.hold(stream))).into_response())
}

/// A log being followed: woken by its writer and by its task's end (on this
/// server), and every [`LOG_FALLBACK`] by itself (for another server's).
struct LogFollow {
    state: AppState,
    tenant: TenantId,
    run: RunId,
    /// The task whose end ends the log: the node's watch task.
    task: TaskKey,
    path: PathBuf,
    offset: u64,
    /// The task has ended: one more read, for what was written just before.
    ended: bool,
    grown: LogFollower,
    live: broadcast::Receiver<Published>,
    fallback: tokio::time::Interval,
}

impl LogFollow {
    /// What was written since the last chunk; None once the task has ended
    /// and everything is sent.
    async fn next(&mut self) -> Option<Vec<u8>> {
        loop {
            let chunk = self.read().await;
            if !chunk.is_empty() {
                self.offset += chunk.len() as u64;
                return Some(chunk);
            }
            if self.ended {
                return None;
            }
            tokio::select! {
                _ = self.grown.grown() => {}
                published = self.live.recv() => match published {
                    Ok(p) => {
                        let mine = p.tenant == self.tenant
                            && p.event.run == self.run
                            && p.event.task.as_ref() == Some(&self.task);
                        if mine && matches!(p.event.state, EventState::Task(s) if s.is_terminal()) {
                            self.ended = true;
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        self.ended = self.task_ended().await;
                    }
                    Err(broadcast::error::RecvError::Closed) => self.ended = true,
                },
                _ = self.fallback.tick() => self.ended = self.task_ended().await,
            }
        }
    }

    async fn read(&self) -> Vec<u8> {
        use tokio::io::{AsyncReadExt, AsyncSeekExt};
        let mut chunk = Vec::new();
        if let Ok(mut file) = tokio::fs::File::open(&self.path).await {
            if file
                .seek(std::io::SeekFrom::Start(self.offset))
                .await
                .is_ok()
            {
                let _ = file.read_to_end(&mut chunk).await;
            }
        }
        chunk
    }

    /// Whether the task has ended, as stored (or cannot be read).
    async fn task_ended(&self) -> bool {
        match runs::get(&self.state.db, &self.tenant, &self.run).await {
            Ok(Some(r)) => r
                .tasks
                .iter()
                .find(|t| t.key == self.task)
                .is_none_or(|t| t.state.is_terminal()),
            _ => true,
        }
    }
}
