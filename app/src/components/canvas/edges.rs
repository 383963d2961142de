//! The live canvas's edges, each redrawn only when its path changes; a press
//! on one selects it.

use super::edge_path;
use super::surface::Surface;
use crate::editor::Action;
use crate::ordered::CollectOrdered;
use crate::types::graph::{Edge, Node};
use leptos::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

/// Edges are keyed by their path, so a drag redraws only the edges it bends.
pub(super) fn edges(s: Surface, selected: Memo<BTreeSet<Edge>>) -> impl IntoView {
    let (editor, dispatch) = (s.editor, s.dispatch);
    let looks = move || {
        editor.with(|e| {
            let by_id: BTreeMap<&str, &Node> = e
                .graph
                .nodes
                .iter()
                .map(|n| (n.id.as_str(), n))
                .collect_map();
            e.graph
                .edges
                .iter()
                .filter_map(|edge| {
                    let (f, t) = (by_id.get(edge.from.as_str())?, by_id.get(edge.to.as_str())?);
                    Some((edge.clone(), edge_path(f, t)))
                })
                .collect::<Vec<_>>()
        })
    };
    view! {
        <For each=looks key=|look| look.clone() let:look>
            {
                let (edge, d) = look;
                let testid = format!("edge-{}-{}", edge.from, edge.to);
                let this = edge.clone();
                view! {
                    <g class="edge-group" class:selected=move || selected.with(|s| s.contains(&this))>
                        <path class="edge-hit" d=d.clone()
                            on:pointerdown=move |ev: leptos::ev::PointerEvent| {
                                ev.stop_propagation();
                                dispatch.run(Action::SelectEdge { edge: edge.clone(), additive: ev.shift_key() });
                            }
                        />
                        <path class="edge" d=d data-testid=testid/>
                    </g>
                }
            }
        </For>
    }
}
