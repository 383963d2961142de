//! Sign-in sessions behind the session cookie. Only the cookie's hash is
//! stored.

use super::users::{identity, Identity, IDENTITY};
use super::{now, Db};
use crate::time::Timestamp;
use app::api::access::SignInMethod;
use app::types::UserId;
use chrono::Duration;
use sqlx::Row;

/// Opens a session lasting at most `lifetime`; `method` is how the user
/// proved who they are.
pub async fn create(
    db: &Db,
    token_hash: &str,
    user_id: &str,
    csrf: &str,
    method: SignInMethod,
    lifetime: std::time::Duration,
) -> sqlx::Result<()> {
    let at = now();
    let lifetime = Duration::from_std(lifetime).unwrap_or(Duration::hours(12));
    let expires = Timestamp::in_future(lifetime).to_string();
    sqlx::query(
        "INSERT INTO sessions (token_hash, user_id, created_at, last_seen_at, expires_at, csrf_token, method) \
         VALUES ($1, $2, $3, $3, $4, $5, $6)",
    )
    .bind(token_hash)
    .bind(user_id)
    .bind(&at)
    .bind(&expires)
    .bind(csrf)
    .bind(method.as_str())
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

pub async fn delete(db: &Db, token_hash: &str) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
        .bind(token_hash)
        .execute(&db.pool)
        .await
        .map(|_| ())
}

/// Ends every session of the user but `except` (the one asking, when it
/// stays signed in).
pub async fn end_all(db: &Db, user: &UserId, except: Option<&str>) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2")
        .bind(user.as_str())
        .bind(except.unwrap_or_default())
        .execute(&db.pool)
        .await
        .map(|_| ())
}

/// A live session: its user and its CSRF token.
#[derive(Debug, Clone)]
pub struct Live {
    pub user: Identity,
    pub csrf: String,
}

/// The session with `token_hash` if it has not expired, was seen after
/// `idle_cutoff` and its user is not disabled. Marks the session as seen now, at most once every 30
/// seconds.
pub async fn live(db: &Db, token_hash: &str, idle_cutoff: Timestamp) -> sqlx::Result<Option<Live>> {
    let at = now();
    let row = sqlx::query(&format!(
        "SELECT {IDENTITY}, s.csrf_token, s.last_seen_at \
         FROM sessions s JOIN users u ON u.id = s.user_id \
         WHERE s.token_hash = $1 AND s.expires_at > $2 AND s.last_seen_at > $3 \
         AND u.disabled_at IS NULL"
    ))
    .bind(token_hash)
    .bind(&at)
    .bind(idle_cutoff.to_string())
    .fetch_optional(&db.pool)
    .await?;
    let Some(r) = row else { return Ok(None) };
    let last_seen: String = r.try_get("last_seen_at")?;
    if last_seen < Timestamp::ago(Duration::seconds(30)).to_string() {
        sqlx::query("UPDATE sessions SET last_seen_at = $2 WHERE token_hash = $1")
            .bind(token_hash)
            .bind(&at)
            .execute(&db.pool)
            .await?;
    }
    Ok(Some(Live {
        user: identity(&r)?,
        csrf: r.try_get("csrf_token")?,
    }))
}
