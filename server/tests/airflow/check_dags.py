"""Imports every golden DAG file with a real Airflow and checks what Airflow
made of it against the file's expectation (`<name>.json`, derived from the
compiled DAG and the catalog by the Rust tests).

A submit task must also put a run's arguments from its conf (hostile ones
included) into its step exactly as given, after templating, and fall back
to the file's own only for a node whose values do not refer to the run
(`from_run` in the expectation: the nodes whose values do).

Usage: python check_dags.py GOLDEN_DIR. Prints one line per file and exits 1
on the first difference. Run by `server/tests/it/airflow_import.rs`.
"""

import copy
import json
import os
import sys
import tempfile
import warnings
from pathlib import Path
from types import SimpleNamespace

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
        from airflow.providers.amazon.aws.operators.emr import EmrAddStepsOperator
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
        check(path.name, dag, want, LiteralValue, EmrAddStepsOperator)
        print(f"ok {path.name}: {want['dag_id']} ({len(dag.tasks)} tasks)")


def check(name, dag, want, LiteralValue, EmrAddStepsOperator):
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
        same(f"C_{node} operator", type(submit).__name__, "TrellisAddSteps")
        if not isinstance(submit, EmrAddStepsOperator):
            fail(f"{name}: C_{node} is no EmrAddStepsOperator")
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
        check_run_args(name, submit, node, step, node in want.get("from_run", []), same)

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


# Run values that would do harm if anything evaluated, templated or split them.
HOSTILE_ARGS = [
    "{{ var.value.get('secret') }}",
    "'; rm -rf / #",
    "{% raw %}{% endraw %}{{ ti.try_number }}",
    "$(id)\n--force \"\"\" ''' ",
    "",
]


def check_run_args(name, submit, node, step, from_run, same):
    """What the submit task of `node` sends to EMR, templates rendered, for
    a run with arguments in its conf, one with bad ones and one without."""

    def sent(conf):
        task = copy.deepcopy(submit)
        context = {
            "dag_run": SimpleNamespace(conf=conf),
            "ti": SimpleNamespace(try_number=3),
            "run_id": "manual__2026-11-30",
        }
        task.render_template_fields(context)
        return task.run_steps(context)

    def refused(conf, why):
        try:
            steps = sent(conf)
        except ValueError:
            return
        fail(f"{name}: C_{node} sent {steps!r} {why}")

    conf = {"trellis": {"run": "r-1", "args": {node: HOSTILE_ARGS}}}
    [step_sent] = sent(conf)
    same(f"C_{node} run args", step_sent["HadoopJarStep"]["Args"], HOSTILE_ARGS)
    same(f"C_{node} run jar", step_sent["HadoopJarStep"]["Jar"], step["Jar"])
    same(f"C_{node} step name", step_sent["Name"], f"trellis:r-1:C_{node}:3")
    # The file's own step is left as it was.
    same(f"C_{node} file args", submit.steps[0]["HadoopJarStep"].value["Args"], step["Args"])
    refused({"trellis": {"args": {node: "sleep 1"}}}, "for arguments that are no list")
    refused({"trellis": {"args": {node: [1, 2]}}}, "for arguments that are no strings")
    if from_run:
        refused({}, "for a run without its values")
    else:
        [own] = sent({})
        same(f"C_{node} args of a run started in Airflow", own["HadoopJarStep"]["Args"], step["Args"])
        same(f"C_{node} step name of a run started in Airflow", own["Name"],
             f"trellis:manual__2026-11-30:C_{node}:3")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
