//! Versions: publish the draft as an immutable, numbered version; list, read
//! and diff them. A version is runnable the moment publish answers.

use super::doc::{Conflict, Forbidden, Invalid, NotFound, TenantPath, Unauthorized};
use super::json::Json;
use crate::access::{EditorAccess, TenantAccess};
use crate::airflow;
use crate::db::catalog;
use crate::db::processes::{self, content_hash, NewVersion, VersionRow};
use crate::state::AppState;
use crate::{Error, Result};
use app::api::access::AuditAction;
use app::api::processes::DeployState;
use app::api::processes::{PublishRequest, Version, VersionDiff, VersionSummary};
use app::api::FieldError;
use app::api::Problem;
use app::types::dag::compile;
use app::types::graph::Orchestrator;
use app::types::ProcessId;
use app::validate::{validate_graph, Limits};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, publish))
        .routes(routes!(read))
        .routes(routes!(diff))
        .routes(routes!(airflow_file))
}

const MAX_MESSAGE: usize = 2_000;

fn to_api(row: VersionRow) -> Version {
    let s = row.summary;
    Version {
        number: s.number,
        content_hash: s.content_hash,
        message: s.message,
        created_by: s.created_by,
        created_at: s.created_at,
        graph: row.graph,
        dag: row.dag,
        components: row.components,
        deployment: s.deployment,
    }
}

/// Problems with where the graph would run: its connection must exist in
/// the tenant and every node's component must run on EMR; without one, every
/// component must run on the embedded engine.
async fn where_it_runs(
    state: &AppState,
    access: &TenantAccess,
    graph: &app::types::graph::ProcessGraph,
    components: &[app::types::component::ComponentType],
) -> Result<Vec<FieldError>> {
    let mut errors = Vec::new();
    if graph.orchestrator == Some(Orchestrator::Airflow) {
        if state.engine.airflow().is_none() {
            errors.push(FieldError::new(
                "orchestrator",
                "unavailable",
                "this Trellis server has no Airflow to run on (see TRELLIS_AIRFLOW_URL)",
            ));
        }
        if graph.emr_connection().is_none() {
            errors.push(FieldError::new(
                "connection",
                "required",
                "on Airflow the steps run on EMR: choose a connection's cluster for the process",
            ));
        }
    }
    if graph.local_steps && graph.connection.is_none() {
        errors.push(FieldError::new(
            "local_steps",
            "needs_connection",
            "steps reach S3 through a connection's role: choose the connection, or leave local_steps false",
        ));
    }
    if graph.local_steps && graph.orchestrator == Some(Orchestrator::Airflow) {
        errors.push(FieldError::new(
            "local_steps",
            "not_on_airflow",
            "on Airflow the steps run on the connection's EMR cluster, not on this server",
        ));
    }
    if let Some(connection) = &graph.connection {
        if crate::db::connections::get(&state.db, &access.tenant, connection)
            .await?
            .is_none()
        {
            errors.push(FieldError::new(
                "connection",
                "not_found",
                format!("there is no connection `{connection}` in this tenant"),
            ));
        }
    }
    for node in &graph.nodes {
        let Some(component) = components.iter().find(|c| c.key == node.component) else {
            continue;
        };
        let problem = match (graph.emr_connection(), &component.emr, &component.local) {
            (Some(_), None, _) => Some((
                "component",
                "no_emr",
                format!(
                    "`{}` cannot run on EMR; remove it or run the process on the embedded engine",
                    component.name
                ),
            )),
            (None, _, None) => Some((
                "connection",
                "required",
                format!(
                    "`{}` runs only on EMR; choose a connection for the process",
                    component.name
                ),
            )),
            _ => None,
        };
        if let Some((field, code, message)) = problem {
            let mut error = FieldError::new(field, code, message);
            error.node = Some(node.id.clone());
            errors.push(error);
        }
    }
    Ok(errors)
}

