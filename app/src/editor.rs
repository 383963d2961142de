//! The canvas editor's model: the graph being drawn, the selection, the
//! viewport, undo/redo and the clipboard, changed only through [`Action`]s by
//! [`Editor::apply`]. It knows nothing of the browser, so tests drive it
//! directly and the view only renders it and dispatches actions.
//!
//! Coordinates: node positions are in canvas units (the node's top-left
//! corner); the viewport maps them to screen pixels as
//! `screen = (canvas + pan) * zoom`.

use crate::ordered::CollectOrdered;
use crate::types::graph::{Edge, Node, Position, ProcessGraph};
use crate::types::params::ProcessParam;
use crate::types::ComponentKey;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

mod layout;
pub use layout::layout;

/// Size of a node on the canvas, in canvas units.
pub const NODE_WIDTH: f64 = 180.0;
pub const NODE_HEIGHT: f64 = 64.0;
/// Space between layers and between nodes of a layer after auto-layout.
pub const LAYER_GAP: f64 = 80.0;
pub const ROW_GAP: f64 = 32.0;
pub const MIN_ZOOM: f64 = 0.1;
pub const MAX_ZOOM: f64 = 4.0;
/// Undo steps kept.
pub const HISTORY: usize = 200;

/// Which part of the canvas the screen shows.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Viewport {
    pub pan_x: f64,
    pub pan_y: f64,
    pub zoom: f64,
}

impl Default for Viewport {
    fn default() -> Self {
        Self {
            pan_x: 0.0,
            pan_y: 0.0,
            zoom: 1.0,
        }
    }
}

impl Viewport {
    /// The canvas point shown at screen point (`x`, `y`).
    pub fn to_canvas(&self, x: f64, y: f64) -> (f64, f64) {
        (x / self.zoom - self.pan_x, y / self.zoom - self.pan_y)
    }

    /// The screen point showing canvas point (`x`, `y`).
    pub fn to_screen(&self, x: f64, y: f64) -> (f64, f64) {
        ((x + self.pan_x) * self.zoom, (y + self.pan_y) * self.zoom)
    }
}

/// A rectangle in canvas units.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rect {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
}

impl Rect {
    /// The rectangle spanned by two corners in any order.
    pub fn spanning(a: (f64, f64), b: (f64, f64)) -> Self {
        Rect {
            x: a.0.min(b.0),
            y: a.1.min(b.1),
            width: (a.0 - b.0).abs(),
            height: (a.1 - b.1).abs(),
        }
    }

    fn intersects(&self, other: &Rect) -> bool {
        self.x < other.x + other.width
            && other.x < self.x + self.width
            && self.y < other.y + other.height
            && other.y < self.y + self.height
    }
}

fn node_rect(node: &Node) -> Rect {
    Rect {
        x: node.position.x,
        y: node.position.y,
        width: NODE_WIDTH,
        height: NODE_HEIGHT,
    }
}

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
}

/// What copy put aside: nodes and the edges among them.
#[derive(Clone, Debug, PartialEq)]
struct Clip {
    nodes: Vec<Node>,
    edges: Vec<Edge>,
}

