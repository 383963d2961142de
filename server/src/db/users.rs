//! User accounts: who they are, how they sign in.

use super::{flag, new_id, now, Db};
use app::api::access::User;
use app::types::UserId;
use sqlx::any::AnyRow;
use sqlx::Row;

/// Who a user is, as a signed-in session or a token presents them.
#[derive(Debug, Clone)]
pub struct Identity {
    pub id: UserId,
    pub username: String,
    pub platform_admin: bool,
}

/// [`Identity`] columns of `users u`, for the queries that join it.
pub(super) const IDENTITY: &str = "u.id AS user_id, u.username, u.platform_admin";

pub(super) fn identity(row: &AnyRow) -> sqlx::Result<Identity> {
    Ok(Identity {
        id: UserId::new(row.try_get::<String, _>("user_id")?),
        username: row.try_get("username")?,
        platform_admin: flag(row, "platform_admin")?,
    })
}

const COLUMNS: &str = "username, platform_admin, password_hash IS NOT NULL AS has_password, \
     oidc_subject IS NOT NULL AS sso, created_at, disabled_at";

fn from_row(row: &AnyRow) -> sqlx::Result<User> {
    Ok(User {
        username: row.try_get("username")?,
        platform_admin: flag(row, "platform_admin")?,
        has_password: flag(row, "has_password")?,
        sso: flag(row, "sso")?,
        created_at: row.try_get("created_at")?,
        disabled_at: row.try_get("disabled_at")?,
    })
}

/// The user called `username`.
pub async fn by_username(db: &Db, username: &str) -> sqlx::Result<Option<User>> {
    sqlx::query(&format!("SELECT {COLUMNS} FROM users WHERE username = $1"))
        .bind(username)
        .fetch_optional(&db.pool)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// Every user, by username.
pub async fn list(db: &Db) -> sqlx::Result<Vec<User>> {
    sqlx::query(&format!("SELECT {COLUMNS} FROM users ORDER BY username"))
        .fetch_all(&db.pool)
        .await?
        .iter()
        .map(from_row)
        .collect()
}

/// The user with `id`.
pub async fn get(db: &Db, id: &UserId) -> sqlx::Result<Option<Identity>> {
    sqlx::query(&format!("SELECT {IDENTITY} FROM users u WHERE u.id = $1"))
        .bind(id.as_str())
        .fetch_optional(&db.pool)
        .await?
        .as_ref()
        .map(identity)
        .transpose()
}

pub async fn create(
    db: &Db,
    username: &str,
    password_hash: Option<&str>,
    platform_admin: bool,
    oidc_subject: Option<&str>,
) -> sqlx::Result<UserId> {
    let id = new_id();
    sqlx::query(
        "INSERT INTO users (id, username, password_hash, platform_admin, oidc_subject, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&id)
    .bind(username)
    .bind(password_hash)
    .bind(i64::from(platform_admin))
    .bind(oidc_subject)
    .bind(now())
    .execute(&db.pool)
    .await?;
    Ok(UserId::new(id))
}

pub async fn id_of(db: &Db, username: &str) -> sqlx::Result<Option<UserId>> {
    let id: Option<String> = sqlx::query_scalar("SELECT id FROM users WHERE username = $1")
        .bind(username)
        .fetch_optional(&db.pool)
        .await?;
    Ok(id.map(UserId::new))
}

/// A user's stored password.
pub struct Credentials {
    pub id: UserId,
    /// Argon2id; none for users who only sign in through single sign-on.
    pub password_hash: Option<String>,
}

pub async fn credentials(db: &Db, username: &str) -> sqlx::Result<Option<Credentials>> {
    sqlx::query("SELECT id, password_hash FROM users WHERE username = $1")
        .bind(username)
        .fetch_optional(&db.pool)
        .await?
        .map(|r| {
            Ok(Credentials {
                id: UserId::new(r.try_get::<String, _>("id")?),
                password_hash: r.try_get("password_hash")?,
            })
        })
        .transpose()
}

/// Whether a platform admin has disabled the user.
pub async fn disabled(db: &Db, id: &UserId) -> sqlx::Result<bool> {
    let at: Option<Option<String>> =
        sqlx::query_scalar("SELECT disabled_at FROM users WHERE id = $1")
            .bind(id.as_str())
            .fetch_optional(&db.pool)
            .await?;
    Ok(at.flatten().is_some())
}

/// Disables the user (keeping when it first happened) or enables them.
pub async fn set_disabled(db: &Db, id: &UserId, disabled: bool) -> sqlx::Result<()> {
    let query = if disabled {
        sqlx::query("UPDATE users SET disabled_at = $2 WHERE id = $1 AND disabled_at IS NULL")
            .bind(id.as_str())
            .bind(now())
    } else {
        sqlx::query("UPDATE users SET disabled_at = NULL WHERE id = $1").bind(id.as_str())
    };
    query.execute(&db.pool).await.map(|_| ())
}

/// Replaces the user's password hash (Argon2id).
pub async fn set_password(db: &Db, id: &UserId, password_hash: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
        .bind(id.as_str())
        .bind(password_hash)
        .execute(&db.pool)
        .await
        .map(|_| ())
}

/// The user linked to a single sign-on identity.
pub async fn by_oidc_subject(db: &Db, subject: &str) -> sqlx::Result<Option<UserId>> {
    let id: Option<String> = sqlx::query_scalar("SELECT id FROM users WHERE oidc_subject = $1")
        .bind(subject)
        .fetch_optional(&db.pool)
        .await?;
    Ok(id.map(UserId::new))
}
