//! Who belongs to which tenant, in which role.

use super::{now, text, Db};
use app::api::access::Member;
use app::api::auth::TenantMembership;
use app::types::{Role, TenantId, UserId};
use sqlx::any::AnyRow;
use sqlx::Row;

const MEMBER_COLUMNS: &str = "u.username, m.role, m.created_at";

fn member(row: &AnyRow) -> sqlx::Result<Member> {
    Ok(Member {
        username: row.try_get("username")?,
        role: text(row, "role")?,
        since: row.try_get("created_at")?,
    })
}

const TENANT_COLUMNS: &str = "t.slug, t.name, m.role";

fn tenant(row: &AnyRow) -> sqlx::Result<TenantMembership> {
    Ok(TenantMembership {
        slug: row.try_get("slug")?,
        name: row.try_get("name")?,
        role: text(row, "role")?,
    })
}

/// A tenant's members, by username.
pub async fn of_tenant(db: &Db, tenant: &TenantId) -> sqlx::Result<Vec<Member>> {
    sqlx::query(&format!(
        "SELECT {MEMBER_COLUMNS} FROM memberships m JOIN users u ON u.id = m.user_id \
         WHERE m.tenant_id = $1 ORDER BY u.username"
    ))
    .bind(tenant.as_str())
    .fetch_all(&db.pool)
    .await?
    .iter()
    .map(member)
    .collect()
}

/// The tenants a user belongs to, by slug.
pub async fn of_user(db: &Db, user: &UserId) -> sqlx::Result<Vec<TenantMembership>> {
    sqlx::query(&format!(
        "SELECT {TENANT_COLUMNS} FROM memberships m JOIN tenants t ON t.id = m.tenant_id \
         WHERE m.user_id = $1 ORDER BY t.slug"
    ))
    .bind(user.as_str())
    .fetch_all(&db.pool)
    .await?
    .iter()
    .map(tenant)
    .collect()
}

pub async fn role(db: &Db, tenant: &TenantId, user: &UserId) -> sqlx::Result<Option<Role>> {
    sqlx::query("SELECT role FROM memberships WHERE tenant_id = $1 AND user_id = $2")
        .bind(tenant.as_str())
        .bind(user.as_str())
        .fetch_optional(&db.pool)
        .await?
        .map(|r| text(&r, "role"))
        .transpose()
}

/// The tenant with `slug` and the user's role in it (`None` when not a
/// member); `None` overall when there is no such tenant.
pub async fn tenant_role(
    db: &Db,
    slug: &str,
    user: &UserId,
) -> sqlx::Result<Option<(TenantId, Option<Role>)>> {
    let Some(row) = sqlx::query(
        "SELECT t.id, m.role FROM tenants t \
         LEFT JOIN memberships m ON m.tenant_id = t.id AND m.user_id = $2 WHERE t.slug = $1",
    )
    .bind(slug)
    .bind(user.as_str())
    .fetch_optional(&db.pool)
    .await?
    else {
        return Ok(None);
    };
    let role = match row.try_get::<Option<String>, _>("role")? {
        Some(_) => Some(text(&row, "role")?),
        None => None,
    };
    Ok(Some((TenantId::new(row.try_get::<String, _>("id")?), role)))
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
pub async fn set(db: &Db, tenant: &TenantId, user: &UserId, role: Role) -> sqlx::Result<bool> {
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

pub async fn remove(db: &Db, tenant: &TenantId, user: &UserId) -> sqlx::Result<bool> {
    let gone = sqlx::query("DELETE FROM memberships WHERE tenant_id = $1 AND user_id = $2")
        .bind(tenant.as_str())
        .bind(user.as_str())
        .execute(&db.pool)
        .await?
        .rows_affected();
    Ok(gone > 0)
}

/// Sets a user's memberships to exactly `wanted` (tenant slug, role);
/// tenants that do not exist are ignored.
pub async fn replace(db: &Db, user: &UserId, wanted: &[(String, Role)]) -> sqlx::Result<()> {
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
