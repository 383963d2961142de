//! Runs, task runs and their events on the wire.

use crate::types::text_enum::text_enum;
use crate::types::{
    ProcessId, RunId, RunState, TaskKey, TaskKind, TaskState, Trigger, UnknownVariant,
};
use serde::{Deserialize, Serialize};
use std::fmt;

text_enum!(
    /// How a stop request stops a run's running work.
    #[derive(Default)]
    StopMode, "stop mode" {
        /// Ask the work to stop, and force it after the grace period.
        #[default]
        Graceful => "graceful",
        /// Stop it at once.
        Force => "force",
    }
);

/// One numbered state change of a run (or of one of its tasks).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(try_from = "WireEvent", into = "WireEvent")]
pub struct RunEvent {
    /// Gap-free, per run, from 1.
    pub seq: i64,
    #[cfg_attr(feature = "ssr", schema(value_type = String))]
    pub run: RunId,
    /// The task key, or none for a change of the run itself.
    #[cfg_attr(feature = "ssr", schema(value_type = Option<String>))]
    pub task: Option<TaskKey>,
    /// A run state, or a task state when `task` is set.
    #[cfg_attr(feature = "ssr", schema(value_type = String))]
    pub state: EventState,
    pub at: String,
}

/// The state an event reports: the run's own or one of its tasks'. On the
/// wire it is the state's plain text; `task` says which of the two it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventState {
    Run(RunState),
    Task(TaskState),
}

impl EventState {
    pub fn as_str(self) -> &'static str {
        match self {
            EventState::Run(s) => s.as_str(),
            EventState::Task(s) => s.as_str(),
        }
    }

    /// Reads the text of a run event (`task: false`) or a task event.
    pub fn parse(text: &str, task: bool) -> Result<Self, UnknownVariant> {
        Ok(if task {
            EventState::Task(text.parse()?)
        } else {
            EventState::Run(text.parse()?)
        })
    }
}

impl fmt::Display for EventState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for EventState {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl From<RunState> for EventState {
    fn from(s: RunState) -> Self {
        EventState::Run(s)
    }
}

impl From<TaskState> for EventState {
    fn from(s: TaskState) -> Self {
        EventState::Task(s)
    }
}

/// [`RunEvent`] as JSON carries it: the state as plain text.
#[derive(Serialize, Deserialize)]
struct WireEvent {
    seq: i64,
    run: RunId,
    task: Option<TaskKey>,
    state: String,
    at: String,
}

impl TryFrom<WireEvent> for RunEvent {
    type Error = UnknownVariant;

    fn try_from(w: WireEvent) -> Result<Self, Self::Error> {
        Ok(RunEvent {
            state: EventState::parse(&w.state, w.task.is_some())?,
            seq: w.seq,
            run: w.run,
            task: w.task,
            at: w.at,
        })
    }
}

impl From<RunEvent> for WireEvent {
    fn from(e: RunEvent) -> Self {
        WireEvent {
            seq: e.seq,
            run: e.run,
            task: e.task,
            state: e.state.as_str().to_owned(),
            at: e.at,
        }
    }
}

/// A run with every task run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Run {
    #[cfg_attr(feature = "ssr", schema(value_type = String))]
    pub id: RunId,
    #[cfg_attr(feature = "ssr", schema(value_type = String))]
    pub process: ProcessId,
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
    /// For a run of a backfill: the backfill's id (its trigger is `schedule`).
    #[serde(default)]
    pub backfill: Option<String>,
    /// What the run resolved when it started: built-ins, parameters with
    /// their defaults, and each node's values as its tasks received them.
    /// Absent for runs started before parameters existed.
    #[serde(default)]
    pub resolved: Option<crate::types::params::Resolved>,
    /// How often the run was retried from its failed part.
    #[serde(default)]
    pub retries: i64,
    /// Who retried it last, and when.
    #[serde(default)]
    pub retried_by: Option<String>,
    #[serde(default)]
    pub retried_at: Option<String>,
    /// The run this one runs again (same version, same parameters).
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<String>))]
    pub rerun_of: Option<RunId>,
    /// The name of the run's process.
    #[serde(default)]
    pub process_name: String,
    /// The run's number within its process (1 for its first).
    #[serde(default)]
    pub number: i64,
    pub tasks: Vec<TaskRun>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TaskRun {
    #[cfg_attr(feature = "ssr", schema(value_type = String))]
    pub key: TaskKey,
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
    #[cfg_attr(feature = "ssr", schema(minimum = 1))]
    pub version: Option<i64>,
    /// Values of the process's declared parameters (checked against the
    /// declarations of the version; defaults fill what is left out).
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<Object>))]
    pub params: Option<serde_json::Map<String, serde_json::Value>>,
}

