//! The built-in component catalog seeded at first start. `trellis` as a
//! program means the running Trellis binary itself (`trellis step …`).

use crate::types::component::{ComponentType, EmrStepTemplate, LocalExec, ParamKind, ParamSpec};
use serde_json::{json, Value};

/// What a dataset may be called: it doubles as a table name in `transform.sql`.
pub const DATASET_NAME_PATTERN: &str = "[a-z][a-z0-9_]{0,62}";

/// Where the PySpark scripts of the data components live unless a node says otherwise.
pub const DEFAULT_SCRIPT_LOCATION: &str = "s3://trellis-components/v1";

/// Where the data components keep datasets on EMR unless a node says otherwise.
pub const DEFAULT_DATASET_LOCATION: &str = "s3://trellis-datasets";

/// The module every data component's PySpark script imports, shipped beside them.
pub const SPARK_COMMON_MODULE: &str = "trellis_common.py";

fn local(args: &[&str]) -> Option<LocalExec> {
    Some(LocalExec {
        program: "trellis".into(),
        args: args.iter().map(|a| a.to_string()).collect(),
    })
}

/// A command on the cluster's primary node through `command-runner.jar`.
fn command(args: &[&str]) -> Option<EmrStepTemplate> {
    Some(EmrStepTemplate {
        jar: "command-runner.jar".into(),
        args: args.iter().map(|a| a.to_string()).collect(),
        action_on_failure: "CONTINUE".into(),
    })
}

/// `spark-submit` of the component's PySpark script through `command-runner.jar`,
/// with the shared module beside it and the datasets' root.
fn spark(script: &str, args: &[&str]) -> Option<EmrStepTemplate> {
    let mut all: Vec<String> = ["spark-submit", "--deploy-mode", "cluster", "--py-files"]
        .iter()
        .map(|a| a.to_string())
        .collect();
    all.push(format!("{{script_location}}/{SPARK_COMMON_MODULE}"));
    all.push(format!("{{script_location}}/{script}"));
    all.extend(["--datasets".to_owned(), "{dataset_location}".to_owned()]);
    all.extend(args.iter().map(|a| a.to_string()));
    Some(EmrStepTemplate {
        jar: "command-runner.jar".into(),
        args: all,
        action_on_failure: "CONTINUE".into(),
    })
}

fn param(
    name: &str,
    label: &str,
    kind: ParamKind,
    default: Option<Value>,
    help: &str,
) -> ParamSpec {
    ParamSpec {
        name: name.into(),
        label: label.into(),
        kind,
        required: default.is_none(),
        default,
        help: Some(help.into()),
    }
}

fn text(pattern: Option<&str>, max_length: usize) -> ParamKind {
    ParamKind::String {
        pattern: pattern.map(str::to_owned),
        max_length: Some(max_length),
    }
}

fn choice(values: &[&str]) -> ParamKind {
    ParamKind::Enum {
        values: values.iter().map(|v| v.to_string()).collect(),
    }
}

fn dataset(name: &str, label: &str, help: &str) -> ParamSpec {
    param(
        name,
        label,
        text(Some(DATASET_NAME_PATTERN), 63),
        None,
        help,
    )
}

fn script_location() -> ParamSpec {
    param(
        "script_location",
        "Script location (EMR)",
        text(Some("s3://[a-z0-9.-]+(/[^ ]*)?"), 1024),
        Some(json!(DEFAULT_SCRIPT_LOCATION)),
        "The S3 folder holding the Trellis PySpark scripts (`trellis spark upload` puts them there); used only when the process runs on EMR.",
    )
}

fn dataset_location() -> ParamSpec {
    param(
        "dataset_location",
        "Dataset location (EMR)",
        text(Some("s3://[a-z0-9.-]+(/[^ ]*)?"), 1024),
        Some(json!(DEFAULT_DATASET_LOCATION)),
        "The S3 folder holding the datasets when the process runs on EMR (a folder per dataset, laid out as on this server).",
    )
}

/// The S3 files the EMR side of `component` needs at `script_location`: the
/// arguments of its step template that name files there.
pub fn spark_files(component: &ComponentType) -> Vec<&str> {
    component
        .emr
        .iter()
        .flat_map(|emr| emr.args.iter())
        .filter_map(|arg| arg.strip_prefix("{script_location}/"))
        .collect()
}

/// `[key, name, category, description, icon]` and how it runs.
fn data_component(
    [key, name, category, description, icon]: [&str; 5],
    mut params: Vec<ParamSpec>,
    local_args: &[&str],
    emr_script: &str,
    emr_args: &[&str],
) -> ComponentType {
    params.push(script_location());
    params.push(dataset_location());
    let mut argv = vec!["step", key];
    argv.extend_from_slice(local_args);
    ComponentType {
        key: key.into(),
        name: name.into(),
        category: category.into(),
        description: description.into(),
        icon: icon.into(),
        params,
        local: local(&argv),
        emr: spark(emr_script, emr_args),
        retries: 0,
        retry_delay_seconds: 5.0,
        timeout_seconds: None,
    }
}

