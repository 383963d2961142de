//! The per-tenant disk quota: what a tenant's folder holds (datasets, data
//! files, exports, task logs), what it may hold, and the budget a step writes
//! against, so that a step that would overrun the quota fails and leaves what
//! was there in place.

use crate::components::human_bytes;
use app::types::TenantId;
use std::collections::HashMap;
use std::io::{self, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The variables that carry a step's allowance to it.
pub const QUOTA_VAR: &str = "TRELLIS_QUOTA_BYTES";
pub const USED_VAR: &str = "TRELLIS_QUOTA_USED_BYTES";

/// How long a tenant's measured usage is trusted before its folder is walked
/// again: walking a large folder on every task start or page load would cost
/// more than the figure is worth.
pub const USAGE_TTL: Duration = Duration::from_secs(30);

/// A tenant's quota and its usage when a step starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allowance {
    pub quota: u64,
    pub used: u64,
}

impl Allowance {
    /// What the step may still add.
    pub fn left(&self) -> u64 {
        self.quota.saturating_sub(self.used)
    }

    /// The variables that carry this allowance to a step.
    pub fn env(&self) -> [(String, String); 2] {
        [
            (QUOTA_VAR.into(), self.quota.to_string()),
            (USED_VAR.into(), self.used.to_string()),
        ]
    }

    /// Reads the allowance from `var` (no quota variable: unlimited).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Option<Self>, String> {
        let number = |name: &str| -> Result<Option<u64>, String> {
            var(name)
                .map(|v| {
                    v.parse::<u64>()
                        .map_err(|_| format!("{name} must be a whole number of bytes, got `{v}`"))
                })
                .transpose()
        };
        Ok(match number(QUOTA_VAR)? {
            None | Some(0) => None,
            Some(quota) => Some(Self {
                quota,
                used: number(USED_VAR)?.unwrap_or(0),
            }),
        })
    }

    /// Why a step that needs `need` bytes in all cannot have them.
    pub fn refusal(&self, what: &str, need: Need) -> String {
        let head = format!(
            "the tenant's disk quota of {} is used up ({} used)",
            human_bytes(self.quota),
            human_bytes(self.used)
        );
        match need {
            Need::Exactly(n) => format!(
                "{head}; this {what} would need {} more",
                human_bytes(n.saturating_sub(self.left()))
            ),
            Need::AtLeast(n) => format!(
                "{head}; this {what} would need at least {} more",
                human_bytes(n.saturating_sub(self.left()))
            ),
        }
    }
}

/// How much a step needs, in all: a known figure, or a lower bound when it
/// stopped before it could know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    Exactly(u64),
    AtLeast(u64),
}

/// What one step has written against its allowance, shared by its writers
/// (a download and the dataset made of it draw on the same budget).
#[derive(Debug, Clone, Default)]
pub struct Budget {
    allowance: Option<Allowance>,
    written: Arc<AtomicU64>,
}

impl Budget {
    /// A budget of `allowance` (`None`: unlimited).
    pub fn new(allowance: Option<Allowance>) -> Self {
        Self {
            allowance,
            written: Arc::default(),
        }
    }

    /// Counts `bytes` more; whether the step is still within its allowance.
    pub fn add(&self, bytes: u64) -> bool {
        let total = self.written.fetch_add(bytes, Ordering::Relaxed) + bytes;
        self.allowance.is_none_or(|a| total <= a.left())
    }

    pub fn written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }

    /// Whether the step has gone past its allowance.
    pub fn over(&self) -> bool {
        self.allowance.is_some_and(|a| self.written() > a.left())
    }

    /// Fails when the step has gone past its allowance: `exact` when all it
    /// would write has been counted, otherwise what it wrote is a lower bound.
    pub fn check(&self, what: &str, exact: bool) -> Result<(), String> {
        match self.allowance {
            Some(a) if self.over() => {
                let written = self.written();
                let need = if exact {
                    Need::Exactly(written)
                } else {
                    Need::AtLeast(written)
                };
                Err(a.refusal(what, need))
            }
            _ => Ok(()),
        }
    }

    /// Fails when `bytes` more would not fit, without counting them.
    pub fn fits(&self, what: &str, bytes: u64) -> Result<(), String> {
        match self.allowance {
            Some(a) if self.written().saturating_add(bytes) > a.left() => {
                Err(a.refusal(what, Need::Exactly(self.written() + bytes)))
            }
            _ => Ok(()),
        }
    }
}

/// A writer that counts what passes into a budget. Past the budget it
/// writes nothing more but goes on counting, so the step can say how much
/// it would have needed.
pub struct Metered<W> {
    inner: W,
    budget: Budget,
}

