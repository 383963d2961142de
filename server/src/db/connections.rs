//! Tenant AWS connections, secrets sealed (see `crate::secrets`). The
//! external id is the tenant's, not the connection's (`tenants::aws_external_id`).

use super::{new_id, now, Db};
use app::api::connections::Connection;
use app::types::{ConnectionId, TenantId};
use sqlx::any::AnyRow;
use sqlx::Row;

/// A connection as stored: secrets still sealed.
#[derive(Clone, PartialEq)]
pub struct Stored {
    pub public: Connection,
    pub secret_access_key: Option<String>,
}

/// What to write: secrets already sealed.
pub struct Fields {
    pub name: String,
    pub region: String,
    pub role_arn: String,
    pub session_seconds: i64,
    pub cluster_id: String,
    pub endpoint_url: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
}

/// The connection's columns, and its tenant's slug (which names its Airflow
/// connection).
const COLUMNS: &str = "c.id, c.name, c.region, c.role_arn, c.session_seconds, c.cluster_id, \
     c.endpoint_url, c.access_key_id, c.secret_access_key, c.created_at, c.updated_at, \
     t.slug AS tenant_slug FROM connections c JOIN tenants t ON t.id = c.tenant_id";

fn from_row(row: &AnyRow) -> sqlx::Result<Stored> {
    let secret_access_key: Option<String> = row.try_get("secret_access_key")?;
    let region: String = row.try_get("region")?;
    let role_arn: Option<String> = row.try_get("role_arn")?;
    let cluster_id: String = row.try_get("cluster_id")?;
    let id: ConnectionId = row.try_get("id")?;
    let slug: String = row.try_get("tenant_slug")?;
    Ok(Stored {
        public: Connection {
            airflow_conn_id: app::api::connections::airflow_conn_id(&slug, &id),
            id,
            name: row.try_get("name")?,
            permissions_policy: app::api::connections::permissions_policy(
                role_arn.as_deref(),
                &region,
                &cluster_id,
            ),
            region,
            role_arn,
            session_duration_seconds: row.try_get("session_seconds")?,
            cluster_id,
            endpoint_url: row.try_get("endpoint_url")?,
            access_key_id: row.try_get("access_key_id")?,
            has_secret_access_key: secret_access_key.is_some(),
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        },
        secret_access_key,
    })
}

pub async fn list(db: &Db, tenant: &TenantId) -> sqlx::Result<Vec<Stored>> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} WHERE c.tenant_id = $1 ORDER BY c.name"
    ))
    .bind(tenant.as_str())
    .fetch_all(&db.pool)
    .await?;
    rows.iter().map(from_row).collect()
}

pub async fn get(db: &Db, tenant: &TenantId, id: &ConnectionId) -> sqlx::Result<Option<Stored>> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} WHERE c.tenant_id = $1 AND c.id = $2"
    ))
    .bind(tenant.as_str())
    .bind(id)
    .fetch_optional(&db.pool)
    .await?;
    row.as_ref().map(from_row).transpose()
}

pub async fn insert(db: &Db, tenant: &TenantId, c: &Fields) -> sqlx::Result<ConnectionId> {
    let id = ConnectionId::new(new_id());
    let at = now();
    sqlx::query(
        "INSERT INTO connections (id, tenant_id, name, region, role_arn, session_seconds, \
         cluster_id, endpoint_url, access_key_id, secret_access_key, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)",
    )
    .bind(&id)
    .bind(tenant.as_str())
    .bind(&c.name)
    .bind(&c.region)
    .bind(&c.role_arn)
    .bind(c.session_seconds)
    .bind(&c.cluster_id)
    .bind(&c.endpoint_url)
    .bind(&c.access_key_id)
    .bind(&c.secret_access_key)
    .bind(&at)
    .execute(&db.pool)
    .await?;
    Ok(id)
}

pub async fn update(
    db: &Db,
    tenant: &TenantId,
    id: &ConnectionId,
    c: &Fields,
) -> sqlx::Result<bool> {
    let changed = sqlx::query(
        "UPDATE connections SET name = $3, region = $4, role_arn = $5, \
         session_seconds = $6, cluster_id = $7, endpoint_url = $8, access_key_id = $9, \
         secret_access_key = $10, updated_at = $11 \
         WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant.as_str())
    .bind(id)
    .bind(&c.name)
    .bind(&c.region)
    .bind(&c.role_arn)
    .bind(c.session_seconds)
    .bind(&c.cluster_id)
    .bind(&c.endpoint_url)
    .bind(&c.access_key_id)
    .bind(&c.secret_access_key)
    .bind(now())
    .execute(&db.pool)
    .await?
    .rows_affected();
    Ok(changed > 0)
}

pub async fn delete(db: &Db, tenant: &TenantId, id: &ConnectionId) -> sqlx::Result<bool> {
    let gone = sqlx::query("DELETE FROM connections WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.as_str())
        .bind(id)
        .execute(&db.pool)
        .await?
        .rows_affected();
    Ok(gone > 0)
}
