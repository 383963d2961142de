"""Runs the shared test vectors through the local steps (`trellis step …`) and
through the PySpark scripts (Spark in local mode), and requires the same
results: each step succeeds on both or fails on both with the same error;
every dataset has the same manifest (name, rows, typed columns, rejected
rows), rows and rejects; every quality report is the same but for when and by
whom it was checked; every exported file is the same byte for byte.

    python spark/parity.py [--trellis BIN] [--catalog FILE] [CASE_DIR ...]

Without case folders it runs every case under `spark/vectors/`. The catalog
(each component's parameters and argv, local and EMR) comes from
`trellis spark catalog` unless `--catalog` names a file holding it.

A case is a folder holding `case.json` and `data/` (the tenant's data folder):

    {"description": "…",
     "steps": [{"component": "ingest.file", "params": {"source": "orders.csv", "dataset": "orders"}},
               {"component": "transform.sql", "params": {…}, "error": "differs"}]}

`"error": "differs"` lets a step fail with a different text on each side
(only for messages written by a different engine, such as a SQL parser's).
"""

import argparse
import csv
import importlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import trellis_common as tc  # noqa: E402


def as_text(value):
    """A parameter value as one argument, as `executors::render` writes it."""
    return value if isinstance(value, str) else json.dumps(value)


def render(template, component, params):
    defaults = {p["name"]: p.get("default") for p in component["params"]}
    out = []
    for arg in template:
        text, rest = "", arg
        while "{" in rest and "}" in rest[rest.index("{"):]:
            open_ = rest.index("{")
            close = rest.index("}", open_)
            name = rest[open_ + 1 : close]
            value = params.get(name, defaults.get(name))
            if value is None:
                raise SystemExit(f"{component['key']}: parameter `{name}` has no value and no default")
            text += rest[:open_] + as_text(value)
            rest = rest[close + 1 :]
        out.append(text + rest)
    return out


def emr_script_and_args(component):
    """The script's file name and the argv after it in the EMR template."""
    args = component["emr"]["args"]
    for i, arg in enumerate(args):
        if arg.startswith("{script_location}/") and arg.endswith(".py") and args[i - 1] != "--py-files":
            return arg.split("/", 1)[1], args[i + 1 :]
    raise SystemExit(f"{component['key']}: its EMR step runs no script")


def relative(value):
    return "://" not in value and not value.startswith("/")


class Outcome:
    def __init__(self, status, message=""):
        self.status, self.message = status, message

    def __eq__(self, other):
        return (self.status, self.message) == (other.status, other.message)

    def __str__(self):
        return self.status + (f": {self.message}" if self.message else "")


def run_local(trellis, tenant, component, params):
    argv = [trellis, "step", component["key"]] + render(component["local"]["args"][2:], component, params)
    env = {"PATH": os.environ.get("PATH", ""), "TRELLIS_TENANT_DIR": str(tenant)}
    done = subprocess.run(argv, env=env, capture_output=True, text=True)
    last = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else ""
    status = {0: "ok", 1: "failed", 2: "usage"}.get(done.returncode, f"exit {done.returncode}")
    return Outcome(status, last if done.returncode else "")


SHIPPED = set()


def ship(spark, module):
    """Makes a script imported here importable in Spark's workers too, with
    the module it shares (`spark-submit` ships them on EMR)."""
    for path in (tc.__file__, module.__file__):
        if path not in SHIPPED:
            spark.sparkContext.addPyFile(os.path.abspath(path))
            SHIPPED.add(path)


def run_spark(spark, tenant, component, params):
    script, template = emr_script_and_args(component)
    params = dict(params)
    params["dataset_location"] = str(tenant / "datasets")
    if component["key"] == "ingest.file" and relative(params.get("source", "")):
        params["source"] = "file://" + str(tenant / "data" / params["source"])
    if component["key"] == "export.file" and relative(params.get("destination", "")):
        params["destination"] = "file://" + str(tenant / "exports" / params["destination"])
    module = importlib.import_module(script.removesuffix(".py"))
    ship(spark, module)
    try:
        module.run(spark, render(template, component, params))
        return Outcome("ok")
    except tc.UsageError as e:
        return Outcome("usage", str(e))
    except tc.StepFailed as e:
        return Outcome("failed", str(e))


def read_csv(path):
    if not path.exists():
        return None
    with open(path, newline="", encoding="utf-8") as f:
        return [[v for v in row] for row in csv.reader(f) if row]


def read_json(path, drop=()):
    if not path.exists():
        return None
    pairs = json.loads(path.read_bytes(), object_pairs_hook=lambda kv: [(k, v) for k, v in kv if k not in drop])
    return pairs


