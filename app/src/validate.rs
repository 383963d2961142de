//! Validation of process graphs and component types. Returns every problem at
//! once, each with node, field, a stable code and a message; the browser runs
//! this same code on every edit, so it answers in the server's words.

use crate::api::problem::FieldError;
use crate::ordered::CollectOrdered;
use crate::types::component::{ComponentType, ParamKind, ParamSpec};
use crate::types::graph::{is_valid_node_id, ProcessGraph};
use crate::types::params::ProcessParam;
use crate::types::ComponentKey;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Size limits of one process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub max_nodes: usize,
    pub max_edges: usize,
    /// Largest serialised parameter value, in bytes.
    pub max_param_bytes: usize,
    pub max_label_chars: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_nodes: 2_000,
            max_edges: 10_000,
            max_param_bytes: 64 * 1024,
            max_label_chars: 200,
        }
    }
}

fn problem(
    node: Option<&str>,
    field: impl Into<String>,
    code: &str,
    message: impl Into<String>,
) -> FieldError {
    FieldError {
        node: node.map(str::to_owned),
        ..FieldError::new(field, code, message)
    }
}

/// Every problem of `graph` against `catalog`, in a stable order: its size,
/// its nodes (ids, labels, components and their parameters), its declared
/// parameters, its edges, then its cycles.
pub fn validate_graph(
    graph: &ProcessGraph,
    catalog: &[ComponentType],
    limits: &Limits,
) -> Vec<FieldError> {
    let mut errors = check_size(graph, limits);
    check_nodes(graph, catalog, limits, &mut errors);
    errors.extend(crate::params::check_declarations(&graph.params));
    let ids: BTreeSet<&str> = graph.nodes.iter().map(|n| n.id.as_str()).collect_set();
    let adjacency = check_edges(graph, &ids, &mut errors);
    for path in find_cycles(&ids, &adjacency) {
        errors.push(FieldError {
            node: Some(path[0].clone()),
            path: Some(path.clone()),
            ..FieldError::new(
                "edges",
                "cycle",
                format!("these nodes form a cycle: {}", path.join(" → ")),
            )
        });
    }
    errors
}

/// More nodes or edges than a process may have.
fn check_size(graph: &ProcessGraph, limits: &Limits) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (field, code, count, max) in [
        (
            "nodes",
            "too_many_nodes",
            graph.nodes.len(),
            limits.max_nodes,
        ),
        (
            "edges",
            "too_many_edges",
            graph.edges.len(),
            limits.max_edges,
        ),
    ] {
        if count > max {
            errors.push(problem(
                None,
                field,
                code,
                format!("a process has at most {max} {field}; this one has {count}"),
            ));
        }
    }
    errors
}

/// Each node: a valid, unique id, a label within its length, a component of
/// the catalog and that component's parameters.
fn check_nodes(
    graph: &ProcessGraph,
    catalog: &[ComponentType],
    limits: &Limits,
    errors: &mut Vec<FieldError>,
) {
    let by_key: HashMap<&ComponentKey, &ComponentType> =
        catalog.iter().map(|c| (&c.key, c)).collect();
    let mut seen = HashMap::new();
    for (i, node) in graph.nodes.iter().enumerate() {
        let id = node.id.as_str();
        if !is_valid_node_id(id) {
            errors.push(problem(
                Some(id),
                format!("nodes[{i}].id"),
                "invalid_id",
                format!("node id `{id}` must be 1 to 64 letters, digits, `_` or `-`"),
            ));
        }
        if let Some(first) = seen.insert(id, i) {
            errors.push(problem(
                Some(id),
                format!("nodes[{i}].id"),
                "duplicate_node",
                format!("node id `{id}` is already used by nodes[{first}]"),
            ));
        }
        if node.label.chars().count() > limits.max_label_chars {
            errors.push(problem(
                Some(id),
                "label",
                "too_long",
                format!("a label has at most {} characters", limits.max_label_chars),
            ));
        }
        match by_key.get(&node.component) {
            None => errors.push(problem(
                Some(id),
                "component",
                "unknown_component",
                format!("there is no component `{}` in the catalog", node.component),
            )),
            Some(component) => {
                check_params(id, &node.params, component, &graph.params, limits, errors)
            }
        }
    }
}

