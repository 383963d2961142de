//! Schedules: when they fire (`timing`), and the loop that fires them.
//!
//! Each pass reads the enabled schedules, and for each one handles the fires
//! between its cursor and now: a fire starts a run (trigger `schedule`, with
//! its fire time), waits for a free slot, or is skipped — recorded under the
//! key (schedule, fire time) in the same transaction as its run, so no fire
//! starts two runs, across restarts, crashes and servers. The loop sleeps
//! until the next fire of any schedule (or a change, or `refresh`).

mod backfill;
mod clock;
mod fire;
pub mod timing;

pub use clock::{Clock, ManualClock, SystemClock};

use crate::db::schedules::{self, Decision, Stored};
use crate::db::{processes, Db};
use crate::engine::Engine;
use crate::events::EventBus;
use crate::time::Timestamp;
use app::api::schedules::{Catchup, WhenBusy};
use app::types::{ProcessId, RunId, ScheduleId};
use chrono::{DateTime, Utc};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use timing::Timing;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone)]
pub struct SchedulerSettings {
    /// How late a fire may be and still run under catch-up `none`.
    pub grace: Duration,
    /// Most missed fires run under catch-up `all`; also the most fires that
    /// wait for a free slot per schedule.
    pub catchup_max: usize,
    /// Longest sleep between passes (changes made on other servers are seen
    /// within it).
    pub refresh: Duration,
}

impl Default for SchedulerSettings {
    fn default() -> Self {
        Self {
            grace: Duration::from_secs(60),
            catchup_max: 50,
            refresh: Duration::from_secs(2),
        }
    }
}

/// A fire time as stored: UTC, milliseconds, `Z`.
pub fn key(at: DateTime<Utc>) -> String {
    Timestamp::from(at).to_string()
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    Timestamp::parse(s).map(Timestamp::as_datetime)
}

#[derive(Clone)]
pub struct Scheduler {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    engine: Engine,
    bus: EventBus,
    clock: Arc<dyn Clock>,
    settings: SchedulerSettings,
    wake: Notify,
    timings: Mutex<HashMap<(String, String), Option<Timing>>>,
    /// Versions are immutable: the ones fires ran, by (process, number).
    versions: Mutex<HashMap<(ProcessId, i64), Arc<processes::VersionRow>>>,
    /// Passes made by the loop, and the time they took (µs).
    passes: AtomicU64,
    busy_micros: AtomicU64,
}

