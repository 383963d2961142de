//! The tenant's processes: search, latest version, last run state (live),
//! create (empty, from a template, or from a definition file) and archive.

use crate::api::processes::{CreateProcess, ProcessSummary};
use crate::api::routes;
use crate::components::badge::StateBadge;
use crate::components::load::{alert, fetch, loaded, show};
use crate::components::time;
use crate::session::{Session, WithTenant};
use crate::types::graph::ProcessGraph;
use crate::types::Role;
use leptos::prelude::*;
use leptos_router::hooks::use_navigate;
use leptos_router::NavigateOptions;

#[component]
pub fn ProcessesPage() -> impl IntoView {
    view! {
        <h1>"Processes"</h1>
        <WithTenant children=|tenant| view! { <ProcessList tenant/> }/>
    }
}

#[component]
fn ProcessList(tenant: String) -> impl IntoView {
    let processes = loaded::<Vec<ProcessSummary>>();
    let search = RwSignal::new(String::new());
    let new_name = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let navigate = use_navigate();

    let load = {
        let tenant = tenant.clone();
        move || {
            let tenant = tenant.clone();
            fetch(processes, async move { routes::processes(&tenant).await });
        }
    };
    {
        let load = load.clone();
        Effect::new(move |_| load());
    }
    // Any run of the tenant changing state may change a row's last run.
    {
        let load = load.clone();
        let tenant = tenant.clone();
        Effect::new(move |_| {
            let load = load.clone();
            let handle = routes::tenant_events(&tenant, move |_| load());
            on_cleanup(move || handle.abort());
        });
    }

    let create = {
        let tenant = tenant.clone();
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            let name = new_name.get_untracked().trim().to_owned();
            let tenant = tenant.clone();
            let navigate = navigate.clone();
            leptos::task::spawn_local(async move {
                let body = CreateProcess {
                    name,
                    description: String::new(),
                    graph: ProcessGraph::default(),
                };
                match routes::create_process(&tenant, &body).await {
                    Ok(p) => navigate(&format!("/processes/{}", p.id), NavigateOptions::default()),
                    Err(e) => error.set(Some(e.message())),
                }
            });
        }
    };

    let archive = {
        let tenant = tenant.clone();
        let load = load.clone();
        move |id: String| {
            let tenant = tenant.clone();
            let load = load.clone();
            leptos::task::spawn_local(async move {
                match routes::archive_process(&tenant, &id).await {
                    Ok(()) => load(),
                    Err(e) => error.set(Some(e.message())),
                }
            });
        }
    };

    view! {
        <div class="toolbar">
            <input
                type="search"
                placeholder="Search processes"
                aria-label="Search processes"
                data-testid="process-search"
                prop:value=move || search.get()
                on:input=move |ev| search.set(event_target_value(&ev))
            />
            <form class="inline" on:submit=create data-testid="create-process"
                hidden=move || !Session::get().can(Role::Editor)>
                <input
                    aria-label="New process name"
                    placeholder="New process name"
                    required
                    data-testid="new-process-name"
                    prop:value=move || new_name.get()
                    on:input=move |ev| new_name.set(event_target_value(&ev))
                />
                <button type="submit" data-testid="create-process-button">"Create"</button>
            </form>
            <a href="/import" data-testid="import-link" hidden=move || !Session::get().can(Role::Editor)>
                "Import a definition"
            </a>
            <a href="/templates" data-testid="templates-link" hidden=move || !Session::get().can(Role::Editor)>
                "New from template"
            </a>
        </div>
        {move || error.get().map(alert)}
        {show(processes, move |list| {
                let needle = search.get().to_lowercase();
                let rows: Vec<ProcessSummary> = list
                    .into_iter()
                    .filter(|p| needle.is_empty() || p.name.to_lowercase().contains(&needle))
                    .collect();
                if rows.is_empty() {
                    return view! { <p class="muted" data-testid="no-processes">"No processes match."</p> }.into_any();
                }
                let archive = archive.clone();
                view! {
                    <table class="list" data-testid="process-list">
                        <thead>
                            <tr><th>"Name"</th><th>"Latest version"</th><th>"Last run"</th><th>"Updated"</th><th></th></tr>
                        </thead>
                        <tbody>
                            {rows
                                .into_iter()
                                .map(|p| {
                                    let archive = archive.clone();
                                    let id = p.id.to_string();
                                    view! {
                                        <tr data-testid="process-row">
                                            <td><a href=format!("/processes/{}", p.id)>{p.name.clone()}</a></td>
                                            <td>{p.latest_version.map_or("—".to_owned(), |v| format!("v{v}"))}</td>
                                            <td>{p.last_run_state.map(|s| view! { <StateBadge state=s.to_string()/> })}</td>
                                            <td class="muted">{time::minutes(&p.updated_at)}</td>
                                            <td>
                                                <button
                                                    class="link"
                                                    hidden=move || !Session::get().can(Role::Editor)
                                                    data-testid="archive-process"
                                                    aria-label=format!("Archive {}", p.name)
                                                    on:click=move |_| archive(id.clone())
                                                >
                                                    "Archive"
                                                </button>
                                            </td>
                                        </tr>
                                    }
                                })
                                .collect_view()}
                        </tbody>
                    </table>
                }
                .into_any()
        })}
    }
}
