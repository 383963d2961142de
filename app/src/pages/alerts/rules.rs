//! When alerts are sent: the rules, each naming a trigger, optionally a
//! process, and a channel, with the form that adds one.

use super::{trigger_label, Alerts};
use crate::api::alerts::{AlertTrigger, RuleInput};
use crate::api::processes::ProcessSummary;
use crate::api::routes;
use crate::api::FieldError;
use crate::components::confirm::confirmed;
use crate::components::load::{
    alert, fetch, field_error, field_errors, loaded, other_errors, show, Loaded,
};
use leptos::prelude::*;

const RULE_FIELDS: &[&str] = &["process", "trigger", "threshold", "channel"];

#[component]
pub(super) fn Rules(data: Alerts) -> impl IntoView {
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
