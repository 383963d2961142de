//! The `emr` executor: a node's work as a step on the tenant's EMR cluster,
//! reached through the tenant's connection (its role assumed with STS, the
//! credentials kept until shortly before they expire, or until the
//! connection changes or is deleted — read again before every use).
//!
//! Submit names every step `trellis:<run>:<task>:<attempt>`, so a submit
//! that crashed before its step id was recorded can find the step by name
//! instead of submitting it again. Watches of one cluster share a poller that
//! reads the states of the steps that are due ten at a time with `ListSteps`
//! (each step at its own growing interval, with jitter); stop sends
//! `CancelSteps` and keeps watching until EMR reports the step ended.

use super::{CancelMode, ExecError, Executor, Outcome};
use crate::aws::{self, Assumed, Opening, Target};
use crate::db::{connections, tenants, Db};
use crate::secrets::Sealer;
use app::types::{ConnectionId, TenantId};
use aws_sdk_emr::types::{
    ActionOnFailure, HadoopJarStepConfig, StepCancellationOption, StepConfig, StepState,
};
use rand::Rng;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tokio::sync::oneshot;

mod logs;
mod poller;

/// How often a watched step's state is read: from `min`, growing by half per
/// read up to `max`, each wait varied by ±20 % so thousands of watches spread out.
#[derive(Debug, Clone, Copy)]
pub struct Polling {
    pub min: Duration,
    pub max: Duration,
}

impl Default for Polling {
    fn default() -> Self {
        Polling {
            min: Duration::from_secs(2),
            max: Duration::from_secs(30),
        }
    }
}

/// A step on a cluster, through a tenant's connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepRef {
    pub connection: ConnectionId,
    pub cluster: String,
    pub step: String,
}

impl StepRef {
    /// `emr:<connection>/<cluster>/<step>`, as stored with the task.
    pub fn parse(text: &str) -> Option<StepRef> {
        let rest = text.strip_prefix("emr:")?;
        let mut parts = rest.splitn(3, '/');
        Some(StepRef {
            connection: parts.next()?.into(),
            cluster: parts.next()?.to_owned(),
            step: parts.next()?.to_owned(),
        })
    }
}

impl std::fmt::Display for StepRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "emr:{}/{}/{}", self.connection, self.cluster, self.step)
    }
}

/// One step to submit.
#[derive(Debug, Clone)]
pub struct StepSpec {
    pub name: String,
    pub jar: String,
    pub args: Vec<String>,
    pub action_on_failure: String,
}

pub struct EmrExecutor {
    db: Db,
    sealer: Arc<Sealer>,
    polling: Polling,
    /// Checks connections' endpoints.
    outbound: crate::outbound::Guard,
    /// The server's own credentials (for `AssumeRole` only) and what it allows.
    platform: aws::Platform,
    /// Assumed credentials per (tenant, connection), with the stored
    /// connection and the target they are for.
    cache: Mutex<HashMap<(TenantId, ConnectionId), Cached>>,
    /// The steps being watched, per cluster; one poller per cluster reads
    /// their states in batches.
    watched: Mutex<HashMap<ClusterKey, Watched>>,
    /// Numbers each new [`Watched`] entry.
    generations: std::sync::atomic::AtomicU64,
}

/// A cluster as reached through one tenant connection.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ClusterKey {
    tenant: TenantId,
    connection: ConnectionId,
    cluster: String,
}

#[derive(Clone)]
struct Cached {
    stored: connections::Stored,
    target: Target,
    assumed: Assumed,
}

#[derive(Default)]
struct Watched {
    /// Each watched step: who waits for its end, and when to read it next.
    steps: HashMap<String, Watch>,
    /// Whether a poller is running for the cluster.
    polling: bool,
    /// Tells this entry from a later one for the same cluster, so a poller
    /// whose watches were ended (the connection was deleted) stops.
    generation: u64,
}

/// Why a connection could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnError {
    /// It is gone: nothing is called with it again.
    Deleted,
    /// Anything else, in words for the task log.
    Failed(String),
}

/// What the watches of a deleted connection's steps end with.
pub const DELETED: &str = "the connection was deleted";

impl std::fmt::Display for ConnError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConnError::Deleted => f.write_str(DELETED),
            ConnError::Failed(message) => f.write_str(message),
        }
    }
}

impl From<ConnError> for String {
    fn from(e: ConnError) -> String {
        e.to_string()
    }
}

impl From<String> for ConnError {
    fn from(message: String) -> ConnError {
        ConnError::Failed(message)
    }
}

struct Watch {
    waiting: Vec<oneshot::Sender<Outcome>>,
    /// The step's own interval: from `polling.min`, growing by half per read.
    interval: Duration,
    due: tokio::time::Instant,
}

/// `ListSteps` takes at most this many step ids.
const BATCH: usize = 10;

/// How long before expiry cached credentials are renewed.
const RENEW_BEFORE: Duration = Duration::from_secs(300);

