//! One run, live: the version's graph with each node coloured by its task
//! state as events arrive, a progress bar, its parameters, the selected
//! node's resolved values, tasks and log, Stop / Force stop, and once it
//! ended Retry, Retry from here and Run again.

mod actions;
mod model;
mod resolved;
mod summary;
mod task_panel;
mod timeline;

pub use model::{Applied, RunModel};

use crate::api::query::StopQuery;
use crate::api::routes;
use crate::api::runs::{Run, RunEvent};
use crate::components::badge::StateBadge;
use crate::components::canvas::GraphView;
use crate::components::catalog_context::TenantCatalog;
use crate::components::load::{loaded, show, Loaded};
use crate::components::time;
use crate::components::toast;
use crate::session::{Session, WithTenant};
use crate::types::graph::ProcessGraph;
use crate::types::Role;
use actions::{RetryFromHere, RunActions};
use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_params_map, use_query_map};
use resolved::{NodeValues, RunFacts};
use summary::RunSummary;
use task_panel::TaskPanel;
use timeline::Timeline;

#[component]
pub fn RunPage() -> impl IntoView {
    let params = use_params_map();
    view! {
        <WithTenant children=move |tenant| {
            let id = params.with(|p| p.get("id").unwrap_or_default());
            view! { <RunView tenant id/> }
        }/>
    }
}

/// Loads the run into `model` (keeping what the events told), or its problem.
fn load_run(tenant: String, id: String, model: Loaded<RunModel>) {
    leptos::task::spawn_local(async move {
        let answer = routes::run(&tenant, &id).await;
        let _ = model.try_update(|m| match (m, answer) {
            (Some(Ok(m)), Ok(run)) => m.reloaded(run),
            (m, answer) => *m = Some(answer.map(RunModel::new)),
        });
    });
}

#[component]
fn RunView(tenant: String, id: String) -> impl IntoView {
    let model = loaded::<RunModel>();
    let graph = RwSignal::new(ProcessGraph::default());
    // The selected node and log line live in the address (`?node=…&line=…`),
    // so a link opens the run on them.
    let query = use_query_map();
    let selected = Signal::derive(move || query.with(|q| q.get("node")).filter(|n| !n.is_empty()));
    let line = Signal::derive(move || {
        query
            .with(|q| q.get("line"))
            .and_then(|l| l.parse::<usize>().ok())
    });
    let navigate = use_navigate();
    let select = Callback::new(move |node: String| {
        navigate(&format!("?node={node}"), Default::default());
    });
    load_and_follow(tenant.clone(), id.clone(), model, graph);

    let states = Signal::derive(move || {
        model.with(|m| match m {
            Some(Ok(m)) => m.node_states(),
            _ => Default::default(),
        })
    });
    let running = Signal::derive(move || {
        model.with(|m| matches!(m, Some(Ok(m)) if !m.finished()))
            && Session::get().can(Role::Editor)
    });

    view! {
        {show(model, |m: RunModel| {
            let progress = m.progress();
            view! { <RunHead run=m.run progress/> }
        })}
        <StopControls tenant=tenant.clone() id=id.clone() running/>
        <RunActions tenant=tenant.clone() id=id.clone() model editor=Session::get().can(Role::Editor)/>
        <div class="run-body">
            <GraphView
                graph=graph
                states=states
                names=TenantCatalog::get().names()
                selected=selected
                on_select=select
            />
            {move || selected.get().is_none().then(|| model.with(|m| match m {
                Some(Ok(m)) => Some(view! { <RunSummary model=m.clone() graph=graph.get()/> }),
                _ => None,
            }))}
            // Drawn again as the run or its graph changes (tasks, states).
            {move || selected.get().map(|node| {
                model.track();
                graph.track();
                view! { <NodeSide tenant=tenant.clone() id=id.clone() node model graph line/> }
            })}
        </div>
        {move || model.with(|m| match m {
            Some(Ok(m)) => Some(view! { <Timeline tasks=m.run.tasks.clone() graph=graph.get()/> }),
            _ => None,
        })}
    }
}

