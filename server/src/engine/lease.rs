//! Several servers on one PostgreSQL database: each run is driven by the
//! server that started it (`runs.owner`). Every server heartbeats; a server
//! that stops heartbeating for the lease time — or, on the same host, whose
//! process is gone — is forgotten, and the next server that looks takes over
//! its unfinished runs (see `recover`).

use super::Engine;
use crate::db::servers;
use crate::time::Timestamp;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "localhost".into())
}

fn alive(pid: i64) -> bool {
    i32::try_from(pid)
        .is_ok_and(|pid| nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok())
}

impl Engine {
    /// Records that this server is alive, and forgets the servers that are
    /// not: no heartbeat within `lease`, or gone from this host.
    pub async fn heartbeat(&self, lease: Duration) -> sqlx::Result<()> {
        let db = &self.inner.db;
        let host = host();
        let me = self.server_id();
        let pid = i64::from(std::process::id());
        servers::heartbeat(db, me, &host, pid, Timestamp::now()).await?;
        let lease = chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::seconds(30));
        let cutoff = Timestamp::ago(lease).to_string();
        for server in servers::others(db, me).await? {
            let gone = server.heartbeat_at < cutoff || (server.host == host && !alive(server.pid));
            if gone {
                tracing::info!(server = %server.id, host = %server.host, pid = server.pid, "forgetting a server that stopped");
                servers::forget(db, &server.id).await?;
            }
        }
        Ok(())
    }

    /// Says goodbye at shutdown, so a successor need not wait for the lease.
    pub async fn sign_off(&self) {
        let _ = servers::forget(&self.inner.db, self.server_id()).await;
    }

    /// Heartbeats every third of `lease` and takes over the runs of servers
    /// that stopped, until `shutdown`.
    pub fn spawn_lease(&self, lease: Duration, shutdown: CancellationToken) {
        let engine = self.clone();
        tokio::spawn(async move {
            let every = (lease / 3).max(Duration::from_millis(100));
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(every) => {}
                }
                if let Err(e) = engine.heartbeat(lease).await {
                    tracing::warn!(error = %e, "heartbeat failed");
                    continue;
                }
                match engine.recover().await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(runs = n, "took over the runs of a stopped server"),
                    Err(e) => tracing::warn!(error = ?e, "taking over runs failed"),
                }
            }
            engine.sign_off().await;
        });
    }
}
