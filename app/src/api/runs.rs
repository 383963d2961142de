//! Runs, task runs and their events on the wire.

use crate::types::{RunState, TaskKind, TaskState, Trigger};
use serde::{Deserialize, Serialize};

/// One numbered state change of a run (or of one of its tasks).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RunEvent {
    /// Gap-free, per run, from 1.
    pub seq: i64,
    pub run: String,
    /// The task key, or none for a change of the run itself.
    pub task: Option<String>,
    /// A run state or a task state.
    pub state: String,
    pub at: String,
}

/// A run with every task run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Run {
    pub id: String,
    pub process: String,
    pub version: i64,
    pub state: RunState,
    pub trigger: Trigger,
    #[cfg_attr(feature = "ssr", schema(value_type = Object))]
    pub params: serde_json::Value,
    pub created_by: Option<String>,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// For a run a schedule started: the fire time it ran for (UTC).
    #[serde(default)]
    pub scheduled_for: Option<String>,
    pub tasks: Vec<TaskRun>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TaskRun {
    pub key: String,
    pub kind: TaskKind,
    pub node: Option<String>,
    pub state: TaskState,
    pub attempt: i64,
    pub external_ref: Option<String>,
    pub error: Option<String>,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// From start to end, once both are known.
    pub duration_ms: Option<i64>,
}

/// `POST …/processes/{process}/runs`
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct StartRun {
    /// The version to run; the latest when left out.
    #[serde(default)]
    pub version: Option<i64>,
    /// Run parameters, available to the run's tasks.
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<Object>))]
    pub params: Option<serde_json::Map<String, serde_json::Value>>,
}

/// One row of a run list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RunSummary {
    pub id: String,
    pub process: String,
    pub version: i64,
    pub state: RunState,
    pub trigger: Trigger,
    pub created_by: Option<String>,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// For a run a schedule started: the fire time it ran for (UTC).
    #[serde(default)]
    pub scheduled_for: Option<String>,
}
