//! Backfills: one run per fire time of a cron expression over a past (or
//! any) time range, each with that fire's logical date and data interval.

use crate::types::text_enum::text_enum;
use crate::types::ProcessId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// At most this many runs per backfill.
pub const MAX_RUNS: usize = 1_000;

text_enum!(
    /// Which fires of a backfill start first.
    #[derive(Default)]
    BackfillOrder, "backfill order" {
        #[default]
        OldestFirst => "oldest_first",
        NewestFirst => "newest_first",
    }
);

text_enum!(
    /// Where a backfill is.
    BackfillState, "backfill state" {
        /// Runs still start as slots allow.
        Running => "running",
        /// Every run has started and ended.
        Done => "done",
        /// Stopped: what had not started never will.
        Cancelled => "cancelled",
    }
);

fn one() -> i64 {
    1
}

/// `POST …/processes/{process}/backfills`
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct NewBackfill {
    /// The first instant of the range (RFC 3339); its fires count.
    #[cfg_attr(feature = "ssr", schema(format = DateTime))]
    pub start: String,
    /// The last instant of the range (RFC 3339); its fires count.
    #[cfg_attr(feature = "ssr", schema(format = DateTime))]
    pub end: String,
    /// Cron expression and zone of the fires; both default to the process's
    /// schedule.
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<crate::api::timing::CronExpression>))]
    pub cron: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<crate::api::timing::TimeZoneName>))]
    pub timezone: Option<String>,
    /// The version every run runs; the latest when left out.
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(minimum = 1))]
    pub version: Option<i64>,
    /// Run parameters of every run (checked against the version's
    /// declarations).
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(value_type = Object))]
    pub params: serde_json::Map<String, serde_json::Value>,
    /// Runs of the backfill active at once (1 to 100).
    #[serde(default = "one")]
    #[cfg_attr(feature = "ssr", schema(minimum = 1, maximum = 100))]
    pub max_active_runs: i64,
    #[serde(default)]
    pub order: BackfillOrder,
    /// Only check and count: nothing is stored (the form's live preview).
    #[serde(default)]
    pub dry_run: bool,
}

/// What a dry run answers: the fires a backfill would run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct BackfillPreview {
    pub runs: i64,
    /// The first and last fire (UTC) and as local time in the zone.
    pub first: String,
    pub last: String,
    pub first_local: String,
    pub last_local: String,
    pub cron: String,
    pub timezone: String,
    pub version: i64,
}

/// A backfill and its progress.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Backfill {
    pub id: String,
    #[cfg_attr(feature = "ssr", schema(value_type = String))]
    pub process: ProcessId,
    pub start: String,
    pub end: String,
    pub cron: String,
    pub timezone: String,
    pub version: i64,
    #[cfg_attr(feature = "ssr", schema(value_type = Object))]
    pub params: serde_json::Map<String, serde_json::Value>,
    pub max_active_runs: i64,
    pub order: BackfillOrder,
    pub state: BackfillState,
    pub created_by: Option<String>,
    pub created_at: String,
    /// Fire times in the range: one run each.
    pub total: i64,
    /// Fires whose run has not started yet.
    pub pending: i64,
    /// Fires that will never start (the backfill was cancelled first).
    pub cancelled_before_start: i64,
    /// Started runs by their state.
    pub runs: BTreeMap<String, i64>,
}

text_enum!(
    /// What cancelling a backfill does to its runs.
    CancelMode, "cancel mode" {
        /// Only what has not started is cancelled.
        Pending => "pending",
        /// Its active runs are stopped too.
        Stop => "stop",
    }
);

/// `POST …/backfills/{backfill}/cancel?mode=`
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "ssr", into_params(parameter_in = Query))]
pub struct CancelQuery {
    /// `pending` (the default) cancels what has not started; `stop` also
    /// stops the backfill's active runs.
    #[cfg_attr(feature = "ssr", param(value_type = Option<CancelMode>))]
    pub mode: Option<String>,
}
