"""What every Trellis PySpark script shares: how a step ends, how a dataset is
stored and typed, and files by URI through Hadoop's FileSystem.

The scripts are the EMR side of the built-in data components; their local
side is `trellis step …` (`server/src/components/`). Both keep a dataset the
same way, under a datasets root (the tenant's `datasets/` folder locally,
`--datasets s3://…` on EMR):

    <root>/<name>/data.csv      a header, then one row per line; an empty field is null
    <root>/<name>/dataset.json  the manifest: name, rows, columns (name, type, nulls), …
    <root>/<name>/rejects.csv   line, reason, raw — the source rows an ingest rejected
    <root>/<name>/quality.json  the latest quality check's report

Everything here mirrors `server/src/datasets.rs` rule for rule; `spark/parity.py`
runs both sides on the vectors in `spark/vectors/` and requires equal results.
"""

import argparse
import csv
import datetime
import decimal
import io
import json
import math
import re
import sys
import uuid

DATA_FILE = "data.csv"
MANIFEST_FILE = "dataset.json"
REJECTS_FILE = "rejects.csv"
QUALITY_FILE = "quality.json"


class StepFailed(Exception):
    """The work failed: exit code 1, the message is the task's error."""


class UsageError(Exception):
    """The step was called wrongly: exit code 2."""


class DatasetMissing(StepFailed):
    def __init__(self, name):
        super().__init__(f"dataset `{name}` does not exist")
        self.name = name


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(f"{self.prog}: {message}")


def parser(prog):
    """An argument parser holding `--datasets` (the datasets root URI) that
    raises `UsageError` rather than exiting."""
    p = _Parser(prog=prog, add_help=False)
    p.add_argument("--datasets", required=True, help="the datasets root (an s3:// URI on EMR)")
    return p


def session(app_name):
    from pyspark.sql import SparkSession

    return SparkSession.builder.appName(app_name).getOrCreate()


def main(run, app_name=None):
    """Runs `run(spark, argv)` as a step: its error on stderr and the exit code
    saying what kind of error it was (as `components::exit_code`)."""
    spark = session(app_name or "trellis")
    code = 0
    try:
        run(spark, sys.argv[1:])
    except UsageError as e:
        print(str(e), file=sys.stderr)
        code = 2
    except StepFailed as e:
        print(str(e), file=sys.stderr)
        code = 1
    finally:
        spark.stop()
    sys.exit(code)


# ---------------------------------------------------------------------------
# Names and types, as `datasets.rs` decides them.

_NAME = re.compile(r"[a-z][a-z0-9_]{0,62}\Z")


def valid_name(name):
    """Whether `name` may name a dataset (it doubles as a SQL table name)."""
    return bool(_NAME.match(name))


# What Rust's `str::trim` removes: Unicode's White_Space characters.
WHITE_SPACE = "\t\n\x0b\x0c\r \x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + "\u2028\u2029\u202f\u205f\u3000"


def column_names(raw):
    """Column names made usable: trimmed, never empty, never repeated."""
    names = []
    for i, name in enumerate(raw):
        base = name.strip(WHITE_SPACE) or f"column_{i + 1}"
        candidate, n = base, 2
        while candidate in names:
            candidate = f"{base}_{n}"
            n += 1
        names.append(candidate)
    return names


INTEGER, NUMBER, BOOLEAN, DATE, TIMESTAMP = 1, 2, 4, 8, 16
ANY = INTEGER | NUMBER | BOOLEAN | DATE | TIMESTAMP
I64_MIN, I64_MAX = -(2**63), 2**63 - 1

_DIGITS = re.compile(r"[0-9]+\Z")
_NUMBER_CHARS = re.compile(r"[0-9.eE+\-]*\Z")
_FLOAT = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?\Z")
_DATE = re.compile(r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})\Z")
_NAIVE = re.compile(
    r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})[ T]([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2})(\.[0-9]{0,9})?\Z"
)
_RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})\Z"
)
_BOOLEANS = {"true": True, "TRUE": True, "True": True, "false": False, "FALSE": False, "False": False}


