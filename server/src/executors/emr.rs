//! The `emr` executor: a node's work as a step on the tenant's EMR cluster,
//! reached through the tenant's connection (its role assumed with STS, the
//! credentials kept until shortly before they expire).
//!
//! Submit names every step `trellis:<run>:<task>:<attempt>`, so a submit
//! that crashed before its step id was recorded can find the step by name
//! instead of submitting it again. Watch polls `DescribeStep` with growing
//! intervals and jitter; stop sends `CancelSteps` and keeps watching until
//! EMR reports the step ended.

use super::{CancelMode, Outcome};
use crate::aws::{self, Assumed, Target};
use crate::db::{connections, Db};
use crate::secrets::Sealer;
use app::types::TenantId;
use aws_sdk_emr::types::{
    ActionOnFailure, HadoopJarStepConfig, StepCancellationOption, StepConfig, StepState,
};
use rand::Rng;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// How often a watched step is looked at: from `min`, growing by half each
/// time up to `max`, each wait varied by ±20 % so thousands of watches spread out.
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
    pub connection: String,
    pub cluster: String,
    pub step: String,
}

impl StepRef {
    /// `emr:<connection>/<cluster>/<step>`, as stored with the task.
    pub fn parse(text: &str) -> Option<StepRef> {
        let rest = text.strip_prefix("emr:")?;
        let mut parts = rest.splitn(3, '/');
        Some(StepRef {
            connection: parts.next()?.to_owned(),
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
    /// Assumed credentials per (tenant, connection), with the target they are for.
    cache: Mutex<HashMap<(TenantId, String), (Target, Assumed)>>,
}

/// How long before expiry cached credentials are renewed.
const RENEW_BEFORE: Duration = Duration::from_secs(300);

impl EmrExecutor {
    pub fn new(db: Db, sealer: Arc<Sealer>, polling: Polling) -> Self {
        EmrExecutor {
            db,
            sealer,
            polling,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The connection's target with its secrets opened.
    async fn target(&self, tenant: &TenantId, connection: &str) -> Result<Target, String> {
        let stored = connections::get(&self.db, tenant, connection)
            .await
            .map_err(|e| format!("reading connection {connection}: {e}"))?
            .ok_or_else(|| format!("connection {connection} no longer exists"))?;
        let session = format!(
            "trellis-{}",
            tenant.as_str().chars().take(50).collect::<String>()
        );
        Target::open(&stored, &self.sealer, tenant, session).map_err(|e| e.to_string())
    }

    /// An EMR client for the connection, assuming its role only when the
    /// cached credentials are missing or about to expire.
    pub async fn client(
        &self,
        tenant: &TenantId,
        connection: &str,
    ) -> Result<(aws_sdk_emr::Client, Target), String> {
        let key = (tenant.clone(), connection.to_owned());
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
        let (target, assumed) = match cached {
            Some((target, assumed)) if fresh(&assumed) => (target, assumed),
            _ => {
                let target = self.target(tenant, connection).await?;
                let assumed = aws::assume(&target).await.map_err(|f| f.message)?;
                self.cache
                    .lock()
                    .expect("credentials cache")
                    .insert(key, (target.clone(), assumed.clone()));
                (target, assumed)
            }
        };
        Ok((aws::emr(&target, &assumed), target))
    }

    /// Forgets cached credentials (a connection changed, or AWS refused them).
    pub fn forget(&self, tenant: &TenantId, connection: &str) {
        self.cache
            .lock()
            .expect("credentials cache")
            .remove(&(tenant.clone(), connection.to_owned()));
    }

    /// Adds the step; answers its reference.
    pub async fn submit(
        &self,
        tenant: &TenantId,
        connection: &str,
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
            connection: connection.to_owned(),
            cluster: target.cluster_id.clone(),
            step: id.clone(),
        })
    }

    /// The step called `name` on the connection's cluster, if one was added.
    pub async fn find(
        &self,
        tenant: &TenantId,
        connection: &str,
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
                    connection: connection.to_owned(),
                    cluster: target.cluster_id.clone(),
                    step: id.to_owned(),
                }));
            }
        }
        Ok(None)
    }

    /// The step's state now: `None` while it is still going.
    async fn look(&self, tenant: &TenantId, step: &StepRef) -> Result<Option<Outcome>, String> {
        let (client, _) = self.client(tenant, &step.connection).await?;
        let out = client
            .describe_step()
            .cluster_id(&step.cluster)
            .step_id(&step.step)
            .send()
            .await
            .map_err(|e| {
                format!(
                    "describing step {}: {}",
                    step.step,
                    aws_sdk_emr::error::DisplayErrorContext(&e)
                )
            })?;
        let status = out.step().and_then(|s| s.status());
        let state = status.and_then(|s| s.state()).cloned();
        Ok(match state {
            Some(StepState::Completed) => Some(Outcome::Succeeded),
            Some(StepState::Cancelled) => Some(Outcome::Cancelled),
            Some(StepState::Failed) | Some(StepState::Interrupted) => {
                let mut error = format!(
                    "EMR step {} {}",
                    step.step,
                    state.as_ref().map_or("", |s| s.as_str()).to_lowercase()
                );
                if let Some(f) = status.and_then(|s| s.failure_details()) {
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
        })
    }

    /// Waits until the step ends. Errors reading it are retried (with the
    /// same backoff) for a while before they fail the task.
    pub async fn watch(&self, tenant: &TenantId, step: &StepRef) -> Outcome {
        let mut wait = self.polling.min;
        let mut errors = 0;
        loop {
            match self.look(tenant, step).await {
                Ok(Some(outcome)) => return outcome,
                Ok(None) => errors = 0,
                Err(error) => {
                    errors += 1;
                    self.forget(tenant, &step.connection);
                    if errors >= 10 {
                        return Outcome::Failed {
                            error: format!("lost track of the step: {error}"),
                        };
                    }
                    tracing::warn!(%error, step = %step, "reading an EMR step failed; trying again");
                }
            }
            let jitter = rand::thread_rng().gen_range(0.8..1.2);
            tokio::time::sleep(wait.mul_f64(jitter)).await;
            wait = (wait.mul_f64(1.5)).min(self.polling.max);
        }
    }

    /// Asks EMR to cancel the step; answers why not when EMR refuses.
    pub async fn cancel(
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
