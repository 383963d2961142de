//! Validation as a user meets it: every problem at once, each naming its node,
//! field and code.

use crate::support::{catalog, node, noops};
use app::api::FieldError;
use app::validate::{validate_graph, Limits};
use serde_json::json;

fn codes(errors: &[FieldError]) -> Vec<(Option<&str>, &str, &str)> {
    errors
        .iter()
        .map(|e| (e.node.as_deref(), e.field.as_str(), e.code.as_str()))
        .collect()
}

fn check(graph: &app::types::graph::ProcessGraph) -> Vec<FieldError> {
    validate_graph(graph, &catalog(), &Limits::default())
}

#[test]
fn a_valid_graph_has_no_problems() {
    let mut graph = noops(&["a", "b", "c"], &[("a", "b"), ("a", "c")]);
    graph.nodes.push(node(
        "check",
        "test.check",
        json!({"dataset": "orders", "rules": "- not_null: id", "max_failures": 3, "ratio": 0.5,
               "strict": true, "mode": "percent"}),
    ));
    assert_eq!(check(&graph), vec![]);
}

#[test]
fn a_cycle_is_reported_with_its_path() {
    let graph = noops(
        &["a", "b", "c", "d"],
        &[("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")],
    );
    let errors = check(&graph);
    assert_eq!(codes(&errors), vec![(Some("a"), "edges", "cycle")]);
    assert_eq!(
        errors[0].path.as_deref(),
        Some(&["a", "b", "c", "a"].map(String::from)[..])
    );
    assert_eq!(errors[0].message, "these nodes form a cycle: a → b → c → a");
}

#[test]
fn two_separate_cycles_are_both_reported() {
    let graph = noops(
        &["a", "b", "x", "y"],
        &[("a", "b"), ("b", "a"), ("y", "x"), ("x", "y")],
    );
    let paths: Vec<_> = check(&graph).into_iter().map(|e| e.path.unwrap()).collect();
    assert_eq!(paths, vec![vec!["a", "b", "a"], vec!["x", "y", "x"]]);
}

#[test]
fn structural_problems_are_all_reported_at_once() {
    let mut graph = noops(
        &["a", "b", "a", "bad id!"],
        &[("a", "a"), ("a", "b"), ("a", "b"), ("b", "ghost")],
    );
    graph.nodes.push(node("z", "no.such.component", json!({})));
    let errors = check(&graph);
    assert_eq!(
        codes(&errors),
        vec![
            (Some("a"), "nodes[2].id", "duplicate_node"),
            (Some("bad id!"), "nodes[3].id", "invalid_id"),
            (Some("z"), "component", "unknown_component"),
            (Some("a"), "edges[0]", "self_loop"),
            (Some("a"), "edges[2]", "duplicate_edge"),
            (None, "edges[3].to", "unknown_node"),
        ]
    );
    assert!(
        errors[5].message.contains("`ghost`"),
        "{}",
        errors[5].message
    );
}

#[test]
fn parameters_are_checked_against_the_schema() {
    let graph = app::types::graph::ProcessGraph {
        connection: None,
        orchestrator: None,
        local_steps: false,
        params: vec![],
        nodes: vec![
            node("missing", "test.check", json!({})),
            node(
                "wrong",
                "test.check",
                json!({"dataset": "Orders!", "rules": 7, "max_failures": 101, "ratio": -0.1,
                       "strict": "yes", "mode": "all", "extra": 1}),
            ),
            node("sleepy", "sleep", json!({"seconds": "ten"})),
            node(
                "fraction",
                "test.check",
                json!({"dataset": "a", "rules": "r", "max_failures": 1.5}),
            ),
        ],
        edges: vec![],
    };
    assert_eq!(
        codes(&check(&graph)),
        vec![
            (Some("missing"), "params.dataset", "required"),
            (Some("missing"), "params.rules", "required"),
            (Some("wrong"), "params.dataset", "pattern"),
            (Some("wrong"), "params.rules", "type"),
            (Some("wrong"), "params.max_failures", "max"),
            (Some("wrong"), "params.ratio", "min"),
            (Some("wrong"), "params.strict", "type"),
            (Some("wrong"), "params.mode", "enum"),
            (Some("wrong"), "params.extra", "unknown_param"),
            (Some("sleepy"), "params.seconds", "type"),
            (Some("fraction"), "params.max_failures", "type"),
        ]
    );
}