/// Each edge: both ends exist, not a self-loop, not a repeat. Answers the
/// usable edges as adjacency, for the cycle check.
fn check_edges<'g>(
    graph: &'g ProcessGraph,
    ids: &BTreeSet<&str>,
    errors: &mut Vec<FieldError>,
) -> BTreeMap<&'g str, BTreeSet<&'g str>> {
    let mut adjacency: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    let mut edges_seen = HashMap::new();
    for (i, edge) in graph.edges.iter().enumerate() {
        let mut usable = true;
        for (end, id) in [("from", &edge.from), ("to", &edge.to)] {
            if !ids.contains(id.as_str()) {
                usable = false;
                errors.push(problem(
                    None,
                    format!("edges[{i}].{end}"),
                    "unknown_node",
                    format!(
                        "edge {} → {} refers to a node `{id}` that does not exist",
                        edge.from, edge.to
                    ),
                ));
            }
        }
        if edge.from == edge.to {
            usable = false;
            errors.push(problem(
                Some(&edge.from),
                format!("edges[{i}]"),
                "self_loop",
                format!("node `{}` cannot depend on itself", edge.from),
            ));
        }
        if let Some(first) = edges_seen.insert((&edge.from, &edge.to), i) {
            errors.push(problem(
                Some(&edge.from),
                format!("edges[{i}]"),
                "duplicate_edge",
                format!("edge {} → {} repeats edges[{first}]", edge.from, edge.to),
            ));
        }
        if usable {
            adjacency
                .entry(edge.from.as_str())
                .or_default()
                .insert(edge.to.as_str());
        }
    }
    adjacency
}

fn check_params(
    node: &str,
    values: &serde_json::Map<String, Value>,
    component: &ComponentType,
    declared: &[ProcessParam],
    limits: &Limits,
    errors: &mut Vec<FieldError>,
) {
    for spec in &component.params {
        let field = format!("params.{}", spec.name);
        match values.get(&spec.name) {
            None | Some(Value::Null) => {
                if spec.required && spec.default.is_none() {
                    errors.push(problem(
                        Some(node),
                        field,
                        "required",
                        format!("`{}` is required", spec.label_or_name()),
                    ));
                }
            }
            Some(value) => {
                let size = serde_json::to_string(value).map(|s| s.len()).unwrap_or(0);
                if size > limits.max_param_bytes {
                    errors.push(problem(
                        Some(node),
                        field,
                        "too_large",
                        format!(
                            "`{}` is {size} bytes; at most {} are allowed",
                            spec.name, limits.max_param_bytes
                        ),
                    ));
                } else if let Some(text) =
                    value.as_str().filter(|_| crate::params::is_template(value))
                {
                    // Checked again, resolved, when a run starts.
                    errors.extend(crate::params::check_references(
                        node, &spec.name, &spec.kind, text, declared,
                    ));
                } else if let Err((code, message)) = check_value(spec, value) {
                    errors.push(problem(Some(node), field, code, message));
                }
            }
        }
    }
    for name in values.keys() {
        if component.param(name).is_none() {
            errors.push(problem(
                Some(node),
                format!("params.{name}"),
                "unknown_param",
                format!("component `{}` has no parameter `{name}`", component.key),
            ));
        }
    }
}

impl ParamSpec {
    fn label_or_name(&self) -> &str {
        if self.label.is_empty() {
            &self.name
        } else {
            &self.label
        }
    }
}

