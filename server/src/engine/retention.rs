//! Retention: ended runs older than their tenant's retention are deleted
//! with their events and task logs, in small batches, by a background sweep
//! (every `--retention-sweep-seconds`). A run that is active is never
//! deleted, nor the latest run of a process (its page and its process's
//! "last run" stay), so a process that runs once a quarter keeps its
//! history's newest entry. Datasets not written for as long go too, but
//! never one that a scheduled process (its pinned or latest version) or an
//! active run reads or writes. Alert deliveries that ended before the
//! cut-off go with them.

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
    /// Datasets deleted.
    pub datasets: usize,
    /// What the deleted runs' logs and datasets held.
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
                datasets: 0,
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
            // The alert log keeps as long as the runs it is about.
            crate::db::alerts::delete_finished_before(db, &tenant, &cutoff).await?;
            let (datasets, bytes) = self.sweep_datasets(&tenant, &cutoff).await?;
            swept.datasets = datasets;
            swept.bytes += bytes;
            if swept.runs > 0 || swept.datasets > 0 {
                self.inner.usage.forget(&tenant);
                tenants::record_sweep(
                    db,
                    &tenant,
                    swept.runs as i64,
                    i64::try_from(swept.bytes).unwrap_or(i64::MAX),
                )
                .await?;
                tracing::info!(tenant = %tenant, runs = swept.runs, datasets = swept.datasets,
                    bytes = swept.bytes, days, "retention deleted ended runs and old datasets");
                freed.push(swept);
            }
        }
        Ok(freed)
    }

    /// Deletes the tenant's datasets last written before `cutoff` that no
    /// scheduled process and no active run uses; how many, and their bytes.
    async fn sweep_datasets(
        &self,
        tenant: &TenantId,
        cutoff: &str,
    ) -> anyhow::Result<(usize, u64)> {
        let root = self.tenant_dir(tenant).join("datasets");
        let listed = {
            let root = root.clone();
            tokio::task::spawn_blocking(move || crate::datasets::list(&root)).await??
        };
        let old: Vec<String> = listed
            .into_iter()
            .filter(|d| d.created_at.as_str() < cutoff)
            .map(|d| d.name)
            .collect();
        if old.is_empty() {
            return Ok((0, 0));
        }
        let used = self.datasets_in_use(tenant).await?;
        let (mut count, mut bytes) = (0, 0);
        for name in old.iter().filter(|name| !used.contains(*name)) {
            bytes += remove_dir(&root.join(name)).await;
            count += 1;
        }
        Ok((count, bytes))
    }

    /// The datasets that scheduled processes (the version their schedule
    /// pins, else their latest) and active runs read or write.
    async fn datasets_in_use(
        &self,
        tenant: &TenantId,
    ) -> anyhow::Result<std::collections::HashSet<String>> {
        let db = &self.inner.db;
        let mut graphs = crate::db::processes::active_graphs(db, tenant).await?;
        let latest: std::collections::HashMap<_, _> =
            crate::db::processes::latest_graphs(db, tenant)
                .await?
                .into_iter()
                .map(|(process, _, _, graph)| (process, graph))
                .collect();
        for schedule in crate::db::schedules::list(db, tenant).await? {
            let graph = match schedule.version {
                Some(n) => crate::db::processes::version_get(db, tenant, &schedule.process, n)
                    .await?
                    .map(|v| v.graph),
                None => latest.get(&schedule.process).cloned(),
            };
            graphs.extend(graph);
        }
        Ok(graphs
            .iter()
            .flat_map(|g| &g.nodes)
            .flat_map(|node| {
                let (reads, writes) =
                    app::catalog::dataset_uses(node.component.as_str(), &node.params);
                reads.into_iter().chain(writes)
            })
            .collect())
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
