//! Amazon MWAA's door to Airflow: the REST API through `InvokeRestApi` and
//! the DAGs folder from `GetEnvironment`, signed with the server's own AWS
//! credentials (the default chain: the MWAA environment is the platform's,
//! not a tenant's). `RestApiClientException` and `RestApiServerException`
//! carry Airflow's own status and body, which are answered as such.

use super::api::ApiError;
use super::deploy::Folder;
use aws_sdk_mwaa::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_mwaa::operation::invoke_rest_api::InvokeRestApiError;
use aws_sdk_mwaa::types::RestApiMethod;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::endpoint::EndpointPrefix;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use aws_smithy_types::{Document, Number};
use reqwest::StatusCode;
use serde_json::Value;
use std::collections::HashMap;

pub struct Mwaa {
    environment: String,
    region: String,
    endpoint_url: Option<String>,
    credentials: Option<aws_credential_types::Credentials>,
    client: tokio::sync::OnceCell<aws_sdk_mwaa::Client>,
}

/// MWAA's operations are on per-purpose hosts (`api.`, `env.` before the
/// regional name); an endpoint given explicitly (a private endpoint, an
/// emulator) is used as it is.
#[derive(Debug)]
struct NoHostPrefix;

impl Intercept for NoHostPrefix {
    fn name(&self) -> &'static str {
        "NoHostPrefix"
    }

    fn read_before_attempt(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        cfg.interceptor_state().unset::<EndpointPrefix>();
        Ok(())
    }
}

impl Mwaa {
    pub fn new(
        environment: &str,
        region: &str,
        endpoint_url: Option<String>,
        credentials: Option<aws_credential_types::Credentials>,
    ) -> Mwaa {
        Mwaa {
            environment: environment.to_owned(),
            region: region.to_owned(),
            endpoint_url,
            credentials,
            client: tokio::sync::OnceCell::new(),
        }
    }

    async fn client(&self) -> &aws_sdk_mwaa::Client {
        self.client
            .get_or_init(|| async {
                let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
                    .region(aws_sdk_mwaa::config::Region::new(self.region.clone()));
                if let Some(own) = &self.credentials {
                    loader = loader.credentials_provider(own.clone());
                }
                let shared = loader
                    .timeout_config(
                        aws_config::timeout::TimeoutConfig::builder()
                            .operation_attempt_timeout(std::time::Duration::from_secs(30))
                            .connect_timeout(std::time::Duration::from_secs(5))
                            .build(),
                    )
                    .load()
                    .await;
                let mut config = aws_sdk_mwaa::config::Builder::from(&shared)
                    .interceptor(crate::metrics::AwsCalls);
                if let Some(url) = &self.endpoint_url {
                    config = config.endpoint_url(url).interceptor(NoHostPrefix);
                }
                aws_sdk_mwaa::Client::from_conf(config.build())
            })
            .await
    }

    fn refused<E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static, R>(
        &self,
        what: &str,
        err: SdkError<E, R>,
    ) -> ApiError
    where
        R: std::fmt::Debug,
    {
        let environment = &self.environment;
        match &err {
            SdkError::ServiceError(service) => ApiError(format!(
                "{what} of MWAA environment {environment}: {}: {}",
                service.err().code().unwrap_or("error"),
                service.err().message().unwrap_or_default()
            )),
            _ => ApiError(format!(
                "MWAA environment {environment} cannot be reached ({what}): {}",
                DisplayErrorContext(&err)
            )),
        }
    }

    /// The environment's DAGs folder (`SourceBucketArn`, `DagS3Path`).
    pub async fn dags_folder(&self) -> Result<Folder, ApiError> {
        let out = self
            .client()
            .await
            .get_environment()
            .name(&self.environment)
            .send()
            .await
            .map_err(|e| self.refused("GetEnvironment", e))?;
        let environment = out.environment();
        Folder::of_environment(
            environment
                .and_then(|e| e.source_bucket_arn())
                .unwrap_or_default(),
            environment
                .and_then(|e| e.dag_s3_path())
                .unwrap_or_default(),
        )
        .ok_or_else(|| {
            ApiError(format!(
                "MWAA environment {} names no DAGs bucket (SourceBucketArn)",
                self.environment
            ))
        })
    }

