//! A process graph: component nodes and dependency edges, as the canvas edits
//! it and as a version freezes it.

use super::ids::{ComponentKey, ConnectionId};
use super::params::ProcessParam;
use super::text_enum::text_enum;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ProcessGraph {
    #[serde(default)]
    pub nodes: Vec<Node>,
    #[serde(default)]
    pub edges: Vec<Edge>,
    /// The tenant connection whose EMR cluster runs every node; absent for
    /// the embedded engine (local processes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<String>))]
    pub connection: Option<ConnectionId>,
    /// With a connection: the steps still run on the embedded engine, and
    /// reach the tenant's S3 data (`s3://` sources and destinations) with
    /// the connection's role instead of running on its cluster.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub local_steps: bool,
    /// Who orchestrates the run: absent for Trellis's own engine, `airflow`
    /// for the Airflow deployment the server is configured with (which then
    /// runs the steps on the connection's cluster).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orchestrator: Option<Orchestrator>,
    /// What a run of the process takes; node values refer to them as
    /// `{{ params.<name> }}`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<ProcessParam>,
}

text_enum!(
    /// Who orchestrates a run instead of Trellis's own engine.
    Orchestrator, "orchestrator" {
        Airflow => "airflow",
    }
);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Node {
    /// Stable id, `[A-Za-z0-9_-]{1,64}`, unique in the graph.
    pub id: String,
    /// The catalog key of the node's component type.
    #[cfg_attr(feature = "ssr", schema(value_type = String))]
    pub component: ComponentKey,
    #[serde(default)]
    pub label: String,
    /// Parameter values by name (kept sorted, so serialisation is canonical).
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(value_type = Object))]
    pub params: Map<String, Value>,
    #[serde(default)]
    pub position: Position,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Position {
    pub x: f64,
    pub y: f64,
}

/// `from` must finish before `to` starts.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Edge {
    pub from: String,
    pub to: String,
}

impl ProcessGraph {
    pub fn node(&self, id: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.id == id)
    }

    /// The connection whose EMR cluster runs the steps; `None` when they
    /// run on the embedded engine (with or without a connection for S3).
    pub fn emr_connection(&self) -> Option<&ConnectionId> {
        self.connection.as_ref().filter(|_| !self.local_steps)
    }
}

impl Edge {
    pub fn new(from: impl Into<String>, to: impl Into<String>) -> Self {
        Self {
            from: from.into(),
            to: to.into(),
        }
    }
}

/// Whether `id` is a valid node id: `[A-Za-z0-9_-]{1,64}`.
pub fn is_valid_node_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}