#[test]
fn messages_read_well() {
    let graph = app::types::graph::ProcessGraph {
        connection: None,
        orchestrator: None,
        local_steps: false,
        params: vec![],
        nodes: vec![
            node("s", "sleep", json!({"seconds": -1})),
            node("f", "test.check", json!({"rules": ""})),
        ],
        edges: vec![],
    };
    let messages: Vec<_> = check(&graph).into_iter().map(|e| e.message).collect();
    assert_eq!(
        messages,
        vec!["`Seconds` must be at least 0", "`dataset` is required"]
    );
}

#[test]
fn a_parameter_with_a_default_may_be_left_out() {
    let graph = app::types::graph::ProcessGraph {
        connection: None,
        orchestrator: None,
        local_steps: false,
        params: vec![],
        nodes: vec![node("f", "fail", json!({}))],
        edges: vec![],
    };
    assert_eq!(check(&graph), vec![]);
}

#[test]
fn limits_are_enforced() {
    let limits = Limits {
        max_nodes: 2,
        max_edges: 1,
        max_param_bytes: 10,
        max_label_chars: 3,
    };
    let mut graph = noops(&["a", "b", "c"], &[("a", "b"), ("b", "c")]);
    graph.nodes.push(node(
        "long",
        "fail",
        json!({"message": "a message far longer than ten bytes"}),
    ));
    let errors = validate_graph(&graph, &catalog(), &limits);
    assert_eq!(
        codes(&errors),
        vec![
            (None, "nodes", "too_many_nodes"),
            (None, "edges", "too_many_edges"),
            (Some("long"), "label", "too_long"),
            (Some("long"), "params.message", "too_large"),
        ]
    );
}

#[test]
fn component_definitions_are_validated() {
    use app::types::component::{LocalExec, ParamKind, ParamSpec};
    let mut bad = catalog().pop().unwrap();
    bad.key = "Bad Key".into();
    bad.name = " ".into();
    bad.params.push(ParamSpec {
        name: "dataset".into(),
        label: String::new(),
        kind: ParamKind::Integer {
            min: Some(5),
            max: Some(1),
        },
        required: false,
        default: Some(json!("x")),
        help: None,
    });
    bad.local = Some(LocalExec {
        program: "p".into(),
        args: vec!["--in={dataset}".into(), "{nope}".into()],
    });
    // Beyond any real task (and beyond what a timer can hold).
    bad.timeout_seconds = Some(1e300);
    let errors = app::validate::validate_component(&bad);
    let fields: Vec<_> = errors
        .iter()
        .map(|e| (e.field.as_str(), e.code.as_str()))
        .collect();
    assert_eq!(
        fields,
        vec![
            ("key", "invalid_key"),
            ("name", "required"),
            ("timeout_seconds", "max"),
            ("params[6].name", "duplicate_param"),
            ("params[6].min", "range"),
            ("params[6].default", "type"),
            ("local.args", "unknown_param"),
        ]
    );
}

#[test]
fn the_builtin_data_components_flag_bad_rules_and_names_before_publish() {
    let graph = app::types::graph::ProcessGraph {
        connection: None,
        orchestrator: None,
        local_steps: false,
        params: vec![],
        nodes: vec![
            node(
                "check",
                "quality.check",
                json!({"dataset": "orders", "rules": "unique(order_id)\nrange(amount, 10, 1)", "threshold": "lots"}),
            ),
            node(
                "load",
                "ingest.file",
                json!({"source": "a.csv", "dataset": "Orders!"}),
            ),
        ],
        edges: vec![],
    };
    let errors = validate_graph(&graph, &app::catalog::builtin(), &Limits::default());
    assert_eq!(
        codes(&errors),
        vec![
            (Some("check"), "params.rules", "syntax"),
            (Some("check"), "params.threshold", "pattern"),
            (Some("load"), "params.dataset", "pattern"),
        ]
    );
    assert_eq!(
        errors[0].message,
        "`Rules`: line 2, column 1: range: min 10 is above max 1"
    );
}
