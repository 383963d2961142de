//! Deploying versions to Airflow: the DAG file uploaded to the DAGs bucket
//! on publish, then Airflow asked until it has parsed the file with the
//! version's content hash (`ready`) or refused it (`failed`, with its import
//! error). No fixed delays: readiness is what Airflow's API says.

use super::api::AirflowApi;
use crate::db::deployments;
use crate::db::Db;
use app::api::processes::DeployState;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The Airflow deployment a server orchestrates on.
#[derive(Debug, Clone)]
pub struct AirflowSettings {
    pub url: String,
    pub username: String,
    pub password: crate::config::Secret,
    pub bucket: String,
    /// Key prefix inside the bucket, without slashes at either end.
    pub prefix: String,
    pub s3_endpoint_url: Option<String>,
    pub s3_region: String,
    /// Between readiness checks and run reconciliations.
    pub poll: Duration,
    /// Where Airflow's tasks reach Trellis (`TRELLIS_PUBLIC_URL`).
    pub public_url: String,
}

pub struct Airflow {
    pub settings: AirflowSettings,
    pub api: AirflowApi,
    s3: tokio::sync::OnceCell<aws_sdk_s3::Client>,
}

impl Airflow {
    pub fn new(settings: AirflowSettings) -> Arc<Airflow> {
        Arc::new(Airflow {
            api: AirflowApi::new(&settings.url, &settings.username, &settings.password),
            settings,
            s3: tokio::sync::OnceCell::new(),
        })
    }

    async fn s3(&self) -> &aws_sdk_s3::Client {
        self.s3
            .get_or_init(|| async {
                let shared = aws_config::defaults(aws_config::BehaviorVersion::latest())
                    .region(aws_sdk_s3::config::Region::new(
                        self.settings.s3_region.clone(),
                    ))
                    .load()
                    .await;
                let mut config = aws_sdk_s3::config::Builder::from(&shared)
                    .force_path_style(true)
                    .interceptor(crate::metrics::AwsCalls);
                if let Some(url) = &self.settings.s3_endpoint_url {
                    config = config.endpoint_url(url);
                }
                aws_sdk_s3::Client::from_conf(config.build())
            })
            .await
    }

    /// The object key of a DAG's file.
    pub fn key(&self, dag_id: &str) -> String {
        match self.settings.prefix.as_str() {
            "" => format!("{dag_id}.py"),
            prefix => format!("{prefix}/{dag_id}.py"),
        }
    }

    /// Where the tasks of run `run` report to.
    pub fn callback_url(&self, run: &app::types::RunId) -> String {
        format!(
            "{}/api/v1/airflow/runs/{run}/report",
            self.settings.public_url
        )
    }

    /// Uploads a DAG file.
    pub async fn upload(&self, dag_id: &str, file: String) -> Result<(), String> {
        let key = self.key(dag_id);
        self.s3()
            .await
            .put_object()
            .bucket(&self.settings.bucket)
            .key(&key)
            .content_type("text/x-python")
            .body(file.into_bytes().into())
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                format!(
                    "uploading s3://{}/{key}: {}",
                    self.settings.bucket,
                    aws_sdk_s3::error::DisplayErrorContext(&e)
                )
            })
    }

    /// Records the deployment of a version and uploads its file; a failed
    /// upload fails the deployment with the reason.
    pub async fn deploy(
        &self,
        db: &Db,
        tenant: &app::types::TenantId,
        version_id: &app::types::VersionId,
        dag_id: &str,
        file: String,
    ) -> sqlx::Result<()> {
        deployments::start(db, tenant, version_id, dag_id).await?;
        if let Err(error) = self.upload(dag_id, file).await {
            tracing::warn!(dag_id, %error, "DAG file upload failed");
            deployments::set(db, version_id, DeployState::Failed, Some(&error)).await?;
        }
        Ok(())
    }

    /// Asks Airflow about every deployment still `deploying`, every poll
    /// interval, until `shutdown`.
    pub fn spawn_readiness(self: &Arc<Self>, db: Db, shutdown: CancellationToken) {
        let airflow = self.clone();
        tokio::spawn(async move {
            loop {
                if let Err(e) = airflow.check_deployments(&db).await {
                    tracing::warn!(error = %e, "checking Airflow deployments failed");
                }
                tokio::select! {
                    _ = tokio::time::sleep(airflow.settings.poll) => {}
                    _ = shutdown.cancelled() => return,
                }
            }
        });
    }

    /// One look at every deployment still waiting.
    pub async fn check_deployments(&self, db: &Db) -> sqlx::Result<()> {
        for pending in deployments::deploying(db).await? {
            let (state, note) = match self.readiness(&pending).await {
                Ok(Some(Ok(()))) => (DeployState::Ready, None),
                Ok(Some(Err(import_error))) => (DeployState::Failed, Some(import_error)),
                Ok(None) => continue,
                // Airflow cannot be asked: say why, keep waiting.
                Err(e) => (DeployState::Deploying, Some(e.to_string())),
            };
            if deployments::set(db, &pending.version_id, state, note.as_deref()).await? {
                tracing::info!(dag_id = %pending.dag_id, state = state.as_str(), "Airflow deployment");
            }
        }
        Ok(())
    }

    /// `Some(Ok)` once Airflow has the DAG with the version's content hash,
    /// `Some(Err(import error))` once it refused the file, `None` meanwhile.
    async fn readiness(
        &self,
        pending: &deployments::Pending,
    ) -> Result<Option<Result<(), String>>, super::api::ApiError> {
        let tag = super::hash_tag(&pending.content_hash);
        if let Some(dag) = self.api.dag(&pending.dag_id).await? {
            if !dag.is_stale && dag.tags.iter().any(|t| t.name == tag) {
                return Ok(Some(Ok(())));
            }
        }
        let file = format!("{}.py", pending.dag_id);
        Ok(self.api.import_error(&file).await?.map(Err))
    }
}