    /// One REST call (`path` as for Airflow itself: `/api/v2/…?query`):
    /// Airflow's status and body, also when Airflow refused it.
    pub async fn invoke(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(StatusCode, Value), ApiError> {
        let parsed = reqwest::Url::parse(&format!("http://airflow{path}"))
            .map_err(|e| ApiError(format!("`{path}` is not an Airflow API path: {e}")))?;
        let route = parsed.path();
        let route = route.strip_prefix("/api/v2").unwrap_or(route);
        let mut request = self
            .client()
            .await
            .invoke_rest_api()
            .name(&self.environment)
            .path(route)
            .method(RestApiMethod::from(method));
        let query: HashMap<String, Document> = parsed
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), Document::String(v.into_owned())))
            .collect();
        if !query.is_empty() {
            request = request.query_parameters(Document::Object(query));
        }
        if let Some(body) = body {
            request = request.body(document(body));
        }
        let status = |code: Option<i32>, otherwise: StatusCode| {
            code.and_then(|c| u16::try_from(c).ok())
                .and_then(|c| StatusCode::from_u16(c).ok())
                .unwrap_or(otherwise)
        };
        let answer = |d: Option<&Document>| d.map(value).unwrap_or(Value::Null);
        match request.send().await {
            Ok(out) => Ok((
                status(out.rest_api_status_code(), StatusCode::OK),
                answer(out.rest_api_response()),
            )),
            Err(SdkError::ServiceError(service)) => match service.err() {
                InvokeRestApiError::RestApiClientException(e) => Ok((
                    status(e.rest_api_status_code(), StatusCode::BAD_REQUEST),
                    answer(e.rest_api_response()),
                )),
                InvokeRestApiError::RestApiServerException(e) => Ok((
                    status(e.rest_api_status_code(), StatusCode::INTERNAL_SERVER_ERROR),
                    answer(e.rest_api_response()),
                )),
                _ => Err(self.refused("InvokeRestApi", SdkError::ServiceError(service))),
            },
            Err(e) => Err(self.refused("InvokeRestApi", e)),
        }
    }
}

/// JSON as a Smithy document.
fn document(value: &Value) -> Document {
    match value {
        Value::Null => Document::Null,
        Value::Bool(b) => Document::Bool(*b),
        Value::Number(n) => Document::Number(if let Some(u) = n.as_u64() {
            Number::PosInt(u)
        } else if let Some(i) = n.as_i64() {
            Number::NegInt(i)
        } else {
            Number::Float(n.as_f64().unwrap_or(0.0))
        }),
        Value::String(s) => Document::String(s.clone()),
        Value::Array(items) => Document::Array(items.iter().map(document).collect()),
        Value::Object(map) => {
            Document::Object(map.iter().map(|(k, v)| (k.clone(), document(v))).collect())
        }
    }
}

/// A Smithy document as JSON.
fn value(document: &Document) -> Value {
    match document {
        Document::Null => Value::Null,
        Document::Bool(b) => Value::Bool(*b),
        Document::Number(Number::PosInt(u)) => Value::from(*u),
        Document::Number(Number::NegInt(i)) => Value::from(*i),
        Document::Number(Number::Float(f)) => Value::from(*f),
        Document::String(s) => Value::String(s.clone()),
        Document::Array(items) => Value::Array(items.iter().map(value).collect()),
        Document::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), value(v))).collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_and_documents_round_trip() {
        let v = json!({"conf": {"a": [1, -2, 2.5, "x", null, true]}, "logical_date": null});
        assert_eq!(value(&document(&v)), v);
    }

    #[test]
    fn an_environments_dags_folder() {
        let f = Folder::of_environment("arn:aws:s3:::acme-airflow", "dags/").unwrap();
        assert_eq!(
            (f.bucket.as_str(), f.prefix.as_str()),
            ("acme-airflow", "dags")
        );
        assert_eq!(f.key("trellis.t.p.v1"), "dags/trellis.t.p.v1.py");
        assert_eq!(Folder::of_environment("", "dags"), None);
    }
}
