//! The canvas editor's model: the graph being drawn, the selection, the
//! viewport, undo/redo and the clipboard, changed only through [`Action`]s by
//! [`Editor::apply`]. It knows nothing of the browser, so tests drive it
//! directly and the view only renders it and dispatches actions.
//!
//! Coordinates: node positions are in canvas units (the node's top-left
//! corner); the viewport maps them to screen pixels as
//! `screen = (canvas + pan) * zoom`.

use crate::ordered::CollectOrdered;
use crate::types::graph::{Edge, Position, ProcessGraph};
use crate::types::params::ProcessParam;
use crate::types::ComponentKey;
use serde_json::Value;
use std::collections::BTreeSet;

mod edit;
mod layout;
mod selection;
mod view;
pub use layout::layout;
use selection::Clip;
pub use selection::Selection;
pub use view::{bounds, Rect, Viewport};

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

    /// Does `action`; what each does is in its own module: graph changes
    /// and undo/redo in `edit`, the selection and clipboard in `selection`,
    /// the viewport in `view`.
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
            } => self.add_node(component, at, params),
            Action::BeginMove => {
                self.moving = Some(self.graph.clone());
                Outcome::Unchanged
            }
            Action::MoveBy { node, dx, dy } => self.move_by(node, dx, dy),
            Action::EndMove => self.end_move(),
            Action::Connect { from, to } => self.connect(from, to),
            Action::SelectNode { id, additive } => self.select_node(id, additive),
            Action::SelectEdge { edge, additive } => self.select_edge(edge, additive),
            Action::SelectRect { rect, additive } => self.select_rect(rect, additive),
            Action::SelectAll => self.select_all(),
            Action::ClearSelection => self.clear_selection(),
            Action::DeleteSelection => self.delete_selection(),
            Action::SetParam { node, name, value } => self.set_param(node, name, value),
            Action::SetLabel { node, label } => self.set_label(node, label),
            Action::SetRunsOn {
                connection,
                orchestrator,
                local_steps,
            } => self.set_runs_on(connection, orchestrator, local_steps),
            Action::AddProcessParam => self.add_process_param(),
            Action::SetProcessParam { index, param } => self.set_process_param(index, param),
            Action::RemoveProcessParam { index } => self.remove_process_param(index),
            Action::Undo => self.undo(),
            Action::Redo => self.redo(),
            Action::Copy => self.copy(),
            Action::Paste { dx, dy } => self.paste(dx, dy),
            Action::Zoom { factor, x, y } => self.zoom(factor, x, y),
            Action::Pan { dx, dy } => self.pan(dx, dy),
            Action::FitToView { width, height } => self.fit_to_view(width, height),
            Action::AutoLayout => self.auto_layout(),
        }
    }
}
