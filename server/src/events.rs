//! The in-process bus: committed run events fan out to live streams, and a
//! task log's growth wakes whoever follows it. Only events that are already
//! committed are published, so a subscriber that replays from the database
//! and then follows the bus misses nothing.

use app::api::runs::RunEvent;
use app::types::{RunId, TenantId};
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
    /// The event numbers published of each run, so that an event heard
    /// from the database (another server's, or this one's own echo, which
    /// may come before this server publishes it) is published once.
    published: Arc<Mutex<HashMap<RunId, Seen>>>,
}

/// The numbers of one run's events published lately.
#[derive(Default)]
struct Seen {
    max: i64,
    recent: std::collections::VecDeque<i64>,
}

impl Seen {
    /// How many numbers are remembered; an older one counts as published.
    const KEEP: usize = 256;

    /// Records `seq`; false when it was published already.
    fn record(&mut self, seq: i64) -> bool {
        if seq <= self.max - Self::KEEP as i64 || self.recent.contains(&seq) {
            return false;
        }
        if self.recent.len() == Self::KEEP {
            self.recent.pop_front();
        }
        self.recent.push_back(seq);
        self.max = self.max.max(seq);
        true
    }
}

/// The PostgreSQL channel committed events are announced on.
pub const PG_CHANNEL: &str = "trellis_run_events";

/// Runs remembered by [`EventBus::publish`] before the memory is cleared (a
/// cleared memory may publish an echo twice; run streams skip what they
/// have seen, by number).
const REMEMBERED_RUNS: usize = 100_000;

impl EventBus {
    pub fn new(capacity: usize) -> Self {
        Self {
            tx: broadcast::channel(capacity).0,
            logs: LogWatch::default(),
            published: Arc::default(),
        }
    }

    /// Publishes a committed event (no one listening is fine), once: an
    /// event published already — heard from the database as well as
    /// published by the server that stored it — is not published again.
    pub fn publish(&self, tenant: &TenantId, event: RunEvent) {
        crate::metrics::run_event(tenant, &event);
        self.relay(tenant, event);
    }

    /// Publishes an event another server committed (heard from the
    /// database), once; [`publish`](Self::publish) is for this server's own.
    fn relay(&self, tenant: &TenantId, event: RunEvent) {
        {
            let mut published = self.published.lock().expect("bus lock");
            if published.len() >= REMEMBERED_RUNS && !published.contains_key(&event.run) {
                published.clear();
            }
            if !published
                .entry(event.run.clone())
                .or_default()
                .record(event.seq)
            {
                return;
            }
        }
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

/// On PostgreSQL, every server hears every committed event: each event is
/// announced on [`PG_CHANNEL`] by the transaction that stores it, and this
/// listener reads the run's events after the last it published from the
/// table (filling any gap a lost announcement left) and publishes them on
/// `bus`, so live streams and the tenant stream on this server follow runs
/// that other servers drive. On SQLite (one server) there is nothing to do.
pub fn spawn_pg_bridge(
    url: String,
    db: crate::db::Db,
    bus: EventBus,
    shutdown: tokio_util::sync::CancellationToken,
) {
    if db.backend != crate::db::Backend::Postgres {
        return;
    }
    tokio::spawn(async move {
        let mut wait = std::time::Duration::from_millis(200);
        loop {
            let heard = async {
                let mut listener = sqlx::postgres::PgListener::connect(&url).await?;
                listener.listen(PG_CHANNEL).await?;
                tracing::info!("following the runs of every server (PostgreSQL notifications)");
                loop {
                    let note = listener.recv().await?;
                    let mut parts = note.payload().split('\t');
                    let (Some(tenant), Some(run), Some(Ok(seq))) = (
                        parts.next(),
                        parts.next(),
                        parts.next().map(str::parse::<i64>),
                    ) else {
                        continue;
                    };
                    let (tenant, run) = (TenantId::new(tenant), RunId::from(run.to_owned()));
                    // From the last published (a lost announcement leaves
                    // no gap), or this one for a run not seen before.
                    let last = bus
                        .published
                        .lock()
                        .expect("bus lock")
                        .get(&run)
                        .map(|s| s.max);
                    let after = last.unwrap_or(seq - 1).min(seq - 1);
                    for event in crate::db::runs::events_after(&db, &tenant, &run, after).await? {
                        bus.relay(&tenant, event);
                    }
                }
                #[allow(unreachable_code)]
                Ok::<(), anyhow::Error>(())
            };
            tokio::select! {
                _ = shutdown.cancelled() => return,
                result = heard => {
                    if let Err(e) = result {
                        tracing::warn!(error = %e, ?wait, "following other servers' events failed; trying again");
                    }
                }
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(std::time::Duration::from_secs(10));
        }
    });
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

    #[test]
    fn each_event_is_published_once_in_whatever_order_it_comes() {
        let bus = EventBus::new(64);
        let mut heard = bus.subscribe();
        let tenant = TenantId::new("t");
        let event = |seq| RunEvent {
            seq,
            run: RunId::from("r"),
            task: None,
            state: app::api::runs::EventState::Run(app::types::RunState::Running),
            at: String::new(),
        };
        // 2 is published by its server and heard from the database; 5 is
        // stored after 4 and published first.
        for seq in [1, 2, 2, 3, 5, 4, 5, 1] {
            bus.publish(&tenant, event(seq));
        }
        let mut seqs = Vec::new();
        while let Ok(p) = heard.try_recv() {
            seqs.push(p.event.seq);
        }
        assert_eq!(seqs, [1, 2, 3, 5, 4]);
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
