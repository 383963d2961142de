//! `transform.sql`: one read-only SQL query over the declared input datasets,
//! its result written as a new dataset. The query runs in a private SQLite
//! database that holds the inputs and nothing else: attaching other
//! databases is switched off, and only one statement that reads is allowed.
//! The database is a temporary file with a small page cache (rather than
//! memory) so that memory stays flat however large the inputs are. The query
//! is bounded ([`SqlLimits`]): a progress handler stops it past its time
//! budget, and it stops writing past its rows and bytes.

use super::env::{SqlLimits, StepEnv};
use super::{fail, Progress, StepError};
use crate::datasets::{column_names, valid_name, DatasetWriter, StoredDataset};
use app::api::datasets::ColumnType;
use clap::Args;
use rusqlite::limits::Limit;
use rusqlite::types::{Value as SqlValue, ValueRef};
use rusqlite::Connection;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// SQLite virtual-machine steps between looks at the clock.
const PROGRESS_STEPS: i32 = 10_000;

#[derive(Debug, Clone, Args)]
pub struct TransformArgs {
    /// Comma-separated input dataset names; each is a table of the same name.
    #[arg(long)]
    pub inputs: String,
    /// One SELECT statement.
    #[arg(long)]
    pub sql: String,
    /// The dataset to write.
    #[arg(long)]
    pub dataset: String,
}

fn sql_error(e: rusqlite::Error) -> StepError {
    StepError::Failed(format!("SQL error: {e}"))
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn declared(t: ColumnType) -> &'static str {
    match t {
        ColumnType::Integer => "INTEGER",
        ColumnType::Number => "REAL",
        ColumnType::Boolean => "BOOLEAN",
        ColumnType::Date => "DATE",
        ColumnType::Timestamp => "TIMESTAMP",
        ColumnType::String => "TEXT",
    }
}

fn to_sql(t: ColumnType, text: &str) -> SqlValue {
    if text.is_empty() {
        return SqlValue::Null;
    }
    match t {
        ColumnType::Integer => text.parse().map(SqlValue::Integer).ok(),
        ColumnType::Number => text.parse().map(SqlValue::Real).ok(),
        ColumnType::Boolean => match crate::datasets::typed(t, text) {
            serde_json::Value::Bool(b) => Some(SqlValue::Integer(b as i64)),
            _ => None,
        },
        _ => None,
    }
    .unwrap_or_else(|| SqlValue::Text(text.to_owned()))
}

pub async fn run(args: TransformArgs) -> Result<(), StepError> {
    let env = StepEnv::from_env().map_err(StepError::Usage)?;
    let inputs: Vec<String> = args
        .inputs
        .split(',')
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect();
    if inputs.is_empty() {
        return Err(StepError::Usage("--inputs names no dataset".into()));
    }
    for name in inputs.iter().chain([&args.dataset]) {
        if !valid_name(name) {
            return Err(StepError::Usage(format!("`{name}` is not a dataset name")));
        }
    }
    tokio::task::spawn_blocking(move || transform(&env, &inputs, &args.sql, &args.dataset))
        .await
        .map_err(|e| StepError::Failed(format!("transform stopped: {e}")))?
}

