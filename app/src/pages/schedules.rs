//! Schedules: the tenant's list (with an enabled toggle) and a process's
//! schedule editor with a live preview of the next fires. Only tenant admins
//! change them; everyone else sees them read-only. Below the schedule, the
//! process's backfills: editors start and cancel them, everyone sees them.

use crate::api::routes;
use crate::api::schedules::Schedule;
use crate::components::badge::StateBadge;
use crate::components::load::{alert, fetch, loaded, show};
use crate::components::tabs::{ProcessTab, ProcessTabs};
use crate::components::time;
use crate::session::{Session, WithTenant};
use crate::types::Role;
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

mod backfill_form;
mod backfill_list;
mod backfill_values;
mod declared;
mod editing;
mod fields;
mod fires;
mod form;
mod preview;
mod status;
mod values;

use backfill_form::BackfillForm;
use backfill_list::{BackfillList, Backfills};
use editing::{Editing, ScheduleToolbar};
use fields::ScheduleFields;
use fires::RecentFires;
use preview::PreviewPanel;
use status::ScheduleStatus;
use values::input_of;

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
/// recent fires; then its backfills.
#[component]
fn ScheduleEditor(tenant: String, id: String) -> impl IntoView {
    let session = Session::get();
    let admin = Signal::derive(move || session.can(Role::TenantAdmin));
    let editor = session.can(Role::Editor);
    let editing = Editing::new(tenant.clone(), id.clone());
    let backfills = Backfills::new(tenant.clone(), id.clone());
    let Editing { form, stored, .. } = editing;
    Effect::new(move |_| {
        editing.load();
        editing.load_versions();
    });
    form.params
        .follow((tenant.clone(), id.clone()), form.version, editing.versions);
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        editing.save();
    };
    view! {
        <h1>"Schedule"</h1>
        <ProcessTabs id=id.clone() current=ProcessTab::Schedule/>
        <ScheduleStatus stored admin/>
        <div class="schedule-editor">
            <form class="panel" on:submit=save data-testid="schedule-form">
                <ScheduleFields form versions=editing.versions admin/>
                <Show when=move || admin.get()>
                    <ScheduleToolbar editing/>
                </Show>
            </form>
            <PreviewPanel tenant=tenant.clone() cron=form.cron timezone=form.timezone/>
        </div>
        <h2>"Recent fires"</h2>
        <RecentFires fires=Signal::derive(move || {
            stored.get().and_then(Result::ok).flatten().map(|s| s.recent_fires).unwrap_or_default()
        })/>
        <h2>"Backfills"</h2>
        <section class="backfills" data-testid="backfills">
            {editor.then(|| view! {
                <BackfillForm tenant process=id.clone() versions=editing.versions backfills
                    schedule=Signal::derive(move || stored.get().and_then(Result::ok).flatten())/>
            })}
            <BackfillList backfills process=id editor/>
        </section>
    }
}