impl EmrExecutor {
    pub fn new(
        db: Db,
        sealer: Arc<Sealer>,
        polling: Polling,
        outbound: crate::outbound::Guard,
        platform: aws::Platform,
    ) -> Self {
        EmrExecutor {
            db,
            sealer,
            polling,
            outbound,
            platform,
            cache: Mutex::new(HashMap::new()),
            watched: Mutex::new(HashMap::new()),
            generations: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// The stored connection's target, or why it may not be used.
    pub(crate) async fn target(
        &self,
        tenant: &TenantId,
        stored: &connections::Stored,
    ) -> Result<Target, ConnError> {
        let external_id = tenants::aws_external_id(&self.db, tenant)
            .await
            .map_err(|e| format!("reading the tenant's external id: {e}"))?;
        let session_name = format!(
            "trellis-{}",
            tenant.as_str().chars().take(50).collect::<String>()
        );
        let opening = Opening {
            tenant,
            external_id,
            session_name,
            sealer: &self.sealer,
            outbound: &self.outbound,
            platform: &self.platform,
        };
        Target::open(stored, &opening).map_err(|f| ConnError::Failed(f.message))
    }

    /// An EMR client for the connection as it is stored now (see
    /// [`access`](Self::access)).
    pub async fn client(
        &self,
        tenant: &TenantId,
        connection: &ConnectionId,
    ) -> Result<(aws_sdk_emr::Client, Target), ConnError> {
        let (target, assumed) = self.access(tenant, connection).await?;
        let client = aws::emr(&target, &assumed).map_err(|f| f.message)?;
        Ok((client, target))
    }

    /// The connection as it is stored now (read before every use, so a
    /// change or a deletion — on any server — takes effect at once) and the
    /// credentials of its role, assumed only when the cached ones are
    /// missing, about to expire, or for other settings.
    pub(crate) async fn access(
        &self,
        tenant: &TenantId,
        connection: &ConnectionId,
    ) -> Result<(Target, Assumed), ConnError> {
        let key = (tenant.clone(), connection.clone());
        let Some(stored) = connections::get(&self.db, tenant, connection)
            .await
            .map_err(|e| format!("reading connection {connection}: {e}"))?
        else {
            self.forget(tenant, connection);
            return Err(ConnError::Deleted);
        };
        let cached = self
            .cache
            .lock()
            .expect("credentials cache")
            .get(&key)
            .cloned();
        let fresh = |a: &Assumed| {
            a.expires
                .is_none_or(|t| t > SystemTime::now() + RENEW_BEFORE)
        };
        Ok(match cached {
            Some(c) if c.stored == stored && fresh(&c.assumed) => (c.target, c.assumed),
            _ => {
                let target = self.target(tenant, &stored).await?;
                let assumed = aws::assume(&target).await.map_err(|f| f.message)?;
                self.cache.lock().expect("credentials cache").insert(
                    key,
                    Cached {
                        stored,
                        target: target.clone(),
                        assumed: assumed.clone(),
                    },
                );
                (target, assumed)
            }
        })
    }

    /// Forgets cached credentials (a connection changed, or AWS refused them).
    pub fn forget(&self, tenant: &TenantId, connection: &ConnectionId) {
        self.cache
            .lock()
            .expect("credentials cache")
            .remove(&(tenant.clone(), connection.clone()));
    }

    /// A deleted connection: its credentials are forgotten and the watches
    /// of its steps end now, failed; their pollers stop without another call.
    pub fn drop_connection(&self, tenant: &TenantId, connection: &ConnectionId) {
        self.forget(tenant, connection);
        self.end_watches(tenant, connection);
    }

    /// Fails every watch of a step through the connection: it was deleted.
    fn end_watches(&self, tenant: &TenantId, connection: &ConnectionId) {
        let ended: Vec<(ClusterKey, Watched)> = {
            let mut watched = self.watched.lock().expect("watched steps");
            let keys: Vec<ClusterKey> = watched
                .keys()
                .filter(|k| &k.tenant == tenant && &k.connection == connection)
                .cloned()
                .collect();
            keys.into_iter()
                .filter_map(|k| watched.remove(&k).map(|w| (k, w)))
                .collect()
        };
        for (key, entry) in ended {
            for (step, watch) in entry.steps {
                for sender in watch.waiting {
                    let _ = sender.send(Outcome::Failed {
                        error: format!(
                            "{DELETED}: step {step} on cluster {} is no longer watched \
                             (it may still be running there)",
                            key.cluster
                        ),
                    });
                }
            }
        }
    }

    /// Adds the step; answers its reference.
    async fn submit(
        &self,
        tenant: &TenantId,
        connection: &ConnectionId,
        spec: &StepSpec,
    ) -> Result<StepRef, String> {
        let (client, target) = self.client(tenant, connection).await?;
        let step = StepConfig::builder()
            .name(&spec.name)
            .action_on_failure(ActionOnFailure::from(spec.action_on_failure.as_str()))
            .hadoop_jar_step(
                HadoopJarStepConfig::builder()
                    .jar(&spec.jar)
                    .set_args(Some(spec.args.clone()))
                    .build(),
            )
            .build();
        let out = client
            .add_job_flow_steps()
            .job_flow_id(&target.cluster_id)
            .steps(step)
            .send()
            .await
            .map_err(|e| {
                self.forget(tenant, connection);
                format!(
                    "EMR did not accept the step on {}: {}",
                    target.cluster_id,
                    aws_sdk_emr::error::DisplayErrorContext(&e)
                )
            })?;
        let id = out
            .step_ids()
            .first()
            .ok_or_else(|| "EMR answered without a step id".to_owned())?;
        Ok(StepRef {
            connection: connection.clone(),
            cluster: target.cluster_id.clone(),
            step: id.clone(),
        })
    }

    /// The step called `name` on the connection's cluster, if one was added.
    pub async fn find(
        &self,
        tenant: &TenantId,
        connection: &ConnectionId,
        name: &str,
    ) -> Result<Option<StepRef>, String> {
        let (client, target) = self.client(tenant, connection).await?;
        let mut pages = client
            .list_steps()
            .cluster_id(&target.cluster_id)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| {
                format!(
                    "listing steps: {}",
                    aws_sdk_emr::error::DisplayErrorContext(&e)
                )
            })?;
            if let Some(found) = page.steps().iter().find(|s| s.name() == Some(name)) {
                return Ok(found.id().map(|id| StepRef {
                    connection: connection.clone(),
                    cluster: target.cluster_id.clone(),
                    step: id.to_owned(),
                }));
            }
        }
        Ok(None)
    }

