//! Reaching a tenant's AWS account, following AWS's confused-deputy
//! guidance: Trellis's own credentials (or, where the platform allows them,
//! the connection's static keys) serve only to `AssumeRole` into the
//! tenant's role, always with the tenant's external id; every call for the
//! tenant runs with the assumed role's credentials.

use app::api::connections::ConnectionTest;
use app::types::TenantId;
use aws_sdk_emr::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_emr::error::{ProvideErrorMetadata, SdkError};
use std::time::Duration;

/// The platform's side of reaching tenants' accounts.
#[derive(Clone, Default)]
pub struct Platform {
    /// Whether connections may carry static keys
    /// (`TRELLIS_ALLOW_STATIC_AWS_KEYS`); they then call `AssumeRole` in
    /// place of the server's own credentials.
    pub allow_static_keys: bool,
    /// The server's AWS principal that tenants' roles trust, shown in the
    /// trust policy (`TRELLIS_AWS_PRINCIPAL_ARN`).
    pub principal_arn: Option<String>,
    /// The server's own credentials; `None`: AWS's default chain
    /// (environment, profile, instance or task role).
    pub credentials: Option<Credentials>,
}

impl std::fmt::Debug for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Platform")
            .field("allow_static_keys", &self.allow_static_keys)
            .field("principal_arn", &self.principal_arn)
            .field(
                "credentials",
                &self
                    .credentials
                    .as_ref()
                    .map(|c| (c.access_key_id().to_owned(), "***")),
            )
            .finish()
    }
}

/// Everything needed to call AWS for one connection, secrets opened.
#[derive(Clone)]
pub struct Target {
    pub region: String,
    pub role_arn: String,
    /// The tenant's external id, sent with every `AssumeRole`.
    pub external_id: String,
    pub session_seconds: i64,
    pub cluster_id: String,
    pub endpoint_url: Option<String>,
    /// The connection's own keys (only where the platform allows them).
    pub static_keys: Option<(String, String)>,
    /// The server's own credentials (`None`: the default chain); used only
    /// to assume the role.
    pub platform_credentials: Option<Credentials>,
    /// Names the assumed-role session (`trellis-<tenant>`), for CloudTrail.
    pub session_name: String,
    /// Checks `endpoint_url`'s addresses: the tenant chose them.
    pub outbound: crate::outbound::Guard,
}

/// Secrets stay out of logs.
impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("region", &self.region)
            .field("role_arn", &self.role_arn)
            .field("external_id", &"***")
            .field("cluster_id", &self.cluster_id)
            .field("endpoint_url", &self.endpoint_url)
            .field(
                "static_keys",
                &self.static_keys.as_ref().map(|(id, _)| (id, "***")),
            )
            .finish()
    }
}

/// What opening a stored connection needs besides the connection.
pub struct Opening<'a> {
    pub tenant: &'a TenantId,
    /// The tenant's external id (`db::tenants::aws_external_id`).
    pub external_id: String,
    /// Names the assumed-role session, for CloudTrail.
    pub session_name: String,
    pub sealer: &'a crate::secrets::Sealer,
    /// Checks the addresses of the connection's endpoint.
    pub outbound: &'a crate::outbound::Guard,
    pub platform: &'a Platform,
}