impl Scheduler {
    pub fn new(
        db: Db,
        engine: Engine,
        bus: EventBus,
        clock: Arc<dyn Clock>,
        settings: SchedulerSettings,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                db,
                engine,
                bus,
                clock,
                settings,
                wake: Notify::new(),
                timings: Mutex::new(HashMap::new()),
                versions: Mutex::new(HashMap::new()),
                passes: AtomicU64::new(0),
                busy_micros: AtomicU64::new(0),
            }),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.inner.clock.now()
    }

    /// A schedule changed: look again now.
    pub fn changed(&self) {
        self.inner.wake.notify_one();
    }

    /// The parsed timing of a stored schedule (kept per expression and zone).
    pub fn timing(&self, cron: &str, timezone: &str) -> Option<Timing> {
        let mut cache = self.inner.timings.lock().expect("timings lock");
        if cache.len() > 10_000 {
            cache.clear();
        }
        cache
            .entry((cron.to_owned(), timezone.to_owned()))
            .or_insert_with(|| Timing::parse(cron, timezone).ok())
            .clone()
    }

    /// How many passes the loop made, and how long they took in all.
    pub fn pass_stats(&self) -> (u64, Duration) {
        (
            self.inner.passes.load(Ordering::Relaxed),
            Duration::from_micros(self.inner.busy_micros.load(Ordering::Relaxed)),
        )
    }

    /// Fires until `shutdown`.
    pub fn spawn(&self, shutdown: CancellationToken) {
        // A run that ends frees a slot a waiting fire or a backfill may take.
        let waker = self.clone();
        let mut events = self.inner.bus.subscribe();
        tokio::spawn(async move {
            use tokio::sync::broadcast::error::RecvError;
            loop {
                match events.recv().await {
                    Ok(p) => {
                        if matches!(p.event.state, app::api::runs::EventState::Run(s) if s.is_terminal())
                        {
                            waker.changed();
                        }
                    }
                    Err(RecvError::Lagged(_)) => waker.changed(),
                    Err(RecvError::Closed) => break,
                }
            }
        });
        let scheduler = self.clone();
        tokio::spawn(async move {
            loop {
                let begun = std::time::Instant::now();
                let pass = scheduler.tick().await;
                let inner = &scheduler.inner;
                inner.passes.fetch_add(1, Ordering::Relaxed);
                inner.busy_micros.fetch_add(
                    u64::try_from(begun.elapsed().as_micros()).unwrap_or(u64::MAX),
                    Ordering::Relaxed,
                );
                let next = match pass {
                    Ok(next) => next,
                    Err(e) => {
                        tracing::warn!(error = ?e, "scheduler pass failed");
                        Some(scheduler.now() + chrono::Duration::seconds(1))
                    }
                };
                let refresh = scheduler.inner.settings.refresh;
                let wait = next
                    .map(|t| (t - scheduler.now()).to_std().unwrap_or(Duration::ZERO))
                    .unwrap_or(refresh)
                    .min(refresh);
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(wait) => {}
                    _ = scheduler.inner.wake.notified() => {}
                }
            }
        });
    }

    /// One pass at the clock's now: starts the waiting fires that have a
    /// free slot, then handles every fire that is due — decided first, then
    /// recorded (with the runs they start) [`BATCH`] fires per transaction.
    /// Answers when the next fire of any schedule is due.
    pub async fn tick(&self) -> anyhow::Result<Option<DateTime<Utc>>> {
        let db = &self.inner.db;
        let now = self.now();
        let all = schedules::enabled(db).await?;
        let by_id: HashMap<&ScheduleId, &Stored> = all.iter().map(|s| (&s.id, s)).collect();
        let waiting = schedules::waiting(db).await?;
        let due = |s: &Stored| {
            let timing = self.timing(&s.cron, &s.timezone)?;
            let cursor = parse_time(&s.cursor_at)?;
            timing.next_after(cursor).filter(|t| *t <= now)
        };
        // Most passes have nothing to do: read counts only when needed.
        let (mut active, latest) = if waiting.is_empty() && !all.iter().any(|s| due(s).is_some()) {
            (HashMap::new(), HashMap::new())
        } else {
            (
                schedules::active_counts(db).await?,
                schedules::latest_numbers(db).await?,
            )
        };

        let mut blocked: HashSet<ScheduleId> = HashSet::new();
        let mut queued: HashMap<ScheduleId, usize> = HashMap::new();
        for (id, at) in waiting {
            let Some(s) = by_id.get(&id) else {
                continue;
            };
            let running = active.get(&s.process).copied().unwrap_or(0);
            if blocked.contains(&id) || running >= s.max_active_runs {
                blocked.insert(id.clone());
                *queued.entry(id).or_default() += 1;
                continue;
            }
            if self.start_waiting(s, &at, running, &latest).await? {
                *active.entry(s.process.clone()).or_default() += 1;
            }
        }

        let mut pending: Vec<Pending<'_>> = Vec::new();
        let mut next_wake: Option<DateTime<Utc>> = None;
        for s in &all {
            let Some(timing) = self.timing(&s.cron, &s.timezone) else {
                tracing::warn!(schedule = %s.id, cron = %s.cron, "a stored schedule does not parse; skipped");
                continue;
            };
            let Some(cursor) = parse_time(&s.cursor_at) else {
                tracing::warn!(schedule = %s.id, cursor = %s.cursor_at, "a stored schedule's cursor does not parse; skipped");
                continue;
            };
            let mut after = cursor;
            if timing.next_after(cursor).is_some_and(|t| t <= now) {
                let waiting = queued.get(&s.id).copied().unwrap_or(0);
                after = self
                    .plan_due(
                        s,
                        &timing,
                        cursor,
                        now,
                        waiting,
                        (&mut active, &latest),
                        &mut pending,
                    )
                    .await?;
            }
            if let Some(next) = timing.next_after(after.max(now)) {
                next_wake = Some(next_wake.map_or(next, |w| w.min(next)));
            }
        }
        // Every fire is stored before any of their runs starts: the runs'
        // own writes would otherwise queue with the later batches.
        let mut started = Vec::new();
        for batch in pending.chunks(BATCH) {
            started.extend(self.record(batch).await?);
        }
        for (s, run, event) in started {
            self.launch(s, run, event);
        }
        let backfilling = self.backfill_pass().await?;
        if !blocked.is_empty() || backfilling {
            let soon = now + chrono::Duration::seconds(1);
            next_wake = Some(next_wake.map_or(soon, |w| w.min(soon)));
        }
        Ok(next_wake)
    }

    /// Decides what each fire of `s` in `(cursor, now]` does, by its
    /// catch-up policy; answers the newest fire.
    #[allow(clippy::too_many_arguments)]
    async fn plan_due<'a>(
        &self,
        s: &'a Stored,
        timing: &Timing,
        cursor: DateTime<Utc>,
        now: DateTime<Utc>,
        mut waiting: usize,
        (active, latest): (&mut HashMap<ProcessId, i64>, &HashMap<ProcessId, i64>),
        out: &mut Vec<Pending<'a>>,
    ) -> anyhow::Result<DateTime<Utc>> {
        let settings = &self.inner.settings;
        let (due, more) = timing.fires_between(cursor, now, settings.catchup_max, true);
        let Some(&newest) = due.last() else {
            return Ok(cursor);
        };
        if more {
            tracing::info!(schedule = %s.id, kept = due.len(), "older missed fires were dropped");
        }
        let grace = chrono::Duration::from_std(settings.grace).unwrap_or_default();
        for &at in &due {
            let runs = match s.catchup {
                Catchup::None => now - at <= grace,
                Catchup::Latest => at == newest,
                Catchup::All => true,
            };
            let plan = if runs {
                let running = active.get(&s.process).copied().unwrap_or(0);
                self.plan(s, waiting, running, latest).await?
            } else {
                Plan::Skip(format!(
                    "missed: Trellis was not running at fire time (catch-up `{}`)",
                    s.catchup.as_str()
                ))
            };
            match plan {
                Plan::Start(_) => *active.entry(s.process.clone()).or_default() += 1,
                Plan::Wait(_) => waiting += 1,
                Plan::Skip(_) => {}
            }
            out.push(Pending {
                schedule: s,
                key: key(at),
                plan,
            });
        }
        Ok(newest)
    }

    /// Records a batch of decided fires in one transaction; answers the runs
    /// they started.
    async fn record<'a>(
        &self,
        batch: &[Pending<'a>],
    ) -> anyhow::Result<Vec<(&'a Stored, RunId, app::api::runs::RunEvent)>> {
        let params: Vec<serde_json::Value> = batch
            .iter()
            .map(|p| serde_json::Value::Object(p.schedule.params.clone()))
            .collect();
        let mut prepared = Vec::with_capacity(batch.len());
        for p in batch {
            prepared.push(match &p.plan {
                Plan::Start(v) => Some(self.prepare(p.schedule, v, &p.key).await?),
                _ => None,
            });
        }
        let fires = batch
            .iter()
            .zip(&params)
            .zip(&prepared)
            .map(|((p, params), prepared)| {
                let decision =
                    match (&p.plan, prepared) {
                        (Plan::Start(v), Some(Ok((id, resolved)))) => Decision::Start(
                            self.new_run(p.schedule, v, params, &p.key, id.clone(), resolved),
                        ),
                        (_, Some(Err(why))) => Decision::Skip(why.clone()),
                        (Plan::Wait(why), _) => Decision::Wait(why.clone()),
                        (Plan::Skip(why), _) => Decision::Skip(why.clone()),
                        (Plan::Start(_), None) => unreachable!("every start was prepared"),
                    };
                (p.schedule, p.key.as_str(), decision)
            })
            .collect();
        let recorded = schedules::record_fires(&self.inner.db, fires).await?;
        Ok(batch
            .iter()
            .zip(recorded)
            // `None`: another server (or an earlier pass) handled this fire.
            .filter_map(|(p, result)| result.flatten().map(|(id, event)| (p, id, event)))
            .map(|(p, id, event)| {
                let (fired, stored) = (Timestamp::parse(&p.key), Timestamp::parse(&event.at));
                if let (Some(fired), Some(stored)) = (fired, stored) {
                    let lag = stored.as_datetime() - fired.as_datetime();
                    crate::metrics::schedule_lag(lag.to_std().unwrap_or_default());
                }
                (p.schedule, id, event)
            })
            .collect())
    }

    fn launch(&self, s: &Stored, run: RunId, event: app::api::runs::RunEvent) {
        crate::engine::fault("schedule-after-fire");
        self.inner.bus.publish(&s.tenant, event);
        self.inner.engine.launch(s.tenant.clone(), run);
    }

    /// What a fire of `s` does now, with `waiting` of its fires already
    /// waiting for a slot, `active` runs of its process, and the latest
    /// version number of every process.
    async fn plan(
        &self,
        s: &Stored,
        waiting: usize,
        active: i64,
        latest: &HashMap<ProcessId, i64>,
    ) -> anyhow::Result<Plan> {
        let number = s.version.or_else(|| latest.get(&s.process).copied());
        let version = match number {
            Some(n) => self.version(s, n).await?,
            None => None,
        };
        let Some(version) = version else {
            return Ok(Plan::Skip(match s.version {
                Some(n) => format!("version {n} does not exist"),
                None => "nothing is published yet".into(),
            }));
        };
        if waiting == 0 && active < s.max_active_runs {
            return Ok(Plan::Start(version));
        }
        let why = format!(
            "{active} run{} of the process active (max_active_runs {})",
            if active == 1 { "" } else { "s" },
            s.max_active_runs
        );
        Ok(match s.when_busy {
            WhenBusy::Skip => Plan::Skip(why),
            WhenBusy::Queue if waiting >= self.inner.settings.catchup_max => Plan::Skip(format!(
                "{waiting} fires already wait for a slot; no more are queued"
            )),
            WhenBusy::Queue => Plan::Wait(why),
        })
    }

    /// Starts the run of a fire that waited for a slot; answers whether it
    /// did.
    async fn start_waiting(
        &self,
        s: &Stored,
        at: &str,
        active: i64,
        latest: &HashMap<ProcessId, i64>,
    ) -> anyhow::Result<bool> {
        let db = &self.inner.db;
        let version = match self.plan(s, 0, active, latest).await? {
            Plan::Start(v) => v,
            Plan::Wait(_) => return Ok(false),
            Plan::Skip(why) => {
                schedules::skip_waiting_fire(db, &s.id, at, &why).await?;
                return Ok(false);
            }
        };
        let (id, resolved) = match self.prepare(s, &version, at).await? {
            Ok(prepared) => prepared,
            Err(why) => {
                schedules::skip_waiting_fire(db, &s.id, at, &why).await?;
                return Ok(false);
            }
        };
        let params = serde_json::Value::Object(s.params.clone());
        let new = self.new_run(s, &version, &params, at, id, &resolved);
        let Some((id, event)) = schedules::start_waiting(db, &s.id, at, new).await? else {
            return Ok(false);
        };
        self.launch(s, id, event);
        Ok(true)
    }
}

/// Fires recorded per transaction.
const BATCH: usize = 200;

/// A fire decided in this pass, to record.
struct Pending<'a> {
    schedule: &'a Stored,
    key: String,
    plan: Plan,
}

/// What a fire does, decided before its transaction.
enum Plan {
    Start(Arc<processes::VersionRow>),
    Wait(String),
    Skip(String),
}