fn data_components() -> Vec<ComponentType> {
    let ingest = data_component(
        [
            "ingest.file",
            "Ingest file",
            "Ingest",
            "Reads a CSV or JSON Lines file (from the tenant's data folder or an http(s) URL) into a dataset, inferring column types; malformed rows are rejected with their line numbers or fail the task.",
            "download",
        ],
        vec![
            param("source", "Source", text(None, 2048), None,
                "A path inside the tenant's data folder (such as samples/orders.csv), an http(s):// URL, or s3://bucket/key through the process's connection (a key ending in / reads every object under it)."),
            dataset("dataset", "Dataset", "The dataset to write (replaced if it exists): lower-case letters, digits and _."),
            param("format", "Format", choice(&["auto", "csv", "jsonl"]), Some(json!("auto")),
                "auto reads .jsonl and .ndjson files as JSON Lines and anything else as CSV."),
            param("header", "First row is a header", ParamKind::Boolean, Some(json!(true)),
                "When off, columns are named column_1, column_2, …"),
            param("delimiter", "Delimiter", choice(&[",", ";", "|", "tab"]), Some(json!(",")),
                "What separates CSV fields."),
            param("quote", "Quote", choice(&["\"", "'", "none"]), Some(json!("\"")),
                "What quotes CSV fields that contain delimiters or line breaks."),
            param("on_error", "Malformed rows", choice(&["reject", "fail"]), Some(json!("reject")),
                "reject writes them to the dataset's reject file and goes on; fail stops at the first one."),
        ],
        &["--source={source}", "--dataset={dataset}", "--format={format}", "--header={header}",
          "--delimiter={delimiter}", "--quote={quote}", "--on-error={on_error}"],
        "ingest_file.py",
        &["--source", "{source}", "--dataset", "{dataset}", "--format", "{format}", "--header", "{header}",
          "--delimiter", "{delimiter}", "--quote", "{quote}", "--on-error", "{on_error}"],
    );
    let check = data_component(
        [
            "quality.check",
            "Quality check",
            "Quality",
            "Checks a dataset against rules and writes a report; fails when a rule has more violations than the threshold.",
            "shield-check",
        ],
        vec![
            dataset("dataset", "Dataset", "The dataset to check."),
            param("rules", "Rules", ParamKind::Text { language: Some(crate::rules::LANGUAGE.into()), max_length: Some(20_000) }, None,
                "One rule per line: not_null(a, b), unique(a), range(a, 0, 100), regex(a, '^x'), allowed_values(a, 'x', 'y'), row_count(1, 1000)."),
            param("threshold", "Failure threshold", text(Some("[0-9]+|[0-9]+(\\.[0-9]+)?%"), 20), Some(json!("0")),
                "A rule fails when its violations exceed this count (such as 0) or percentage of rows (such as 2.5%)."),
            param("examples", "Examples per rule", ParamKind::Integer { min: Some(0), max: Some(100) }, Some(json!(5)),
                "How many violating rows each rule lists in the report."),
        ],
        &["--dataset={dataset}", "--rules={rules}", "--threshold={threshold}", "--examples={examples}"],
        "quality_check.py",
        &["--dataset", "{dataset}", "--rules", "{rules}", "--threshold", "{threshold}", "--examples", "{examples}"],
    );
    let transform = data_component(
        [
            "transform.sql",
            "SQL transform",
            "Transform",
            "Runs one SQL query over the input datasets, each a table of the same name, and writes the result as a dataset: SQLite's dialect on this server, Spark SQL on EMR.",
            "code",
        ],
        vec![
            param("inputs", "Input datasets", text(Some("[a-z][a-z0-9_]{0,62}( *, *[a-z][a-z0-9_]{0,62})*"), 2048), None,
                "Comma-separated dataset names; the query can read these and nothing else."),
            param("sql", "SQL", ParamKind::Text { language: Some("sql".into()), max_length: Some(100_000) }, None,
                "One SELECT statement."),
            dataset("dataset", "Output dataset", "The dataset to write (replaced if it exists)."),
        ],
        &["--inputs={inputs}", "--sql={sql}", "--dataset={dataset}"],
        "transform_sql.py",
        &["--inputs", "{inputs}", "--sql", "{sql}", "--dataset", "{dataset}"],
    );
    let export = data_component(
        [
            "export.file",
            "Export file",
            "Export",
            "Writes a dataset as CSV or JSON Lines to the tenant's export folder, by HTTP POST to a URL, or to S3 (the one destination on EMR).",
            "upload",
        ],
        vec![
            dataset("dataset", "Dataset", "The dataset to export."),
            param("format", "Format", choice(&["csv", "jsonl"]), Some(json!("csv")), "The file format written."),
            param("destination", "Destination", text(None, 2048), None,
                "A path inside the tenant's export folder (such as reports/daily.csv), an http(s):// URL to POST to, or s3://bucket/key through the process's connection."),
        ],
        &["--dataset={dataset}", "--format={format}", "--destination={destination}"],
        "export_file.py",
        &["--dataset", "{dataset}", "--format", "{format}", "--destination", "{destination}"],
    );
    vec![ingest, check, transform, export]
}

