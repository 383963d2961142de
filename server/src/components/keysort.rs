//! Finding repeated keys in more rows than fit in memory: (hash, row) pairs
//! are sorted in runs of bounded size, spilled to disk, and merged.

use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};

/// Entries per sorted run: 1 Mi × 24 bytes = 24 MiB.
const RUN_ENTRIES: usize = 1 << 20;
const ENTRY_BYTES: usize = 24;

/// Finds rows whose key hashes repeat, with memory bounded by `RUN_ENTRIES`:
/// (hash, row) pairs are sorted in runs, spilled to disk, and merged.
pub struct KeySorter {
    dir: Option<tempfile::TempDir>,
    buffer: Vec<(u128, u64)>,
    runs: Vec<std::path::PathBuf>,
}

pub struct Duplicates {
    pub count: u64,
    /// The first rows (by row number) that repeat an earlier row's key, with that row.
    pub examples: Vec<(u64, u64)>,
}

impl KeySorter {
    pub fn new(work: &std::path::Path) -> std::io::Result<Self> {
        Ok(Self {
            dir: Some(tempfile::tempdir_in(work)?),
            buffer: Vec::new(),
            runs: Vec::new(),
        })
    }

    pub fn empty() -> Self {
        Self {
            dir: None,
            buffer: Vec::new(),
            runs: Vec::new(),
        }
    }

    pub fn push(&mut self, hash: u128, row: u64) -> std::io::Result<()> {
        self.buffer.push((hash, row));
        if self.buffer.len() >= RUN_ENTRIES {
            self.spill()?;
        }
        Ok(())
    }

    fn spill(&mut self) -> std::io::Result<()> {
        self.buffer.sort_unstable();
        let dir = self.dir.as_ref().expect("a live sorter has a folder");
        let path = dir.path().join(format!("run-{}", self.runs.len()));
        let mut out = BufWriter::with_capacity(1 << 16, File::create(&path)?);
        for (hash, row) in self.buffer.drain(..) {
            out.write_all(&hash.to_le_bytes())?;
            out.write_all(&row.to_le_bytes())?;
        }
        out.flush()?;
        self.runs.push(path);
        Ok(())
    }

    pub fn duplicates(mut self, keep: usize) -> std::io::Result<Duplicates> {
        let mut result = Duplicates {
            count: 0,
            examples: Vec::new(),
        };
        // The `keep` smallest violating rows, largest on top.
        let mut best: BinaryHeap<(u64, u64)> = BinaryHeap::new();
        let mut note = |row: u64, first: u64| {
            result.count += 1;
            if keep > 0 && (best.len() < keep || best.peek().is_some_and(|(r, _)| row < *r)) {
                best.push((row, first));
                if best.len() > keep {
                    best.pop();
                }
            }
        };
        let mut scan =
            |items: &mut dyn Iterator<Item = std::io::Result<(u128, u64)>>| -> std::io::Result<()> {
                let mut group: Option<(u128, u64)> = None;
                for item in items {
                    let (hash, row) = item?;
                    match group {
                        Some((h, first)) if h == hash => note(row, first),
                        _ => group = Some((hash, row)),
                    }
                }
                Ok(())
            };
        if self.runs.is_empty() {
            self.buffer.sort_unstable();
            scan(&mut self.buffer.drain(..).map(Ok))?;
        } else {
            if !self.buffer.is_empty() {
                self.spill()?;
            }
            let mut merge = Merge::open(&self.runs)?;
            scan(&mut std::iter::from_fn(|| merge.next().transpose()))?;
        }
        result.examples = best.into_sorted_vec();
        Ok(result)
    }
}

/// A k-way merge of sorted run files.
struct Merge {
    readers: Vec<BufReader<File>>,
    heap: BinaryHeap<std::cmp::Reverse<(u128, u64, usize)>>,
}

fn read_entry(reader: &mut BufReader<File>) -> std::io::Result<Option<(u128, u64)>> {
    let mut buf = [0u8; ENTRY_BYTES];
    match reader.read_exact(&mut buf) {
        Ok(()) => Ok(Some((
            u128::from_le_bytes(buf[..16].try_into().expect("16 bytes")),
            u64::from_le_bytes(buf[16..].try_into().expect("8 bytes")),
        ))),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(None),
        Err(e) => Err(e),
    }
}

impl Merge {
    fn open(paths: &[std::path::PathBuf]) -> std::io::Result<Self> {
        let mut readers = Vec::new();
        let mut heap = BinaryHeap::new();
        for (i, path) in paths.iter().enumerate() {
            let mut reader = BufReader::with_capacity(1 << 16, File::open(path)?);
            if let Some((hash, row)) = read_entry(&mut reader)? {
                heap.push(std::cmp::Reverse((hash, row, i)));
            }
            readers.push(reader);
        }
        Ok(Self { readers, heap })
    }

    fn next(&mut self) -> std::io::Result<Option<(u128, u64)>> {
        let Some(std::cmp::Reverse((hash, row, i))) = self.heap.pop() else {
            return Ok(None);
        };
        if let Some((h, r)) = read_entry(&mut self.readers[i])? {
            self.heap.push(std::cmp::Reverse((h, r, i)));
        }
        Ok(Some((hash, row)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find(
        entries: &[(u128, u64)],
        run_size: Option<usize>,
        keep: usize,
    ) -> (u64, Vec<(u64, u64)>) {
        let dir = tempfile::tempdir().unwrap();
        let mut sorter = KeySorter::new(dir.path()).unwrap();
        for (i, (hash, row)) in entries.iter().enumerate() {
            sorter.push(*hash, *row).unwrap();
            if run_size.is_some_and(|n| (i + 1) % n == 0) {
                sorter.spill().unwrap();
            }
        }
        let d = sorter.duplicates(keep).unwrap();
        (d.count, d.examples)
    }

    #[test]
    fn duplicates_are_found_in_memory_and_across_spilled_runs() {
        let entries: Vec<(u128, u64)> = [(7, 1), (3, 2), (7, 3), (9, 4), (3, 5), (7, 6), (1, 7)]
            .into_iter()
            .collect();
        let want = (3, vec![(3, 1), (5, 2)]);
        assert_eq!(find(&entries, None, 2), want);
        assert_eq!(find(&entries, Some(2), 2), want);
        assert_eq!(find(&entries, Some(1), 2), want);
        assert_eq!(find(&entries, Some(3), 0), (3, vec![]));
        assert_eq!(find(&[], None, 5), (0, vec![]));
    }
}
