//! Reaching a tenant's AWS account: the platform's own credentials (static
//! keys on the connection, or the default chain), `AssumeRole` into the
//! tenant's role, and EMR clients with the assumed credentials.

use app::api::connections::ConnectionTest;
use aws_sdk_emr::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_emr::error::{ProvideErrorMetadata, SdkError};
use std::time::Duration;

/// Everything needed to call AWS for one connection, secrets opened.
#[derive(Clone)]
pub struct Target {
    pub region: String,
    pub role_arn: Option<String>,
    pub external_id: Option<String>,
    pub session_seconds: i64,
    pub cluster_id: String,
    pub endpoint_url: Option<String>,
    pub static_keys: Option<(String, String)>,
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
            .field("external_id", &self.external_id.as_ref().map(|_| "***"))
            .field("cluster_id", &self.cluster_id)
            .field("endpoint_url", &self.endpoint_url)
            .field(
                "static_keys",
                &self.static_keys.as_ref().map(|(id, _)| (id, "***")),
            )
            .finish()
    }
}

impl Target {
    /// The stored connection with its secrets opened; `session_name` names
    /// the assumed-role session (for CloudTrail), `outbound` checks the
    /// addresses of its endpoint.
    pub fn open(
        stored: &crate::db::connections::Stored,
        sealer: &crate::secrets::Sealer,
        tenant: &app::types::TenantId,
        session_name: String,
        outbound: &crate::outbound::Guard,
    ) -> anyhow::Result<Target> {
        let open = |v: &Option<String>| {
            v.as_deref()
                .map(|s| sealer.open(tenant.as_str(), s))
                .transpose()
        };
        let c = &stored.public;
        Ok(Target {
            region: c.region.clone(),
            role_arn: c.role_arn.clone(),
            external_id: open(&stored.external_id)?,
            session_seconds: c.session_duration_seconds,
            cluster_id: c.cluster_id.clone(),
            endpoint_url: c.endpoint_url.clone(),
            static_keys: c
                .access_key_id
                .clone()
                .zip(open(&stored.secret_access_key)?),
            session_name,
            outbound: outbound.clone(),
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

/// The platform's own credentials for this connection.
async fn base_config(target: &Target) -> Result<aws_config::SdkConfig, Failure> {
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
    }
    if let Some((url, client)) = target.endpoint()? {
        loader = loader.endpoint_url(url).http_client(client);
    }
    Ok(loader.load().await)
}

/// Assumes the connection's role (or, without one, uses the platform's own
/// credentials as they are).
pub async fn assume(target: &Target) -> Result<Assumed, Failure> {
    let base = base_config(target).await?;
    let Some(role) = &target.role_arn else {
        let provider = base.credentials_provider().ok_or(Failure {
            field: "access_key_id",
            code: "access_denied",
            message: "no credentials: set static keys or give the server AWS credentials".into(),
        })?;
        use aws_credential_types::provider::ProvideCredentials;
        let credentials = provider.provide_credentials().await.map_err(|e| Failure {
            field: "access_key_id",
            code: "access_denied",
            message: format!("no usable AWS credentials: {e}"),
        })?;
        return Ok(Assumed {
            expires: credentials.expiry(),
            credentials,
            identity: None,
        });
    };
    let sts = aws_sdk_sts::Client::new(&base);
    let mut request = sts
        .assume_role()
        .role_arn(role)
        .role_session_name(&target.session_name)
        .duration_seconds(target.session_seconds.clamp(900, 43_200) as i32);
    if let Some(external) = &target.external_id {
        request = request.external_id(external);
    }
    let out = request
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

/// An EMR client acting with `assumed`.
pub fn emr(target: &Target, assumed: &Assumed) -> Result<aws_sdk_emr::Client, Failure> {
    let mut config = aws_sdk_emr::Config::builder()
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
