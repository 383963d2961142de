"""`transform.sql` on Spark: one read-only query over the declared input
datasets, its result written as a new dataset — the EMR side of
`server/src/components/transform.rs`, in Spark SQL rather than SQLite.

    spark-submit transform_sql.py --inputs orders,customers \
        --sql 'SELECT … FROM orders JOIN customers …' --dataset revenue \
        --datasets s3://bucket/datasets

Each input is a temporary view named as the dataset, its columns typed from
the manifest as the local step types its SQLite table (integer -> bigint,
number -> double, boolean -> boolean; dates, timestamps and strings stay
text, as SQLite keeps them). The SQL must be one statement that only reads
(checked on the parsed plan before anything runs) and may reach only those
views: other tables, files (`csv.\\`s3://…\\``) and `reflect`/`java_method` are
refused. Result cells are written as the local step writes SQLite's values:
integers as digits, doubles as Rust's `{:?}`, a column read straight from a
boolean input column as true/false and any other boolean (a comparison) as
1/0 (SQLite has no booleans: `a > b` is the integer 1 or 0 there), decimals
as SQLite's REAL (or its INTEGER when they have no scale), text as it is.

Portable queries give the same dataset on both engines; a query that relies
on one dialect (SQLite's `7 / 2` is 3, Spark's 3.5; unaliased expressions are
named after their text, which each engine writes its own way; a row order
without ORDER BY) may not. The local step's time, row and byte limits guard
the shared server; on EMR the query is bounded by the tenant's own cluster
instead (its executors' memory and disk, and the run's task timeout, which
cancels the EMR step).
"""


import trellis_common as tc

STEP = "transform.sql"

# The value options, joined to their value so that one starting with `-`
# (SQL opening with a `--` comment) is never taken for an option.
_VALUE_OPTIONS = ("--datasets", "--inputs", "--sql", "--dataset")

# Functions that reach outside the inputs (they call any Java static method).
_REFUSED_FUNCTIONS = {"reflect", "java_method", "try_reflect"}

_DECLARED = {
    "integer": "INTEGER",
    "number": "REAL",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "string": "TEXT",
}
_SPARK_TYPE = {"integer": "bigint", "number": "double", "boolean": "boolean"}

# Marks the raw text columns a view's typed columns are cast from.
_RAW = "__trellis_raw_"


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
    p.add_argument("--inputs", required=True)
    p.add_argument("--sql", required=True)
    p.add_argument("--dataset", required=True)
    return p.parse_args(joined)


# ---------------------------------------------------------------------------
# Statements, as SQLite's tokenizer splits them.


def statements(sql):
    """The statements of `sql` (text between `;` outside quotes and
    comments), leaving out those that hold only blanks and comments."""
    out, start, i, n, has_token = [], 0, 0, len(sql), False
    while i < n:
        c = sql[i]
        if c == "-" and sql.startswith("--", i):
            end = sql.find("\n", i)
            i = n if end < 0 else end + 1
            continue
        if c == "/" and sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            i = n if end < 0 else end + 2
            continue
        if c == ";":
            if has_token:
                out.append(sql[start:i])
            start, has_token = i + 1, False
            i += 1
            continue
        if not c.isspace():
            has_token = True
        close = {"'": "'", '"': '"', "`": "`", "[": "]"}.get(c)
        if close:
            i += 1
            while i < n:
                if sql[i] == close:
                    # A doubled quote is one quote inside (not for `[…]`).
                    if close != "]" and i + 1 < n and sql[i + 1] == close:
                        i += 2
                        continue
                    break
                i += 1
        i += 1
    if has_token:
        out.append(sql[start:])
    return out


# ---------------------------------------------------------------------------
# The plan, walked through py4j.


def _seq(scala_seq):
    return [scala_seq.apply(i) for i in range(scala_seq.size())]


def _class_name(obj):
    return obj.getClass().getSimpleName()


def _is_a(jvm, obj, class_name):
    return jvm.java.lang.Class.forName(class_name).isInstance(obj)


def _plans(jvm, plan):
    """Every plan node under `plan`, subqueries in expressions and CTE
    definitions included."""
    stack, out = [plan], []
    while stack:
        node = stack.pop()
        out.append(node)
        stack.extend(_seq(node.children()))
        stack.extend(_seq(node.innerChildren()))
        for expression in _seq(node.expressions()):
            for e in _expressions(expression):
                if _is_a(jvm, e, "org.apache.spark.sql.catalyst.expressions.SubqueryExpression") or _is_a(
                    jvm, e, "org.apache.spark.sql.catalyst.expressions.PlanExpression"
                ):
                    stack.append(e.plan())
    return out


