//! Tenants, users, memberships and API tokens, as administrators manage them.

use super::{new_id, now, Db};
use app::api::access::{ApiToken, Member, Tenant, User};
use app::types::{Role, TenantId, UserId};
use sqlx::Row;

pub async fn tenants(db: &Db) -> sqlx::Result<Vec<Tenant>> {
    let rows = sqlx::query(
        "SELECT t.slug, t.name, t.max_concurrent_tasks, t.created_at, \
         (SELECT COUNT(*) FROM memberships m WHERE m.tenant_id = t.id) \
         FROM tenants t ORDER BY t.slug",
    )
    .fetch_all(&db.pool)
    .await?;
    Ok(rows.iter().map(tenant_of).collect())
}

fn tenant_of(r: &sqlx::any::AnyRow) -> Tenant {
    Tenant {
        slug: r.get(0),
        name: r.get(1),
        max_concurrent_tasks: r.get(2),
        created_at: r.get(3),
        members: r.get(4),
    }
}

pub async fn tenant(db: &Db, slug: &str) -> sqlx::Result<Option<(TenantId, Tenant)>> {
    let row = sqlx::query(
        "SELECT t.slug, t.name, t.max_concurrent_tasks, t.created_at, \
         (SELECT COUNT(*) FROM memberships m WHERE m.tenant_id = t.id), t.id \
         FROM tenants t WHERE t.slug = $1",
    )
    .bind(slug)
    .fetch_optional(&db.pool)
    .await?;
    Ok(row.map(|r| (TenantId::new(r.get::<String, _>(5)), tenant_of(&r))))
}

pub async fn create_tenant(
    db: &Db,
    slug: &str,
    name: &str,
    max_concurrent_tasks: Option<i64>,
) -> sqlx::Result<TenantId> {
    let id = new_id();
    sqlx::query(
        "INSERT INTO tenants (id, slug, name, max_concurrent_tasks, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&id)
    .bind(slug)
    .bind(name)
    .bind(max_concurrent_tasks)
    .bind(now())
    .execute(&db.pool)
    .await?;
    Ok(TenantId::new(id))
}

pub async fn update_tenant(
    db: &Db,
    tenant: &TenantId,
    name: &str,
    max_concurrent_tasks: Option<i64>,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE tenants SET name = $2, max_concurrent_tasks = $3 WHERE id = $1")
        .bind(tenant.as_str())
        .bind(name)
        .bind(max_concurrent_tasks)
        .execute(&db.pool)
        .await
        .map(|_| ())
}

/// Every tenant's own limit on running tasks, where it has one.
pub async fn task_limits(db: &Db) -> sqlx::Result<Vec<(TenantId, i64)>> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT id, max_concurrent_tasks FROM tenants WHERE max_concurrent_tasks IS NOT NULL",
    )
    .fetch_all(&db.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, n)| (TenantId::new(id), n))
        .collect())
}

pub async fn users(db: &Db) -> sqlx::Result<Vec<User>> {
    let rows = sqlx::query(
        "SELECT username, platform_admin, password_hash IS NOT NULL, oidc_subject IS NOT NULL, created_at \
         FROM users ORDER BY username",
    )
    .fetch_all(&db.pool)
    .await?;
    Ok(rows.iter().map(user_of).collect())
}

fn user_of(r: &sqlx::any::AnyRow) -> User {
    User {
        username: r.get(0),
        platform_admin: r.get::<i64, _>(1) == 1,
        has_password: flag(r, 2),
        sso: flag(r, 3),
        created_at: r.get(4),
    }
}

/// A boolean expression's value: SQLite answers an integer, PostgreSQL a bool.
fn flag(r: &sqlx::any::AnyRow, i: usize) -> bool {
    r.try_get::<bool, _>(i)
        .or_else(|_| r.try_get::<i64, _>(i).map(|v| v != 0))
        .unwrap_or(false)
}

pub async fn create_user(
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

pub async fn user_id(db: &Db, username: &str) -> sqlx::Result<Option<UserId>> {
    let id: Option<String> = sqlx::query_scalar("SELECT id FROM users WHERE username = $1")
        .bind(username)
        .fetch_optional(&db.pool)
        .await?;
    Ok(id.map(UserId::new))
}

pub async fn members(db: &Db, tenant: &TenantId) -> sqlx::Result<Vec<Member>> {
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT u.username, m.role, m.created_at FROM memberships m JOIN users u ON u.id = m.user_id \
         WHERE m.tenant_id = $1 ORDER BY u.username",
    )
    .bind(tenant.as_str())
    .fetch_all(&db.pool)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(username, role, since)| {
            Some(Member {
                username,
                role: role.parse().ok()?,
                since,
            })
        })
        .collect())
}

pub async fn member_role(db: &Db, tenant: &TenantId, user: &UserId) -> sqlx::Result<Option<Role>> {
    let role: Option<String> =
        sqlx::query_scalar("SELECT role FROM memberships WHERE tenant_id = $1 AND user_id = $2")
            .bind(tenant.as_str())
            .bind(user.as_str())
            .fetch_optional(&db.pool)
            .await?;
    Ok(role.and_then(|r| r.parse().ok()))
}

