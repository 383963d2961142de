//! Processes: create, list, read, replace the draft (optimistic concurrency
//! on `revision`), archive.

use super::doc::{Conflict, Forbidden, Invalid, NotFound, TenantPath, Unauthorized};
use super::json::Json;
use super::query::Query;
use crate::access::{EditorAccess, TenantAccess};
use crate::db::{catalog, processes};
use crate::state::AppState;
use crate::{Error, Result};
use app::api::access::AuditAction;
use app::api::processes::{CreateProcess, Process, ProcessSummary, UpdateProcess};
use app::api::FieldError;
use app::types::ProcessId;
use app::validate::{validate_graph, Limits};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(read, replace, archive))
}

const MAX_NAME: usize = 200;

pub(super) fn check_name(name: &str) -> Result<String> {
    let name = name.trim();
    let problem = if name.is_empty() {
        Some(("required", "a process needs a name".to_owned()))
    } else if name.chars().count() > MAX_NAME {
        Some((
            "too_long",
            format!("a name has at most {MAX_NAME} characters"),
        ))
    } else {
        None
    };
    match problem {
        Some((code, message)) => Err(Error::Validation(vec![FieldError::new(
            "name", code, message,
        )])),
        None => Ok(name.to_owned()),
    }
}

/// The process as the API shows it, with what would stop it from publishing.
pub async fn load(state: &AppState, access: &TenantAccess, id: &ProcessId) -> Result<Process> {
    let row = processes::get(&state.db, &access.tenant, id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("process `{id}`")))?;
    let catalog = catalog::list(&state.db).await?;
    let problems = validate_graph(&row.graph, &catalog, &Limits::default());
    let s = row.summary;
    Ok(Process {
        id: s.id,
        name: s.name,
        description: s.description,
        graph: row.graph,
        revision: s.revision,
        created_by: row.created_by,
        created_at: row.created_at,
        updated_at: s.updated_at,
        archived: s.archived,
        latest_version: s.latest_version,
        last_run_state: s.last_run_state,
        problems,
    })
}

#[derive(Deserialize, serde::Serialize)]
struct ListQuery {
    #[serde(default)]
    archived: bool,
}

/// The tenant's processes with their latest version and last run state.
#[utoipa::path(get, path = "/tenants/{tenant}/processes", tag = "processes",
    params(TenantPath, ("archived" = Option<bool>, Query, description = "Include archived processes")),
    responses((status = 200, body = [ProcessSummary]), Unauthorized, NotFound))]
async fn list(
    State(state): State<AppState>,
    access: TenantAccess,
    Query(q): Query<ListQuery>,
) -> Result<axum::Json<Vec<ProcessSummary>>> {
    Ok(axum::Json(
        processes::list(&state.db, &access.tenant, q.archived).await?,
    ))
}

/// Creates a process with a draft (which may still have problems).
#[utoipa::path(post, path = "/tenants/{tenant}/processes", tag = "processes", params(TenantPath),
    request_body = CreateProcess,
    responses((status = 201, body = Process), Unauthorized, Forbidden, NotFound, Conflict, Invalid))]
async fn create(
    State(state): State<AppState>,
    access: EditorAccess,
    Json(body): Json<CreateProcess>,
) -> Result<(StatusCode, axum::Json<Process>)> {
    let name = check_name(&body.name)?;
    created(
        &state,
        &access,
        &name,
        &body.description,
        &body.graph,
        serde_json::json!({ "name": name }),
    )
    .await
}

/// Stores a new process of `access`'s tenant (a taken name is a 409 on
/// `name`), records `detail` in the audit log, and answers 201 with it —
/// for every way a process is made: created, imported, copied, from a
/// template.
pub(super) async fn created(
    state: &AppState,
    access: &TenantAccess,
    name: &str,
    description: &str,
    graph: &app::types::graph::ProcessGraph,
    detail: serde_json::Value,
) -> Result<(StatusCode, axum::Json<Process>)> {
    let id = processes::create(
        &state.db,
        &access.tenant,
        name,
        description,
        graph,
        &access.caller.user_id,
    )
    .await
    .map_err(|e| {
        Error::taken(
            e,
            "name",
            format!("a process named `{name}` already exists"),
        )
    })?;
    access
        .audit(
            &state.db,
            AuditAction::ProcessCreate,
            id.as_str(),
            Some(detail),
        )
        .await;
    Ok((
        StatusCode::CREATED,
        axum::Json(load(state, access, &id).await?),
    ))
}

/// A process with its draft and the draft's problems.
#[utoipa::path(get, path = "/tenants/{tenant}/processes/{process}", tag = "processes", params(TenantPath, ("process" = String, Path, description = "The process id")),
    responses((status = 200, body = Process), Unauthorized, NotFound))]
async fn read(
    State(state): State<AppState>,
    access: TenantAccess,
    Path((_, id)): Path<(String, ProcessId)>,
) -> Result<axum::Json<Process>> {
    Ok(axum::Json(load(&state, &access, &id).await?))
}

/// Replaces the draft if `revision` is current (else 409, and nothing is lost).
#[utoipa::path(put, path = "/tenants/{tenant}/processes/{process}", tag = "processes", params(TenantPath, ("process" = String, Path, description = "The process id")),
    request_body = UpdateProcess,
    responses((status = 200, body = Process), Unauthorized, Forbidden, NotFound, Conflict, Invalid))]
async fn replace(
    State(state): State<AppState>,
    access: EditorAccess,
    Path((_, id)): Path<(String, ProcessId)>,
    Json(body): Json<UpdateProcess>,
) -> Result<axum::Json<Process>> {
    let current = load(&state, &access, &id).await?;
    if current.archived {
        return Err(Error::Conflict {
            field: None,
            message: format!("process `{id}` is archived"),
        });
    }
    let name = match &body.name {
        Some(name) => check_name(name)?,
        None => current.name.clone(),
    };
    let description = body.description.as_ref().unwrap_or(&current.description);
    let graph = body.graph.as_ref().unwrap_or(&current.graph);
    let written = processes::update(
        &state.db,
        &access.tenant,
        &id,
        body.revision,
        &name,
        description,
        graph,
    )
    .await
    .map_err(|e| {
        Error::taken(
            e,
            "name",
            format!("a process named `{name}` already exists"),
        )
    })?;
    if !written {
        return Err(Error::Conflict {
            field: Some("revision".into()),
            message: format!(
                "revision {} is stale: the draft is at revision {}; reload it and apply your change again",
                body.revision, current.revision
            ),
        });
    }
    Ok(axum::Json(load(&state, &access, &id).await?))
}

/// Archives the process; its versions and runs stay.
#[utoipa::path(delete, path = "/tenants/{tenant}/processes/{process}", tag = "processes", params(TenantPath, ("process" = String, Path, description = "The process id")),
    responses((status = 204, description = "Archived"), Unauthorized, Forbidden, NotFound, Conflict))]
async fn archive(
    State(state): State<AppState>,
    access: EditorAccess,
    Path((_, id)): Path<(String, ProcessId)>,
) -> Result<StatusCode> {
    let current = load(&state, &access, &id).await?;
    if current.archived || !processes::archive(&state.db, &access.tenant, &id).await? {
        return Err(Error::Conflict {
            field: None,
            message: format!("process `{id}` is already archived"),
        });
    }
    access
        .audit(&state.db, AuditAction::ProcessArchive, id.as_str(), None)
        .await;
    Ok(StatusCode::NO_CONTENT)
}
