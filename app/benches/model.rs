//! Benchmark: validate + compile a 1,000-node, 2,000-edge process (target
//! < 10 ms). Run: `cargo bench -p app --features ssr --bench model`.

use app::types::dag::compile;
use app::types::graph::{Edge, Node, Position, ProcessGraph};
use app::validate::{validate_graph, Limits};
use serde_json::json;
use std::time::{Duration, Instant};

/// A layered DAG: 1,000 `sleep` nodes, each with two edges to later nodes.
fn big_graph() -> ProcessGraph {
    let n = 1_000;
    let nodes = (0..n)
        .map(|i| Node {
            id: format!("n{i}"),
            component: "sleep".into(),
            label: format!("Step {i}"),
            params: json!({"seconds": i % 60}).as_object().cloned().unwrap(),
            position: Position {
                x: (i % 40) as f64 * 200.0,
                y: (i / 40) as f64 * 120.0,
            },
        })
        .collect();
    let mut edges = Vec::with_capacity(2 * n);
    for i in 0..n {
        for step in [1, 7] {
            if edges.len() < 2_000 {
                let j = (i + step) % n;
                let (a, b) = if i < j { (i, j) } else { (j, i) };
                edges.push(Edge::new(format!("n{a}"), format!("n{b}")));
            }
        }
    }
    edges.sort();
    edges.dedup();
    ProcessGraph {
        nodes,
        edges,
        connection: None,
        orchestrator: None,
        local_steps: false,
        params: vec![],
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let graph = big_graph();
    let catalog = app::catalog::builtin();
    let limits = Limits::default();
    assert!(validate_graph(&graph, &catalog, &limits).is_empty());
    let mut times = Vec::new();
    for _ in 0..200 {
        let start = Instant::now();
        let errors = validate_graph(&graph, &catalog, &limits);
        let dag = compile(&graph).unwrap();
        times.push(start.elapsed());
        assert!(errors.is_empty() && dag.tasks.len() == 2_002);
    }
    times.sort();
    println!(
        "validate+compile {} nodes, {} edges: p50 {:?}, p99 {:?}, max {:?} (200 runs)",
        graph.nodes.len(),
        graph.edges.len(),
        percentile(&times, 0.5),
        percentile(&times, 0.99),
        times.last().unwrap()
    );
}
