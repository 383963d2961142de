//! Changes to the graph: nodes, edges, parameters, where it runs, layout,
//! and undo/redo. Each records an undo step and counts as a change only
//! when the graph actually changes.

use super::selection::Selection;
use super::{layout, Editor, Outcome};
use crate::ordered::CollectOrdered;
use crate::types::graph::{Edge, Node, Orchestrator, Position};
use crate::types::params::ProcessParam;
use crate::types::{ComponentKey, ConnectionId};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

impl Editor {
    pub(super) fn add_node(
        &mut self,
        component: ComponentKey,
        at: Position,
        params: serde_json::Map<String, Value>,
    ) -> Outcome {
        self.checkpoint();
        let id = self.fresh_id(&component);
        self.graph.nodes.push(Node {
            id: id.clone(),
            component,
            label: String::new(),
            params,
            position: at,
        });
        self.selection = Selection::node(id);
        self.changed()
    }

    /// Moves the selected nodes, or `node` alone when it is not selected.
    pub(super) fn move_by(&mut self, node: String, dx: f64, dy: f64) -> Outcome {
        let ids: BTreeSet<String> = if self.selection.nodes.contains(&node) {
            self.selection.nodes.clone()
        } else {
            [node].into_iter().collect_set()
        };
        let mut moved = false;
        for n in self.graph.nodes.iter_mut().filter(|n| ids.contains(&n.id)) {
            n.position.x += dx;
            n.position.y += dy;
            moved = true;
        }
        if !moved || (dx == 0.0 && dy == 0.0) {
            return Outcome::Unchanged;
        }
        if self.moving.is_none() {
            // A move outside a drag (keyboard) is its own undo step.
            let mut before = self.graph.clone();
            for n in before.nodes.iter_mut().filter(|n| ids.contains(&n.id)) {
                n.position.x -= dx;
                n.position.y -= dy;
            }
            self.push_undo(before);
            return self.changed();
        }
        Outcome::Viewed
    }

    /// Ends a drag: its moves undo as one step.
    pub(super) fn end_move(&mut self) -> Outcome {
        match self.moving.take() {
            Some(before) if before != self.graph => {
                self.push_undo(before);
                self.changed()
            }
            _ => Outcome::Unchanged,
        }
    }

    pub(super) fn connect(&mut self, from: String, to: String) -> Outcome {
        if self.graph.node(&from).is_none() || self.graph.node(&to).is_none() {
            return Outcome::Refused("both ends of a connection must be nodes".into());
        }
        if from == to {
            return Outcome::Refused("a node cannot depend on itself".into());
        }
        let edge = Edge::new(from.clone(), to.clone());
        if self.graph.edges.contains(&edge) {
            return Outcome::Refused(format!("{from} → {to} is already connected"));
        }
        if let Some(path) = self.path(&to, &from) {
            return Outcome::Refused(format!(
                "connecting {from} → {to} would create a cycle: {} → {to}",
                path.join(" → ")
            ));
        }
        self.checkpoint();
        self.graph.edges.push(edge.clone());
        self.selection = Selection::edge(edge);
        self.changed()
    }

    /// A path of edges `start` → … → `goal`, if there is one (breadth first).
    pub fn path(&self, start: &str, goal: &str) -> Option<Vec<String>> {
        let mut next: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for e in &self.graph.edges {
            next.entry(e.from.as_str()).or_default().push(e.to.as_str());
        }
        let mut came_from: HashMap<&str, &str> = HashMap::new();
        let mut queue = VecDeque::from([start]);
        let mut seen = [start].into_iter().collect_set();
        while let Some(node) = queue.pop_front() {
            if node == goal {
                let mut path = vec![goal.to_owned()];
                let mut at = goal;
                while let Some(prev) = came_from.get(at) {
                    path.push((*prev).to_owned());
                    at = prev;
                }
                path.reverse();
                return Some(path);
            }
            for succ in next.get(node).into_iter().flatten() {
                if seen.insert(succ) {
                    came_from.insert(succ, node);
                    queue.push_back(succ);
                }
            }
        }
        None
    }