/// `POST …/runs/{run}/retry`
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RetryRun {
    /// Retry this node and everything downstream of it, even what succeeded;
    /// without it, the failed, cancelled and skipped part.
    #[serde(default)]
    pub from_node: Option<String>,
}

/// One row of a run list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RunSummary {
    #[cfg_attr(feature = "ssr", schema(value_type = String))]
    pub id: RunId,
    #[cfg_attr(feature = "ssr", schema(value_type = String))]
    pub process: ProcessId,
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
    /// For a run of a backfill: the backfill's id (its trigger is `schedule`).
    #[serde(default)]
    pub backfill: Option<String>,
    /// The name of the run's process.
    #[serde(default)]
    pub process_name: String,
    /// How often the run was retried from its failed part.
    #[serde(default)]
    pub retries: i64,
    /// For a run started again from another ("Run again"): that run.
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<String>))]
    pub rerun_of: Option<RunId>,
    /// The run's number within its process (1 for its first).
    #[serde(default)]
    pub number: i64,
}

impl RunSummary {
    /// What started the run, as the runs list filters by it.
    pub fn origin(&self) -> RunOrigin {
        if self.backfill.is_some() {
            RunOrigin::Backfill
        } else if self.retries > 0 || self.rerun_of.is_some() {
            RunOrigin::Retry
        } else {
            match self.trigger {
                Trigger::Manual => RunOrigin::Manual,
                Trigger::Schedule => RunOrigin::Schedule,
                Trigger::Api => RunOrigin::Api,
            }
        }
    }
}

text_enum!(
    /// What started a run, as the tenant's runs list filters by it: a
    /// person (`manual`), an API token (`api`), its schedule, a backfill,
    /// or a retry of an earlier run (retried in place, or run again).
    RunOrigin, "trigger" {
        Manual => "manual",
        Api => "api",
        Schedule => "schedule",
        Backfill => "backfill",
        Retry => "retry",
    }
);

/// One page of the tenant's runs, newest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RunPage {
    pub runs: Vec<RunSummary>,
    /// The `before` of the next page; none on the last one.
    pub next: Option<String>,
}

/// The runs created on one day (UTC) by how they ended.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RunDay {
    /// `2026-11-30`
    pub day: String,
    pub succeeded: i64,
    pub failed: i64,
    pub cancelled: i64,
    /// Not ended yet (queued, running or stopping).
    pub active: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_states_travel_as_plain_text() {
        let event = RunEvent {
            seq: 3,
            run: "r".into(),
            task: Some("W_a".into()),
            state: TaskState::UpForRetry.into(),
            at: "2026-11-30T03:00:00.000Z".into(),
        };
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["state"], "up_for_retry");
        assert_eq!(serde_json::from_value::<RunEvent>(json).unwrap(), event);
        let run: RunEvent = serde_json::from_str(
            r#"{"seq":1,"run":"r","task":null,"state":"cancelling","at":"t"}"#,
        )
        .unwrap();
        assert_eq!(run.state, EventState::Run(RunState::Cancelling));
        let bad = r#"{"seq":1,"run":"r","task":null,"state":"up_for_retry","at":"t"}"#;
        assert!(
            serde_json::from_str::<RunEvent>(bad).is_err(),
            "a run is never up for retry"
        );
    }
}