/// Locations the data components' scripts cannot reach on EMR: there a
/// source or destination is an `s3://` location (the tenant's data and
/// export folders exist only on this server, and the cluster posts nowhere).
fn emr_locations(graph: &app::types::graph::ProcessGraph) -> Vec<FieldError> {
    if graph.emr_connection().is_none() {
        return Vec::new();
    }
    let mut errors = Vec::new();
    for node in &graph.nodes {
        let field = match node.component.as_str() {
            "ingest.file" => "source",
            "export.file" => "destination",
            _ => continue,
        };
        let Some(value) = node.params.get(field).and_then(|v| v.as_str()) else {
            continue;
        };
        if value.contains("{{") || value.starts_with("s3://") {
            continue;
        }
        let mut error = FieldError::new(
            format!("params.{field}"),
            "not_on_emr",
            format!(
                "on EMR the {field} is an s3://bucket/key location, not `{value}` (folder paths and URLs work only when the steps run on this server)"
            ),
        );
        error.node = Some(node.id.clone());
        errors.push(error);
    }
    errors
}

/// Problems with the PySpark scripts the process's EMR steps run: each file
/// its data components need at their `script_location` must be readable by
/// the connection's role (a location that refers to the run is checked when
/// it runs).
async fn scripts_there(
    state: &AppState,
    access: &TenantAccess,
    graph: &app::types::graph::ProcessGraph,
    components: &[app::types::component::ComponentType],
) -> Vec<FieldError> {
    let Some(connection) = graph.emr_connection() else {
        return Vec::new();
    };
    // Each file, with the nodes that need it and the folder they name.
    let mut wanted: Vec<(String, Vec<(String, String)>)> = Vec::new();
    for node in &graph.nodes {
        let Some(component) = components.iter().find(|c| c.key == node.component) else {
            continue;
        };
        let location = node
            .params
            .get("script_location")
            .filter(|v| !v.is_null())
            .or_else(|| component.param("script_location")?.default.as_ref())
            .and_then(|v| v.as_str());
        let Some(location) = location.filter(|l| !l.contains("{{")) else {
            continue;
        };
        let location = location.trim_end_matches('/');
        for file in app::catalog::spark_files(component) {
            let url = format!("{location}/{file}");
            let user = (node.id.clone(), location.to_owned());
            match wanted.iter_mut().find(|(u, _)| *u == url) {
                Some((_, users)) => users.push(user),
                None => wanted.push((url, vec![user])),
            }
        }
    }
    if wanted.is_empty() {
        return Vec::new();
    }
    let urls: Vec<String> = wanted.iter().map(|(url, _)| url.clone()).collect();
    match state
        .engine
        .emr_unreadable(&access.tenant, connection, &urls)
        .await
    {
        Ok(unreadable) => unreadable
            .into_iter()
            .flat_map(|(url, why)| {
                let users = wanted
                    .iter()
                    .find(|(u, _)| *u == url)
                    .map(|(_, users)| users.clone())
                    .unwrap_or_default();
                users.into_iter().map(move |(node, location)| {
                    let mut error = FieldError::new(
                        "params.script_location",
                        "script_missing",
                        format!(
                            "{url} {why}: the EMR step runs the PySpark script there; upload the scripts with \
                             `trellis spark upload {location}` or point script_location at a folder holding them"
                        ),
                    );
                    error.node = Some(node);
                    error
                })
            })
            .collect(),
        Err(message) => vec![FieldError::new(
            "connection",
            "unreachable",
            format!("could not check that the PySpark scripts are at their script_location: {message}"),
        )],
    }
}

/// Publishes the draft: validates, compiles and stores version n+1 (201), or
/// answers the latest version unchanged (200) when the content is identical.
#[utoipa::path(post, path = "/tenants/{tenant}/processes/{process}/versions", tag = "versions",
    params(TenantPath, ("process" = String, Path, description = "The process id")), request_body = PublishRequest,
    responses((status = 201, description = "A new version", body = Version),
              (status = 200, description = "Identical to the latest version", body = Version),
              Unauthorized, Forbidden, NotFound, Conflict, Invalid))]
