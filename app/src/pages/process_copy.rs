//! A process's "Copy & export" tab: its definition (the draft's or a
//! version's) as a JSON or YAML file, a duplicate of it in this or
//! another tenant the user edits, and a template of it (`template.rs`).

mod template;

use crate::api::auth::TenantMembership;
use crate::api::connections::Connection;
use crate::api::processes::{CopyProcess, DefinitionFormat, Process, VersionSummary};
use crate::api::routes;
use crate::api::FieldError;
use crate::components::load::{fetch, field_error, loaded, other_errors, send_form, show, Loaded};
use crate::components::tabs::{ProcessTab, ProcessTabs};
use crate::components::toast;
use crate::session::{Session, WithTenant};
use crate::types::{ConnectionId, Role};
use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_params_map};
use leptos_router::NavigateOptions;
use template::SaveAsTemplate;

#[component]
pub fn ProcessCopyPage() -> impl IntoView {
    let params = use_params_map();
    view! {
        <WithTenant children=move |tenant| {
            let id = params.with(|p| p.get("id").unwrap_or_default());
            view! { <CopyAndExport tenant id/> }
        }/>
    }
}

#[component]
fn CopyAndExport(tenant: String, id: String) -> impl IntoView {
    let process = loaded::<Process>();
    let versions = loaded::<Vec<VersionSummary>>();
    {
        let (tenant, id) = (tenant.clone(), id.clone());
        Effect::new(move |_| {
            let (t, i) = (tenant.clone(), id.clone());
            fetch(process, async move { routes::process(&t, &i).await });
            let (t, i) = (tenant.clone(), id.clone());
            fetch(versions, async move { routes::versions(&t, &i).await });
        });
    }
    let name = move || {
        process
            .get()
            .and_then(Result::ok)
            .map(|p| p.name)
            .unwrap_or_default()
    };
    view! {
        <h1>{name} " — copy & export"</h1>
        <ProcessTabs id=id.clone() current=ProcessTab::Copy/>
        {show(process, move |p: Process| {
            let (tenant, id) = (tenant.clone(), id.clone());
            view! {
                <div class="copy-sections">
                    <Export tenant=tenant.clone() id=id.clone() versions/>
                    <Duplicate tenant=tenant.clone() id process=p.clone() versions/>
                    <SaveAsTemplate tenant process=p versions/>
                </div>
            }
        })}
    }
}

/// The draft (`None`) or a published version to export or copy, as a select.
fn version_select(
    testid: &'static str,
    versions: Loaded<Vec<VersionSummary>>,
    chosen: RwSignal<Option<i64>>,
) -> impl IntoView {
    view! {
        <select data-testid=testid on:change=move |ev| chosen.set(event_target_value(&ev).parse().ok())>
            <option value="" selected=move || chosen.get().is_none()>"Draft"</option>
            {move || versions.get().and_then(Result::ok).unwrap_or_default().into_iter().map(|v| {
                let n = v.number;
                let label = if v.message.trim().is_empty() {
                    format!("v{n}")
                } else {
                    format!("v{n} — {}", v.message.trim())
                };
                view! { <option value=n.to_string() selected=move || chosen.get() == Some(n)>{label}</option> }
            }).collect_view()}
        </select>
    }
}

#[component]
fn Export(tenant: String, id: String, versions: Loaded<Vec<VersionSummary>>) -> impl IntoView {
    let (tenant, id) = (StoredValue::new(tenant), StoredValue::new(id));
    let version = RwSignal::new(None::<i64>);
    let href = move |format: DefinitionFormat| {
        routes::definition_href(&tenant.get_value(), &id.get_value(), format, version.get())
    };
    view! {
        <section class="panel" aria-labelledby="export-title" data-testid="export">
            <h2 id="export-title">"Export"</h2>
            <p class="muted" data-testid="export-hint">
                "The definition file is stable and diff-friendly: the same process always exports as the same bytes, "
                "so it is fit to keep in git. It imports into any tenant (Processes → Import a definition)."
            </p>
            <label class="field">
                <span>"Of"</span>
                {version_select("export-version", versions, version)}
            </label>
            <div class="toolbar">
                <a href=move || href(DefinitionFormat::Json) rel="external" download data-testid="export-json">
                    "Download JSON"
                </a>
                <a href=move || href(DefinitionFormat::Yaml) rel="external" download data-testid="export-yaml">
                    "Download YAML"
                </a>
            </div>
        </section>
    }
}

const COPY_FIELDS: &[&str] = &["name", "tenant", "version", "connection"];