def compare_datasets(local_root, spark_root):
    problems = []
    names = lambda root: sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")) if root.exists() else []
    local_names, spark_names = names(local_root), names(spark_root)
    if local_names != spark_names:
        return [f"datasets differ: local {local_names}, spark {spark_names}"], 0
    for name in local_names:
        a, b = local_root / name, spark_root / name
        ma, mb = json.loads((a / tc.MANIFEST_FILE).read_text()), json.loads((b / tc.MANIFEST_FILE).read_text())
        for key in ("name", "rows", "columns", "rejected_rows"):
            if ma.get(key) != mb.get(key):
                problems.append(f"dataset `{name}` {key}: local {ma.get(key)}, spark {mb.get(key)}")
        for file in (tc.DATA_FILE, tc.REJECTS_FILE):
            ra, rb = read_csv(a / file), read_csv(b / file)
            if ra != rb:
                first = next((i for i, (x, y) in enumerate(zip(ra or [], rb or [])) if x != y), None)
                detail = f"first difference at line {first + 1}: local {ra[first]}, spark {rb[first]}" if first is not None else f"local {None if ra is None else len(ra)} lines, spark {None if rb is None else len(rb)} lines"
                problems.append(f"dataset `{name}` {file}: {detail}")
        qa = read_json(a / tc.QUALITY_FILE, drop=("checked_at", "checked_by"))
        qb = read_json(b / tc.QUALITY_FILE, drop=("checked_at", "checked_by"))
        if qa != qb:
            problems.append(f"dataset `{name}` {tc.QUALITY_FILE}:\n    local {json.dumps(qa)}\n    spark {json.dumps(qb)}")
    return problems, len(local_names)


def compare_exports(local_root, spark_root):
    files = lambda root: sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []
    fa, fb = files(local_root), files(spark_root)
    if fa != fb:
        return [f"exports differ: local {fa}, spark {fb}"], 0
    problems = [
        f"export {f} differs: local {(local_root / f).read_bytes()[:200]!r}…, spark {(spark_root / f).read_bytes()[:200]!r}…"
        for f in fa
        if (local_root / f).read_bytes() != (spark_root / f).read_bytes()
    ]
    return problems, len(fa)


def run_case(spark, trellis, catalog, case_dir, scratch):
    case = json.loads((case_dir / "case.json").read_text())
    tenants = {}
    for side in ("local", "spark"):
        tenant = scratch / case_dir.name / side
        for folder in ("datasets", "exports", "work"):
            (tenant / folder).mkdir(parents=True, exist_ok=True)
        if (case_dir / "data").exists():
            shutil.copytree(case_dir / "data", tenant / "data")
        else:
            (tenant / "data").mkdir()
        tenants[side] = tenant
    problems = []
    for i, step in enumerate(case["steps"], 1):
        component = catalog[step["component"]]
        local = run_local(trellis, tenants["local"], component, step["params"])
        spark_outcome = run_spark(spark, tenants["spark"], component, step["params"])
        same = local == spark_outcome or (step.get("error") == "differs" and local.status == spark_outcome.status != "ok")
        if not same:
            problems.append(f"step {i} ({step['component']}): local {local}; spark {spark_outcome}")
        if "expect" in step and local.status != step["expect"]:
            problems.append(f"step {i} ({step['component']}): expected {step['expect']}, local {local}")
    dataset_problems, datasets = compare_datasets(tenants["local"] / "datasets", tenants["spark"] / "datasets")
    export_problems, exports = compare_exports(tenants["local"] / "exports", tenants["spark"] / "exports")
    return problems + dataset_problems + export_problems, len(case["steps"]), datasets, exports


def default_trellis():
    """$TRELLIS_BIN, else the debug build where `scripts/env.sh` puts it."""
    if os.environ.get("TRELLIS_BIN"):
        return os.environ["TRELLIS_BIN"]
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.expanduser("~/.cache/trellis/target")
    built = os.path.join(target, "debug", "trellis")
    return built if os.path.exists(built) else "trellis"


def main():
    args = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    args.add_argument("--trellis", default=default_trellis(), help="the trellis binary (default: the debug build)")
    args.add_argument("--catalog", help="a file holding `trellis spark catalog`'s output")
    args.add_argument("cases", nargs="*", type=Path)
    opts = args.parse_args()
    if opts.catalog:
        raw = Path(opts.catalog).read_text()
    else:
        raw = subprocess.run([opts.trellis, "spark", "catalog"], check=True, capture_output=True, text=True).stdout
    catalog = {c["key"]: c for c in json.loads(raw)}
    cases = opts.cases or sorted(p for p in (HERE / "vectors").iterdir() if (p / "case.json").exists())

    started = time.monotonic()
    spark = tc.session("trellis-parity")
    spark.sparkContext.setLogLevel("ERROR")
    failed = 0
    with tempfile.TemporaryDirectory(prefix="trellis-parity-") as scratch:
        for case_dir in cases:
            problems, steps, datasets, exports = run_case(spark, opts.trellis, catalog, case_dir.resolve(), Path(scratch))
            if problems:
                failed += 1
                print(f"DIFFERS {case_dir.name}")
                for p in problems:
                    print(f"    {p}")
            else:
                print(f"same    {case_dir.name}: {steps} steps, {datasets} datasets, {exports} exports")
    spark.stop()
    print(f"{len(cases) - failed} of {len(cases)} cases give the same results locally and on Spark ({time.monotonic() - started:.0f} s)")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
