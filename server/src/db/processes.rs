//! Processes and their immutable versions. Every query takes the tenant id
//! first, so no query can reach another tenant's rows.

use super::{json, new_id, now, optional_text, Db};
use app::api::processes::{Deployment, ProcessSummary, VersionSummary};
use app::types::component::ComponentType;
use app::types::dag::Dag;
use app::types::graph::ProcessGraph;
use app::types::{ProcessId, TenantId, UserId, VersionId};
use sqlx::any::AnyRow;
use sqlx::Row;

/// A stored process with its draft.
#[derive(Debug, Clone)]
pub struct ProcessRow {
    pub summary: ProcessSummary,
    pub graph: ProcessGraph,
    pub created_by: Option<String>,
    pub created_at: String,
}

const SUMMARY: &str = "p.id, p.name, p.description, p.revision, p.updated_at, p.archived_at, \
    (SELECT MAX(v.number) FROM versions v WHERE v.tenant_id = p.tenant_id AND v.process_id = p.id) \
     AS latest_version, \
    (SELECT r.state FROM runs r WHERE r.tenant_id = p.tenant_id AND r.process_id = p.id \
     ORDER BY r.created_at DESC, r.id DESC LIMIT 1) AS last_run_state";

fn summary(row: &AnyRow) -> sqlx::Result<ProcessSummary> {
    Ok(ProcessSummary {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        revision: row.try_get("revision")?,
        updated_at: row.try_get("updated_at")?,
        archived: row.try_get::<Option<String>, _>("archived_at")?.is_some(),
        latest_version: row.try_get("latest_version")?,
        last_run_state: optional_text(row, "last_run_state")?,
    })
}

/// [`ProcessRow`] columns of `processes p LEFT JOIN users u` (creator).
const COLUMNS: &str = "p.draft, u.username AS created_by, p.created_at";

fn from_row(row: &AnyRow) -> sqlx::Result<ProcessRow> {
    Ok(ProcessRow {
        summary: summary(row)?,
        graph: json(row, "draft")?,
        created_by: row.try_get("created_by")?,
        created_at: row.try_get("created_at")?,
    })
}

fn decode(e: serde_json::Error) -> sqlx::Error {
    sqlx::Error::Decode(Box::new(e))
}

/// `sha256:` of the graph's canonical JSON (parameters are sorted maps),
/// followed by that of the frozen component definitions when there are any.
pub fn content_hash(graph: &ProcessGraph, components: &[ComponentType]) -> String {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    hash.update(serde_json::to_vec(graph).expect("graphs serialise"));
    if !components.is_empty() {
        hash.update(serde_json::to_vec(components).expect("components serialise"));
    }
    format!("sha256:{:x}", hash.finalize())
}

/// The catalog entries `graph` uses, by key: what a version freezes.
pub fn used_components(graph: &ProcessGraph, catalog: &[ComponentType]) -> Vec<ComponentType> {
    let used: std::collections::BTreeSet<_> = graph.nodes.iter().map(|n| &n.component).collect();
    let mut out: Vec<ComponentType> = catalog
        .iter()
        .filter(|c| used.contains(&c.key))
        .cloned()
        .collect();
    out.sort_by(|a, b| a.key.cmp(&b.key));
    out
}

pub async fn create(
    db: &Db,
    tenant: &TenantId,
    name: &str,
    description: &str,
    graph: &ProcessGraph,
    by: &UserId,
) -> sqlx::Result<ProcessId> {
    let id = ProcessId::new(new_id());
    let at = now();
    sqlx::query(
        "INSERT INTO processes (id, tenant_id, name, description, draft, revision, created_by, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, 1, $6, $7, $7)",
    )
    .bind(&id)
    .bind(tenant.as_str())
    .bind(name)
    .bind(description)
    .bind(serde_json::to_string(graph).map_err(decode)?)
    .bind(by.as_str())
    .bind(&at)
    .execute(&db.pool)
    .await?;
    Ok(id)
}

/// The tenant's processes by name; archived ones only when asked.
pub async fn list(db: &Db, tenant: &TenantId, archived: bool) -> sqlx::Result<Vec<ProcessSummary>> {
    let filter = if archived {
        ""
    } else {
        " AND p.archived_at IS NULL"
    };
    let rows = sqlx::query(&format!(
        "SELECT {SUMMARY} FROM processes p WHERE p.tenant_id = $1{filter} ORDER BY p.name, p.id"
    ))
    .bind(tenant.as_str())
    .fetch_all(&db.pool)
    .await?;
    rows.iter().map(summary).collect()
}

