"""Imports every golden DAG file with a real Airflow and checks what Airflow
made of it against the file's expectation (`<name>.json`, derived from the
compiled DAG and the catalog by the Rust tests).

Usage: python check_dags.py GOLDEN_DIR. Prints one line per file and exits 1
on the first difference. Run by `server/tests/it/airflow_import.rs`.
"""

import json
import os
import sys
import tempfile
import warnings
from pathlib import Path

PWNED = Path("/tmp/trellis-pwned")


def fail(message):
    print("FAIL:", message)
    sys.exit(1)


def main(golden):
    os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="trellis-airflow-home-"))
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "True"
    PWNED.unlink(missing_ok=True)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        from airflow.dag_processing.dagbag import DagBag
        from airflow.sdk.definitions.template import LiteralValue

        # Warnings raised while importing Airflow itself are not the files'.
        del caught[:]
        bag = DagBag(dag_folder=str(golden), safe_mode=False)

    if bag.import_errors:
        fail(f"import errors: {json.dumps(bag.import_errors, indent=2)}")
    deprecations = [
        w for w in caught
        if issubclass(w.category, (DeprecationWarning, PendingDeprecationWarning, FutureWarning))
        or "Deprecat" in w.category.__name__ or "Removed" in w.category.__name__
    ]
    if deprecations:
        fail("deprecation warnings: " + "; ".join(
            f"{w.category.__name__}: {w.message} ({w.filename}:{w.lineno})" for w in deprecations))
    if bag.captured_warnings:
        fail(f"warnings while parsing: {json.dumps(bag.captured_warnings, indent=2)}")
    if PWNED.exists():
        fail(f"importing a file ran code from a value: {PWNED} exists")

    expectations = sorted(golden.glob("*.json"))
    if len(bag.dags) != len(expectations):
        fail(f"{len(bag.dags)} DAGs for {len(expectations)} expectation files: {sorted(bag.dags)}")
    for path in expectations:
        want = json.loads(path.read_text())
        dag = bag.dags.get(want["dag_id"])
        if dag is None:
            fail(f"{path.name}: no DAG {want['dag_id']} in {sorted(bag.dags)}")
        check(path.name, dag, want, LiteralValue)
        print(f"ok {path.name}: {want['dag_id']} ({len(dag.tasks)} tasks)")


def check(name, dag, want, LiteralValue):
    def same(what, got, expected):
        if got != expected:
            fail(f"{name}: {what}: got {got!r}, want {expected!r}")

    same("description", dag.description, want["description"])
    same("tags", sorted(dag.tags), sorted(want["tags"]))
    same("timetable", type(dag.timetable).__name__, "NullTimetable")
    same("task ids", sorted(dag.task_ids), sorted(want["upstream"]))
    for task_id, upstream in want["upstream"].items():
        same(f"upstream of {task_id}", sorted(dag.get_task(task_id).upstream_task_ids), upstream)
    same("PExit trigger rule", dag.get_task("PExit").trigger_rule.value, want["exit_trigger_rule"])

    for node, step in want["steps"].items():
        submit = dag.get_task("C_" + node)
        same(f"C_{node} operator", type(submit).__name__, "EmrAddStepsOperator")
        same(f"C_{node} connection", submit.aws_conn_id, want["aws_conn_id"])
        [sent] = submit.steps
        jar_step = sent["HadoopJarStep"]
        if not isinstance(jar_step, LiteralValue):
            fail(f"{name}: C_{node}'s jar step is templated")
        same(f"C_{node} jar", jar_step.value["Jar"], step["Jar"])
        same(f"C_{node} args", jar_step.value["Args"], step["Args"])
        same(f"C_{node} action on failure", sent["ActionOnFailure"], step["ActionOnFailure"])
        # Rendering the templates leaves the values exactly as they were.
        rendered = submit.render_template(jar_step, {})
        same(f"C_{node} args after templating", rendered["Args"], step["Args"])
        same(f"C_{node} cluster", submit.render_template(submit.job_flow_id, {}), want["cluster_id"])

        watch = dag.get_task("W_" + node)
        same(f"W_{node} sensor", type(watch).__name__, "EmrStepSensor")
        same(f"W_{node} mode", watch.mode, "poke")
        same(f"W_{node} connection", watch.aws_conn_id, want["aws_conn_id"])
        same(f"W_{node} step id", watch.step_id, "{{ ti.xcom_pull(task_ids='C_" + node + "')[0] }}")

    for task in dag.tasks:
        for callback in ("on_execute_callback", "on_success_callback", "on_failure_callback",
                         "on_retry_callback", "on_skipped_callback"):
            if not getattr(task, callback):
                fail(f"{name}: {task.task_id} has no {callback}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
