//! The run's tasks as a Gantt chart.

use crate::api::runs::TaskRun;
use crate::components::time;
use leptos::prelude::*;

/// A Gantt chart of the run's tasks: one bar per task from start to end.
#[component]
pub fn Timeline(tasks: Vec<TaskRun>) -> impl IntoView {
    let now = tasks
        .iter()
        .filter_map(|t| {
            t.finished_at
                .as_deref()
                .or(t.started_at.as_deref())
                .and_then(time::epoch_ms)
        })
        .fold(f64::MIN, f64::max);
    let spans: Vec<(String, String, f64, f64)> = tasks
        .iter()
        .filter_map(|t| {
            let start = t.started_at.as_deref().and_then(time::epoch_ms)?;
            let end = t
                .finished_at
                .as_deref()
                .and_then(time::epoch_ms)
                .unwrap_or(now);
            Some((
                t.key.to_string(),
                t.state.to_string(),
                start,
                end.max(start),
            ))
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
