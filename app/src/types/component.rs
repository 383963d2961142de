//! Component types: the catalog entries nodes are made of, with their typed
//! parameter schema and how they execute (locally and as an EMR step).

use super::ids::ComponentKey;
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ComponentType {
    /// Catalog key such as `ingest.file`: `[a-z0-9_.-]{1,64}`.
    #[cfg_attr(feature = "ssr", schema(value_type = String, pattern = r"^[a-z0-9_.-]{1,64}$"))]
    pub key: ComponentKey,
    /// Not blank.
    #[cfg_attr(feature = "ssr", schema(pattern = r"\S"))]
    pub name: String,
    /// Not blank.
    #[cfg_attr(feature = "ssr", schema(pattern = r"\S"))]
    pub category: String,
    #[serde(default)]
    pub description: String,
    /// Name of the icon the canvas shows.
    #[serde(default)]
    pub icon: String,
    #[serde(default)]
    pub params: Vec<ParamSpec>,
    /// How it runs on the embedded engine; `None` when it cannot run locally.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local: Option<LocalExec>,
    /// How it runs on a tenant's EMR cluster; `None` when it cannot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emr: Option<EmrStepTemplate>,
    /// How often a failed run of it is tried again (0 to 10).
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(maximum = 10))]
    pub retries: u32,
    /// Wait before the first retry; each further retry waits twice as long.
    #[serde(default = "default_retry_delay")]
    #[cfg_attr(feature = "ssr", schema(minimum = 0, maximum = 3600))]
    pub retry_delay_seconds: f64,
    /// A run of it that takes longer is killed and fails. The platform's
    /// task timeout caps it, and applies when it is unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ssr", schema(exclusive_minimum = 0, maximum = 604800))]
    pub timeout_seconds: Option<f64>,
}

fn default_retry_delay() -> f64 {
    5.0
}

/// One typed parameter of a component.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ParamSpec {
    /// 1 to 64 letters, digits or `_`; unique in the component.
    #[cfg_attr(feature = "ssr", schema(pattern = r"^[A-Za-z0-9_]{1,64}$"))]
    pub name: String,
    #[serde(default)]
    pub label: String,
    #[serde(flatten)]
    pub kind: ParamKind,
    #[serde(default)]
    pub required: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<serde_json::Value>))]
    pub default: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
}

/// A parameter's type and the constraints that go with it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ParamKind {
    String {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pattern: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_length: Option<usize>,
    },
    /// Multi-line text such as SQL; `language` is a hint for the editor.
    Text {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        language: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_length: Option<usize>,
    },
    Integer {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min: Option<i64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max: Option<i64>,
    },
    Number {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min: Option<f64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max: Option<f64>,
    },
    Boolean,
    Enum {
        #[cfg_attr(feature = "ssr", schema(min_items = 1))]
        values: Vec<String>,
    },
}

/// A local program and its argv; `{name}` in an argument is replaced by the
/// parameter's value. Never run through a shell.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct LocalExec {
    pub program: String,
    #[serde(default)]
    pub args: Vec<String>,
}

/// An EMR step (`HadoopJarStep`) whose `args` reference parameters as `{name}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct EmrStepTemplate {
    pub jar: String,
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default = "default_action_on_failure")]
    pub action_on_failure: String,
}

fn default_action_on_failure() -> String {
    "CONTINUE".into()
}

impl ComponentType {
    pub fn param(&self, name: &str) -> Option<&ParamSpec> {
        self.params.iter().find(|p| p.name == name)
    }
}

impl ParamKind {
    /// The type's name as users see it in messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            ParamKind::String { .. } => "string",
            ParamKind::Text { .. } => "text",
            ParamKind::Integer { .. } => "integer",
            ParamKind::Number { .. } => "number",
            ParamKind::Boolean => "boolean",
            ParamKind::Enum { .. } => "enum",
        }
    }
}