/// The catalog entries every deployment starts with.
pub fn builtin() -> Vec<ComponentType> {
    vec![
        ComponentType {
            key: "noop".into(),
            name: "No-op".into(),
            category: "Testing".into(),
            description: "Does nothing and succeeds.".into(),
            icon: "circle".into(),
            params: vec![],
            local: local(&["step", "noop"]),
            emr: command(&["true"]),
            retries: 0,
            retry_delay_seconds: 5.0,
            timeout_seconds: None,
        },
        ComponentType {
            key: "sleep".into(),
            name: "Sleep".into(),
            category: "Testing".into(),
            description: "Waits for a number of seconds, then succeeds.".into(),
            icon: "clock".into(),
            params: vec![ParamSpec {
                name: "seconds".into(),
                label: "Seconds".into(),
                kind: ParamKind::Number {
                    min: Some(0.0),
                    max: Some(86_400.0),
                },
                required: true,
                default: None,
                help: Some("How long to wait.".into()),
            }],
            local: local(&["step", "sleep", "--seconds={seconds}"]),
            emr: command(&["sleep", "{seconds}"]),
            retries: 0,
            retry_delay_seconds: 5.0,
            timeout_seconds: None,
        },
        ComponentType {
            key: "fail".into(),
            name: "Fail".into(),
            category: "Testing".into(),
            description: "Fails at once with a message.".into(),
            icon: "x-circle".into(),
            params: vec![ParamSpec {
                name: "message".into(),
                label: "Message".into(),
                kind: ParamKind::String {
                    pattern: None,
                    max_length: Some(1_000),
                },
                required: false,
                default: Some(json!("failed on purpose")),
                help: Some("The error the task reports.".into()),
            }],
            local: local(&["step", "fail", "--message={message}"]),
            // The message is an argument (`$0`), never part of the script.
            emr: command(&["bash", "-c", "echo \"$0\" >&2; exit 1", "{message}"]),
            retries: 0,
            retry_delay_seconds: 5.0,
            timeout_seconds: None,
        },
    ]
    .into_iter()
    .chain(data_components())
    .collect()
}

/// The datasets a node of the built-in data components reads and writes,
/// by name, from its parameter values (values that refer to the run, such
/// as `{{ params.day }}`, name no dataset until a run resolves them).
pub fn dataset_uses(
    component: &str,
    params: &serde_json::Map<String, Value>,
) -> (Vec<String>, Vec<String>) {
    let named = |key: &str| -> Vec<String> {
        params
            .get(key)
            .and_then(Value::as_str)
            .filter(|v| !v.contains("{{"))
            .map(|v| {
                v.split(',')
                    .map(|n| n.trim().to_owned())
                    .filter(|n| !n.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    };
    match component {
        "ingest.file" => (vec![], named("dataset")),
        "transform.sql" => (named("inputs"), named("dataset")),
        "quality.check" | "export.file" => (named("dataset"), vec![]),
        _ => (vec![], vec![]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_entry_is_valid() {
        for component in super::builtin() {
            let errors = crate::validate::validate_component(&component);
            assert!(errors.is_empty(), "{}: {errors:?}", component.key);
        }
    }

    #[test]
    fn nodes_name_the_datasets_they_read_and_write() {
        let params = |v: serde_json::Value| v.as_object().unwrap().clone();
        assert_eq!(
            dataset_uses(
                "transform.sql",
                &params(json!({"inputs": "orders, customers", "dataset": "revenue"}))
            ),
            (
                vec!["orders".to_owned(), "customers".to_owned()],
                vec!["revenue".to_owned()]
            )
        );
        assert_eq!(
            dataset_uses(
                "ingest.file",
                &params(json!({"source": "a.csv", "dataset": "orders"}))
            ),
            (vec![], vec!["orders".to_owned()])
        );
        assert_eq!(
            dataset_uses(
                "export.file",
                &params(json!({"dataset": "{{ params.which }}"}))
            ),
            (vec![], vec![])
        );
        assert_eq!(
            dataset_uses("sleep", &params(json!({"seconds": 1}))),
            (vec![], vec![])
        );
    }
}
