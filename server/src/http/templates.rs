//! The tenant's template gallery: the built-in templates and the tenant's
//! own (made from its processes), and new processes from them.

use super::definitions::graph_of;
use super::doc::{Conflict, Forbidden, Invalid, NotFound, TenantPath, Unauthorized};
use super::json::Json;
use super::processes::{check_name, created};
use crate::access::{EditorAccess, TenantAccess};
use crate::db::templates;
use crate::state::AppState;
use crate::{Error, Result};
use app::api::access::AuditAction;
use app::api::processes::Process;
use app::api::templates::{NewTemplate, Template, UseTemplate};
use app::api::FieldError;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(delete))
        .routes(routes!(start))
}

const MAX_DESCRIPTION: usize = 2000;

/// A template of the gallery: built-in, or the tenant's.
async fn find(state: &AppState, access: &TenantAccess, id: &str) -> Result<Template> {
    if let Some(t) = crate::templates::builtin().iter().find(|t| t.id == id) {
        return Ok(t.clone());
    }
    templates::get(&state.db, &access.tenant, id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("template `{id}`")))
}

/// The gallery: the built-in templates, then the tenant's by name.
#[utoipa::path(get, path = "/tenants/{tenant}/templates", tag = "templates", params(TenantPath),
    responses((status = 200, body = [Template]), Unauthorized, NotFound))]
async fn list(
    State(state): State<AppState>,
    access: TenantAccess,
) -> Result<axum::Json<Vec<Template>>> {
    let mut all = crate::templates::builtin().to_vec();
    all.extend(templates::list(&state.db, &access.tenant).await?);
    Ok(axum::Json(all))
}

/// Makes a template of the tenant from a process's draft or version.
#[utoipa::path(post, path = "/tenants/{tenant}/templates", tag = "templates", params(TenantPath),
    request_body = NewTemplate,
    responses((status = 201, body = Template), Unauthorized, Forbidden, NotFound, Conflict, Invalid))]
async fn create(
    State(state): State<AppState>,
    access: EditorAccess,
    Json(body): Json<NewTemplate>,
) -> Result<(StatusCode, axum::Json<Template>)> {
    let name = check_name(&body.name)?;
    if body.description.chars().count() > MAX_DESCRIPTION {
        return Err(Error::Validation(vec![FieldError::new(
            "description",
            "too_long",
            format!("a description has at most {MAX_DESCRIPTION} characters"),
        )]));
    }
    if crate::templates::builtin().iter().any(|t| t.name == name) {
        return Err(Error::Conflict {
            field: Some("name".into()),
            message: format!("`{name}` is the name of a built-in template"),
        });
    }
    let (_, graph) = graph_of(&state, &access, &body.process, body.version)
        .await
        .map_err(|e| match e {
            Error::NotFound(what) => Error::Validation(vec![FieldError::new(
                "process",
                "not_found",
                format!("{what} not found"),
            )]),
            other => other,
        })?;
    let id = templates::insert(
        &state.db,
        &access.tenant,
        &name,
        body.description.trim(),
        &graph,
        &access.caller.user_id,
    )
    .await
    .map_err(|e| {
        Error::taken(
            e,
            "name",
            format!("a template named `{name}` already exists"),
        )
    })?;
    access
        .audit(
            &state.db,
            AuditAction::TemplateCreate,
            &id,
            Some(serde_json::json!({
                "name": name, "process": body.process, "version": body.version,
            })),
        )
        .await;
    Ok((
        StatusCode::CREATED,
        axum::Json(find(&state, &access, &id).await?),
    ))
}

/// Deletes one of the tenant's templates (the built-in ones stay).
#[utoipa::path(delete, path = "/tenants/{tenant}/templates/{template}", tag = "templates",
    params(TenantPath, ("template" = String, Path, description = "The template id")),
    responses((status = 204, description = "Deleted"), Unauthorized, Forbidden, NotFound, Conflict))]
async fn delete(
    State(state): State<AppState>,
    access: EditorAccess,
    Path((_, id)): Path<(String, String)>,
) -> Result<StatusCode> {
    if find(&state, &access, &id).await?.builtin {
        return Err(Error::Conflict {
            field: None,
            message: format!("`{id}` is a built-in template; it cannot be deleted"),
        });
    }
    if !templates::delete(&state.db, &access.tenant, &id).await? {
        return Err(Error::NotFound(format!("template `{id}`")));
    }
    access
        .audit(&state.db, AuditAction::TemplateDelete, &id, None)
        .await;
    Ok(StatusCode::NO_CONTENT)
}

/// A new process from a template: its graph, with the values given for the
/// template's parameters as the process's parameter defaults.
#[utoipa::path(post, path = "/tenants/{tenant}/templates/{template}/processes", tag = "templates",
    params(TenantPath, ("template" = String, Path, description = "The template id")),
    request_body = UseTemplate,
    responses((status = 201, body = Process), Unauthorized, Forbidden, NotFound, Conflict, Invalid))]
async fn start(
    State(state): State<AppState>,
    access: EditorAccess,
    Path((_, id)): Path<(String, String)>,
    Json(body): Json<UseTemplate>,
) -> Result<(StatusCode, axum::Json<Process>)> {
    let template = find(&state, &access, &id).await?;
    let mut problems = Vec::new();
    let name = match check_name(&body.name) {
        Ok(name) => Some(name),
        Err(Error::Validation(errors)) => {
            problems.extend(errors);
            None
        }
        Err(e) => return Err(e),
    };
    let mut graph = template.graph;
    match app::params::check_run_params(&graph.params, &body.params) {
        Ok(values) => {
            for p in &mut graph.params {
                if body.params.contains_key(&p.name) {
                    p.default = values.get(&p.name).cloned();
                }
            }
        }
        Err(errors) => problems.extend(errors),
    }
    let name = match name {
        Some(name) if problems.is_empty() => name,
        _ => return Err(Error::Validation(problems)),
    };
    created(
        &state,
        &access,
        &name,
        &template.description,
        &graph,
        serde_json::json!({ "name": name, "template": id }),
    )
    .await
}
