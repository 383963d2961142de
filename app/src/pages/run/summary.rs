//! What a run amounts to, shown while no node is selected: the nodes that
//! failed with the first line of their errors, the datasets it wrote, and
//! links to both.

use super::RunModel;
use crate::types::graph::ProcessGraph;
use crate::types::{TaskKind, TaskState};
use leptos::prelude::*;

/// A failed node: its id, label and its error's first line.
#[derive(Clone, Debug, PartialEq)]
pub struct Failure {
    pub node: String,
    pub label: String,
    pub error: String,
}

/// The node's label as drawn, or its id.
pub fn label_of(graph: &ProcessGraph, node: &str) -> String {
    graph
        .node(node)
        .map(|n| n.label.trim())
        .filter(|l| !l.is_empty())
        .map_or_else(|| node.to_owned(), str::to_owned)
}

/// The nodes whose last attempt failed, in the order of their tasks.
pub fn failures(model: &RunModel, graph: &ProcessGraph) -> Vec<Failure> {
    let mut out: Vec<Failure> = Vec::new();
    for t in &model.run.tasks {
        let Some(node) = &t.node else { continue };
        if t.state != TaskState::Failed || out.iter().any(|f| &f.node == node) {
            continue;
        }
        out.push(Failure {
            node: node.clone(),
            label: label_of(graph, node),
            error: t
                .error
                .as_deref()
                .and_then(|e| e.lines().find(|l| !l.trim().is_empty()))
                .unwrap_or("failed")
                .to_owned(),
        });
    }
    out
}

/// The datasets the run's nodes wrote (their work succeeded).
pub fn written(model: &RunModel, graph: &ProcessGraph) -> Vec<String> {
    let mut out = Vec::new();
    for t in &model.run.tasks {
        let (Some(node), TaskKind::Watch, TaskState::Succeeded) = (&t.node, t.kind, t.state) else {
            continue;
        };
        let params = model
            .run
            .resolved
            .as_ref()
            .and_then(|r| r.nodes.get(node).cloned())
            .or_else(|| graph.node(node).map(|n| n.params.clone()))
            .unwrap_or_default();
        let component = graph
            .node(node)
            .map(|n| n.component.to_string())
            .unwrap_or_default();
        for name in crate::catalog::dataset_uses(&component, &params).1 {
            if !out.contains(&name) {
                out.push(name);
            }
        }
    }
    out
}

#[component]
pub fn RunSummary(model: RunModel, graph: ProcessGraph) -> impl IntoView {
    let failed = failures(&model, &graph);
    let datasets = written(&model, &graph);
    let state = model.run.state.to_string();
    let ended = model.finished();
    view! {
        <aside class="panel run-summary" data-testid="run-summary">
            <h2>"Summary"</h2>
            {if failed.is_empty() {
                view! {
                    <p class="muted" data-testid="summary-state">{match (ended, state.as_str()) {
                        (true, "succeeded") => "Every node succeeded.".to_owned(),
                        (true, other) => format!("The run ended {other}."),
                        (false, _) => "Running: nothing has failed so far.".to_owned(),
                    }}</p>
                }.into_any()
            } else {
                view! {
                    <h3>"Failed"</h3>
                    <ul class="summary-failures">
                        {failed.into_iter().map(|f| view! {
                            <li data-testid="summary-failure" data-node=f.node.clone()>
                                <a href=format!("?node={}", f.node)>{f.label}</a>
                                ": " <span class="error">{f.error}</span>
                            </li>
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
            {(!datasets.is_empty()).then(|| view! {
                <h3>"Datasets written"</h3>
                <ul>
                    {datasets.into_iter().map(|d| view! {
                        <li><a href=format!("/datasets?name={d}") data-testid="summary-dataset">{d.clone()}</a></li>
                    }).collect_view()}
                </ul>
            })}
            <p class="muted">"Select a node on the graph for its tasks, values and log."</p>
        </aside>
    }
}
