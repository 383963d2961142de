//! The backfill pass: each running backfill starts its next fires while it
//! has fewer than `max_active_runs` runs active, each run stored in the
//! transaction that claims its fire, and ends `done` when nothing is left.

use super::fire::FireOf;
use super::Scheduler;
use crate::db::backfills;
use crate::db::runs::NewRun;
use crate::engine::fault;
use app::types::Trigger;

impl Scheduler {
    /// One pass over every running backfill; whether any still has fires to
    /// start (the loop then looks again soon, as runs end).
    pub(super) async fn backfill_pass(&self) -> anyhow::Result<bool> {
        let db = &self.inner.db;
        let mut more = false;
        for b in backfills::running(db).await? {
            let free = b.max_active_runs - b.active;
            let next = if free > 0 {
                backfills::next_fires(db, &b.id, free).await?
            } else {
                vec![]
            };
            if next.is_empty() && b.active == 0 {
                backfills::finish_if_done(db, &b.id).await?;
                continue;
            }
            more = true;
            if next.is_empty() {
                continue;
            }
            let Some(version) = self.version_of(&b.tenant, &b.process, b.version).await? else {
                for at in &next {
                    let why = format!("version {} no longer exists", b.version);
                    backfills::drop_fire(db, &b.id, at, &why).await?;
                }
                continue;
            };
            for at in next {
                let fire = FireOf {
                    cron: &b.cron,
                    timezone: &b.timezone,
                    process_name: &b.process_name,
                    params: &b.params,
                };
                let (id, resolved) = match self.prepare_fire(fire, &version, &at).await? {
                    Ok(prepared) => prepared,
                    Err(why) => {
                        backfills::drop_fire(db, &b.id, &at, &why).await?;
                        continue;
                    }
                };
                let params = serde_json::Value::Object(b.params.clone());
                let new = NewRun {
                    id,
                    tenant: &b.tenant,
                    process: &b.process,
                    version_id: &version.id,
                    version_number: version.summary.number,
                    trigger: Trigger::Schedule,
                    params: &params,
                    by: None,
                    dag: &version.dag,
                    scheduled_for: Some(&at),
                    owner: self.inner.engine.server_id(),
                    resolved: &resolved,
                    rerun_of: None,
                };
                if let Some((run, event)) = backfills::start_fire(db, &b.id, &at, new).await? {
                    fault("backfill-after-start");
                    self.inner.bus.publish(&b.tenant, event);
                    self.inner.engine.launch(b.tenant.clone(), run);
                }
            }
        }
        Ok(more)
    }
}
