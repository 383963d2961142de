//! One Airflow connection per Trellis connection, kept by Trellis through
//! Airflow's connections API: `trellis_<tenant>_<connection>`, type `aws`,
//! assuming the connection's role with the tenant's external id (the base
//! credentials are Airflow's own — MWAA's execution role — or the
//! connection's static keys where the platform allows them). The DAG files
//! use it, so no tenant names an Airflow connection, nor another tenant's.

use super::api::{AirflowApi, ApiError};
use crate::aws::Target;
use serde_json::{json, Value};

/// The Airflow connection's body for `id`, from the connection's opened
/// target.
pub fn body(id: &str, name: &str, target: &Target) -> Value {
    let mut extra = json!({
        "role_arn": target.role_arn,
        "region_name": target.region,
        "assume_role_method": "assume_role",
        "assume_role_kwargs": {
            "ExternalId": target.external_id,
            "RoleSessionName": target.session_name,
            "DurationSeconds": target.session_seconds.clamp(900, 43_200),
        },
    });
    if let Some(url) = &target.endpoint_url {
        // The role is assumed through the same endpoint as the calls.
        extra["endpoint_url"] = json!(url);
        extra["service_config"] = json!({"sts": {"endpoint_url": url}});
    }
    let mut body = json!({
        "connection_id": id,
        "conn_type": "aws",
        "description": format!("Trellis connection `{name}` (kept by Trellis; changes here are overwritten)"),
        "extra": extra.to_string(),
    });
    if let Some((key, secret)) = &target.static_keys {
        body["login"] = json!(key);
        body["password"] = json!(secret);
    }
    body
}

impl AirflowApi {
    /// Creates or replaces the Airflow connection `body` names (a create
    /// that finds it made meanwhile, by another server or save, replaces it).
    pub async fn put_connection(&self, body: &Value) -> Result<(), ApiError> {
        let id = body["connection_id"].as_str().unwrap_or_default();
        let path = format!("/api/v2/connections/{id}");
        for last in [false, true] {
            let (status, answer) = self.call(reqwest::Method::PATCH, &path, Some(body)).await?;
            if status.is_success() {
                return Ok(());
            }
            if status != reqwest::StatusCode::NOT_FOUND {
                let what = format!("updating Airflow connection {id}");
                return Err(Self::failed(&what, status, &answer));
            }
            let (status, answer) = self
                .call(reqwest::Method::POST, "/api/v2/connections", Some(body))
                .await?;
            if status.is_success() {
                return Ok(());
            }
            if status != reqwest::StatusCode::CONFLICT || last {
                let what = format!("creating Airflow connection {id}");
                return Err(Self::failed(&what, status, &answer));
            }
        }
        unreachable!("the last round returns")
    }

    /// Removes the Airflow connection `id` (already gone is fine).
    pub async fn delete_connection(&self, id: &str) -> Result<(), ApiError> {
        let path = format!("/api/v2/connections/{id}");
        let (status, answer) = self.call(reqwest::Method::DELETE, &path, None).await?;
        if status.is_success() || status == reqwest::StatusCode::NOT_FOUND {
            Ok(())
        } else {
            let what = format!("deleting Airflow connection {id}");
            Err(Self::failed(&what, status, &answer))
        }
    }
}
