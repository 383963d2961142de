//! Processes, versions and the catalog on the wire (DESIGN.md's wire shapes).

use crate::api::FieldError;
use crate::diff::GraphDiff;
use crate::types::dag::Dag;
use crate::types::graph::ProcessGraph;
use crate::types::text_enum::text_enum;
use crate::types::{ConnectionId, ProcessId, RunState};
use serde::{Deserialize, Serialize};

/// `POST …/processes`
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CreateProcess {
    /// 1 to 200 characters, not only spaces.
    #[cfg_attr(
        feature = "ssr",
        schema(
            min_length = 1,
            max_length = 200,
            pattern = r"[^\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
        )
    )]
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub graph: ProcessGraph,
}

/// `PUT …/processes/{process}`: replaces the draft if `revision` is current.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct UpdateProcess {
    pub revision: i64,
    #[serde(default)]
    #[cfg_attr(
        feature = "ssr",
        schema(
            min_length = 1,
            max_length = 200,
            pattern = r"[^\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
        )
    )]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub graph: Option<ProcessGraph>,
}

/// `POST …/processes/{process}/copy`: a new process with the draft's (or a
/// version's) graph, in the same tenant or another the caller edits.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CopyProcess {
    /// The copy's name: 1 to 200 characters, not only spaces.
    #[cfg_attr(
        feature = "ssr",
        schema(
            min_length = 1,
            max_length = 200,
            pattern = r"[^\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
        )
    )]
    pub name: String,
    /// The tenant (slug) to copy into, where the caller is an editor; the
    /// process's own when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// Copy this published version's graph; the draft's when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ssr", schema(minimum = 1))]
    pub version: Option<i64>,
    /// The destination's connection the copy runs on. Required when a
    /// process that runs on a connection is copied into another tenant
    /// (connections belong to their tenant).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<String>))]
    pub connection: Option<ConnectionId>,
}

/// The identifier of a process definition file's format, its `format` field.
pub const DEFINITION_FORMAT: &str = "trellis.process/v1";

/// A process definition as exported and imported (JSON or YAML): what a
/// process is, without where it lives or its history. The same definition
/// always exports as the same bytes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Definition {
    /// Always `trellis.process/v1`.
    #[cfg_attr(feature = "ssr", schema(pattern = r"^trellis\.process/v1$"))]
    pub format: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub graph: ProcessGraph,
}

text_enum!(
    /// The file format of an exported definition.
    DefinitionFormat, "definition format" {
        Json => "json",
        Yaml => "yaml",
    }
);

/// A process with its draft.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Process {
    #[cfg_attr(feature = "ssr", schema(value_type = String))]
    pub id: ProcessId,
    pub name: String,
    pub description: String,
    /// The draft graph.
    pub graph: ProcessGraph,
    /// Bumped by every draft write; send it back with the next `PUT`.
    pub revision: i64,
    pub created_by: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub archived: bool,
    pub latest_version: Option<i64>,
    pub last_run_state: Option<RunState>,
    /// What would stop the draft from being published, as publish would say it.
    pub problems: Vec<FieldError>,
}

/// One row of the process list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ProcessSummary {
    #[cfg_attr(feature = "ssr", schema(value_type = String))]
    pub id: ProcessId,
    pub name: String,
    pub description: String,
    pub revision: i64,
    pub updated_at: String,
    pub archived: bool,
    pub latest_version: Option<i64>,
    pub last_run_state: Option<RunState>,
}

/// `POST …/processes/{process}/versions`
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PublishRequest {
    /// At most 2000 characters.
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(max_length = 2000))]
    pub message: String,
}

/// An immutable, numbered version with its compiled DAG.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Version {
    pub number: i64,
    pub content_hash: String,
    pub message: String,
    pub created_by: Option<String>,
    pub created_at: String,
    pub graph: ProcessGraph,
    pub dag: Dag,
    /// The definitions of the components it uses, frozen when it was
    /// published (empty for versions from before components were frozen).
    #[serde(default)]
    pub components: Vec<crate::types::component::ComponentType>,
    /// For a process orchestrated by Airflow: its DAG file's deployment.
    #[serde(default)]
    pub deployment: Option<Deployment>,
}

text_enum!(
    /// Where a version's Airflow DAG file is: uploaded and `deploying` until
    /// Airflow has parsed it (`ready`: runnable) or refused it (`failed`).
    DeployState, "deployment state" {
        Deploying => "deploying",
        Ready => "ready",
        Failed => "failed",
        /// Superseded by a later version and idle: its DAG file removed
        /// from the bucket and its DAG paused in Airflow.
        Retired => "retired",
    }
);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Deployment {
    pub state: DeployState,
    /// The DAG's id in Airflow.
    pub dag_id: String,
    /// Airflow's import error (`failed`), or why readiness cannot be
    /// checked yet (`deploying`).
    pub error: Option<String>,
    pub uploaded_at: String,
    pub updated_at: String,
}

/// One row of the version list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct VersionSummary {
    pub number: i64,
    pub content_hash: String,
    pub message: String,
    pub created_by: Option<String>,
    pub created_at: String,
    /// How many runs this version has had.
    #[serde(default)]
    pub runs: i64,
    /// The connection whose EMR cluster runs it; absent for the embedded engine.
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<String>))]
    pub connection: Option<ConnectionId>,
    #[serde(default)]
    pub deployment: Option<Deployment>,
}

/// `GET …/versions/{a}/diff/{b}`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct VersionDiff {
    pub from: i64,
    pub to: i64,
    #[serde(flatten)]
    pub diff: GraphDiff,
    /// Components whose frozen definitions differ (a catalog edit picked up
    /// by publishing again).
    #[serde(default)]
    pub components_changed: Vec<crate::diff::ComponentChange>,
}
