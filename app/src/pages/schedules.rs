//! Schedules: the tenant's list (with an enabled toggle) and a process's
//! schedule editor with a live preview of the next fires. Only tenant admins
//! change them; everyone else sees them read-only.

use crate::api::processes::VersionSummary;
use crate::api::routes;
use crate::api::schedules::Schedule;
use crate::api::FieldError;
use crate::components::badge::StateBadge;
use crate::components::load::{alert, fetch, loaded, show, Loaded};
use crate::components::tabs::{ProcessTab, ProcessTabs};
use crate::components::time;
use crate::session::{Session, WithTenant};
use crate::types::Role;
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

mod fires;
mod form;
mod preview;

use fires::RecentFires;
use form::{input_of, Form};
use preview::PreviewPanel;

#[component]
pub fn SchedulesPage() -> impl IntoView {
    view! {
        <h1>"Schedules"</h1>
        <p class="muted">"When processes run by themselves. Tenant admins set schedules on a process's Schedule tab."</p>
        <WithTenant children=|tenant| view! { <ScheduleList tenant/> }/>
    }
}

#[component]
fn ScheduleList(tenant: String) -> impl IntoView {
    let session = Session::get();
    let admin = move || session.can(Role::TenantAdmin);
    let schedules = loaded::<Vec<Schedule>>();
    let reload = {
        let tenant = tenant.clone();
        move || {
            let tenant = tenant.clone();
            fetch(schedules, async move { routes::schedules(&tenant).await });
        }
    };
    {
        let reload = reload.clone();
        Effect::new(move |_| reload());
    }
    let error = RwSignal::new(None::<String>);
    let toggle = {
        let tenant = tenant.clone();
        move |s: Schedule| {
            let mut input = input_of(&s);
            input.enabled = !s.enabled;
            let (tenant, reload) = (tenant.clone(), reload.clone());
            leptos::task::spawn_local(async move {
                match routes::set_schedule(&tenant, s.process.as_str(), &input).await {
                    Ok(_) => {
                        error.set(None);
                        reload();
                    }
                    Err(e) => error.set(Some(e.message())),
                }
            });
        }
    };
    view! {
        {move || error.get().map(alert)}
        {show(schedules, move |list| if list.is_empty() {
            view! { <p class="muted" data-testid="no-schedules">"No schedules yet."</p> }.into_any()
        } else {
            view! {
                <table class="list" data-testid="schedule-list">
                    <thead><tr><th>"Process"</th><th>"When"</th><th>"Time zone"</th><th>"Next fire"</th><th>"Last run"</th><th>"Enabled"</th></tr></thead>
                    <tbody>
                        {list.into_iter().map(|s| {
                            let toggle = toggle.clone();
                            let last = s.recent_fires.iter().find(|f| f.run.is_some()).cloned();
                            let next = s.next_fires_local.first().map(|t| time::spaced(t)).unwrap_or_else(|| "paused".into());
                            let enabled = s.enabled;
                            let row = s.clone();
                            view! {
                                <tr data-testid="schedule-row">
                                    <td><a href=format!("/processes/{}/schedule", s.process)>{s.process_name.clone()}</a></td>
                                    <td><span data-testid="schedule-words">{s.description.clone()}</span>" " <code class="muted">{s.cron.clone()}</code></td>
                                    <td>{s.timezone.clone()}</td>
                                    <td data-testid="schedule-next">{next}</td>
                                    <td>{match last {
                                        Some(f) => view! {
                                            <a href=format!("/runs/{}", f.run.as_ref().map(|r| r.as_str()).unwrap_or_default())>
                                                <StateBadge state=f.run_state.map(|s| s.to_string()).unwrap_or_else(|| "queued".into())/>
                                            </a>
                                        }.into_any(),
                                        None => view! { <span class="muted">"none yet"</span> }.into_any(),
                                    }}</td>
                                    <td>
                                        <input type="checkbox" data-testid="schedule-enabled" prop:checked=enabled
                                            disabled=move || !admin()
                                            title=move || if admin() { "Pause or resume" } else { "Only tenant admins change schedules" }
                                            on:change=move |_| toggle(row.clone())/>
                                    </td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            }.into_any()
        })}
    }
}

#[component]
pub fn ProcessSchedulePage() -> impl IntoView {
    let params = use_params_map();
    view! {
        <WithTenant children=move |tenant| {
            let id = params.with(|p| p.get("id").unwrap_or_default());
            view! { <ScheduleEditor tenant id/> }
        }/>
    }
}

/// A process's schedule: its state, the form, the live preview and the
/// recent fires.
#[component]
fn ScheduleEditor(tenant: String, id: String) -> impl IntoView {
    let session = Session::get();
    let admin = move || session.can(Role::TenantAdmin);
    let form = Form::new();
    // `Ok(None)`: this process has no schedule yet.
    let stored: Loaded<Option<Schedule>> = loaded();
    let errors = RwSignal::new(Vec::<FieldError>::new());
    let saved = RwSignal::new(None::<&'static str>);
    let versions = RwSignal::new(Vec::<VersionSummary>::new());

    let load = {
        let (tenant, id) = (tenant.clone(), id.clone());
        move || {
            let (tenant, id) = (tenant.clone(), id.clone());
            fetch(stored, async move {
                match routes::schedule(&tenant, &id).await {
                    Ok(s) => {
                        form.fill(&input_of(&s));
                        Ok(Some(s))
                    }
                    Err(e) if e.status == 404 => Ok(None),
                    Err(e) => Err(e),
                }
            });
        }
    };
    {
        let load = load.clone();
        let (tenant, id) = (tenant.clone(), id.clone());
        Effect::new(move |_| {
            load();
            let (tenant, id) = (tenant.clone(), id.clone());
            leptos::task::spawn_local(async move {
                if let Ok(list) = routes::versions(&tenant, &id).await {
                    versions.set(list);
                }
            });
        });
    }

    let save = {
        let (tenant, id, load) = (tenant.clone(), id.clone(), load.clone());
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            saved.set(None);
            let input = match form.input() {
                Ok(i) => i,
                Err(e) => return errors.set(e),
            };
            let (tenant, id, load) = (tenant.clone(), id.clone(), load.clone());
            leptos::task::spawn_local(async move {
                match routes::set_schedule(&tenant, &id, &input).await {
                    Ok(_) => {
                        errors.set(Vec::new());
                        saved.set(Some("Saved."));
                        load();
                    }
                    Err(e) => errors.set(match e.problem {
                        Some(p) if !p.errors.is_empty() => p.errors,
                        _ => vec![FieldError::new("schedule", "error", e.message())],
                    }),
                }
            });
        }
    };
    let remove = {
        let (tenant, id) = (tenant.clone(), id.clone());
        Callback::new(move |_: ()| {
            let (tenant, id) = (tenant.clone(), id.clone());
            leptos::task::spawn_local(async move {
                match routes::delete_schedule(&tenant, &id).await {
                    Ok(()) => {
                        form.fill(&Form::defaults());
                        stored.set(Some(Ok(None)));
                        saved.set(Some("Deleted."));
                    }
                    Err(e) => errors.set(vec![FieldError::new("schedule", "error", e.message())]),
                }
            });
        })
    };

    let field_error = move |field: &'static str| {
        move || {
            errors
                .get()
                .into_iter()
                .filter(|e| e.field == field)
                .map(|e| view! { <span class="error" data-testid=format!("error-{field}")>{e.message}</span> })
                .collect_view()
        }
    };
    let text = move |label: &'static str,
                     field: &'static str,
                     value: RwSignal<String>,
                     hint: &'static str| {
        view! {
            <label class="field">
                <span>{label}</span>
                <input data-testid=format!("schedule-{field}") type="text" placeholder=hint autocomplete="off"
                    disabled=move || !admin()
                    prop:value=move || value.get() on:input=move |ev| value.set(event_target_value(&ev))/>
                {field_error(field)}
            </label>
        }
    };
    let choice = move |label: &'static str,
                       field: &'static str,
                       value: RwSignal<String>,
                       options: Vec<(&'static str, &'static str)>| {
        view! {
            <label class="field">
                <span>{label}</span>
                <select data-testid=format!("schedule-{field}") disabled=move || !admin()
                    on:change=move |ev| value.set(event_target_value(&ev))>
                    {options.into_iter().map(|(v, l)| view! { <option value=v selected=move || value.get() == v>{l}</option> }).collect_view()}
                </select>
                {field_error(field)}
            </label>
        }
    };

    view! {
        <h1>"Schedule"</h1>
        <ProcessTabs id=id.clone() current=ProcessTab::Schedule/>
        <Show when=move || !admin()>
            <p class="muted" data-testid="schedule-read-only">"Only tenant admins change schedules; you see this one read-only."</p>
        </Show>
        {show(stored, |s: Option<Schedule>| match s {
            None => view! { <p class="muted" data-testid="schedule-none">"This process has no schedule."</p> }.into_any(),
            Some(s) => view! {
                <p data-testid="schedule-state">{if s.enabled { "Enabled" } else { "Paused" }}
                    {s.updated_by.map(|u| format!(" — last changed by {u}"))}</p>
            }.into_any(),
        })}
        <div class="schedule-editor">
            <form class="panel" on:submit=save data-testid="schedule-form">
                {text("Cron expression", "cron", form.cron, "0 6 * * 1-5")}
                {text("Time zone", "timezone", form.timezone, "Europe/Berlin")}
                <label class="field checkbox">
                    <input type="checkbox" data-testid="schedule-enabled" disabled=move || !admin()
                        prop:checked=move || form.enabled.get()
                        on:change=move |ev| form.enabled.set(event_target_checked(&ev))/>
                    <span>"Enabled"</span>
                </label>
                <label class="field">
                    <span>"Version"</span>
                    <select data-testid="schedule-version" disabled=move || !admin()
                        on:change=move |ev| form.version.set(event_target_value(&ev))>
                        <option value="" selected=move || form.version.get().is_empty()>"Always the latest"</option>
                        {move || versions.get().into_iter().map(|v| {
                            let n = v.number.to_string();
                            let m = n.clone();
                            view! { <option value=n selected=move || form.version.get() == m>{format!("Pinned to v{}", v.number)}</option> }
                        }).collect_view()}
                    </select>
                    {field_error("version")}
                </label>
                {choice("After downtime", "catchup", form.catchup, vec![
                    ("none", "Skip missed fires"),
                    ("latest", "Run the most recent missed fire"),
                    ("all", "Run every missed fire"),
                ])}
                {text("Most active runs", "max_active_runs", form.max_active_runs, "1")}
                {choice("When that many runs are active", "when_busy", form.when_busy, vec![
                    ("skip", "Skip the fire"),
                    ("queue", "Wait for a run to end"),
                ])}
                <label class="field">
                    <span>"Run parameters (JSON)"</span>
                    <textarea data-testid="schedule-params" rows="3" disabled=move || !admin()
                        prop:value=move || form.params.get() on:input=move |ev| form.params.set(event_target_value(&ev))></textarea>
                    {field_error("params")}
                </label>
                {field_error("schedule")}
                <Show when=admin>
                    <div class="toolbar">
                        <button type="submit" data-testid="schedule-save">"Save schedule"</button>
                        <Show when=move || matches!(stored.get(), Some(Ok(Some(_))))>
                            <button type="button" class="danger" data-testid="schedule-delete" on:click=move |_| remove.run(())>"Delete schedule"</button>
                        </Show>
                        {move || saved.get().map(|m| view! { <span class="ok" data-testid="schedule-saved">{m}</span> })}
                    </div>
                </Show>
            </form>
            <PreviewPanel tenant cron=form.cron timezone=form.timezone/>
        </div>
        <h2>"Recent fires"</h2>
        <RecentFires fires=Signal::derive(move || {
            stored.get().and_then(Result::ok).flatten().map(|s| s.recent_fires).unwrap_or_default()
        })/>
    }
}
