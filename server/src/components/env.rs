//! What a step learns from the engine that started it, and the tenant
//! folders it may touch. Every path a user writes is resolved inside one of
//! those folders: no absolute paths, no `..`, no symbolic link that leads out.

use app::api::datasets::Producer;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

/// Largest download by default: 1 GiB.
pub const DEFAULT_FETCH_MAX_BYTES: u64 = 1 << 30;
/// Longest download or upload by default.
pub const DEFAULT_FETCH_TIMEOUT: Duration = Duration::from_secs(300);

/// Bounds of one `transform.sql` query: how long it may run (writing its
/// result included), and how many rows and bytes it may write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SqlLimits {
    pub timeout: Duration,
    pub max_rows: u64,
    pub max_bytes: u64,
}

impl Default for SqlLimits {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(600),
            max_rows: 100_000_000,
            max_bytes: 4 << 30,
        }
    }
}

impl SqlLimits {
    /// The variables that carry these limits to a step.
    pub fn env(&self) -> [(String, String); 3] {
        [
            (
                "TRELLIS_SQL_TIMEOUT_SECONDS".into(),
                self.timeout.as_secs_f64().to_string(),
            ),
            ("TRELLIS_SQL_MAX_ROWS".into(), self.max_rows.to_string()),
            ("TRELLIS_SQL_MAX_BYTES".into(), self.max_bytes.to_string()),
        ]
    }
}

/// The environment a step runs in.
#[derive(Debug, Clone)]
pub struct StepEnv {
    /// The tenant's folder: `data/`, `datasets/`, `exports/`, `work/` live here.
    pub tenant_dir: PathBuf,
    pub producer: Option<Producer>,
    pub fetch_max_bytes: u64,
    pub fetch_timeout: Duration,
    pub sql: SqlLimits,
    /// Which internal addresses URLs may reach, as the platform allows.
    pub outbound: crate::outbound::Guard,
    /// The tenant's disk quota and usage at the step's start (`None`: unlimited).
    pub quota: Option<crate::quota::Allowance>,
    /// The S3 access of the process's connection (`None`: it has none).
    pub aws: Option<crate::aws::StepAws>,
}

impl StepEnv {
    /// Reads `TRELLIS_TENANT_DIR` (required), `TRELLIS_RUN`, `TRELLIS_NODE`,
    /// `TRELLIS_FETCH_MAX_BYTES`, `TRELLIS_FETCH_TIMEOUT_SECONDS`,
    /// `TRELLIS_OUTBOUND_ALLOW` (unset: no internal address is allowed),
    /// the [`SqlLimits`] variables and the quota's (unset: unlimited).
    pub fn from_env() -> Result<Self, String> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let tenant_dir = var("TRELLIS_TENANT_DIR").map(PathBuf::from).ok_or(
            "TRELLIS_TENANT_DIR is not set: data steps run inside a tenant's folder, which the engine provides",
        )?;
        let producer = match (var("TRELLIS_RUN"), var("TRELLIS_NODE")) {
            (Some(run), Some(node)) => Some(Producer {
                run: run.into(),
                node,
            }),
            _ => None,
        };
        let number = |name: &str| -> Result<Option<f64>, String> {
            var(name)
                .map(|v| {
                    v.parse::<f64>()
                        .ok()
                        .filter(|n| n.is_finite() && *n > 0.0)
                        .ok_or_else(|| format!("{name} must be a positive number, got `{v}`"))
                })
                .transpose()
        };
        let sql = SqlLimits::default();
        let allow = var(crate::outbound::SETTING)
            .unwrap_or_default()
            .parse()
            .map_err(|e| format!("{}: {e}", crate::outbound::SETTING))?;
        let quota = crate::quota::Allowance::from_vars(var)?;
        Ok(Self {
            aws: crate::aws::StepAws::from_vars(var),
            outbound: crate::outbound::Guard::new(allow),
            quota,
            tenant_dir,
            producer,
            fetch_max_bytes: number("TRELLIS_FETCH_MAX_BYTES")?
                .map_or(DEFAULT_FETCH_MAX_BYTES, |n| n as u64),
            fetch_timeout: number("TRELLIS_FETCH_TIMEOUT_SECONDS")?
                .map_or(DEFAULT_FETCH_TIMEOUT, duration),
            sql: SqlLimits {
                timeout: number("TRELLIS_SQL_TIMEOUT_SECONDS")?.map_or(sql.timeout, duration),
                max_rows: number("TRELLIS_SQL_MAX_ROWS")?.map_or(sql.max_rows, |n| n as u64),
                max_bytes: number("TRELLIS_SQL_MAX_BYTES")?.map_or(sql.max_bytes, |n| n as u64),
            },
        })
    }

    /// A fresh budget of the tenant's disk quota, for one step's writes.
    pub fn budget(&self) -> crate::quota::Budget {
        crate::quota::Budget::new(self.quota)
    }

    /// Input files users provide.
    pub fn data_dir(&self) -> PathBuf {
        self.tenant_dir.join("data")
    }

    pub fn datasets_dir(&self) -> PathBuf {
        self.tenant_dir.join("datasets")
    }

    pub fn exports_dir(&self) -> PathBuf {
        self.tenant_dir.join("exports")
    }

    /// Scratch space (downloads, SQL working databases).
    pub fn work_dir(&self) -> std::io::Result<PathBuf> {
        let dir = self.tenant_dir.join("work");
        std::fs::create_dir_all(&dir)?;
        Ok(dir)
    }
}

/// Seconds as a duration, saturating rather than panicking on a huge value.
fn duration(seconds: f64) -> Duration {
    Duration::try_from_secs_f64(seconds).unwrap_or(Duration::MAX)
}

