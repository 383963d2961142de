//! Diffs between versions: semantic changes apart from cosmetic ones.

use crate::support::{node, noops};
use app::diff::diff;
use app::types::graph::{Edge, Position};
use serde_json::json;

#[test]
fn identical_graphs_have_an_empty_diff() {
    let g = noops(&["a", "b"], &[("a", "b")]);
    assert_eq!(diff(&g, &g), Default::default());
}

#[test]
fn reports_nodes_edges_and_parameters() {
    let mut a = noops(&["keep", "gone"], &[("keep", "gone")]);
    a.nodes.push(node("nap", "sleep", json!({"seconds": 5})));
    let mut b = noops(&["keep", "new"], &[("keep", "new")]);
    b.nodes.push(node("nap", "sleep", json!({"seconds": 10})));

    let d = diff(&a, &b);
    assert_eq!(
        d.nodes_added
            .iter()
            .map(|n| n.id.as_str())
            .collect::<Vec<_>>(),
        ["new"]
    );
    assert_eq!(
        d.nodes_removed
            .iter()
            .map(|n| n.id.as_str())
            .collect::<Vec<_>>(),
        ["gone"]
    );
    assert_eq!(d.nodes_changed.len(), 1);
    let change = &d.nodes_changed[0];
    assert_eq!(change.id, "nap");
    assert_eq!(change.params[0].name, "seconds");
    assert_eq!(change.params[0].old, Some(json!(5)));
    assert_eq!(change.params[0].new, Some(json!(10)));
    assert_eq!(d.edges_added, vec![Edge::new("keep", "new")]);
    assert_eq!(d.edges_removed, vec![Edge::new("keep", "gone")]);
    assert!(d.cosmetic.is_empty());
}

#[test]
fn moves_and_renames_are_cosmetic() {
    let a = noops(&["a"], &[]);
    let mut b = a.clone();
    b.nodes[0].label = "Ingest".into();
    b.nodes[0].position = Position { x: 10.0, y: 20.0 };
    let d = diff(&a, &b);
    assert!(d.is_semantically_empty());
    assert_eq!(d.cosmetic.len(), 1);
    assert_eq!(d.cosmetic[0].label.as_ref().unwrap().new, "Ingest");
    assert_eq!(
        d.cosmetic[0].position.as_ref().unwrap().new,
        Position { x: 10.0, y: 20.0 }
    );
}

#[test]
fn a_parameter_set_or_unset_shows_the_missing_side_as_none() {
    let before = app::types::graph::ProcessGraph {
        nodes: vec![node("f", "fail", json!({}))],
        edges: vec![],
        connection: None,
        orchestrator: None,
        local_steps: false,
        params: vec![],
    };
    let after = app::types::graph::ProcessGraph {
        nodes: vec![node("f", "fail", json!({"message": "x"}))],
        edges: vec![],
        connection: None,
        orchestrator: None,
        local_steps: false,
        params: vec![],
    };
    let d = diff(&before, &after);
    assert_eq!(d.nodes_changed[0].params[0].old, None);
    assert_eq!(d.nodes_changed[0].params[0].new, Some(json!("x")));
    let back = diff(&after, &before);
    assert_eq!(back.nodes_changed[0].params[0].new, None);
}

#[test]
fn a_component_swap_is_a_semantic_change_named_by_its_keys() {
    let a = noops(&["x"], &[]);
    let mut b = a.clone();
    b.nodes[0].component = "sleep".into();
    let d = diff(&a, &b);
    let change = d.nodes_changed[0].component.as_ref().unwrap();
    assert_eq!(
        (change.old.as_str(), change.new.as_str()),
        ("noop", "sleep")
    );
    assert!(d.cosmetic.is_empty());
    // Keys are plain strings on the wire.
    assert_eq!(
        serde_json::to_value(&d.nodes_changed[0]).unwrap(),
        json!({"id": "x", "component": {"old": "noop", "new": "sleep"}, "params": []})
    );
}
