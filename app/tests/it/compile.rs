//! The DAG compiler: shape, determinism, and golden files. Regenerate the
//! golden files on purpose with `UPDATE_GOLDEN=1` and review the diff.

use crate::support::noops;
use app::types::dag::{compile, CompileError, Dag};
use app::types::{TaskKey, TaskKind};
use std::path::Path;

fn golden(name: &str, dag: &Dag) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(format!("{name}.json"));
    let actual = serde_json::to_string_pretty(dag).unwrap() + "\n";
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &actual).unwrap();
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("missing {}; run with UPDATE_GOLDEN=1", path.display()));
    assert_eq!(
        actual, expected,
        "{name}: compiled DAG differs from the golden file"
    );
}

fn deps<'a>(dag: &'a Dag, key: &str) -> Vec<&'a str> {
    let task = dag
        .tasks
        .iter()
        .find(|t| t.key == key)
        .unwrap_or_else(|| panic!("no task {key}"));
    task.depends_on.iter().map(TaskKey::as_str).collect()
}

#[test]
fn a_chain_compiles_to_entry_submit_watch_exit() {
    let dag = compile(&noops(&["ingest", "check"], &[("ingest", "check")])).unwrap();
    let keys: Vec<_> = dag.tasks.iter().map(|t| (t.key.as_str(), t.kind)).collect();
    assert_eq!(
        keys,
        vec![
            ("PEntry", TaskKind::Entry),
            ("C_ingest", TaskKind::Submit),
            ("W_ingest", TaskKind::Watch),
            ("C_check", TaskKind::Submit),
            ("W_check", TaskKind::Watch),
            ("PExit", TaskKind::Exit),
        ]
    );
    assert_eq!(deps(&dag, "C_ingest"), vec!["PEntry"]);
    assert_eq!(deps(&dag, "W_ingest"), vec!["C_ingest"]);
    assert_eq!(
        deps(&dag, "C_check"),
        vec!["W_ingest"],
        "an edge a → b becomes W_a → C_b"
    );
    assert_eq!(
        deps(&dag, "PExit"),
        vec!["W_check", "W_ingest"],
        "PExit follows every watch"
    );
    golden("chain", &dag);
}

#[test]
fn a_diamond_joins_on_both_branches() {
    let graph = noops(
        &["d", "b", "a", "c"],
        &[("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")],
    );
    let dag = compile(&graph).unwrap();
    assert_eq!(deps(&dag, "C_d"), vec!["W_b", "W_c"]);
    golden("diamond", &dag);
}

#[test]
fn an_empty_process_still_enters_and_exits() {
    let dag = compile(&noops(&[], &[])).unwrap();
    assert_eq!(deps(&dag, "PExit"), vec!["PEntry"]);
    golden("empty", &dag);
}

#[test]
fn node_and_edge_order_do_not_change_the_output() {
    let a = noops(&["x", "y", "z", "w"], &[("x", "y"), ("z", "y"), ("y", "w")]);
    let b = noops(&["w", "z", "y", "x"], &[("y", "w"), ("z", "y"), ("x", "y")]);
    let (a, b) = (compile(&a).unwrap(), compile(&b).unwrap());
    assert_eq!(
        serde_json::to_vec(&a).unwrap(),
        serde_json::to_vec(&b).unwrap()
    );
}

#[test]
fn cycles_and_dangling_edges_do_not_compile() {
    assert_eq!(
        compile(&noops(&["a", "b"], &[("a", "b"), ("b", "a")])),
        Err(CompileError::Cycle)
    );
    assert!(matches!(
        compile(&noops(&["a"], &[("a", "zz")])),
        Err(CompileError::UnknownNode { .. })
    ));
}
