//! Users, memberships and sign-in sessions.

use super::{now, Db};
use crate::auth::Caller;
use app::types::{Role, TenantId, UserId};
use chrono::{Duration, SecondsFormat, Utc};
use sqlx::Row;

/// How long a session lasts after sign-in.
pub const SESSION_LIFETIME: Duration = Duration::hours(12);

/// The stored credentials of `username`: (user id, argon2id hash).
pub async fn credentials(
    db: &Db,
    username: &str,
) -> sqlx::Result<Option<(String, Option<String>)>> {
    sqlx::query_as("SELECT id, password_hash FROM users WHERE username = $1")
        .bind(username)
        .fetch_optional(&db.pool)
        .await
}

pub async fn create_session(db: &Db, token_hash: &str, user_id: &str) -> sqlx::Result<()> {
    let at = now();
    let expires = (Utc::now() + SESSION_LIFETIME).to_rfc3339_opts(SecondsFormat::Millis, true);
    sqlx::query(
        "INSERT INTO sessions (token_hash, user_id, created_at, last_seen_at, expires_at) VALUES ($1, $2, $3, $3, $4)",
    )
    .bind(token_hash)
    .bind(user_id)
    .bind(&at)
    .bind(&expires)
    .execute(&db.pool)
    .await
    .map(|_| ())
}

pub async fn delete_session(db: &Db, token_hash: &str) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
        .bind(token_hash)
        .execute(&db.pool)
        .await
        .map(|_| ())
}

/// The user of a live session.
pub async fn session_caller(db: &Db, token_hash: &str) -> sqlx::Result<Option<Caller>> {
    let row = sqlx::query(
        "SELECT u.id, u.username, u.platform_admin FROM sessions s JOIN users u ON u.id = s.user_id \
         WHERE s.token_hash = $1 AND s.expires_at > $2",
    )
    .bind(token_hash)
    .bind(now())
    .fetch_optional(&db.pool)
    .await?;
    Ok(row.map(|r| Caller {
        user_id: UserId::new(r.get::<String, _>(0)),
        username: r.get(1),
        platform_admin: r.get::<i64, _>(2) == 1,
    }))
}

/// The tenant with `slug` and the user's role in it (`None` when not a
/// member); `None` overall when there is no such tenant.
pub async fn tenant_role(
    db: &Db,
    slug: &str,
    user: &UserId,
) -> sqlx::Result<Option<(TenantId, Option<Role>)>> {
    let row: Option<(String, Option<String>)> = sqlx::query_as(
        "SELECT t.id, m.role FROM tenants t \
         LEFT JOIN memberships m ON m.tenant_id = t.id AND m.user_id = $2 WHERE t.slug = $1",
    )
    .bind(slug)
    .bind(user.as_str())
    .fetch_optional(&db.pool)
    .await?;
    Ok(row.map(|(id, role)| (TenantId::new(id), role.and_then(|r| r.parse().ok()))))
}

/// The tenants a user belongs to: (slug, name, role), by slug.
pub async fn memberships(db: &Db, user: &UserId) -> sqlx::Result<Vec<(String, String, String)>> {
    sqlx::query_as(
        "SELECT t.slug, t.name, m.role FROM memberships m JOIN tenants t ON t.id = m.tenant_id \
         WHERE m.user_id = $1 ORDER BY t.slug",
    )
    .bind(user.as_str())
    .fetch_all(&db.pool)
    .await
}
