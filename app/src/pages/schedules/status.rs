//! What the schedule editor says above the form: whether the viewer may
//! change the schedule, and whether there is one and how it stands.

use crate::api::schedules::Schedule;
use crate::components::load::{show, Loaded};
use leptos::prelude::*;

#[component]
pub fn ScheduleStatus(stored: Loaded<Option<Schedule>>, admin: Signal<bool>) -> impl IntoView {
    view! {
        <Show when=move || !admin.get()>
            <p class="muted" data-testid="schedule-read-only">"Only tenant admins change schedules; you see this one read-only."</p>
        </Show>
        {show(stored, |s: Option<Schedule>| match s {
            None => view! { <p class="muted" data-testid="schedule-none">"This process has no schedule."</p> }.into_any(),
            Some(s) => view! {
                <p data-testid="schedule-state">{if s.enabled { "Enabled" } else { "Paused" }}
                    {s.updated_by.map(|u| format!(" — last changed by {u}"))}</p>
            }.into_any(),
        })}
    }
}
