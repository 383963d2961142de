//! A process as a file, and processes from processes: copy a process (its
//! draft or a version) into this or another tenant, export its definition
//! as JSON or YAML, import a definition with every problem listed before
//! anything is saved.

use super::doc::{Conflict, Forbidden, Invalid, NotFound, TenantPath, Unauthorized};
use super::json::Json;
use super::processes::{check_name, created, load};
use super::query::Query;
use crate::access::{EditorAccess, TenantAccess};
use crate::db::{catalog, connections, processes};
use crate::state::AppState;
use crate::{Error, Result};
use app::api::processes::{CopyProcess, Definition, DefinitionFormat, Process, DEFINITION_FORMAT};
use app::api::query::{DefinitionQuery, ImportQuery};
use app::api::FieldError;
use app::types::graph::ProcessGraph;
use app::types::{ProcessId, Role};
use app::validate::{validate_graph, Limits};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(copy))
        .routes(routes!(export))
        .routes(routes!(import))
}

/// The graph of the draft, or of version `number`.
pub(super) async fn graph_of(
    state: &AppState,
    access: &TenantAccess,
    id: &ProcessId,
    number: Option<i64>,
) -> Result<(Process, ProcessGraph)> {
    let process = load(state, access, id).await?;
    match number {
        None => {
            let graph = process.graph.clone();
            Ok((process, graph))
        }
        Some(n) => {
            let version = processes::version_get(&state.db, &access.tenant, id, n)
                .await?
                .ok_or_else(|| {
                    Error::Validation(vec![FieldError::new(
                        "version",
                        "not_found",
                        format!("process `{id}` has no version {n}"),
                    )])
                })?;
            Ok((process, version.graph))
        }
    }
}

/// Copies the draft (or `version`) into a new process, in the same tenant
/// or in `tenant`, where the caller must be an editor. Schedules, versions
/// and runs stay with the original; the copy is a draft.
#[utoipa::path(post, path = "/tenants/{tenant}/processes/{process}/copy", tag = "processes",
    params(TenantPath, ("process" = String, Path, description = "The process id")),
    request_body = CopyProcess,
    responses((status = 201, body = Process, description = "The copy (in the destination tenant)"),
              Unauthorized, Forbidden, NotFound, Conflict, Invalid))]
async fn copy(
    State(state): State<AppState>,
    access: TenantAccess,
    Path((_, id)): Path<(String, ProcessId)>,
    Json(body): Json<CopyProcess>,
) -> Result<(StatusCode, axum::Json<Process>)> {
    let name = check_name(&body.name)?;
    let (source, mut graph) = graph_of(&state, &access, &id, body.version).await?;
    let into = match body.tenant.as_deref() {
        None => access.clone(),
        Some(slug) if slug == access.slug => access.clone(),
        Some(slug) => TenantAccess::of(&state.db, access.caller.clone(), slug.to_owned())
            .await
            .map_err(|_| unknown_tenant(slug))?,
    };
    let moved = into.tenant != access.tenant;
    match into.require(Role::Editor) {
        Err(_) if moved => return Err(unknown_tenant(&into.slug)),
        other => other?,
    }
    match (&body.connection, &graph.connection) {
        (Some(chosen), _) => {
            if connections::get(&state.db, &into.tenant, chosen)
                .await?
                .is_none()
            {
                return Err(Error::Validation(vec![FieldError::new(
                    "connection",
                    "not_found",
                    format!("tenant `{}` has no connection `{chosen}`", into.slug),
                )]));
            }
            graph.connection = Some(chosen.clone());
        }
        (None, Some(own)) if moved => {
            return Err(Error::Validation(vec![FieldError::new(
                "connection",
                "required",
                format!(
                    "`{}` runs on connection `{own}` of tenant `{}`; name the connection of \
                     tenant `{}` the copy runs on",
                    source.name, access.slug, into.slug
                ),
            )]));
        }
        (None, _) => {}
    }
    created(
        &state,
        &into,
        &name,
        &source.description,
        &graph,
        serde_json::json!({
            "name": name,
            "copied_from": { "tenant": access.slug, "process": id, "version": body.version },
        }),
    )
    .await
}

