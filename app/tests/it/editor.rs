//! The canvas editor's model, driven as the view drives it.

use app::editor::{layout, Action, Editor, Outcome, Rect, NODE_WIDTH};
use app::types::graph::{Edge, Position, ProcessGraph};
use proptest::prelude::*;
use serde_json::json;

fn add(e: &mut Editor, component: &str, x: f64, y: f64) -> String {
    assert_eq!(
        e.apply(Action::AddNode {
            component: component.into(),
            at: Position { x, y },
            params: Default::default(),
        }),
        Outcome::Changed
    );
    e.selection.nodes.iter().next().unwrap().clone()
}

fn connect(e: &mut Editor, from: &str, to: &str) -> Outcome {
    e.apply(Action::Connect {
        from: from.into(),
        to: to.into(),
    })
}

fn edges(e: &Editor) -> Vec<(String, String)> {
    e.graph
        .edges
        .iter()
        .map(|x| (x.from.clone(), x.to.clone()))
        .collect()
}

fn pipeline() -> (Editor, [String; 3]) {
    let mut e = Editor::default();
    let a = add(&mut e, "ingest.file", 0.0, 0.0);
    let b = add(&mut e, "quality.check", 300.0, 0.0);
    let c = add(&mut e, "export.file", 600.0, 0.0);
    assert_eq!(connect(&mut e, &a, &b), Outcome::Changed);
    assert_eq!(connect(&mut e, &b, &c), Outcome::Changed);
    (e, [a, b, c])
}

#[test]
fn nodes_get_readable_unique_ids_and_are_selected() {
    let (e, [a, b, c]) = pipeline();
    assert_eq!(
        [a.as_str(), b.as_str(), c.as_str()],
        ["ingest_file_1", "quality_check_1", "export_file_1"]
    );
    let mut e = e;
    let again = add(&mut e, "ingest.file", 0.0, 200.0);
    assert_eq!(again, "ingest_file_2");
    assert_eq!(e.selection.nodes.len(), 1);
    assert_eq!(e.changes, 6);
}

#[test]
fn a_connection_that_closes_a_cycle_is_refused_and_changes_nothing() {
    let (mut e, [a, _, c]) = pipeline();
    let before = e.graph.clone();
    assert_eq!(
        connect(&mut e, &c, &a),
        Outcome::Refused(
            "connecting export_file_1 → ingest_file_1 would create a cycle: \
             ingest_file_1 → quality_check_1 → export_file_1 → ingest_file_1"
                .into()
        )
    );
    assert_eq!(
        connect(&mut e, &a, &a),
        Outcome::Refused("a node cannot depend on itself".into())
    );
    assert_eq!(
        connect(&mut e, &a, "quality_check_1"),
        Outcome::Refused("ingest_file_1 → quality_check_1 is already connected".into())
    );
    assert_eq!(
        connect(&mut e, &a, "ghost"),
        Outcome::Refused("both ends of a connection must be nodes".into())
    );
    assert_eq!(e.graph, before);
    assert_eq!(
        connect(&mut e, &a, &c),
        Outcome::Changed,
        "a shortcut is no cycle"
    );
}

#[test]
fn undo_and_redo_walk_the_history() {
    let (mut e, [a, b, _]) = pipeline();
    let full = e.graph.clone();
    e.apply(Action::SelectNode {
        id: b.clone(),
        additive: false,
    });
    assert_eq!(e.apply(Action::DeleteSelection), Outcome::Changed);
    assert_eq!(e.graph.nodes.len(), 2);
    assert!(
        e.graph.edges.is_empty(),
        "edges of a deleted node go with it"
    );
    assert_eq!(e.apply(Action::Undo), Outcome::Changed);
    assert_eq!(e.graph, full);
    assert_eq!(e.apply(Action::Redo), Outcome::Changed);
    assert_eq!(e.graph.nodes.len(), 2);
    e.apply(Action::Undo);

    // A drag is one step however many moves it has.
    e.apply(Action::SelectNode {
        id: a.clone(),
        additive: false,
    });
    e.apply(Action::BeginMove);
    for _ in 0..10 {
        assert_eq!(
            e.apply(Action::MoveBy {
                node: a.clone(),
                dx: 5.0,
                dy: 1.0
            }),
            Outcome::Viewed
        );
    }
    assert_eq!(e.apply(Action::EndMove), Outcome::Changed);
    assert_eq!(
        e.graph.node(&a).unwrap().position,
        Position { x: 50.0, y: 10.0 }
    );
    e.apply(Action::Undo);
    assert_eq!(e.graph, full);

    // A new change forgets what could be redone.
    e.apply(Action::SetParam {
        node: a.clone(),
        name: "dataset".into(),
        value: Some(json!("orders")),
    });
    e.apply(Action::Undo);
    e.apply(Action::SetLabel {
        node: a.clone(),
        label: "Orders".into(),
    });
    assert!(!e.can_redo());
    assert_eq!(e.apply(Action::Redo), Outcome::Unchanged);
    while e.can_undo() {
        e.apply(Action::Undo);
    }
    assert!(e.graph.nodes.is_empty());
}

