//! How a dataset is stored: a folder `<tenant>/datasets/<name>/` holding
//! `data.csv` (a header, then one row per line; an empty field is null) and
//! `dataset.json` (the manifest: schema, counts, who wrote it). Writers build
//! a hidden folder next to it and swap it in whole, so readers never see a
//! half-written dataset. What a writer writes counts against the step's disk
//! quota budget; one that would overrun it is never swapped in.

use crate::quota::{Budget, Metered};
use crate::time::Timestamp;
use app::api::datasets::{Column, ColumnType, Dataset, DatasetDetail, Producer, Reject};
use serde_json::Value;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

pub const DATA_FILE: &str = "data.csv";
pub const MANIFEST_FILE: &str = "dataset.json";
pub const REJECTS_FILE: &str = "rejects.csv";
pub const QUALITY_FILE: &str = "quality.json";
/// Rows a dataset preview shows.
pub const PREVIEW_ROWS: usize = 50;

/// Whether `name` may name a dataset (it doubles as a SQL table name).
pub fn valid_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z'))
        && name.len() <= 63
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

// Candidate types of a column, narrowed by every value seen.
const INTEGER: u8 = 1;
const NUMBER: u8 = 2;
const BOOLEAN: u8 = 4;
const DATE: u8 = 8;
const TIMESTAMP: u8 = 16;
const ANY: u8 = INTEGER | NUMBER | BOOLEAN | DATE | TIMESTAMP;

fn is_integer(s: &str) -> bool {
    let digits = s.strip_prefix(['-', '+']).unwrap_or(s);
    !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        // Leading zeros mark codes (zip codes, ids), not numbers.
        && (digits.len() == 1 || !digits.starts_with('0'))
        && s.parse::<i64>().is_ok()
}

fn is_number(s: &str) -> bool {
    let digits = s.strip_prefix(['-', '+']).unwrap_or(s);
    let leading_zero = digits.len() > 1 && digits.starts_with('0') && !digits[1..].starts_with('.');
    !leading_zero
        && digits
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_digit() || b == b'.')
        && digits
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'))
        && s.parse::<f64>().is_ok_and(f64::is_finite)
}

fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "true" | "TRUE" | "True" => Some(true),
        "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

