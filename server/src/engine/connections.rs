//! What the engine does when a tenant's AWS connection changes: its cached
//! credentials go, and the server's Airflow (if any) keeps a connection of
//! its own for it, which the DAG files' tasks use to assume the tenant's role.

use super::Engine;
use app::types::{ConnectionId, TenantId};

impl Engine {
    /// A connection changed: its cached credentials go, so the next call
    /// through it uses its new settings.
    pub fn connection_changed(&self, tenant: &TenantId, connection: &ConnectionId) {
        self.inner.emr.forget(tenant, connection);
    }

    /// A connection was deleted: its cached credentials go and every watch
    /// of a step through it ends now, failed; nothing calls AWS with it again.
    pub fn connection_deleted(&self, tenant: &TenantId, connection: &ConnectionId) {
        self.inner.emr.drop_connection(tenant, connection);
    }

    /// Makes or replaces, in the server's Airflow (if any), the Airflow
    /// connection of `connection` as it is stored now; the connection's
    /// own problems are reported, never passed over.
    pub async fn sync_airflow_connection(
        &self,
        tenant: &TenantId,
        slug: &str,
        connection: &ConnectionId,
    ) -> Result<(), String> {
        let Some(airflow) = self.airflow() else {
            return Ok(());
        };
        let stored = crate::db::connections::get(&self.inner.db, tenant, connection)
            .await
            .map_err(|e| format!("reading connection {connection}: {e}"))?
            .ok_or_else(|| format!("connection {connection} no longer exists"))?;
        let target = self
            .inner
            .emr
            .target(tenant, &stored)
            .await
            .map_err(|e| e.to_string())?;
        let id = app::api::connections::airflow_conn_id(slug, connection);
        let body = crate::airflow::aws_connections::body(&id, &stored.public.name, &target);
        airflow
            .api
            .put_connection(&body)
            .await
            .map_err(|e| e.to_string())
    }

    /// [`sync_airflow_connection`](Self::sync_airflow_connection) in the
    /// background (a saved connection does not wait for Airflow; publishing
    /// for Airflow makes sure of it again).
    pub fn keep_airflow_connection(
        &self,
        tenant: &TenantId,
        slug: &str,
        connection: &ConnectionId,
    ) {
        if self.airflow().is_none() {
            return;
        }
        let (engine, tenant, slug, connection) = (
            self.clone(),
            tenant.clone(),
            slug.to_owned(),
            connection.clone(),
        );
        tokio::spawn(async move {
            if let Err(error) = engine
                .sync_airflow_connection(&tenant, &slug, &connection)
                .await
            {
                tracing::warn!(%connection, %error, "keeping the Airflow connection failed");
            }
        });
    }

    /// Removes a deleted connection's Airflow connection, in the background.
    pub fn drop_airflow_connection(&self, airflow_conn_id: &str) {
        let Some(airflow) = self.airflow().cloned() else {
            return;
        };
        let id = airflow_conn_id.to_owned();
        tokio::spawn(async move {
            if let Err(error) = airflow.api.delete_connection(&id).await {
                tracing::warn!(airflow_conn_id = %id, %error, "removing the Airflow connection failed");
            }
        });
    }
}
