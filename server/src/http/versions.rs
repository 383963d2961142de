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

mod placement;
use placement::{emr_locations, scripts_there, where_it_runs};

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
