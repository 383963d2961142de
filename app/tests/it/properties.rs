//! Property tests: random graphs never panic, compilation is deterministic and
//! respects every edge, and a back-edge is always rejected with its cycle.

use crate::support::noops;
use app::types::dag::{compile, submit_key, watch_key};
use app::types::graph::{Edge, ProcessGraph};
use app::types::TaskKey;
use app::validate::{validate_graph, Limits};
use proptest::prelude::*;
use std::collections::HashSet;

fn ids(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("n{i}")).collect()
}

fn graph(n: usize, edges: &[(usize, usize)]) -> ProcessGraph {
    let ids = ids(n);
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let names: Vec<(String, String)> = edges
        .iter()
        .map(|(a, b)| (format!("n{a}"), format!("n{b}")))
        .collect();
    let edge_refs: Vec<(&str, &str)> = names
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    noops(&refs, &edge_refs)
}

/// A random acyclic graph: edges only go from a smaller to a larger index.
fn acyclic() -> impl Strategy<Value = (usize, Vec<(usize, usize)>)> {
    (2usize..40).prop_flat_map(|n| {
        let edge = (0..n - 1).prop_flat_map(move |a| (Just(a), a + 1..n));
        (Just(n), proptest::collection::vec(edge, 0..80))
    })
}

proptest! {
    #[test]
    fn arbitrary_graphs_never_panic(n in 0usize..30, edges in proptest::collection::vec((0usize..35, 0usize..35), 0..60)) {
        let g = graph(n, &edges);
        let _ = validate_graph(&g, &crate::support::catalog(), &Limits::default());
        let _ = compile(&g);
    }

    #[test]
    fn compilation_is_deterministic_and_respects_edges((n, edges) in acyclic()) {
        let mut edges = edges;
        edges.sort();
        edges.dedup();
        let g = graph(n, &edges);
        prop_assert_eq!(validate_graph(&g, &crate::support::catalog(), &Limits::default()), vec![]);
        let dag = compile(&g).unwrap();

        let mut shuffled = g.clone();
        shuffled.nodes.reverse();
        shuffled.edges.reverse();
        prop_assert_eq!(serde_json::to_vec(&dag).unwrap(), serde_json::to_vec(&compile(&shuffled).unwrap()).unwrap());

        let position = |key: &TaskKey| dag.tasks.iter().position(|t| &t.key == key).unwrap();
        for task in &dag.tasks {
            for dep in &task.depends_on {
                prop_assert!(position(dep) < position(&task.key), "{} comes before {}", dep, task.key);
            }
        }
        for Edge { from, to } in &g.edges {
            let c = &dag.tasks[position(&submit_key(to))];
            prop_assert!(c.depends_on.contains(&watch_key(from)));
        }
        prop_assert_eq!(dag.tasks.len(), 2 * n + 2);
    }

    #[test]
    fn a_back_edge_is_rejected_with_its_cycle((n, edges) in acyclic(), pick in any::<prop::sample::Index>()) {
        prop_assume!(!edges.is_empty());
        let (a, b) = edges[pick.index(edges.len())];
        let mut all = edges.clone();
        all.push((b, a));
        all.sort();
        all.dedup();
        let g = graph(n, &all);
        prop_assert!(compile(&g).is_err());
        let errors = validate_graph(&g, &crate::support::catalog(), &Limits::default());
        let cycles: Vec<_> = errors.iter().filter(|e| e.code == "cycle").collect();
        prop_assert!(!cycles.is_empty());
        let edge_set: HashSet<(String, String)> =
            g.edges.iter().map(|e| (e.from.clone(), e.to.clone())).collect();
        for cycle in cycles {
            let path = cycle.path.as_ref().unwrap();
            prop_assert!(path.len() >= 3);
            prop_assert_eq!(path.first(), path.last());
            for pair in path.windows(2) {
                prop_assert!(edge_set.contains(&(pair[0].clone(), pair[1].clone())), "{:?} is an edge", pair);
            }
        }
    }
}