fn is_timestamp(s: &str) -> bool {
    s.len() >= 19
        && (chrono::DateTime::parse_from_rfc3339(s).is_ok()
            || chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f").is_ok()
            || chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f").is_ok())
}

/// Narrows `candidates` to the types `value` (non-empty) also has.
fn narrow(candidates: u8, value: &str) -> u8 {
    let mut out = 0;
    if candidates & INTEGER != 0 && is_integer(value) {
        out |= INTEGER;
    }
    if candidates & NUMBER != 0 && is_number(value) {
        out |= NUMBER;
    }
    if candidates & BOOLEAN != 0 && parse_bool(value).is_some() {
        out |= BOOLEAN;
    }
    if candidates & DATE != 0 && app::params::is_date(value) {
        out |= DATE;
    }
    if candidates & TIMESTAMP != 0 && is_timestamp(value) {
        out |= TIMESTAMP;
    }
    out
}

fn decide(candidates: u8, seen_value: bool) -> ColumnType {
    if !seen_value {
        return ColumnType::String;
    }
    [
        (INTEGER, ColumnType::Integer),
        (NUMBER, ColumnType::Number),
        (BOOLEAN, ColumnType::Boolean),
        (DATE, ColumnType::Date),
        (TIMESTAMP, ColumnType::Timestamp),
    ]
    .into_iter()
    .find(|(bit, _)| candidates & bit != 0)
    .map_or(ColumnType::String, |(_, t)| t)
}

/// A stored text value as JSON of its column's type.
pub fn typed(column_type: ColumnType, text: &str) -> Value {
    if text.is_empty() {
        return Value::Null;
    }
    match column_type {
        ColumnType::Integer => text.parse::<i64>().map(Value::from).ok(),
        ColumnType::Number => text
            .parse::<f64>()
            .ok()
            .and_then(|n| serde_json::Number::from_f64(n).map(Value::Number)),
        ColumnType::Boolean => parse_bool(text).map(Value::Bool),
        _ => None,
    }
    .unwrap_or_else(|| Value::String(text.to_owned()))
}

/// Makes column names usable: trimmed, never empty, never repeated.
pub fn column_names(raw: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for (i, name) in raw.into_iter().enumerate() {
        let base = match name.trim() {
            "" => format!("column_{}", i + 1),
            trimmed => trimmed.to_owned(),
        };
        let mut name = base.clone();
        let mut n = 2;
        while names.contains(&name) {
            name = format!("{base}_{n}");
            n += 1;
        }
        names.push(name);
    }
    names
}

struct Inference {
    candidates: u8,
    seen_value: bool,
    nulls: u64,
}

/// Streams rows into a new version of a dataset.
pub struct DatasetWriter {
    name: String,
    staging: PathBuf,
    target: PathBuf,
    data: csv::Writer<BufWriter<Metered<File>>>,
    rejects: Option<csv::Writer<BufWriter<Metered<File>>>>,
    budget: Budget,
    columns: Vec<String>,
    inference: Vec<Inference>,
    rows: u64,
    rejected: u64,
}

impl DatasetWriter {
    /// Starts writing dataset `name` under `root` (the tenant's datasets
    /// folder), with no disk quota.
    pub fn create(root: &Path, name: &str, columns: Vec<String>) -> io::Result<Self> {
        Self::create_within(root, name, columns, Budget::default())
    }

    /// Starts writing dataset `name` under `root`, its files counted against
    /// `budget`: past it nothing more is written, and [`Self::finish`] fails.
    pub fn create_within(
        root: &Path,
        name: &str,
        columns: Vec<String>,
        budget: Budget,
    ) -> io::Result<Self> {
        fs::create_dir_all(root)?;
        let staging = root.join(format!(".tmp-{name}-{}", uuid::Uuid::new_v4().simple()));
        fs::create_dir(&staging)?;
        let mut data = csv::Writer::from_writer(BufWriter::with_capacity(
            256 * 1024,
            Metered::new(File::create(staging.join(DATA_FILE))?, budget.clone()),
        ));
        data.write_record(&columns)?;
        Ok(Self {
            budget,
            name: name.to_owned(),
            target: root.join(name),
            staging,
            data,
            rejects: None,
            inference: columns
                .iter()
                .map(|_| Inference {
                    candidates: ANY,
                    seen_value: false,
                    nulls: 0,
                })
                .collect(),
            columns,
            rows: 0,
            rejected: 0,
        })
    }

    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Appends one row: exactly one value per column, `""` for null.
    pub fn write_row<'a>(&mut self, values: impl IntoIterator<Item = &'a str>) -> io::Result<()> {
        let mut count = 0;
        for (value, inf) in values.into_iter().zip(self.inference.iter_mut()) {
            count += 1;
            if value.is_empty() {
                inf.nulls += 1;
            } else {
                inf.seen_value = true;
                if inf.candidates != 0 {
                    inf.candidates = narrow(inf.candidates, value);
                }
            }
            self.data.write_field(value)?;
        }
        debug_assert_eq!(count, self.columns.len(), "one value per column");
        self.data.write_record(None::<&[u8]>)?;
        self.rows += 1;
        Ok(())
    }

    pub fn rejected(&self) -> u64 {
        self.rejected
    }

    /// Records a source row that could not be read: its line, why, and its text.
    pub fn reject(&mut self, line: u64, reason: &str, raw: &[u8]) -> io::Result<()> {
        if self.rejects.is_none() {
            let file = File::create(self.staging.join(REJECTS_FILE))?;
            let mut w =
                csv::Writer::from_writer(BufWriter::new(Metered::new(file, self.budget.clone())));
            w.write_record(["line", "reason", "raw"])?;
            self.rejects = Some(w);
        }
        let raw = String::from_utf8_lossy(raw);
        let line = line.to_string();
        self.rejects
            .as_mut()
            .expect("created above")
            .write_record([line.as_str(), reason, &raw])?;
        self.rejected += 1;
        Ok(())
    }

    /// Whether the rows so far are already past the quota budget (give or
    /// take what is still buffered).
    pub fn over_quota(&self) -> bool {
        self.budget.over()
    }

    /// Writes the manifest and swaps the new data in for the old; past the
    /// quota budget, fails and leaves the old data in place.
    pub fn finish(mut self, produced_by: Option<Producer>) -> io::Result<Dataset> {
        self.data.flush()?;
        if let Some(rejects) = self.rejects.as_mut() {
            rejects.flush()?;
        }
        self.budget
            .check("dataset", true)
            .map_err(io::Error::other)?;
        let size_bytes = fs::metadata(self.staging.join(DATA_FILE))?.len();
        let dataset = Dataset {
            name: self.name.clone(),
            rows: self.rows,
            columns: self
                .columns
                .iter()
                .zip(&self.inference)
                .map(|(name, inf)| Column {
                    name: name.clone(),
                    column_type: decide(inf.candidates, inf.seen_value),
                    nulls: inf.nulls,
                })
                .collect(),
            size_bytes,
            rejected_rows: self.rejected,
            produced_by,
            created_at: Timestamp::now().to_string(),
        };
        fs::write(
            self.staging.join(MANIFEST_FILE),
            serde_json::to_vec_pretty(&dataset)?,
        )?;
        let root = self.target.parent().expect("a dataset has a parent folder");
        let old = root.join(format!(
            ".old-{}-{}",
            self.name,
            uuid::Uuid::new_v4().simple()
        ));
        let had_old = match fs::rename(&self.target, &old) {
            Ok(()) => true,
            Err(e) if e.kind() == io::ErrorKind::NotFound => false,
            Err(e) => return Err(e),
        };
        fs::rename(&self.staging, &self.target)?;
        if had_old {
            fs::remove_dir_all(&old)?;
        }
        Ok(dataset)
    }
}

