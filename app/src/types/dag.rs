//! The compiled DAG of a version and the pure, deterministic compiler that
//! makes it: `PEntry → C_n → W_n → … → PExit` (see DESIGN.md).

use super::graph::ProcessGraph;
use super::ids::TaskKey;
use super::state::TaskKind;
use crate::ordered::CollectOrdered;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

pub const ENTRY: &str = "PEntry";
pub const EXIT: &str = "PExit";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Dag {
    pub tasks: Vec<DagTask>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DagTask {
    #[cfg_attr(feature = "ssr", schema(value_type = String))]
    pub key: TaskKey,
    pub kind: TaskKind,
    /// The process node this task submits or watches (none for entry/exit).
    #[serde(default)]
    pub node: Option<String>,
    #[cfg_attr(feature = "ssr", schema(value_type = Vec<String>))]
    pub depends_on: Vec<TaskKey>,
}

/// The key of the task that submits node `id`.
pub fn submit_key(id: &str) -> TaskKey {
    TaskKey::new(format!("C_{id}"))
}

/// The key of the task that watches node `id`.
pub fn watch_key(id: &str) -> TaskKey {
    TaskKey::new(format!("W_{id}"))
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompileError {
    #[error("the graph has a cycle")]
    Cycle,
    #[error("edge {from} → {to} names a node that does not exist")]
    UnknownNode { from: String, to: String },
}

/// Compiles a (validated) graph. Tasks come in topological order of their
/// nodes, smallest id first among equals, so equal graphs give equal DAGs.
pub fn compile(graph: &ProcessGraph) -> Result<Dag, CompileError> {
    let ids: BTreeSet<&str> = graph.nodes.iter().map(|n| n.id.as_str()).collect_set();
    let mut adjacency: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    let mut upstream: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for edge in &graph.edges {
        if !ids.contains(edge.from.as_str()) || !ids.contains(edge.to.as_str()) {
            return Err(CompileError::UnknownNode {
                from: edge.from.clone(),
                to: edge.to.clone(),
            });
        }
        if edge.from == edge.to {
            return Err(CompileError::Cycle);
        }
        adjacency
            .entry(edge.from.as_str())
            .or_default()
            .insert(edge.to.as_str());
        upstream
            .entry(edge.to.as_str())
            .or_default()
            .insert(edge.from.as_str());
    }
    let order =
        crate::graph_algo::topological_order(&ids, &adjacency).ok_or(CompileError::Cycle)?;

    let mut tasks = Vec::with_capacity(order.len() * 2 + 2);
    tasks.push(DagTask {
        key: ENTRY.into(),
        kind: TaskKind::Entry,
        node: None,
        depends_on: vec![],
    });
    for id in &order {
        let depends_on = match upstream.get(id) {
            Some(ups) => ups.iter().map(|u| watch_key(u)).collect(),
            None => vec![TaskKey::from(ENTRY)],
        };
        tasks.push(DagTask {
            key: submit_key(id),
            kind: TaskKind::Submit,
            node: Some(id.to_string()),
            depends_on,
        });
        tasks.push(DagTask {
            key: watch_key(id),
            kind: TaskKind::Watch,
            node: Some(id.to_string()),
            depends_on: vec![submit_key(id)],
        });
    }
    // PExit always runs and follows every watch, like `finally`.
    let mut exit_deps: Vec<TaskKey> = order.iter().map(|id| watch_key(id)).collect();
    if exit_deps.is_empty() {
        exit_deps.push(TaskKey::from(ENTRY));
    }
    exit_deps.sort();
    tasks.push(DagTask {
        key: EXIT.into(),
        kind: TaskKind::Exit,
        node: None,
        depends_on: exit_deps,
    });
    Ok(Dag { tasks })
}
