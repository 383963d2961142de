//! `ingest.file`: a CSV or JSON Lines file into a dataset, streaming.

use super::env::{existing_file, StepEnv};
use super::remote::{download, locate, Location};
use super::{fail, Progress, StepError};
use crate::datasets::{column_names, valid_name, DatasetWriter};
use crate::quota::Budget;
use clap::{Args, ValueEnum};
use serde_json::Value;
use std::collections::HashSet;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// `.jsonl` and `.ndjson` are JSON Lines, anything else CSV.
    Auto,
    Csv,
    Jsonl,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnError {
    /// Write malformed rows to the reject file and go on.
    Reject,
    /// Stop at the first malformed row.
    Fail,
}

#[derive(Debug, Clone, Args)]
pub struct IngestArgs {
    /// A path in the tenant's data folder, an http(s) URL, or s3://bucket/key.
    #[arg(long)]
    pub source: String,
    /// The dataset to write.
    #[arg(long)]
    pub dataset: String,
    #[arg(long, value_enum, default_value_t = Format::Auto)]
    pub format: Format,
    /// Whether the first CSV row names the columns.
    #[arg(long, action = clap::ArgAction::Set, default_value_t = true)]
    pub header: bool,
    /// `,`, `;`, `|`, `tab`, or any single character.
    #[arg(long, default_value = ",")]
    pub delimiter: String,
    /// `"`, `'` or `none`.
    #[arg(long, default_value = "\"")]
    pub quote: String,
    #[arg(long, value_enum, default_value_t = OnError::Reject)]
    pub on_error: OnError,
}

/// Longest JSON line accepted; longer ones are malformed rows.
const MAX_LINE_BYTES: usize = 16 << 20;

fn single_byte(text: &str, what: &str) -> Result<u8, StepError> {
    match text {
        "tab" | "\\t" | "\t" => Ok(b'\t'),
        t if t.len() == 1 => Ok(t.as_bytes()[0]),
        t => fail(format!(
            "--{what} must be one character (or `tab`), got `{t}`"
        )),
    }
}

pub async fn run(args: IngestArgs) -> Result<(), StepError> {
    let env = StepEnv::from_env().map_err(StepError::Usage)?;
    if !valid_name(&args.dataset) {
        return Err(StepError::Usage(format!(
            "`{}` is not a dataset name: use a lower-case letter, then letters, digits or _ (at most 63)",
            args.dataset
        )));
    }
    let delimiter = single_byte(&args.delimiter, "delimiter")?;
    let quote = match args.quote.as_str() {
        "none" => None,
        q => Some(single_byte(q, "quote")?),
    };

    // The staged download and the dataset draw on one quota budget.
    let budget = env.budget();
    // Remote sources are staged in the work folder first, within limits.
    let staged;
    let (path, name) = match locate(&args.source) {
        Location::S3(url) => {
            staged = tempfile::NamedTempFile::new_in(env.work_dir()?)?;
            let name = stage_s3(&env, &args, url, staged.path(), &budget).await?;
            (staged.path().to_path_buf(), name)
        }
        Location::Http(url) => {
            staged = tempfile::NamedTempFile::new_in(env.work_dir()?)?;
            println!("ingest.file: downloading {url}");
            let bytes = download(&env, url, staged.path(), &budget)
                .await
                .map_err(StepError::Failed)?;
            println!("ingest.file: downloaded {}", super::human_bytes(bytes));
            let name = url.split(['?', '#']).next().unwrap_or(url);
            (staged.path().to_path_buf(), name.to_owned())
        }
        Location::Local(path) => (
            existing_file(&env.data_dir(), path, "data").map_err(StepError::Failed)?,
            path.to_owned(),
        ),
    };
    let jsonl = match args.format {
        Format::Csv => false,
        Format::Jsonl => true,
        Format::Auto => jsonl_name(&name),
    };
    let total = std::fs::metadata(&path)?.len();
    let progress = Progress::new("ingest.file", Some(total));
    let source = args.source.clone();
    let target = Target {
        root: env.datasets_dir(),
        name: args.dataset.clone(),
        budget,
    };
    let on_error = args.on_error;
    tokio::task::spawn_blocking(move || {
        let writer = if jsonl {
            ingest_jsonl(&path, &target, on_error, progress)?
        } else {
            ingest_csv(
                &path,
                &target,
                delimiter,
                quote,
                args.header,
                on_error,
                progress,
            )?
        };
        let (rows, rejected) = (writer.rows(), writer.rejected());
        let meta = writer.finish(env.producer.clone())?;
        let schema: Vec<String> = meta
            .columns
            .iter()
            .map(|c| format!("{} {}", c.name, c.column_type.as_str()))
            .collect();
        println!(
            "ingest.file: wrote dataset `{}` from {source}: {rows} rows, {} columns ({})",
            meta.name,
            meta.columns.len(),
            schema.join(", ")
        );
        if rejected > 0 {
            println!(
                "ingest.file: {rejected} malformed rows rejected into datasets/{}/rejects.csv",
                meta.name
            );
        }
        Ok(())
    })
    .await
    .map_err(|e| StepError::Failed(format!("ingest stopped: {e}")))?
}

