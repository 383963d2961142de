//! The in-process bus: committed run events fan out to live streams, and a
//! task log's growth wakes whoever follows it. Only events that are already
//! committed are published, so a subscriber that replays from the database
//! and then follows the bus misses nothing.

use app::api::runs::RunEvent;
use app::types::TenantId;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tokio::sync::{broadcast, watch};

#[derive(Clone, Debug)]
pub struct Published {
    pub tenant: TenantId,
    pub event: RunEvent,
}

#[derive(Clone)]
pub struct EventBus {
    tx: broadcast::Sender<Published>,
    logs: LogWatch,
}

impl EventBus {
    pub fn new(capacity: usize) -> Self {
        Self {
            tx: broadcast::channel(capacity).0,
            logs: LogWatch::default(),
        }
    }

    /// Publishes a committed event (no one listening is fine).
    pub fn publish(&self, tenant: &TenantId, event: RunEvent) {
        let _ = self.tx.send(Published {
            tenant: tenant.clone(),
            event,
        });
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Published> {
        self.tx.subscribe()
    }

    /// Who writes task logs tells, and who follows them hears.
    pub fn logs(&self) -> &LogWatch {
        &self.logs
    }
}

/// Which task logs grew: one watch channel per log file someone follows,
/// gone when the last follower is.
#[derive(Clone, Default)]
pub struct LogWatch {
    followed: Arc<Mutex<HashMap<PathBuf, watch::Sender<()>>>>,
}

impl LogWatch {
    /// What the writer of the log at `path` signals through.
    pub fn signal(&self, path: &Path) -> LogSignal {
        LogSignal {
            watch: self.clone(),
            path: path.to_owned(),
        }
    }

    /// Follows the log at `path`: [`LogFollower::grown`] resolves after each
    /// write from now on.
    pub fn follow(&self, path: &Path) -> LogFollower {
        let mut followed = self.followed.lock().expect("log watch lock");
        let rx = followed
            .entry(path.to_owned())
            .or_insert_with(|| watch::channel(()).0)
            .subscribe();
        LogFollower {
            watch: self.clone(),
            path: path.to_owned(),
            rx,
        }
    }

    fn grew(&self, path: &Path) {
        if let Some(tx) = self.followed.lock().expect("log watch lock").get(path) {
            tx.send_replace(());
        }
    }

    /// How many logs are followed (for tests: followers leave nothing behind).
    pub fn followed(&self) -> usize {
        self.followed.lock().expect("log watch lock").len()
    }
}

/// The writer's side of one task log.
#[derive(Clone)]
pub struct LogSignal {
    watch: LogWatch,
    path: PathBuf,
}

impl LogSignal {
    /// The log grew: wakes its followers (no one following is fine).
    pub fn grew(&self) {
        self.watch.grew(&self.path);
    }
}

/// A follower of one task log.
pub struct LogFollower {
    watch: LogWatch,
    path: PathBuf,
    rx: watch::Receiver<()>,
}

impl LogFollower {
    /// Resolves once the log was written since the last call (or since
    /// following began).
    pub async fn grown(&mut self) {
        // The sender lives in the map as long as this follower does.
        if self.rx.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

impl Drop for LogFollower {
    fn drop(&mut self) {
        let mut followed = self.watch.followed.lock().expect("log watch lock");
        if followed
            .get(&self.path)
            .is_some_and(|tx| tx.receiver_count() <= 1)
        {
            followed.remove(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    async fn woken(f: &mut LogFollower) -> bool {
        tokio::time::timeout(Duration::from_millis(50), f.grown())
            .await
            .is_ok()
    }

    #[tokio::test]
    async fn a_write_wakes_the_followers_of_that_log_only() {
        let watch = LogWatch::default();
        let (a, b) = (Path::new("/logs/a.log"), Path::new("/logs/b.log"));
        let mut first = watch.follow(a);
        let mut second = watch.follow(a);
        let mut other = watch.follow(b);
        assert!(!woken(&mut first).await, "nothing written yet");

        watch.signal(a).grew();
        assert!(woken(&mut first).await);
        assert!(woken(&mut second).await);
        assert!(!woken(&mut other).await, "another log did not grow");
        assert!(!woken(&mut first).await, "one write wakes once");
    }

    #[tokio::test]
    async fn a_write_before_waiting_is_not_lost() {
        let watch = LogWatch::default();
        let path = Path::new("/logs/a.log");
        let mut follower = watch.follow(path);
        let signal = watch.signal(path);
        signal.grew();
        signal.grew();
        assert!(woken(&mut follower).await);
    }

    #[tokio::test]
    async fn the_last_follower_leaving_forgets_the_log() {
        let watch = LogWatch::default();
        let path = Path::new("/logs/a.log");
        let signal = watch.signal(path);
        signal.grew();
        assert_eq!(watch.followed(), 0, "writing keeps nothing");
        let first = watch.follow(path);
        let second = watch.follow(path);
        assert_eq!(watch.followed(), 1);
        drop(first);
        assert_eq!(watch.followed(), 1, "one follower is left");
        drop(second);
        assert_eq!(watch.followed(), 0);
        signal.grew();
        let mut again = watch.follow(path);
        assert!(!woken(&mut again).await, "earlier writes are not replayed");
    }
}