pub async fn get(db: &Db, tenant: &TenantId, id: &ProcessId) -> sqlx::Result<Option<ProcessRow>> {
    sqlx::query(&format!(
        "SELECT {SUMMARY}, {COLUMNS} FROM processes p \
         LEFT JOIN users u ON u.id = p.created_by WHERE p.tenant_id = $1 AND p.id = $2"
    ))
    .bind(tenant.as_str())
    .bind(id)
    .fetch_optional(&db.pool)
    .await?
    .as_ref()
    .map(from_row)
    .transpose()
}

/// Writes the draft if `revision` is still current; `Ok(false)` if it is stale
/// (or the process is archived).
pub async fn update(
    db: &Db,
    tenant: &TenantId,
    id: &ProcessId,
    revision: i64,
    name: &str,
    description: &str,
    graph: &ProcessGraph,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE processes SET name = $4, description = $5, draft = $6, revision = revision + 1, updated_at = $7 \
         WHERE tenant_id = $1 AND id = $2 AND revision = $3 AND archived_at IS NULL",
    )
    .bind(tenant.as_str())
    .bind(id)
    .bind(revision)
    .bind(name)
    .bind(description)
    .bind(serde_json::to_string(graph).map_err(decode)?)
    .bind(now())
    .execute(&db.pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Archives the process; versions and runs stay. `Ok(false)` if already archived.
pub async fn archive(db: &Db, tenant: &TenantId, id: &ProcessId) -> sqlx::Result<bool> {
    let at = now();
    let done = sqlx::query(
        "UPDATE processes SET archived_at = $3, updated_at = $3 WHERE tenant_id = $1 AND id = $2 AND archived_at IS NULL",
    )
    .bind(tenant.as_str())
    .bind(id)
    .bind(&at)
    .execute(&db.pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The component definitions the runs of `v` use: those it froze, or for a
/// version published before components were frozen, the catalog's.
pub async fn components_of(db: &Db, v: &VersionRow) -> sqlx::Result<Vec<ComponentType>> {
    if v.components.is_empty() {
        super::catalog::list(db).await
    } else {
        Ok(v.components.clone())
    }
}

/// A stored version.
#[derive(Debug, Clone)]
pub struct VersionRow {
    /// The stored id (runs refer to it).
    pub id: VersionId,
    pub summary: VersionSummary,
    pub graph: ProcessGraph,
    pub dag: Dag,
    /// The component definitions frozen at publish, by key; empty for
    /// versions published before components were frozen (they use the
    /// catalog as it is).
    pub components: Vec<ComponentType>,
}

const VERSION_COLUMNS: &str =
    "v.id, v.number, v.content_hash, v.message, u.username AS created_by, v.created_at, v.graph, v.dag, v.components, \
    (SELECT COUNT(*) FROM runs r WHERE r.tenant_id = v.tenant_id AND r.process_id = v.process_id AND r.version_id = v.id) AS runs, \
    d.state AS deploy_state, d.dag_id, d.error AS deploy_error, d.uploaded_at, d.updated_at AS deploy_updated_at";
const VERSION_FROM: &str = "FROM versions v LEFT JOIN users u ON u.id = v.created_by \
    LEFT JOIN deployments d ON d.version_id = v.id";

fn version(row: &AnyRow) -> sqlx::Result<VersionRow> {
    let graph: ProcessGraph = json(row, "graph")?;
    Ok(VersionRow {
        id: row.try_get("id")?,
        summary: VersionSummary {
            number: row.try_get("number")?,
            content_hash: row.try_get("content_hash")?,
            message: row.try_get("message")?,
            created_by: row.try_get("created_by")?,
            created_at: row.try_get("created_at")?,
            runs: row.try_get("runs")?,
            connection: graph.emr_connection().cloned(),
            deployment: deployment(row)?,
        },
        graph,
        dag: json(row, "dag")?,
        components: json(row, "components")?,
    })
}

/// The version's deployment (the `deploy_*` columns), when it has one.
fn deployment(row: &AnyRow) -> sqlx::Result<Option<Deployment>> {
    let Some(state) = optional_text(row, "deploy_state")? else {
        return Ok(None);
    };
    Ok(Some(Deployment {
        state,
        dag_id: row.try_get("dag_id")?,
        error: row.try_get("deploy_error")?,
        uploaded_at: row.try_get("uploaded_at")?,
        updated_at: row.try_get("deploy_updated_at")?,
    }))
}

/// Versions of a process, newest first.
pub async fn versions(
    db: &Db,
    tenant: &TenantId,
    process: &ProcessId,
) -> sqlx::Result<Vec<VersionSummary>> {
    let rows = sqlx::query(&format!(
        "SELECT {VERSION_COLUMNS} {VERSION_FROM} WHERE v.tenant_id = $1 AND v.process_id = $2 ORDER BY v.number DESC"
    ))
    .bind(tenant.as_str())
    .bind(process)
    .fetch_all(&db.pool)
    .await?;
    rows.iter().map(|r| version(r).map(|v| v.summary)).collect()
}

pub async fn version_get(
    db: &Db,
    tenant: &TenantId,
    process: &ProcessId,
    number: i64,
) -> sqlx::Result<Option<VersionRow>> {
    let row = sqlx::query(&format!(
        "SELECT {VERSION_COLUMNS} {VERSION_FROM} WHERE v.tenant_id = $1 AND v.process_id = $2 AND v.number = $3"
    ))
    .bind(tenant.as_str())
    .bind(process)
    .bind(number)
    .fetch_optional(&db.pool)
    .await?;
    row.as_ref().map(version).transpose()
}

pub async fn latest_version(
    db: &Db,
    tenant: &TenantId,
    process: &ProcessId,
) -> sqlx::Result<Option<VersionRow>> {
    let row = sqlx::query(&format!(
        "SELECT {VERSION_COLUMNS} {VERSION_FROM} WHERE v.tenant_id = $1 AND v.process_id = $2 ORDER BY v.number DESC LIMIT 1"
    ))
    .bind(tenant.as_str())
    .bind(process)
    .fetch_optional(&db.pool)
    .await?;
    row.as_ref().map(version).transpose()
}

/// What a publish inserts.
pub struct NewVersion<'a> {
    pub tenant: &'a TenantId,
    pub process: &'a ProcessId,
    pub number: i64,
    pub content_hash: &'a str,
    pub message: &'a str,
    pub graph: &'a ProcessGraph,
    pub dag: &'a Dag,
    pub components: &'a [ComponentType],
    pub by: &'a UserId,
}

pub async fn insert_version(db: &Db, v: NewVersion<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO versions (id, tenant_id, process_id, number, content_hash, message, graph, dag, components, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(new_id())
    .bind(v.tenant.as_str())
    .bind(v.process)
    .bind(v.number)
    .bind(v.content_hash)
    .bind(v.message)
    .bind(serde_json::to_string(v.graph).map_err(decode)?)
    .bind(serde_json::to_string(v.dag).map_err(decode)?)
    .bind(serde_json::to_string(v.components).map_err(decode)?)
    .bind(v.by.as_str())
    .bind(now())
    .execute(&db.pool)
    .await
    .map(|_| ())
}

/// The latest version of every process of the tenant that is not archived:
/// its id, name, number and graph.
pub async fn latest_graphs(
    db: &Db,
    tenant: &TenantId,
) -> sqlx::Result<Vec<(ProcessId, String, i64, ProcessGraph)>> {
    let rows = sqlx::query(
        "SELECT p.id, p.name, v.number, v.graph FROM processes p \
         JOIN versions v ON v.process_id = p.id \
         WHERE p.tenant_id = $1 AND p.archived_at IS NULL \
           AND v.number = (SELECT MAX(n.number) FROM versions n WHERE n.process_id = p.id) \
         ORDER BY p.name, p.id",
    )
    .bind(tenant.as_str())
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok((
                row.try_get("id")?,
                row.try_get("name")?,
                row.try_get("number")?,
                json(row, "graph")?,
            ))
        })
        .collect()
}

/// The graphs of the versions the tenant's active runs run.
pub async fn active_graphs(db: &Db, tenant: &TenantId) -> sqlx::Result<Vec<ProcessGraph>> {
    let rows = sqlx::query(
        "SELECT v.graph FROM versions v WHERE v.id IN (SELECT r.version_id FROM runs r \
         WHERE r.tenant_id = $1 AND r.state IN ('queued', 'running', 'cancelling'))",
    )
    .bind(tenant.as_str())
    .fetch_all(&db.pool)
    .await?;
    rows.iter().map(|row| json(row, "graph")).collect()
}
