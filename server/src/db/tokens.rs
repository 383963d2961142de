//! API tokens: a user's access to one tenant, for automation. Only the
//! token's hash is stored.

use super::sql::Sql;
use super::users::{identity, Identity, IDENTITY};
use super::{new_id, now, text, Db};
use crate::time::Timestamp;
use app::api::access::ApiToken;
use app::types::{Role, TenantId, UserId};
use sqlx::any::AnyRow;
use sqlx::Row;

const COLUMNS: &str =
    "k.id, t.slug AS tenant, u.username, k.name, k.role, k.prefix, k.created_at, \
     k.expires_at, k.last_used_at, k.revoked_at, k.user_id";
const FROM: &str =
    "FROM api_tokens k JOIN tenants t ON t.id = k.tenant_id JOIN users u ON u.id = k.user_id";

fn from_row(row: &AnyRow) -> sqlx::Result<ApiToken> {
    Ok(ApiToken {
        id: row.try_get("id")?,
        tenant: row.try_get("tenant")?,
        user: row.try_get("username")?,
        name: row.try_get("name")?,
        role: text(row, "role")?,
        prefix: row.try_get("prefix")?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        last_used_at: row.try_get("last_used_at")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}

pub struct NewToken<'a> {
    pub tenant: &'a TenantId,
    pub user: &'a UserId,
    pub name: &'a str,
    pub role: Role,
    pub token_hash: &'a str,
    pub prefix: &'a str,
    pub expires_at: Option<Timestamp>,
}

pub async fn create(db: &Db, token: NewToken<'_>) -> sqlx::Result<String> {
    let id = new_id();
    sqlx::query(
        "INSERT INTO api_tokens (id, tenant_id, user_id, name, role, token_hash, prefix, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&id)
    .bind(token.tenant.as_str())
    .bind(token.user.as_str())
    .bind(token.name)
    .bind(token.role.as_str())
    .bind(token.token_hash)
    .bind(token.prefix)
    .bind(now())
    .bind(token.expires_at.map(|t| t.to_string()))
    .execute(&db.pool)
    .await?;
    Ok(id)
}

/// A tenant's tokens, newest first: all of them, or only `user`'s.
pub async fn list(
    db: &Db,
    tenant: &TenantId,
    user: Option<&UserId>,
) -> sqlx::Result<Vec<ApiToken>> {
    let mut q = Sql::new(format!("SELECT {COLUMNS} {FROM} WHERE k.tenant_id = "));
    q.bind(tenant.as_str().to_owned());
    if let Some(user) = user {
        q.push(" AND k.user_id = ").bind(user.as_str().to_owned());
    }
    q.push(" ORDER BY k.created_at DESC, k.id DESC");
    q.fetch_all(&db.pool).await?.iter().map(from_row).collect()
}

/// Every token a user made, newest first: in any tenant, or only in `tenant`.
pub async fn of_user(
    db: &Db,
    user: &UserId,
    tenant: Option<&TenantId>,
) -> sqlx::Result<Vec<ApiToken>> {
    let mut q = Sql::new(format!("SELECT {COLUMNS} {FROM} WHERE k.user_id = "));
    q.bind(user.as_str().to_owned());
    if let Some(tenant) = tenant {
        q.push(" AND k.tenant_id = ")
            .bind(tenant.as_str().to_owned());
    }
    q.push(" ORDER BY k.created_at DESC, k.id DESC");
    q.fetch_all(&db.pool).await?.iter().map(from_row).collect()
}

/// A tenant's token and the user it belongs to.
pub async fn get(db: &Db, tenant: &TenantId, id: &str) -> sqlx::Result<Option<(ApiToken, UserId)>> {
    sqlx::query(&format!(
        "SELECT {COLUMNS} {FROM} WHERE k.tenant_id = $1 AND k.id = $2"
    ))
    .bind(tenant.as_str())
    .bind(id)
    .fetch_optional(&db.pool)
    .await?
    .map(|r| {
        Ok((
            from_row(&r)?,
            UserId::new(r.try_get::<String, _>("user_id")?),
        ))
    })
    .transpose()
}

/// Revokes a token (once; revoking again changes nothing).
pub async fn revoke(db: &Db, tenant: &TenantId, id: &str) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE api_tokens SET revoked_at = $3 WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL",
    )
    .bind(tenant.as_str())
    .bind(id)
    .bind(now())
    .execute(&db.pool)
    .await
    .map(|_| ())
}

/// A live token as presented: its user, acting in the token's tenant with
/// the token's role.
#[derive(Debug, Clone)]
pub struct Live {
    pub user: Identity,
    pub id: String,
    pub tenant: TenantId,
    pub role: Role,
}

/// The token with `token_hash` if it is neither revoked nor expired and
/// its user is not disabled.
/// Records the use, at most once a minute.
pub async fn live(db: &Db, token_hash: &str) -> sqlx::Result<Option<Live>> {
    let at = now();
    let row = sqlx::query(&format!(
        "SELECT {IDENTITY}, k.id, k.tenant_id, k.role, k.last_used_at \
         FROM api_tokens k JOIN users u ON u.id = k.user_id \
         WHERE k.token_hash = $1 AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > $2) \
         AND u.disabled_at IS NULL"
    ))
    .bind(token_hash)
    .bind(&at)
    .fetch_optional(&db.pool)
    .await?;
    let Some(r) = row else { return Ok(None) };
    let Ok(role) = text::<Role>(&r, "role") else {
        return Ok(None);
    };
    let id: String = r.try_get("id")?;
    let last_used: Option<String> = r.try_get("last_used_at")?;
    let stale = Timestamp::ago(chrono::Duration::seconds(60)).to_string();
    if last_used.is_none_or(|t| t < stale) {
        sqlx::query("UPDATE api_tokens SET last_used_at = $2 WHERE id = $1")
            .bind(&id)
            .bind(&at)
            .execute(&db.pool)
            .await?;
    }
    Ok(Some(Live {
        user: identity(&r)?,
        id,
        tenant: TenantId::new(r.try_get::<String, _>("tenant_id")?),
        role,
    }))
}
