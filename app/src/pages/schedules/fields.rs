//! The schedule form's fields, each with its errors under it; disabled for
//! anyone below tenant admin.

use super::form::Form;
use crate::api::processes::VersionSummary;
use leptos::prelude::*;

#[component]
pub fn ScheduleFields(
    form: Form,
    versions: RwSignal<Vec<VersionSummary>>,
    admin: Signal<bool>,
) -> impl IntoView {
    let field = Field { form, admin };
    view! {
        {field.text("Cron expression", "cron", form.cron, "0 6 * * 1-5")}
        {field.text("Time zone", "timezone", form.timezone, "Europe/Berlin")}
        <label class="field checkbox">
            <input type="checkbox" data-testid="schedule-enabled" disabled=move || !admin.get()
                prop:checked=move || form.enabled.get()
                on:change=move |ev| form.enabled.set(event_target_checked(&ev))/>
            <span>"Enabled"</span>
        </label>
        <label class="field">
            <span>"Version"</span>
            <select data-testid="schedule-version" disabled=move || !admin.get()
                on:change=move |ev| form.version.set(event_target_value(&ev))>
                <option value="" selected=move || form.version.get().is_empty()>"Always the latest"</option>
                {move || versions.get().into_iter().map(|v| {
                    let n = v.number.to_string();
                    let m = n.clone();
                    view! { <option value=n selected=move || form.version.get() == m>{format!("Pinned to v{}", v.number)}</option> }
                }).collect_view()}
            </select>
            {form.error("version")}
        </label>
        {field.choice("After downtime", "catchup", form.catchup, vec![
            ("none", "Skip missed fires"),
            ("latest", "Run the most recent missed fire"),
            ("all", "Run every missed fire"),
        ])}
        {field.text("Most active runs", "max_active_runs", form.max_active_runs, "1")}
        {field.choice("When that many runs are active", "when_busy", form.when_busy, vec![
            ("skip", "Skip the fire"),
            ("queue", "Wait for a run to end"),
        ])}
        <label class="field">
            <span>"Run parameters (JSON)"</span>
            <textarea data-testid="schedule-params" rows="3" disabled=move || !admin.get()
                prop:value=move || form.params.get() on:input=move |ev| form.params.set(event_target_value(&ev))></textarea>
            {form.error("params")}
        </label>
        {form.error("schedule")}
    }
}

/// What every labelled field shares: the form's errors and who may edit.
#[derive(Clone, Copy)]
struct Field {
    form: Form,
    admin: Signal<bool>,
}

impl Field {
    fn text(
        self,
        label: &'static str,
        field: &'static str,
        value: RwSignal<String>,
        hint: &'static str,
    ) -> impl IntoView {
        let admin = self.admin;
        view! {
            <label class="field">
                <span>{label}</span>
                <input data-testid=format!("schedule-{field}") type="text" placeholder=hint autocomplete="off"
                    disabled=move || !admin.get()
                    prop:value=move || value.get() on:input=move |ev| value.set(event_target_value(&ev))/>
                {self.form.error(field)}
            </label>
        }
    }

    fn choice(
        self,
        label: &'static str,
        field: &'static str,
        value: RwSignal<String>,
        options: Vec<(&'static str, &'static str)>,
    ) -> impl IntoView {
        let admin = self.admin;
        view! {
            <label class="field">
                <span>{label}</span>
                <select data-testid=format!("schedule-{field}") disabled=move || !admin.get()
                    on:change=move |ev| value.set(event_target_value(&ev))>
                    {options.into_iter().map(|(v, l)| view! { <option value=v selected=move || value.get() == v>{l}</option> }).collect_view()}
                </select>
                {self.form.error(field)}
            </label>
        }
    }
}
