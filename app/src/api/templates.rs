//! A tenant's template gallery on the wire: built-in templates (made from
//! the data components, carried by the server) and the tenant's own
//! (published from its processes); a new process starts from one.

use crate::types::graph::ProcessGraph;
use crate::types::ProcessId;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One template of the gallery.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Template {
    /// `builtin-…` for the built-in templates.
    pub id: String,
    pub name: String,
    pub description: String,
    /// Carried by the server (every tenant sees it; nobody deletes it).
    pub builtin: bool,
    /// The graph a new process starts with; its `params` are what "new
    /// from template" asks for.
    pub graph: ProcessGraph,
    /// Who made a tenant's template, and when.
    pub created_by: Option<String>,
    pub created_at: Option<String>,
}

/// `POST …/templates`: a process's draft (or a version) as a template of
/// the tenant.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct NewTemplate {
    #[cfg_attr(feature = "ssr", schema(value_type = String))]
    pub process: ProcessId,
    /// A published version; the draft when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ssr", schema(minimum = 1))]
    pub version: Option<i64>,
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
    #[cfg_attr(feature = "ssr", schema(max_length = 2000))]
    pub description: String,
}

/// `POST …/templates/{template}/processes`: a new process from a template,
/// with values for the template's parameters (they become the process's
/// parameter defaults; a run may still give others).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct UseTemplate {
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
    #[cfg_attr(feature = "ssr", schema(value_type = Object))]
    pub params: Map<String, Value>,
}