async fn publish(
    State(state): State<AppState>,
    access: EditorAccess,
    Path((_, id)): Path<(String, ProcessId)>,
    Json(body): Json<PublishRequest>,
) -> Result<(StatusCode, axum::Json<Version>)> {
    if body.message.chars().count() > MAX_MESSAGE {
        let message = format!("a message has at most {MAX_MESSAGE} characters");
        return Err(Error::Validation(vec![FieldError::new(
            "message", "too_long", message,
        )]));
    }
    let db = &state.db;
    let process = processes::get(db, &access.tenant, &id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("process `{id}`")))?;
    if process.summary.archived {
        return Err(Error::Conflict {
            field: None,
            message: format!("process `{id}` is archived"),
        });
    }
    let graph = process.graph;
    let components = catalog::list(db).await?;
    let mut errors = validate_graph(&graph, &components, &Limits::default());
    errors.extend(where_it_runs(&state, &access, &graph, &components).await?);
    errors.extend(emr_locations(&graph));
    if errors.is_empty() {
        errors.extend(scripts_there(&state, &access, &graph, &components).await);
    }
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    let dag = compile(&graph)
        .map_err(|e| Error::Internal(anyhow::anyhow!("validated graph failed to compile: {e}")))?;
    let frozen = processes::used_components(&graph, &components);
    let hash = content_hash(&graph, &frozen);

    // Two publishes racing for the same number: the loser sees the unique
    // violation and tries the next number.
    for _ in 0..5 {
        let latest = processes::latest_version(db, &access.tenant, &id).await?;
        if let Some(latest) = latest.as_ref().filter(|v| v.summary.content_hash == hash) {
            // Publishing an unchanged version again retries a failed deployment.
            let failed = latest
                .summary
                .deployment
                .as_ref()
                .is_none_or(|d| d.state == DeployState::Failed);
            if failed && deploy(&state, &access, &id, latest).await? {
                let again = processes::version_get(db, &access.tenant, &id, latest.summary.number)
                    .await?
                    .unwrap_or_else(|| latest.clone());
                return Ok((StatusCode::OK, axum::Json(to_api(again))));
            }
            return Ok((StatusCode::OK, axum::Json(to_api(latest.clone()))));
        }
        let number = latest.map_or(1, |v| v.summary.number + 1);
        let inserted = processes::insert_version(
            db,
            NewVersion {
                tenant: &access.tenant,
                process: &id,
                number,
                content_hash: &hash,
                message: body.message.trim(),
                graph: &graph,
                dag: &dag,
                components: &frozen,
                by: &access.caller.user_id,
            },
        )
        .await;
        match inserted {
            Ok(()) => {
                let lookup = || async {
                    processes::version_get(db, &access.tenant, &id, number)
                        .await?
                        .ok_or_else(|| {
                            Error::Internal(anyhow::anyhow!(
                                "version {number} vanished after insert"
                            ))
                        })
                };
                let mut version = lookup().await?;
                if deploy(&state, &access, &id, &version).await? {
                    version = lookup().await?;
                }
                access
                    .audit(
                        db,
                        AuditAction::Publish,
                        id.as_str(),
                        Some(serde_json::json!({ "version": number, "message": version.summary.message })),
                    )
                    .await;
                return Ok((StatusCode::CREATED, axum::Json(to_api(version))));
            }
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(Error::Conflict {
        field: None,
        message: "too many concurrent publishes; try again".into(),
    })
}

/// Deploys a version orchestrated by Airflow (its file uploaded, the
/// deployment `deploying`); false for other versions.
async fn deploy(
    state: &AppState,
    access: &TenantAccess,
    process: &ProcessId,
    version: &VersionRow,
) -> Result<bool> {
    if version.graph.orchestrator != Some(Orchestrator::Airflow) {
        return Ok(false);
    }
    let Some(airflow) = state.engine.airflow() else {
        return Ok(false);
    };
    let file = airflow::dag_file(&state.db, &access.tenant, &access.slug, process, version).await?;
    let dag_id = airflow::dag_id(&access.slug, process, version.summary.number);
    // The DAG file's Airflow connection is made sure of before the file.
    let connection = match version.graph.emr_connection() {
        Some(c) => {
            state
                .engine
                .sync_airflow_connection(&access.tenant, &access.slug, c)
                .await
        }
        None => Ok(()),
    };
    airflow
        .deploy(
            &state.db,
            &access.tenant,
            &version.id,
            &dag_id,
            file,
            connection,
        )
        .await?;
    Ok(true)
}

async fn process_exists(state: &AppState, access: &TenantAccess, id: &ProcessId) -> Result<()> {
    processes::get(&state.db, &access.tenant, id)
        .await?
        .map(|_| ())
        .ok_or_else(|| Error::NotFound(format!("process `{id}`")))
}

/// The versions of a process, newest first.
#[utoipa::path(get, path = "/tenants/{tenant}/processes/{process}/versions", tag = "versions",
    params(TenantPath, ("process" = String, Path, description = "The process id")), responses((status = 200, body = [VersionSummary]), Unauthorized, NotFound))]