impl Target {
    /// The stored connection with its secrets opened, or why the platform
    /// will not use it: it names no role to assume, or it carries static
    /// keys the platform does not allow.
    pub fn open(
        stored: &crate::db::connections::Stored,
        with: &Opening<'_>,
    ) -> Result<Target, Failure> {
        let c = &stored.public;
        let role_arn = c.role_arn.clone().ok_or_else(|| Failure {
            field: "role_arn",
            code: "required",
            message: format!(
                "connection `{}` names no role to assume: Trellis never uses its own AWS identity \
                 for a tenant's work; give it a role that trusts Trellis with the tenant's external id",
                c.name
            ),
        })?;
        let has_keys = c.access_key_id.is_some() || stored.secret_access_key.is_some();
        if has_keys && !with.platform.allow_static_keys {
            return Err(Failure {
                field: "access_key_id",
                code: "not_allowed",
                message: format!(
                    "connection `{}` carries static AWS keys, which this platform does not allow \
                     (TRELLIS_ALLOW_STATIC_AWS_KEYS): remove them; Trellis assumes the role itself",
                    c.name
                ),
            });
        }
        let secret = stored
            .secret_access_key
            .as_deref()
            .map(|s| with.sealer.open(with.tenant.as_str(), s))
            .transpose()
            .map_err(|e| Failure {
                field: "secret_access_key",
                code: "unreadable",
                message: format!(
                    "the stored secret access key cannot be opened with this server's key: {e}"
                ),
            })?;
        Ok(Target {
            region: c.region.clone(),
            role_arn,
            external_id: with.external_id.clone(),
            session_seconds: c.session_duration_seconds,
            cluster_id: c.cluster_id.clone(),
            endpoint_url: c.endpoint_url.clone(),
            static_keys: c.access_key_id.clone().zip(secret),
            platform_credentials: with.platform.credentials.clone(),
            session_name: with.session_name.clone(),
            outbound: with.outbound.clone(),
        })
    }

    /// The connection's own endpoint, when it has one, with an HTTP client
    /// that connects only to its checked addresses. AWS's own endpoints
    /// (chosen by the SDK from the region) keep the default client.
    fn endpoint(
        &self,
    ) -> Result<
        Option<(
            String,
            aws_smithy_runtime_api::client::http::SharedHttpClient,
        )>,
        Failure,
    > {
        let Some(url) = &self.endpoint_url else {
            return Ok(None);
        };
        let refused = |message: String| Failure {
            field: "endpoint_url",
            code: "refused",
            message,
        };
        let parsed =
            reqwest::Url::parse(url).map_err(|e| refused(format!("`{url}` is not a URL: {e}")))?;
        self.outbound
            .check_url(&parsed)
            .map_err(|r| refused(r.to_string()))?;
        Ok(Some((url.clone(), self.outbound.aws_http_client())))
    }
}

/// Why AWS could not be used, naming the connection field to look at.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct Failure {
    /// `role_arn`, `cluster_id`, `endpoint_url`, `access_key_id`, `region`.
    pub field: &'static str,
    /// `access_denied`, `unknown_cluster`, `unreachable`, `refused` (an
    /// internal endpoint address), `aws_error`.
    pub code: &'static str,
    pub message: String,
}

/// Credentials from an assumed role, with when they stop working.
#[derive(Clone)]
pub struct Assumed {
    pub credentials: Credentials,
    pub identity: Option<String>,
    pub expires: Option<std::time::SystemTime>,
}

fn classify<
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + 'static,
>(
    err: SdkError<E, R>,
    what: &str,
    field: &'static str,
) -> Failure {
    if let Some(refusal) = crate::outbound::refusal_in(&err) {
        return Failure {
            field: "endpoint_url",
            code: "refused",
            message: format!("{what}: {refusal}"),
        };
    }
    match &err {
        SdkError::ServiceError(service) => {
            let code = service.err().code().unwrap_or("Unknown");
            let message = service.err().message().unwrap_or_default().to_owned();
            let kind = match code {
                "AccessDenied"
                | "AccessDeniedException"
                | "UnrecognizedClientException"
                | "InvalidClientTokenId"
                | "SignatureDoesNotMatch"
                | "ExpiredToken" => "access_denied",
                _ => "aws_error",
            };
            Failure {
                field,
                code: kind,
                message: format!("{what}: {code}: {message}"),
            }
        }
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => Failure {
            field: "endpoint_url",
            code: "unreachable",
            message: format!(
                "{what}: AWS could not be reached ({})",
                aws_sdk_emr::error::DisplayErrorContext(&err)
            ),
        },
        _ => Failure {
            field,
            code: "aws_error",
            message: format!("{what}: {}", aws_sdk_emr::error::DisplayErrorContext(&err)),
        },
    }
}

