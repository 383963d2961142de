//! The schedule form's fields, each with its errors under it; disabled for
//! anyone below tenant admin.

use super::declared::Declared;
use super::form::Form;
use super::values::{undeclared, unplaced};
use crate::api::processes::VersionSummary;
use crate::components::run_form::ParamFields;
use leptos::prelude::*;

#[component]
pub fn ScheduleFields(
    form: Form,
    versions: RwSignal<Option<Vec<VersionSummary>>>,
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
                {move || versions.get().into_iter().flatten().map(|v| {
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
        <RunParams form admin/>
        {form.error("schedule")}
    }
}

/// The run parameters, one typed input per parameter the version declares
/// (its default filled in, required ones marked, the server's problems
/// next to each); a line when it declares none.
#[component]
fn RunParams(form: Form, admin: Signal<bool>) -> impl IntoView {
    let Declared {
        params: declared,
        texts,
        given,
    } = form.params;
    let errors = form.errors;
    let note = move || {
        declared.with(|d| {
            let list = d.as_ref()?;
            Some(if list.is_empty() {
                view! { <p class="muted" data-testid="schedule-no-params">"This process takes no parameters"</p> }.into_any()
            } else {
                view! { <p class="muted">"A value left at its default follows the default of the version that runs."</p> }.into_any()
            })
        })
    };
    let dropped = move || {
        let list = declared.get()?;
        let names = given.with(|g| undeclared(&list, g));
        let them = if names.len() == 1 { "it" } else { "them" };
        (!names.is_empty()).then(|| view! {
            <p class="muted" data-testid="schedule-params-dropped">
                {format!("Saving leaves out {}: the version does not declare {them}.", names.join(", "))}
            </p>
        })
    };
    let stray = move || {
        let list = declared.get().unwrap_or_default();
        errors
            .with(|e| unplaced(&list, e))
            .into_iter()
            .map(|e| {
                let text = match e.field.strip_prefix("params.") {
                    Some(name) => format!("{name}: {}", e.message),
                    None => e.message,
                };
                view! { <span class="error" data-testid="error-params">{text}</span> }
            })
            .collect_view()
    };
    view! {
        <fieldset class="run-params" data-testid="schedule-params" disabled=move || !admin.get()>
            <legend>"Run parameters"</legend>
            {note}
            <ParamFields declared texts errors prefix="schedule"/>
            {dropped}
            {stray}
        </fieldset>
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