/// Checks one value against its parameter's type and constraints.
pub fn check_value(spec: &ParamSpec, value: &Value) -> Result<(), (&'static str, String)> {
    let name = spec.label_or_name();
    let wrong_type = || {
        (
            "type",
            format!("`{name}` must be {}", article(spec.kind.type_name())),
        )
    };
    match &spec.kind {
        ParamKind::String {
            pattern,
            max_length,
        } => {
            let s = value.as_str().ok_or_else(wrong_type)?;
            check_length(name, s, *max_length)?;
            if let Some(pattern) = pattern {
                let re = regex_lite::Regex::new(&format!("^(?:{pattern})$")).map_err(|_| {
                    (
                        "pattern",
                        format!("`{name}` has an invalid pattern in the catalog"),
                    )
                })?;
                if !re.is_match(s) {
                    return Err((
                        "pattern",
                        format!("`{name}` must match the pattern {pattern}"),
                    ));
                }
            }
        }
        ParamKind::Text {
            max_length,
            language,
        } => {
            let s = value.as_str().ok_or_else(wrong_type)?;
            check_length(name, s, *max_length)?;
            if language.as_deref() == Some(crate::rules::LANGUAGE) {
                crate::rules::parse(s).map_err(|e| ("syntax", format!("`{name}`: {e}")))?;
            }
        }
        ParamKind::Integer { min, max } => {
            check_range(name, value.as_i64().ok_or_else(wrong_type)?, *min, *max)?;
        }
        ParamKind::Number { min, max } => {
            check_range(name, value.as_f64().ok_or_else(wrong_type)?, *min, *max)?;
        }
        ParamKind::Boolean => {
            value.as_bool().ok_or_else(wrong_type)?;
        }
        ParamKind::Enum { values } => {
            let s = value.as_str().ok_or_else(wrong_type)?;
            if !values.iter().any(|v| v == s) {
                return Err((
                    "enum",
                    format!("`{name}` must be one of {}", values.join(", ")),
                ));
            }
        }
    }
    Ok(())
}

fn check_range<T: PartialOrd + std::fmt::Display>(
    name: &str,
    n: T,
    min: Option<T>,
    max: Option<T>,
) -> Result<(), (&'static str, String)> {
    if let Some(min) = min.filter(|m| n < *m) {
        return Err(("min", format!("`{name}` must be at least {min}")));
    }
    if let Some(max) = max.filter(|m| n > *m) {
        return Err(("max", format!("`{name}` must be at most {max}")));
    }
    Ok(())
}

fn check_length(name: &str, s: &str, max: Option<usize>) -> Result<(), (&'static str, String)> {
    match max {
        Some(max) if s.chars().count() > max => Err((
            "max_length",
            format!("`{name}` has at most {max} characters"),
        )),
        _ => Ok(()),
    }
}

pub(crate) fn article(type_name: &str) -> String {
    match type_name {
        "integer" | "enum" => format!("an {type_name}"),
        _ => format!("a {type_name}"),
    }
}

/// One cycle per strongly connected component of more than one node, each as
/// a path that starts and ends at the component's smallest node id.
fn find_cycles(
    ids: &BTreeSet<&str>,
    adjacency: &BTreeMap<&str, BTreeSet<&str>>,
) -> Vec<Vec<String>> {
    crate::graph_algo::strongly_connected(ids, adjacency)
        .into_iter()
        .filter(|scc| scc.len() > 1)
        .map(|scc| crate::graph_algo::cycle_through(scc[0], &scc, adjacency))
        .collect()
}

/// The longest a component's work may run before it is stopped.
pub const MAX_TIMEOUT_SECONDS: f64 = 7.0 * 24.0 * 3600.0;

/// Every problem of a catalog entry: key, parameter names and constraints,
/// defaults, and templates that name parameters the entry does not have.
pub fn validate_component(component: &ComponentType) -> Vec<FieldError> {
    let mut errors = check_identity(component);
    errors.extend(check_execution(component));
    let names = check_param_specs(&component.params, &mut errors);
    errors.extend(check_templates(component, &names));
    errors
}

/// The key's form; a name and a category.
fn check_identity(component: &ComponentType) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let key = component.key.as_str();
    let key_ok = (1..=64).contains(&key.len())
        && key
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.-".contains(&b));
    if !key_ok {
        errors.push(FieldError::new(
            "key",
            "invalid_key",
            "a key is 1 to 64 of a-z, 0-9, `_`, `.` or `-`",
        ));
    }
    for (field, value) in [("name", &component.name), ("category", &component.category)] {
        if value.trim().is_empty() {
            errors.push(FieldError::new(
                field,
                "required",
                format!("`{field}` is required"),
            ));
        }
    }
    errors
}

