//! Tenant AWS connections: how Trellis reaches a tenant's EMR cluster.

use crate::types::ConnectionId;
use serde::{Deserialize, Serialize};

/// A connection as the API shows it: never its secrets.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Connection {
    #[cfg_attr(feature = "ssr", schema(value_type = String))]
    pub id: ConnectionId,
    pub name: String,
    pub region: String,
    /// The role Trellis assumes in the tenant's account.
    pub role_arn: Option<String>,
    /// Whether an external id is set (its value is never shown).
    pub has_external_id: bool,
    pub session_duration_seconds: i64,
    pub cluster_id: String,
    /// The Airflow connection id the rendered Airflow DAG files use for the
    /// cluster's AWS credentials (in the tenant's Airflow / MWAA).
    pub airflow_conn_id: String,
    pub endpoint_url: Option<String>,
    /// The static access key id, when the deployment uses static keys.
    pub access_key_id: Option<String>,
    /// Whether a secret access key is set (its value is never shown).
    pub has_secret_access_key: bool,
    pub created_at: String,
    pub updated_at: String,
}

/// A new connection, or (for `PUT`) its replacement. For `PUT`, an absent
/// `external_id` or `secret_access_key` keeps the stored one; `null` clears it.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ConnectionInput {
    pub name: String,
    /// An AWS region such as `eu-west-1`.
    pub region: String,
    #[serde(default)]
    pub role_arn: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "secret_field"
    )]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<String>))]
    pub external_id: Option<Option<String>>,
    /// 900 to 43200 seconds (default 3600).
    #[serde(default)]
    pub session_duration_seconds: Option<i64>,
    /// The EMR cluster, `j-…`.
    pub cluster_id: String,
    /// The Airflow connection id for the cluster's AWS credentials in Airflow
    /// (default `aws_default`).
    #[serde(default)]
    pub airflow_conn_id: Option<String>,
    /// For private endpoints (and tests): where to send STS and EMR calls.
    #[serde(default)]
    pub endpoint_url: Option<String>,
    #[serde(default)]
    pub access_key_id: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "secret_field"
    )]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<String>))]
    pub secret_access_key: Option<Option<String>>,
}

/// Tells an absent field (`None`: keep) from an explicit `null` (`Some(None)`: clear).
mod secret_field {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<Option<String>>, s: S) -> Result<S::Ok, S::Error> {
        v.as_ref().and_then(|v| v.as_ref()).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Option<String>>, D::Error> {
        Option::<String>::deserialize(d).map(Some)
    }
}

/// What testing a connection found.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ConnectionTest {
    pub ok: bool,
    /// The cluster's state, e.g. `WAITING` or `RUNNING`.
    pub cluster_state: String,
    pub cluster_name: String,
    /// The identity the calls were made as (the assumed role's session).
    pub identity: Option<String>,
}
