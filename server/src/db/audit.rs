//! The audit log: who did what, when. Rows are only ever inserted.

use super::sql::Sql;
use super::{new_id, now, optional_json, text, Db};
use app::api::access::{AuditAction, AuditEvent, AuditVia};
use app::types::{TenantId, UserId};
use sqlx::any::AnyRow;
use sqlx::Row;

/// Who did it.
#[derive(Debug, Clone)]
pub struct Actor {
    pub id: Option<UserId>,
    pub name: String,
    pub via: AuditVia,
}

/// One thing that happened.
pub struct Entry<'a> {
    pub tenant: Option<&'a TenantId>,
    pub actor: &'a Actor,
    pub action: AuditAction,
    pub target: Option<&'a str>,
    pub detail: Option<serde_json::Value>,
}

pub async fn append(db: &Db, entry: Entry<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO audit_events (id, tenant_id, at, actor_id, actor, via, action, target, detail) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(new_id())
    .bind(entry.tenant.map(|t| t.as_str().to_owned()))
    .bind(now())
    .bind(entry.actor.id.as_ref().map(|u| u.as_str().to_owned()))
    .bind(&entry.actor.name)
    .bind(entry.actor.via.as_str())
    .bind(entry.action.as_str())
    .bind(entry.target)
    .bind(entry.detail.map(|d| d.to_string()))
    .execute(&db.pool)
    .await
    .map(|_| ())
}

/// Appends, and logs (rather than fails the finished request) when the
/// database refuses.
pub async fn record(db: &Db, entry: Entry<'_>) {
    let action = entry.action;
    if let Err(error) = append(db, entry).await {
        tracing::error!(%error, %action, "the audit log could not record an event");
    }
}

#[derive(Debug, Default)]
pub struct Filter {
    pub user: Option<String>,
    pub action: Option<AuditAction>,
    /// Only events before this id (the previous page's last).
    pub before: Option<String>,
    pub limit: i64,
}

const COLUMNS: &str = "id, at, actor, via, action, target, detail";

fn from_row(row: &AnyRow) -> sqlx::Result<AuditEvent> {
    Ok(AuditEvent {
        id: row.try_get("id")?,
        at: row.try_get("at")?,
        actor: row.try_get("actor")?,
        via: text(row, "via")?,
        action: text(row, "action")?,
        target: row.try_get("target")?,
        detail: optional_json(row, "detail")?,
    })
}

/// A tenant's events, newest first: those in the tenant, and the sign-ins
/// and sign-outs of its members.
pub async fn list(db: &Db, tenant: &TenantId, filter: &Filter) -> sqlx::Result<Vec<AuditEvent>> {
    let mut q = Sql::new(format!(
        "SELECT {COLUMNS} FROM audit_events WHERE (tenant_id = "
    ));
    q.bind(tenant.as_str().to_owned())
        .push(" OR (tenant_id IS NULL AND action IN ")
        .bind_list(AuditAction::SESSION.iter().map(|a| a.as_str()))
        .push(" AND actor_id IN (SELECT user_id FROM memberships WHERE tenant_id = ")
        .bind(tenant.as_str().to_owned())
        .push(")))");
    if let Some(user) = &filter.user {
        q.push(" AND actor = ").bind(user.clone());
    }
    if let Some(action) = filter.action {
        q.push(" AND action = ").bind(action.as_str());
    }
    if let Some(before) = &filter.before {
        q.push(" AND id < ").bind(before.clone());
    }
    q.push(" ORDER BY id DESC LIMIT ").bind(filter.limit);
    q.fetch_all(&db.pool).await?.iter().map(from_row).collect()
}