/// The credentials that may call `AssumeRole` for this connection: its
/// static keys where allowed, else the server's own. Nothing else is ever
/// called with them.
async fn assuming_config(target: &Target) -> Result<aws_config::SdkConfig, Failure> {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(target.region.clone()))
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .operation_attempt_timeout(Duration::from_secs(10))
                .connect_timeout(Duration::from_secs(5))
                .build(),
        );
    if let Some((id, secret)) = &target.static_keys {
        loader = loader.credentials_provider(Credentials::new(
            id.clone(),
            secret.clone(),
            None,
            None,
            "trellis-connection",
        ));
    } else if let Some(own) = &target.platform_credentials {
        loader = loader.credentials_provider(own.clone());
    }
    if let Some((url, client)) = target.endpoint()? {
        loader = loader.endpoint_url(url).http_client(client);
    }
    Ok(loader.load().await)
}

/// The `AssumeRole` request for `target`: its role, its session name and
/// duration, and always the tenant's external id.
fn assume_role_request(
    sts: &aws_sdk_sts::Client,
    target: &Target,
) -> aws_sdk_sts::operation::assume_role::builders::AssumeRoleFluentBuilder {
    sts.assume_role()
        .role_arn(&target.role_arn)
        .role_session_name(&target.session_name)
        .external_id(&target.external_id)
        .duration_seconds(target.session_seconds.clamp(900, 43_200) as i32)
}

/// Assumes the connection's role with the tenant's external id.
pub async fn assume(target: &Target) -> Result<Assumed, Failure> {
    let base = assuming_config(target).await?;
    let sts = aws_sdk_sts::Client::from_conf(
        aws_sdk_sts::config::Builder::from(&base)
            .interceptor(crate::metrics::AwsCalls)
            .build(),
    );
    let role = &target.role_arn;
    let out = assume_role_request(&sts, target)
        .send()
        .await
        .map_err(|e| classify(e, &format!("assuming role {role}"), "role_arn"))?;
    let c = out.credentials().ok_or(Failure {
        field: "role_arn",
        code: "aws_error",
        message: format!("assuming role {role}: STS answered without credentials"),
    })?;
    let expires = std::time::SystemTime::try_from(*c.expiration()).ok();
    Ok(Assumed {
        credentials: Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().to_owned()),
            expires,
            "trellis-assumed-role",
        ),
        identity: out.assumed_role_user().map(|u| u.arn().to_owned()),
        expires,
    })
}

/// An EMR client acting with `assumed`, and with nothing else: no default
/// chain behind it.
pub fn emr(target: &Target, assumed: &Assumed) -> Result<aws_sdk_emr::Client, Failure> {
    let mut config = aws_sdk_emr::Config::builder()
        .interceptor(crate::metrics::AwsCalls)
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(target.region.clone()))
        .credentials_provider(assumed.credentials.clone())
        .timeout_config(
            aws_sdk_emr::config::timeout::TimeoutConfig::builder()
                .operation_attempt_timeout(Duration::from_secs(10))
                .connect_timeout(Duration::from_secs(5))
                .build(),
        );
    if let Some((url, client)) = target.endpoint()? {
        config = config.endpoint_url(url).http_client(client);
    }
    Ok(aws_sdk_emr::Client::from_conf(config.build()))
}

/// An S3 client acting with `assumed` (and nothing else), on the
/// connection's endpoint when it has one.
pub fn s3(target: &Target, assumed: &Assumed) -> Result<aws_sdk_s3::Client, Failure> {
    let endpoint = target.endpoint()?;
    Ok(s3_client(
        &target.region,
        assumed.credentials.clone(),
        endpoint,
    ))
}

/// An S3 client with exactly `credentials` (no default chain behind them),
/// on `endpoint` when given (path-style there: an emulator or a private
/// endpoint has no per-bucket host names).
pub fn s3_client(
    region: &str,
    credentials: Credentials,
    endpoint: Option<(
        String,
        aws_smithy_runtime_api::client::http::SharedHttpClient,
    )>,
) -> aws_sdk_s3::Client {
    let mut config = aws_sdk_s3::Config::builder()
        .interceptor(crate::metrics::AwsCalls)
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .credentials_provider(credentials)
        .timeout_config(
            aws_sdk_s3::config::timeout::TimeoutConfig::builder()
                .operation_attempt_timeout(Duration::from_secs(60))
                .connect_timeout(Duration::from_secs(5))
                .build(),
        );
    if let Some((url, client)) = endpoint {
        config = config
            .endpoint_url(url)
            .http_client(client)
            .force_path_style(true);
    }
    aws_sdk_s3::Client::from_conf(config.build())
}

