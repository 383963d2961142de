//! A process's history: its versions (with a diff between any two drawn on
//! the canvas, and the run form for any of them) and its runs (filterable by
//! version and state).

use crate::api::processes::{DeployState, VersionDiff, VersionSummary};
use crate::api::query::RunListQuery;
use crate::api::routes;
use crate::api::runs::RunSummary;
use crate::components::badge::StateBadge;
use crate::components::canvas::GraphView;
use crate::components::catalog_context::TenantCatalog;
use crate::components::load::{fetch, loaded, show, Loaded};
use crate::components::run_form::RunForm;
use crate::components::tabs::{ProcessTab, ProcessTabs};
use crate::components::time;
use crate::ordered::CollectOrdered;
use crate::session::{Session, WithTenant};
use crate::types::graph::ProcessGraph;
use crate::types::{ComponentKey, Role};
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;
use std::collections::BTreeMap;

#[component]
pub fn VersionsPage() -> impl IntoView {
    let params = use_params_map();
    view! {
        <WithTenant children=move |tenant| {
            let id = params.with(|p| p.get("id").unwrap_or_default());
            view! { <Versions tenant id/> }
        }/>
    }
}

#[component]
fn Versions(tenant: String, id: String) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let versions = loaded::<Vec<VersionSummary>>();
    let from = RwSignal::new(0i64);
    let to = RwSignal::new(0i64);
    let diff: Loaded<(VersionDiff, ProcessGraph)> = loaded();
    let names = TenantCatalog::get().names();
    // The version the run form is open for ("Run this version").
    let run_version = RwSignal::new(None::<i64>);
    let editor = Session::get().can(Role::Editor);
    {
        let (tenant, id) = (tenant.clone(), id.clone());
        Effect::new(move |_| {
            let (tenant, id) = (tenant.clone(), id.clone());
            leptos::task::spawn_local(async move {
                if let Ok(p) = routes::process(&tenant, &id).await {
                    name.set(p.name);
                }
                let list = routes::versions(&tenant, &id).await;
                if let Ok(list) = &list {
                    to.set(list.first().map_or(0, |v| v.number));
                    from.set(list.get(1).or(list.first()).map_or(0, |v| v.number));
                }
                versions.set(Some(list));
            });
        });
    }
    let compare = {
        let (tenant, id) = (tenant.clone(), id.clone());
        move |_| {
            let (tenant, id) = (tenant.clone(), id.clone());
            let (a, b) = (from.get_untracked(), to.get_untracked());
            fetch(diff, async move {
                let d = routes::version_diff(&tenant, &id, a, b).await?;
                let new = routes::version(&tenant, &id, b).await?;
                Ok((d, new.graph))
            });
        }
    };
    let picker = move |label: &'static str, testid: &'static str, value: RwSignal<i64>| {
        view! {
            <label>
                {label} " "
                <select data-testid=testid on:change=move |ev| value.set(event_target_value(&ev).parse().unwrap_or(0))>
                    {move || versions.get().and_then(Result::ok).unwrap_or_default().into_iter().map(|v| {
                        let selected = v.number == value.get_untracked();
                        view! { <option value=v.number.to_string() selected=selected>{format!("v{}", v.number)}</option> }
                    }).collect_view()}
                </select>
            </label>
        }
    };
    let run_form = {
        let (tenant, id) = (tenant.clone(), id.clone());
        move || {
            run_version.get().map(|n| {
                view! {
                    <section class="panel" data-testid="version-run-form">
                        <h2>{format!("Run version {n}")}</h2>
                        <RunForm tenant=tenant.clone() process=id.clone() version=run_version.into() blocked=false/>
                    </section>
                }
            })
        }
    };
    view! {
        <h1>{move || name.get()} " — versions"</h1>
        <ProcessTabs id=id.clone() current=ProcessTab::Versions/>
        {show(versions, move |list| if list.is_empty() {
            view! { <p class="muted">"Nothing published yet."</p> }.into_any()
        } else {
            view! { <VersionTable list tenant=tenant.clone() id=id.clone() editor run_version/> }.into_any()
        })}
        {run_form}
        <div class="toolbar">
            {picker("Compare", "diff-from", from)}
            {picker("with", "diff-to", to)}
            <button data-testid="compare" on:click=compare>"Show changes"</button>
        </div>
        {move || diff.with(Option::is_some).then(|| show(diff, move |(d, new)| {
            view! { <DiffView diff=d.diff new names=names.get_untracked()/> }
        }))}
    }
}