async fn list(
    State(state): State<AppState>,
    access: TenantAccess,
    Path((_, id)): Path<(String, ProcessId)>,
) -> Result<axum::Json<Vec<VersionSummary>>> {
    process_exists(&state, &access, &id).await?;
    Ok(axum::Json(
        processes::versions(&state.db, &access.tenant, &id).await?,
    ))
}

fn parse_number(field: &str, raw: &str) -> Result<i64> {
    raw.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| {
        Error::Validation(vec![FieldError::new(
            field,
            "invalid",
            format!("`{raw}` is not a version number"),
        )])
    })
}

async fn version(
    state: &AppState,
    access: &TenantAccess,
    id: &ProcessId,
    field: &str,
    raw: &str,
) -> Result<VersionRow> {
    let number = parse_number(field, raw)?;
    process_exists(state, access, id).await?;
    processes::version_get(&state.db, &access.tenant, id, number)
        .await?
        .ok_or_else(|| Error::NotFound(format!("version {number} of process `{id}`")))
}

/// A version: its graph and compiled DAG.
#[utoipa::path(get, path = "/tenants/{tenant}/processes/{process}/versions/{number}", tag = "versions",
    params(TenantPath, ("process" = String, Path, description = "The process id"), ("number" = i64, Path, minimum = 1, description = "The version number")),
    responses((status = 200, body = Version), Unauthorized, NotFound, Invalid))]
async fn read(
    State(state): State<AppState>,
    access: TenantAccess,
    Path((_, id, number)): Path<(String, ProcessId, String)>,
) -> Result<axum::Json<Version>> {
    Ok(axum::Json(to_api(
        version(&state, &access, &id, "number", &number).await?,
    )))
}

/// The version rendered as an Airflow 3 DAG file (`PEntry`/`PExit` report to
/// Trellis, each node an `EmrAddStepsOperator` and an `EmrStepSensor` on the
/// version's connection). Any version on EMR renders; the same version always
/// gives the same file.
#[utoipa::path(get, path = "/tenants/{tenant}/processes/{process}/versions/{number}/airflow.py", tag = "versions",
    params(TenantPath, ("process" = String, Path, description = "The process id"), ("number" = i64, Path, minimum = 1, description = "The version number")),
    responses((status = 200, description = "The DAG file", content_type = "text/x-python"), Unauthorized, NotFound,
              (status = 409, description = "The version does not run on EMR, or its connection is gone", body = Problem, content_type = "application/problem+json"), Invalid))]
async fn airflow_file(
    State(state): State<AppState>,
    access: TenantAccess,
    Path((_, id, number)): Path<(String, ProcessId, String)>,
) -> Result<impl axum::response::IntoResponse> {
    use axum::http::header;
    let row = version(&state, &access, &id, "number", &number).await?;
    let n = row.summary.number;
    let file = airflow::dag_file(&state.db, &access.tenant, &access.slug, &id, &row).await?;
    let filename = format!(
        "inline; filename=\"{}.py\"",
        airflow::dag_id(&access.slug, &id, n)
    );
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "text/x-python; charset=utf-8".to_owned(),
            ),
            (header::CONTENT_DISPOSITION, filename),
        ],
        file,
    ))
}

/// What changed from version `a` to version `b`.
#[utoipa::path(get, path = "/tenants/{tenant}/processes/{process}/versions/{a}/diff/{b}", tag = "versions",
    params(TenantPath, ("process" = String, Path, description = "The process id"), ("a" = i64, Path, minimum = 1, description = "From version"), ("b" = i64, Path, minimum = 1, description = "To version")),
    responses((status = 200, body = VersionDiff), Unauthorized, NotFound, Invalid))]
async fn diff(
    State(state): State<AppState>,
    access: TenantAccess,
    Path((_, id, a, b)): Path<(String, ProcessId, String, String)>,
) -> Result<axum::Json<VersionDiff>> {
    let from = version(&state, &access, &id, "a", &a).await?;
    let to = version(&state, &access, &id, "b", &b).await?;
    Ok(axum::Json(VersionDiff {
        from: from.summary.number,
        to: to.summary.number,
        diff: app::diff::diff(&from.graph, &to.graph),
        components_changed: app::diff::component_changes(&from.components, &to.components),
    }))
}
