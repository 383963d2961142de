//! Retrying an ended run from its failed part: which tasks run again, and
//! queueing the run again so a driver takes it on from there (on Airflow,
//! after clearing those tasks in the run's Airflow run).

use super::airflow::{airflow_run_of, ready_dag};
use super::driver::unsuccessful;
use super::Engine;
use crate::db::processes::VersionRow;
use crate::db::runs;
use app::api::runs::{Run, TaskRun};
use app::types::dag::{submit_key, Dag, ENTRY};
use app::types::{RunId, TaskKey, TaskKind, TenantId, UserId};
use std::collections::{HashMap, HashSet, VecDeque};

/// A retry "from" a node the run's version does not have.
#[derive(Debug, thiserror::Error)]
#[error("there is no node `{0}` in this run's version")]
pub struct UnknownNode(pub String);

/// The tasks a retry sends back to `pending`, in DAG order: every task that
/// failed, was cancelled or was skipped, and with `from` that node's; a
/// node's submit and watch always together (its work is submitted again);
/// everything downstream of those; and `PExit`, which always runs. What is
/// left out succeeded and is kept: it never runs again.
pub fn plan(dag: &Dag, tasks: &[TaskRun], from: Option<&str>) -> Result<Vec<TaskKey>, UnknownNode> {
    let state: HashMap<&TaskKey, _> = tasks.iter().map(|t| (&t.key, t.state)).collect();
    let mut seeds: Vec<TaskKey> = Vec::new();
    if let Some(node) = from {
        if !dag.tasks.iter().any(|t| t.node.as_deref() == Some(node)) {
            return Err(UnknownNode(node.to_owned()));
        }
        seeds.push(submit_key(node));
    }
    for task in &dag.tasks {
        let ended_badly = state.get(&task.key).is_some_and(|s| unsuccessful(*s));
        match (&task.node, task.kind) {
            (Some(node), _) if ended_badly => seeds.push(submit_key(node)),
            (_, TaskKind::Exit) => seeds.push(task.key.clone()),
            _ if ended_badly => seeds.push(task.key.clone()),
            _ => {}
        }
    }
    let mut downstream: HashMap<&TaskKey, Vec<&TaskKey>> = HashMap::new();
    for task in &dag.tasks {
        for dep in &task.depends_on {
            downstream.entry(dep).or_default().push(&task.key);
        }
    }
    let mut chosen: HashSet<TaskKey> = HashSet::new();
    let mut queue: VecDeque<TaskKey> = seeds.into();
    while let Some(key) = queue.pop_front() {
        if !chosen.insert(key.clone()) {
            continue;
        }
        // A node's watch depends on its submit alone, so starting from
        // submits takes every node whole.
        for next in downstream.get(&key).into_iter().flatten() {
            queue.push_back((*next).clone());
        }
    }
    Ok(dag
        .tasks
        .iter()
        .filter(|t| chosen.contains(&t.key))
        .map(|t| t.key.clone())
        .collect())
}

impl Engine {
    /// Queues the ended run `run` again with `tasks` back to `pending` (see
    /// [`plan`]), publishes the moves after they are stored and drives the
    /// run on from there. `false` (and nothing changed) when the run is no
    /// longer failed or cancelled. (A run on Airflow: `retry_airflow`.)
    pub async fn retry(
        &self,
        tenant: &TenantId,
        run: &RunId,
        tasks: &[TaskKey],
        by: &UserId,
    ) -> sqlx::Result<bool> {
        self.requeue(tenant, run, tasks, by, None).await
    }

    /// `retry`, `keep_ref` keeping its external reference (see
    /// [`runs::Retry`]).
    pub(super) async fn requeue(
        &self,
        tenant: &TenantId,
        run: &RunId,
        tasks: &[TaskKey],
        by: &UserId,
        keep_ref: Option<&TaskKey>,
    ) -> sqlx::Result<bool> {
        let retry = runs::Retry {
            tenant,
            run,
            by,
            owner: self.server_id(),
            tasks,
            keep_ref,
        };
        let Some(events) = runs::retry(&self.inner.db, retry).await? else {
            return Ok(false);
        };
        for event in events {
            self.inner.bus.publish(tenant, event);
        }
        self.launch(tenant.clone(), run.clone());
        Ok(true)
    }
}

/// Why a run on Airflow is not retried; nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum RetryRefused {
    /// There is nothing to run it on: no Airflow, or its DAG is not ready.
    #[error("{0}")]
    NotRunnable(String),
    /// Airflow refused to clear the run's tasks, or could not be reached.
    #[error("{0}")]
    Airflow(String),
}

