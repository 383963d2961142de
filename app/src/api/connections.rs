//! Tenant AWS connections: how Trellis reaches a tenant's EMR cluster, and
//! the IAM policies the tenant's role needs for it (AWS's confused-deputy
//! guidance: a role per tenant, trusting Trellis only with the tenant's own
//! external id).

use crate::types::ConnectionId;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// A connection as the API shows it: never its secrets.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Connection {
    #[cfg_attr(feature = "ssr", schema(value_type = String))]
    pub id: ConnectionId,
    pub name: String,
    pub region: String,
    /// The role Trellis assumes in the tenant's account (`null` only on
    /// connections saved before a role was required: they cannot be used).
    pub role_arn: Option<String>,
    pub session_duration_seconds: i64,
    pub cluster_id: String,
    /// The Airflow connection Trellis keeps for this connection in the
    /// server's Airflow / MWAA (`trellis_<tenant>_<connection>`: made and
    /// updated with it, removed with it), which its DAG files use.
    pub airflow_conn_id: String,
    pub endpoint_url: Option<String>,
    /// The static access key id, when the platform allows static keys
    /// (they then call `AssumeRole` instead of Trellis's own credentials).
    pub access_key_id: Option<String>,
    /// Whether a secret access key is set (its value is never shown).
    pub has_secret_access_key: bool,
    pub created_at: String,
    pub updated_at: String,
    /// The least-privilege permissions policy the role needs: the EMR step
    /// calls on this one cluster, S3 read/write under a prefix to name.
    #[cfg_attr(feature = "ssr", schema(value_type = Object))]
    pub permissions_policy: Value,
}

/// A new connection, or (for `PUT`) its replacement. For `PUT`, an absent
/// `secret_access_key` keeps the stored one; `null` clears it. There is no
/// external id to give: Trellis sends the tenant's own with every `AssumeRole`.
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
    /// The role Trellis assumes (required), e.g.
    /// `arn:aws:iam::123456789012:role/trellis`.
    #[serde(default)]
    #[cfg_attr(
        feature = "ssr",
        schema(
            value_type = String,
            required = true,
            pattern = r"^arn:aws[^:]*:iam:[^:]*:[0-9]{12}:role/.*[^\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000].*$"
        )
    )]
    pub role_arn: Option<String>,
    /// 900 to 43200 seconds (default 3600).
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(minimum = 900, maximum = 43200))]
    pub session_duration_seconds: Option<i64>,
    /// The EMR cluster, `j-…`.
    #[cfg_attr(feature = "ssr", schema(pattern = r"^j-[A-Za-z0-9]+$"))]
    pub cluster_id: String,
    /// Not accepted: Trellis names and keeps the Airflow connection itself
    /// (see [`Connection::airflow_conn_id`]); a value answers 422.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ssr", schema(ignore))]
    pub airflow_conn_id: Option<String>,
    /// For private endpoints (and tests): where to send STS and EMR calls.
    #[serde(default)]
    #[cfg_attr(
        feature = "ssr",
        schema(
            pattern = r"^(https?://([A-Za-z0-9-]+\.)*[A-Za-z][A-Za-z0-9-]*(:[1-9][0-9]{0,3})?(/[A-Za-z0-9._~-]*)*)?$"
        )
    )]
    pub endpoint_url: Option<String>,
    /// Static keys, only where the platform allows them
    /// (`TRELLIS_ALLOW_STATIC_AWS_KEYS`); 16 to 128 letters and digits
    /// (`AKIA…`), with `secret_access_key`.
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

/// What a tenant admin pastes into the tenant's role: the tenant's external
/// id (made by Trellis, the same for all the tenant's connections) and the
/// trust policy that lets Trellis, and only with that id, assume the role.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ExternalId {
    /// Sent as `sts:ExternalId` with every `AssumeRole` for the tenant.
    pub external_id: String,
    /// The Trellis server's AWS principal the role must trust; `null` when
    /// the platform has not said (`TRELLIS_AWS_PRINCIPAL_ARN`): the trust
    /// policy then holds a placeholder to replace.
    pub principal_arn: Option<String>,
    /// The role's trust policy, ready to paste.
    #[cfg_attr(feature = "ssr", schema(value_type = Object))]
    pub trust_policy: Value,
}

/// Stands for the Trellis principal in a trust policy when the platform
/// has not named it.
pub const PRINCIPAL_PLACEHOLDER: &str =
    "arn:aws:iam::<TRELLIS-ACCOUNT-ID>:role/<trellis-server-role>";

/// Stands for the S3 locations a role's steps read and write.
pub const S3_PLACEHOLDER: &str = "<your-bucket>/<trellis-prefix>";

