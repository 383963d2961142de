//! The run's tasks as a Gantt chart, one row per node as the user drew it:
//! its submit and its watch are two segments of that row.

use super::summary::label_of;
use crate::api::runs::TaskRun;
use crate::components::time;
use crate::types::graph::ProcessGraph;
use crate::types::TaskKind;
use leptos::prelude::*;

/// One segment: a task from its start to its end (or now).
struct Segment {
    key: String,
    kind: TaskKind,
    state: String,
    attempt: i64,
    start: f64,
    end: f64,
}

/// A row: the run's start or end, or one node with its segments.
struct Row {
    node: String,
    label: String,
    segments: Vec<Segment>,
}

/// Rows in the order their first task started.
fn rows(tasks: &[TaskRun], graph: &ProcessGraph) -> Vec<Row> {
    let now = tasks
        .iter()
        .filter_map(|t| {
            t.finished_at
                .as_deref()
                .or(t.started_at.as_deref())
                .and_then(time::epoch_ms)
        })
        .fold(f64::MIN, f64::max);
    let mut rows: Vec<Row> = Vec::new();
    for t in tasks {
        let Some(start) = t.started_at.as_deref().and_then(time::epoch_ms) else {
            continue;
        };
        let end = t
            .finished_at
            .as_deref()
            .and_then(time::epoch_ms)
            .unwrap_or(now)
            .max(start);
        let (node, label) = match (&t.node, t.kind) {
            (Some(node), _) => (node.clone(), label_of(graph, node)),
            (None, TaskKind::Entry) => ("PEntry".to_owned(), "Run starts".to_owned()),
            (None, _) => ("PExit".to_owned(), "Run ends".to_owned()),
        };
        let segment = Segment {
            key: t.key.to_string(),
            kind: t.kind,
            state: t.state.to_string(),
            attempt: t.attempt,
            start,
            end,
        };
        match rows.iter_mut().find(|r| r.node == node) {
            Some(row) => row.segments.push(segment),
            None => rows.push(Row {
                node,
                label,
                segments: vec![segment],
            }),
        }
    }
    rows.sort_by(|a, b| {
        let first = |r: &Row| r.segments.iter().map(|s| s.start).fold(f64::MAX, f64::min);
        first(a).total_cmp(&first(b))
    });
    rows
}

/// A Gantt chart of the run: a row per node (its submit, then its watch),
/// labelled as drawn, with each task's attempt.
#[component]
pub fn Timeline(tasks: Vec<TaskRun>, graph: ProcessGraph) -> impl IntoView {
    let rows = rows(&tasks, &graph);
    let spans = rows.iter().flat_map(|r| &r.segments);
    let Some(first) = spans.clone().map(|s| s.start).reduce(f64::min) else {
        return ().into_any();
    };
    let last = spans.map(|s| s.end).fold(first, f64::max);
    let total = (last - first).max(1.0);
    let row = 24.0;
    let width = 600.0;
    let label = 200.0;
    let height = row * rows.len() as f64 + 24.0;
    view! {
        <section class="panel timeline" data-testid="timeline">
            <h2>{format!("Timeline ({:.2} s)", total / 1000.0)}</h2>
            <p class="muted legend">
                <span class="swatch submit"></span>" submitted  "
                <span class="swatch watch"></span>" working"
            </p>
            <svg viewBox=format!("0 0 {} {height}", label + width + 10.0) role="img" aria-label="Timeline of the run by node">
                {rows.into_iter().enumerate().map(|(i, r)| {
                    let y = i as f64 * row;
                    let retried = r.segments.iter().map(|s| s.attempt).max().unwrap_or(1);
                    let text = if retried > 1 {
                        format!("{} · attempt {retried}", shorten(&r.label))
                    } else {
                        shorten(&r.label)
                    };
                    view! {
                        <g data-testid="timeline-row" data-node=r.node.clone()>
                            <text x="0" y=y + 16.0 class="bar-label">{text}<title>{r.label.clone()}</title></text>
                            {r.segments.into_iter().map(|s| {
                                let x = label + (s.start - first) / total * width;
                                let w = ((s.end - s.start) / total * width).max(2.0);
                                let part = match s.kind {
                                    TaskKind::Submit => "submit",
                                    TaskKind::Watch => "watch",
                                    _ => "edge",
                                };
                                let tip = format!("{}: {}, attempt {}, {}", s.key, s.state.replace('_', " "), s.attempt,
                                    time::duration((s.end - s.start) as i64));
                                view! {
                                    <rect data-testid=format!("bar-{}", s.key) class=format!("bar {part} state-{}", s.state)
                                        x=x y=y + 4.0 width=w height=row - 8.0 rx="3"><title>{tip}</title></rect>
                                }
                            }).collect_view()}
                        </g>
                    }
                }).collect_view()}
            </svg>
        </section>
    }
    .into_any()
}

/// At most 28 characters, with an ellipsis.
fn shorten(text: &str) -> String {
    if text.chars().count() <= 28 {
        text.to_owned()
    } else {
        format!("{}…", text.chars().take(27).collect::<String>())
    }
}
