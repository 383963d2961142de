//! The selected node's tasks on the run page: their states, errors and
//! transitions, the watch task's log (tailed while it runs) and, once the node
//! wrote its dataset, a preview of it.

use crate::api::datasets::DatasetDetail;
use crate::api::routes;
use crate::api::runs::TaskRun;
use crate::components::badge::StateBadge;
use crate::components::time;
use crate::types::{TaskKey, TaskKind, TaskState};
use leptos::prelude::*;
use std::time::Duration;

#[component]
pub fn TaskPanel(
    tenant: String,
    run: String,
    node: String,
    /// The node's label as drawn.
    label: String,
    tasks: Vec<TaskRun>,
    /// The dataset the node writes, if it writes one.
    dataset: Option<String>,
    transitions: Vec<(TaskKey, Vec<(String, String)>)>,
    /// The log line the address points at (`&line=…`), 1-based.
    line: Signal<Option<usize>>,
) -> impl IntoView {
    let log = RwSignal::new(String::new());
    let preview = RwSignal::new(None::<DatasetDetail>);
    let done = tasks
        .iter()
        .any(|t| t.kind == TaskKind::Watch && t.state == TaskState::Succeeded);
    if let (Some(name), true) = (dataset, done) {
        let tenant = tenant.clone();
        leptos::task::spawn_local(async move {
            if let Ok(d) = routes::dataset(&tenant, &name).await {
                preview.set(Some(d));
            }
        });
    }
    let watch = tasks.iter().find(|t| t.kind == TaskKind::Watch).cloned();
    let live = watch.as_ref().is_some_and(|t| !t.state.is_terminal());
    if let Some(w) = &watch {
        let key = w.key.clone();
        // Tails the log: re-read it every second while the task runs.
        let alive = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let flag = alive.clone();
        let fetch = move || {
            let (tenant, run, key) = (tenant.clone(), run.clone(), key.clone());
            leptos::task::spawn_local(async move {
                if let Ok(text) = routes::task_log(&tenant, &run, key.as_str()).await {
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
    // The marked line is brought into view once the log holds it.
    Effect::new(move |scrolled: Option<bool>| {
        let has = line
            .get()
            .is_some_and(|n| log.with(|l| l.lines().count() >= n));
        if has && scrolled != Some(true) {
            #[cfg(feature = "hydrate")]
            if let Some(el) = line
                .get_untracked()
                .and_then(|n| document().get_element_by_id(&format!("L{n}")))
            {
                el.scroll_into_view();
            }
            return true;
        }
        scrolled.unwrap_or(false)
    });
    view! {
        <aside class="panel task-panel" data-testid="task-panel">
            <h2 data-testid="task-panel-title">{label}<small class="muted">{format!(" ({node})")}</small></h2>
            <table class="list">
                <thead><tr><th>"Task"</th><th>"State"</th><th>"Attempt"</th><th>"Duration"</th></tr></thead>
                <tbody>
                    {tasks.iter().map(|t| view! {
                        <tr>
                            <td>{t.key.to_string()}</td>
                            <td><StateBadge state=t.state.to_string()/></td>
                            <td data-testid=format!("attempt-{}", t.key)>{t.attempt}</td>
                            <td>{t.duration_ms.map(time::duration).unwrap_or_default()}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
            {tasks.iter().filter_map(|t| t.error.clone()).map(|e| view! { <pre class="error" data-testid="task-error">{e}</pre> }).collect_view()}
            <h3>"State history"</h3>
            <ul class="history" data-testid="state-history">
                {transitions.into_iter().map(|(key, steps)| view! {
                    <li>
                        <strong>{key.into_inner()}</strong>": "
                        {steps.iter().map(|(state, at)| format!("{} {}", state.replace('_', " "), time::clock(at))).collect::<Vec<_>>().join(" → ")}
                    </li>
                }).collect_view()}
            </ul>
            <h3>"Log"</h3>
            <pre class="log" data-testid="task-log">{move || {
                let node = node.clone();
                log.get()
                    .lines()
                    .enumerate()
                    .map(|(i, text)| {
                        let n = i + 1;
                        let marked = line.get() == Some(n);
                        view! {
                            <span id=format!("L{n}") class=if marked { "log-line marked" } else { "log-line" }
                                data-testid=if marked { "log-line-marked" } else { "log-line" }>
                                <a class="line-no" href=format!("?node={node}&line={n}") data-n=n.to_string()
                                    aria-label=format!("Line {n}")></a>
                                {format!("{text}\n")}
                            </span>
                        }
                    })
                    .collect_view()
            }}</pre>
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