#[component]
fn Duplicate(
    tenant: String,
    id: String,
    process: Process,
    versions: Loaded<Vec<VersionSummary>>,
) -> impl IntoView {
    let session = Session::get();
    // Where the user may copy to: every tenant they edit, not only this one.
    let targets = session.tenants_with(Role::Editor);
    if targets.is_empty() {
        return view! {
            <section class="panel" data-testid="copy-editors-only">
                <h2>"Duplicate"</h2>
                <p class="muted">"Editors can duplicate a process, into this tenant or another one they edit."</p>
            </section>
        }
        .into_any();
    }
    let targets = StoredValue::new(targets);
    let here = StoredValue::new(tenant);
    let dest = RwSignal::new(
        targets
            .with_value(|t| {
                t.iter()
                    .find(|m| m.slug == here.get_value())
                    .or_else(|| t.first())
                    .map(|m| m.slug.clone())
            })
            .unwrap_or_default(),
    );
    let name = RwSignal::new(format!("Copy of {}", process.name));
    let version = RwSignal::new(None::<i64>);
    // "": none chosen yet.
    let connection = RwSignal::new(String::new());
    let errors = RwSignal::new(Vec::<FieldError>::new());
    let busy = RwSignal::new(false);
    // Connections belong to their tenant: a copy elsewhere of a process
    // that runs on one needs one of the destination's.
    let on_connection = process.graph.connection.is_some();
    let needs_connection = move || on_connection && dest.get() != here.get_value();
    let connections = loaded::<Vec<Connection>>();
    Effect::new(move |_| {
        if needs_connection() {
            let slug = dest.get();
            fetch(connections, async move { routes::connections(&slug).await });
        }
    });
    let dest_name = Signal::derive(move || {
        let slug = dest.get();
        targets
            .with_value(|t| t.iter().find(|m| m.slug == slug).map(|m| m.name.clone()))
            .unwrap_or(slug)
    });

    let navigate = use_navigate();
    let source = StoredValue::new(id);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let slug = dest.get_untracked();
        let elsewhere = slug != here.get_value();
        let chosen = connection.get_untracked();
        let body = CopyProcess {
            name: name.get_untracked(),
            tenant: elsewhere.then(|| slug.clone()),
            version: version.get_untracked(),
            connection: (elsewhere && on_connection && !chosen.is_empty())
                .then(|| ConnectionId::from(chosen)),
        };
        let (tenant, id) = (here.get_value(), source.get_value());
        let navigate = navigate.clone();
        send_form(
            busy,
            errors,
            async move { routes::copy_process(&tenant, &id, &body).await },
            move |copy| {
                toast::success(format!("Duplicated as “{}”", copy.name));
                // As the tenant switcher does: the copy's tenant is where
                // the user works from now on.
                if elsewhere {
                    session.switch(slug);
                }
                navigate(
                    &format!("/processes/{}", copy.id),
                    NavigateOptions::default(),
                );
            },
        );
    };

    view! {
        <form class="panel" on:submit=submit data-testid="copy-form">
            <h2>"Duplicate"</h2>
            <p class="muted">
                "A new process with this graph, as a draft: its versions, runs and schedule stay with the original."
            </p>
            <label class="field">
                <span>"Name"</span>
                <input type="text" data-testid="copy-name" autocomplete="off" required
                    prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev))/>
                {field_error(errors, "name")}
            </label>
            {tenant_field(targets.get_value(), dest, errors, move || {
                connection.set(String::new());
                connections.set(None);
            })}
            <label class="field">
                <span>"From"</span>
                {version_select("copy-version", versions, version)}
                {field_error(errors, "version")}
            </label>
            {move || needs_connection().then(|| connection_field(connections, connection, dest_name, errors))}
            {other_errors(errors, COPY_FIELDS, "copy-error")}
            <div class="toolbar">
                <button type="submit" data-testid="copy-submit" disabled=move || busy.get()>"Duplicate"</button>
            </div>
        </form>
    }
    .into_any()
}

/// The tenant to copy into, among those the user edits; `changed` runs
/// when the user picks another.
fn tenant_field(
    targets: Vec<TenantMembership>,
    dest: RwSignal<String>,
    errors: RwSignal<Vec<FieldError>>,
    changed: impl Fn() + 'static,
) -> impl IntoView {
    view! {
        <label class="field">
            <span>"Into tenant"</span>
            <select data-testid="copy-tenant" on:change=move |ev| {
                dest.set(event_target_value(&ev));
                changed();
            }>
                {targets.into_iter().map(|t| {
                    let slug = t.slug.clone();
                    view! { <option value=t.slug selected=move || dest.get() == slug>{t.name}</option> }
                }).collect_view()}
            </select>
            {field_error(errors, "tenant")}
        </label>
    }
}

/// The destination's connection for a copy elsewhere of a process that
/// runs on one (`chosen` is its id, "" for none yet).
fn connection_field(
    connections: Loaded<Vec<Connection>>,
    chosen: RwSignal<String>,
    dest_name: Signal<String>,
    errors: RwSignal<Vec<FieldError>>,
) -> impl IntoView {
    view! {
        <label class="field">
            <span>{move || format!("Connection in {}", dest_name.get())}</span>
            <select data-testid="copy-connection" on:change=move |ev| chosen.set(event_target_value(&ev))>
                <option value="" selected=move || chosen.get().is_empty()>"Choose a connection"</option>
                {move || connections.get().and_then(Result::ok).unwrap_or_default().into_iter().map(|c| {
                    let value = c.id.to_string();
                    let mine = value.clone();
                    view! { <option value=value selected=move || chosen.get() == mine>{c.name}</option> }
                }).collect_view()}
            </select>
            <span class="muted" data-testid="copy-connection-hint">{move || connection_hint(connections, dest_name.get())}</span>
            {field_error(errors, "connection")}
        </label>
    }
}

/// Why a copy into another tenant asks for a connection, or why it cannot
/// get one there.
fn connection_hint(connections: Loaded<Vec<Connection>>, tenant: String) -> String {
    match connections.get() {
        None => "Loading the connections…".to_owned(),
        Some(Err(e)) => format!("The connections of {tenant} cannot be listed: {}", e.message()),
        Some(Ok(list)) if list.is_empty() => format!(
            "{tenant} has no connections yet: a tenant admin of {tenant} adds one on its Connections page first."
        ),
        Some(Ok(_)) => format!(
            "This process runs on a connection, and connections belong to their tenant: \
             the copy runs on the connection of {tenant} chosen here."
        ),
    }
}