impl Drop for DatasetWriter {
    fn drop(&mut self) {
        // After `finish` the staging folder is gone; otherwise the write failed.
        let _ = fs::remove_dir_all(&self.staging);
    }
}

/// Why a dataset could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("dataset `{0}` does not exist")]
    Missing(String),
    #[error("dataset `{name}` is unreadable: {detail}")]
    Broken { name: String, detail: String },
}

/// A stored dataset.
pub struct StoredDataset {
    pub dir: PathBuf,
    pub meta: Dataset,
}

impl StoredDataset {
    /// Opens dataset `name` under `root`.
    pub fn open(root: &Path, name: &str) -> Result<Self, OpenError> {
        if !valid_name(name) {
            return Err(OpenError::Missing(name.to_owned()));
        }
        let dir = root.join(name);
        let bytes = match fs::read(dir.join(MANIFEST_FILE)) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(OpenError::Missing(name.to_owned()))
            }
            Err(e) => {
                return Err(OpenError::Broken {
                    name: name.to_owned(),
                    detail: e.to_string(),
                })
            }
        };
        let meta = serde_json::from_slice(&bytes).map_err(|e| OpenError::Broken {
            name: name.to_owned(),
            detail: e.to_string(),
        })?;
        Ok(Self { dir, meta })
    }

    /// A reader over the rows (the header is consumed).
    pub fn reader(&self) -> io::Result<csv::Reader<File>> {
        let file = File::open(self.dir.join(DATA_FILE))?;
        Ok(csv::ReaderBuilder::new()
            .has_headers(true)
            .buffer_capacity(256 * 1024)
            .from_reader(file))
    }

    /// The column's position, or a message listing the columns there are.
    pub fn column_index(&self, column: &str) -> Result<usize, String> {
        self.meta
            .columns
            .iter()
            .position(|c| c.name == column)
            .ok_or_else(|| {
                let names: Vec<&str> = self.meta.columns.iter().map(|c| c.name.as_str()).collect();
                format!(
                    "dataset `{}` has no column `{column}` (its columns: {})",
                    self.meta.name,
                    names.join(", ")
                )
            })
    }

    /// The manifest with the first rows typed as JSON, the first rejected
    /// rows, and the latest quality report.
    pub fn detail(&self) -> io::Result<DatasetDetail> {
        let mut preview = Vec::new();
        let types: Vec<ColumnType> = self.meta.columns.iter().map(|c| c.column_type).collect();
        for record in self.reader()?.records().take(PREVIEW_ROWS) {
            let record = record?;
            preview.push(
                record
                    .iter()
                    .zip(&types)
                    .map(|(text, t)| typed(*t, text))
                    .collect(),
            );
        }
        let mut rejects = Vec::new();
        if let Ok(file) = File::open(self.dir.join(REJECTS_FILE)) {
            let mut reader = csv::Reader::from_reader(file);
            for record in reader.records().take(PREVIEW_ROWS) {
                let record = record?;
                rejects.push(Reject {
                    line: record.get(0).and_then(|l| l.parse().ok()).unwrap_or(0),
                    reason: record.get(1).unwrap_or("").to_owned(),
                    raw: record.get(2).unwrap_or("").to_owned(),
                });
            }
        }
        let quality = fs::read(self.dir.join(QUALITY_FILE))
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok());
        Ok(DatasetDetail {
            dataset: self.meta.clone(),
            preview,
            rejects,
            quality,
        })
    }
}