#[test]
fn process_parameters_are_declared_edited_and_removed_as_undoable_draft_changes() {
    use app::types::params::ParamType;
    use app::validate::{validate_graph, Limits};
    let mut e = Editor::default();
    let sleep = add(&mut e, "sleep", 0.0, 0.0);
    assert_eq!(e.apply(Action::AddProcessParam), Outcome::Changed);
    assert_eq!(e.apply(Action::AddProcessParam), Outcome::Changed);
    let names: Vec<&str> = e.graph.params.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["param_1", "param_2"]);

    let mut wait = e.graph.params[0].clone();
    wait.name = "wait".into();
    wait.kind = ParamType::Number;
    wait.default = Some(json!(1));
    assert_eq!(
        e.apply(Action::SetProcessParam {
            index: 0,
            param: wait.clone()
        }),
        Outcome::Changed
    );
    assert_eq!(
        e.apply(Action::SetProcessParam {
            index: 0,
            param: wait.clone()
        }),
        Outcome::Unchanged,
        "the same declaration again is no change"
    );
    e.apply(Action::SetParam {
        node: sleep.clone(),
        name: "seconds".into(),
        value: Some(json!("{{ params.wait }}")),
    });
    let catalog = app::catalog::builtin();
    let problems = validate_graph(&e.graph, &catalog, &Limits::default());
    assert!(problems.is_empty(), "{problems:?}");

    // Renaming the declaration leaves the node's reference dangling, and the
    // shared validation says so on the node's field.
    wait.name = "pause".into();
    e.apply(Action::SetProcessParam {
        index: 0,
        param: wait,
    });
    let problems = validate_graph(&e.graph, &catalog, &Limits::default());
    assert!(
        problems
            .iter()
            .any(|p| p.node.as_deref() == Some(sleep.as_str())
                && p.field == "params.seconds"
                && p.code == "unknown_reference"),
        "{problems:?}"
    );
    e.apply(Action::Undo);

    assert_eq!(
        e.apply(Action::RemoveProcessParam { index: 1 }),
        Outcome::Changed
    );
    assert_eq!(
        e.apply(Action::RemoveProcessParam { index: 5 }),
        Outcome::Unchanged
    );
    assert_eq!(e.graph.params.len(), 1);
    assert_eq!(e.graph.params[0].name, "wait");
    e.apply(Action::Undo);
    assert_eq!(e.graph.params.len(), 2);
    // A bad name is the draft's to keep; validation names the field.
    let mut bad = e.graph.params[1].clone();
    bad.name = "Bad name".into();
    e.apply(Action::SetProcessParam {
        index: 1,
        param: bad,
    });
    let problems = validate_graph(&e.graph, &catalog, &Limits::default());
    assert!(
        problems.iter().any(|p| p.field == "params[1].name"),
        "{problems:?}"
    );
}

#[test]
fn paste_copies_nodes_and_the_edges_among_them_with_new_ids() {
    let (mut e, [a, b, c]) = pipeline();
    e.apply(Action::SetParam {
        node: a.clone(),
        name: "dataset".into(),
        value: Some(json!("orders")),
    });
    e.apply(Action::SelectNode {
        id: a.clone(),
        additive: false,
    });
    e.apply(Action::SelectNode {
        id: b.clone(),
        additive: true,
    });
    assert_eq!(e.apply(Action::Copy), Outcome::Viewed);
    assert_eq!(
        e.apply(Action::Paste {
            dx: 20.0,
            dy: 200.0
        }),
        Outcome::Changed
    );
    assert_eq!(e.graph.nodes.len(), 5);
    let pasted: Vec<&String> = e.selection.nodes.iter().collect();
    assert_eq!(pasted, ["ingest_file_2", "quality_check_2"]);
    assert!(edges(&e).contains(&("ingest_file_2".into(), "quality_check_2".into())));
    assert!(
        !edges(&e)
            .iter()
            .any(|(f, t)| f == "quality_check_2" && t == &c),
        "edges leaving the copy are not copied"
    );
    let copy = e.graph.node("ingest_file_2").unwrap();
    assert_eq!(copy.position, Position { x: 20.0, y: 200.0 });
    assert_eq!(copy.params["dataset"], json!("orders"));
    e.apply(Action::Undo);
    assert_eq!(e.graph.nodes.len(), 3);
    assert!(
        e.selection.nodes.is_empty(),
        "the selection forgets what undo removed"
    );
}