/// Downloads the S3 object `url` names, or every object under its prefix,
/// into `dest` as one input (a CSV header repeated in each part is read
/// once, and must be the same in every part); the first object's name.
async fn stage_s3(
    env: &StepEnv,
    args: &IngestArgs,
    url: &str,
    dest: &Path,
    budget: &Budget,
) -> Result<String, StepError> {
    println!("ingest.file: downloading {url}");
    let first_header = std::sync::Mutex::new(None::<Vec<u8>>);
    let headed = |name: &str| match args.format {
        Format::Jsonl => false,
        Format::Csv => args.header,
        Format::Auto => args.header && !jsonl_name(name),
    };
    let join = |name: &str, line: &[u8]| {
        if !headed(name) {
            return Ok(false);
        }
        let mut first = first_header.lock().expect("header");
        match first.as_deref() {
            None => {
                *first = Some(line.to_vec());
                Ok(false)
            }
            Some(header) if header == line => Ok(true),
            Some(header) => Err(format!(
                "{name} starts with the header `{}`, not `{}` as the first part does; \
                 the parts under a prefix must have the same columns",
                String::from_utf8_lossy(line),
                String::from_utf8_lossy(header)
            )),
        }
    };
    let got = super::s3::download(env, url, dest, budget, join)
        .await
        .map_err(StepError::Failed)?;
    if got.objects.len() > 1 {
        for (object, size) in &got.objects {
            println!("ingest.file:   {object} ({})", super::human_bytes(*size));
        }
    }
    println!(
        "ingest.file: downloaded {} object{} ({})",
        got.objects.len(),
        if got.objects.len() == 1 { "" } else { "s" },
        super::human_bytes(got.bytes)
    );
    Ok(got.objects[0].0.clone())
}

/// Whether a file's name says it is JSON Lines.
fn jsonl_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.ends_with(".jsonl") || lower.ends_with(".ndjson")
}

/// Where the rows go: dataset `name` under `root`, within `budget`.
struct Target {
    root: PathBuf,
    name: String,
    budget: Budget,
}

impl Target {
    fn create(&self, columns: Vec<String>) -> std::io::Result<DatasetWriter> {
        DatasetWriter::create_within(&self.root, &self.name, columns, self.budget.clone())
    }
}

fn malformed(
    on_error: OnError,
    writer: &mut DatasetWriter,
    line: u64,
    reason: &str,
    raw: &[u8],
) -> Result<(), StepError> {
    match on_error {
        OnError::Fail => fail(format!("line {line}: {reason}")),
        OnError::Reject => {
            if writer.rejected() < 10 {
                println!("ingest.file: rejected line {line}: {reason}");
            }
            writer.reject(line, reason, raw)?;
            Ok(())
        }
    }
}

fn ingest_csv(
    path: &Path,
    target: &Target,
    delimiter: u8,
    quote: Option<u8>,
    header: bool,
    on_error: OnError,
    mut progress: Progress,
) -> Result<DatasetWriter, StepError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .quote(quote.unwrap_or(b'"'))
        .quoting(quote.is_some())
        .buffer_capacity(256 * 1024)
        .from_reader(File::open(path)?);
    let mut record = csv::ByteRecord::new();
    if !reader.read_byte_record(&mut record)? {
        return fail("the source is empty: it has no header and no rows");
    }
    let width = record.len();
    let names: Vec<String> = if header {
        record
            .iter()
            .map(|f| String::from_utf8_lossy(f).into_owned())
            .collect()
    } else {
        (1..=width).map(|i| format!("column_{i}")).collect()
    };
    let mut writer = target.create(column_names(names))?;
    let mut pending = !header;
    loop {
        if !pending && !reader.read_byte_record(&mut record)? {
            break;
        }
        pending = false;
        let (line, offset) = record.position().map_or((0, 0), |p| (p.line(), p.byte()));
        let raw = |record: &csv::ByteRecord| record.iter().collect::<Vec<_>>().join(&delimiter);
        if record.len() != width {
            let reason = format!("has {} fields, expected {width}", record.len());
            malformed(on_error, &mut writer, line, &reason, &raw(&record))?;
            continue;
        }
        match csv::StringRecord::from_byte_record(std::mem::take(&mut record)) {
            Ok(text) => {
                writer.write_row(text.iter())?;
                record = text.into_byte_record();
            }
            Err(e) => {
                let field = e.utf8_error().field();
                record = e.into_byte_record();
                let reason = format!(
                    "field {} (`{}`) is not valid UTF-8",
                    field + 1,
                    writer.columns()[field]
                );
                malformed(on_error, &mut writer, line, &reason, &raw(&record))?;
            }
        }
        progress.tick(writer.rows(), offset);
    }
    Ok(writer)
}