/// Stands for the cluster's log location (its `LogUri`), where Trellis reads
/// the logs EMR ships of each step.
pub const LOG_PLACEHOLDER: &str = "<log-bucket>/<log-prefix>";

/// The id of the Airflow connection Trellis keeps for `connection` of the
/// tenant `slug`: no tenant chooses it, so none can name another's.
pub fn airflow_conn_id(slug: &str, connection: &ConnectionId) -> String {
    format!("trellis_{slug}_{connection}")
}

/// The trust policy letting `principal` assume a role only with `external_id`.
pub fn trust_policy(principal: Option<&str>, external_id: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"AWS": principal.unwrap_or(PRINCIPAL_PLACEHOLDER)},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"sts:ExternalId": external_id}},
        }],
    })
}

/// The least-privilege permissions policy of a connection's role: adding,
/// reading and cancelling steps on its one cluster (the account and
/// partition taken from the role), S3 read/write under one prefix, reading
/// the cluster's shipped step logs.
pub fn permissions_policy(role_arn: Option<&str>, region: &str, cluster_id: &str) -> Value {
    let parts: Vec<&str> = role_arn.unwrap_or_default().split(':').collect();
    let partition = parts.get(1).filter(|p| !p.is_empty()).unwrap_or(&"aws");
    let account = parts.get(4).filter(|a| !a.is_empty()).unwrap_or(&"*");
    let cluster =
        format!("arn:{partition}:elasticmapreduce:{region}:{account}:cluster/{cluster_id}");
    let (bucket, prefix) = S3_PLACEHOLDER
        .split_once('/')
        .unwrap_or((S3_PLACEHOLDER, ""));
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "TrellisStepsOnOneCluster",
                "Effect": "Allow",
                "Action": [
                    "elasticmapreduce:AddJobFlowSteps",
                    "elasticmapreduce:DescribeStep",
                    "elasticmapreduce:ListSteps",
                    "elasticmapreduce:CancelSteps",
                    "elasticmapreduce:DescribeCluster",
                ],
                "Resource": cluster,
            },
            {
                "Sid": "TrellisDataReadWrite",
                "Effect": "Allow",
                "Action": [
                    "s3:GetObject",
                    "s3:PutObject",
                    "s3:AbortMultipartUpload",
                    "s3:DeleteObject",
                ],
                "Resource": format!("arn:{partition}:s3:::{bucket}/{prefix}/*"),
            },
            {
                "Sid": "TrellisStepLogsRead",
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": format!("arn:{partition}:s3:::{LOG_PLACEHOLDER}/{cluster_id}/steps/*"),
            },
            {
                "Sid": "TrellisScriptsRead",
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": format!(
                    "arn:{partition}:s3:::{}/*",
                    crate::catalog::DEFAULT_SCRIPT_LOCATION.trim_start_matches("s3://")
                ),
            },
            {
                "Sid": "TrellisDataList",
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": format!("arn:{partition}:s3:::{bucket}"),
                "Condition": {"StringLike": {"s3:prefix": [format!("{prefix}/*")]}},
            },
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trust_policy_demands_the_tenants_external_id() {
        let p = trust_policy(Some("arn:aws:iam::111111111111:role/trellis-server"), "abc");
        let s = &p["Statement"][0];
        assert_eq!(
            s["Principal"]["AWS"],
            "arn:aws:iam::111111111111:role/trellis-server"
        );
        assert_eq!(s["Action"], "sts:AssumeRole");
        assert_eq!(s["Condition"]["StringEquals"]["sts:ExternalId"], "abc");
        let unnamed = trust_policy(None, "abc");
        assert_eq!(
            unnamed["Statement"][0]["Principal"]["AWS"],
            PRINCIPAL_PLACEHOLDER
        );
    }

    #[test]
    fn the_permissions_policy_names_only_the_connections_cluster() {
        let p = permissions_policy(
            Some("arn:aws-cn:iam::123456789012:role/trellis"),
            "cn-north-1",
            "j-2AXXXXXXGAPLF",
        );
        let emr = &p["Statement"][0];
        assert_eq!(
            emr["Resource"],
            "arn:aws-cn:elasticmapreduce:cn-north-1:123456789012:cluster/j-2AXXXXXXGAPLF"
        );
        let actions: Vec<&str> = emr["Action"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        assert!(actions.iter().all(|a| a.starts_with("elasticmapreduce:")));
        assert!(!actions.iter().any(|a| a.contains('*')), "{actions:?}");
        assert_eq!(
            p["Statement"][1]["Resource"],
            "arn:aws-cn:s3:::<your-bucket>/<trellis-prefix>/*"
        );
    }
}
