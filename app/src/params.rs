//! Process parameters at work: the `{{ … }}` references a node's values make
//! to them and to the run's built-ins, the checks the editor and publish run
//! on them, the check of a run's values, and the one resolution a run makes
//! when it starts. Shared by the browser and the server, so both answer in
//! the same words.
//!
//! A reference is replaced once, by data: what a value contains (`{{`, quotes,
//! `;`, a Jinja expression) is never read as a template or a command again.

use crate::api::problem::FieldError;
use crate::types::component::{ComponentType, ParamKind};
use crate::types::graph::ProcessGraph;
use crate::types::params::{ParamType, ProcessParam, Resolved};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// At most this many parameters per process.
pub const MAX_PARAMS: usize = 100;
/// The largest value a run may give one parameter, serialised, in bytes.
pub const MAX_VALUE_BYTES: usize = 64 * 1024;
const MAX_DESCRIPTION: usize = 1_000;

/// A value the run knows without being told.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Builtin {
    LogicalDate,
    DataIntervalStart,
    DataIntervalEnd,
    RunId,
    ProcessName,
    Version,
}

impl Builtin {
    pub const ALL: [Builtin; 6] = [
        Builtin::LogicalDate,
        Builtin::DataIntervalStart,
        Builtin::DataIntervalEnd,
        Builtin::RunId,
        Builtin::ProcessName,
        Builtin::Version,
    ];

    /// How a template names it.
    pub fn path(self) -> &'static str {
        match self {
            Builtin::LogicalDate => "run.logical_date",
            Builtin::DataIntervalStart => "run.data_interval_start",
            Builtin::DataIntervalEnd => "run.data_interval_end",
            Builtin::RunId => "run.id",
            Builtin::ProcessName => "process.name",
            Builtin::Version => "version",
        }
    }

    fn kind(self) -> ParamType {
        match self {
            Builtin::LogicalDate => ParamType::Date,
            Builtin::DataIntervalStart | Builtin::DataIntervalEnd => ParamType::Timestamp,
            Builtin::RunId | Builtin::ProcessName => ParamType::String,
            Builtin::Version => ParamType::Integer,
        }
    }
}

/// What `{{ … }}` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reference<'a> {
    Param(&'a str),
    Builtin(Builtin),
}

impl std::fmt::Display for Reference<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reference::Param(name) => write!(f, "{{{{ params.{name} }}}}"),
            Reference::Builtin(b) => write!(f, "{{{{ {} }}}}", b.path()),
        }
    }
}

/// A parsed template: text and references, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Segment<'a> {
    Text(&'a str),
    Ref(Reference<'a>),
}

/// Whether a value refers to anything (only strings can): it has a
/// `{{ params.… }}`, `{{ run.… }}`, `{{ process.… }}` or `{{ version }}`,
/// well formed or not.
pub fn is_template(value: &Value) -> bool {
    value.as_str().is_some_and(|s| {
        s.contains("{{")
            && parse(s).map_or(true, |segments| {
                segments.iter().any(|x| matches!(x, Segment::Ref(_)))
            })
    })
}

/// Whether the text after `{{` is meant as one of our references. Anything
/// else in double braces (a Jinja expression in an Airflow-bound SQL text,
/// say) is plain text.
fn names_ours(inner: &str) -> bool {
    let inner = inner.trim_start();
    ["params.", "run.", "process.", "version"]
        .iter()
        .any(|ns| inner.starts_with(ns))
}

/// Parses `text` into its segments; the error says what is wrong.
pub fn parse(text: &str) -> Result<Vec<Segment<'_>>, String> {
    let mut out = Vec::new();
    let mut rest = text;
    let mut literal = 0; // bytes of `rest` already known to be text
    while let Some(found) = rest[literal..].find("{{") {
        let open = literal + found;
        let after = &rest[open + 2..];
        if !names_ours(after) {
            literal = open + 2;
            continue;
        }
        if open > 0 {
            out.push(Segment::Text(&rest[..open]));
        }
        let close = after
            .find("}}")
            .ok_or_else(|| "`{{` is not closed by `}}`".to_owned())?;
        let inner = after[..close].trim();
        out.push(Segment::Ref(reference(inner)?));
        rest = &after[close + 2..];
        literal = 0;
    }
    if !rest.is_empty() {
        out.push(Segment::Text(rest));
    }
    Ok(out)
}