pub async fn admin_count(db: &Db, tenant: &TenantId) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM memberships WHERE tenant_id = $1 AND role = 'tenant_admin'",
    )
    .bind(tenant.as_str())
    .fetch_one(&db.pool)
    .await
}

/// Sets the user's role in the tenant; true when the membership is new.
pub async fn set_member(
    db: &Db,
    tenant: &TenantId,
    user: &UserId,
    role: Role,
) -> sqlx::Result<bool> {
    let changed =
        sqlx::query("UPDATE memberships SET role = $3 WHERE tenant_id = $1 AND user_id = $2")
            .bind(tenant.as_str())
            .bind(user.as_str())
            .bind(role.as_str())
            .execute(&db.pool)
            .await?
            .rows_affected();
    if changed > 0 {
        return Ok(false);
    }
    sqlx::query(
        "INSERT INTO memberships (tenant_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(tenant.as_str())
    .bind(user.as_str())
    .bind(role.as_str())
    .bind(now())
    .execute(&db.pool)
    .await?;
    Ok(true)
}

pub async fn remove_member(db: &Db, tenant: &TenantId, user: &UserId) -> sqlx::Result<bool> {
    let gone = sqlx::query("DELETE FROM memberships WHERE tenant_id = $1 AND user_id = $2")
        .bind(tenant.as_str())
        .bind(user.as_str())
        .execute(&db.pool)
        .await?
        .rows_affected();
    Ok(gone > 0)
}

const TOKEN_COLUMNS: &str = "k.id, t.slug, u.username, k.name, k.role, k.prefix, k.created_at, \
     k.expires_at, k.last_used_at, k.revoked_at";

fn token_of(r: &sqlx::any::AnyRow) -> Option<ApiToken> {
    Some(ApiToken {
        id: r.get(0),
        tenant: r.get(1),
        user: r.get(2),
        name: r.get(3),
        role: r.get::<String, _>(4).parse().ok()?,
        prefix: r.get(5),
        created_at: r.get(6),
        expires_at: r.get(7),
        last_used_at: r.get(8),
        revoked_at: r.get(9),
    })
}

pub struct NewToken<'a> {
    pub tenant: &'a TenantId,
    pub user: &'a UserId,
    pub name: &'a str,
    pub role: Role,
    pub token_hash: &'a str,
    pub prefix: &'a str,
    pub expires_at: Option<String>,
}

pub async fn create_token(db: &Db, token: NewToken<'_>) -> sqlx::Result<String> {
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
    .bind(token.expires_at)
    .execute(&db.pool)
    .await?;
    Ok(id)
}

/// A tenant's tokens, newest first: all of them, or only `user`'s.
pub async fn tokens(
    db: &Db,
    tenant: &TenantId,
    user: Option<&UserId>,
) -> sqlx::Result<Vec<ApiToken>> {
    let rows = sqlx::query(&format!(
        "SELECT {TOKEN_COLUMNS} FROM api_tokens k JOIN tenants t ON t.id = k.tenant_id \
         JOIN users u ON u.id = k.user_id \
         WHERE k.tenant_id = $1 AND ($2 IS NULL OR k.user_id = $2) ORDER BY k.created_at DESC, k.id DESC"
    ))
    .bind(tenant.as_str())
    .bind(user.map(|u| u.as_str().to_owned()))
    .fetch_all(&db.pool)
    .await?;
    Ok(rows.iter().filter_map(token_of).collect())
}

/// Every token a user made, in any tenant, newest first.
pub async fn user_tokens(db: &Db, user: &UserId) -> sqlx::Result<Vec<ApiToken>> {
    let rows = sqlx::query(&format!(
        "SELECT {TOKEN_COLUMNS} FROM api_tokens k JOIN tenants t ON t.id = k.tenant_id \
         JOIN users u ON u.id = k.user_id WHERE k.user_id = $1 ORDER BY k.created_at DESC, k.id DESC"
    ))
    .bind(user.as_str())
    .fetch_all(&db.pool)
    .await?;
    Ok(rows.iter().filter_map(token_of).collect())
}

pub async fn token(
    db: &Db,
    tenant: &TenantId,
    id: &str,
) -> sqlx::Result<Option<(ApiToken, UserId)>> {
    let row = sqlx::query(&format!(
        "SELECT {TOKEN_COLUMNS}, k.user_id FROM api_tokens k JOIN tenants t ON t.id = k.tenant_id \
         JOIN users u ON u.id = k.user_id WHERE k.tenant_id = $1 AND k.id = $2"
    ))
    .bind(tenant.as_str())
    .bind(id)
    .fetch_optional(&db.pool)
    .await?;
    Ok(row.and_then(|r| Some((token_of(&r)?, UserId::new(r.get::<String, _>(10))))))
}

/// Revokes a token (once; revoking again changes nothing).
pub async fn revoke_token(db: &Db, tenant: &TenantId, id: &str) -> sqlx::Result<()> {
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