    /// Deletes the selected nodes (with their edges) and edges.
    pub(super) fn delete_selection(&mut self) -> Outcome {
        if self.selection.is_empty() {
            return Outcome::Unchanged;
        }
        self.checkpoint();
        let Selection { nodes, edges } = std::mem::take(&mut self.selection);
        self.graph.nodes.retain(|n| !nodes.contains(&n.id));
        self.graph
            .edges
            .retain(|e| !edges.contains(e) && !nodes.contains(&e.from) && !nodes.contains(&e.to));
        self.changed()
    }

    pub(super) fn set_param(
        &mut self,
        node: String,
        name: String,
        value: Option<Value>,
    ) -> Outcome {
        let Some(current) = self.graph.node(&node) else {
            return Outcome::Unchanged;
        };
        if current.params.get(&name) == value.as_ref() {
            return Outcome::Unchanged;
        }
        self.checkpoint();
        let n = self.node_mut(&node);
        match value {
            Some(v) => {
                n.params.insert(name, v);
            }
            None => {
                n.params.remove(&name);
            }
        }
        self.changed()
    }

    pub(super) fn set_label(&mut self, node: String, label: String) -> Outcome {
        match self.graph.node(&node) {
            Some(n) if n.label != label => {}
            _ => return Outcome::Unchanged,
        }
        self.checkpoint();
        self.node_mut(&node).label = label;
        self.changed()
    }

    pub(super) fn set_runs_on(
        &mut self,
        connection: Option<ConnectionId>,
        orchestrator: Option<Orchestrator>,
        local_steps: bool,
    ) -> Outcome {
        let local_steps = local_steps && connection.is_some();
        if self.graph.connection == connection
            && self.graph.orchestrator == orchestrator
            && self.graph.local_steps == local_steps
        {
            return Outcome::Unchanged;
        }
        self.checkpoint();
        self.graph.connection = connection;
        self.graph.orchestrator = orchestrator;
        self.graph.local_steps = local_steps;
        self.changed()
    }

    /// Declares a string parameter named `param_<n>`, the first `n` free.
    pub(super) fn add_process_param(&mut self) -> Outcome {
        self.checkpoint();
        let taken: BTreeSet<&str> = self
            .graph
            .params
            .iter()
            .map(|p| p.name.as_str())
            .collect_set();
        let name = (1..)
            .map(|n| format!("param_{n}"))
            .find(|n| !taken.contains(n.as_str()))
            .expect("some number is free");
        self.graph.params.push(ProcessParam {
            name,
            kind: Default::default(),
            values: Vec::new(),
            default: None,
            required: false,
            description: String::new(),
        });
        self.changed()
    }

    pub(super) fn set_process_param(&mut self, index: usize, param: ProcessParam) -> Outcome {
        match self.graph.params.get(index) {
            Some(p) if *p != param => {}
            _ => return Outcome::Unchanged,
        }
        self.checkpoint();
        self.graph.params[index] = param;
        self.changed()
    }

    pub(super) fn remove_process_param(&mut self, index: usize) -> Outcome {
        if index >= self.graph.params.len() {
            return Outcome::Unchanged;
        }
        self.checkpoint();
        self.graph.params.remove(index);
        self.changed()
    }

    pub(super) fn auto_layout(&mut self) -> Outcome {
        let laid = layout(&self.graph);
        if laid == self.graph {
            return Outcome::Unchanged;
        }
        self.checkpoint();
        self.graph = laid;
        self.changed()
    }

    pub(super) fn undo(&mut self) -> Outcome {
        match self.undo.pop() {
            Some(before) => {
                self.redo.push(std::mem::replace(&mut self.graph, before));
                self.prune_selection();
                self.changed()
            }
            None => Outcome::Unchanged,
        }
    }

    pub(super) fn redo(&mut self) -> Outcome {
        match self.redo.pop() {
            Some(after) => {
                self.undo.push(std::mem::replace(&mut self.graph, after));
                self.prune_selection();
                self.changed()
            }
            None => Outcome::Unchanged,
        }
    }

    fn node_mut(&mut self, id: &str) -> &mut Node {
        self.graph
            .nodes
            .iter_mut()
            .find(|n| n.id == id)
            .expect("checked by the caller")
    }
}
