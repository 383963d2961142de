//! `quality.check`: rules over a dataset, a JSON report, and a non-zero exit
//! when a rule has more violations than the threshold. One streaming pass
//! checks every rule; `unique` keeps 24 bytes per row in sorted runs on disk,
//! so memory stays flat however large the dataset.

use super::env::StepEnv;
use super::keysort::KeySorter;
use super::{fail, Progress, StepError};
use crate::datasets::{write_atomically, StoredDataset, QUALITY_FILE};
use crate::time::Timestamp;
use app::rules::{self, Literal, Rule, RuleLine, Threshold};
use clap::Args;
use serde_json::{json, Map, Value};
use std::collections::HashSet;

#[derive(Debug, Clone, Args)]
pub struct QualityArgs {
    /// The dataset to check.
    #[arg(long)]
    pub dataset: String,
    /// The rules, one per line.
    #[arg(long)]
    pub rules: String,
    /// Violations a rule may have: a count (`0`) or a percentage (`2.5%`).
    #[arg(long, default_value = "0")]
    pub threshold: String,
    /// Violating rows each rule lists in the report.
    #[arg(long, default_value_t = 5)]
    pub examples: usize,
}

/// How a rule looks at one row.
enum Check {
    NotNull(Vec<usize>),
    Unique(Vec<usize>, KeySorter),
    RangeNumber(usize, f64, f64),
    RangeText(usize, String, String),
    Regex(usize, regex::Regex),
    Allowed(usize, HashSet<String>),
    RowCount(u64, u64),
}

struct Example {
    row: u64,
    detail: Option<String>,
}

struct RuleState {
    line: RuleLine,
    columns: Vec<usize>,
    check: Check,
    checked: u64,
    violations: u64,
    examples: Vec<Example>,
}

impl RuleState {
    fn violate(&mut self, row: u64, detail: Option<String>, keep: usize) {
        self.violations += 1;
        if self.examples.len() < keep {
            self.examples.push(Example { row, detail });
        }
    }
}

pub async fn run(args: QualityArgs) -> Result<(), StepError> {
    let env = StepEnv::from_env().map_err(StepError::Usage)?;
    let parsed = rules::parse(&args.rules).map_err(|e| StepError::Usage(format!("rules: {e}")))?;
    let threshold = Threshold::parse(&args.threshold).map_err(StepError::Usage)?;
    tokio::task::spawn_blocking(move || check(&env, &args, parsed, threshold))
        .await
        .map_err(|e| StepError::Failed(format!("quality check stopped: {e}")))?
}

fn prepare(
    dataset: &StoredDataset,
    line: RuleLine,
    work: &std::path::Path,
) -> Result<RuleState, StepError> {
    let index = |c: &str| {
        dataset.column_index(c).map_err(|e| {
            StepError::Failed(format!("rule on line {} ({}): {e}", line.line, line.rule))
        })
    };
    let columns = line
        .rule
        .columns()
        .into_iter()
        .map(index)
        .collect::<Result<Vec<_>, _>>()?;
    let check = match &line.rule {
        Rule::NotNull { .. } => Check::NotNull(columns.clone()),
        Rule::Unique { .. } => Check::Unique(columns.clone(), KeySorter::new(work)?),
        Rule::Range { min, max, .. } => match (min, max) {
            (Literal::Number(a), Literal::Number(b)) => Check::RangeNumber(columns[0], *a, *b),
            (Literal::Text(a), Literal::Text(b)) => {
                Check::RangeText(columns[0], a.clone(), b.clone())
            }
            _ => unreachable!("the parser refuses mixed bounds"),
        },
        Rule::Regex { pattern, .. } => Check::Regex(
            columns[0],
            regex::Regex::new(pattern).map_err(|e| StepError::Usage(e.to_string()))?,
        ),
        Rule::AllowedValues { values, .. } => {
            Check::Allowed(columns[0], values.iter().cloned().collect())
        }
        Rule::RowCount { min, max } => Check::RowCount(*min, *max),
    };
    Ok(RuleState {
        line,
        columns,
        check,
        checked: 0,
        violations: 0,
        examples: Vec::new(),
    })
}