/// What a local step of a process with a connection is given to reach the
/// tenant's S3 data: the assumed role's short-lived credentials (never the
/// server's: steps start with an empty environment), the region, the
/// connection's endpoint, and the connection's name for messages. The
/// standard AWS names, so a custom component's AWS CLI or SDK acts as the
/// role too; the instance metadata service is switched off for them.
pub fn step_env(connection: &str, target: &Target, assumed: &Assumed) -> Vec<(String, String)> {
    let c = &assumed.credentials;
    let mut env = vec![
        ("AWS_ACCESS_KEY_ID".to_owned(), c.access_key_id().to_owned()),
        (
            "AWS_SECRET_ACCESS_KEY".to_owned(),
            c.secret_access_key().to_owned(),
        ),
        ("AWS_REGION".to_owned(), target.region.clone()),
        ("AWS_DEFAULT_REGION".to_owned(), target.region.clone()),
        ("AWS_EC2_METADATA_DISABLED".to_owned(), "true".to_owned()),
        (STEP_CONNECTION.to_owned(), connection.to_owned()),
    ];
    if let Some(token) = c.session_token() {
        env.push(("AWS_SESSION_TOKEN".to_owned(), token.to_owned()));
    }
    if let Some(url) = &target.endpoint_url {
        env.push(("AWS_ENDPOINT_URL".to_owned(), url.clone()));
    }
    env
}

/// Names the connection a step's credentials come from.
pub const STEP_CONNECTION: &str = "TRELLIS_AWS_CONNECTION";

/// The S3 access a step was given by [`step_env`], read back by the step.
#[derive(Clone)]
pub struct StepAws {
    pub connection: String,
    pub region: String,
    pub credentials: Credentials,
    pub endpoint_url: Option<String>,
}

impl StepAws {
    /// `None` when the step was given no connection.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Option<StepAws> {
        let connection = var(STEP_CONNECTION)?;
        Some(StepAws {
            connection,
            region: var("AWS_REGION").unwrap_or_else(|| "us-east-1".into()),
            credentials: Credentials::new(
                var("AWS_ACCESS_KEY_ID").unwrap_or_default(),
                var("AWS_SECRET_ACCESS_KEY").unwrap_or_default(),
                var("AWS_SESSION_TOKEN"),
                None,
                "trellis-step",
            ),
            endpoint_url: var("AWS_ENDPOINT_URL"),
        })
    }

    /// The S3 client of these credentials, reaching the endpoint only
    /// where `outbound` allows its addresses.
    pub fn s3(&self, outbound: &crate::outbound::Guard) -> Result<aws_sdk_s3::Client, String> {
        let endpoint = match &self.endpoint_url {
            None => None,
            Some(url) => {
                let parsed = reqwest::Url::parse(url)
                    .map_err(|e| format!("the connection's endpoint `{url}` is not a URL: {e}"))?;
                outbound
                    .check_url(&parsed)
                    .map_err(|r| format!("the connection's endpoint: {r}"))?;
                Some((url.clone(), outbound.aws_http_client()))
            }
        };
        Ok(s3_client(&self.region, self.credentials.clone(), endpoint))
    }
}

impl std::fmt::Debug for StepAws {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StepAws")
            .field("connection", &self.connection)
            .field("region", &self.region)
            .field("endpoint_url", &self.endpoint_url)
            .finish_non_exhaustive()
    }
}