def _expressions(expression):
    stack, out = [expression], []
    while stack:
        e = stack.pop()
        out.append(e)
        stack.extend(_seq(e.children()))
    return out


def check_read_only(spark, statement, inputs):
    """Parses `statement` without running it; `StepFailed` unless it is one
    query reading only the input views."""
    jvm = spark._jvm
    try:
        plan = spark._jsparkSession.sessionState().sqlParser().parsePlan(statement)
    except Exception as e:  # Spark's ParseException, as py4j raises it
        raise tc.StepFailed(f"SQL error: {_first_line(e)}") from None
    nodes = _plans(jvm, plan)
    for node in nodes:
        if (
            _is_a(jvm, node, "org.apache.spark.sql.catalyst.plans.logical.Command")
            or _is_a(jvm, node, "org.apache.spark.sql.catalyst.plans.logical.ParsedStatement")
            or _class_name(node) in ("ScriptTransformation", "InsertIntoDir")
        ):
            raise tc.StepFailed("the SQL must only read: write one SELECT statement (it may use WITH)")
    # The names a query may read: its inputs and its own WITH tables.
    readable = {name.lower() for name in inputs}
    for node in nodes:
        if _class_name(node) == "UnresolvedWith":
            for pair in _seq(node.cteRelations()):
                readable.add(pair._1().lower())
    for node in nodes:
        if _class_name(node) == "UnresolvedRelation":
            parts = [str(p) for p in _seq(node.multipartIdentifier())]
            if len(parts) != 1 or parts[0].lower() not in readable:
                # SQLite's words for a table that is not there.
                raise tc.StepFailed(f"SQL error: no such table: {'.'.join(parts)}")
        for expression in _seq(node.expressions()):
            for e in _expressions(expression):
                if _class_name(e) == "UnresolvedFunction":
                    name = str(_seq(e.nameParts())[-1]).lower()
                    if name in _REFUSED_FUNCTIONS:
                        raise tc.StepFailed(f"SQL error: {name}() may not be used in a transform")


def _first_line(error):
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _direct_booleans(spark, frame):
    """The ids of the query's attributes that are a boolean input column
    read as it is (SQLite gives those a declared type of BOOLEAN)."""
    jvm = spark._jvm
    aliases, found = [], set()
    for node in _plans(jvm, frame._jdf.queryExecution().analyzed()):
        for expression in _seq(node.expressions()):
            for e in _expressions(expression):
                if _class_name(e) != "Alias":
                    continue
                child = e.child()
                kind = _class_name(child)
                if kind == "AttributeReference":
                    aliases.append((child.exprId().id(), e.exprId().id()))
                elif kind == "Cast" and child.dataType().typeName() == "boolean":
                    source = child.child()
                    if _class_name(source) == "AttributeReference" and source.name().startswith(_RAW):
                        found.add(e.exprId().id())
    grew = True
    while grew:
        grew = False
        for source, alias in aliases:
            if source in found and alias not in found:
                found.add(alias)
                grew = True
    return found


# ---------------------------------------------------------------------------
# Cells, as the local step writes SQLite's values.


def _render_float(x):
    # SQLite reads a REAL column's -0.0 back as 0.0.
    return tc.rust_debug_float(0.0 if x == 0 else x)


def _renderer(kind):
    if kind == "integer":
        return str
    if kind == "float":
        return lambda v: _render_float(float(v))
    if kind == "boolean":
        return lambda v: "true" if v else "false"
    if kind == "flag":
        return lambda v: "1" if v else "0"
    if kind == "decimal":
        # SQLite has no decimals: a literal such as 1.50 is a REAL there.
        return lambda v: str(int(v)) if v == v.to_integral_value() and v.as_tuple().exponent >= 0 else _render_float(float(v))
    if kind == "binary":
        return lambda v: bytes(v).decode("utf-8", "replace")
    return lambda v: v


def _render_rows(kinds):
    renderers = [_renderer(k) for k in kinds]

    def render(row):
        return tuple(None if v is None else r(v) for r, v in zip(renderers, row))

    return render


