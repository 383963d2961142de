//! Every golden DAG file (`tests/airflow/golden`, kept equal to the renderer
//! by the unit tests) is imported by a real Airflow 3.3 with the Amazon
//! provider: no import errors, no deprecation warnings, no code run from a
//! value, and the task ids, dependencies, operators and step arguments the
//! version's DAG says; a run's arguments from its conf (hostile ones
//! included) reach each step exactly as given, after templating.

use std::process::Command;

#[test]
fn real_airflow_imports_every_golden_file_as_expected() {
    if crate::common::airflow::skipped("real_airflow_imports_every_golden_file_as_expected") {
        return;
    }
    let python = crate::common::airflow::python();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/airflow");
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(&python)
        .arg(format!("{dir}/check_dags.py"))
        .arg(format!("{dir}/golden"))
        .env("AIRFLOW_HOME", home.path())
        .output()
        .unwrap_or_else(|e| panic!("running {python}: {e} (source scripts/env.sh first)"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let golden = std::fs::read_dir(format!("{dir}/golden"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "py")
        })
        .count();
    assert!(golden >= 3);
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("ok ")).count(),
        golden,
        "{stdout}"
    );
}