/// "Test connection": assume the role, describe the cluster.
pub async fn test(target: &Target) -> Result<ConnectionTest, Failure> {
    let assumed = assume(target).await?;
    let out = emr(target, &assumed)?
        .describe_cluster()
        .cluster_id(&target.cluster_id)
        .send()
        .await
        .map_err(|e| {
            let mut failure = classify(e, &format!("describing cluster {}", target.cluster_id), "cluster_id");
            if failure.code == "aws_error" && failure.message.contains("is not valid") {
                failure.code = "unknown_cluster";
                failure.message = format!(
                    "there is no EMR cluster {} in {} that this role can see (check the cluster id and the region)",
                    target.cluster_id, target.region
                );
            }
            failure
        })?;
    let cluster = out.cluster();
    Ok(ConnectionTest {
        ok: true,
        cluster_state: cluster
            .and_then(|c| c.status())
            .and_then(|s| s.state())
            .map(|s| s.as_str().to_owned())
            .unwrap_or_else(|| "UNKNOWN".into()),
        cluster_name: cluster
            .and_then(|c| c.name())
            .unwrap_or_default()
            .to_owned(),
        identity: assumed.identity,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::connections::Stored;
    use app::api::connections::Connection;

    fn stored(role: Option<&str>, keys: Option<(&str, &str)>) -> Stored {
        Stored {
            public: Connection {
                id: "c1".into(),
                name: "prod".into(),
                region: "eu-west-1".into(),
                role_arn: role.map(str::to_owned),
                session_duration_seconds: 3600,
                cluster_id: "j-1".into(),
                airflow_conn_id: "aws_default".into(),
                endpoint_url: None,
                access_key_id: keys.map(|k| k.0.to_owned()),
                has_secret_access_key: keys.is_some(),
                created_at: String::new(),
                updated_at: String::new(),
                permissions_policy: serde_json::Value::Null,
            },
            secret_access_key: keys.map(|k| k.1.to_owned()),
        }
    }

    fn open(stored: &Stored, platform: &Platform) -> Result<Target, Failure> {
        let sealer = crate::secrets::Sealer::random();
        let tenant = TenantId::new("t1".to_owned());
        let sealed = Stored {
            secret_access_key: stored
                .secret_access_key
                .as_deref()
                .map(|s| sealer.seal(tenant.as_str(), s)),
            ..stored.clone()
        };
        Target::open(
            &sealed,
            &Opening {
                tenant: &tenant,
                external_id: "tenant-external-id".into(),
                session_name: "trellis-t1".into(),
                sealer: &sealer,
                outbound: &crate::outbound::Guard::new("".parse().unwrap()),
                platform,
            },
        )
    }

    #[test]
    fn a_connection_without_a_role_is_never_used() {
        let refused = open(&stored(None, None), &Platform::default()).unwrap_err();
        assert_eq!((refused.field, refused.code), ("role_arn", "required"));
        assert!(refused.message.contains("names no role"), "{refused}");
    }

    #[test]
    fn static_keys_are_used_only_where_the_platform_allows_them() {
        let with_keys = stored(
            Some("arn:aws:iam::123456789012:role/r"),
            Some(("AKIA1", "s")),
        );
        let refused = open(&with_keys, &Platform::default()).unwrap_err();
        assert_eq!(
            (refused.field, refused.code),
            ("access_key_id", "not_allowed")
        );
        assert!(
            refused.message.contains("TRELLIS_ALLOW_STATIC_AWS_KEYS"),
            "{refused}"
        );
        let allowing = Platform {
            allow_static_keys: true,
            ..Platform::default()
        };
        let target = open(&with_keys, &allowing).unwrap();
        assert_eq!(target.static_keys, Some(("AKIA1".into(), "s".into())));
    }

    #[test]
    fn assume_role_always_carries_the_tenants_external_id() {
        let target = open(
            &stored(Some("arn:aws:iam::123456789012:role/r"), None),
            &Platform::default(),
        )
        .unwrap();
        let sts = aws_sdk_sts::Client::from_conf(
            aws_sdk_sts::Config::builder()
                .behavior_version(BehaviorVersion::latest())
                .region(Region::new("eu-west-1"))
                .build(),
        );
        let request = assume_role_request(&sts, &target);
        assert_eq!(
            request.get_external_id().as_deref(),
            Some("tenant-external-id")
        );
        assert_eq!(
            request.get_role_arn().as_deref(),
            Some("arn:aws:iam::123456789012:role/r")
        );
        assert_eq!(
            request.get_role_session_name().as_deref(),
            Some("trellis-t1")
        );
        assert!(!format!("{target:?}").contains("tenant-external-id"));
    }
}