/// Reads one line of at most `MAX_LINE_BYTES` into `buf` (without the line
/// end); answers false at the end, and whether the line was cut.
fn read_line(reader: &mut impl BufRead, buf: &mut Vec<u8>) -> std::io::Result<Option<bool>> {
    buf.clear();
    let mut too_long = false;
    let mut any = false;
    loop {
        let available = reader.fill_buf()?;
        if available.is_empty() {
            break;
        }
        any = true;
        let (chunk, done) = match available.iter().position(|b| *b == b'\n') {
            Some(i) => (&available[..i], Some(i + 1)),
            None => (available, None),
        };
        if buf.len() + chunk.len() > MAX_LINE_BYTES {
            too_long = true;
        } else {
            buf.extend_from_slice(chunk);
        }
        let used = done.unwrap_or(chunk.len());
        reader.consume(used);
        if done.is_some() {
            break;
        }
    }
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    Ok(any.then_some(too_long))
}

/// One JSON object with its keys in the order they were written.
type Object = indexmap::IndexMap<String, Value>;

/// Why a JSON line is not a row, if it is not.
fn parse_object(line: &[u8], too_long: bool) -> Result<Option<Object>, String> {
    if too_long {
        return Err(format!(
            "the line is longer than {} MiB",
            MAX_LINE_BYTES >> 20
        ));
    }
    if line.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    match serde_json::from_slice::<Object>(line) {
        Ok(map) => Ok(Some(map)),
        Err(e) => match serde_json::from_slice::<serde::de::IgnoredAny>(line) {
            Ok(_) => Err("is not a JSON object".into()),
            Err(_) => Err(format!("is not valid JSON: {e}")),
        },
    }
}

fn cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn ingest_jsonl(
    path: &Path,
    target: &Target,
    on_error: OnError,
    mut progress: Progress,
) -> Result<DatasetWriter, StepError> {
    // First pass: the columns are every key, in order of first appearance.
    let mut names = Vec::new();
    let mut seen = HashSet::new();
    let mut buf = Vec::new();
    let mut reader = BufReader::with_capacity(256 * 1024, File::open(path)?);
    let mut line = 0u64;
    while let Some(too_long) = read_line(&mut reader, &mut buf)? {
        line += 1;
        match parse_object(&buf, too_long) {
            Ok(Some(map)) => {
                for key in map.keys() {
                    if seen.insert(key.clone()) {
                        names.push(key.clone());
                    }
                }
            }
            Ok(None) => {}
            Err(reason) if on_error == OnError::Fail => {
                return fail(format!("line {line}: {reason}"))
            }
            Err(_) => {}
        }
    }
    if names.is_empty() && line == 0 {
        return fail("the source is empty");
    }
    let mut writer = target.create(column_names(names.clone()))?;
    let mut reader = BufReader::with_capacity(256 * 1024, File::open(path)?);
    let (mut line, mut bytes) = (0u64, 0u64);
    let mut row: Vec<String> = vec![String::new(); names.len()];
    while let Some(too_long) = read_line(&mut reader, &mut buf)? {
        line += 1;
        bytes += buf.len() as u64 + 1;
        match parse_object(&buf, too_long) {
            Ok(Some(map)) => {
                for (slot, name) in row.iter_mut().zip(&names) {
                    *slot = map.get(name).map(cell).unwrap_or_default();
                }
                writer.write_row(row.iter().map(String::as_str))?;
            }
            Ok(None) => {}
            Err(reason) => malformed(on_error, &mut writer, line, &reason, &buf)?,
        }
        progress.tick(writer.rows(), bytes);
    }
    Ok(writer)
}
