//! Ordered sets and maps built by inserting, not by `collect()`.
//!
//! `collect()` into a `BTreeSet` or `BTreeMap` first sorts its input, with a
//! stable merge sort compiled anew for every element type: about 3 KB of
//! browser code per type, for some thirty types (issue 24's size profile).
//! (`BTreeSet::from([x])` sorts its array the same way.)
//! Inserting one by one gives the same set or map (a map keeps the last value
//! given for a key, as `collect()` does) through the tree's own insert, which
//! every such type has already. Code the browser runs builds its ordered
//! sets and maps with these; the handful of elements it holds make the sort's
//! speed irrelevant.

use std::collections::BTreeSet;

/// `collect_set()` and `collect_map()` on any iterator.
pub trait CollectOrdered: Iterator + Sized {
    /// The items as a `BTreeSet`.
    fn collect_set(self) -> BTreeSet<Self::Item>
    where
        Self::Item: Ord,
    {
        let mut set = BTreeSet::new();
        set.extend(self);
        set
    }

    /// The pairs as a map: a `BTreeMap`, or serde_json's `Map` (a
    /// `BTreeMap` too); a key given twice keeps its last value.
    fn collect_map<M: Default + Extend<Self::Item>>(self) -> M {
        let mut map = M::default();
        map.extend(self);
        map
    }
}

impl<I: Iterator> CollectOrdered for I {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn the_same_as_collect_including_repeated_keys() {
        let pairs = [("b", 1), ("a", 2), ("b", 3)];
        let collected: BTreeMap<&str, i32> = pairs.iter().copied().collect();
        assert_eq!(
            pairs.iter().copied().collect_map::<BTreeMap<_, _>>(),
            collected
        );
        assert_eq!(collected["b"], 3);
        let words = ["c", "a", "c", "b"];
        let set: BTreeSet<&str> = words.iter().copied().collect();
        assert_eq!(words.iter().copied().collect_set(), set);
    }
}
