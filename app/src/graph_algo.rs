//! Graph algorithms over node ids, iterative so that deep graphs cannot
//! overflow the (small, in WASM) stack. Neighbours are visited in id order,
//! which makes every result deterministic.

use crate::ordered::CollectOrdered;
use std::collections::{BTreeMap, BTreeSet, HashMap};

type Adjacency<'a> = BTreeMap<&'a str, BTreeSet<&'a str>>;

/// Tarjan's strongly connected components; each component sorted by id.
pub fn strongly_connected<'a>(
    ids: &BTreeSet<&'a str>,
    adjacency: &Adjacency<'a>,
) -> Vec<Vec<&'a str>> {
    let empty = BTreeSet::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut low: HashMap<&str, usize> = HashMap::new();
    let mut on_stack = BTreeSet::new();
    let mut stack = Vec::new();
    let mut components = Vec::new();
    let mut next = 0;

    for &root in ids {
        if index.contains_key(root) {
            continue;
        }
        // (node, iterator over its successors)
        let mut work = vec![(root, adjacency.get(root).unwrap_or(&empty).iter())];
        index.insert(root, next);
        low.insert(root, next);
        next += 1;
        stack.push(root);
        on_stack.insert(root);
        while let Some((node, successors)) = work.last_mut() {
            let node = *node;
            if let Some(&succ) = successors.next() {
                if !index.contains_key(succ) {
                    index.insert(succ, next);
                    low.insert(succ, next);
                    next += 1;
                    stack.push(succ);
                    on_stack.insert(succ);
                    work.push((succ, adjacency.get(succ).unwrap_or(&empty).iter()));
                } else if on_stack.contains(succ) {
                    let l = low[node].min(index[succ]);
                    low.insert(node, l);
                }
                continue;
            }
            work.pop();
            if let Some((parent, _)) = work.last() {
                let l = low[parent].min(low[node]);
                low.insert(parent, l);
            }
            if low[node] == index[node] {
                let mut component = Vec::new();
                while let Some(member) = stack.pop() {
                    on_stack.remove(member);
                    component.push(member);
                    if member == node {
                        break;
                    }
                }
                component.sort_unstable();
                components.push(component);
            }
        }
    }
    components.sort();
    components
}

/// A cycle inside the strongly connected `component`, from `start` back to it.
pub fn cycle_through(start: &str, component: &[&str], adjacency: &Adjacency<'_>) -> Vec<String> {
    let members: BTreeSet<&str> = component.iter().copied().collect_set();
    let empty = BTreeSet::new();
    // Depth-first search for an edge back to `start`, keeping the current path.
    let mut path = vec![start];
    let mut visited = [start].into_iter().collect_set();
    let mut work = vec![adjacency.get(start).unwrap_or(&empty).iter()];
    while let Some(successors) = work.last_mut() {
        match successors.next() {
            Some(&succ) if succ == start => {
                let mut cycle: Vec<String> = path.iter().map(|s| s.to_string()).collect();
                cycle.push(start.to_string());
                return cycle;
            }
            Some(&succ) if members.contains(succ) && visited.insert(succ) => {
                path.push(succ);
                work.push(adjacency.get(succ).unwrap_or(&empty).iter());
            }
            Some(_) => {}
            None => {
                work.pop();
                path.pop();
            }
        }
    }
    // Unreachable for a true strongly connected component of two or more nodes.
    vec![start.to_string(), start.to_string()]
}

/// Kahn's topological order, smallest ready id first; `None` on a cycle.
pub fn topological_order<'a>(
    ids: &BTreeSet<&'a str>,
    adjacency: &Adjacency<'a>,
) -> Option<Vec<&'a str>> {
    let mut indegree: BTreeMap<&str, usize> = ids.iter().map(|id| (*id, 0)).collect_map();
    for successors in adjacency.values() {
        for succ in successors {
            *indegree.get_mut(succ)? += 1;
        }
    }
    let mut ready: BTreeSet<&str> = indegree
        .iter()
        .filter(|(_, d)| **d == 0)
        .map(|(id, _)| *id)
        .collect_set();
    let mut order = Vec::with_capacity(ids.len());
    while let Some(node) = ready.pop_first() {
        order.push(node);
        for succ in adjacency.get(node).into_iter().flatten() {
            let d = indegree.get_mut(succ)?;
            *d -= 1;
            if *d == 0 {
                ready.insert(succ);
            }
        }
    }
    (order.len() == ids.len()).then_some(order)
}