/// Loads the run and its version's graph, then follows the run live: every
/// event updates it in place (the stream replays from the first event, so
/// nothing between the load and the subscription is lost); the end, or a
/// gap, reloads it whole. The stream ends with the run; a retry makes the
/// run go on, so its events are followed again.
fn load_and_follow(
    tenant: String,
    id: String,
    model: Loaded<RunModel>,
    graph: RwSignal<ProcessGraph>,
) {
    let live = StoredValue::new(None::<futures::future::AbortHandle>);
    on_cleanup(move || {
        if let Some(handle) = live.get_value() {
            handle.abort();
        }
    });
    let follow = {
        let (tenant, id) = (tenant.clone(), id.clone());
        move || {
            let (t, i) = (tenant.clone(), id.clone());
            routes::run_events(&tenant, &id, move |data| {
                let Ok(event) = crate::client::from_json::<RunEvent>(&data) else {
                    return;
                };
                let mut applied = Applied::Repeated;
                model.update(|m| {
                    if let Some(Ok(m)) = m {
                        applied = m.apply(&event);
                    }
                });
                if matches!(applied, Applied::Ended | Applied::Gap) {
                    load_run(t.clone(), i.clone(), model);
                }
            })
        }
    };
    {
        let follow = follow.clone();
        Effect::new(move |was_finished: Option<bool>| {
            let finished = model.with(|m| matches!(m, Some(Ok(m)) if m.finished()));
            let loaded = model.with(|m| matches!(m, Some(Ok(_))));
            if was_finished == Some(true) && !finished && loaded {
                if let Some(ended) = live.get_value() {
                    ended.abort();
                }
                live.set_value(Some(follow()));
            }
            finished
        });
    }
    Effect::new(move |_| {
        let (tenant, id, follow) = (tenant.clone(), id.clone(), follow.clone());
        leptos::task::spawn_local(async move {
            let run = match routes::run(&tenant, &id).await {
                Ok(r) => r,
                Err(e) => {
                    model.set(Some(Err(e)));
                    return;
                }
            };
            if let Ok(v) = routes::version(&tenant, run.process.as_str(), run.version).await {
                graph.set(v.graph);
            }
            model.set(Some(Ok(RunModel::new(run))));
            live.set_value(Some(follow()));
        });
    });
}

/// The selected node's side: back to the summary, Retry from here (an
/// editor, once the run ended), its resolved values, and its tasks and log.
#[component]
fn NodeSide(
    tenant: String,
    id: String,
    node: String,
    model: Loaded<RunModel>,
    graph: RwSignal<ProcessGraph>,
    line: Signal<Option<usize>>,
) -> impl IntoView {
    let (tasks, transitions, values, finished) = model.with(|m| match m {
        Some(Ok(m)) => {
            let tasks = m.tasks_of(&node);
            let transitions = m.transitions(&tasks);
            let values = m
                .run
                .resolved
                .as_ref()
                .map(|r| r.nodes.get(&node).cloned().unwrap_or_default());
            (tasks, transitions, values, m.finished())
        }
        _ => Default::default(),
    });
    let retry = (finished && Session::get().can(Role::Editor)).then(|| {
        view! { <RetryFromHere tenant=tenant.clone() id=id.clone() node=node.clone() model/> }
    });
    // Where the node wrote a dataset, its preview is shown once it has.
    let dataset = graph.with(|g| {
        g.node(&node)
            .and_then(|n| n.params.get("dataset"))
            .and_then(|d| d.as_str())
            .map(str::to_owned)
    });
    let label = graph.with(|g| summary::label_of(g, &node));
    view! {
        <div class="node-side">
            <p><a href="?" data-testid="show-summary">"← Summary"</a></p>
            {retry}
            <NodeValues values/>
            <TaskPanel tenant run=id node label tasks dataset transitions line/>
        </div>
    }
}

