//! A tenant's own templates as stored (the built-in ones are carried by the
//! server: `crate::templates`).

use super::{json, new_id, now, Db};
use app::api::templates::Template;
use app::types::graph::ProcessGraph;
use app::types::{TenantId, UserId};
use sqlx::any::AnyRow;
use sqlx::Row;

fn from_row(row: &AnyRow) -> sqlx::Result<Template> {
    Ok(Template {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        builtin: false,
        graph: json(row, "graph")?,
        created_by: row.try_get("created_by")?,
        created_at: Some(row.try_get("created_at")?),
    })
}

const SELECT: &str = "SELECT t.id, t.name, t.description, t.graph, u.username AS created_by, \
     t.created_at FROM templates t LEFT JOIN users u ON u.id = t.created_by";

/// The tenant's templates by name.
pub async fn list(db: &Db, tenant: &TenantId) -> sqlx::Result<Vec<Template>> {
    sqlx::query(&format!("{SELECT} WHERE t.tenant_id = $1 ORDER BY t.name"))
        .bind(tenant.as_str())
        .fetch_all(&db.pool)
        .await?
        .iter()
        .map(from_row)
        .collect()
}

pub async fn get(db: &Db, tenant: &TenantId, id: &str) -> sqlx::Result<Option<Template>> {
    sqlx::query(&format!("{SELECT} WHERE t.tenant_id = $1 AND t.id = $2"))
        .bind(tenant.as_str())
        .bind(id)
        .fetch_optional(&db.pool)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

pub async fn insert(
    db: &Db,
    tenant: &TenantId,
    name: &str,
    description: &str,
    graph: &ProcessGraph,
    by: &UserId,
) -> sqlx::Result<String> {
    let id = new_id();
    sqlx::query(
        "INSERT INTO templates (id, tenant_id, name, description, graph, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&id)
    .bind(tenant.as_str())
    .bind(name)
    .bind(description)
    .bind(serde_json::to_string(graph).map_err(|e| sqlx::Error::Encode(Box::new(e)))?)
    .bind(by.as_str())
    .bind(now())
    .execute(&db.pool)
    .await?;
    Ok(id)
}

/// Deletes a template of the tenant; whether it existed.
pub async fn delete(db: &Db, tenant: &TenantId, id: &str) -> sqlx::Result<bool> {
    let gone = sqlx::query("DELETE FROM templates WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.as_str())
        .bind(id)
        .execute(&db.pool)
        .await?
        .rows_affected();
    Ok(gone > 0)
}