def _result_columns(spark, frame):
    """The frame with every column Python cannot take as it is turned into
    text by Spark, and how each column's values are written."""
    from pyspark.sql import types as T

    booleans = _direct_booleans(spark, frame)
    output = _seq(frame._jdf.queryExecution().analyzed().output())
    columns, kinds = [], []
    for i, (field, attribute) in enumerate(zip(frame.schema.fields, output)):
        column = frame[i]
        t = field.dataType
        if isinstance(t, (T.LongType, T.IntegerType, T.ShortType, T.ByteType)):
            kinds.append("integer")
        elif isinstance(t, (T.DoubleType, T.FloatType)):
            kinds.append("float")
        elif isinstance(t, T.BooleanType):
            kinds.append("boolean" if attribute.exprId().id() in booleans else "flag")
        elif isinstance(t, T.DecimalType):
            kinds.append("decimal" if t.scale > 0 else "integer")
        elif isinstance(t, T.StringType):
            kinds.append("text")
        elif isinstance(t, T.BinaryType):
            kinds.append("binary")
        else:
            # Dates, timestamps (in UTC), intervals, arrays, maps, structs.
            column = column.cast("string")
            kinds.append("text")
        columns.append(column)
    return frame.select(*columns), kinds


# ---------------------------------------------------------------------------


def _view(dataset):
    """The dataset as a frame of typed columns named as the dataset's."""
    from pyspark.sql import functions as F

    frame = dataset.frame()
    raw = [f"{_RAW}{i}" for i in range(len(dataset.columns))]
    frame = frame.toDF(*raw)
    return frame.select(
        *[
            F.col(r).cast(_SPARK_TYPE.get(c["type"], "string")).alias(c["name"])
            for r, c in zip(raw, dataset.meta["columns"])
        ]
    )


def _create_table_sql(meta):
    quote = lambda name: '"' + name.replace('"', '""') + '"'
    columns = ", ".join(f"{quote(c['name'])} {_DECLARED.get(c['type'], 'TEXT')}" for c in meta["columns"])
    return f"CREATE TABLE {quote(meta['name'])} ({columns});"


def run(spark, argv):
    from py4j.protocol import Py4JJavaError
    from pyspark.errors.exceptions.captured import CapturedException

    args = parse_args(argv)
    inputs = [s.strip() for s in args.inputs.split(",") if s.strip()]
    if not inputs:
        raise tc.UsageError("--inputs names no dataset")
    for name in inputs + [args.dataset]:
        if not tc.valid_name(name):
            raise tc.UsageError(f"`{name}` is not a dataset name")

    datasets = []
    for name in inputs:
        try:
            datasets.append(tc.read_dataset(spark, args.datasets, name))
        except tc.StepFailed as e:
            raise tc.StepFailed(f"input {e}; run the step that writes it before this one") from None

    views = []
    time_zone = spark.conf.get("spark.sql.session.timeZone")
    try:
        # Timestamps computed by a query are written in UTC, as SQLite's are.
        spark.conf.set("spark.sql.session.timeZone", "UTC")
        for dataset in datasets:
            if dataset.name in views:
                # What SQLite answers when the local step loads it again.
                create = _create_table_sql(dataset.meta)
                raise tc.StepFailed(f'SQL error: table "{dataset.name}" already exists in {create} at offset 13')
            _view(dataset).createOrReplaceTempView(dataset.name)
            views.append(dataset.name)
            print(f"{STEP}: loaded `{dataset.name}` ({dataset.meta['rows']} rows)")

        found = statements(args.sql)
        if not found:
            raise tc.StepFailed("the SQL is empty; write one SELECT statement")
        check_read_only(spark, found[0], inputs)
        if len(found) > 1:
            raise tc.StepFailed("the SQL has more than one statement; write one SELECT statement")
        try:
            frame = spark.sql(found[0])
        except Exception as e:  # Spark's AnalysisException, as py4j raises it
            raise tc.StepFailed(f"SQL error: {_first_line(e)}") from None
        if not frame.columns:
            raise tc.StepFailed("the SQL returns no columns; write one SELECT statement")
        names = tc.column_names(frame.columns)
        frame, kinds = _result_columns(spark, frame)
        print(f"{STEP}: running the query")
        rows = frame.rdd.map(_render_rows(kinds))
        try:
            meta = tc.write_dataset(spark, args.datasets, args.dataset, names, rows)
        except (Py4JJavaError, CapturedException) as e:  # the query failed as it ran
            raise tc.StepFailed(f"SQL error: {_first_line(e)}") from None
        print(f"{STEP}: wrote dataset `{meta['name']}`: {meta['rows']} rows, {len(meta['columns'])} columns")
    finally:
        for name in views:
            spark.catalog.dropTempView(name)
        spark.conf.set("spark.sql.session.timeZone", time_zone)


if __name__ == "__main__":
    tc.main(run, STEP)
