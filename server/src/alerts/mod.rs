//! Alerts: a tenant's rules say which runs notify which channels.
//!
//! Delivery is at least once. The transaction that stores a run's final
//! state also puts the ending in the outbox (`alert_outbox`, only in a
//! tenant with rules); a background loop on every server turns each ending
//! into deliveries (one per matching rule, at most once per rule and
//! ending, taking the ending out in the same transaction) and sends the
//! deliveries that are due, each claimed by one server at a time. A server
//! killed at any point leaves the ending or the delivery behind for the
//! next one (a claim of a server that is gone, or that ran out, is taken
//! over): a receiver may see a delivery twice, never not at all, and
//! recognises it by its id (`X-Trellis-Delivery`). A failed attempt is
//! tried again with backoff, up to [`ATTEMPTS`] attempts; every attempt is
//! on the delivery, which the Alerts page lists.
//!
//! Unfinished runs are checked against `overdue` rules on the same loop,
//! once per run and rule.

mod message;
pub mod send;

use crate::db::alerts::{self as store, Attempt, NewDelivery};
use crate::engine::Engine;
use crate::time::Timestamp;
use app::api::alerts::{AlertTrigger, Channel, ChannelKind};
use app::types::TenantId;
use message::TenantNames;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Most attempts of one delivery.
pub const ATTEMPTS: i64 = 8;

/// The wait after the n-th failed attempt (the last one repeats).
const BACKOFF: [Duration; 7] = [
    Duration::from_secs(2),
    Duration::from_secs(10),
    Duration::from_secs(30),
    Duration::from_secs(120),
    Duration::from_secs(600),
    Duration::from_secs(1800),
    Duration::from_secs(3600),
];

/// How long a server's claim on a delivery holds (several attempts' time).
const CLAIM: Duration = Duration::from_secs(120);

/// How often the loop looks for work when nothing wakes it.
const EVERY: Duration = Duration::from_millis(500);

/// Endings and deliveries handled per round.
const ROUND: i64 = 50;

/// The platform's alert settings.
#[derive(Clone, Debug, Default)]
pub struct AlertSettings {
    /// `TRELLIS_SMTP_URL`: without it, email channels cannot be made.
    pub smtp_url: Option<String>,
    /// `TRELLIS_SMTP_FROM`.
    pub smtp_from: Option<String>,
    /// Where users reach Trellis (links in alerts).
    pub public_url: String,
}

#[derive(Clone)]
pub struct Alerts {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    mail: Option<send::Mail>,
    http: reqwest::Client,
    public_url: String,
    wake: Notify,
}

/// The sealing context of a tenant's signing secret.
fn secret_context(tenant: &TenantId) -> String {
    format!("alert-secret:{tenant}")
}

impl Alerts {
    pub fn new(engine: Engine, settings: AlertSettings) -> anyhow::Result<Alerts> {
        let mail = match (&settings.smtp_url, &settings.smtp_from) {
            (Some(url), Some(from)) => Some(send::Mail::new(url, from)?),
            (Some(_), None) => anyhow::bail!("TRELLIS_SMTP_URL is set: set TRELLIS_SMTP_FROM too"),
            _ => None,
        };
        let http = engine.outbound().http_client(send::ATTEMPT_TIMEOUT)?;
        Ok(Alerts {
            inner: Arc::new(Inner {
                engine,
                mail,
                http,
                public_url: settings.public_url,
                wake: Notify::new(),
            }),
        })
    }

    /// Whether the platform can send email.
    pub fn email_ready(&self) -> bool {
        self.inner.mail.is_some()
    }

    fn db(&self) -> &crate::db::Db {
        self.inner.engine.db()
    }

