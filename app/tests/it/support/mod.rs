//! Fixtures for the model tests: a catalog with a parameter of every type, and
//! a terse graph builder.

#![allow(dead_code)]

use app::types::component::{ComponentType, ParamKind, ParamSpec};
use app::types::graph::{Edge, Node, Position, ProcessGraph};
use serde_json::{json, Value};

fn spec(name: &str, kind: ParamKind, required: bool) -> ParamSpec {
    ParamSpec {
        name: name.into(),
        label: String::new(),
        kind,
        required,
        default: None,
        help: None,
    }
}

/// The built-in catalog plus `test.check`, which has a parameter of every type.
pub fn catalog() -> Vec<ComponentType> {
    let mut catalog = app::catalog::builtin();
    catalog.push(ComponentType {
        key: "test.check".into(),
        name: "Check".into(),
        category: "Quality".into(),
        description: String::new(),
        icon: String::new(),
        params: vec![
            spec(
                "dataset",
                ParamKind::String {
                    pattern: Some("[a-z_]+".into()),
                    max_length: Some(40),
                },
                true,
            ),
            spec(
                "rules",
                ParamKind::Text {
                    language: Some("yaml".into()),
                    max_length: None,
                },
                true,
            ),
            spec(
                "max_failures",
                ParamKind::Integer {
                    min: Some(0),
                    max: Some(100),
                },
                false,
            ),
            spec(
                "ratio",
                ParamKind::Number {
                    min: Some(0.0),
                    max: Some(1.0),
                },
                false,
            ),
            spec("strict", ParamKind::Boolean, false),
            spec(
                "mode",
                ParamKind::Enum {
                    values: vec!["count".into(), "percent".into()],
                },
                false,
            ),
        ],
        local: None,
        emr: None,
        retries: 0,
        retry_delay_seconds: 5.0,
        timeout_seconds: None,
    });
    catalog
}

pub fn node(id: &str, component: &str, params: Value) -> Node {
    Node {
        id: id.into(),
        component: component.into(),
        label: id.to_uppercase(),
        params: params.as_object().cloned().unwrap_or_default(),
        position: Position { x: 0.0, y: 0.0 },
    }
}

/// A graph of `noop` nodes with the given edges.
pub fn noops(ids: &[&str], edges: &[(&str, &str)]) -> ProcessGraph {
    ProcessGraph {
        connection: None,
        orchestrator: None,
        local_steps: false,
        params: vec![],
        nodes: ids.iter().map(|id| node(id, "noop", json!({}))).collect(),
        edges: edges.iter().map(|(a, b)| Edge::new(*a, *b)).collect(),
    }
}