fn reference(inner: &str) -> Result<Reference<'_>, String> {
    if let Some(name) = inner.strip_prefix("params.") {
        if is_valid_name(name) {
            return Ok(Reference::Param(name));
        }
    }
    Builtin::ALL
        .into_iter()
        .find(|b| b.path() == inner)
        .map(Reference::Builtin)
        .ok_or_else(|| {
            format!(
                "`{{{{ {inner} }}}}` is not a reference; use `params.<name>`, {}",
                Builtin::ALL
                    .iter()
                    .map(|b| format!("`{}`", b.path()))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
}

/// `[a-z][a-z0-9_]{0,63}`.
pub fn is_valid_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    (1..=64).contains(&name.len())
        && bytes.next().is_some_and(|b| b.is_ascii_lowercase())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Whether a value of type `from` can ever be a valid value of a node
/// parameter of kind `to`; `whole` when the reference is the entire value
/// (otherwise the result is text).
fn fits(from: ParamType, to: &ParamKind, whole: bool) -> bool {
    match to {
        ParamKind::String { .. } | ParamKind::Text { .. } => true,
        _ if !whole => false,
        ParamKind::Enum { .. } => matches!(from, ParamType::String | ParamType::Enum),
        ParamKind::Integer { .. } => from == ParamType::Integer,
        ParamKind::Number { .. } => matches!(from, ParamType::Integer | ParamType::Number),
        ParamKind::Boolean => from == ParamType::Boolean,
    }
}

/// Every problem of the references in node `node`'s value of `param` (of
/// kind `kind`) against the process's declarations.
pub fn check_references(
    node: &str,
    param: &str,
    kind: &ParamKind,
    text: &str,
    declared: &[ProcessParam],
) -> Vec<FieldError> {
    let problem = |code: &str, message: String| FieldError {
        node: Some(node.to_owned()),
        ..FieldError::new(format!("params.{param}"), code, message)
    };
    let segments = match parse(text) {
        Ok(s) => s,
        Err(e) => return vec![problem("template", format!("`{param}`: {e}"))],
    };
    let whole = segments.len() == 1;
    let mut errors = Vec::new();
    for segment in &segments {
        let Segment::Ref(r) = segment else { continue };
        let from = match r {
            Reference::Builtin(b) => b.kind(),
            Reference::Param(name) => match declared.iter().find(|p| p.name == *name) {
                Some(p) => p.kind,
                None => {
                    errors.push(problem(
                        "unknown_reference",
                        format!("`{param}` refers to {r}, but the process declares no parameter `{name}`"),
                    ));
                    continue;
                }
            },
        };
        if !fits(from, kind, whole) {
            let how = if whole { "" } else { " inside other text" };
            errors.push(problem(
                "reference_type",
                format!(
                    "`{param}` is {} but {r} is {}{how}, which can never fit",
                    crate::validate::article(kind.type_name()),
                    crate::validate::article(from.as_str()),
                ),
            ));
        }
    }
    errors
}

/// Every problem of a process's parameter declarations.
pub fn check_declarations(declared: &[ProcessParam]) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if declared.len() > MAX_PARAMS {
        errors.push(FieldError::new(
            "params",
            "too_many",
            format!("a process declares at most {MAX_PARAMS} parameters"),
        ));
    }
    let mut seen = BTreeMap::new();
    for (i, p) in declared.iter().enumerate() {
        let field = |f: &str| format!("params[{i}].{f}");
        if !is_valid_name(&p.name) {
            errors.push(FieldError::new(
                field("name"),
                "invalid_name",
                format!(
                    "parameter name `{}` must be a lowercase letter, then up to 63 lowercase letters, digits or `_`",
                    p.name
                ),
            ));
        } else if let Some(first) = seen.insert(p.name.as_str(), i) {
            errors.push(FieldError::new(
                field("name"),
                "duplicate",
                format!(
                    "parameter `{}` is already declared by params[{first}]",
                    p.name
                ),
            ));
        }
        if p.kind == ParamType::Enum {
            if p.values.is_empty() {
                errors.push(FieldError::new(
                    field("values"),
                    "required",
                    format!("enum parameter `{}` needs its allowed values", p.name),
                ));
            }
            let mut values: Vec<&String> = p.values.iter().collect();
            values.sort();
            if values.windows(2).any(|w| w[0] == w[1]) {
                errors.push(FieldError::new(
                    field("values"),
                    "duplicate",
                    format!("enum parameter `{}` lists a value twice", p.name),
                ));
            }
        } else if !p.values.is_empty() {
            errors.push(FieldError::new(
                field("values"),
                "not_enum",
                format!(
                    "only an enum parameter has values; `{}` is {}",
                    p.name, p.kind
                ),
            ));
        }
        if let Some(default) = p.default.as_ref().filter(|v| !v.is_null()) {
            if let Err(message) = check_value(p, default) {
                errors.push(FieldError::new(
                    field("default"),
                    "type",
                    format!("the default of `{}`: {message}", p.name),
                ));
            }
        }
        if p.description.chars().count() > MAX_DESCRIPTION {
            errors.push(FieldError::new(
                field("description"),
                "too_long",
                format!("a description has at most {MAX_DESCRIPTION} characters"),
            ));
        }
    }
    errors
}

/// Checks one run value against its declaration.
pub fn check_value(p: &ProcessParam, value: &Value) -> Result<(), String> {
    let must = |what: &str| Err(format!("`{}` must be {what}", p.name));
    match p.kind {
        ParamType::String => value
            .as_str()
            .map(|_| ())
            .map_or_else(|| must("a string"), Ok),
        ParamType::Integer if value.as_i64().is_some() => Ok(()),
        ParamType::Integer => must("an integer"),
        ParamType::Number if value.as_f64().is_some() => Ok(()),
        ParamType::Number => must("a number"),
        ParamType::Boolean if value.is_boolean() => Ok(()),
        ParamType::Boolean => must("true or false"),
        ParamType::Date => match value.as_str() {
            Some(s) if is_date(s) => Ok(()),
            _ => must("a date such as 2026-10-01"),
        },
        ParamType::Timestamp => match value.as_str() {
            Some(s) if chrono::DateTime::parse_from_rfc3339(s).is_ok() => Ok(()),
            _ => must("a timestamp such as 2026-10-01T06:00:00Z"),
        },
        ParamType::Enum => match value.as_str() {
            Some(s) if p.values.iter().any(|v| v == s) => Ok(()),
            _ => must(&format!("one of {}", p.values.join(", "))),
        },
    }
}

/// `YYYY-MM-DD`, a day that exists: a date parameter's value, and a date
/// in a dataset's column (the server's schema inference). Read by hand
/// rather than with chrono's format parser, which would bring its whole
/// format-string interpreter into the browser for this one check (issue 24).
pub fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    let number = |from: usize, to: usize| {
        b[from..to].iter().try_fold(0u32, |n, c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && matches!(
            (number(0, 4), number(5, 7), number(8, 10)),
            (Some(y), Some(m), Some(d)) if chrono::NaiveDate::from_ymd_opt(y as i32, m, d).is_some()
        )
}

/// A run's values checked against the declarations, defaults filled in;
/// or every problem, each naming `params.<name>`.
pub fn check_run_params(
    declared: &[ProcessParam],
    given: &Map<String, Value>,
) -> Result<Map<String, Value>, Vec<FieldError>> {
    let mut errors = Vec::new();
    for name in given.keys() {
        if !declared.iter().any(|p| &p.name == name) {
            errors.push(FieldError::new(
                format!("params.{name}"),
                "unknown_param",
                if declared.is_empty() {
                    format!("the process declares no parameters, so `{name}` cannot be given")
                } else {
                    format!(
                        "the process has no parameter `{name}`; it has {}",
                        declared
                            .iter()
                            .map(|p| p.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                },
            ));
        }
    }
    let mut out = Map::new();
    for p in declared {
        let field = format!("params.{}", p.name);
        let value = given
            .get(&p.name)
            .filter(|v| !v.is_null())
            .or(p.default.as_ref().filter(|v| !v.is_null()));
        let Some(value) = value else {
            if p.required {
                errors.push(FieldError::new(
                    field,
                    "required",
                    format!("`{}` is required", p.name),
                ));
            }
            continue;
        };
        let size = serde_json::to_string(value).map_or(0, |s| s.len());
        if size > MAX_VALUE_BYTES {
            errors.push(FieldError::new(
                field,
                "too_large",
                format!(
                    "`{}` is {size} bytes; at most {MAX_VALUE_BYTES} are allowed",
                    p.name
                ),
            ));
        } else if let Err(message) = check_value(p, value) {
            errors.push(FieldError::new(field, "type", message));
        } else {
            out.insert(p.name.clone(), value.clone());
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// What a run knows when it starts, besides its parameters.
pub struct RunFacts<'a> {
    pub run_id: &'a str,
    pub process_name: &'a str,
    pub version: i64,
    pub logical_date: String,
    pub data_interval_start: String,
    pub data_interval_end: String,
}

impl RunFacts<'_> {
    fn builtin(&self, b: Builtin) -> Value {
        match b {
            Builtin::LogicalDate => self.logical_date.clone().into(),
            Builtin::DataIntervalStart => self.data_interval_start.clone().into(),
            Builtin::DataIntervalEnd => self.data_interval_end.clone().into(),
            Builtin::RunId => self.run_id.into(),
            Builtin::ProcessName => self.process_name.into(),
            Builtin::Version => self.version.into(),
        }
    }
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A template's value. A lone reference keeps its value's type where the
/// node's parameter is a number, an integer or a boolean, and is text
/// otherwise (null when it has no value: the node's default then holds);
/// a template of several segments is their text, a missing value empty.
fn fill(
    segments: &[Segment],
    kind: Option<&ParamKind>,
    lookup: impl Fn(&Reference) -> Value,
) -> Value {
    match (segments, kind) {
        (
            [Segment::Ref(r)],
            Some(ParamKind::Integer { .. } | ParamKind::Number { .. } | ParamKind::Boolean),
        ) => lookup(r),
        ([Segment::Ref(r)], _) => match lookup(r) {
            Value::Null => Value::Null,
            v => Value::String(text(&v)),
        },
        (segments, _) => Value::String(
            segments
                .iter()
                .map(|s| match s {
                    Segment::Text(t) => (*t).to_owned(),
                    Segment::Ref(r) => match lookup(r) {
                        Value::Null => String::new(),
                        v => text(&v),
                    },
                })
                .collect(),
        ),
    }
}

/// A resolved value its node's parameter refuses: named by the run
/// parameter it came from (`params.<name>`), or by the node's parameter
/// when it came only from built-ins.
fn refused(
    node: &str,
    name: &str,
    segments: &[Segment],
    resolved: &Value,
    (code, message): (&str, String),
) -> FieldError {
    let first_param = segments.iter().find_map(|s| match s {
        Segment::Ref(Reference::Param(p)) => Some(*p),
        _ => None,
    });
    let field = match first_param {
        Some(p) => format!("params.{p}"),
        None => format!("nodes.{node}.params.{name}"),
    };
    FieldError {
        node: Some(node.to_owned()),
        ..FieldError::new(
            field,
            code,
            format!("node `{node}`, `{name}` = {}: {message}", short(resolved)),
        )
    }
}

/// Resolves every node's values once, for a run with checked `params`
/// (from [`check_run_params`]), and checks each result with its node
/// parameter's own rules. A value that fails names the run parameter it
/// came from (`params.<name>`), or the node's parameter when it came from
/// a built-in.
pub fn resolve(
    graph: &ProcessGraph,
    catalog: &[ComponentType],
    params: Map<String, Value>,
    facts: RunFacts<'_>,
) -> Result<Resolved, Vec<FieldError>> {
    let lookup = |r: &Reference| -> Value {
        match r {
            Reference::Param(p) => params.get(*p).cloned().unwrap_or(Value::Null),
            Reference::Builtin(b) => facts.builtin(*b),
        }
    };
    let mut errors = Vec::new();
    let mut nodes = BTreeMap::new();
    for node in &graph.nodes {
        let component = catalog.iter().find(|c| c.key == node.component);
        let mut values = Map::new();
        for (name, value) in &node.params {
            let spec = component.and_then(|c| c.param(name));
            let Some(segments) = value
                .as_str()
                .filter(|_| is_template(value))
                .and_then(|s| parse(s).ok())
            else {
                values.insert(name.clone(), value.clone());
                continue;
            };
            let resolved = fill(&segments, spec.map(|s| &s.kind), lookup);
            if resolved.is_null() {
                // An optional run parameter left out: the node's own default.
                continue;
            }
            match spec.map(|spec| crate::validate::check_value(spec, &resolved)) {
                Some(Err(why)) => errors.push(refused(&node.id, name, &segments, &resolved, why)),
                _ => {
                    values.insert(name.clone(), resolved);
                }
            }
        }
        nodes.insert(node.id.clone(), values);
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Resolved {
        logical_date: facts.logical_date,
        data_interval_start: facts.data_interval_start,
        data_interval_end: facts.data_interval_end,
        params,
        nodes,
    })
}

/// A value for a message, cut at 80 characters.
fn short(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(80) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text,
    }
}

/// Whether any node value of the graph refers to anything.
pub fn has_references(graph: &ProcessGraph) -> bool {
    graph
        .nodes
        .iter()
        .any(|n| n.params.values().any(is_template))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::graph::Node;
    use serde_json::json;

    fn param(name: &str, kind: ParamType) -> ProcessParam {
        ProcessParam {
            name: name.into(),
            kind,
            values: vec![],
            default: None,
            required: false,
            description: String::new(),
        }
    }

    fn facts() -> RunFacts<'static> {
        RunFacts {
            run_id: "r1",
            process_name: "Daily",
            version: 3,
            logical_date: "2026-10-01".into(),
            data_interval_start: "2026-09-30T00:00:00Z".into(),
            data_interval_end: "2026-10-01T00:00:00Z".into(),
        }
    }

    #[test]
    fn a_date_is_a_day_that_exists_written_yyyy_mm_dd() {
        for ok in ["2026-10-01", "2024-02-29", "0001-01-01"] {
            assert!(is_date(ok), "{ok}");
        }
        for bad in [
            "2026-02-30",
            "2023-02-29",
            "2026-13-01",
            "2026-1-01",
            "2026/10/01",
            "+026-10-01",
            "2026-10-1 ",
            "2026-10-01T00:00",
        ] {
            assert!(!is_date(bad), "{bad}");
        }
    }

    #[test]
    fn templates_parse_into_text_and_references() {
        assert_eq!(
            parse("day={{ run.logical_date }}/{{params.country}}").unwrap(),
            vec![
                Segment::Text("day="),
                Segment::Ref(Reference::Builtin(Builtin::LogicalDate)),
                Segment::Text("/"),
                Segment::Ref(Reference::Param("country")),
            ]
        );
        assert!(parse("{{ params.x").unwrap_err().contains("not closed"));
        assert!(parse("{{ run.nope }}")
            .unwrap_err()
            .contains("not a reference"));
        assert!(parse("{{ params.X }}").is_err());
        // Other double braces are text, as they were before references.
        let jinja = "{{ var.value.get('x') }} and {{";
        assert_eq!(parse(jinja).unwrap(), vec![Segment::Text(jinja)]);
        assert!(!is_template(&Value::from(jinja)));
        assert!(is_template(&Value::from("{{ params.x")));
    }

    #[test]
    fn references_are_checked_against_declarations_and_types() {
        let declared = [
            param("limit", ParamType::Integer),
            param("country", ParamType::String),
        ];
        let int = ParamKind::Integer {
            min: None,
            max: None,
        };
        let text = ParamKind::String {
            pattern: None,
            max_length: None,
        };
        assert!(check_references("n", "p", &int, "{{ params.limit }}", &declared).is_empty());
        assert!(check_references("n", "p", &int, "{{ version }}", &declared).is_empty());
        let e = check_references("n", "p", &int, "{{ params.country }}", &declared);
        assert_eq!(e[0].code, "reference_type");
        assert_eq!(e[0].node.as_deref(), Some("n"));
        assert_eq!(e[0].field, "params.p");
        let e = check_references("n", "p", &int, "x{{ params.limit }}", &declared);
        assert_eq!(e[0].code, "reference_type");
        let e = check_references("n", "p", &text, "{{ params.nope }}", &declared);
        assert_eq!(e[0].code, "unknown_reference");
        assert!(e[0].message.contains("{{ params.nope }}"));
        assert!(check_references(
            "n",
            "p",
            &text,
            "{{ params.limit }}-{{ run.id }}",
            &declared
        )
        .is_empty());
    }

    #[test]
    fn run_values_are_checked_and_defaults_filled() {
        let mut day = param("day", ParamType::Date);
        day.required = true;
        let mut limit = param("limit", ParamType::Integer);
        limit.default = Some(json!(10));
        let mut kind = param("kind", ParamType::Enum);
        kind.values = vec!["a".into(), "b".into()];
        let declared = [day, limit, kind];
        let ok =
            check_run_params(&declared, json!({"day": "2026-02-28"}).as_object().unwrap()).unwrap();
        assert_eq!(Value::Object(ok), json!({"day": "2026-02-28", "limit": 10}));
        let errors = check_run_params(
            &declared,
            json!({"day": "2026-02-30", "limit": 1.5, "kind": "c", "extra": 1})
                .as_object()
                .unwrap(),
        )
        .unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            ["params.extra", "params.day", "params.limit", "params.kind"]
        );
        let missing = check_run_params(&declared, &Map::new()).unwrap_err();
        assert_eq!(missing[0].code, "required");
    }

    #[test]
    fn declarations_are_checked() {
        let mut bad = param("Bad", ParamType::String);
        bad.default = Some(json!(3));
        let e = check_declarations(&[
            bad,
            param("x", ParamType::Enum),
            param("x", ParamType::Date),
        ]);
        let fields: Vec<_> = e.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "params[0].name",
                "params[0].default",
                "params[1].values",
                "params[2].name"
            ]
        );
    }

    fn graph(values: Value) -> ProcessGraph {
        ProcessGraph {
            nodes: vec![Node {
                id: "n".into(),
                component: "fail".into(),
                label: String::new(),
                params: values.as_object().unwrap().clone(),
                position: Default::default(),
            }],
            ..Default::default()
        }
    }

    #[test]
    fn resolution_replaces_once_and_keeps_values_data() {
        let catalog = crate::catalog::builtin();
        let hostile = "'; rm -rf / # {{ params.other }} {% raw %}";
        let g =
            graph(json!({"message": "{{ params.msg }} on {{ run.logical_date }} v{{ version }}"}));
        let params = json!({"msg": hostile}).as_object().unwrap().clone();
        let r = resolve(&g, &catalog, params, facts()).unwrap();
        assert_eq!(
            r.nodes["n"]["message"],
            json!(format!("{hostile} on 2026-10-01 v3"))
        );
    }

    #[test]
    fn a_whole_reference_keeps_its_type_and_bad_values_name_the_parameter() {
        let catalog = crate::catalog::builtin();
        let g = ProcessGraph {
            nodes: vec![Node {
                component: "sleep".into(),
                ..graph(json!({"seconds": "{{ params.wait }}"}))
                    .nodes
                    .remove(0)
            }],
            ..Default::default()
        };
        let ok = resolve(
            &g,
            &catalog,
            json!({"wait": 2}).as_object().unwrap().clone(),
            facts(),
        )
        .unwrap();
        assert_eq!(ok.nodes["n"]["seconds"], json!(2));
        let e = resolve(
            &g,
            &catalog,
            json!({"wait": -5}).as_object().unwrap().clone(),
            facts(),
        )
        .unwrap_err();
        assert_eq!(e[0].field, "params.wait");
        // An optional parameter left out leaves the node's default.
        let none = resolve(&g, &catalog, Map::new(), facts()).unwrap();
        assert!(!none.nodes["n"].contains_key("seconds"));
    }
}