/// Everything a user can do to the model.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Replaces the graph (opening a process); history starts afresh.
    Load(ProcessGraph),
    /// Adds a node of `component` at `at`, with the given parameter values,
    /// and selects it.
    AddNode {
        component: ComponentKey,
        at: Position,
        params: serde_json::Map<String, Value>,
    },
    /// Starts dragging; the moves until `EndMove` undo as one step.
    BeginMove,
    /// Moves the selected nodes (or `node` if it is not selected) by a delta.
    MoveBy {
        node: String,
        dx: f64,
        dy: f64,
    },
    EndMove,
    /// Draws an edge `from` → `to`; refused if it would make a cycle.
    Connect {
        from: String,
        to: String,
    },
    /// Selects a node; `additive` toggles it in the current selection.
    SelectNode {
        id: String,
        additive: bool,
    },
    SelectEdge {
        edge: Edge,
        additive: bool,
    },
    /// Selects every node that the rectangle touches.
    SelectRect {
        rect: Rect,
        additive: bool,
    },
    SelectAll,
    ClearSelection,
    /// Deletes the selected nodes (with their edges) and edges.
    DeleteSelection,
    /// Sets (or with `None` clears) one parameter of a node.
    SetParam {
        node: String,
        name: String,
        value: Option<Value>,
    },
    SetLabel {
        node: String,
        label: String,
    },
    /// Where the process runs: a connection's EMR cluster (or the embedded
    /// engine, with or without a connection's S3 data), orchestrated by
    /// Trellis or by Airflow.
    SetRunsOn {
        connection: Option<crate::types::ConnectionId>,
        orchestrator: Option<crate::types::graph::Orchestrator>,
        local_steps: bool,
    },
    /// Declares a new process parameter (a string named `param_<n>`).
    AddProcessParam,
    /// Replaces the declaration at `index`.
    SetProcessParam {
        index: usize,
        param: ProcessParam,
    },
    RemoveProcessParam {
        index: usize,
    },
    Undo,
    Redo,
    Copy,
    /// Pastes the copied nodes, shifted, with new ids, and selects them.
    Paste {
        dx: f64,
        dy: f64,
    },
    /// Zooms by `factor` keeping the screen point (`x`, `y`) still.
    Zoom {
        factor: f64,
        x: f64,
        y: f64,
    },
    /// Pans by a screen-pixel delta.
    Pan {
        dx: f64,
        dy: f64,
    },
    /// Shows the whole graph in a screen of this size.
    FitToView {
        width: f64,
        height: f64,
    },
    /// Lays the graph out in layers from left to right.
    AutoLayout,
}

/// What became of an action.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The graph changed (autosave should follow).
    Changed,
    /// Only the view or selection changed.
    Viewed,
    /// Nothing to do.
    Unchanged,
    /// Refused, with the message to show.
    Refused(String),
}

/// The editor's whole state.
#[derive(Clone, Debug, Default)]
pub struct Editor {
    pub graph: ProcessGraph,
    pub selection: Selection,
    pub viewport: Viewport,
    undo: Vec<ProcessGraph>,
    redo: Vec<ProcessGraph>,
    clipboard: Option<Clip>,
    /// The graph before the drag in progress, if one is.
    moving: Option<ProcessGraph>,
    /// Counts graph changes, so the view knows when to save.
    pub changes: u64,
}

impl Editor {
    pub fn new(graph: ProcessGraph) -> Self {
        Self {
            graph,
            ..Self::default()
        }
    }

    pub fn can_undo(&self) -> bool {
        !self.undo.is_empty()
    }

    pub fn can_redo(&self) -> bool {
        !self.redo.is_empty()
    }

    pub fn can_paste(&self) -> bool {
        self.clipboard.is_some()
    }

    /// Records the graph as it is before a change.
    fn checkpoint(&mut self) {
        self.push_undo(self.graph.clone());
    }

    fn push_undo(&mut self, before: ProcessGraph) {
        self.undo.push(before);
        if self.undo.len() > HISTORY {
            self.undo.remove(0);
        }
        self.redo.clear();
    }

    fn changed(&mut self) -> Outcome {
        self.changes += 1;
        Outcome::Changed
    }

    /// Drops selected ids that no longer exist.
    fn prune_selection(&mut self) {
        let ids: BTreeSet<&str> = self.graph.nodes.iter().map(|n| n.id.as_str()).collect_set();
        self.selection.nodes.retain(|id| ids.contains(id.as_str()));
        let edges: BTreeSet<&Edge> = self.graph.edges.iter().collect_set();
        self.selection.edges.retain(|e| edges.contains(e));
    }

    /// A node id made from `component` that no node has yet: `ingest_file_1`.
    pub fn fresh_id(&self, component: &ComponentKey) -> String {
        let base: String = component
            .as_str()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .take(56)
            .collect();
        let taken: BTreeSet<&str> = self.graph.nodes.iter().map(|n| n.id.as_str()).collect_set();
        (1..)
            .map(|n| format!("{base}_{n}"))
            .find(|id| !taken.contains(id.as_str()))
            .expect("some number is free")
    }

