//! What a process declares it takes when it runs: its parameters. Part of the
//! graph, so each version freezes, hashes and diffs them.

use super::text_enum::text_enum;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// One declared parameter of a process.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ProcessParam {
    /// `[a-z][a-z0-9_]{0,63}`, unique in the process; nodes refer to it as
    /// `{{ params.<name> }}`.
    // No pattern in the document: a draft may hold a name being typed
    // (its `problems` say what is wrong); publishing checks it.
    pub name: String,
    #[serde(rename = "type")]
    pub kind: ParamType,
    /// The allowed values of an `enum` parameter.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
    /// The value a run gets when it does not give one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<serde_json::Value>))]
    pub default: Option<Value>,
    /// A run must give a value (or the parameter must have a default).
    #[serde(default)]
    pub required: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
}

text_enum!(
    /// The type of a process parameter and of a template reference.
    #[derive(Default)]
    ParamType, "parameter type" {
        #[default]
        String => "string",
        Integer => "integer",
        Number => "number",
        Boolean => "boolean",
        /// `YYYY-MM-DD`.
        Date => "date",
        /// RFC 3339, such as `2026-10-01T00:00:00Z`.
        Timestamp => "timestamp",
        Enum => "enum",
    }
);

/// What a run resolved when it started: its built-in values and every node's
/// parameter values as its tasks receive them ("what exactly ran").
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Resolved {
    /// `YYYY-MM-DD`: the fire's date in the schedule's zone; for other runs
    /// the day they were started (UTC).
    pub logical_date: String,
    /// RFC 3339 (UTC): the previous fire of the schedule, or the start time.
    pub data_interval_start: String,
    /// RFC 3339 (UTC): this fire, or the start time.
    pub data_interval_end: String,
    /// The run's parameters with their defaults filled in.
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(value_type = Object))]
    pub params: Map<String, Value>,
    /// Node id → parameter values after every `{{ … }}` was replaced.
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(value_type = Object))]
    pub nodes: BTreeMap<String, Map<String, Value>>,
}
