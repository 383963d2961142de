//! Where a version to publish would run, checked before it is stored: its
//! connection and orchestrator, each component's platform, data locations
//! the EMR steps can reach, and the PySpark scripts the connection's role
//! must be able to read.

use crate::access::TenantAccess;
use crate::state::AppState;
use crate::Result;
use app::api::FieldError;
use app::types::graph::Orchestrator;

/// Problems with where the graph would run: its connection must exist in
/// the tenant and every node's component must run on EMR; without one, every
/// component must run on the embedded engine.
pub(super) async fn where_it_runs(
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
pub(super) fn emr_locations(graph: &app::types::graph::ProcessGraph) -> Vec<FieldError> {
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
pub(super) async fn scripts_there(
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
