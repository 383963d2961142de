//! Stopping a run: the request is stored (any server may receive it), and
//! the server driving the run hands it to the run's driver — at once when it
//! is this one, or at its next look. The same look tells drivers of runs
//! another server took over that they lost them.

use super::Engine;
use crate::db::runs;
use crate::executors::CancelMode;
use app::types::{RunId, TenantId};
use std::time::Duration;

impl Engine {
    /// Asks a queued or running run to stop; `None` when it has already ended
    /// (or was already stopping).
    pub async fn stop(
        &self,
        tenant: &TenantId,
        run: &RunId,
        mode: CancelMode,
    ) -> sqlx::Result<Option<()>> {
        let db = &self.inner.db;
        let Some(event) = self
            .durably(|| runs::request_stop(db, tenant, run, mode.mode()))
            .await?
        else {
            return Ok(None);
        };
        self.inner.bus.publish(tenant, event);
        // The request is in the database; the server driving the run acts
        // on it: this one at once, another at its next look (`spawn_stop_watch`).
        self.act_on_stop(run, mode);
        Ok(Some(()))
    }

    /// Hands a stop to the run's driver, when this server drives the run and
    /// has not handed it one yet.
    fn act_on_stop(&self, run: &RunId, mode: CancelMode) {
        if let Some(driving) = self.driving().get(run) {
            driving.stop.send_if_modified(|current| {
                let first = current.is_none();
                if first {
                    *current = Some(mode);
                }
                first
            });
        }
    }

    /// Looks every `every` for stops asked of the runs this server drives —
    /// received by any server, as they are stored — and hands them to their
    /// drivers, until `shutdown`.
    pub fn spawn_stop_watch(&self, every: Duration, shutdown: tokio_util::sync::CancellationToken) {
        let engine = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(every) => {}
                }
                match runs::stop_requests(&engine.inner.db, engine.server_id()).await {
                    Ok(requests) => {
                        for (_, run, mode) in requests {
                            let grace = engine.inner.settings.stop_grace;
                            engine.act_on_stop(&run, CancelMode::new(mode, grace));
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "looking for stop requests failed"),
                }
                if let Err(e) = engine.find_lost().await {
                    tracing::warn!(error = %e, "looking for runs taken over failed");
                }
            }
        });
    }

    /// Tells the drivers of runs another server has taken over (this one
    /// stalled past its lease, say) that they lost them, without waiting for
    /// their next write to be refused.
    async fn find_lost(&self) -> sqlx::Result<()> {
        let held: Vec<(RunId, runs::Epoch)> = self
            .driving()
            .iter()
            .filter_map(|(run, d)| Some((run.clone(), d.epoch?)))
            .collect();
        if held.is_empty() {
            return Ok(());
        }
        for run in runs::lost(&self.inner.db, self.server_id(), &held).await? {
            if let Some(driving) = self.driving().get(&run) {
                driving.lost.cancel();
            }
        }
        Ok(())
    }
}