fn check(
    env: &StepEnv,
    args: &QualityArgs,
    parsed: Vec<RuleLine>,
    threshold: Threshold,
) -> Result<(), StepError> {
    let dataset = StoredDataset::open(&env.datasets_dir(), &args.dataset).map_err(|e| {
        StepError::Failed(format!(
            "{e}; run the step that writes it before this check"
        ))
    })?;
    let work = env.work_dir()?;
    let mut states = parsed
        .into_iter()
        .map(|line| prepare(&dataset, line, &work))
        .collect::<Result<Vec<_>, _>>()?;
    let keep = args.examples;
    println!(
        "quality.check: checking `{}` ({} rows) against {} rules, threshold {threshold}",
        dataset.meta.name,
        dataset.meta.rows,
        states.len()
    );

    let mut progress = Progress::new("quality.check", Some(dataset.meta.size_bytes));
    let mut reader = dataset.reader()?;
    let mut record = csv::StringRecord::new();
    let mut row = 0u64;
    while reader.read_record(&mut record)? {
        row += 1;
        for state in &mut states {
            evaluate(state, &record, row, keep)?;
        }
        progress.tick(row, record.position().map_or(0, |p| p.byte()));
    }
    for state in &mut states {
        match &mut state.check {
            Check::RowCount(min, max) => {
                state.checked = 1;
                if row < *min || row > *max {
                    state.violate(0, Some(format!("the dataset has {row} rows")), keep);
                }
            }
            Check::Unique(_, sorter) => {
                let duplicates = std::mem::replace(sorter, KeySorter::empty()).duplicates(keep)?;
                state.violations = duplicates.count;
                state.examples = duplicates
                    .examples
                    .into_iter()
                    .map(|(row, first)| Example {
                        row,
                        detail: Some(format!("same value as row {first}")),
                    })
                    .collect();
            }
            _ => {}
        }
    }
    let values = example_values(&dataset, &states)?;
    let report = report(&dataset, &states, threshold, &values, env);
    write_atomically(
        &dataset.dir.join(QUALITY_FILE),
        &serde_json::to_vec_pretty(&report).map_err(std::io::Error::from)?,
    )?;

    let mut failed = Vec::new();
    for state in &states {
        let over = threshold.exceeded(state.violations, state.checked);
        let rows: Vec<String> = state
            .examples
            .iter()
            .filter(|e| e.row > 0)
            .map(|e| e.row.to_string())
            .collect();
        let rows = match rows.len() {
            0 => String::new(),
            1 => format!(" (row {})", rows[0]),
            n if state.violations as usize > n => format!(" (rows {}, …)", rows.join(", ")),
            _ => format!(" (rows {})", rows.join(", ")),
        };
        let violations = match state.violations {
            1 => "1 violation".to_owned(),
            n => format!("{n} violations"),
        };
        println!(
            "  {} {}: {violations} in {} checked{rows}",
            if over { "FAIL" } else { "pass" },
            state.line.rule,
            state.checked
        );
        if over {
            failed.push(format!("{} ({violations})", state.line.rule));
        }
    }
    println!(
        "quality.check: report in datasets/{}/{QUALITY_FILE}",
        dataset.meta.name
    );
    if failed.is_empty() {
        println!("quality.check: all {} rules passed", states.len());
        Ok(())
    } else {
        fail(format!(
            "quality check of `{}` failed: {} of {} rules over the threshold {threshold}: {}",
            dataset.meta.name,
            failed.len(),
            states.len(),
            failed.join("; ")
        ))
    }
}

