//! What became of each alert: the delivery log, filtered by status.

use super::trigger_label;
use crate::api::alerts::{Delivery, DeliveryStatus};
use crate::api::query::DeliveryQuery;
use crate::api::routes;
use crate::components::badge::StateBadge;
use crate::components::load::{show, Loaded};
use crate::components::time;
use leptos::prelude::*;
use std::time::Duration;

/// The delivery log: newest first, filtered by status, reloaded every 5 s
/// while any delivery in it is pending.
#[derive(Clone, Copy)]
pub(super) struct Log {
    pub(super) tenant: StoredValue<String>,
    pub(super) list: Loaded<Vec<Delivery>>,
    pub(super) status: RwSignal<Option<DeliveryStatus>>,
    /// Counts reloads, so only the latest one keeps polling.
    pub(super) round: StoredValue<u64>,
}

impl Log {
    pub(super) fn reload(self) {
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
pub(super) fn DeliveryLog(log: Log) -> impl IntoView {
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
