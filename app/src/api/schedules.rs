//! Schedules: when a process runs by itself.

use crate::types::text_enum::text_enum;
use crate::types::{ProcessId, RunId, RunState};
use serde::{Deserialize, Serialize};

text_enum!(
    /// Which missed fires run after Trellis was down (or a fire came too late).
    #[derive(Default)]
    Catchup, "catch-up policy" {
        /// Skip missed fires (a fire at most the grace time late still runs).
        #[default]
        None => "none",
        /// One run, for the most recent missed fire.
        Latest => "latest",
        /// A run for every missed fire (the newest, up to the server's cap).
        All => "all",
    }
);

text_enum!(
    /// What a fire does while `max_active_runs` runs of the process are active.
    #[derive(Default)]
    WhenBusy, "busy policy" {
        /// The fire is recorded as skipped.
        #[default]
        Skip => "skip",
        /// The fire waits and starts its run when a run ends (oldest first).
        Queue => "queue",
    }
);

fn yes() -> bool {
    true
}

fn one() -> i64 {
    1
}

/// `PUT …/processes/{process}/schedule`: the whole schedule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ScheduleInput {
    /// 5 fields (minute hour day-of-month month day-of-week), or 6 with
    /// seconds first; `@daily` and the like.
    #[cfg_attr(feature = "ssr", schema(value_type = crate::api::timing::CronExpression))]
    pub cron: String,
    /// An IANA time zone, such as `Europe/Berlin`.
    #[cfg_attr(feature = "ssr", schema(value_type = crate::api::timing::TimeZoneName))]
    pub timezone: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Pin to this version; `null` runs the latest version at fire time.
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(minimum = 1))]
    pub version: Option<i64>,
    /// Run parameters of every run the schedule starts.
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(value_type = Object))]
    pub params: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    pub catchup: Catchup,
    /// 1 to 100 (default 1): active runs of the process at which a fire
    /// waits or is skipped.
    #[serde(default = "one")]
    #[cfg_attr(feature = "ssr", schema(minimum = 1, maximum = 100))]
    pub max_active_runs: i64,
    #[serde(default)]
    pub when_busy: WhenBusy,
}

text_enum!(
    /// What a fire did.
    FireOutcome, "fire outcome" {
        /// It started a run.
        Started => "started",
        /// It waits for a run of the process to end (`when_busy: queue`).
        Waiting => "waiting",
        /// It starts no run.
        Skipped => "skipped",
    }
);

/// What one fire did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ScheduleFire {
    /// The fire time (UTC).
    pub at: String,
    pub outcome: FireOutcome,
    #[cfg_attr(feature = "ssr", schema(value_type = Option<String>))]
    pub run: Option<RunId>,
    pub run_state: Option<RunState>,
    /// Why it waits or was skipped.
    pub detail: Option<String>,
}

/// A process's schedule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Schedule {
    #[cfg_attr(feature = "ssr", schema(value_type = String))]
    pub process: ProcessId,
    pub process_name: String,
    pub cron: String,
    pub timezone: String,
    pub enabled: bool,
    pub version: Option<i64>,
    #[cfg_attr(feature = "ssr", schema(value_type = Object))]
    pub params: serde_json::Map<String, serde_json::Value>,
    pub catchup: Catchup,
    pub max_active_runs: i64,
    pub when_busy: WhenBusy,
    /// The expression in words.
    pub description: String,
    /// The next 5 fires in UTC (none while paused).
    pub next_fires: Vec<String>,
    /// The same fires in the schedule's time zone, with their offset.
    pub next_fires_local: Vec<String>,
    /// The newest fires first (up to 20).
    pub recent_fires: Vec<ScheduleFire>,
    pub updated_at: String,
    pub updated_by: Option<String>,
}

/// `GET …/schedules/preview`: what an expression means, before saving it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SchedulePreview {
    pub description: String,
    pub next_fires: Vec<String>,
    pub next_fires_local: Vec<String>,
}