/// 422 on `tenant` for a tenant the caller cannot copy into (whether it
/// does not exist or they do not edit it: the same answer, so a copy does
/// not tell which tenants exist).
fn unknown_tenant(slug: &str) -> Error {
    Error::Validation(vec![FieldError::new(
        "tenant",
        "not_found",
        format!("you are not an editor of a tenant `{slug}`"),
    )])
}

/// The definition file: `format`, `name`, `description` and `graph`, the
/// same bytes for the same definition (fields in a fixed order, nodes and
/// edges as drawn), ending with a new line.
pub fn definition_text(definition: &Definition, format: DefinitionFormat) -> Result<String> {
    let text = match format {
        DefinitionFormat::Json => {
            serde_json::to_string_pretty(definition).map_err(|e| Error::Internal(e.into()))?
        }
        DefinitionFormat::Yaml => {
            serde_yaml_ng::to_string(definition).map_err(|e| Error::Internal(e.into()))?
        }
    };
    Ok(if text.ends_with('\n') {
        text
    } else {
        text + "\n"
    })
}

/// A file name from a process name: lower case, runs of other characters
/// as one `-`.
fn file_stem(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let out = out.trim_matches('-');
    if out.is_empty() {
        "process".into()
    } else {
        out.chars().take(80).collect()
    }
}

/// The process's definition (its draft's, or a version's) as a file to keep
/// in git or import into another tenant.
#[utoipa::path(get, path = "/tenants/{tenant}/processes/{process}/definition", tag = "processes",
    params(TenantPath, ("process" = String, Path, description = "The process id"), DefinitionQuery),
    responses((status = 200, description = "The definition file",
               content((Definition = "application/json"), (Definition = "application/yaml"))),
              Unauthorized, NotFound, Invalid))]
async fn export(
    State(state): State<AppState>,
    access: TenantAccess,
    Path((_, id)): Path<(String, ProcessId)>,
    Query(q): Query<DefinitionQuery>,
) -> Result<impl axum::response::IntoResponse> {
    let (process, graph) = graph_of(&state, &access, &id, q.version).await?;
    let format = q.format.unwrap_or(DefinitionFormat::Json);
    let definition = Definition {
        format: DEFINITION_FORMAT.into(),
        name: process.name.clone(),
        description: process.description,
        graph,
    };
    let (content_type, extension) = match format {
        DefinitionFormat::Json => ("application/json", "json"),
        DefinitionFormat::Yaml => ("application/yaml; charset=utf-8", "yaml"),
    };
    let version = q.version.map(|n| format!("-v{n}")).unwrap_or_default();
    let disposition = format!(
        "attachment; filename=\"{}{version}.trellis.{extension}\"",
        file_stem(&process.name)
    );
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        definition_text(&definition, format)?,
    ))
}

/// The file's syntax, from its content type.
fn syntax_of(headers: &HeaderMap) -> Result<DefinitionFormat> {
    let kind = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    match kind.as_str() {
        "application/json" => Ok(DefinitionFormat::Json),
        "application/yaml" | "application/x-yaml" | "text/yaml" | "text/x-yaml" => {
            Ok(DefinitionFormat::Yaml)
        }
        _ => Err(Error::UnsupportedMediaType(
            "send the definition as application/json or application/yaml".into(),
        )),
    }
}

fn invalid(field: &str, code: &str, message: impl Into<String>) -> FieldError {
    FieldError::new(field, code, message)
}

