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
    #[cfg_attr(
        feature = "ssr",
        schema(
            min_length = 1,
            max_length = 100,
            pattern = r"[^\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
        )
    )]
    pub name: String,
    /// An AWS region such as `eu-west-1`.
    #[cfg_attr(feature = "ssr", schema(pattern = r"^[a-z0-9]+(-[a-z0-9]+)+-[0-9]+$"))]
    pub region: String,
    /// A role ARN such as `arn:aws:iam::123456789012:role/trellis`; empty for none.
    #[serde(default)]
    #[cfg_attr(
        feature = "ssr",
        schema(
            pattern = r"^(arn:aws[^:]*:iam:[^:]*:[0-9]{12}:role/.*[^\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000].*)?$"
        )
    )]
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
    #[cfg_attr(feature = "ssr", schema(minimum = 900, maximum = 43200))]
    pub session_duration_seconds: Option<i64>,
    /// The EMR cluster, `j-…`.
    #[cfg_attr(feature = "ssr", schema(pattern = r"^j-[A-Za-z0-9]+$"))]
    pub cluster_id: String,
    /// The Airflow connection id for the cluster's AWS credentials in Airflow
    /// (default `aws_default`).
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(pattern = r"^[A-Za-z0-9_.-]{0,250}$"))]
    pub airflow_conn_id: Option<String>,
    /// For private endpoints (and tests): where to send STS and EMR calls.
    #[serde(default)]
    pub endpoint_url: Option<String>,
    /// 16 to 128 letters and digits (`AKIA…`), with `secret_access_key`.
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(pattern = r"^([A-Za-z0-9]{16,128})?$"))]
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
