//! Alerts: where a tenant's notifications go (channels and the webhook
//! signing secret), when they are sent (rules) and what became of each one
//! (the delivery log). Tenant admins only, as the API is.

use crate::api::alerts::{
    AlertTrigger, Channel, ChannelInput, ChannelKind, Delivery, DeliveryStatus, Rule, RuleInput,
    SigningSecretState,
};
use crate::api::processes::ProcessSummary;
use crate::api::query::DeliveryQuery;
use crate::api::routes;
use crate::api::FieldError;
use crate::components::badge::StateBadge;
use crate::components::confirm::confirmed;
use crate::components::copy::CopyButton;
use crate::components::load::{
    alert, fetch, field_error, field_errors, loaded, other_errors, show, Loaded,
};
use crate::components::time;
use crate::session::{Session, WithTenant};
use crate::types::Role;
use leptos::prelude::*;
use std::time::Duration;

#[component]
pub fn AlertsPage() -> impl IntoView {
    view! {
        <h1>"Alerts"</h1>
        <p class="muted">
            "Who hears about runs, and when: channels are where alerts go, rules say which runs send one, "
            "and the delivery log shows what became of each."
        </p>
        <WithTenant children=|tenant| {
            if Session::get().can(Role::TenantAdmin) {
                view! { <AlertSections tenant/> }.into_any()
            } else {
                view! { <p data-testid="admins-only">"Only tenant admins can see this page."</p> }.into_any()
            }
        }/>
    }
}

/// What the page holds of the tenant's alerts, and the reloading of it.
#[derive(Clone, Copy)]
struct Alerts {
    tenant: StoredValue<String>,
    channels: Loaded<Vec<Channel>>,
    rules: Loaded<Vec<Rule>>,
    secret: Loaded<SigningSecretState>,
    /// A signing secret just made: shown while the page is open, never again.
    shown: RwSignal<Option<String>>,
    log: Log,
}

impl Alerts {
    fn load_channels(self) {
        let tenant = self.tenant.get_value();
        fetch(self.channels, async move {
            routes::alert_channels(&tenant).await
        });
    }

    fn load_rules(self) {
        let tenant = self.tenant.get_value();
        fetch(
            self.rules,
            async move { routes::alert_rules(&tenant).await },
        );
    }

    fn load_secret(self) {
        let tenant = self.tenant.get_value();
        fetch(self.secret, async move {
            routes::signing_secret_state(&tenant).await
        });
    }
}

/// The delivery log: newest first, filtered by status, reloaded every 5 s
/// while any delivery in it is pending.
#[derive(Clone, Copy)]
struct Log {
    tenant: StoredValue<String>,
    list: Loaded<Vec<Delivery>>,
    status: RwSignal<Option<DeliveryStatus>>,
    /// Counts reloads, so only the latest one keeps polling.
    round: StoredValue<u64>,
}

impl Log {
    fn reload(self) {
        let n = self.round.get_value() + 1;
        self.round.set_value(n);
        let tenant = self.tenant.get_value();
        let query = DeliveryQuery {
            status: self.status.get_untracked(),
            ..DeliveryQuery::default()
        };
        leptos::task::spawn_local(async move {
            let answer = routes::alert_deliveries(&tenant, &query).await;
            let pending = matches!(&answer, Ok(list) if list.iter().any(|d| d.status == DeliveryStatus::Pending));
            if self.list.try_set(Some(answer)).is_some() {
                return; // the page has gone
            }
            if pending {
                set_timeout(
                    move || {
                        if self.round.try_get_value() == Some(n) {
                            self.reload();
                        }
                    },
                    Duration::from_secs(5),
                );
            }
        });
    }
}

#[component]
fn AlertSections(tenant: String) -> impl IntoView {
    let tenant = StoredValue::new(tenant);
    let data = Alerts {
        tenant,
        channels: loaded(),
        rules: loaded(),
        secret: loaded(),
        shown: RwSignal::new(None),
        log: Log {
            tenant,
            list: loaded(),
            status: RwSignal::new(None),
            round: StoredValue::new(0),
        },
    };
    Effect::new(move |_| {
        data.load_channels();
        data.load_rules();
        data.load_secret();
        data.log.reload();
    });
    view! {
        <Channels data/>
        <Rules data/>
        <DeliveryLog log=data.log/>
    }
}

fn kind_label(kind: ChannelKind) -> &'static str {
    match kind {
        ChannelKind::Webhook => "Webhook",
        ChannelKind::Email => "Email",
        ChannelKind::Slack => "Slack",
    }
}

