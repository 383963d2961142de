//! The process canvas: an SVG drawing of a graph, read-only in a run view
//! ([`GraphView`]) and live in the editor ([`EditCanvas`]).

mod edges;
mod edit;
mod gesture;
mod graph_view;
mod keyboard;
pub mod marks;
mod minimap;
mod nodes;
mod pointer;
mod surface;

pub use edit::EditCanvas;
pub use graph_view::GraphView;

use crate::editor::{NODE_HEIGHT, NODE_WIDTH};
use crate::types::graph::Node;
use crate::types::ComponentKey;
use std::collections::BTreeMap;

/// The curve from `from`'s output port to `to`'s input port.
fn edge_path(from: &Node, to: &Node) -> String {
    let (x1, y1) = (
        from.position.x + NODE_WIDTH,
        from.position.y + NODE_HEIGHT / 2.0,
    );
    let (x2, y2) = (to.position.x, to.position.y + NODE_HEIGHT / 2.0);
    let bend = ((x2 - x1).abs() / 2.0).max(40.0);
    format!(
        "M {x1} {y1} C {} {y1}, {} {y2}, {x2} {y2}",
        x1 + bend,
        x2 - bend
    )
}

/// A node's label, or its component's name when it has none.
fn title(node: &Node, names: &BTreeMap<ComponentKey, String>) -> String {
    if node.label.trim().is_empty() {
        names
            .get(&node.component)
            .cloned()
            .unwrap_or_else(|| node.component.to_string())
    } else {
        node.label.clone()
    }
}
