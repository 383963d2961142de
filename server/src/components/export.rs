//! `export.file`: a dataset as CSV or JSON Lines, to the tenant's export
//! folder or by HTTP POST to a URL. Either way the file is written first,
//! within the tenant's disk quota.

use super::env::{new_file, StepEnv};
use super::remote::{locate, upload, Location};
use super::{human_bytes, Progress, StepError};
use crate::datasets::{typed, StoredDataset};
use crate::quota::{Budget, Metered};
use app::api::datasets::ColumnType;
use clap::{Args, ValueEnum};
use std::io::{BufWriter, Write};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    Csv,
    Jsonl,
}

#[derive(Debug, Clone, Args)]
pub struct ExportArgs {
    /// The dataset to export.
    #[arg(long)]
    pub dataset: String,
    #[arg(long, value_enum, default_value_t = ExportFormat::Csv)]
    pub format: ExportFormat,
    /// A path in the tenant's export folder, an http(s) URL, or s3://bucket/key.
    #[arg(long)]
    pub destination: String,
}

pub async fn run(args: ExportArgs) -> Result<(), StepError> {
    let env = StepEnv::from_env().map_err(StepError::Usage)?;
    let dataset = StoredDataset::open(&env.datasets_dir(), &args.dataset).map_err(|e| {
        StepError::Failed(format!(
            "{e}; run the step that writes it before this export"
        ))
    })?;
    let format = args.format;
    let budget = env.budget();
    match locate(&args.destination) {
        Location::S3(url) => {
            super::s3::S3Url::parse(url).map_err(StepError::Failed)?;
            let mut tmp = tempfile::NamedTempFile::new_in(env.work_dir()?)?;
            let rows = tokio::task::block_in_place(|| {
                write(&dataset, format, tmp.as_file_mut(), &budget)
            })?;
            println!("export.file: uploading {rows} rows to {url}");
            let bytes = super::s3::upload(&env, url, tmp.path(), content_type(format))
                .await
                .map_err(StepError::Failed)?;
            println!(
                "export.file: wrote {rows} rows ({}) to {url}",
                human_bytes(bytes)
            );
            Ok(())
        }
        Location::Local(path) => {
            let target = new_file(&env.exports_dir(), path, "export").map_err(StepError::Failed)?;
            let folder = target.parent().expect("a file has a parent").to_path_buf();
            let (rows, bytes) =
                tokio::task::spawn_blocking(move || -> Result<(u64, u64), StepError> {
                    let mut tmp = tempfile::NamedTempFile::new_in(&folder)?;
                    let rows = write(&dataset, format, tmp.as_file_mut(), &budget)?;
                    let bytes = tmp.as_file().metadata()?.len();
                    tmp.persist(&target).map_err(|e| e.error)?;
                    Ok((rows, bytes))
                })
                .await
                .map_err(|e| StepError::Failed(format!("export stopped: {e}")))??;
            println!(
                "export.file: wrote {rows} rows ({}) to exports/{path}",
                human_bytes(bytes)
            );
            Ok(())
        }
        Location::Http(url) => {
            let mut tmp = tempfile::NamedTempFile::new_in(env.work_dir()?)?;
            let rows = tokio::task::block_in_place(|| {
                write(&dataset, format, tmp.as_file_mut(), &budget)
            })?;
            println!("export.file: posting {rows} rows to {url}");
            let status = upload(&env, url, tmp.path(), content_type(format))
                .await
                .map_err(StepError::Failed)?;
            println!("export.file: {url} accepted the export ({status})");
            Ok(())
        }
    }
}

fn content_type(format: ExportFormat) -> &'static str {
    match format {
        ExportFormat::Csv => "text/csv; charset=utf-8",
        ExportFormat::Jsonl => "application/x-ndjson",
    }
}

/// Writes the dataset to `out` within `budget` (past it, fails having
/// counted all it would need); answers the rows written.
fn write(
    dataset: &StoredDataset,
    format: ExportFormat,
    out: &mut std::fs::File,
    budget: &Budget,
) -> Result<u64, StepError> {
    let mut out = BufWriter::with_capacity(256 * 1024, Metered::new(out, budget.clone()));
    let mut progress = Progress::new("export.file", Some(dataset.meta.size_bytes));
    let rows = write_rows(dataset, format, &mut out, |rows, bytes| {
        progress.tick(rows, bytes)
    })?;
    out.flush()?;
    budget.check("export", true).map_err(StepError::Failed)?;
    Ok(rows)
}

/// Writes the dataset's rows to `out` as `format` (CSV with its header, or
/// one JSON object per line with typed values), telling `tick` the rows
/// and source bytes done; answers the rows written. Exports and the
/// dataset downloads of the API write through it.
pub fn write_rows(
    dataset: &StoredDataset,
    format: ExportFormat,
    mut out: impl Write,
    mut tick: impl FnMut(u64, u64),
) -> Result<u64, StepError> {
    let mut rows = 0;
    match format {
        ExportFormat::Csv => {
            // The stored form is already CSV with a header.
            let mut writer = csv::Writer::from_writer(&mut out);
            let mut reader = dataset.reader()?;
            writer.write_byte_record(reader.byte_headers()?)?;
            let mut record = csv::ByteRecord::new();
            while reader.read_byte_record(&mut record)? {
                writer.write_byte_record(&record)?;
                rows += 1;
                tick(rows, record.position().map_or(0, |p| p.byte()));
            }
            writer.flush()?;
        }
        ExportFormat::Jsonl => {
            let columns: Vec<(String, ColumnType)> = dataset
                .meta
                .columns
                .iter()
                .map(|c| (c.name.clone(), c.column_type))
                .collect();
            let mut reader = dataset.reader()?;
            let mut record = csv::StringRecord::new();
            while reader.read_record(&mut record)? {
                let object: serde_json::Map<String, serde_json::Value> = columns
                    .iter()
                    .zip(record.iter())
                    .map(|((name, t), text)| (name.clone(), typed(*t, text)))
                    .collect();
                serde_json::to_writer(&mut out, &object).map_err(std::io::Error::from)?;
                out.write_all(b"\n")?;
                rows += 1;
                tick(rows, record.position().map_or(0, |p| p.byte()));
            }
        }
    }
    out.flush()?;
    Ok(rows)
}
