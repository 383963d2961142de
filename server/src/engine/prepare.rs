//! What a run resolves before it is stored: its parameters checked against
//! the version's declarations (defaults filled), its built-ins from when it
//! runs, and every node's values, once — for a run started through the API,
//! run again, or fired by a schedule alike.

use crate::db::processes::{self, VersionRow};
use crate::db::{new_id, Db};
use crate::time::Timestamp;
use app::api::FieldError;
use app::params::{check_run_params, resolve, RunFacts};
use app::types::params::Resolved;
use app::types::RunId;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde_json::{Map, Value};

/// When a run runs, for `run.logical_date` and the data interval.
pub enum When {
    /// Started now: the interval is the instant, the date today's (UTC).
    Now,
    /// A schedule's fire at `at`; the interval runs from its previous fire
    /// (or `at`, when it has none) and the date is `at`'s in `zone`.
    Fire {
        at: DateTime<Utc>,
        previous: Option<DateTime<Utc>>,
        zone: Tz,
    },
}

/// A new run's id and what it resolved; or every problem of its values.
pub async fn prepare(
    db: &Db,
    version: &VersionRow,
    process_name: &str,
    given: &Map<String, Value>,
    when: When,
) -> anyhow::Result<Result<(RunId, Resolved), Vec<FieldError>>> {
    let params = match check_run_params(&version.graph.params, given) {
        Ok(p) => p,
        Err(errors) => return Ok(Err(errors)),
    };
    let components = processes::components_of(db, version).await?;
    let id = RunId::new(new_id());
    let (logical_date, start, end) = match when {
        When::Now => {
            let now = Utc::now();
            (now.date_naive(), now, now)
        }
        When::Fire { at, previous, zone } => (
            at.with_timezone(&zone).date_naive(),
            previous.unwrap_or(at),
            at,
        ),
    };
    let facts = RunFacts {
        run_id: id.as_str(),
        process_name,
        version: version.summary.number,
        logical_date: logical_date.format("%Y-%m-%d").to_string(),
        data_interval_start: Timestamp::from(start).to_string(),
        data_interval_end: Timestamp::from(end).to_string(),
    };
    Ok(resolve(&version.graph, &components, params, facts).map(|r| (id, r)))
}