fn transform(env: &StepEnv, inputs: &[String], sql: &str, output: &str) -> Result<(), StepError> {
    let root = env.datasets_dir();
    let datasets = inputs
        .iter()
        .map(|name| {
            StoredDataset::open(&root, name).map_err(|e| {
                StepError::Failed(format!(
                    "input {e}; run the step that writes it before this one"
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;

    let file = tempfile::NamedTempFile::new_in(env.work_dir()?)?;
    let conn = Connection::open(file.path()).map_err(sql_error)?;
    conn.execute_batch(
        "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA cache_size = -16384; PRAGMA temp_store = FILE;",
    )
    .map_err(sql_error)?;
    // No other database can be reached from the query.
    conn.set_limit(Limit::SQLITE_LIMIT_ATTACHED, 0);

    for dataset in &datasets {
        load(&conn, dataset)?;
    }

    let mut batch = rusqlite::Batch::new(&conn, sql);
    let Some(mut stmt) = batch.next().map_err(sql_error)? else {
        return fail("the SQL is empty; write one SELECT statement");
    };
    if !matches!(batch.next(), Ok(None)) {
        return fail("the SQL has more than one statement; write one SELECT statement");
    }
    if !stmt.readonly() {
        return fail("the SQL must only read: write one SELECT statement (it may use WITH)");
    }
    if stmt.column_count() == 0 {
        return fail("the SQL returns no columns; write one SELECT statement");
    }
    let booleans: Vec<bool> = stmt
        .columns()
        .iter()
        .map(|c| {
            c.decl_type()
                .is_some_and(|t| t.eq_ignore_ascii_case("BOOLEAN"))
        })
        .collect();
    let names = column_names(stmt.column_names().into_iter().map(str::to_owned));
    println!("transform.sql: running the query");
    let quota = env.budget();
    let mut writer = DatasetWriter::create_within(&root, output, names, quota.clone())?;
    let mut progress = Progress::new("transform.sql", None);
    let budget = Budget::start(&conn, env.sql);
    let mut rows = stmt.query([]).map_err(|e| budget.error(e))?;
    let mut cells: Vec<String> = vec![String::new(); booleans.len()];
    let mut bytes: u64 = 0;
    while let Some(row) = rows.next().map_err(|e| budget.error(e))? {
        if writer.rows() >= env.sql.max_rows {
            return fail(format!(
                "stopped: the query returns more than {} rows, the most a query may write",
                env.sql.max_rows
            ));
        }
        for (i, cell) in cells.iter_mut().enumerate() {
            cell.clear();
            match row.get_ref(i).map_err(sql_error)? {
                ValueRef::Null => {}
                ValueRef::Integer(n) if booleans[i] => {
                    cell.push_str(if n != 0 { "true" } else { "false" })
                }
                ValueRef::Integer(n) => cell.push_str(&n.to_string()),
                // `{:?}` keeps `3.0` a number rather than the integer `3`.
                ValueRef::Real(x) => cell.push_str(&format!("{x:?}")),
                ValueRef::Text(t) | ValueRef::Blob(t) => cell.push_str(&String::from_utf8_lossy(t)),
            }
        }
        // The cells and their separators: what the row adds to the file,
        // give or take quoting.
        bytes += cells.iter().map(|c| c.len() as u64 + 1).sum::<u64>();
        if bytes > env.sql.max_bytes {
            return fail(format!(
                "stopped: the query's result is larger than {}, the most a query may write",
                super::human_bytes(env.sql.max_bytes)
            ));
        }
        writer.write_row(cells.iter().map(String::as_str))?;
        quota.check("dataset", false).map_err(StepError::Failed)?;
        progress.tick(writer.rows(), bytes);
        budget.check()?;
    }
    drop(rows);
    let meta = writer.finish(env.producer.clone())?;
    println!(
        "transform.sql: wrote dataset `{}`: {} rows, {} columns",
        meta.name,
        meta.rows,
        meta.columns.len()
    );
    Ok(())
}

/// The query's time budget: SQLite's progress handler interrupts the
/// statement once the deadline has passed, and the loop that writes rows
/// checks it too (a query can return rows fast and forever).
struct Budget {
    limit: std::time::Duration,
    deadline: Option<Instant>,
    expired: Arc<AtomicBool>,
}

impl Budget {
    fn start(conn: &Connection, limits: SqlLimits) -> Self {
        // A deadline past what `Instant` can hold is no deadline at all.
        let deadline = Instant::now().checked_add(limits.timeout);
        let expired = Arc::new(AtomicBool::new(false));
        if let Some(deadline) = deadline {
            let flag = expired.clone();
            conn.progress_handler(
                PROGRESS_STEPS,
                Some(move || {
                    let past = Instant::now() >= deadline;
                    if past {
                        flag.store(true, Ordering::Relaxed);
                    }
                    past
                }),
            );
        }
        Self {
            limit: limits.timeout,
            deadline,
            expired,
        }
    }

    fn message(&self) -> String {
        format!(
            "stopped: the query ran past its {} s budget",
            self.limit.as_secs_f64()
        )
    }

    /// What a failed step of the query means: the budget ran out, or the
    /// SQL is wrong.
    fn error(&self, e: rusqlite::Error) -> StepError {
        if self.expired.load(Ordering::Relaxed) {
            StepError::Failed(self.message())
        } else {
            sql_error(e)
        }
    }

    fn check(&self) -> Result<(), StepError> {
        match self.deadline {
            Some(deadline) if Instant::now() >= deadline => fail(self.message()),
            _ => Ok(()),
        }
    }
}

/// Copies one dataset into a table of the same name, with typed columns.
fn load(conn: &Connection, dataset: &StoredDataset) -> Result<(), StepError> {
    let meta = &dataset.meta;
    let columns: Vec<String> = meta
        .columns
        .iter()
        .map(|c| format!("{} {}", quote_ident(&c.name), declared(c.column_type)))
        .collect();
    conn.execute_batch(&format!(
        "CREATE TABLE {} ({});",
        quote_ident(&meta.name),
        columns.join(", ")
    ))
    .map_err(sql_error)?;
    let placeholders = vec!["?"; meta.columns.len()].join(", ");
    let types: Vec<ColumnType> = meta.columns.iter().map(|c| c.column_type).collect();
    conn.execute_batch("BEGIN").map_err(sql_error)?;
    {
        let mut insert = conn
            .prepare(&format!(
                "INSERT INTO {} VALUES ({placeholders})",
                quote_ident(&meta.name)
            ))
            .map_err(sql_error)?;
        let mut reader = dataset.reader()?;
        let mut record = csv::StringRecord::new();
        let mut progress = Progress::new("transform.sql: loading", Some(meta.size_bytes));
        let mut n = 0;
        while reader.read_record(&mut record)? {
            let values = record.iter().zip(&types).map(|(text, t)| to_sql(*t, text));
            insert
                .execute(rusqlite::params_from_iter(values))
                .map_err(sql_error)?;
            n += 1;
            progress.tick(n, record.position().map_or(0, |p| p.byte()));
        }
    }
    conn.execute_batch("COMMIT").map_err(sql_error)?;
    println!("transform.sql: loaded `{}` ({} rows)", meta.name, meta.rows);
    Ok(())
}
