//! A fire's run, made ready before the fire is recorded: the version it
//! runs (kept once read: versions never change), what it resolves (the
//! fire's date in the schedule's zone, the data interval from the previous
//! fire, the parameters) and the run to store.

use super::{parse_time, Scheduler};
use crate::db::processes;
use crate::db::runs::NewRun;
use crate::db::schedules::Stored;
use crate::engine::prepare::{prepare, When};
use app::types::params::Resolved;
use app::types::{ProcessId, RunId, TenantId, Trigger};
use std::sync::Arc;

impl Scheduler {
    /// A fire's run id and what it resolves (its date and data interval
    /// from the fire and the schedule's previous fire); or why it cannot
    /// start, for the fire's record.
    pub(super) async fn prepare(
        &self,
        s: &Stored,
        v: &processes::VersionRow,
        at: &str,
    ) -> anyhow::Result<Result<(RunId, Resolved), String>> {
        let fire = FireOf {
            cron: &s.cron,
            timezone: &s.timezone,
            process_name: &s.process_name,
            params: &s.params,
        };
        self.prepare_fire(fire, v, at).await
    }

    /// The run of a fire at `at` (a schedule's or a backfill's): its id and
    /// what it resolves — the fire's date in the zone and the data interval
    /// from the previous fire; or why it cannot start, for the fire's record.
    pub(super) async fn prepare_fire(
        &self,
        f: FireOf<'_>,
        v: &processes::VersionRow,
        at: &str,
    ) -> anyhow::Result<Result<(RunId, Resolved), String>> {
        let fire =
            parse_time(at).ok_or_else(|| anyhow::anyhow!("fire time `{at}` does not parse"))?;
        let timing = self.timing(f.cron, f.timezone);
        let when = When::Fire {
            at: fire,
            previous: timing.as_ref().and_then(|t| t.previous_before(fire)),
            zone: timing.map_or(chrono_tz::UTC, |t| t.timezone()),
        };
        let prepared = prepare(&self.inner.db, v, f.process_name, f.params, when).await?;
        Ok(prepared.map_err(|errors| {
            let reasons: Vec<String> = errors
                .iter()
                .map(|e| format!("{}: {}", e.field, e.message))
                .collect();
            format!(
                "the parameters do not fit version {}: {}",
                v.summary.number,
                reasons.join("; ")
            )
        }))
    }

    pub(super) fn new_run<'a>(
        &'a self,
        s: &'a Stored,
        v: &'a processes::VersionRow,
        params: &'a serde_json::Value,
        at: &'a str,
        id: RunId,
        resolved: &'a Resolved,
    ) -> NewRun<'a> {
        NewRun {
            id,
            resolved,
            rerun_of: None,
            tenant: &s.tenant,
            process: &s.process,
            version_id: &v.id,
            version_number: v.summary.number,
            trigger: Trigger::Schedule,
            params,
            by: None,
            dag: &v.dag,
            scheduled_for: Some(at),
            owner: self.inner.engine.server_id(),
        }
    }

    /// The version `n` of `s`'s process, kept once read.
    pub(super) async fn version(
        &self,
        s: &Stored,
        n: i64,
    ) -> anyhow::Result<Option<Arc<processes::VersionRow>>> {
        self.version_of(&s.tenant, &s.process, n).await
    }

    /// Version `n` of a process, kept once read (versions never change).
    pub(super) async fn version_of(
        &self,
        tenant: &TenantId,
        process: &ProcessId,
        n: i64,
    ) -> anyhow::Result<Option<Arc<processes::VersionRow>>> {
        let key = (process.clone(), n);
        if let Some(v) = self.inner.versions.lock().expect("versions lock").get(&key) {
            return Ok(Some(v.clone()));
        }
        let Some(row) = processes::version_get(&self.inner.db, tenant, process, n).await? else {
            return Ok(None);
        };
        let row = Arc::new(row);
        let mut cache = self.inner.versions.lock().expect("versions lock");
        if cache.len() > 10_000 {
            cache.clear();
        }
        cache.insert(key, row.clone());
        Ok(Some(row))
    }
}

/// What preparing a fire's run needs besides its version.
pub(super) struct FireOf<'a> {
    pub(super) cron: &'a str,
    pub(super) timezone: &'a str,
    pub(super) process_name: &'a str,
    pub(super) params: &'a serde_json::Map<String, serde_json::Value>,
}
