//! The audit log: who did what, when. Rows are only ever inserted.

use super::{new_id, now, Db};
use app::api::access::AuditEvent;
use app::types::{TenantId, UserId};
use sqlx::Row;

/// Who did it.
#[derive(Debug, Clone)]
pub struct Actor {
    pub id: Option<UserId>,
    pub name: String,
    /// `session`, `token`, `password`, `oidc`, `system`.
    pub via: &'static str,
}

impl From<&crate::auth::Caller> for Actor {
    fn from(caller: &crate::auth::Caller) -> Self {
        Actor {
            id: Some(caller.user_id.clone()),
            name: caller.username.clone(),
            via: caller.via_name(),
        }
    }
}

/// One thing that happened.
pub struct Entry<'a> {
    pub tenant: Option<&'a TenantId>,
    pub actor: &'a Actor,
    pub action: &'a str,
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
    .bind(entry.actor.via)
    .bind(entry.action)
    .bind(entry.target)
    .bind(entry.detail.map(|d| d.to_string()))
    .execute(&db.pool)
    .await
    .map(|_| ())
}

/// Appends, and logs (rather than fails the finished request) when the
/// database refuses.
pub async fn record(db: &Db, entry: Entry<'_>) {
    let action = entry.action.to_owned();
    if let Err(error) = append(db, entry).await {
        tracing::error!(%error, %action, "the audit log could not record an event");
    }
}

#[derive(Debug, Default)]
pub struct Filter {
    pub user: Option<String>,
    pub action: Option<String>,
    /// Only events before this id (the previous page's last).
    pub before: Option<String>,
    pub limit: i64,
}

/// A tenant's events, newest first: those in the tenant, and the sign-ins
/// and sign-outs of its members.
pub async fn list(db: &Db, tenant: &TenantId, filter: &Filter) -> sqlx::Result<Vec<AuditEvent>> {
    let rows = sqlx::query(
        "SELECT id, at, actor, via, action, target, detail FROM audit_events \
         WHERE (tenant_id = $1 OR (tenant_id IS NULL AND action IN ('sign_in', 'sign_out', 'sign_in.failed') \
                AND actor_id IN (SELECT user_id FROM memberships WHERE tenant_id = $1))) \
           AND ($2 IS NULL OR actor = $2) AND ($3 IS NULL OR action = $3) AND ($4 IS NULL OR id < $4) \
         ORDER BY id DESC LIMIT $5",
    )
    .bind(tenant.as_str())
    .bind(filter.user.clone())
    .bind(filter.action.clone())
    .bind(filter.before.clone())
    .bind(filter.limit)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows
        .iter()
        .map(|r| AuditEvent {
            id: r.get(0),
            at: r.get(1),
            actor: r.get(2),
            via: r.get(3),
            action: r.get(4),
            target: r.get(5),
            detail: r
                .get::<Option<String>, _>(6)
                .and_then(|d| serde_json::from_str(&d).ok()),
        })
        .collect())
}