/// Checks the shape of a user-written relative path.
fn relative(path: &str, folder: &str) -> Result<PathBuf, String> {
    if path.trim().is_empty() {
        return Err(format!(
            "the path is empty; give a path inside the tenant's {folder} folder"
        ));
    }
    if path.contains('\0') {
        return Err("the path contains a NUL character".into());
    }
    let p = Path::new(path);
    if p.is_absolute() {
        return Err(format!(
            "`{path}` is an absolute path; paths are relative to the tenant's {folder} folder"
        ));
    }
    if p.components().any(|c| matches!(c, Component::ParentDir)) {
        return Err(format!(
            "`{path}` contains `..`; paths stay inside the tenant's {folder} folder"
        ));
    }
    Ok(p.to_path_buf())
}

fn escapes(path: &str, folder: &str) -> String {
    format!("`{path}` leads outside the tenant's {folder} folder (through a symbolic link)")
}

/// An existing file inside `base`.
pub fn existing_file(base: &Path, path: &str, folder: &str) -> Result<PathBuf, String> {
    let joined = base.join(relative(path, folder)?);
    let resolved = match joined.canonicalize() {
        Ok(p) => p,
        // No such file, a name longer than any file's, or a file taken
        // for a folder: there is nothing at that path.
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound
                    | std::io::ErrorKind::InvalidFilename
                    | std::io::ErrorKind::NotADirectory
            ) =>
        {
            return Err(format!(
                "`{path}` does not exist in the tenant's {folder} folder"
            ))
        }
        Err(e) => return Err(format!("cannot open `{path}`: {e}")),
    };
    let base = base
        .canonicalize()
        .map_err(|e| format!("the tenant's {folder} folder is unusable: {e}"))?;
    if !resolved.starts_with(&base) {
        return Err(escapes(path, folder));
    }
    if !resolved.is_file() {
        return Err(format!("`{path}` is not a file"));
    }
    Ok(resolved)
}

/// A file to write inside `base`; its folders are created (inside `base` only).
pub fn new_file(base: &Path, path: &str, folder: &str) -> Result<PathBuf, String> {
    let rel = relative(path, folder)?;
    if rel.file_name().is_none() || path.ends_with('/') {
        return Err(format!("`{path}` names a folder; give a file name"));
    }
    if rel.components().any(|c| c.as_os_str().len() > 255) {
        return Err(format!(
            "`{path}` has a name longer than 255 bytes, more than a file system holds"
        ));
    }
    std::fs::create_dir_all(base).map_err(|e| format!("cannot create the {folder} folder: {e}"))?;
    let base = base
        .canonicalize()
        .map_err(|e| format!("the tenant's {folder} folder is unusable: {e}"))?;
    let target = base.join(&rel);
    let parent = target.parent().expect("a file has a parent folder");
    // Walk down creating folders, refusing any that resolves outside `base`.
    let mut current = base.clone();
    for part in parent
        .strip_prefix(&base)
        .expect("joined onto base")
        .components()
    {
        current.push(part);
        match std::fs::create_dir(&current) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(format!("cannot create `{}`: {e}", current.display())),
        }
        let resolved = current
            .canonicalize()
            .map_err(|e| format!("cannot use `{path}`: {e}"))?;
        if !resolved.starts_with(&base) || !resolved.is_dir() {
            return Err(escapes(path, folder));
        }
    }
    if let Ok(meta) = std::fs::symlink_metadata(&target) {
        if meta.file_type().is_symlink() {
            return Err(escapes(path, folder));
        }
        if meta.is_dir() {
            return Err(format!("`{path}` is a folder; give a file name"));
        }
    }
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn paths_stay_inside_their_folder() {
        let root = tempfile::tempdir().unwrap();
        let base = root.path().join("data");
        let outside = root.path().join("secret.csv");
        std::fs::create_dir_all(base.join("in")).unwrap();
        std::fs::write(base.join("in/a.csv"), "x\n1\n").unwrap();
        std::fs::write(&outside, "x\n1\n").unwrap();
        symlink(&outside, base.join("link.csv")).unwrap();
        symlink(root.path(), base.join("up")).unwrap();

        assert!(existing_file(&base, "in/a.csv", "data").is_ok());
        assert!(existing_file(&base, "./in/a.csv", "data").is_ok());
        for (path, want) in [
            ("../secret.csv", "contains `..`"),
            ("in/../../secret.csv", "contains `..`"),
            (outside.to_str().unwrap(), "is an absolute path"),
            ("link.csv", "symbolic link"),
            ("up/secret.csv", "symbolic link"),
            ("missing.csv", "does not exist"),
            ("in", "is not a file"),
            ("", "the path is empty"),
        ] {
            let err = existing_file(&base, path, "data").unwrap_err();
            assert!(err.contains(want), "{path}: {err}");
        }

        let exports = root.path().join("exports");
        let made = new_file(&exports, "daily/2024/out.csv", "export").unwrap();
        assert!(made.parent().unwrap().is_dir());
        symlink(root.path(), exports.join("up")).unwrap();
        symlink(&outside, exports.join("over.csv")).unwrap();
        for (path, want) in [
            ("up/x.csv", "symbolic link"),
            ("over.csv", "symbolic link"),
            ("../x.csv", "contains `..`"),
            ("/tmp/x.csv", "absolute"),
            ("daily/", "names a folder"),
            ("daily", "is a folder"),
        ] {
            let err = new_file(&exports, path, "export").unwrap_err();
            assert!(err.contains(want), "{path}: {err}");
        }
        assert!(!root.path().join("x.csv").exists());
    }
}