/// The run's version, state, progress and what started it.
#[component]
fn RunHead(run: Run, progress: (usize, usize)) -> impl IntoView {
    let (done, total) = progress;
    let trigger = match (&run.scheduled_for, &run.created_by) {
        (Some(at), _) if run.backfill.is_some() => {
            format!("started by a backfill, for {} UTC", time::seconds(at))
        }
        (Some(at), _) => format!("started by its schedule, for {} UTC", time::seconds(at)),
        (None, Some(by)) => format!("started by {by} ({})", run.trigger),
        (None, None) => format!("trigger: {}", run.trigger),
    };
    // The duration ticks while the run has not ended.
    let now = RwSignal::new(time::now_ms());
    if run.finished_at.is_none() {
        if let Ok(tick) = set_interval_with_handle(
            move || now.set(time::now_ms()),
            std::time::Duration::from_secs(1),
        ) {
            on_cleanup(move || tick.clear());
        }
    }
    let (started, finished) = (run.started_at.clone(), run.finished_at.clone());
    let took = move || {
        let start = started.as_deref().and_then(time::epoch_ms)?;
        let end = finished.as_deref().and_then(time::epoch_ms).or(now.get())?;
        Some(time::duration((end - start).max(0.0) as i64))
    };
    let started_text = run
        .started_at
        .as_deref()
        .map(|t| format!("started {} UTC", time::seconds(t)));
    view! {
        <div class="run-head">
            <h1 data-testid="run-title">
                <a href=format!("/processes/{}/runs", run.process)>{run.process_name.clone()}</a>
                {format!(" #{}", run.number)}
            </h1>
            <span class="muted" data-testid="run-version">
                <a href=format!("/processes/{}", run.process)>{format!("version {}", run.version)}</a>
            </span>
            <span data-testid="run-state" data-state=run.state.to_string()><StateBadge state=run.state.to_string()/></span>
            <progress data-testid="run-progress" max=total value=done aria-label="Tasks finished"></progress>
            <span class="muted">{format!("{done} of {} tasks", run.tasks.len())}</span>
            <span class="muted" data-testid="run-trigger">{trigger}</span>
            {started_text.map(|t| view! { <span class="muted" data-testid="run-started">{t}</span> })}
            <span class="muted" data-testid="run-duration">{took}</span>
        </div>
        <RunFacts run/>
    }
}

/// Stop and Force stop, each confirmed first; shown to editors while the run
/// has not ended.
#[component]
fn StopControls(tenant: String, id: String, running: Signal<bool>) -> impl IntoView {
    let confirming = RwSignal::new(None::<bool>);
    let stop = move |force: bool| {
        let (tenant, id) = (tenant.clone(), id.clone());
        let query = StopQuery {
            mode: force.then(|| "force".to_owned()),
        };
        leptos::task::spawn_local(async move {
            match routes::stop_run(&tenant, &id, &query).await {
                Ok(_) if force => {
                    toast::success("Force stopping the run: its tasks are being killed")
                }
                Ok(_) => toast::success("Stopping the run: its tasks get the grace period to end"),
                Err(e) => toast::error(format!("The run was not stopped: {}", e.message())),
            }
        });
    };
    move || {
        let stop = stop.clone();
        running.get().then(|| match confirming.get() {
            None => view! {
                <div class="toolbar">
                    <button data-testid="stop" on:click=move |_| confirming.set(Some(false))>"Stop"</button>
                    <button data-testid="force-stop" on:click=move |_| confirming.set(Some(true))>"Force stop"</button>
                </div>
            }
            .into_any(),
            Some(force) => view! {
                <div class="toolbar confirm" role="alertdialog" aria-label="Confirm stop">
                    <span>{if force { "Kill every running task at once?" } else { "Stop the run, letting running tasks end gracefully?" }}</span>
                    <button data-testid="confirm-stop" on:click=move |_| { stop(force); confirming.set(None); }>"Yes, stop"</button>
                    <button data-testid="cancel-stop" on:click=move |_| confirming.set(None)>"No"</button>
                </div>
            }
            .into_any(),
        })
    }
}