    /// Runs the loop until `shutdown`.
    pub fn spawn(&self, shutdown: CancellationToken) {
        let alerts = self.clone();
        tokio::spawn(async move {
            loop {
                if let Err(e) = alerts.round(Timestamp::now()).await {
                    tracing::warn!(error = %format!("{e:#}"), "alerts: a round failed");
                }
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = alerts.inner.wake.notified() => {}
                    _ = tokio::time::sleep(EVERY) => {}
                }
            }
        });
    }

    /// One round of the loop at `now`: endings into deliveries, overdue
    /// runs, then the deliveries that are due.
    pub async fn round(&self, now: Timestamp) -> anyhow::Result<()> {
        self.expand().await?;
        self.check_overdue(now).await?;
        self.deliver_due().await?;
        Ok(())
    }

    /// Turns the endings in the outbox into deliveries; how many endings.
    async fn expand(&self) -> anyhow::Result<usize> {
        let db = self.db();
        let endings = store::endings(db, ROUND).await?;
        for ending in &endings {
            let Some(run) = crate::db::runs::get(db, &ending.tenant, &ending.run).await? else {
                // Deleted since: nothing to say about it.
                store::make_deliveries(db, Some(&ending.id), &[]).await?;
                continue;
            };
            let rules = store::rules_for(db, &ending.tenant, &run.process).await?;
            let depth = rules
                .iter()
                .filter_map(|r| {
                    r.threshold
                        .filter(|_| r.trigger == AlertTrigger::FailureStreak)
                })
                .max()
                .unwrap_or(1)
                .max(1);
            let before =
                store::outcomes_before(db, &ending.tenant, &run.process, run.number, depth).await?;
            let (slug, name) = store::tenant_names(db, &ending.tenant).await?;
            let tenant = TenantNames {
                slug: &slug,
                name: &name,
            };
            let channels = store::channels(db, &ending.tenant).await?;
            let mut messages = Vec::new();
            for rule in &rules {
                if !message::fires(rule.trigger, rule.threshold, ending.state, &before) {
                    continue;
                }
                let Some(channel) = channels.iter().find(|c| c.id == rule.channel) else {
                    continue;
                };
                let m = message::about_run(
                    &run,
                    &tenant,
                    rule.trigger,
                    rule.threshold,
                    &self.inner.public_url,
                );
                let dedupe = format!(
                    "{}:{}:{}:{}",
                    rule.trigger, rule.id, run.id, ending.ended_at
                );
                messages.push((rule, channel, m, dedupe));
            }
            let deliveries: Vec<NewDelivery<'_>> = messages
                .iter()
                .map(|(rule, channel, m, dedupe)| NewDelivery {
                    tenant: &ending.tenant,
                    channel,
                    rule: Some(&rule.id),
                    trigger: Some(rule.trigger),
                    run: Some(&run.id),
                    process_name: Some(&run.process_name),
                    run_number: Some(run.number),
                    dedupe: Some(dedupe.clone()),
                    summary: &m.summary,
                    payload: &m.payload,
                })
                .collect();
            store::make_deliveries(db, Some(&ending.id), &deliveries).await?;
        }
        Ok(endings.len())
    }

    /// Makes a delivery for every unfinished run that an `overdue` rule
    /// covers and that was started more than the rule's minutes before
    /// `now` (once per run and rule); how many.
    pub async fn check_overdue(&self, now: Timestamp) -> anyhow::Result<usize> {
        let db = self.db();
        let mut made = 0;
        for (tenant, rule_id, process, minutes) in store::overdue_rules(db).await? {
            let cutoff = Timestamp::from(now.as_datetime() - chrono::Duration::minutes(minutes));
            let prefix = format!("overdue:{rule_id}:");
            let runs =
                store::overdue_runs(db, &tenant, process.as_ref(), &cutoff.to_string(), &prefix)
                    .await?;
            if runs.is_empty() {
                continue;
            }
            let Some(rule) = store::rule(db, &tenant, &rule_id).await? else {
                continue;
            };
            let Some(channel) = store::channel(db, &tenant, &rule.channel).await? else {
                continue;
            };
            let (slug, name) = store::tenant_names(db, &tenant).await?;
            let names = TenantNames {
                slug: &slug,
                name: &name,
            };
            for id in runs {
                let Some(run) = crate::db::runs::get(db, &tenant, &id).await? else {
                    continue;
                };
                let m = message::about_run(
                    &run,
                    &names,
                    AlertTrigger::Overdue,
                    Some(minutes),
                    &self.inner.public_url,
                );
                let delivery = NewDelivery {
                    tenant: &tenant,
                    channel: &channel,
                    rule: Some(&rule.id),
                    trigger: Some(AlertTrigger::Overdue),
                    run: Some(&run.id),
                    process_name: Some(&run.process_name),
                    run_number: Some(run.number),
                    dedupe: Some(format!("{prefix}{}", run.id)),
                    summary: &m.summary,
                    payload: &m.payload,
                };
                store::make_deliveries(db, None, std::slice::from_ref(&delivery)).await?;
                made += 1;
            }
        }
        Ok(made)
    }

    /// Sends the deliveries that are due (claimed by this server), at once;
    /// how many were attempted.
    async fn deliver_due(&self) -> anyhow::Result<usize> {
        let db = self.db();
        let me = self.inner.engine.server_id();
        let now = Timestamp::now();
        let until = Timestamp::from(now.as_datetime() + chrono::Duration::from_std(CLAIM)?);
        let claimed = store::claim_due(db, me, &now.to_string(), &until.to_string(), ROUND).await?;
        let count = claimed.len();
        futures::future::join_all(claimed.into_iter().map(|d| self.attempt(d))).await;
        Ok(count)
    }

    /// One attempt of a claimed delivery, recorded.
    async fn attempt(&self, d: store::Claimed) {
        let db = self.db();
        let me = self.inner.engine.server_id();
        let channel = store::channel(db, &d.tenant, &d.channel).await;
        let outcome = match channel {
            Ok(Some(channel)) => self
                .send(&d, &channel)
                .await
                .map(|()| channel.kind.as_str())
                .map_err(|f| (f, channel.kind.as_str())),
            Ok(None) => Err((
                send::Failed {
                    error: "the channel was deleted".into(),
                    permanent: true,
                },
                "deleted",
            )),
            Err(e) => Err((
                send::Failed {
                    error: format!("reading the channel: {e}"),
                    permanent: false,
                },
                "unknown",
            )),
        };
        let attempt = match &outcome {
            Ok(kind) => {
                crate::metrics::notification(kind, "delivered");
                Attempt::Delivered
            }
            Err((failed, kind)) => {
                let last = failed.permanent || d.attempts + 1 >= ATTEMPTS;
                crate::metrics::notification(kind, if last { "failed" } else { "retry" });
                tracing::info!(delivery = %d.id, error = %failed.error, last, "alerts: an attempt failed");
                let wait = BACKOFF[usize::try_from(d.attempts)
                    .unwrap_or(0)
                    .min(BACKOFF.len() - 1)];
                Attempt::Failed {
                    error: &failed.error,
                    again_at: (!last).then(|| {
                        Timestamp::from(
                            Timestamp::now().as_datetime()
                                + chrono::Duration::from_std(wait).unwrap_or_default(),
                        )
                        .to_string()
                    }),
                }
            }
        };
        if let Err(e) = store::record_attempt(db, &d.id, me, attempt).await {
            // The claim runs out and another round tries again.
            tracing::warn!(delivery = %d.id, error = %e, "alerts: recording an attempt failed");
        }
    }

    async fn send(&self, d: &store::Claimed, channel: &Channel) -> Result<(), send::Failed> {
        let secret = match channel.kind {
            ChannelKind::Webhook => {
                self.open_secret(&d.tenant)
                    .await
                    .map_err(|e| send::Failed {
                        error: format!("the signing secret: {e:#}"),
                        permanent: false,
                    })?
            }
            _ => None,
        };
        let senders = send::Senders {
            http: &self.inner.http,
            mail: self.inner.mail.as_ref(),
            secret: secret.as_deref(),
        };
        send::send(&senders, channel, &d.id, &d.payload).await
    }

    /// The tenant's signing secret, opened (`None`: it has none).
    async fn open_secret(&self, tenant: &TenantId) -> anyhow::Result<Option<String>> {
        let Some((sealed, _)) = store::signing_secret(self.db(), tenant).await? else {
            return Ok(None);
        };
        Ok(Some(
            self.inner
                .engine
                .sealer()
                .open(&secret_context(tenant), &sealed)?,
        ))
    }

    /// Makes the tenant a new signing secret (replacing any), or with
    /// `only_if_none` one only if it has none: the secret, to show once,
    /// and when it was made; `None` when it had one already.
    pub async fn new_secret(
        &self,
        tenant: &TenantId,
        only_if_none: bool,
    ) -> sqlx::Result<Option<(String, String)>> {
        use rand::RngCore;
        let mut bytes = [0u8; 24];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let secret = format!("whsec_{}", hex::encode(bytes));
        let sealed = self
            .inner
            .engine
            .sealer()
            .seal(&secret_context(tenant), &secret);
        let at = Timestamp::now().to_string();
        let stored =
            store::set_signing_secret(self.db(), tenant, &sealed, &at, only_if_none).await?;
        Ok(stored.then_some((secret, at)))
    }

    /// Queues a test alert to `channel` and wakes the loop: the delivery, as
    /// queued.
    pub async fn send_test(
        &self,
        tenant: &TenantId,
        channel: &Channel,
    ) -> sqlx::Result<app::api::alerts::Delivery> {
        let db = self.db();
        let (slug, name) = store::tenant_names(db, tenant).await?;
        let names = TenantNames {
            slug: &slug,
            name: &name,
        };
        let m = message::test(&names, &channel.name, &self.inner.public_url);
        let delivery = NewDelivery {
            tenant,
            channel,
            rule: None,
            trigger: None,
            run: None,
            process_name: None,
            run_number: None,
            dedupe: None,
            summary: &m.summary,
            payload: &m.payload,
        };
        let stored = store::make_deliveries(db, None, std::slice::from_ref(&delivery)).await?;
        let id = stored.into_iter().next().ok_or(sqlx::Error::RowNotFound)?;
        // Read as queued before the worker is woken: the answer says pending
        // (read after, a quick delivery could already be done).
        let queued = store::delivery(db, tenant, &id)
            .await?
            .ok_or(sqlx::Error::RowNotFound)?;
        self.inner.wake.notify_one();
        Ok(queued)
    }
}
