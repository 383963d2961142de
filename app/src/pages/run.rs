//! One run, live: the version's graph with each node coloured by its task
//! state as events arrive, a progress bar, the selected node's tasks and log,
//! and Stop / Force stop.

use crate::api::processes::Version;
use crate::api::runs::{Run, RunEvent, TaskRun};
use crate::client::{self, tenant_path};
use crate::components::canvas::GraphView;
use crate::pages::processes::StateBadge;
use crate::session::{Session, WithTenant};
use crate::types::graph::ProcessGraph;
use crate::types::{Role, RunState, TaskState};
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;
use std::collections::BTreeMap;
use std::time::Duration;

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

fn finished(state: RunState) -> bool {
    state.is_terminal()
}

/// The state a node shows: its watch task's, unless that has not started and
/// its submit task has.
fn node_states(run: &Run) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for t in &run.tasks {
        let Some(node) = &t.node else { continue };
        let shown = match out.get(node) {
            None => true,
            Some(_) => t.kind == crate::types::TaskKind::Watch && t.state != TaskState::Pending,
        };
        if shown {
            out.insert(node.clone(), t.state.to_string());
        }
    }
    out
}

#[component]
fn RunView(tenant: String, id: String) -> impl IntoView {
    let run = RwSignal::new(None::<Result<Run, String>>);
    let graph = RwSignal::new(ProcessGraph::default());
    let names = RwSignal::new(BTreeMap::<String, String>::new());
    let selected = RwSignal::new(None::<String>);
    // Every task's transitions as the events told them: (state, time).
    let history = RwSignal::new(BTreeMap::<String, Vec<(String, String)>>::new());
    let run_path = tenant_path(&tenant, &format!("runs/{id}"));

    let reload = {
        let path = run_path.clone();
        move || {
            let path = path.clone();
            leptos::task::spawn_local(async move {
                match client::get::<Run>(&path).await {
                    Ok(r) => run.set(Some(Ok(r))),
                    Err(e) => run.set(Some(Err(e.message()))),
                }
            });
        }
    };

    // Live: once the run is loaded, every event updates it in place (the
    // stream replays from the first event, so nothing between the load and
    // the subscription is lost); the end reloads it whole for durations and
    // errors.
    let live = StoredValue::new(None::<futures::future::AbortHandle>);
    on_cleanup(move || {
        if let Some(handle) = live.get_value() {
            handle.abort();
        }
    });
    let follow = {
        let path = format!("{run_path}/events");
        let reload = reload.clone();
        move || {
            let reload = reload.clone();
            client::subscribe(path.clone(), move |data| {
                let Ok(event) = serde_json::from_str::<RunEvent>(&data) else {
                    return;
                };
                if let Some(key) = &event.task {
                    history.update(|h| {
                        h.entry(key.clone())
                            .or_default()
                            .push((event.state.clone(), event.at.clone()))
                    });
                }
                let mut ended = false;
                run.update(|r| {
                    let Some(Ok(r)) = r else { return };
                    match &event.task {
                        Some(key) => {
                            if let (Some(t), Ok(state)) = (
                                r.tasks.iter_mut().find(|t| &t.key == key),
                                event.state.parse(),
                            ) {
                                t.state = state;
                            }
                        }
                        None => {
                            if let Ok(state) = event.state.parse() {
                                r.state = state;
                                ended = finished(state);
                            }
                        }
                    }
                });
                if ended {
                    reload();
                }
            })
        }
    };

    {
        let tenant = tenant.clone();
        let path = run_path.clone();
        Effect::new(move |_| {
            let tenant = tenant.clone();
            let path = path.clone();
            let follow = follow.clone();
            leptos::task::spawn_local(async move {
                let r = match client::get::<Run>(&path).await {
                    Ok(r) => r,
                    Err(e) => {
                        run.set(Some(Err(e.message())));
                        return;
                    }
                };
                let version = tenant_path(
                    &tenant,
                    &format!("processes/{}/versions/{}", r.process, r.version),
                );
                if let Ok(v) = client::get::<Version>(&version).await {
                    graph.set(v.graph);
                }
                if let Ok(c) = client::get::<Vec<crate::types::component::ComponentType>>(
                    &tenant_path(&tenant, "components"),
                )
                .await
                {
                    names.set(c.into_iter().map(|c| (c.key, c.name)).collect());
                }
                run.set(Some(Ok(r)));
                live.set_value(Some(follow()));
            });
        });
    }

    let states = Signal::derive(move || match run.get() {
        Some(Ok(r)) => node_states(&r),
        _ => BTreeMap::new(),
    });

    let stop = {
        let path = run_path.clone();
        move |force: bool| {
            let path = if force {
                format!("{path}/stop?mode=force")
            } else {
                format!("{path}/stop")
            };
            leptos::task::spawn_local(async move {
                let _ = client::post::<_, Run>(&path, &serde_json::json!({})).await;
            });
        }
    };
    let confirming = RwSignal::new(None::<bool>);

    view! {
        {move || match run.get() {
            None => view! { <p class="muted" data-testid="loading">"Loading…"</p> }.into_any(),
            Some(Err(e)) => view! { <p class="error" role="alert">{e}</p> }.into_any(),
            Some(Ok(r)) => {
                let done = r.tasks.iter().filter(|t| t.state.is_terminal()).count();
                let total = r.tasks.len().max(1);
                view! {
                    <div class="run-head">
                        <h1>"Run " <a href=format!("/processes/{}", r.process)>{format!("version {}", r.version)}</a></h1>
                        <span data-testid="run-state" data-state=r.state.to_string()><StateBadge state=r.state.to_string()/></span>
                        <progress data-testid="run-progress" max=total value=done aria-label="Tasks finished"></progress>
                        <span class="muted">{format!("{done} of {} tasks", r.tasks.len())}</span>
                        <span class="muted" data-testid="run-trigger">{match (&r.scheduled_for, &r.created_by) {
                            (Some(at), _) => format!("started by its schedule, for {} UTC", at.get(..19).unwrap_or(at).replace('T', " ")),
                            (None, Some(by)) => format!("started by {by} ({})", r.trigger),
                            (None, None) => format!("trigger: {}", r.trigger),
                        }}</span>
                    </div>
                }
                .into_any()
            }
        }}
        {
            let stop = stop.clone();
            move || {
                let running = matches!(run.get(), Some(Ok(r)) if !finished(r.state))
                    && Session::get().can(Role::Editor);
                let stop = stop.clone();
                running.then(|| match confirming.get() {
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
        <div class="run-body">
            <GraphView
                graph=graph
                states=states
                names=names
                selected=selected
                on_select=Callback::new(move |id: String| selected.set(Some(id)))
            />
            {move || selected.get().map(|node| {
                let tasks: Vec<TaskRun> = match run.get() {
                    Some(Ok(r)) => r.tasks.into_iter().filter(|t| t.node.as_deref() == Some(node.as_str())).collect(),
                    _ => vec![],
                };
                // Where the node wrote a dataset, its preview is shown once it has.
                let dataset = graph.with(|g| {
                    g.node(&node)
                        .and_then(|n| n.params.get("dataset"))
                        .and_then(|d| d.as_str())
                        .map(|d| tenant_path(&tenant, &format!("datasets/{d}")))
                });
                let transitions: Vec<(String, Vec<(String, String)>)> = history.with(|h| {
                    tasks.iter().map(|t| (t.key.clone(), h.get(&t.key).cloned().unwrap_or_default())).collect()
                });
                view! { <TaskPanel run_path=run_path.clone() node tasks dataset transitions/> }
            })}
        </div>
        {move || match run.get() {
            Some(Ok(r)) => Some(view! { <Timeline tasks=r.tasks/> }),
            _ => None,
        }}
    }
}

#[component]
fn TaskPanel(
    run_path: String,
    node: String,
    tasks: Vec<TaskRun>,
    dataset: Option<String>,
    transitions: Vec<(String, Vec<(String, String)>)>,
) -> impl IntoView {
    let log = RwSignal::new(String::new());
    let preview = RwSignal::new(None::<crate::api::datasets::DatasetDetail>);
    let done = tasks
        .iter()
        .any(|t| t.kind == crate::types::TaskKind::Watch && t.state == TaskState::Succeeded);
    if let (Some(path), true) = (dataset, done) {
        leptos::task::spawn_local(async move {
            if let Ok(d) = client::get::<crate::api::datasets::DatasetDetail>(&path).await {
                preview.set(Some(d));
            }
        });
    }
    let watch = tasks
        .iter()
        .find(|t| t.kind == crate::types::TaskKind::Watch)
        .cloned();
    let live = watch.as_ref().is_some_and(|t| !t.state.is_terminal());
    if let Some(w) = &watch {
        let path = format!("{run_path}/tasks/{}/log", w.key);
        // Tails the log: re-read it every second while the task runs.
        let alive = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let flag = alive.clone();
        let fetch = move || {
            let path = path.clone();
            leptos::task::spawn_local(async move {
                if let Ok(text) = client::get_text(&path).await {
                    log.set(text);
                }
            });
        };
        fetch();
        if live {
            fn again(
                fetch: impl Fn() + Clone + 'static,
                flag: std::sync::Arc<std::sync::atomic::AtomicBool>,
            ) {
                set_timeout(
                    move || {
                        if flag.load(std::sync::atomic::Ordering::Relaxed) {
                            fetch();
                            again(fetch, flag);
                        }
                    },
                    Duration::from_secs(1),
                );
            }
            again(fetch, flag);
        }
        on_cleanup(move || alive.store(false, std::sync::atomic::Ordering::Relaxed));
    }
    view! {
        <aside class="panel task-panel" data-testid="task-panel">
            <h2>{node}</h2>
            <table class="list">
                <thead><tr><th>"Task"</th><th>"State"</th><th>"Attempt"</th><th>"Duration"</th></tr></thead>
                <tbody>
                    {tasks.iter().map(|t| view! {
                        <tr>
                            <td>{t.key.clone()}</td>
                            <td><StateBadge state=t.state.to_string()/></td>
                            <td>{t.attempt}</td>
                            <td>{t.duration_ms.map(|d| if d < 1000 { format!("{d} ms") } else { format!("{:.1} s", d as f64 / 1000.0) }).unwrap_or_default()}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
            {tasks.iter().filter_map(|t| t.error.clone()).map(|e| view! { <pre class="error" data-testid="task-error">{e}</pre> }).collect_view()}
            <h3>"State history"</h3>
            <ul class="history" data-testid="state-history">
                {transitions.into_iter().map(|(key, steps)| view! {
                    <li>
                        <strong>{key}</strong>": "
                        {steps.iter().map(|(state, at)| format!("{} {}", state.replace('_', " "), at.get(11..23).unwrap_or(at))).collect::<Vec<_>>().join(" → ")}
                    </li>
                }).collect_view()}
            </ul>
            <h3>"Log"</h3>
            <pre class="log" data-testid="task-log">{move || log.get()}</pre>
            {move || preview.get().map(|d| view! {
                <h3>{format!("Dataset {} ({} rows)", d.dataset.name, d.dataset.rows)}</h3>
                <div class="preview">
                    <table class="list" data-testid="dataset-preview">
                        <thead><tr>
                            {d.dataset.columns.iter().map(|c| view! { <th title=c.column_type.as_str()>{c.name.clone()}</th> }).collect_view()}
                        </tr></thead>
                        <tbody>
                            {d.preview.iter().take(10).map(|row| view! {
                                <tr>{row.iter().map(|v| view! { <td>{match v {
                                    serde_json::Value::Null => String::new(),
                                    serde_json::Value::String(s) => s.clone(),
                                    other => other.to_string(),
                                }}</td> }).collect_view()}</tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                </div>
            })}
        </aside>
    }
}

/// Milliseconds since the epoch of an RFC 3339 UTC time such as
/// `2024-03-01T10:00:00.123Z` (what the API sends).
pub fn epoch_ms(at: &str) -> Option<f64> {
    let num = |r: std::ops::Range<usize>| at.get(r).and_then(|s| s.parse::<i64>().ok());
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, min, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let frac: f64 = at
        .get(19..)
        .and_then(|rest| rest.strip_prefix('.'))
        .map(|rest| rest.trim_end_matches('Z'))
        .and_then(|digits| format!("0.{digits}").parse().ok())
        .unwrap_or(0.0);
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 86_400 + h * 3_600 + min * 60 + s) as f64 + frac) * 1000.0)
}

/// A Gantt chart of the run's tasks: one bar per task from start to end.
#[component]
fn Timeline(tasks: Vec<TaskRun>) -> impl IntoView {
    let now = tasks
        .iter()
        .filter_map(|t| {
            t.finished_at
                .as_deref()
                .or(t.started_at.as_deref())
                .and_then(epoch_ms)
        })
        .fold(f64::MIN, f64::max);
    let spans: Vec<(String, String, f64, f64)> = tasks
        .iter()
        .filter_map(|t| {
            let start = t.started_at.as_deref().and_then(epoch_ms)?;
            let end = t.finished_at.as_deref().and_then(epoch_ms).unwrap_or(now);
            Some((t.key.clone(), t.state.to_string(), start, end.max(start)))
        })
        .collect();
    let Some(first) = spans.iter().map(|s| s.2).reduce(f64::min) else {
        return ().into_any();
    };
    let last = spans.iter().map(|s| s.3).fold(first, f64::max);
    let total = (last - first).max(1.0);
    let row = 22.0;
    let width = 600.0;
    let label = 170.0;
    let height = row * spans.len() as f64 + 24.0;
    view! {
        <section class="panel timeline" data-testid="timeline">
            <h2>{format!("Timeline ({:.2} s)", total / 1000.0)}</h2>
            <svg viewBox=format!("0 0 {} {height}", label + width + 10.0) role="img" aria-label="Task timeline">
                {spans.into_iter().enumerate().map(|(i, (key, state, start, end))| {
                    let y = i as f64 * row;
                    let x = label + (start - first) / total * width;
                    let w = ((end - start) / total * width).max(2.0);
                    let testid = format!("bar-{key}");
                    view! {
                        <g data-testid=testid>
                            <text x="0" y=y + 15.0 class="bar-label">{key}</text>
                            <rect class=format!("bar state-{state}") x=x y=y + 4.0 width=w height=row - 8.0 rx="3"/>
                        </g>
                    }
                }).collect_view()}
            </svg>
        </section>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    #[test]
    fn api_times_become_epoch_milliseconds() {
        assert_eq!(super::epoch_ms("1970-01-01T00:00:00Z"), Some(0.0));
        assert_eq!(
            super::epoch_ms("2024-03-01T10:00:00.250Z"),
            Some(1_709_287_200_250.0)
        );
        assert_eq!(
            super::epoch_ms("2000-02-29T00:00:01Z"),
            Some(951_782_401_000.0)
        );
        assert_eq!(super::epoch_ms("nonsense"), None);
    }
}