def parse_i64(s):
    """`s.parse::<i64>()`: digits with one optional sign, within range."""
    digits = s[1:] if s[:1] in ("+", "-") else s
    if not _DIGITS.match(digits):
        return None
    n = int(s)
    return n if I64_MIN <= n <= I64_MAX else None


def parse_f64(s):
    """`s.parse::<f64>()` (finite or not), or None."""
    if not _FLOAT.match(s):
        return None
    return float(s)


def is_integer(s):
    digits = s[1:] if s[:1] in ("+", "-") else s
    # Leading zeros mark codes (zip codes, ids), not numbers.
    return (
        bool(_DIGITS.match(digits))
        and (len(digits) == 1 or not digits.startswith("0"))
        and parse_i64(s) is not None
    )


def is_number(s):
    digits = s[1:] if s[:1] in ("+", "-") else s
    leading_zero = len(digits) > 1 and digits.startswith("0") and not digits[1:].startswith(".")
    if leading_zero or not digits or not (digits[0].isascii() and (digits[0].isdigit() or digits[0] == ".")):
        return False
    if not _NUMBER_CHARS.match(digits):
        return False
    x = parse_f64(s)
    return x is not None and math.isfinite(x)


def parse_bool(s):
    return _BOOLEANS.get(s)


def _valid_date(y, m, d):
    try:
        datetime.date(int(y), int(m), int(d))
        return True
    except ValueError:
        return False


def is_date(s):
    m = _DATE.match(s)
    return len(s) == 10 and m is not None and _valid_date(*m.groups())


def _valid_time(h, mi, sec):
    # chrono reads a second of 60 as a leap second.
    return int(h) < 24 and int(mi) < 60 and int(sec) <= 60


def is_timestamp(s):
    if len(s) < 19:
        return False
    m = _RFC3339.match(s)
    if m:
        y, mo, d, h, mi, sec, _, offset = m.groups()
        if offset not in ("Z", "z") and (int(offset[1:3]) > 23 or int(offset[4:6]) > 59):
            return False
        return _valid_date(y, mo, d) and _valid_time(h, mi, sec)
    m = _NAIVE.match(s)
    if m:
        y, mo, d, h, mi, sec, _ = m.groups()
        return _valid_date(y, mo, d) and _valid_time(h, mi, sec)
    return False


def narrow(candidates, value):
    """Narrows `candidates` to the types `value` (non-empty) also has."""
    out = 0
    if candidates & INTEGER and is_integer(value):
        out |= INTEGER
    if candidates & NUMBER and is_number(value):
        out |= NUMBER
    if candidates & BOOLEAN and parse_bool(value) is not None:
        out |= BOOLEAN
    if candidates & DATE and is_date(value):
        out |= DATE
    if candidates & TIMESTAMP and is_timestamp(value):
        out |= TIMESTAMP
    return out


def decide(candidates, seen_value):
    if not seen_value:
        return "string"
    for bit, name in ((INTEGER, "integer"), (NUMBER, "number"), (BOOLEAN, "boolean"), (DATE, "date"), (TIMESTAMP, "timestamp")):
        if candidates & bit:
            return name
    return "string"


def typed(column_type, text):
    """A stored text value as JSON of its column's type (None for null)."""
    if not text:
        return None
    if column_type == "integer":
        n = parse_i64(text)
        if n is not None:
            return n
    elif column_type == "number":
        x = parse_f64(text)
        if x is not None and math.isfinite(x):
            return x
    elif column_type == "boolean":
        b = parse_bool(text)
        if b is not None:
            return b
    return text


# ---------------------------------------------------------------------------
# Numbers and JSON written as the Rust side writes them.


def _shortest(x):
    """The shortest digits that read back as `abs(x)`, and the power of ten of
    the last one (x = digits × 10^exponent)."""
    t = decimal.Decimal(repr(abs(x))).as_tuple()
    digits = "".join(map(str, t.digits)).lstrip("0") or "0"
    exponent = t.exponent
    stripped = digits.rstrip("0")
    exponent += len(digits) - len(stripped)
    return stripped or "0", exponent