/// Reads a definition file, answering every problem it has rather than the
/// first: its syntax, its fields, its graph against the catalog, the
/// tenant's connections and names. `Ok` only when it can be saved as is.
async fn read_definition(
    state: &AppState,
    access: &TenantAccess,
    syntax: DefinitionFormat,
    bytes: &[u8],
    name: Option<String>,
) -> std::result::Result<(String, String, ProcessGraph), Vec<FieldError>> {
    let value: serde_json::Value = match syntax {
        DefinitionFormat::Json => serde_json::from_slice(bytes).map_err(|e| {
            vec![invalid(
                "definition",
                "syntax",
                format!("the file is not valid JSON: {e}"),
            )]
        })?,
        DefinitionFormat::Yaml => serde_yaml_ng::from_slice(bytes).map_err(|e| {
            vec![invalid(
                "definition",
                "syntax",
                format!("the file is not valid YAML: {e}"),
            )]
        })?,
    };
    super::json::refuse_nul(&value).map_err(|e| match e {
        Error::Validation(errors) => errors,
        other => vec![invalid("definition", "invalid", other.to_string())],
    })?;
    let serde_json::Value::Object(mut fields) = value else {
        return Err(vec![invalid(
            "definition",
            "type",
            "a definition is an object with `format`, `name`, `description` and `graph`",
        )]);
    };
    let mut problems = Vec::new();
    match fields.remove("format") {
        Some(serde_json::Value::String(f)) if f == DEFINITION_FORMAT => {}
        Some(other) => problems.push(invalid(
            "format",
            "unsupported",
            format!("`format` is {other}; this server reads `{DEFINITION_FORMAT}`"),
        )),
        None => problems.push(invalid(
            "format",
            "required",
            format!("a definition says `format: {DEFINITION_FORMAT}`"),
        )),
    }
    let file_name = match fields.remove("name") {
        Some(serde_json::Value::String(n)) => Some(n),
        Some(_) => {
            problems.push(invalid("name", "type", "`name` is text"));
            None
        }
        None => None,
    };
    let name = match name.or(file_name) {
        None => {
            problems.push(invalid(
                "name",
                "required",
                "the file has no `name`; give one",
            ));
            None
        }
        Some(n) => match check_name(&n) {
            Ok(n) => Some(n),
            Err(Error::Validation(errors)) => {
                problems.extend(errors);
                None
            }
            Err(e) => return Err(vec![invalid("name", "invalid", e.to_string())]),
        },
    };
    if let Some(n) = &name {
        let taken = processes::list(&state.db, &access.tenant, false)
            .await
            .map_err(|e| vec![invalid("definition", "internal", e.to_string())])?
            .iter()
            .any(|p| &p.name == n);
        if taken {
            problems.push(invalid(
                "name",
                "taken",
                format!("a process named `{n}` already exists; give the import another name"),
            ));
        }
    }
    let description = match fields.remove("description") {
        None | Some(serde_json::Value::Null) => String::new(),
        Some(serde_json::Value::String(d)) => d,
        Some(_) => {
            problems.push(invalid("description", "type", "`description` is text"));
            String::new()
        }
    };
    let graph = match fields.remove("graph") {
        None => {
            problems.push(invalid(
                "graph",
                "required",
                "the file has no `graph` (its nodes and edges)",
            ));
            None
        }
        Some(value) => {
            problems.extend(unknown_graph_fields(&value));
            match serde_path_to_error::deserialize::<_, ProcessGraph>(value) {
                Ok(graph) => Some(graph),
                Err(e) => {
                    let path = e.path().to_string();
                    let field = if path == "." {
                        "graph".to_owned()
                    } else {
                        format!("graph.{path}")
                    };
                    problems.push(invalid(&field, "invalid", e.into_inner().to_string()));
                    None
                }
            }
        }
    };
    for unknown in fields.keys() {
        problems.push(invalid(
            unknown,
            "unknown_field",
            format!("`{unknown}` is not a field of a definition"),
        ));
    }
    if let Some(graph) = &graph {
        let catalog = catalog::list(&state.db)
            .await
            .map_err(|e| vec![invalid("definition", "internal", e.to_string())])?;
        problems.extend(validate_graph(graph, &catalog, &Limits::default()));
        if let Some(c) = &graph.connection {
            let known = connections::get(&state.db, &access.tenant, c)
                .await
                .map_err(|e| vec![invalid("definition", "internal", e.to_string())])?
                .is_some();
            if !known {
                problems.push(invalid(
                    "graph.connection",
                    "not_found",
                    format!(
                        "tenant `{}` has no connection `{c}`; set `graph.connection` to one of its \
                         connections, or remove it to run on this server",
                        access.slug
                    ),
                ));
            }
        }
    }
    match (name, graph) {
        (Some(name), Some(graph)) if problems.is_empty() => Ok((name, description, graph)),
        _ => Err(problems),
    }
}

