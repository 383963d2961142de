//! Tenant AWS connections, secrets sealed (see `crate::secrets`).

use super::{new_id, now, Db};
use app::api::connections::Connection;
use app::types::{ConnectionId, TenantId};
use sqlx::any::AnyRow;
use sqlx::Row;

/// A connection as stored: secrets still sealed.
#[derive(Clone)]
pub struct Stored {
    pub public: Connection,
    pub external_id: Option<String>,
    pub secret_access_key: Option<String>,
}

/// What to write: secrets already sealed.
pub struct Fields {
    pub name: String,
    pub region: String,
    pub role_arn: Option<String>,
    pub external_id: Option<String>,
    pub session_seconds: i64,
    pub cluster_id: String,
    pub airflow_conn_id: String,
    pub endpoint_url: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
}

const COLUMNS: &str = "id, name, region, role_arn, external_id, session_seconds, cluster_id, \
     endpoint_url, access_key_id, secret_access_key, created_at, updated_at, airflow_conn_id";

fn from_row(row: &AnyRow) -> sqlx::Result<Stored> {
    let external_id: Option<String> = row.try_get("external_id")?;
    let secret_access_key: Option<String> = row.try_get("secret_access_key")?;
    Ok(Stored {
        public: Connection {
            id: row.try_get("id")?,
            name: row.try_get("name")?,
            region: row.try_get("region")?,
            role_arn: row.try_get("role_arn")?,
            has_external_id: external_id.is_some(),
            session_duration_seconds: row.try_get("session_seconds")?,
            cluster_id: row.try_get("cluster_id")?,
            airflow_conn_id: row.try_get("airflow_conn_id")?,
            endpoint_url: row.try_get("endpoint_url")?,
            access_key_id: row.try_get("access_key_id")?,
            has_secret_access_key: secret_access_key.is_some(),
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        },
        external_id,
        secret_access_key,
    })
}

pub async fn list(db: &Db, tenant: &TenantId) -> sqlx::Result<Vec<Stored>> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM connections WHERE tenant_id = $1 ORDER BY name"
    ))
    .bind(tenant.as_str())
    .fetch_all(&db.pool)
    .await?;
    rows.iter().map(from_row).collect()
}

pub async fn get(db: &Db, tenant: &TenantId, id: &ConnectionId) -> sqlx::Result<Option<Stored>> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM connections WHERE tenant_id = $1 AND id = $2"
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
        "INSERT INTO connections (id, tenant_id, name, region, role_arn, external_id, session_seconds, \
         cluster_id, endpoint_url, access_key_id, secret_access_key, created_at, updated_at, \
         airflow_conn_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, $13)",
    )
    .bind(&id)
    .bind(tenant.as_str())
    .bind(&c.name)
    .bind(&c.region)
    .bind(&c.role_arn)
    .bind(&c.external_id)
    .bind(c.session_seconds)
    .bind(&c.cluster_id)
    .bind(&c.endpoint_url)
    .bind(&c.access_key_id)
    .bind(&c.secret_access_key)
    .bind(&at)
    .bind(&c.airflow_conn_id)
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
        "UPDATE connections SET name = $3, region = $4, role_arn = $5, external_id = $6, \
         session_seconds = $7, cluster_id = $8, endpoint_url = $9, access_key_id = $10, \
         secret_access_key = $11, updated_at = $12, airflow_conn_id = $13 \
         WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant.as_str())
    .bind(id)
    .bind(&c.name)
    .bind(&c.region)
    .bind(&c.role_arn)
    .bind(&c.external_id)
    .bind(c.session_seconds)
    .bind(&c.cluster_id)
    .bind(&c.endpoint_url)
    .bind(&c.access_key_id)
    .bind(&c.secret_access_key)
    .bind(now())
    .bind(&c.airflow_conn_id)
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
