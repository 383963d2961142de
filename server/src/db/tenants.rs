//! Tenants, as platform admins manage them.

use super::{new_id, now, Db};
use app::api::access::Tenant;
use app::types::TenantId;
use sqlx::any::AnyRow;
use sqlx::Row;

const COLUMNS: &str = "t.id, t.slug, t.name, t.max_concurrent_tasks, t.quota_bytes, t.created_at, \
     t.retention_days, t.swept_at, t.swept_runs, t.swept_bytes, \
     (SELECT COUNT(*) FROM memberships m WHERE m.tenant_id = t.id) AS members";

fn from_row(row: &AnyRow) -> sqlx::Result<Tenant> {
    Ok(Tenant {
        slug: row.try_get("slug")?,
        name: row.try_get("name")?,
        max_concurrent_tasks: row.try_get("max_concurrent_tasks")?,
        quota_bytes: row.try_get("quota_bytes")?,
        // Filled in from the engine, which measures the tenant's folder.
        effective_quota_bytes: 0,
        usage_bytes: 0,
        retention_days: row.try_get("retention_days")?,
        effective_retention_days: 0,
        last_sweep: match row.try_get::<Option<String>, _>("swept_at")? {
            Some(at) => Some(app::api::access::Sweep {
                at,
                runs: row.try_get::<Option<i64>, _>("swept_runs")?.unwrap_or(0),
                bytes: row.try_get::<Option<i64>, _>("swept_bytes")?.unwrap_or(0),
            }),
            None => None,
        },
        created_at: row.try_get("created_at")?,
        members: row.try_get("members")?,
    })
}

/// Every tenant, by slug.
pub async fn list(db: &Db) -> sqlx::Result<Vec<Tenant>> {
    Ok(list_with_ids(db)
        .await?
        .into_iter()
        .map(|(_, t)| t)
        .collect())
}

/// Every tenant with its id, by slug.
pub async fn list_with_ids(db: &Db) -> sqlx::Result<Vec<(TenantId, Tenant)>> {
    sqlx::query(&format!("SELECT {COLUMNS} FROM tenants t ORDER BY t.slug"))
        .fetch_all(&db.pool)
        .await?
        .iter()
        .map(|r| Ok((TenantId::new(r.try_get::<String, _>("id")?), from_row(r)?)))
        .collect()
}

/// The tenant with `slug`, and its id.
pub async fn by_slug(db: &Db, slug: &str) -> sqlx::Result<Option<(TenantId, Tenant)>> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM tenants t WHERE t.slug = $1"
    ))
    .bind(slug)
    .fetch_optional(&db.pool)
    .await?;
    row.map(|r| Ok((TenantId::new(r.try_get::<String, _>("id")?), from_row(&r)?)))
        .transpose()
}

pub async fn create(
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

pub async fn update(
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

/// Sets the tenant's own disk quota (`None`: the platform default).
pub async fn set_quota(db: &Db, tenant: &TenantId, quota_bytes: Option<i64>) -> sqlx::Result<()> {
    sqlx::query("UPDATE tenants SET quota_bytes = $2 WHERE id = $1")
        .bind(tenant.as_str())
        .bind(quota_bytes)
        .execute(&db.pool)
        .await
        .map(|_| ())
}

/// Sets the tenant's own retention in days (`None`: the platform default).
pub async fn set_retention(db: &Db, tenant: &TenantId, days: Option<i64>) -> sqlx::Result<()> {
    sqlx::query("UPDATE tenants SET retention_days = $2 WHERE id = $1")
        .bind(tenant.as_str())
        .bind(days)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// Every tenant's id with its own retention in days, if it has one.
pub async fn retentions(db: &Db) -> sqlx::Result<Vec<(TenantId, Option<i64>)>> {
    sqlx::query("SELECT id, retention_days FROM tenants ORDER BY id")
        .fetch_all(&db.pool)
        .await?
        .iter()
        .map(|row| {
            Ok((
                TenantId::new(row.try_get::<String, _>("id")?),
                row.try_get("retention_days")?,
            ))
        })
        .collect()
}

/// Records what a retention sweep freed in the tenant.
pub async fn record_sweep(db: &Db, tenant: &TenantId, runs: i64, bytes: i64) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE tenants SET swept_at = $2, swept_runs = $3, swept_bytes = $4 WHERE id = $1",
    )
    .bind(tenant.as_str())
    .bind(now())
    .bind(runs)
    .bind(bytes)
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// The tenant's own disk quota, if it has one.
pub async fn quota_bytes(db: &Db, tenant: &TenantId) -> sqlx::Result<Option<i64>> {
    Ok(
        sqlx::query_scalar::<_, Option<i64>>("SELECT quota_bytes FROM tenants WHERE id = $1")
            .bind(tenant.as_str())
            .fetch_optional(&db.pool)
            .await?
            .flatten(),
    )
}

/// Every tenant's own limit on running tasks, where it has one.
pub async fn task_limits(db: &Db) -> sqlx::Result<Vec<(TenantId, i64)>> {
    sqlx::query(
        "SELECT id, max_concurrent_tasks FROM tenants WHERE max_concurrent_tasks IS NOT NULL",
    )
    .fetch_all(&db.pool)
    .await?
    .iter()
    .map(|r| {
        Ok((
            TenantId::new(r.try_get::<String, _>("id")?),
            r.try_get("max_concurrent_tasks")?,
        ))
    })
    .collect()
}

/// The tenant's external id for AWS, made (32 random bytes, base64url) the
/// first time it is asked for; concurrent first asks agree on one.
pub async fn aws_external_id(db: &Db, tenant: &TenantId) -> sqlx::Result<String> {
    let read = || async {
        sqlx::query_scalar::<_, Option<String>>("SELECT aws_external_id FROM tenants WHERE id = $1")
            .bind(tenant.as_str())
            .fetch_one(&db.pool)
            .await
    };
    if let Some(id) = read().await? {
        return Ok(id);
    }
    let made = {
        use base64::Engine;
        use rand::RngCore;
        let mut bytes = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut bytes);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    };
    sqlx::query(
        "UPDATE tenants SET aws_external_id = $2 WHERE id = $1 AND aws_external_id IS NULL",
    )
    .bind(tenant.as_str())
    .bind(&made)
    .execute(&db.pool)
    .await?;
    read().await?.ok_or(sqlx::Error::RowNotFound)
}