#[test]
fn rubber_band_selects_what_it_touches() {
    let (mut e, [a, b, c]) = pipeline();
    e.apply(Action::SelectRect {
        rect: Rect::spanning((-10.0, -10.0), (310.0, 10.0)),
        additive: false,
    });
    assert_eq!(
        e.selection.nodes,
        [a.clone(), b.clone()].into_iter().collect()
    );
    e.apply(Action::SelectRect {
        rect: Rect::spanning((1000.0, 1000.0), (590.0, 30.0)),
        additive: true,
    });
    assert!(e.selection.nodes.contains(&c));
    assert_eq!(e.selection.nodes.len(), 3);
    e.apply(Action::SelectEdge {
        edge: Edge::new(a.clone(), b.clone()),
        additive: false,
    });
    assert!(e.selection.nodes.is_empty());
    e.apply(Action::DeleteSelection);
    assert_eq!(edges(&e), [(b, c)]);
}

#[test]
fn zoom_keeps_the_pointer_still_and_fit_shows_everything() {
    let (mut e, _) = pipeline();
    let before = e.viewport.to_canvas(400.0, 300.0);
    e.apply(Action::Zoom {
        factor: 1.5,
        x: 400.0,
        y: 300.0,
    });
    let after = e.viewport.to_canvas(400.0, 300.0);
    assert!((before.0 - after.0).abs() < 1e-9 && (before.1 - after.1).abs() < 1e-9);
    e.apply(Action::Zoom {
        factor: 100.0,
        x: 0.0,
        y: 0.0,
    });
    assert_eq!(e.viewport.zoom, app::editor::MAX_ZOOM);
    e.apply(Action::Pan { dx: 40.0, dy: 0.0 });

    e.apply(Action::FitToView {
        width: 400.0,
        height: 300.0,
    });
    let bounds = e.bounds().unwrap();
    let (x0, y0) = e.viewport.to_screen(bounds.x, bounds.y);
    let (x1, y1) = e
        .viewport
        .to_screen(bounds.x + bounds.width, bounds.y + bounds.height);
    assert!(
        x0 >= 0.0 && y0 >= 0.0 && x1 <= 400.0 && y1 <= 300.0,
        "{x0} {y0} {x1} {y1}"
    );
    assert!(x1 - x0 > 300.0, "it fills the width");
}

#[test]
fn auto_layout_puts_every_edge_left_to_right_in_one_undo_step() {
    let mut e = Editor::default();
    let ids: Vec<String> = (0..5)
        .map(|i| add(&mut e, "noop", 0.0, i as f64 * 10.0))
        .collect();
    for (f, t) in [(0, 2), (1, 2), (2, 3), (0, 4)] {
        connect(&mut e, &ids[f], &ids[t]);
    }
    let before = e.graph.clone();
    assert_eq!(e.apply(Action::AutoLayout), Outcome::Changed);
    let x = |id: &str| e.graph.node(id).unwrap().position.x;
    for edge in &e.graph.edges {
        assert!(x(&edge.from) + NODE_WIDTH < x(&edge.to), "{edge:?}");
    }
    assert_eq!(x(&ids[0]), 0.0);
    assert_eq!(x(&ids[3]), 2.0 * (NODE_WIDTH + app::editor::LAYER_GAP));
    assert_eq!(e.apply(Action::AutoLayout), Outcome::Unchanged);
    e.apply(Action::Undo);
    assert_eq!(e.graph, before);
}

#[derive(Clone, Debug)]
enum Step {
    Add(u8),
    Connect(u8, u8),
    Select(u8),
    Delete,
    Move(u8, i8),
    Copy,
    Paste,
    Undo,
    Redo,
    Layout,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0u8..3).prop_map(Step::Add),
        (0u8..12, 0u8..12).prop_map(|(a, b)| Step::Connect(a, b)),
        (0u8..12).prop_map(Step::Select),
        Just(Step::Delete),
        (0u8..12, any::<i8>()).prop_map(|(n, d)| Step::Move(n, d)),
        Just(Step::Copy),
        Just(Step::Paste),
        Just(Step::Undo),
        Just(Step::Redo),
        Just(Step::Layout),
    ]
}