def _plain(digits, exponent):
    if exponent >= 0:
        return digits + "0" * exponent + ".0"
    point = len(digits) + exponent
    if point > 0:
        return digits[:point] + "." + digits[point:]
    return "0." + "0" * (-point) + digits


def _scientific(digits, exponent):
    e = len(digits) - 1 + exponent
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    return f"{mantissa}e{e}"


def rust_debug_float(x):
    """`format!("{x:?}")` of an f64."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    sign = "-" if math.copysign(1.0, x) < 0 else ""
    if x == 0:
        return sign + "0.0"
    digits, exponent = _shortest(x)
    if abs(x) < 1e-4 or abs(x) >= 1e16:
        return sign + _scientific(digits, exponent)
    return sign + _plain(digits, exponent)


def json_float(x):
    """An f64 as serde_json writes it (through the `zmij` crate): the shortest
    digits, plain from 1e-5 to below 1e16, else `1e+16`, `1.5e-7`; null if
    not finite."""
    if not math.isfinite(x):
        return "null"
    sign = "-" if math.copysign(1.0, x) < 0 else ""
    if x == 0:
        return sign + "0.0"
    digits, k = _shortest(x)
    e = len(digits) - 1 + k
    if -5 <= e <= 15:
        return sign + _plain(digits, k)
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    return f"{sign}{mantissa}e{'+' if e >= 0 else '-'}{abs(e)}"


def _json(value, indent, out):
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, float):
        out.append(json_float(value))
    elif isinstance(value, str):
        out.append(json.dumps(value, ensure_ascii=False))
    elif isinstance(value, dict):
        if not value:
            out.append("{}")
            return
        out.append("{")
        for i, (key, item) in enumerate(value.items()):
            out.append("," if i else "")
            out.append("\n" + "  " * (indent + 1) + json.dumps(str(key), ensure_ascii=False) + ": ")
            _json(item, indent + 1, out)
        out.append("\n" + "  " * indent + "}")
    elif isinstance(value, (list, tuple)):
        if not value:
            out.append("[]")
            return
        out.append("[")
        for i, item in enumerate(value):
            out.append("," if i else "")
            out.append("\n" + "  " * (indent + 1))
            _json(item, indent + 1, out)
        out.append("\n" + "  " * indent + "]")
    else:
        raise TypeError(f"not JSON: {value!r}")


def to_json_pretty(value):
    """Exactly `serde_json::to_vec_pretty(value)`."""
    out = []
    _json(value, 0, out)
    return "".join(out).encode("utf-8")


def to_json_compact(value):
    """Exactly `serde_json::to_string(value)`."""
    if isinstance(value, dict):
        return "{" + ",".join(json.dumps(str(k), ensure_ascii=False) + ":" + to_json_compact(v) for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(to_json_compact(v) for v in value) + "]"
    return to_json_pretty(value).decode("utf-8")


def now_rfc3339():
    """The time now as `Timestamp`'s Display writes it: UTC, milliseconds, Z."""
    now = datetime.datetime.now(datetime.timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


# ---------------------------------------------------------------------------
# Files by URI: s3:// on EMR (EMRFS or S3A), file:// or a plain path in tests.


class Store:
    def __init__(self, spark):
        self._jvm = spark._jvm
        self._conf = spark._jsc.hadoopConfiguration()

    def _path(self, uri):
        path = self._jvm.org.apache.hadoop.fs.Path(uri)
        return path, path.getFileSystem(self._conf)

    def exists(self, uri):
        path, fs = self._path(uri)
        return fs.exists(path)

    def size(self, uri):
        path, fs = self._path(uri)
        return fs.getFileStatus(path).getLen()

    def read_bytes(self, uri):
        path, fs = self._path(uri)
        if not fs.exists(path):
            raise FileNotFoundError(uri)
        stream = fs.open(path)
        try:
            return bytes(self._jvm.org.apache.commons.io.IOUtils.toByteArray(stream))
        finally:
            stream.close()

    def write_bytes(self, uri, data):
        path, fs = self._path(uri)
        out = fs.create(path, True)
        try:
            out.write(bytearray(data))
        finally:
            out.close()

    def delete(self, uri):
        path, fs = self._path(uri)
        return fs.delete(path, True)

    def rename(self, source, target):
        src, fs = self._path(source)
        dst, _ = self._path(target)
        if not fs.rename(src, dst):
            raise StepFailed(f"could not move {source} to {target}")

    def list_files(self, uri):
        """The object or file `uri` names, or every one under it in name
        order (folder markers, and Hadoop's `_SUCCESS`-style files, skipped)."""
        path, fs = self._path(uri)
        if not fs.exists(path):
            return []
        status = fs.getFileStatus(path)
        if status.isFile():
            return [(str(status.getPath().toString()), status.getLen())]
        found = []
        entries = fs.listFiles(path, True)
        while entries.hasNext():
            entry = entries.next()
            name = entry.getPath().getName()
            if name.startswith("_") or name.startswith(".") or name.endswith("/"):
                continue
            found.append((str(entry.getPath().toString()), entry.getLen()))
        return sorted(found)


# ---------------------------------------------------------------------------
# Datasets.


def _join(root, *parts):
    return "/".join([root.rstrip("/")] + list(parts))


def _infer_partition(width):
    def infer(rows):
        candidates, seen, nulls, count = [ANY] * width, [False] * width, [0] * width, 0
        for row in rows:
            count += 1
            for i, value in enumerate(row):
                if not value:
                    nulls[i] += 1
                else:
                    seen[i] = True
                    if candidates[i]:
                        candidates[i] = narrow(candidates[i], value)
        yield count, candidates, seen, nulls

    return infer


def _csv_options():
    # RFC 4180 as the Rust csv crate writes and reads it; nothing trimmed.
    return {
        "quote": '"',
        "escape": '"',
        "ignoreLeadingWhiteSpace": False,
        "ignoreTrailingWhiteSpace": False,
        "lineSep": "\n",
        "encoding": "UTF-8",
    }


def _csv_line(values):
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(values)
    return buf.getvalue().encode("utf-8")


def _write_csv(spark, store, rdd, columns, target):
    """Writes `rdd` (rows of text, in order) as one CSV file `target` with a header."""
    from pyspark.sql.types import StringType, StructField, StructType

    schema = StructType([StructField(f"c{i}", StringType(), True) for i in range(len(columns))])
    frame = spark.createDataFrame(rdd, schema).toDF(*columns)
    parts = target + ".parts"
    # One file keeps the rows in order for every reader; empty values are
    # written as "" so that a row of one empty column is never a blank line.
    frame.coalesce(1).write.mode("overwrite").options(header=True, **_csv_options()).csv(parts)
    written = [uri for uri, _ in store.list_files(parts) if uri.rsplit("/", 1)[-1].startswith("part-")]
    if len(written) == 1 and store.size(written[0]) > 0:
        store.rename(written[0], target)
    else:
        store.write_bytes(target, _csv_line(columns))
    store.delete(parts)


def write_dataset(spark, root, name, columns, rows, rejects=None, produced_by=None):
    """Writes dataset `name` under `root` from `rows` (an RDD of sequences of
    text, '' or None for null, in row order) and `rejects` (an RDD of
    `(line, reason, raw)`), in a staging folder swapped in whole; the manifest."""
    from pyspark import StorageLevel

    store = Store(spark)
    width = len(columns)
    rows = rows.map(lambda row: tuple("" if v is None else v for v in row)).persist(StorageLevel.MEMORY_AND_DISK)
    count, candidates, seen, nulls = 0, [ANY] * width, [False] * width, [0] * width
    for c, cand, s, n in rows.mapPartitions(_infer_partition(width)).collect():
        count += c
        candidates = [a & b for a, b in zip(candidates, cand)]
        seen = [a or b for a, b in zip(seen, s)]
        nulls = [a + b for a, b in zip(nulls, n)]

    staging = _join(root, f".tmp-{name}-{uuid.uuid4().hex}")
    target = _join(root, name)
    try:
        if width:
            _write_csv(spark, store, rows, columns, _join(staging, DATA_FILE))
        else:
            # No columns (JSON Lines of empty objects): Spark writes no such
            # frame; each record, the header included, is an empty field.
            store.write_bytes(_join(staging, DATA_FILE), b'""\n' * (count + 1))
        rejected = 0
        if rejects is not None:
            rejects = rejects.map(lambda r: (str(r[0]), r[1], r[2])).persist(StorageLevel.MEMORY_AND_DISK)
            rejected = rejects.count()
            if rejected:
                _write_csv(spark, store, rejects, ["line", "reason", "raw"], _join(staging, REJECTS_FILE))
            rejects.unpersist()
        manifest = {
            "name": name,
            "rows": count,
            "columns": [
                {"name": c, "type": decide(cand, s), "nulls": n}
                for c, cand, s, n in zip(columns, candidates, seen, nulls)
            ],
            "size_bytes": store.size(_join(staging, DATA_FILE)),
            "rejected_rows": rejected,
            "produced_by": produced_by,
            "created_at": now_rfc3339(),
        }
        store.write_bytes(_join(staging, MANIFEST_FILE), to_json_pretty(manifest))
        old = _join(root, f".old-{name}-{uuid.uuid4().hex}")
        had_old = store.exists(target)
        if had_old:
            store.rename(target, old)
        store.rename(staging, target)
        if had_old:
            store.delete(old)
        return manifest
    finally:
        rows.unpersist()
        if store.exists(staging):
            store.delete(staging)


class StoredDataset:
    """A stored dataset: its manifest and its rows in order."""

    def __init__(self, spark, root, name, meta):
        self.spark = spark
        self.root = root
        self.name = name
        self.dir = _join(root, name)
        self.meta = meta

    @property
    def columns(self):
        return [c["name"] for c in self.meta["columns"]]

    def column_index(self, column):
        """The column's position, or `StepFailed` listing the columns there are."""
        try:
            return self.columns.index(column)
        except ValueError:
            raise StepFailed(
                f"dataset `{self.name}` has no column `{column}` (its columns: {', '.join(self.columns)})"
            ) from None

    def _read(self):
        from pyspark.sql.types import StringType, StructField, StructType

        schema = StructType([StructField(f"c{i}", StringType(), True) for i in range(len(self.columns))])
        # multiLine makes each file one split, so rows come back in order.
        return self.spark.read.options(header=True, multiLine=True, enforceSchema=True, **_csv_options()).schema(
            schema
        ).csv(_join(self.dir, DATA_FILE))

    def rows(self):
        """An RDD of `(row number from 1, tuple of text or None)` in order."""
        return self._read().rdd.zipWithIndex().map(
            lambda pair: (pair[1] + 1, tuple(v if v else None for v in pair[0]))
        )

    def frame(self):
        """A DataFrame of nullable text columns named as the dataset's, in row order."""
        from pyspark.sql import functions as F

        frame = self._read()
        return frame.select(
            *[
                F.when(F.col(f"c{i}") == "", F.lit(None)).otherwise(F.col(f"c{i}")).alias(name)
                for i, name in enumerate(self.columns)
            ]
        )


def read_dataset(spark, root, name):
    """Opens dataset `name` under `root`; `DatasetMissing` if there is none."""
    if not valid_name(name):
        raise DatasetMissing(name)
    store = Store(spark)
    try:
        raw = store.read_bytes(_join(root, name, MANIFEST_FILE))
    except FileNotFoundError:
        raise DatasetMissing(name) from None
    try:
        meta = json.loads(raw)
    except ValueError as e:
        raise StepFailed(f"dataset `{name}` is unreadable: {e}") from None
    return StoredDataset(spark, root, name, meta)


def write_report(spark, dataset, report):
    """Writes `report` as the dataset's `quality.json`."""
    Store(spark).write_bytes(_join(dataset.dir, QUALITY_FILE), to_json_pretty(report))