/// The versions, newest first: number, message, author, when, runs, what
/// each runs on, and (an editor) "Run this version".
#[component]
fn VersionTable(
    list: Vec<VersionSummary>,
    tenant: String,
    id: String,
    editor: bool,
    run_version: RwSignal<Option<i64>>,
) -> impl IntoView {
    view! {
        <table class="list" data-testid="version-list">
            <thead><tr><th>"Version"</th><th>"Message"</th><th>"By"</th><th>"Published"</th><th>"Runs"</th><th>"Runs on"</th>{editor.then(|| view! { <th></th> })}</tr></thead>
            <tbody>
                {list.into_iter().map(|v| {
                    let number = v.number;
                    view! {
                        <tr data-testid="version-row">
                            <td>{format!("v{number}")}</td>
                            <td>{v.message.clone()}</td>
                            <td>{v.created_by.clone().unwrap_or_default()}</td>
                            <td class="muted">{time::seconds(&v.created_at)}</td>
                            <td>{v.runs}</td>
                            <td>{runs_on(&tenant, &id, v)}</td>
                            {editor.then(|| view! {
                                <td><button data-testid="run-version" on:click=move |_| run_version.set(Some(number))>
                                    "Run this version"
                                </button></td>
                            })}
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}

/// What a version runs on: the embedded engine, or EMR through Airflow with
/// its deployment's state and its DAG file.
fn runs_on(tenant: &str, id: &str, v: VersionSummary) -> AnyView {
    if v.connection.is_none() {
        return view! { <span class="muted">"embedded engine"</span> }.into_any();
    }
    let file = routes::airflow_file_href(tenant, id, v.number);
    let deployed = v.deployment.map(|d| view! {
        <span class=format!("deployment {}", d.state.as_str()) data-testid="version-deployment"
            data-state=d.state.as_str() title=d.error.unwrap_or_default()>
            {match d.state {
                DeployState::Ready => "Airflow: deployed".to_owned(),
                DeployState::Retired => "Airflow: retired (file removed, DAG paused)".to_owned(),
                other => format!("Airflow: {}", other.as_str()),
            }}
        </span>
        " · "
    });
    view! {
        {deployed}
        "EMR · "
        <a href=file rel="external" target="_blank" data-testid="airflow-file"
            title="This version as an Airflow DAG file">"Airflow DAG file"</a>
    }
    .into_any()
}

/// Both versions' nodes on one canvas: added, removed and changed ones marked.
#[component]
fn DiffView(
    diff: crate::diff::GraphDiff,
    new: ProcessGraph,
    names: BTreeMap<ComponentKey, String>,
) -> impl IntoView {
    let mut graph = new;
    for n in &diff.nodes_removed {
        graph.nodes.push(n.clone());
    }
    graph.edges.extend(diff.edges_removed.iter().cloned());
    let mut marks: BTreeMap<String, String> = graph
        .nodes
        .iter()
        .map(|n| (n.id.clone(), "same".to_owned()))
        .collect_map();
    for n in &diff.nodes_added {
        marks.insert(n.id.clone(), "added".into());
    }
    for n in &diff.nodes_removed {
        marks.insert(n.id.clone(), "removed".into());
    }
    for c in &diff.nodes_changed {
        marks.insert(c.id.clone(), "changed".into());
    }
    let show = |v: &Option<serde_json::Value>| match v {
        None => "(not set)".to_owned(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    let summary = format!(
        "{} added, {} removed, {} changed; {} connections added, {} removed",
        diff.nodes_added.len(),
        diff.nodes_removed.len(),
        diff.nodes_changed.len(),
        diff.edges_added.len(),
        diff.edges_removed.len()
    );
    view! {
        <section class="diff" data-testid="diff">
            <p data-testid="diff-summary">{summary}</p>
            <GraphView
                graph=Signal::derive(move || graph.clone())
                states=Signal::derive(move || marks.clone())
                names=Signal::derive(move || names.clone())
                selected=Signal::derive(|| None::<String>)
                on_select=Callback::new(|_: String| {})
            />
            <ul data-testid="param-changes">
                {diff.nodes_changed.iter().flat_map(|c| {
                    let id = c.id.clone();
                    c.params.iter().map(move |p| view! {
                        <li>{format!("{id}: {} {} → {}", p.name, show(&p.old), show(&p.new))}</li>
                    }).collect::<Vec<_>>()
                }).collect_view()}
            </ul>
        </section>
    }
}

#[component]
pub fn ProcessRunsPage() -> impl IntoView {
    let params = use_params_map();
    view! {
        <WithTenant children=move |tenant| {
            let id = params.with(|p| p.get("id").unwrap_or_default());
            view! { <ProcessRuns tenant id/> }
        }/>
    }
}

#[component]
fn ProcessRuns(tenant: String, id: String) -> impl IntoView {
    let version = RwSignal::new(String::new());
    let state = RwSignal::new(String::new());
    let runs = loaded::<Vec<RunSummary>>();
    let versions = RwSignal::new(Vec::<VersionSummary>::new());
    {
        let (tenant, id) = (tenant.clone(), id.clone());
        Effect::new(move |_| {
            let (tenant, id) = (tenant.clone(), id.clone());
            leptos::task::spawn_local(async move {
                if let Ok(list) = routes::versions(&tenant, &id).await {
                    versions.set(list);
                }
            });
        });
    }
    {
        let (tenant, id) = (tenant.clone(), id.clone());
        // Reloads whenever a filter changes.
        Effect::new(move |_| {
            let query = RunListQuery {
                version: version.get().parse().ok(),
                state: state.get().parse().ok(),
                ..Default::default()
            };
            let (tenant, id) = (tenant.clone(), id.clone());
            fetch(runs, async move {
                routes::process_runs(&tenant, &id, &query).await
            });
        });
    }
    let states = [
        "queued",
        "running",
        "succeeded",
        "failed",
        "cancelling",
        "cancelled",
    ];
    view! {
        <h1>"Runs"</h1>
        <ProcessTabs id=id.clone() current=ProcessTab::Runs/>
        <div class="toolbar">
            <label>
                "Version "
                <select data-testid="filter-version" on:change=move |ev| version.set(event_target_value(&ev))>
                    <option value="">"all"</option>
                    {move || versions.get().into_iter().map(|v| view! { <option value=v.number.to_string()>{format!("v{}", v.number)}</option> }).collect_view()}
                </select>
            </label>
            <label>
                "State "
                <select data-testid="filter-state" on:change=move |ev| state.set(event_target_value(&ev))>
                    <option value="">"all"</option>
                    {states.into_iter().map(|s| view! { <option value=s>{s}</option> }).collect_view()}
                </select>
            </label>
        </div>
        {show(runs, |list| if list.is_empty() {
            view! { <p class="muted" data-testid="no-runs">"No runs match."</p> }.into_any()
        } else {
            view! {
                <table class="list" data-testid="run-list">
                    <thead><tr><th>"Run"</th><th>"Version"</th><th>"State"</th><th>"Trigger"</th><th>"By"</th><th>"Started"</th></tr></thead>
                    <tbody>
                        {list.into_iter().map(|r| view! {
                            <tr data-testid="run-row">
                                <td><a href=format!("/runs/{}", r.id)>{r.id.short().to_owned()}</a></td>
                                <td>{format!("v{}", r.version)}</td>
                                <td><StateBadge state=r.state.to_string()/></td>
                                <td data-testid="run-trigger">{if r.backfill.is_some() { "backfill".to_owned() } else { r.trigger.to_string() }}{r.scheduled_for.as_deref().map(|t| format!(" · {} UTC", time::seconds(t)))}</td>
                                <td>{r.created_by.unwrap_or_default()}</td>
                                <td class="muted">{r.started_at.as_deref().map(time::seconds).unwrap_or_default()}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            }
            .into_any()
        })}
    }
}