impl Engine {
    /// Retries the ended run `stored` of `version` on Airflow: clears `tasks`
    /// (see [`super::retry::plan`]) and their downstream in the same Airflow
    /// run, which runs them as their next try and keeps what succeeded (no
    /// kept node's step is added again), then queues the run again as
    /// [`Engine::retry`] does, `PEntry` keeping the Airflow run, so the
    /// driver follows that run on. A run that never reached Airflow is
    /// triggered afresh. `Ok(false)` when the run is no longer retryable.
    pub async fn retry_airflow(
        &self,
        tenant: &TenantId,
        stored: &Run,
        version: &VersionRow,
        tasks: &[TaskKey],
        by: &UserId,
    ) -> anyhow::Result<Result<bool, RetryRefused>> {
        let Some(airflow) = self.airflow() else {
            return Ok(Err(RetryRefused::NotRunnable(
                "this Trellis server has no Airflow configured".into(),
            )));
        };
        let dag_id = match ready_dag(version) {
            Ok(dag_id) => dag_id,
            Err(why) => return Ok(Err(RetryRefused::NotRunnable(why))),
        };
        let entry = TaskKey::from(ENTRY);
        let Some(airflow_run) = airflow_run_of(stored) else {
            return Ok(Ok(self.retry(tenant, &stored.id, tasks, by).await?));
        };
        // The Airflow run keeps the conf it was triggered with, callback
        // token included: once that token has expired, its reports would be
        // refused.
        let components = crate::db::processes::components_of(&self.inner.db, version).await?;
        let lifetime = super::airflow::callback_lifetime(
            &version.graph,
            &components,
            self.inner.settings.task_timeout,
        );
        let expires = super::airflow::token_expiry(&stored.created_at, lifetime);
        if expires < chrono::Utc::now().timestamp() + 600 {
            return Ok(Err(RetryRefused::NotRunnable(
                "the run's Airflow callback token has expired (or is about to); run it again instead"
                    .into(),
            )));
        }
        if let Err(e) = airflow.api.clear(&dag_id, &airflow_run, tasks).await {
            return Ok(Err(RetryRefused::Airflow(e.to_string())));
        }
        Ok(Ok(self
            .requeue(tenant, &stored.id, tasks, by, Some(&entry))
            .await?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::types::graph::ProcessGraph;
    use app::types::TaskState;

    /// a → b → c, and d on its own.
    fn dag() -> Dag {
        let graph: ProcessGraph = serde_json::from_value(serde_json::json!({
            "nodes": [{"id": "a", "component": "noop"}, {"id": "b", "component": "noop"},
                      {"id": "c", "component": "noop"}, {"id": "d", "component": "noop"}],
            "edges": [{"from": "a", "to": "b"}, {"from": "b", "to": "c"}]
        }))
        .unwrap();
        app::types::dag::compile(&graph).unwrap()
    }

    fn tasks(dag: &Dag, states: &[(&str, TaskState)]) -> Vec<TaskRun> {
        dag.tasks
            .iter()
            .map(|t| TaskRun {
                key: t.key.clone(),
                kind: t.kind,
                node: t.node.clone(),
                state: states
                    .iter()
                    .find(|(k, _)| t.key.as_str() == *k)
                    .map_or(TaskState::Succeeded, |(_, s)| *s),
                attempt: 1,
                external_ref: None,
                error: None,
                started_at: None,
                finished_at: None,
                duration_ms: None,
            })
            .collect()
    }

    fn keys(planned: &[TaskKey]) -> Vec<&str> {
        let mut k: Vec<&str> = planned.iter().map(TaskKey::as_str).collect();
        k.sort_unstable();
        k
    }

    #[test]
    fn the_failed_node_and_its_downstream_run_again_and_the_rest_is_kept() {
        let dag = dag();
        let run = tasks(
            &dag,
            &[
                ("W_b", TaskState::Failed),
                ("C_c", TaskState::Skipped),
                ("W_c", TaskState::Skipped),
            ],
        );
        let planned = plan(&dag, &run, None).unwrap();
        assert_eq!(
            keys(&planned),
            ["C_b", "C_c", "PExit", "W_b", "W_c"],
            "b's submit succeeded, yet its work is submitted again"
        );
    }

    #[test]
    fn from_a_node_reruns_it_and_its_downstream_even_when_they_succeeded() {
        let dag = dag();
        let run = tasks(&dag, &[("W_d", TaskState::Failed)]);
        let planned = plan(&dag, &run, Some("b")).unwrap();
        assert_eq!(
            keys(&planned),
            ["C_b", "C_c", "C_d", "PExit", "W_b", "W_c", "W_d"],
            "the failed part runs again too"
        );
        let err = plan(&dag, &run, Some("nope")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "there is no node `nope` in this run's version"
        );
    }

    #[test]
    fn a_run_stopped_before_it_began_runs_all_again() {
        let dag = dag();
        let all: Vec<(&str, TaskState)> = dag
            .tasks
            .iter()
            .filter(|t| t.kind != TaskKind::Exit)
            .map(|t| (t.key.as_str(), TaskState::Cancelled))
            .collect();
        let planned = plan(&dag, &tasks(&dag, &all), None).unwrap();
        assert_eq!(planned.len(), dag.tasks.len());
        assert_eq!(planned[0].as_str(), "PEntry", "in DAG order");
    }

    #[test]
    fn a_run_where_nothing_failed_reruns_only_pexit() {
        let dag = dag();
        let planned = plan(&dag, &tasks(&dag, &[]), None).unwrap();
        assert_eq!(keys(&planned), ["PExit"]);
    }
}