/// Fields of the graph, its nodes and edges that a graph does not have
/// (serde would drop them: a misspelt `edges` would lose every edge).
fn unknown_graph_fields(graph: &serde_json::Value) -> Vec<FieldError> {
    const GRAPH: &[&str] = &[
        "nodes",
        "edges",
        "connection",
        "local_steps",
        "orchestrator",
        "params",
    ];
    const NODE: &[&str] = &["id", "component", "label", "params", "position"];
    const EDGE: &[&str] = &["from", "to"];
    let mut out = Vec::new();
    let mut check = |value: &serde_json::Value, known: &[&str], at: &str| {
        if let Some(fields) = value.as_object() {
            for key in fields.keys().filter(|k| !known.contains(&k.as_str())) {
                out.push(invalid(
                    &format!("{at}.{key}"),
                    "unknown_field",
                    format!("`{key}` is not a field here (it has {})", known.join(", ")),
                ));
            }
        }
    };
    check(graph, GRAPH, "graph");
    for (list, known) in [("nodes", NODE), ("edges", EDGE)] {
        if let Some(items) = graph.get(list).and_then(|v| v.as_array()) {
            for (i, item) in items.iter().enumerate() {
                check(item, known, &format!("graph.{list}[{i}]"));
            }
        }
    }
    out
}

/// Creates a process from a definition file (JSON or YAML, as exported).
/// Nothing is saved unless the whole file is good: a 422 lists every
/// problem — syntax, fields, the graph's problems as publishing would name
/// them, a connection the tenant does not have, a name already taken.
#[utoipa::path(post, path = "/tenants/{tenant}/processes/import", tag = "processes",
    params(TenantPath, ImportQuery),
    request_body(content((Definition = "application/json"), (Definition = "application/yaml"))),
    responses((status = 201, body = Process), Unauthorized, Forbidden, NotFound, Conflict, Invalid,
              (status = 415, description = "Neither JSON nor YAML", body = app::api::Problem, content_type = "application/problem+json")))]
async fn import(
    State(state): State<AppState>,
    access: EditorAccess,
    Query(q): Query<ImportQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, axum::Json<Process>)> {
    let syntax = syntax_of(&headers)?;
    let (name, description, graph) = read_definition(&state, &access, syntax, &body, q.name)
        .await
        .map_err(Error::Validation)?;
    created(
        &state,
        &access,
        &name,
        &description,
        &graph,
        serde_json::json!({ "name": name, "imported": true }),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_come_from_process_names() {
        assert_eq!(file_stem("Daily orders (EU)"), "daily-orders-eu");
        assert_eq!(file_stem("  ***  "), "process");
        assert_eq!(file_stem("Ünïcode näme"), "n-code-n-me");
    }

    #[test]
    fn a_definition_reads_back_from_both_formats_byte_for_byte() {
        let graph: ProcessGraph = serde_json::from_value(serde_json::json!({
            "nodes": [{"id": "a", "component": "ingest.file", "label": "A",
                       "position": {"x": 1.5, "y": 2.0},
                       "params": {"path": "in.csv", "format": "csv"}}],
            "edges": [],
            "params": [],
        }))
        .unwrap();
        let definition = Definition {
            format: DEFINITION_FORMAT.into(),
            name: "Orders".into(),
            description: "Nightly".into(),
            graph,
        };
        for format in [DefinitionFormat::Json, DefinitionFormat::Yaml] {
            let text = definition_text(&definition, format).unwrap();
            let back: Definition = match format {
                DefinitionFormat::Json => serde_json::from_str(&text).unwrap(),
                DefinitionFormat::Yaml => serde_yaml_ng::from_str(&text).unwrap(),
            };
            assert_eq!(back, definition);
            assert_eq!(definition_text(&back, format).unwrap(), text);
            assert!(text.ends_with('\n'));
        }
    }
}