impl<W> Metered<W> {
    pub fn new(inner: W, budget: Budget) -> Self {
        Self { inner, budget }
    }
}

impl<W: Write> Write for Metered<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.budget.add(buf.len() as u64) {
            self.inner.write_all(buf)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Bytes in the files under `dir` (symbolic links are not followed; a
/// missing folder holds nothing).
pub fn measure(dir: &Path) -> u64 {
    let mut total = 0;
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(meta) = entry.metadata() else {
                continue;
            };
            if meta.is_dir() {
                pending.push(entry.path());
            } else if meta.is_file() {
                total += meta.len();
            }
        }
    }
    total
}

/// Each tenant's measured usage, walked again at most every [`USAGE_TTL`].
#[derive(Default)]
pub struct Usage {
    figures: Mutex<HashMap<TenantId, (Instant, u64)>>,
}

impl Usage {
    /// Forgets `tenant`'s figure (files were removed): the next look walks.
    pub fn forget(&self, tenant: &TenantId) {
        self.figures.lock().expect("usage lock").remove(tenant);
    }

    /// Bytes under `dir`, the folder of `tenant`.
    pub async fn of(&self, tenant: &TenantId, dir: &Path) -> u64 {
        if let Some((at, bytes)) = self.figures.lock().expect("usage lock").get(tenant) {
            if at.elapsed() < USAGE_TTL {
                return *bytes;
            }
        }
        let owned = dir.to_path_buf();
        let bytes = tokio::task::spawn_blocking(move || measure(&owned))
            .await
            .unwrap_or(0);
        self.figures
            .lock()
            .expect("usage lock")
            .insert(tenant.clone(), (Instant::now(), bytes));
        bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GB: u64 = 1_000_000_000;

    #[test]
    fn a_refusal_says_the_quota_the_usage_and_what_is_missing() {
        let a = Allowance {
            quota: 50 * GB,
            used: 49_900_000_000,
        };
        assert_eq!(
            a.refusal("dataset", Need::Exactly(300_000_000)),
            "the tenant's disk quota of 50.0 GB is used up (49.9 GB used); this dataset would need 200.0 MB more"
        );
        assert_eq!(
            a.refusal("download", Need::AtLeast(100_000_001)),
            "the tenant's disk quota of 50.0 GB is used up (49.9 GB used); this download would need at least 1 B more"
        );
    }

    #[test]
    fn a_metered_writer_stops_writing_past_its_budget_and_keeps_counting() {
        let budget = Budget::new(Some(Allowance {
            quota: 100,
            used: 90,
        }));
        let mut out = Metered::new(Vec::new(), budget.clone());
        out.write_all(&[1; 6]).unwrap();
        assert!(!budget.over());
        assert_eq!(budget.check("dataset", true), Ok(()));
        out.write_all(&[2; 6]).unwrap();
        out.write_all(&[3; 8]).unwrap();
        assert!(budget.over());
        assert_eq!(out.inner, vec![1; 6], "nothing past the budget is written");
        assert_eq!(budget.written(), 20);
        assert!(budget
            .check("dataset", true)
            .unwrap_err()
            .ends_with("this dataset would need 10 B more"));

        let unlimited = Budget::new(None);
        assert!(unlimited.add(u64::MAX / 2));
        assert_eq!(unlimited.check("dataset", true), Ok(()));
        assert_eq!(unlimited.fits("export", u64::MAX / 4), Ok(()));
    }

    #[test]
    fn an_allowance_comes_from_the_environment() {
        let vars = |pairs: &'static [(&str, &str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(Allowance::from_vars(vars(&[])), Ok(None));
        assert_eq!(Allowance::from_vars(vars(&[(QUOTA_VAR, "0")])), Ok(None));
        assert_eq!(
            Allowance::from_vars(vars(&[(QUOTA_VAR, "10"), (USED_VAR, "4")])),
            Ok(Some(Allowance { quota: 10, used: 4 }))
        );
        assert!(Allowance::from_vars(vars(&[(QUOTA_VAR, "-1")])).is_err());
    }

    #[test]
    fn usage_counts_the_files_under_a_folder() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("a/b")).unwrap();
        std::fs::write(dir.path().join("a/one"), [0; 10]).unwrap();
        std::fs::write(dir.path().join("a/b/two"), [0; 32]).unwrap();
        std::os::unix::fs::symlink("/etc", dir.path().join("link")).unwrap();
        assert_eq!(measure(dir.path()), 42);
        assert_eq!(measure(&dir.path().join("missing")), 0);
    }
}