/// Every dataset under `root`, by name; unreadable ones are skipped.
pub fn list(root: &Path) -> io::Result<Vec<Dataset>> {
    let entries = match fs::read_dir(root) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for entry in entries {
        let name = entry?.file_name();
        let Some(name) = name.to_str().filter(|n| valid_name(n)) else {
            continue;
        };
        match StoredDataset::open(root, name) {
            Ok(dataset) => out.push(dataset.meta),
            Err(e) => tracing::warn!("skipping dataset: {e}"),
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Writes `bytes` to `path` through a temporary file, so readers see all or nothing.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path.parent().expect("a file has a parent folder");
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn infer(values: &[&str]) -> ColumnType {
        let mut c = ANY;
        let mut seen = false;
        for v in values.iter().filter(|v| !v.is_empty()) {
            seen = true;
            c = narrow(c, v);
        }
        decide(c, seen)
    }

    #[test]
    fn types_are_inferred_from_every_value() {
        assert_eq!(infer(&["1", "-20", "", "+3"]), ColumnType::Integer);
        assert_eq!(infer(&["1", "2.5", "1e3"]), ColumnType::Number);
        assert_eq!(
            infer(&["007", "12"]),
            ColumnType::String,
            "leading zeros are codes"
        );
        assert_eq!(infer(&["0.5", "0"]), ColumnType::Number);
        assert_eq!(infer(&["true", "False"]), ColumnType::Boolean);
        assert_eq!(infer(&["2024-02-29", "2024-03-01"]), ColumnType::Date);
        assert_eq!(
            infer(&["2023-02-29"]),
            ColumnType::String,
            "not a real date"
        );
        assert_eq!(
            infer(&["2024-03-01T10:00:00Z", "2024-03-01 10:00:00"]),
            ColumnType::Timestamp
        );
        assert_eq!(infer(&["1", "x"]), ColumnType::String);
        assert_eq!(infer(&["", ""]), ColumnType::String);
        assert_eq!(infer(&["NaN", "inf"]), ColumnType::String);
        assert_eq!(infer(&["99999999999999999999"]), ColumnType::Number);
    }

    #[test]
    fn typed_values() {
        assert_eq!(typed(ColumnType::Integer, "42"), Value::from(42));
        assert_eq!(typed(ColumnType::Number, "2.5"), Value::from(2.5));
        assert_eq!(typed(ColumnType::Boolean, "TRUE"), Value::Bool(true));
        assert_eq!(
            typed(ColumnType::Date, "2024-01-01"),
            Value::from("2024-01-01")
        );
        assert_eq!(typed(ColumnType::Integer, ""), Value::Null);
    }

    #[test]
    fn names_are_made_unique() {
        let names = column_names(["id", " id ", "", "id_2"].map(String::from));
        assert_eq!(names, ["id", "id_2", "column_3", "id_2_2"]);
    }

    #[test]
    fn a_dataset_is_replaced_whole() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = DatasetWriter::create(dir.path(), "orders", vec!["id".into(), "amount".into()])
            .unwrap();
        w.write_row(["1", "2.5"]).unwrap();
        w.write_row(["2", ""]).unwrap();
        w.reject(4, "has 3 fields, expected 2", b"3,4,5").unwrap();
        let first = w.finish(None).unwrap();
        assert_eq!((first.rows, first.rejected_rows), (2, 1));
        assert_eq!(first.columns[1].column_type, ColumnType::Number);
        assert_eq!(first.columns[1].nulls, 1);

        let mut w = DatasetWriter::create(dir.path(), "orders", vec!["id".into()]).unwrap();
        w.write_row(["9"]).unwrap();
        w.finish(None).unwrap();
        let stored = StoredDataset::open(dir.path(), "orders").unwrap();
        assert_eq!(stored.meta.rows, 1);
        assert!(
            !stored.dir.join(REJECTS_FILE).exists(),
            "the old reject file went with the old data"
        );
        assert_eq!(stored.detail().unwrap().preview, vec![vec![Value::from(9)]]);

        // A writer dropped before finishing leaves nothing behind.
        let w = DatasetWriter::create(dir.path(), "broken", vec!["x".into()]).unwrap();
        drop(w);
        let names: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, ["orders"]);
        assert_eq!(list(dir.path()).unwrap().len(), 1);
    }

    #[test]
    fn a_dataset_past_its_quota_budget_is_never_swapped_in() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = DatasetWriter::create(dir.path(), "orders", vec!["id".into()]).unwrap();
        w.write_row(["1"]).unwrap();
        w.finish(None).unwrap();

        let budget = Budget::new(Some(crate::quota::Allowance {
            quota: 1000,
            used: 990,
        }));
        let mut w =
            DatasetWriter::create_within(dir.path(), "orders", vec!["id".into()], budget).unwrap();
        for i in 0..100 {
            w.write_row([i.to_string().as_str()]).unwrap();
        }
        // `id\n` and 100 rows: 3 + 10 × 2 + 90 × 3 = 293 bytes, 283 more than left.
        let error = w.finish(None).unwrap_err().to_string();
        assert_eq!(
            error,
            "the tenant's disk quota of 1.0 kB is used up (990 B used); this dataset would need 283 B more"
        );
        let stored = StoredDataset::open(dir.path(), "orders").unwrap();
        assert_eq!(stored.meta.rows, 1, "the old dataset stays");
        let names: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, ["orders"]);
    }
}
