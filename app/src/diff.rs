//! The difference between two versions' graphs: semantic changes (components,
//! parameters, edges) apart from cosmetic ones (labels, positions).

use crate::ordered::CollectOrdered;
use crate::types::component::ComponentType;
use crate::types::graph::{Edge, Node, Position, ProcessGraph};
use crate::types::params::ProcessParam;
use crate::types::ComponentKey;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct GraphDiff {
    pub nodes_added: Vec<Node>,
    pub nodes_removed: Vec<Node>,
    /// Nodes in both whose component or parameters differ.
    pub nodes_changed: Vec<NodeChange>,
    pub edges_added: Vec<Edge>,
    pub edges_removed: Vec<Edge>,
    /// Nodes in both whose label or position differ.
    pub cosmetic: Vec<CosmeticChange>,
    /// The process's declared parameters, when they differ.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<Change<Vec<ProcessParam>>>,
}

/// A component whose frozen definition differs between two versions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ComponentChange {
    #[cfg_attr(feature = "ssr", schema(value_type = String))]
    pub key: ComponentKey,
    /// `None` when that version does not use it (or froze nothing).
    pub old: Option<ComponentType>,
    pub new: Option<ComponentType>,
}

/// The components whose definitions differ between two versions' frozen
/// snapshots, by key.
pub fn component_changes(a: &[ComponentType], b: &[ComponentType]) -> Vec<ComponentChange> {
    let old: BTreeMap<&ComponentKey, &ComponentType> = a.iter().map(|c| (&c.key, c)).collect_map();
    let new: BTreeMap<&ComponentKey, &ComponentType> = b.iter().map(|c| (&c.key, c)).collect_map();
    let keys: BTreeSet<&ComponentKey> = old.keys().chain(new.keys()).copied().collect_set();
    keys.into_iter()
        .filter(|k| old.get(k) != new.get(k))
        .map(|k| ComponentChange {
            key: k.clone(),
            old: old.get(k).map(|c| (*c).clone()),
            new: new.get(k).map(|c| (*c).clone()),
        })
        .collect()
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct NodeChange {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<Change<String>>))]
    pub component: Option<Change<ComponentKey>>,
    pub params: Vec<ParamChange>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ParamChange {
    pub name: String,
    /// `None` when the parameter was not set on that side.
    #[cfg_attr(feature = "ssr", schema(value_type = Option<serde_json::Value>))]
    pub old: Option<Value>,
    #[cfg_attr(feature = "ssr", schema(value_type = Option<serde_json::Value>))]
    pub new: Option<Value>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Change<T> {
    pub old: T,
    pub new: T,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CosmeticChange {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<Change<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<Change<Position>>,
}

impl GraphDiff {
    /// Whether the two graphs would run the same way.
    pub fn is_semantically_empty(&self) -> bool {
        self.nodes_added.is_empty()
            && self.nodes_removed.is_empty()
            && self.nodes_changed.is_empty()
            && self.edges_added.is_empty()
            && self.edges_removed.is_empty()
            && self.params.is_none()
    }
}

fn change<T: PartialEq + Clone>(old: &T, new: &T) -> Option<Change<T>> {
    (old != new).then(|| Change {
        old: old.clone(),
        new: new.clone(),
    })
}

/// What changed from `a` to `b`; every list sorted by node id / edge.
pub fn diff(a: &ProcessGraph, b: &ProcessGraph) -> GraphDiff {
    let old: BTreeMap<&str, &Node> = a.nodes.iter().map(|n| (n.id.as_str(), n)).collect_map();
    let new: BTreeMap<&str, &Node> = b.nodes.iter().map(|n| (n.id.as_str(), n)).collect_map();
    let mut out = GraphDiff {
        params: change(&a.params, &b.params),
        ..GraphDiff::default()
    };

    for (id, node) in &new {
        let Some(before) = old.get(id) else {
            out.nodes_added.push((*node).clone());
            continue;
        };
        let names: BTreeSet<&String> = before.params.keys().chain(node.params.keys()).collect_set();
        let params: Vec<ParamChange> = names
            .into_iter()
            .filter(|name| before.params.get(*name) != node.params.get(*name))
            .map(|name| ParamChange {
                name: name.clone(),
                old: before.params.get(name).cloned(),
                new: node.params.get(name).cloned(),
            })
            .collect();
        let component = change(&before.component, &node.component);
        if component.is_some() || !params.is_empty() {
            out.nodes_changed.push(NodeChange {
                id: id.to_string(),
                component,
                params,
            });
        }
        let label = change(&before.label, &node.label);
        let position = change(&before.position, &node.position);
        if label.is_some() || position.is_some() {
            out.cosmetic.push(CosmeticChange {
                id: id.to_string(),
                label,
                position,
            });
        }
    }
    out.nodes_removed = old
        .iter()
        .filter(|(id, _)| !new.contains_key(*id))
        .map(|(_, n)| (*n).clone())
        .collect();

    let old_edges: BTreeSet<&Edge> = a.edges.iter().collect_set();
    let new_edges: BTreeSet<&Edge> = b.edges.iter().collect_set();
    out.edges_added = new_edges
        .difference(&old_edges)
        .map(|e| (*e).clone())
        .collect();
    out.edges_removed = old_edges
        .difference(&new_edges)
        .map(|e| (*e).clone())
        .collect();
    out
}