/// Retries, their delay and the timeout within their bounds.
fn check_execution(component: &ComponentType) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if component.retries > 10 {
        errors.push(FieldError::new(
            "retries",
            "max",
            "a component is retried at most 10 times",
        ));
    }
    if !(0.0..=3600.0).contains(&component.retry_delay_seconds) {
        errors.push(FieldError::new(
            "retry_delay_seconds",
            "range",
            "the retry delay is 0 to 3600 seconds",
        ));
    }
    match component.timeout_seconds {
        Some(t) if t.is_nan() || t <= 0.0 => errors.push(FieldError::new(
            "timeout_seconds",
            "min",
            "a timeout is more than 0 seconds",
        )),
        Some(t) if t > MAX_TIMEOUT_SECONDS => errors.push(FieldError::new(
            "timeout_seconds",
            "max",
            "a timeout is at most 7 days (604800 seconds)",
        )),
        _ => {}
    }
    errors
}

/// Each declared parameter: a valid, unique name, a range that is not
/// inverted, an enum with values, a pattern that compiles, a default its
/// own type accepts. Answers the names declared.
fn check_param_specs<'c>(
    specs: &'c [ParamSpec],
    errors: &mut Vec<FieldError>,
) -> BTreeSet<&'c str> {
    let mut names = BTreeSet::new();
    for (i, spec) in specs.iter().enumerate() {
        let field = format!("params[{i}]");
        let name_ok = !spec.name.is_empty()
            && spec.name.len() <= 64
            && spec
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !name_ok {
            errors.push(FieldError::new(
                format!("{field}.name"),
                "invalid_name",
                "a parameter name is 1 to 64 letters, digits or `_`",
            ));
        }
        if !names.insert(spec.name.as_str()) {
            errors.push(FieldError::new(
                format!("{field}.name"),
                "duplicate_param",
                format!("parameter `{}` is declared twice", spec.name),
            ));
        }
        let inverted = match &spec.kind {
            ParamKind::Integer {
                min: Some(a),
                max: Some(b),
            } => a > b,
            ParamKind::Number {
                min: Some(a),
                max: Some(b),
            } => a > b,
            _ => false,
        };
        if inverted {
            errors.push(FieldError::new(
                format!("{field}.min"),
                "range",
                "min is greater than max",
            ));
        }
        match &spec.kind {
            ParamKind::Enum { values } if values.is_empty() => errors.push(FieldError::new(
                format!("{field}.values"),
                "required",
                "an enum needs at least one value",
            )),
            ParamKind::String {
                pattern: Some(p), ..
            } if regex_lite::Regex::new(p).is_err() => errors.push(FieldError::new(
                format!("{field}.pattern"),
                "pattern",
                format!("`{p}` is not a valid regular expression"),
            )),
            _ => {}
        }
        if let Some(default) = &spec.default {
            if let Err((code, message)) = check_value(spec, default) {
                errors.push(FieldError::new(format!("{field}.default"), code, message));
            }
        }
    }
    names
}

/// The local and EMR argument templates name only declared parameters.
fn check_templates(component: &ComponentType, names: &BTreeSet<&str>) -> Vec<FieldError> {
    let templates = component
        .local
        .iter()
        .flat_map(|l| l.args.iter().map(|a| ("local.args", a)))
        .chain(
            component
                .emr
                .iter()
                .flat_map(|e| e.args.iter().map(|a| ("emr.args", a))),
        );
    let mut errors = Vec::new();
    for (field, arg) in templates {
        for name in template_names(arg) {
            if !names.contains(name) {
                errors.push(FieldError::new(
                    field,
                    "unknown_param",
                    format!("`{{{name}}}` in `{arg}` names no parameter of this component"),
                ));
            }
        }
    }
    errors
}

/// The `{name}` references of a template argument.
pub fn template_names(arg: &str) -> impl Iterator<Item = &str> {
    arg.split('{')
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name))
}
