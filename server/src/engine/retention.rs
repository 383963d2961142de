//! Retention: ended runs older than their tenant's retention are deleted
//! with their events and task logs, in small batches, by a background sweep
//! (every `--retention-sweep-seconds`). A run that is active is never
//! deleted, nor the latest run of a process (its page and its process's
//! "last run" stay), so a process that runs once a quarter keeps its
//! history's newest entry.

use super::Engine;
use crate::db::{runs, tenants};
use crate::time::Timestamp;
use app::types::TenantId;
use std::time::Duration;

/// Runs deleted per transaction.
const BATCH: i64 = 200;

/// What a sweep freed in one tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Swept {
    pub tenant: TenantId,
    pub runs: usize,
    pub bytes: u64,
}

impl Engine {
    /// The retention of a tenant whose own is `own` (`None`: the platform
    /// default), in days; 0 keeps everything.
    pub fn retention_of(&self, own: Option<i64>) -> u32 {
        own.map_or(self.inner.settings.retention_days, |n| {
            u32::try_from(n).unwrap_or(u32::MAX)
        })
    }

    /// Deletes, in every tenant, the ended runs that finished more than its
    /// retention before `now` (see the module); what it freed, per tenant
    /// that had anything to free.
    pub async fn sweep(&self, now: Timestamp) -> anyhow::Result<Vec<Swept>> {
        let db = &self.inner.db;
        let mut freed = Vec::new();
        for (tenant, own) in tenants::retentions(db).await? {
            let days = self.retention_of(own);
            if days == 0 {
                continue;
            }
            let cutoff = now.as_datetime() - chrono::Duration::days(i64::from(days));
            let cutoff = Timestamp::from(cutoff).to_string();
            let mut swept = Swept {
                tenant: tenant.clone(),
                runs: 0,
                bytes: 0,
            };
            loop {
                let batch = runs::expired(db, &tenant, &cutoff, BATCH).await?;
                let deleted = runs::delete_ended(db, &tenant, &batch).await?;
                for run in &deleted {
                    let dir = self.tenant_dir(&tenant).join("runs").join(run.as_str());
                    swept.bytes += remove_dir(&dir).await;
                }
                swept.runs += deleted.len();
                if (batch.len() as i64) < BATCH || deleted.is_empty() {
                    break;
                }
                // Others' writes go between batches.
                tokio::task::yield_now().await;
            }
            if swept.runs > 0 {
                self.inner.usage.forget(&tenant);
                tenants::record_sweep(
                    db,
                    &tenant,
                    swept.runs as i64,
                    i64::try_from(swept.bytes).unwrap_or(i64::MAX),
                )
                .await?;
                tracing::info!(tenant = %tenant, runs = swept.runs, bytes = swept.bytes, days, "retention deleted ended runs");
                freed.push(swept);
            }
        }
        Ok(freed)
    }

    /// Sweeps every `every` until `shutdown` (see [`sweep`](Self::sweep)).
    pub fn spawn_retention(&self, every: Duration, shutdown: tokio_util::sync::CancellationToken) {
        let engine = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tick.tick() => {}
                }
                if let Err(e) = engine.sweep(Timestamp::now()).await {
                    tracing::warn!(error = %e, "a retention sweep failed; the next one tries again");
                }
            }
        });
    }
}

/// Removes `dir` and everything in it; the bytes its files held (0 when
/// it was not there).
async fn remove_dir(dir: &std::path::Path) -> u64 {
    let dir = dir.to_owned();
    tokio::task::spawn_blocking(move || {
        let bytes = crate::quota::measure(&dir);
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(e) => {
                tracing::warn!(dir = %dir.display(), error = %e, "removing a deleted run's logs failed");
                0
            }
        }
    })
    .await
    .unwrap_or(0)
}
