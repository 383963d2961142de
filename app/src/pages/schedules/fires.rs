//! A schedule's recent fires: when, what came of each, and its run.

use crate::api::schedules::ScheduleFire;
use crate::components::badge::StateBadge;
use crate::components::time;
use leptos::prelude::*;

#[component]
pub fn RecentFires(#[prop(into)] fires: Signal<Vec<ScheduleFire>>) -> impl IntoView {
    move || {
        let fires = fires.get();
        if fires.is_empty() {
            return view! { <p class="muted" data-testid="no-fires">"No fires yet."</p> }
                .into_any();
        }
        view! {
            <table class="list" data-testid="fire-list">
                <thead><tr><th>"Fire time (UTC)"</th><th>"Outcome"</th><th>"Run"</th><th>"Why"</th></tr></thead>
                <tbody>
                    {fires.into_iter().map(|f| view! {
                        <tr data-testid="fire-row">
                            <td>{time::spaced(&f.at)}</td>
                            <td>{f.outcome.as_str()}</td>
                            <td>{f.run.clone().map(|r| view! {
                                <a href=format!("/runs/{r}")><StateBadge state=f.run_state.map(|s| s.to_string()).unwrap_or_default()/></a>
                            })}</td>
                            <td class="muted">{f.detail.clone().unwrap_or_default()}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        }.into_any()
    }
}