/// The target field's placeholder and hint for a kind of channel.
fn target_hint(kind: ChannelKind) -> (&'static str, &'static str) {
    match kind {
        ChannelKind::Webhook => (
            "https://example.com/hooks/trellis",
            "An http(s) URL. Each alert arrives as JSON in a POST signed with the tenant's signing secret.",
        ),
        ChannelKind::Email => (
            "ops@example.com, oncall@example.com",
            "One or more email addresses, separated by commas.",
        ),
        ChannelKind::Slack => (
            "https://hooks.slack.com/services/…",
            "The URL of a Slack incoming webhook. Each alert arrives as a message.",
        ),
    }
}

fn trigger_label(trigger: AlertTrigger) -> &'static str {
    match trigger {
        AlertTrigger::Failure => "A run fails",
        AlertTrigger::Success => "A run succeeds",
        AlertTrigger::Overdue => "A run is overdue",
        AlertTrigger::FailureStreak => "Runs fail several times in a row",
        AlertTrigger::Recovery => "A run succeeds after a failure",
    }
}

const CHANNEL_FIELDS: &[&str] = &["name", "kind", "target"];

#[component]
fn Channels(data: Alerts) -> impl IntoView {
    let (name, kind, target) = (
        RwSignal::new(String::new()),
        RwSignal::new(ChannelKind::Webhook),
        RwSignal::new(String::new()),
    );
    let errors = RwSignal::new(Vec::<FieldError>::new());
    let error = RwSignal::new(None::<String>);
    // What "Send a test" did: `Ok` once the delivery is made.
    let tested = RwSignal::new(None::<Result<(), String>>);

    let add = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let input = ChannelInput {
            name: name.get_untracked(),
            kind: kind.get_untracked(),
            target: target.get_untracked(),
        };
        let tenant = data.tenant.get_value();
        leptos::task::spawn_local(async move {
            match routes::create_alert_channel(&tenant, &input).await {
                Ok(channel) => {
                    errors.set(Vec::new());
                    name.set(String::new());
                    target.set(String::new());
                    if channel.signing_secret.is_some() {
                        data.shown.set(channel.signing_secret);
                        data.load_secret();
                    }
                    data.load_channels();
                }
                Err(e) => errors.set(field_errors(e)),
            }
        });
    };
    let test = move |id: String| {
        let tenant = data.tenant.get_value();
        tested.set(None);
        leptos::task::spawn_local(async move {
            match routes::test_alert_channel(&tenant, &id).await {
                Ok(_) => {
                    tested.set(Some(Ok(())));
                    data.log.reload();
                }
                Err(e) => tested.set(Some(Err(e.message()))),
            }
        });
    };
    let remove = move |id: String| {
        let tenant = data.tenant.get_value();
        leptos::task::spawn_local(async move {
            match routes::delete_alert_channel(&tenant, &id).await {
                Ok(()) => {
                    error.set(None);
                    data.load_channels();
                    data.load_rules();
                }
                Err(e) => error.set(Some(e.message())),
            }
        });
    };

    view! {
        <section class="alerts-section" aria-labelledby="alerts-channels" data-testid="alert-channels">
            <h2 id="alerts-channels">"Channels"</h2>
            <SigningSecretLine data/>
            {move || error.get().map(alert)}
            <div role="status" data-testid="channel-test-status">
                {move || tested.get().map(|r| match r {
                    Ok(()) => view! { <p class="ok" data-testid="test-sent">"Test sent — see the delivery log"</p> }.into_any(),
                    Err(e) => view! { <p class="error" data-testid="test-error">{e}</p> }.into_any(),
                })}
            </div>
            {show(data.channels, move |list| if list.is_empty() {
                view! { <p class="muted" data-testid="no-channels">"No channels yet."</p> }.into_any()
            } else {
                view! {
                    <table class="list" data-testid="channel-list">
                        <thead><tr><th>"Name"</th><th>"Kind"</th><th>"Target"</th><th>"Actions"</th></tr></thead>
                        <tbody>
                            {list.into_iter().map(|c| {
                                let (to_test, to_delete) = (c.id.clone(), c.id.clone());
                                view! {
                                    <tr data-testid="channel-row">
                                        <td>{c.name.clone()}</td>
                                        <td>{kind_label(c.kind)}</td>
                                        <td><code>{c.target.clone()}</code></td>
                                        <td>
                                            <div class="toolbar">
                                                <button type="button" class="link" data-testid="channel-test"
                                                    on:click=move |_| test(to_test.clone())>"Send a test"</button>
                                                {confirmed("Delete", "Delete this channel and the rules that send to it?", "channel-delete",
                                                    move || remove(to_delete.clone()))}
                                            </div>
                                        </td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            })}
            <form class="panel" on:submit=add data-testid="channel-form">
                <h3>"Add a channel"</h3>
                <label class="field">
                    <span>"Name"</span>
                    <input type="text" data-testid="channel-name" autocomplete="off" placeholder="Ops on call"
                        prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev))/>
                    {field_error(errors, "name")}
                </label>
                <label class="field">
                    <span>"Kind"</span>
                    <select data-testid="channel-kind"
                        on:change=move |ev| kind.set(event_target_value(&ev).parse().unwrap_or(ChannelKind::Webhook))>
                        {ChannelKind::ALL.iter().copied().map(|k| view! {
                            <option value=k.as_str() selected=move || kind.get() == k>{kind_label(k)}</option>
                        }).collect_view()}
                    </select>
                    {field_error(errors, "kind")}
                </label>
                <label class="field">
                    <span>"Target"</span>
                    <input type="text" data-testid="channel-target" autocomplete="off"
                        placeholder=move || target_hint(kind.get()).0
                        prop:value=move || target.get() on:input=move |ev| target.set(event_target_value(&ev))/>
                    <span class="muted">{move || target_hint(kind.get()).1}</span>
                    {field_error(errors, "target")}
                </label>
                {other_errors(errors, CHANNEL_FIELDS, "channel-error")}
                <div class="toolbar">
                    <button type="submit" data-testid="channel-add">"Add channel"</button>
                </div>
            </form>
        </section>
    }
}

/// When the tenant's signing secret was made, a button for a new one, and
/// a secret just made (shown once).
#[component]
fn SigningSecretLine(data: Alerts) -> impl IntoView {
    let error = RwSignal::new(None::<String>);
    let rotate = move || {
        let tenant = data.tenant.get_value();
        leptos::task::spawn_local(async move {
            match routes::rotate_signing_secret(&tenant).await {
                Ok(s) => {
                    error.set(None);
                    data.shown.set(Some(s.secret));
                    data.load_secret();
                }
                Err(e) => error.set(Some(e.message())),
            }
        });
    };
    let state = move || match data.secret.get() {
        None => "…".to_owned(),
        Some(Err(e)) => e.message(),
        Some(Ok(SigningSecretState {
            created_at: Some(at),
        })) => format!("created {} UTC", time::minutes(&at)),
        Some(Ok(_)) => "none yet; the first webhook channel makes one".to_owned(),
    };
    view! {
        <div class="toolbar" data-testid="signing-secret-state">
            <span><strong>"Signing secret: "</strong>{state}</span>
            {confirmed("New secret",
                "Make a new signing secret? Webhooks are signed with it at once; receivers that check the old one will refuse them.",
                "secret-rotate", rotate)}
        </div>
        <p class="muted">
            "Each webhook POST carries " <code>"X-Trellis-Signature-256: sha256=<hex>"</code>
            ", the HMAC-SHA256 of the raw body with this secret (check it before parsing the body), "
            <code>"X-Trellis-Delivery"</code> " (the delivery's id) and " <code>"X-Trellis-Event"</code> "."
        </p>
        {move || error.get().map(alert)}
        {move || data.shown.get().map(|secret| view! {
            <div class="notice" data-testid="signing-secret-box">
                <p>"The tenant's signing secret. Copy it now: it will not be shown again."</p>
                <code data-testid="signing-secret">{secret.clone()}</code> " "
                <CopyButton text=secret testid="copy-signing-secret"/> " "
                <button type="button" class="link" data-testid="signing-secret-hide" on:click=move |_| data.shown.set(None)>"Hide"</button>
            </div>
        })}
    }
}

const RULE_FIELDS: &[&str] = &["process", "trigger", "threshold", "channel"];

#[component]
fn Rules(data: Alerts) -> impl IntoView {
    let processes = loaded::<Vec<ProcessSummary>>();
    Effect::new(move |_| {
        let tenant = data.tenant.get_value();
        fetch(processes, async move { routes::processes(&tenant).await });
    });
    let error = RwSignal::new(None::<String>);
    let remove = move |id: String| {
        let tenant = data.tenant.get_value();
        leptos::task::spawn_local(async move {
            match routes::delete_alert_rule(&tenant, &id).await {
                Ok(()) => {
                    error.set(None);
                    data.load_rules();
                }
                Err(e) => error.set(Some(e.message())),
            }
        });
    };
    // Whether there is a channel to send to; `None` while they load.
    let any_channel = Memo::new(move |_| match data.channels.get() {
        Some(Ok(list)) => Some(!list.is_empty()),
        _ => None,
    });
    view! {
        <section class="alerts-section" aria-labelledby="alerts-rules" data-testid="alert-rules">
            <h2 id="alerts-rules">"Rules"</h2>
            <p class="muted">
                "A rule belongs to one process, or is the tenant's default: the default rules apply to every process "
                "that has no rules of its own."
            </p>
            {move || error.get().map(alert)}
            {show(data.rules, move |list| if list.is_empty() {
                view! { <p class="muted" data-testid="no-rules">"No rules yet."</p> }.into_any()
            } else {
                view! {
                    <table class="list" data-testid="rule-list">
                        <thead><tr><th>"Process"</th><th>"When"</th><th>"Channel"</th><th>"Actions"</th></tr></thead>
                        <tbody>
                            {list.into_iter().map(|r| {
                                let id = r.id.clone();
                                view! {
                                    <tr data-testid="rule-row">
                                        <td>{r.process_name.clone().unwrap_or_else(|| "All processes (default)".into())}</td>
                                        <td>{r.trigger.describe(r.threshold)}</td>
                                        <td>{r.channel_name.clone()}</td>
                                        <td>{confirmed("Delete", "Delete this rule?", "rule-delete", move || remove(id.clone()))}</td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            })}
            {move || match any_channel.get() {
                Some(true) => view! { <RuleForm data processes/> }.into_any(),
                Some(false) => view! {
                    <p class="muted" data-testid="rules-need-channel">"Add a channel first: every rule sends to one."</p>
                }.into_any(),
                None => ().into_any(),
            }}
        </section>
    }
}

#[component]
fn RuleForm(data: Alerts, processes: Loaded<Vec<ProcessSummary>>) -> impl IntoView {
    // "": the tenant default.
    let process = RwSignal::new(String::new());
    let trigger = RwSignal::new(AlertTrigger::Failure);
    let threshold = RwSignal::new(String::new());
    // "": the first channel.
    let channel = RwSignal::new(String::new());
    let errors = RwSignal::new(Vec::<FieldError>::new());
    let channels = move || data.channels.get().and_then(Result::ok).unwrap_or_default();

    let add = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let trigger = trigger.get_untracked();
        let threshold = match threshold.get_untracked().trim() {
            _ if trigger.threshold_unit().is_none() => None,
            "" => None,
            t => match t.parse::<i64>() {
                Ok(n) => Some(n),
                Err(_) => {
                    return errors.set(vec![FieldError::new(
                        "threshold",
                        "number",
                        "a whole number",
                    )]);
                }
            },
        };
        let channel = Some(channel.get_untracked())
            .filter(|c| !c.is_empty())
            .or_else(|| {
                data.channels
                    .with_untracked(|l| l.as_ref()?.as_ref().ok()?.first().map(|c| c.id.clone()))
            })
            .unwrap_or_default();
        let input = RuleInput {
            process: Some(process.get_untracked()).filter(|p| !p.is_empty()),
            trigger,
            threshold,
            channel,
        };
        let tenant = data.tenant.get_value();
        leptos::task::spawn_local(async move {
            match routes::create_alert_rule(&tenant, &input).await {
                Ok(_) => {
                    errors.set(Vec::new());
                    data.load_rules();
                }
                Err(e) => errors.set(field_errors(e)),
            }
        });
    };

    view! {
        <form class="panel" on:submit=add data-testid="rule-form">
            <h3>"Add a rule"</h3>
            <label class="field">
                <span>"Process"</span>
                <select data-testid="rule-process" on:change=move |ev| process.set(event_target_value(&ev))>
                    <option value="" selected=move || process.get().is_empty()>"All processes without rules of their own (default)"</option>
                    {move || processes.get().and_then(Result::ok).unwrap_or_default().into_iter().filter(|p| !p.archived).map(|p| {
                        let id = p.id.to_string();
                        let value = id.clone();
                        view! { <option value=value selected=move || process.get() == id>{p.name}</option> }
                    }).collect_view()}
                </select>
                {field_error(errors, "process")}
            </label>
            <label class="field">
                <span>"When"</span>
                <select data-testid="rule-trigger"
                    on:change=move |ev| trigger.set(event_target_value(&ev).parse().unwrap_or(AlertTrigger::Failure))>
                    {AlertTrigger::ALL.iter().copied().map(|t| view! {
                        <option value=t.as_str() selected=move || trigger.get() == t>{trigger_label(t)}</option>
                    }).collect_view()}
                </select>
                {field_error(errors, "trigger")}
            </label>
            {move || trigger.get().threshold_unit().map(|unit| {
                let hint = if unit == "minutes" {
                    "Minutes after the run started: 1 to 10080 (a week)."
                } else {
                    "Failed runs in a row: 2 to 100. Sent once per streak."
                };
                view! {
                    <label class="field">
                        <span>{format!("Threshold ({unit})")}</span>
                        <input type="number" data-testid="rule-threshold" inputmode="numeric"
                            prop:value=move || threshold.get() on:input=move |ev| threshold.set(event_target_value(&ev))/>
                        <span class="muted">{hint}</span>
                        {field_error(errors, "threshold")}
                    </label>
                }
            })}
            <label class="field">
                <span>"Channel"</span>
                <select data-testid="rule-channel" on:change=move |ev| channel.set(event_target_value(&ev))>
                    {move || channels().into_iter().map(|c| {
                        let id = c.id.clone();
                        view! { <option value=c.id selected=move || channel.get() == id>{c.name}</option> }
                    }).collect_view()}
                </select>
                {field_error(errors, "channel")}
            </label>
            {other_errors(errors, RULE_FIELDS, "rule-error")}
            <div class="toolbar">
                <button type="submit" data-testid="rule-add">"Add rule"</button>
            </div>
        </form>
    }
}

#[component]
fn DeliveryLog(log: Log) -> impl IntoView {
    view! {
        <section class="alerts-section" aria-labelledby="alerts-log" data-testid="delivery-log">
            <h2 id="alerts-log">"Delivery log"</h2>
            <p class="muted">
                "Newest first. A delivery that fails is tried again after longer and longer pauses, up to 8 attempts. "
                "The list refreshes itself every 5 seconds while a delivery is pending."
            </p>
            <div class="toolbar">
                <label>
                    "Status "
                    <select data-testid="delivery-status" on:change=move |ev| {
                        log.status.set(event_target_value(&ev).parse().ok());
                        log.reload();
                    }>
                        <option value="">"All"</option>
                        {DeliveryStatus::ALL.iter().copied().map(|s| view! { <option value=s.as_str()>{s.as_str()}</option> }).collect_view()}
                    </select>
                </label>
                <button type="button" data-testid="delivery-refresh" on:click=move |_| log.reload()>"Refresh"</button>
            </div>
            {show(log.list, |list| if list.is_empty() {
                view! { <p class="muted" data-testid="no-deliveries">"No deliveries yet."</p> }.into_any()
            } else {
                view! {
                    <table class="list" data-testid="delivery-list">
                        <thead><tr>
                            <th>"When (UTC)"</th><th>"Reason"</th><th>"Run"</th><th>"Channel"</th><th>"Status"</th>
                            <th>"Attempts"</th><th>"Last error"</th><th>"Next attempt (UTC)"</th>
                        </tr></thead>
                        <tbody>{list.into_iter().map(delivery_row).collect_view()}</tbody>
                    </table>
                }.into_any()
            })}
        </section>
    }
}

fn delivery_row(d: Delivery) -> impl IntoView {
    let pending = d.status == DeliveryStatus::Pending;
    let run = match (&d.run, &d.process_name, d.run_number) {
        (Some(run), Some(name), Some(n)) => {
            view! { <a href=format!("/runs/{run}")>{format!("{name} #{n}")}</a> }.into_any()
        }
        (Some(run), _, _) => view! { <a href=format!("/runs/{run}")>"Run"</a> }.into_any(),
        _ => view! { <span class="muted">"—"</span> }.into_any(),
    };
    let next = d
        .next_attempt_at
        .as_deref()
        .filter(|_| pending)
        .map(time::seconds);
    view! {
        <tr data-testid="delivery-row" data-status=d.status.as_str()>
            <td>{time::seconds(&d.created_at)}</td>
            <td>
                {d.trigger.map_or("Test", trigger_label)}
                <div class="muted">{d.summary.clone()}</div>
            </td>
            <td>{run}</td>
            <td>{d.channel_name.clone()}</td>
            <td><StateBadge state=d.status.as_str()/></td>
            <td>{d.attempts.to_string()}</td>
            <td class="error-line">{d.last_error.clone().unwrap_or_default()}</td>
            <td>{next.unwrap_or_default()}</td>
        </tr>
    }
}
