"""`export.file` on Spark: a dataset as CSV or JSON Lines at a destination
URI — the EMR side of `server/src/components/export.rs`, writing the same
file byte for byte as `export::write_rows` does.

    spark-submit export_file.py --dataset revenue --format csv \
        --destination s3://bucket/reports/revenue.csv --datasets s3://bucket/datasets

CSV is the dataset's header and rows as the Rust `csv` crate's default
writer puts them: a field is quoted only when it holds `,`, `"`, CR or LF
(a quote doubled inside), lines end in LF, and a row that is one empty field
is written `""`. JSON Lines is one object per row, keys in name order
(serde_json's map without `preserve_order`), values typed by their column as
`datasets::typed` types them, floats as serde_json writes them (the `zmij`
crate's shortest form: `0.1`, `3.0`, `1e+16`, `1.5e-7`).

Spark tasks render the lines and write them into one file in a folder beside
the destination; that file is then renamed to the destination, so a reader
sees the whole export or none of it (on S3, through EMRFS or S3A, the object
is written whole when its upload completes). On EMR the destination is an
s3:// URI: the local step's other destinations — a path in the server's
export folder, an http(s) URL to POST to — are refused here.
"""

import uuid

import trellis_common as tc

STEP = "export.file"

_VALUE_OPTIONS = ("--datasets", "--dataset", "--format", "--destination")


def parse_args(argv):
    joined, i = [], 0
    while i < len(argv):
        if argv[i] in _VALUE_OPTIONS and i + 1 < len(argv):
            joined.append(f"{argv[i]}={argv[i + 1]}")
            i += 2
        else:
            joined.append(argv[i])
            i += 1
    p = tc.parser(STEP)
    p.add_argument("--dataset", required=True)
    p.add_argument("--format", default="csv", choices=["csv", "jsonl"])
    p.add_argument("--destination", required=True)
    return p.parse_args(joined)


# ---------------------------------------------------------------------------
# Lines, as the Rust side writes them.


def csv_field(value):
    """One field as csv-core's writer puts it (`QuoteStyle::Necessary`)."""
    if any(c in value for c in ',"\r\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


def csv_line(values):
    """One record without its terminator; a record that is one empty field
    is `""`, so that it is not a blank line."""
    if len(values) == 1 and not values[0]:
        return '""'
    return ",".join(csv_field(v or "") for v in values)


json_float = tc.json_float


def json_value(value):
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return json_float(value)
    return tc.to_json_compact(value)


def jsonl_line(columns):
    """The function writing one row as serde_json writes a `Map` of its
    typed values (a BTreeMap: keys in order)."""
    order = sorted(range(len(columns)), key=lambda i: columns[i][0])
    keys = [tc.to_json_compact(columns[i][0]) for i in order]
    types = [columns[i][1] for i in order]

    def line(values):
        return "{" + ",".join(
            f"{k}:{json_value(tc.typed(t, values[i] or ''))}" for k, t, i in zip(keys, types, order)
        ) + "}"

    return line


# ---------------------------------------------------------------------------
# Where the file goes.


def destination(text):
    """The destination URI, or `UsageError` for one that cannot be reached
    from EMR; an s3:// URI is checked as the local step checks it."""
    lower = text[:8].lower()
    if lower.startswith("http://") or lower.startswith("https://"):
        raise tc.UsageError(
            f"--destination `{text}`: an export on EMR cannot be posted to a URL; "
            "write it to an s3:// location (or run the process on this server)"
        )
    if lower.startswith("s3://"):
        return "s3"
    if text.startswith("file:/") or text.startswith("/"):
        return "file"
    raise tc.UsageError(
        f"--destination `{text}` is a path in the server's export folder, which EMR cannot reach; "
        "give an s3:// location such as s3://bucket/exports/file.csv"
    )


def check_s3(url):
    """`s3::S3Url::parse`, then the `upload`'s refusal of a folder."""
    rest = url[5:]
    bucket, _, key = rest.partition("/")
    valid = 3 <= len(bucket) <= 63 and all(c.islower() and c.isascii() or c.isdigit() and c.isascii() or c in ".-" for c in bucket)
    if not valid:
        raise tc.StepFailed(
            f"`{url}`: `{bucket}` is not an S3 bucket name (3 to 63 lower-case letters, digits, `.` and `-`)"
        )
    if not key or key.endswith("/"):
        raise tc.StepFailed(f"`{url}` names a folder; give the object's key (e.g. {url}export.csv)")


def _raw_fs(spark, uri):
    """The path and its file system, without Hadoop's `.crc` side files."""
    jvm = spark._jvm
    path = jvm.org.apache.hadoop.fs.Path(uri)
    fs = path.getFileSystem(spark._jsc.hadoopConfiguration())
    if jvm.java.lang.Class.forName("org.apache.hadoop.fs.ChecksumFileSystem").isInstance(fs):
        fs = fs.getRawFileSystem()
    return path, fs


def write_file(spark, lines, target):
    """Writes `lines` (an RDD of text, in order) as one file `target`, each
    line ended by LF, through a folder beside it and a rename."""
    jvm = spark._jvm
    target_path, fs = _raw_fs(spark, target)
    if fs.exists(target_path) and fs.getFileStatus(target_path).isDirectory():
        raise tc.StepFailed(f"`{target}` is a folder; give a file name")
    parent = target_path.getParent()
    staging = jvm.org.apache.hadoop.fs.Path(parent, f".{target_path.getName()}.trellis-{uuid.uuid4().hex}")
    try:
        frame = spark.createDataFrame(lines.map(lambda line: (line,)), "value string")
        frame.coalesce(1).write.mode("overwrite").option("lineSep", "\n").text(staging.toString())
        parts = [
            status.getPath()
            for status in fs.listStatus(staging)
            if status.getPath().getName().startswith("part-")
        ]
        if parts:
            written = parts[0]
        else:  # no rows: Spark may write no file at all
            written = jvm.org.apache.hadoop.fs.Path(staging, "empty")
            fs.create(written, True).close()
        # A rename replaces the target on a local disk; S3 has no rename
        # over an existing object, so the old one goes first there.
        if not fs.rename(written, target_path):
            if fs.exists(target_path):
                fs.delete(target_path, False)
            if not fs.rename(written, target_path):
                raise tc.StepFailed(f"could not write {target}")
        return fs.getFileStatus(target_path).getLen()
    finally:
        if fs.exists(staging):
            fs.delete(staging, True)


# ---------------------------------------------------------------------------


def run(spark, argv):
    args = parse_args(argv)
    kind = destination(args.destination)
    try:
        dataset = tc.read_dataset(spark, args.datasets, args.dataset)
    except tc.StepFailed as e:
        raise tc.StepFailed(f"{e}; run the step that writes it before this export") from None
    if kind == "s3":
        check_s3(args.destination)
    elif args.destination.endswith("/"):
        raise tc.StepFailed(f"`{args.destination}` names a folder; give a file name")

    rows = dataset.rows().map(lambda pair: pair[1])
    if args.format == "csv":
        header = spark.sparkContext.parallelize([csv_line(dataset.columns)], 1)
        lines = header.union(rows.map(csv_line))
    else:
        columns = [(c["name"], c["type"]) for c in dataset.meta["columns"]]
        lines = rows.map(jsonl_line(columns))
    size = write_file(spark, lines, args.destination)
    print(f"{STEP}: wrote {dataset.meta['rows']} rows ({size} B) to {args.destination}")


if __name__ == "__main__":
    tc.main(run, STEP)
