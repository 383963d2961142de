//! What is selected, and the clipboard: select, copy and paste.

use super::view::{node_rect, Rect};
use super::{Editor, Outcome};
use crate::ordered::CollectOrdered;
use crate::types::graph::{Edge, Node, Position};
use std::collections::{BTreeSet, HashMap};

/// What is selected.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selection {
    pub nodes: BTreeSet<String>,
    pub edges: BTreeSet<Edge>,
}

impl Selection {
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty() && self.edges.is_empty()
    }

    /// Only the node `id`.
    pub(super) fn node(id: String) -> Self {
        Selection {
            nodes: [id].into_iter().collect_set(),
            edges: BTreeSet::new(),
        }
    }

    /// Only `edge`.
    pub(super) fn edge(edge: Edge) -> Self {
        Selection {
            nodes: BTreeSet::new(),
            edges: [edge].into_iter().collect_set(),
        }
    }
}

/// What copy put aside: nodes and the edges among them.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Clip {
    nodes: Vec<Node>,
    edges: Vec<Edge>,
}

impl Editor {
    pub fn can_paste(&self) -> bool {
        self.clipboard.is_some()
    }

    /// Drops selected ids that no longer exist.
    pub(super) fn prune_selection(&mut self) {
        let ids: BTreeSet<&str> = self.graph.nodes.iter().map(|n| n.id.as_str()).collect_set();
        self.selection.nodes.retain(|id| ids.contains(id.as_str()));
        let edges: BTreeSet<&Edge> = self.graph.edges.iter().collect_set();
        self.selection.edges.retain(|e| edges.contains(e));
    }

    pub(super) fn select_node(&mut self, id: String, additive: bool) -> Outcome {
        if self.graph.node(&id).is_none() {
            return Outcome::Unchanged;
        }
        if !additive {
            self.selection = Selection::node(id);
        } else if !self.selection.nodes.remove(&id) {
            self.selection.nodes.insert(id);
        }
        Outcome::Viewed
    }

    pub(super) fn select_edge(&mut self, edge: Edge, additive: bool) -> Outcome {
        if !self.graph.edges.contains(&edge) {
            return Outcome::Unchanged;
        }
        if !additive {
            self.selection = Selection::edge(edge);
        } else if !self.selection.edges.remove(&edge) {
            self.selection.edges.insert(edge);
        }
        Outcome::Viewed
    }

    pub(super) fn select_rect(&mut self, rect: Rect, additive: bool) -> Outcome {
        if !additive {
            self.selection = Selection::default();
        }
        for n in &self.graph.nodes {
            if rect.intersects(&node_rect(n)) {
                self.selection.nodes.insert(n.id.clone());
            }
        }
        Outcome::Viewed
    }

    pub(super) fn select_all(&mut self) -> Outcome {
        self.selection = Selection {
            nodes: self.graph.nodes.iter().map(|n| n.id.clone()).collect_set(),
            edges: self.graph.edges.iter().cloned().collect_set(),
        };
        Outcome::Viewed
    }

    pub(super) fn clear_selection(&mut self) -> Outcome {
        if self.selection.is_empty() {
            return Outcome::Unchanged;
        }
        self.selection = Selection::default();
        Outcome::Viewed
    }

    /// Puts the selected nodes and the edges among them aside.
    pub(super) fn copy(&mut self) -> Outcome {
        let selected = &self.selection.nodes;
        let nodes: Vec<Node> = self
            .graph
            .nodes
            .iter()
            .filter(|n| selected.contains(&n.id))
            .cloned()
            .collect();
        if nodes.is_empty() {
            return Outcome::Unchanged;
        }
        let edges = self
            .graph
            .edges
            .iter()
            .filter(|e| selected.contains(&e.from) && selected.contains(&e.to))
            .cloned()
            .collect();
        self.clipboard = Some(Clip { nodes, edges });
        Outcome::Viewed
    }

    /// Adds the copied nodes shifted by (`dx`, `dy`), with new ids, and
    /// selects them.
    pub(super) fn paste(&mut self, dx: f64, dy: f64) -> Outcome {
        let Some(clip) = self.clipboard.clone() else {
            return Outcome::Unchanged;
        };
        self.checkpoint();
        let mut renamed = HashMap::new();
        let mut pasted = BTreeSet::new();
        for node in clip.nodes {
            let id = self.fresh_id(&node.component);
            renamed.insert(node.id.clone(), id.clone());
            pasted.insert(id.clone());
            self.graph.nodes.push(Node {
                id,
                position: Position {
                    x: node.position.x + dx,
                    y: node.position.y + dy,
                },
                ..node
            });
        }
        for e in clip.edges {
            self.graph
                .edges
                .push(Edge::new(renamed[&e.from].clone(), renamed[&e.to].clone()));
        }
        self.selection = Selection {
            nodes: pasted,
            edges: BTreeSet::new(),
        };
        self.changed()
    }
}
