//! Schedules: the tenant's list (with an enabled toggle) and a process's
//! schedule editor with a live preview of the next fires. Only tenant admins
//! change them; everyone else sees them read-only.

use crate::api::processes::VersionSummary;
use crate::api::schedules::{Catchup, Schedule, ScheduleInput, SchedulePreview, WhenBusy};
use crate::api::FieldError;
use crate::client::{self, load_into, tenant_path};
use crate::pages::history::ProcessTabs;
use crate::pages::processes::StateBadge;
use crate::session::{Session, WithTenant};
use crate::types::Role;
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;
use std::time::Duration;

fn when(at: &str) -> String {
    at.replace('T', " ")
}

/// What `PUT` takes to store `s` again.
fn input_of(s: &Schedule) -> ScheduleInput {
    ScheduleInput {
        cron: s.cron.clone(),
        timezone: s.timezone.clone(),
        enabled: s.enabled,
        version: s.version,
        params: s.params.clone(),
        catchup: s.catchup,
        max_active_runs: s.max_active_runs,
        when_busy: s.when_busy,
    }
}

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
    let schedules = RwSignal::new(None::<Result<Vec<Schedule>, String>>);
    let path = tenant_path(&tenant, "schedules");
    let reload = move || load_into(path.clone(), schedules);
    {
        let reload = reload.clone();
        Effect::new(move |_| reload());
    }
    let error = RwSignal::new(None::<String>);
    let toggle = {
        let tenant = tenant.clone();
        move |s: Schedule| {
            let url = tenant_path(&tenant, &format!("processes/{}/schedule", s.process));
            let mut input = input_of(&s);
            input.enabled = !s.enabled;
            let reload = reload.clone();
            leptos::task::spawn_local(async move {
                match client::put::<_, Schedule>(&url, &input).await {
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
        {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
        {move || match schedules.get() {
            None => view! { <p class="muted">"Loading…"</p> }.into_any(),
            Some(Err(e)) => view! { <p class="error" role="alert">{e}</p> }.into_any(),
            Some(Ok(list)) if list.is_empty() => view! { <p class="muted" data-testid="no-schedules">"No schedules yet."</p> }.into_any(),
            Some(Ok(list)) => view! {
                <table class="list" data-testid="schedule-list">
                    <thead><tr><th>"Process"</th><th>"When"</th><th>"Time zone"</th><th>"Next fire"</th><th>"Last run"</th><th>"Enabled"</th></tr></thead>
                    <tbody>
                        {list.into_iter().map(|s| {
                            let toggle = toggle.clone();
                            let last = s.recent_fires.iter().find(|f| f.run.is_some()).cloned();
                            let next = s.next_fires_local.first().map(|t| when(t)).unwrap_or_else(|| "paused".into());
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
                                            <a href=format!("/runs/{}", f.run.clone().unwrap_or_default())>
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
            }.into_any(),
        }}
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

/// The editor's fields, as text.
#[derive(Clone, Copy)]
struct Form {
    cron: RwSignal<String>,
    timezone: RwSignal<String>,
    enabled: RwSignal<bool>,
    version: RwSignal<String>,
    params: RwSignal<String>,
    catchup: RwSignal<String>,
    max_active_runs: RwSignal<String>,
    when_busy: RwSignal<String>,
}

impl Form {
    /// What a process without a schedule starts from.
    fn defaults() -> ScheduleInput {
        ScheduleInput {
            cron: "0 6 * * *".into(),
            timezone: "UTC".into(),
            enabled: true,
            version: None,
            params: Default::default(),
            catchup: Catchup::None,
            max_active_runs: 1,
            when_busy: WhenBusy::Skip,
        }
    }

    fn new() -> Form {
        let form = Form {
            cron: RwSignal::new(String::new()),
            timezone: RwSignal::new(String::new()),
            enabled: RwSignal::new(true),
            version: RwSignal::new(String::new()),
            params: RwSignal::new(String::new()),
            catchup: RwSignal::new(String::new()),
            max_active_runs: RwSignal::new(String::new()),
            when_busy: RwSignal::new(String::new()),
        };
        form.fill(&Form::defaults());
        form
    }

    fn fill(&self, s: &ScheduleInput) {
        self.cron.set(s.cron.clone());
        self.timezone.set(s.timezone.clone());
        self.enabled.set(s.enabled);
        self.version
            .set(s.version.map(|v| v.to_string()).unwrap_or_default());
        self.params
            .set(serde_json::to_string_pretty(&s.params).unwrap_or_else(|_| "{}".into()));
        self.catchup.set(s.catchup.as_str().into());
        self.max_active_runs.set(s.max_active_runs.to_string());
        self.when_busy.set(s.when_busy.as_str().into());
    }

    /// The request, or the field errors the browser can tell by itself.
    fn input(&self) -> Result<ScheduleInput, Vec<FieldError>> {
        let mut errors = Vec::new();
        let params = match serde_json::from_str::<serde_json::Value>(&self.params.get_untracked()) {
            Ok(serde_json::Value::Object(map)) => map,
            _ => {
                errors.push(FieldError::new(
                    "params",
                    "json",
                    "a JSON object, such as {\"day\": \"today\"}",
                ));
                Default::default()
            }
        };
        let max_active_runs = self
            .max_active_runs
            .get_untracked()
            .trim()
            .parse()
            .unwrap_or(0);
        let version = self.version.get_untracked().parse().ok();
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(ScheduleInput {
            cron: self.cron.get_untracked(),
            timezone: self.timezone.get_untracked(),
            enabled: self.enabled.get_untracked(),
            version,
            params,
            catchup: self
                .catchup
                .get_untracked()
                .parse()
                .unwrap_or(Catchup::None),
            max_active_runs,
            when_busy: self
                .when_busy
                .get_untracked()
                .parse()
                .unwrap_or(WhenBusy::Skip),
        })
    }
}

#[component]
fn ScheduleEditor(tenant: String, id: String) -> impl IntoView {
    let session = Session::get();
    let admin = move || session.can(Role::TenantAdmin);
    let path = tenant_path(&tenant, &format!("processes/{id}/schedule"));
    let preview_path = tenant_path(&tenant, "schedules/preview");
    let form = Form::new();
    // None: loading; Some(None): no schedule yet; Some(Some(s)): stored.
    let stored = RwSignal::new(None::<Option<Schedule>>);
    let load_error = RwSignal::new(None::<String>);
    let errors = RwSignal::new(Vec::<FieldError>::new());
    let saved = RwSignal::new(None::<&'static str>);
    let versions = RwSignal::new(Vec::<VersionSummary>::new());
    let preview = RwSignal::new(None::<Result<SchedulePreview, Vec<FieldError>>>);

    let load = {
        let path = path.clone();
        move || {
            let path = path.clone();
            leptos::task::spawn_local(async move {
                match client::get::<Schedule>(&path).await {
                    Ok(s) => {
                        form.fill(&input_of(&s));
                        stored.set(Some(Some(s)));
                    }
                    Err(e) if e.status == 404 => stored.set(Some(None)),
                    Err(e) => load_error.set(Some(e.message())),
                }
            });
        }
    };
    {
        let load = load.clone();
        let versions_path = tenant_path(&tenant, &format!("processes/{id}/versions"));
        Effect::new(move |_| {
            load();
            let versions_path = versions_path.clone();
            leptos::task::spawn_local(async move {
                if let Ok(list) = client::get::<Vec<VersionSummary>>(&versions_path).await {
                    versions.set(list);
                }
            });
        });
    }

    // Live preview: asks the server (same parser as the scheduler) a moment
    // after the expression or the zone stop changing.
    let typed = StoredValue::new(0u64);
    Effect::new(move |_| {
        let (cron, timezone) = (form.cron.get(), form.timezone.get());
        let n = typed.get_value() + 1;
        typed.set_value(n);
        let preview_path = preview_path.clone();
        set_timeout(
            move || {
                if typed.get_value() != n {
                    return;
                }
                let query = form_urlencoded::Serializer::new(String::new())
                    .append_pair("cron", &cron)
                    .append_pair("timezone", &timezone)
                    .finish();
                leptos::task::spawn_local(async move {
                    let result =
                        client::get::<SchedulePreview>(&format!("{preview_path}?{query}")).await;
                    if typed.get_value() == n {
                        preview.set(Some(result.map_err(|e| match e.problem {
                            Some(p) if !p.errors.is_empty() => p.errors,
                            _ => vec![FieldError::new("cron", "unknown", e.message())],
                        })));
                    }
                });
            },
            Duration::from_millis(250),
        );
    });

    let save = {
        let (path, load) = (path.clone(), load.clone());
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            saved.set(None);
            let input = match form.input() {
                Ok(i) => i,
                Err(e) => return errors.set(e),
            };
            let (path, load) = (path.clone(), load.clone());
            leptos::task::spawn_local(async move {
                match client::put::<_, Schedule>(&path, &input).await {
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
        let path = path.clone();
        Callback::new(move |_: ()| {
            let path = path.clone();
            leptos::task::spawn_local(async move {
                match client::delete::<()>(&path).await {
                    Ok(()) => {
                        form.fill(&Form::defaults());
                        stored.set(Some(None));
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
        <ProcessTabs id=id.clone() current="Schedule"/>
        {move || load_error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
        <Show when=move || !admin()>
            <p class="muted" data-testid="schedule-read-only">"Only tenant admins change schedules; you see this one read-only."</p>
        </Show>
        {move || match stored.get() {
            None => view! { <p class="muted">"Loading…"</p> }.into_any(),
            Some(None) => view! { <p class="muted" data-testid="schedule-none">"This process has no schedule."</p> }.into_any(),
            Some(Some(s)) => view! {
                <p data-testid="schedule-state">{if s.enabled { "Enabled" } else { "Paused" }}
                    {s.updated_by.map(|u| format!(" — last changed by {u}"))}</p>
            }.into_any(),
        }}
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
                        <Show when=move || matches!(stored.get(), Some(Some(_)))>
                            <button type="button" class="danger" data-testid="schedule-delete" on:click=move |_| remove.run(())>"Delete schedule"</button>
                        </Show>
                        {move || saved.get().map(|m| view! { <span class="ok" data-testid="schedule-saved">{m}</span> })}
                    </div>
                </Show>
            </form>
            <section class="panel" data-testid="schedule-preview" aria-live="polite">
                <h2>"Next fires"</h2>
                {move || match preview.get() {
                    None => view! { <p class="muted">"…"</p> }.into_any(),
                    Some(Err(errors)) => view! {
                        <div class="error" role="alert" data-testid="preview-error">
                            {errors.into_iter().map(|e| view! { <p>{format!("{}: {}", e.field, e.message)}</p> }).collect_view()}
                        </div>
                    }.into_any(),
                    Some(Ok(p)) => view! {
                        <p data-testid="preview-words">{p.description.clone()}</p>
                        <table class="list">
                            <thead><tr><th>{move || form.timezone.get()}</th><th>"UTC"</th></tr></thead>
                            <tbody>
                                {p.next_fires_local.iter().zip(p.next_fires.iter()).map(|(local, utc)| view! {
                                    <tr data-testid="preview-fire"><td>{when(local)}</td><td class="muted">{when(utc)}</td></tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                }}
            </section>
        </div>
        <h2>"Recent fires"</h2>
        {move || {
            let fires = stored.get().flatten().map(|s| s.recent_fires).unwrap_or_default();
            if fires.is_empty() {
                return view! { <p class="muted" data-testid="no-fires">"No fires yet."</p> }.into_any();
            }
            view! {
                <table class="list" data-testid="fire-list">
                    <thead><tr><th>"Fire time (UTC)"</th><th>"Outcome"</th><th>"Run"</th><th>"Why"</th></tr></thead>
                    <tbody>
                        {fires.into_iter().map(|f| view! {
                            <tr data-testid="fire-row">
                                <td>{when(&f.at)}</td>
                                <td>{f.outcome.clone()}</td>
                                <td>{f.run.clone().map(|r| view! {
                                    <a href=format!("/runs/{r}")><StateBadge state=f.run_state.map(|s| s.to_string()).unwrap_or_default()/></a>
                                })}</td>
                                <td class="muted">{f.detail.clone().unwrap_or_default()}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            }.into_any()
        }}
    }
}
