//! The read-only canvas of a run view: the version's graph with each node
//! coloured by its task state; a click selects a node.

use super::{edge_path, title};
use crate::editor::{NODE_HEIGHT, NODE_WIDTH};
use crate::ordered::CollectOrdered;
use crate::types::graph::{Node, ProcessGraph};
use crate::types::ComponentKey;
use leptos::prelude::*;
use std::collections::BTreeMap;

/// Draws `graph` read-only; `states` colours nodes, `on_select` reports clicks.
#[component]
pub fn GraphView(
    #[prop(into)] graph: Signal<ProcessGraph>,
    #[prop(into)] states: Signal<BTreeMap<String, String>>,
    #[prop(into)] names: Signal<BTreeMap<ComponentKey, String>>,
    #[prop(into)] selected: Signal<Option<String>>,
    on_select: Callback<String>,
) -> impl IntoView {
    let marks = super::marks::looks();
    let view_box = move || match graph.with(crate::editor::bounds) {
        Some(b) => format!(
            "{} {} {} {}",
            b.x - 20.0,
            b.y - 20.0,
            b.width + 40.0,
            b.height + 40.0
        ),
        None => "0 0 400 200".into(),
    };
    view! {
        <div class="canvas readonly" data-testid="run-canvas">
            <svg viewBox=view_box preserveAspectRatio="xMidYMid meet" role="group" aria-label="The version's graph">
                {move || {
                    let g = graph.get();
                    let by_id: BTreeMap<&str, &Node> = g.nodes.iter().map(|n| (n.id.as_str(), n)).collect_map();
                    g.edges
                        .iter()
                        .filter_map(|e| Some((by_id.get(e.from.as_str())?, by_id.get(e.to.as_str())?, e)))
                        .map(|(f, t, e)| view! {
                            <path class="edge" d=edge_path(f, t) data-testid=format!("edge-{}-{}", e.from, e.to)/>
                        })
                        .collect_view()
                }}
                {move || {
                    let names = names.get();
                    let states = states.get();

                    graph
                        .get()
                        .nodes
                        .into_iter()
                        .map(|n| {
                            let state = states.get(&n.id).cloned().unwrap_or_else(|| "pending".into());
                            let id = n.id.clone();
                            let is_selected = selected.get().as_deref() == Some(n.id.as_str());
                            view! {
                                <g
                                    class=format!("node state-{state}")
                                    class:selected=is_selected
                                    transform=format!("translate({} {})", n.position.x, n.position.y)
                                    data-testid=format!("node-{}", n.id)
                                    data-state=state.clone()
                                    tabindex="0"
                                    role="button"
                                    aria-label=format!("{}, {}", title(&n, &names), state.replace('_', " "))
                                    on:click=move |_| on_select.run(id.clone())
                                >
                                    <rect width=NODE_WIDTH height=NODE_HEIGHT rx="8"/>
                                    {marks.with(|m| super::marks::node_marks(&n.component, m, NODE_WIDTH))}
                                    // The label is the text shown (title, then state); the
                                    // trailing space parts them in the text read out.
                                    <text x="12" y="26" class="node-title">{format!("{} ", title(&n, &names))}</text>
                                    <text x="12" y="48" class="node-sub">{state.replace('_', " ")}</text>
                                </g>
                            }
                        })
                        .collect_view()
                }}
            </svg>
        </div>
    }
    .into_any()
}
