//! Auto-layout of a graph on the canvas.

use super::{LAYER_GAP, NODE_HEIGHT, NODE_WIDTH, ROW_GAP};
use crate::ordered::CollectOrdered;
use crate::types::graph::{Position, ProcessGraph};
use std::collections::{BTreeMap, HashMap, VecDeque};

/// A layered left-to-right layout: a node's layer is the longest path to it
/// from a source; within a layer nodes are ordered by the mean row of their
/// predecessors (then by id), which keeps most edges short and uncrossed.
pub fn layout(graph: &ProcessGraph) -> ProcessGraph {
    let mut preds: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let mut succs: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let mut indegree: BTreeMap<&str, usize> =
        graph.nodes.iter().map(|n| (n.id.as_str(), 0)).collect_map();
    for e in &graph.edges {
        if indegree.contains_key(e.from.as_str()) && indegree.contains_key(e.to.as_str()) {
            preds.entry(&e.to).or_default().push(&e.from);
            succs.entry(&e.from).or_default().push(&e.to);
            *indegree.get_mut(e.to.as_str()).expect("checked") += 1;
        }
    }
    // Kahn's order; nodes left on a cycle (which validation reports) go last.
    let mut layer: BTreeMap<&str, usize> = BTreeMap::new();
    let mut ready: VecDeque<&str> = indegree
        .iter()
        .filter(|(_, d)| **d == 0)
        .map(|(id, _)| *id)
        .collect();
    while let Some(id) = ready.pop_front() {
        let l = preds
            .get(id)
            .into_iter()
            .flatten()
            .filter_map(|p| layer.get(p))
            .map(|l| l + 1)
            .max()
            .unwrap_or(0);
        layer.insert(id, l);
        for s in succs.get(id).into_iter().flatten() {
            let d = indegree.get_mut(s).expect("known node");
            *d -= 1;
            if *d == 0 {
                ready.push_back(s);
            }
        }
    }
    let deepest = layer.values().max().map_or(0, |l| l + 1);
    for n in &graph.nodes {
        layer.entry(n.id.as_str()).or_insert(deepest);
    }
    let mut layers: BTreeMap<usize, Vec<&str>> = BTreeMap::new();
    for (id, l) in &layer {
        layers.entry(*l).or_default().push(id);
    }
    let mut row: HashMap<&str, f64> = HashMap::new();
    for ids in layers.values_mut() {
        let key = |id: &str| {
            let rows: Vec<f64> = preds
                .get(id)
                .into_iter()
                .flatten()
                .filter_map(|p| row.get(p))
                .copied()
                .collect();
            if rows.is_empty() {
                f64::MAX
            } else {
                rows.iter().sum::<f64>() / rows.len() as f64
            }
        };
        ids.sort_by(|a, b| key(a).total_cmp(&key(b)).then(a.cmp(b)));
        for (i, id) in ids.iter().enumerate() {
            row.insert(id, i as f64);
        }
    }
    let mut out = graph.clone();
    for n in &mut out.nodes {
        let l = layer[n.id.as_str()] as f64;
        n.position = Position {
            x: l * (NODE_WIDTH + LAYER_GAP),
            y: row[n.id.as_str()] * (NODE_HEIGHT + ROW_GAP),
        };
    }
    out
}
