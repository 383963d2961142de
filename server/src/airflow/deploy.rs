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

/// How Trellis reaches Airflow's REST API.
#[derive(Debug, Clone)]
pub enum Door {
    /// A self-managed Airflow: its URL, signed in with a user and password.
    Direct {
        url: String,
        username: String,
        password: crate::config::Secret,
    },
    /// An Amazon MWAA environment, through the AWS API (`InvokeRestApi`)
    /// with the server's own AWS credentials.
    Mwaa {
        environment: String,
        region: String,
        /// The MWAA API's endpoint when not AWS's own.
        endpoint_url: Option<String>,
    },
}

/// Where Airflow reads DAG files: a bucket and a key prefix in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Folder {
    pub bucket: String,
    /// Without slashes at either end.
    pub prefix: String,
}

impl Folder {
    /// `s3://bucket/prefix`.
    pub fn parse(url: &str) -> Option<Folder> {
        let rest = url.strip_prefix("s3://")?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        (!bucket.is_empty()).then(|| Folder {
            bucket: bucket.to_owned(),
            prefix: prefix.trim_matches('/').to_owned(),
        })
    }

    /// An MWAA environment's DAGs folder: `SourceBucketArn`
    /// (`arn:aws:s3:::bucket`) and `DagS3Path` (`dags`).
    pub fn of_environment(bucket_arn: &str, dag_path: &str) -> Option<Folder> {
        let bucket = bucket_arn.rsplit(":::").next().filter(|b| !b.is_empty())?;
        Some(Folder {
            bucket: bucket.to_owned(),
            prefix: dag_path.trim_matches('/').to_owned(),
        })
    }

    /// The object key of a DAG's file.
    pub fn key(&self, dag_id: &str) -> String {
        match self.prefix.as_str() {
            "" => format!("{dag_id}.py"),
            prefix => format!("{prefix}/{dag_id}.py"),
        }
    }
}

/// The Airflow deployment a server orchestrates on.
#[derive(Debug, Clone)]
pub struct AirflowSettings {
    pub door: Door,
    /// The DAGs folder; `None`: MWAA's, asked of the environment.
    pub dags: Option<Folder>,
    /// The server's own AWS credentials for the DAG uploads and MWAA's API;
    /// `None`: AWS's default chain.
    pub credentials: Option<aws_credential_types::Credentials>,
    pub s3_endpoint_url: Option<String>,
    pub s3_region: String,
    /// Between readiness checks and run reconciliations.
    pub poll: Duration,
    /// How long a superseded version keeps its DAG file and unpaused DAG.
    pub retire_after: Duration,
    /// Where Airflow's tasks reach Trellis (`TRELLIS_PUBLIC_URL`).
    pub public_url: String,
}

pub struct Airflow {
    pub settings: AirflowSettings,
    pub api: AirflowApi,
    s3: tokio::sync::OnceCell<aws_sdk_s3::Client>,
    /// The DAGs folder, once known.
    folder: tokio::sync::OnceCell<Folder>,
}

impl Airflow {
    pub fn new(settings: AirflowSettings) -> Arc<Airflow> {
        Arc::new(Airflow {
            api: AirflowApi::new(&settings.door, settings.credentials.clone()),
            folder: tokio::sync::OnceCell::new_with(settings.dags.clone()),
            settings,
            s3: tokio::sync::OnceCell::new(),
        })
    }

    /// The DAGs folder: as configured, or the MWAA environment's (asked
    /// once, and again after a failure).
    pub async fn folder(&self) -> Result<&Folder, String> {
        self.folder
            .get_or_try_init(|| async { self.api.dags_folder().await.map_err(|e| e.to_string()) })
            .await
    }

    async fn s3(&self) -> &aws_sdk_s3::Client {
        self.s3
            .get_or_init(|| async {
                let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
                    .region(aws_sdk_s3::config::Region::new(
                        self.settings.s3_region.clone(),
                    ));
                if let Some(own) = &self.settings.credentials {
                    loader = loader.credentials_provider(own.clone());
                }
                let shared = loader.load().await;
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

    /// Where the tasks of run `run` report to.
    pub fn callback_url(&self, run: &app::types::RunId) -> String {
        format!(
            "{}/api/v1/airflow/runs/{run}/report",
            self.settings.public_url
        )
    }

    /// Uploads a DAG file.
    pub async fn upload(&self, dag_id: &str, file: String) -> Result<(), String> {
        let folder = self.folder().await?;
        let key = folder.key(dag_id);
        self.s3()
            .await
            .put_object()
            .bucket(&folder.bucket)
            .key(&key)
            .content_type("text/x-python")
            .body(file.into_bytes().into())
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                format!(
                    "uploading s3://{}/{key}: {}",
                    folder.bucket,
                    aws_sdk_s3::error::DisplayErrorContext(&e)
                )
            })
    }

    /// Records the deployment of a version and uploads its file; a failed
    /// upload, or a failure to make its Airflow `connection`, fails the
    /// deployment with the reason.
    pub async fn deploy(
        &self,
        db: &Db,
        tenant: &app::types::TenantId,
        version_id: &app::types::VersionId,
        dag_id: &str,
        file: String,
        connection: Result<(), String>,
    ) -> sqlx::Result<()> {
        deployments::start(db, tenant, version_id, dag_id).await?;
        let deployed = match connection {
            Ok(()) => self.upload(dag_id, file).await,
            Err(e) => Err(format!("the DAG file's Airflow connection: {e}")),
        };
        if let Err(error) = deployed {
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
                if let Err(e) = airflow.retire_superseded(&db).await {
                    tracing::warn!(error = %e, "retiring superseded Airflow deployments failed");
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

    /// Retires the deployments of versions superseded for longer than the
    /// grace period with no active run and no schedule pinned to them: their
    /// DAG is paused and their file removed from the bucket, so Airflow
    /// parses only what can still run. A failure is tried again next round.
    pub async fn retire_superseded(&self, db: &Db) -> sqlx::Result<()> {
        let grace =
            chrono::Duration::from_std(self.settings.retire_after).unwrap_or(chrono::Duration::MAX);
        let cutoff = crate::time::Timestamp::ago(grace).to_string();
        for old in deployments::superseded(db, &cutoff, 20).await? {
            match self.retire(&old.dag_id).await {
                Ok(()) => {
                    let note = "superseded by a later version: its DAG file was removed and its DAG paused";
                    if deployments::retire(db, &old.version_id, note).await? {
                        tracing::info!(dag_id = %old.dag_id, "retired a superseded Airflow deployment");
                    }
                }
                Err(error) => {
                    tracing::warn!(dag_id = %old.dag_id, %error, "retiring an Airflow deployment failed");
                }
            }
        }
        Ok(())
    }

    /// Pauses the DAG, then removes its file.
    async fn retire(&self, dag_id: &str) -> Result<(), String> {
        self.api.pause(dag_id).await.map_err(|e| e.to_string())?;
        let folder = self.folder().await?;
        let key = folder.key(dag_id);
        self.s3()
            .await
            .delete_object()
            .bucket(&folder.bucket)
            .key(&key)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                format!(
                    "removing s3://{}/{key}: {}",
                    folder.bucket,
                    aws_sdk_s3::error::DisplayErrorContext(&e)
                )
            })
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