    /// Asks EMR to cancel the step; answers why not when EMR refuses.
    async fn cancel(
        &self,
        tenant: &TenantId,
        step: &StepRef,
        mode: CancelMode,
    ) -> Result<(), String> {
        let (client, _) = self.client(tenant, &step.connection).await?;
        let option = match mode {
            CancelMode::Graceful { .. } => StepCancellationOption::SendInterrupt,
            CancelMode::Force => StepCancellationOption::TerminateProcess,
        };
        let out = client
            .cancel_steps()
            .cluster_id(&step.cluster)
            .step_ids(&step.step)
            .step_cancellation_option(option)
            .send()
            .await
            .map_err(|e| {
                format!(
                    "EMR refused to cancel step {}: {}",
                    step.step,
                    aws_sdk_emr::error::DisplayErrorContext(&e)
                )
            })?;
        for info in out.cancel_steps_info_list() {
            if info.status().map(|s| s.as_str()) == Some("FAILED") {
                return Err(format!(
                    "EMR refused to cancel step {}: {}",
                    step.step,
                    info.reason().unwrap_or("no reason given")
                ));
            }
        }
        Ok(())
    }
}

/// One tenant's steps, through the [`Executor`] contract: EMR's refusals
/// are [`ExecError::Refused`] in EMR's words.
pub struct TenantSteps {
    emr: Arc<EmrExecutor>,
    tenant: TenantId,
}

/// A step to add through one of the tenant's connections.
pub struct StepSubmit {
    pub connection: ConnectionId,
    pub step: StepSpec,
}

impl EmrExecutor {
    /// The steps of `tenant`'s connections.
    pub fn tenant(self: &Arc<Self>, tenant: &TenantId) -> TenantSteps {
        TenantSteps {
            emr: self.clone(),
            tenant: tenant.clone(),
        }
    }
}

impl Executor for TenantSteps {
    type Spec = StepSubmit;
    type Work = StepRef;

    async fn submit(&self, spec: &StepSubmit) -> Result<StepRef, ExecError> {
        let (tenant, connection) = (&self.tenant, &spec.connection);
        let submitted = self.emr.submit(tenant, connection, &spec.step).await;
        submitted.map_err(ExecError::Refused)
    }

    async fn watch(&self, step: &StepRef) -> Result<Outcome, ExecError> {
        Ok(self.emr.watch(&self.tenant, step).await)
    }

    async fn cancel(&self, step: &StepRef, mode: CancelMode) -> Result<(), ExecError> {
        let cancelled = self.emr.cancel(&self.tenant, step, mode).await;
        cancelled.map_err(ExecError::Refused)
    }
}

/// How a step with this status ended; `None` while it is still going.
fn outcome(id: &str, status: &aws_sdk_emr::types::StepStatus) -> Option<Outcome> {
    let state = status.state()?;
    match state {
        StepState::Completed => Some(Outcome::Succeeded),
        StepState::Cancelled => Some(Outcome::Cancelled),
        StepState::Failed | StepState::Interrupted => {
            let mut error = format!("EMR step {id} {}", state.as_str().to_lowercase());
            if let Some(f) = status.failure_details() {
                if let Some(reason) = f.reason() {
                    error.push_str(&format!(": {reason}"));
                }
                if let Some(message) = f.message() {
                    error.push_str(&format!(" — {message}"));
                }
                if let Some(log) = f.log_file() {
                    error.push_str(&format!(" (log: {log})"));
                }
            }
            Some(Outcome::Failed { error })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_references_round_trip() {
        let r = StepRef {
            connection: "01abc".into(),
            cluster: "j-1".into(),
            step: "s-2".into(),
        };
        assert_eq!(r.to_string(), "emr:01abc/j-1/s-2");
        assert_eq!(StepRef::parse(&r.to_string()), Some(r));
        assert_eq!(StepRef::parse("pid:12"), None);
    }
}