    pub fn apply(&mut self, action: Action) -> Outcome {
        match action {
            Action::Load(graph) => {
                *self = Editor {
                    graph,
                    viewport: self.viewport,
                    clipboard: self.clipboard.take(),
                    ..Editor::default()
                };
                Outcome::Changed
            }
            Action::AddNode {
                component,
                at,
                params,
            } => {
                self.checkpoint();
                let id = self.fresh_id(&component);
                self.graph.nodes.push(Node {
                    id: id.clone(),
                    component,
                    label: String::new(),
                    params,
                    position: at,
                });
                self.selection = Selection {
                    nodes: [id].into_iter().collect_set(),
                    edges: BTreeSet::new(),
                };
                self.changed()
            }
            Action::BeginMove => {
                self.moving = Some(self.graph.clone());
                Outcome::Unchanged
            }
            Action::MoveBy { node, dx, dy } => {
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
            Action::EndMove => match self.moving.take() {
                Some(before) if before != self.graph => {
                    self.push_undo(before);
                    self.changed()
                }
                _ => Outcome::Unchanged,
            },
            Action::Connect { from, to } => self.connect(from, to),
            Action::SelectNode { id, additive } => {
                if self.graph.node(&id).is_none() {
                    return Outcome::Unchanged;
                }
                if additive {
                    if !self.selection.nodes.remove(&id) {
                        self.selection.nodes.insert(id);
                    }
                } else {
                    self.selection = Selection {
                        nodes: [id].into_iter().collect_set(),
                        edges: BTreeSet::new(),
                    };
                }
                Outcome::Viewed
            }
            Action::SelectEdge { edge, additive } => {
                if !self.graph.edges.contains(&edge) {
                    return Outcome::Unchanged;
                }
                if additive {
                    if !self.selection.edges.remove(&edge) {
                        self.selection.edges.insert(edge);
                    }
                } else {
                    self.selection = Selection {
                        nodes: BTreeSet::new(),
                        edges: [edge].into_iter().collect_set(),
                    };
                }
                Outcome::Viewed
            }
            Action::SelectRect { rect, additive } => {
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
            Action::SelectAll => {
                self.selection = Selection {
                    nodes: self.graph.nodes.iter().map(|n| n.id.clone()).collect_set(),
                    edges: self.graph.edges.iter().cloned().collect_set(),
                };
                Outcome::Viewed
            }
            Action::ClearSelection => {
                if self.selection.is_empty() {
                    return Outcome::Unchanged;
                }
                self.selection = Selection::default();
                Outcome::Viewed
            }
            Action::DeleteSelection => {
                if self.selection.is_empty() {
                    return Outcome::Unchanged;
                }
                self.checkpoint();
                let Selection { nodes, edges } = std::mem::take(&mut self.selection);
                self.graph.nodes.retain(|n| !nodes.contains(&n.id));
                self.graph.edges.retain(|e| {
                    !edges.contains(e) && !nodes.contains(&e.from) && !nodes.contains(&e.to)
                });
                self.changed()
            }
            Action::SetParam { node, name, value } => {
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
            Action::SetLabel { node, label } => {
                match self.graph.node(&node) {
                    Some(n) if n.label != label => {}
                    _ => return Outcome::Unchanged,
                }
                self.checkpoint();
                self.node_mut(&node).label = label;
                self.changed()
            }
            Action::SetRunsOn {
                connection,
                orchestrator,
                local_steps,
            } => {
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
            Action::AddProcessParam => {
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
            Action::SetProcessParam { index, param } => {
                match self.graph.params.get(index) {
                    Some(p) if *p != param => {}
                    _ => return Outcome::Unchanged,
                }
                self.checkpoint();
                self.graph.params[index] = param;
                self.changed()
            }
            Action::RemoveProcessParam { index } => {
                if index >= self.graph.params.len() {
                    return Outcome::Unchanged;
                }
                self.checkpoint();
                self.graph.params.remove(index);
                self.changed()
            }
            Action::Undo => match self.undo.pop() {
                Some(before) => {
                    self.redo.push(std::mem::replace(&mut self.graph, before));
                    self.prune_selection();
                    self.changed()
                }
                None => Outcome::Unchanged,
            },
            Action::Redo => match self.redo.pop() {
                Some(after) => {
                    self.undo.push(std::mem::replace(&mut self.graph, after));
                    self.prune_selection();
                    self.changed()
                }
                None => Outcome::Unchanged,
            },
            Action::Copy => {
                let nodes: Vec<Node> = self
                    .graph
                    .nodes
                    .iter()
                    .filter(|n| self.selection.nodes.contains(&n.id))
                    .cloned()
                    .collect();
                if nodes.is_empty() {
                    return Outcome::Unchanged;
                }
                let edges = self
                    .graph
                    .edges
                    .iter()
                    .filter(|e| {
                        self.selection.nodes.contains(&e.from)
                            && self.selection.nodes.contains(&e.to)
                    })
                    .cloned()
                    .collect();
                self.clipboard = Some(Clip { nodes, edges });
                Outcome::Viewed
            }
            Action::Paste { dx, dy } => {
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
            Action::Zoom { factor, x, y } => {
                let zoom = (self.viewport.zoom * factor).clamp(MIN_ZOOM, MAX_ZOOM);
                if !factor.is_finite() || zoom == self.viewport.zoom {
                    return Outcome::Unchanged;
                }
                let (cx, cy) = self.viewport.to_canvas(x, y);
                self.viewport.zoom = zoom;
                self.viewport.pan_x = x / zoom - cx;
                self.viewport.pan_y = y / zoom - cy;
                Outcome::Viewed
            }
            Action::Pan { dx, dy } => {
                self.viewport.pan_x += dx / self.viewport.zoom;
                self.viewport.pan_y += dy / self.viewport.zoom;
                Outcome::Viewed
            }
            Action::FitToView { width, height } => {
                let Some(bounds) = self.bounds() else {
                    self.viewport = Viewport::default();
                    return Outcome::Viewed;
                };
                let margin = 40.0;
                let zoom = ((width - 2.0 * margin) / bounds.width)
                    .min((height - 2.0 * margin) / bounds.height)
                    .clamp(MIN_ZOOM, 1.0);
                self.viewport = Viewport {
                    zoom,
                    pan_x: (width / zoom - bounds.width) / 2.0 - bounds.x,
                    pan_y: (height / zoom - bounds.height) / 2.0 - bounds.y,
                };
                Outcome::Viewed
            }
            Action::AutoLayout => {
                let laid = layout(&self.graph);
                if laid == self.graph {
                    return Outcome::Unchanged;
                }
                self.checkpoint();
                self.graph = laid;
                self.changed()
            }
        }
    }

    fn node_mut(&mut self, id: &str) -> &mut Node {
        self.graph
            .nodes
            .iter_mut()
            .find(|n| n.id == id)
            .expect("checked by the caller")
    }

    fn connect(&mut self, from: String, to: String) -> Outcome {
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
        self.selection = Selection {
            nodes: BTreeSet::new(),
            edges: [edge].into_iter().collect_set(),
        };
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

    /// The rectangle holding every node, if there are any.
    pub fn bounds(&self) -> Option<Rect> {
        bounds(&self.graph)
    }
}

/// The rectangle holding every node of `graph`, if it has any.
pub fn bounds(graph: &ProcessGraph) -> Option<Rect> {
    let mut nodes = graph.nodes.iter().map(node_rect);
    let first = nodes.next()?;
    let (mut x0, mut y0) = (first.x, first.y);
    let (mut x1, mut y1) = (first.x + first.width, first.y + first.height);
    for r in nodes {
        x0 = x0.min(r.x);
        y0 = y0.min(r.y);
        x1 = x1.max(r.x + r.width);
        y1 = y1.max(r.y + r.height);
    }
    Some(Rect {
        x: x0,
        y: y0,
        width: x1 - x0,
        height: y1 - y0,
    })
}