fn evaluate(
    state: &mut RuleState,
    record: &csv::StringRecord,
    row: u64,
    keep: usize,
) -> Result<(), StepError> {
    let value = |i: usize| record.get(i).unwrap_or("");
    match &mut state.check {
        Check::NotNull(columns) => {
            state.checked += 1;
            let empty: Vec<usize> = columns
                .iter()
                .copied()
                .filter(|c| value(*c).is_empty())
                .collect();
            if !empty.is_empty() {
                state.violate(row, None, keep);
            }
        }
        Check::Unique(columns, sorter) => {
            if columns.iter().any(|c| value(*c).is_empty()) {
                return Ok(());
            }
            state.checked += 1;
            let mut hasher = xxhash_rust::xxh3::Xxh3::new();
            for c in columns.iter() {
                let v = value(*c);
                hasher.update(&(v.len() as u64).to_le_bytes());
                hasher.update(v.as_bytes());
            }
            sorter.push(hasher.digest128(), row)?;
        }
        Check::RangeNumber(c, min, max) => {
            let v = value(*c);
            if v.is_empty() {
                return Ok(());
            }
            state.checked += 1;
            match v.trim().parse::<f64>() {
                Ok(n) if n >= *min && n <= *max => {}
                Ok(_) => state.violate(row, None, keep),
                Err(_) => state.violate(row, Some("not a number".into()), keep),
            }
        }
        Check::RangeText(c, min, max) => {
            let v = value(*c);
            if v.is_empty() {
                return Ok(());
            }
            state.checked += 1;
            if v < min.as_str() || v > max.as_str() {
                state.violate(row, None, keep);
            }
        }
        Check::Regex(c, re) => {
            let v = value(*c);
            if v.is_empty() {
                return Ok(());
            }
            state.checked += 1;
            if !re.is_match(v) {
                state.violate(row, None, keep);
            }
        }
        Check::Allowed(c, allowed) => {
            let v = value(*c);
            if v.is_empty() {
                return Ok(());
            }
            state.checked += 1;
            if !allowed.contains(v) {
                state.violate(row, None, keep);
            }
        }
        Check::RowCount(..) => {}
    }
    Ok(())
}

/// The values of every example row, read in a second pass that stops at the last one.
fn example_values(
    dataset: &StoredDataset,
    states: &[RuleState],
) -> Result<std::collections::HashMap<u64, csv::StringRecord>, StepError> {
    let wanted: HashSet<u64> = states
        .iter()
        .flat_map(|s| s.examples.iter().map(|e| e.row))
        .filter(|r| *r > 0)
        .collect();
    let mut found = std::collections::HashMap::new();
    let Some(last) = wanted.iter().max().copied() else {
        return Ok(found);
    };
    let mut reader = dataset.reader()?;
    let mut record = csv::StringRecord::new();
    let mut row = 0;
    while row < last && reader.read_record(&mut record)? {
        row += 1;
        if wanted.contains(&row) {
            found.insert(row, record.clone());
        }
    }
    Ok(found)
}

fn report(
    dataset: &StoredDataset,
    states: &[RuleState],
    threshold: Threshold,
    values: &std::collections::HashMap<u64, csv::StringRecord>,
    env: &StepEnv,
) -> Value {
    let columns = &dataset.meta.columns;
    let rules: Vec<Value> = states
        .iter()
        .map(|s| {
            let examples: Vec<Value> = s
                .examples
                .iter()
                .map(|e| {
                    let mut shown = Map::new();
                    if let Some(record) = values.get(&e.row) {
                        for c in &s.columns {
                            let column = &columns[*c];
                            shown.insert(
                                column.name.clone(),
                                crate::datasets::typed(
                                    column.column_type,
                                    record.get(*c).unwrap_or(""),
                                ),
                            );
                        }
                    }
                    let mut example = json!({ "values": shown });
                    if e.row > 0 {
                        example["row"] = json!(e.row);
                    }
                    if let Some(detail) = &e.detail {
                        example["detail"] = json!(detail);
                    }
                    example
                })
                .collect();
            let percent = if s.checked == 0 {
                0.0
            } else {
                s.violations as f64 * 100.0 / s.checked as f64
            };
            json!({
                "rule": s.line.rule.to_string(),
                "line": s.line.line,
                "checked": s.checked,
                "violations": s.violations,
                "violation_percent": (percent * 1000.0).round() / 1000.0,
                "passed": !threshold.exceeded(s.violations, s.checked),
                "examples": examples,
            })
        })
        .collect();
    let passed = states
        .iter()
        .all(|s| !threshold.exceeded(s.violations, s.checked));
    json!({
        "dataset": dataset.meta.name,
        "rows": dataset.meta.rows,
        "threshold": threshold.to_string(),
        "passed": passed,
        "rules": rules,
        "checked_at": Timestamp::now().to_string(),
        "checked_by": env.producer,
    })
}
