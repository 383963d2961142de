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

/// Why a membership change was not made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The user is the tenant's only tenant admin.
    LastAdmin,
    /// The user is not a member (for a removal).
    NotMember,
}

type Tx<'c> = sqlx::Transaction<'c, sqlx::Any>;

/// Begins a change of the tenant's memberships. It writes first: SQLite
/// then holds its write lock, PostgreSQL the tenant's row, for the whole
/// transaction, so changes to one tenant's members take turns and two
/// admins demoting each other cannot both see the other one remain.
async fn begin_change<'c>(db: &'c Db, tenant: &TenantId) -> sqlx::Result<Tx<'c>> {
    let mut tx = db.pool.begin().await?;
    sqlx::query("UPDATE tenants SET name = name WHERE id = $1")
        .bind(tenant.as_str())
        .execute(&mut *tx)
        .await?;
    Ok(tx)
}

/// The user's role, and whether another member is a tenant admin.
async fn standing(
    tx: &mut Tx<'_>,
    tenant: &TenantId,
    user: &UserId,
) -> sqlx::Result<(Option<Role>, bool)> {
    let role = sqlx::query("SELECT role FROM memberships WHERE tenant_id = $1 AND user_id = $2")
        .bind(tenant.as_str())
        .bind(user.as_str())
        .fetch_optional(&mut **tx)
        .await?
        .map(|r| text::<Role>(&r, "role"))
        .transpose()?;
    let others: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM memberships WHERE tenant_id = $1 AND user_id <> $2 \
         AND role = 'tenant_admin'",
    )
    .bind(tenant.as_str())
    .bind(user.as_str())
    .fetch_one(&mut **tx)
    .await?;
    Ok((role, others > 0))
}

/// Sets the user's role in the tenant; true when the membership is new.
/// Refused when it would leave the tenant without a tenant admin.
pub async fn set(
    db: &Db,
    tenant: &TenantId,
    user: &UserId,
    role: Role,
) -> sqlx::Result<Result<bool, Refused>> {
    let mut tx = begin_change(db, tenant).await?;
    let (current, other_admin) = standing(&mut tx, tenant, user).await?;
    if current == Some(Role::TenantAdmin) && role != Role::TenantAdmin && !other_admin {
        tx.rollback().await?;
        return Ok(Err(Refused::LastAdmin));
    }
    if current.is_some() {
        sqlx::query("UPDATE memberships SET role = $3 WHERE tenant_id = $1 AND user_id = $2")
            .bind(tenant.as_str())
            .bind(user.as_str())
            .bind(role.as_str())
            .execute(&mut *tx)
            .await?;
    } else {
        sqlx::query(
            "INSERT INTO memberships (tenant_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(tenant.as_str())
        .bind(user.as_str())
        .bind(role.as_str())
        .bind(now())
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(Ok(current.is_none()))
}

/// Removes the user from the tenant, unless they are its last tenant admin.
pub async fn remove(
    db: &Db,
    tenant: &TenantId,
    user: &UserId,
) -> sqlx::Result<Result<(), Refused>> {
    let mut tx = begin_change(db, tenant).await?;
    let refused = match standing(&mut tx, tenant, user).await? {
        (None, _) => Some(Refused::NotMember),
        (Some(Role::TenantAdmin), false) => Some(Refused::LastAdmin),
        _ => None,
    };
    if let Some(refused) = refused {
        tx.rollback().await?;
        return Ok(Err(refused));
    }
    sqlx::query("DELETE FROM memberships WHERE tenant_id = $1 AND user_id = $2")
        .bind(tenant.as_str())
        .bind(user.as_str())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Ok(()))
}

/// Sets a user's memberships to `wanted` (tenant slug, role) — single
/// sign-on's roles claim; tenants that do not exist are ignored. A tenant
/// never loses its last tenant admin this way: where the user is that
/// admin, the membership stays (and a warning is logged).
pub async fn replace(db: &Db, user: &UserId, wanted: &[(String, Role)]) -> sqlx::Result<()> {
    let mut tx = db.pool.begin().await?;
    let kept: Vec<String> = sqlx::query_scalar(
        "SELECT t.slug FROM memberships m JOIN tenants t ON t.id = m.tenant_id \
         WHERE m.user_id = $1 AND m.role = 'tenant_admin' AND NOT EXISTS (SELECT 1 FROM memberships o \
         WHERE o.tenant_id = m.tenant_id AND o.role = 'tenant_admin' AND o.user_id <> $1)",
    )
    .bind(user.as_str())
    .fetch_all(&mut *tx)
    .await?;
    for slug in &kept {
        if !wanted
            .iter()
            .any(|(s, r)| s == slug && *r == Role::TenantAdmin)
        {
            tracing::warn!(user = %user.as_str(), tenant = %slug,
                "single sign-on no longer makes this user a tenant admin, but they are the tenant's last: kept");
        }
    }
    sqlx::query(
        "DELETE FROM memberships WHERE user_id = $1 AND NOT (role = 'tenant_admin' AND NOT EXISTS \
         (SELECT 1 FROM memberships o WHERE o.tenant_id = memberships.tenant_id \
          AND o.role = 'tenant_admin' AND o.user_id <> $1))",
    )
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
