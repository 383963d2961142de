//! Users, memberships and sign-in sessions.

use super::{now, Db};
use crate::auth::{Caller, Via};
use app::types::{Role, TenantId, UserId};
use chrono::{Duration, SecondsFormat, Utc};
use sqlx::Row;

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

/// Opens a session lasting at most `lifetime`; `method` is how the user
/// proved who they are (`password`, `oidc`).
pub async fn create_session(
    db: &Db,
    token_hash: &str,
    user_id: &str,
    csrf: &str,
    method: &str,
    lifetime: std::time::Duration,
) -> sqlx::Result<()> {
    let at = now();
    let lifetime = Duration::from_std(lifetime).unwrap_or(Duration::hours(12));
    let expires = (Utc::now() + lifetime).to_rfc3339_opts(SecondsFormat::Millis, true);
    sqlx::query(
        "INSERT INTO sessions (token_hash, user_id, created_at, last_seen_at, expires_at, csrf_token, method) \
         VALUES ($1, $2, $3, $3, $4, $5, $6)",
    )
    .bind(token_hash)
    .bind(user_id)
    .bind(&at)
    .bind(&expires)
    .bind(csrf)
    .bind(method)
    .execute(&db.pool)
    .await?;
    // Ended sessions are of no further use.
    sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND expires_at <= $2")
        .bind(user_id)
        .bind(&at)
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

/// The user of a live session (not expired, and seen after `idle_cutoff`)
/// with the session's CSRF token. Marks the session as seen now, at most
/// once every 30 seconds.
pub async fn session_caller(
    db: &Db,
    token_hash: &str,
    idle_cutoff: String,
) -> sqlx::Result<Option<(Caller, String)>> {
    let at = now();
    let row = sqlx::query(
        "SELECT u.id, u.username, u.platform_admin, s.csrf_token, s.last_seen_at \
         FROM sessions s JOIN users u ON u.id = s.user_id \
         WHERE s.token_hash = $1 AND s.expires_at > $2 AND s.last_seen_at > $3",
    )
    .bind(token_hash)
    .bind(&at)
    .bind(&idle_cutoff)
    .fetch_optional(&db.pool)
    .await?;
    let Some(r) = row else { return Ok(None) };
    let last_seen: String = r.get(4);
    let stale = (Utc::now() - Duration::seconds(30)).to_rfc3339_opts(SecondsFormat::Millis, true);
    if last_seen < stale {
        sqlx::query("UPDATE sessions SET last_seen_at = $2 WHERE token_hash = $1")
            .bind(token_hash)
            .bind(&at)
            .execute(&db.pool)
            .await?;
    }
    Ok(Some((
        Caller {
            user_id: UserId::new(r.get::<String, _>(0)),
            username: r.get(1),
            platform_admin: r.get::<i64, _>(2) == 1,
            via: Via::Session {
                token_hash: token_hash.to_owned(),
            },
        },
        r.get(3),
    )))
}

/// The user behind a live API token, acting with the token's tenant and
/// role. Records the use, at most once a minute.
pub async fn token_caller(db: &Db, token_hash: &str) -> sqlx::Result<Option<Caller>> {
    let at = now();
    let row = sqlx::query(
        "SELECT u.id, u.username, u.platform_admin, k.id, k.tenant_id, k.role, k.last_used_at \
         FROM api_tokens k JOIN users u ON u.id = k.user_id \
         WHERE k.token_hash = $1 AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > $2)",
    )
    .bind(token_hash)
    .bind(&at)
    .fetch_optional(&db.pool)
    .await?;
    let Some(r) = row else { return Ok(None) };
    let Ok(role) = r.get::<String, _>(5).parse::<Role>() else {
        return Ok(None);
    };
    let id: String = r.get(3);
    let last_used: Option<String> = r.get(6);
    let stale = (Utc::now() - Duration::seconds(60)).to_rfc3339_opts(SecondsFormat::Millis, true);
    if last_used.is_none_or(|t| t < stale) {
        sqlx::query("UPDATE api_tokens SET last_used_at = $2 WHERE id = $1")
            .bind(&id)
            .bind(&at)
            .execute(&db.pool)
            .await?;
    }
    Ok(Some(Caller {
        user_id: UserId::new(r.get::<String, _>(0)),
        username: r.get(1),
        platform_admin: r.get::<i64, _>(2) == 1,
        via: Via::Token {
            id,
            tenant: TenantId::new(r.get::<String, _>(4)),
            role,
        },
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

/// The user linked to a single sign-on identity.
pub async fn by_oidc_subject(db: &Db, subject: &str) -> sqlx::Result<Option<UserId>> {
    let id: Option<String> = sqlx::query_scalar("SELECT id FROM users WHERE oidc_subject = $1")
        .bind(subject)
        .fetch_optional(&db.pool)
        .await?;
    Ok(id.map(UserId::new))
}

/// Sets a user's memberships to exactly `wanted` (tenant slug, role);
/// tenants that do not exist are ignored.
pub async fn replace_memberships(
    db: &Db,
    user: &UserId,
    wanted: &[(String, Role)],
) -> sqlx::Result<()> {
    let mut tx = db.pool.begin().await?;
    sqlx::query("DELETE FROM memberships WHERE user_id = $1")
        .bind(user.as_str())
        .execute(&mut *tx)
        .await?;
    let at = now();
    for (slug, role) in wanted {
        sqlx::query(
            "INSERT INTO memberships (tenant_id, user_id, role, created_at) \
             SELECT id, $2, $3, $4 FROM tenants WHERE slug = $1 \
             AND NOT EXISTS (SELECT 1 FROM memberships m WHERE m.tenant_id = tenants.id AND m.user_id = $2)",
        )
        .bind(slug)
        .bind(user.as_str())
        .bind(role.as_str())
        .bind(&at)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await
}