proptest! {
    /// Whatever a user does, the graph stays acyclic with no dangling edge,
    /// and undoing everything gives back the empty graph.
    #[test]
    fn any_sequence_keeps_the_graph_sound(steps in proptest::collection::vec(step(), 1..60)) {
        let mut e = Editor::default();
        let id = |e: &Editor, n: u8| e.graph.nodes.get(n as usize % e.graph.nodes.len().max(1)).map(|x| x.id.clone());
        for s in steps {
            match s {
                Step::Add(c) => { add(&mut e, ["noop", "sleep", "ingest.file"][c as usize], 0.0, 0.0); }
                Step::Connect(a, b) => if let (Some(a), Some(b)) = (id(&e, a), id(&e, b)) { connect(&mut e, &a, &b); },
                Step::Select(n) => if let Some(n) = id(&e, n) { e.apply(Action::SelectNode { id: n, additive: true }); },
                Step::Delete => { e.apply(Action::DeleteSelection); }
                Step::Move(n, d) => if let Some(n) = id(&e, n) { e.apply(Action::MoveBy { node: n, dx: d as f64, dy: 1.0 }); },
                Step::Copy => { e.apply(Action::Copy); }
                Step::Paste => { e.apply(Action::Paste { dx: 10.0, dy: 10.0 }); }
                Step::Undo => { e.apply(Action::Undo); }
                Step::Redo => { e.apply(Action::Redo); }
                Step::Layout => { e.apply(Action::AutoLayout); }
            }
            let ids: std::collections::BTreeSet<&str> = e.graph.nodes.iter().map(|n| n.id.as_str()).collect();
            prop_assert_eq!(ids.len(), e.graph.nodes.len(), "ids are unique");
            for edge in &e.graph.edges {
                prop_assert!(ids.contains(edge.from.as_str()) && ids.contains(edge.to.as_str()));
                prop_assert!(e.path(&edge.to, &edge.from).is_none(), "cycle through {:?}", edge);
            }
            for n in &e.selection.nodes {
                prop_assert!(ids.contains(n.as_str()));
            }
        }
        while e.can_undo() {
            e.apply(Action::Undo);
        }
        prop_assert_eq!(e.graph, ProcessGraph::default());
    }
}

#[test]
fn layout_leaves_a_graph_with_a_cycle_usable() {
    let mut graph = ProcessGraph::default();
    for id in ["a", "b", "c"] {
        graph.nodes.push(app::types::graph::Node {
            id: id.into(),
            component: "noop".into(),
            label: String::new(),
            params: Default::default(),
            position: Position::default(),
        });
    }
    graph.edges = vec![
        Edge::new("a", "b"),
        Edge::new("b", "a"),
        Edge::new("a", "c"),
    ];
    let laid = layout(&graph);
    let positions: std::collections::BTreeSet<(i64, i64)> = laid
        .nodes
        .iter()
        .map(|n| (n.position.x as i64, n.position.y as i64))
        .collect();
    assert_eq!(positions.len(), 3, "no two nodes on one spot");
}

#[test]
fn where_a_process_runs_is_one_undoable_choice_and_local_steps_need_a_connection() {
    let (mut e, _) = pipeline();
    let set = |e: &mut Editor, connection: Option<&str>, local_steps: bool| {
        e.apply(Action::SetRunsOn {
            connection: connection.map(Into::into),
            orchestrator: None,
            local_steps,
        })
    };
    assert_eq!(set(&mut e, Some("prod"), true), Outcome::Changed);
    assert!(e.graph.local_steps);
    assert_eq!(e.graph.emr_connection(), None);
    assert_eq!(
        e.graph.connection.as_ref().map(|c| c.as_str()),
        Some("prod")
    );
    assert_eq!(set(&mut e, Some("prod"), true), Outcome::Unchanged);
    assert_eq!(set(&mut e, Some("prod"), false), Outcome::Changed);
    assert_eq!(e.graph.emr_connection().map(|c| c.as_str()), Some("prod"));
    // Without a connection there is nothing for the steps to reach S3 with.
    assert_eq!(set(&mut e, None, true), Outcome::Changed);
    assert!(!e.graph.local_steps && e.graph.connection.is_none());
    assert_eq!(e.apply(Action::Undo), Outcome::Changed);
    assert_eq!(e.graph.emr_connection().map(|c| c.as_str()), Some("prod"));
    // A graph without the choice reads as before, and writes nothing new.
    let plain = serde_json::to_value(&e.graph).unwrap();
    assert!(plain.get("local_steps").is_none(), "{plain}");
    let parsed: ProcessGraph =
        serde_json::from_value(json!({"connection": "prod", "local_steps": true})).unwrap();
    assert!(parsed.local_steps && parsed.emr_connection().is_none());
}
