"""`ingest.file` on Spark: a CSV or JSON Lines file, or every object under a
prefix read as one input, into a dataset — the EMR side of
`server/src/components/ingest.rs`, with the same columns, rows and rejects.

    spark-submit ingest_file.py --source s3://bucket/orders.csv --dataset orders \
        --format auto --header true --delimiter , --quote '"' --on-error reject \
        --datasets s3://bucket/datasets

Each file is read by one Spark task (`sc.binaryFiles`, files in name order
as partitions in order) and parsed there, exactly as the local step parses
the concatenation of the parts: the Rust `csv` crate's reader (flexible rows,
blank lines skipped, its line numbers) and `serde_json` for JSON Lines (its
numbers, its error messages). Only small facts per file (first line, line
counts, the first record) come back to the driver.
"""

import re

import trellis_common as tc

STEP = "ingest.file"
# Longest JSON line accepted; longer ones are malformed rows.
MAX_LINE_BYTES = 16 << 20
# The local step reads through a buffer of this size; a too-long line keeps
# what fitted in whole buffer chunks (`read_line` in ingest.rs).
READ_BUFFER = 256 * 1024


def parse_args(argv):
    p = tc.parser(STEP)
    p.add_argument("--source", required=True)
    p.add_argument("--dataset", required=True)
    p.add_argument("--format", default="auto", choices=["auto", "csv", "jsonl"])
    p.add_argument("--header", default="true", choices=["true", "false"])
    p.add_argument("--delimiter", default=",")
    p.add_argument("--quote", default='"')
    p.add_argument("--on-error", dest="on_error", default="reject", choices=["reject", "fail"])
    return p.parse_args(argv)


def single_byte(text, what):
    if text in ("tab", "\\t", "\t"):
        return 9
    raw = text.encode("utf-8")
    if len(raw) == 1:
        return raw[0]
    raise tc.StepFailed(f"--{what} must be one character (or `tab`), got `{text}`")


def jsonl_name(name):
    lower = name.lower()
    return lower.endswith(".jsonl") or lower.endswith(".ndjson")


def human_bytes(n):
    """`app::components::bytes::human`."""
    units = ["B", "kB", "MB", "GB", "TB"]
    value, unit = float(n), 0
    while value >= 1000.0 and unit < len(units) - 1:
        value /= 1000.0
        unit += 1
    return f"{n} B" if unit == 0 else f"{value:.1f} {units[unit]}"


# ---------------------------------------------------------------------------
# Where the source is.

_S3_BUCKET = re.compile(r"[a-z0-9.-]{3,63}\Z")


def locate(spark, source):
    """The files the source names, in name order, with how to name the
    source in messages; or why there are none."""
    lower = source[:8].lower()
    if lower.startswith("http://") or lower.startswith("https://"):
        raise tc.UsageError(
            f"--source `{source}`: http(s) sources are read by the local step only; "
            "on EMR copy the file to S3 and use an s3:// location"
        )
    if "://" not in source and not source.startswith("/"):
        raise tc.UsageError(
            f"--source `{source}` is a path in the tenant's data folder, which an EMR step cannot read: "
            "use an s3:// location"
        )
    shown = source
    if lower.startswith("s3://"):
        bucket, _, key = source[5:].partition("/")
        if not _S3_BUCKET.match(bucket):
            raise tc.StepFailed(
                f"`{source}`: `{bucket}` is not an S3 bucket name (3 to 63 lower-case letters, digits, `.` and `-`)"
            )
        shown = f"s3://{bucket}/{key}"
        prefix = key == "" or key.endswith("/")
    else:
        prefix = source.endswith("/")
    store = tc.Store(spark)
    if prefix:
        files = store.list_files(source)
        if not files:
            raise tc.StepFailed(f"there are no objects under {shown}")
        return files, shown
    path, fs = store._path(source)
    if not fs.exists(path) or not fs.getFileStatus(path).isFile():
        raise tc.StepFailed(f"{shown} does not exist")
    return [(source, fs.getFileStatus(path).getLen())], shown


# ---------------------------------------------------------------------------
# Joining the parts, as `s3::download` writes them one after the other.


def first_line_facts(data):
    """What the join looks at: the first line (without its end) and how many
    bytes leaving it out skips; with the file's size and line ends."""
    end = data.find(b"\n")
    if end < 0:
        line, skip = data, len(data)
    else:
        line, skip = data[:end], end + 1
        if line.endswith(b"\r"):
            line = line[:-1]
    return {
        "size": len(data),
        "line": line,
        "skip": skip,
        "newlines": data.count(b"\n"),
        "ends_with_newline": data.endswith(b"\n"),
    }


def plan_parts(names, facts, fmt, header):
    """Per file: bytes to leave out at its start, whether a line end is added
    after it, and where its part starts in the joined input (byte, line
    ends); or `StepFailed` for a part whose header differs."""
    def headed(name):
        if fmt == "jsonl":
            return False
        if fmt == "csv":
            return header
        return header and not jsonl_name(name)

    plans, first_header, byte, newlines, lines_before, started = [], None, 0, 0, 0, False
    for index, (name, f) in enumerate(zip(names, facts)):
        skip = 0
        if f["size"] and headed(name):
            if first_header is None:
                first_header = f["line"]
            elif f["line"] == first_header:
                skip = f["skip"]
            else:
                line = f["line"].decode("utf-8", "replace")
                head = first_header.decode("utf-8", "replace")
                raise tc.StepFailed(
                    f"{name} starts with the header `{line}`, not `{head}` as the first part does; "
                    "the parts under a prefix must have the same columns"
                )
        size = f["size"] - skip
        # Leaving the first line out drops its line end too, when it has one.
        part_newlines = f["newlines"] - (1 if skip and f["newlines"] else 0)
        append = size > 0 and not f["ends_with_newline"] and index + 1 < len(names)
        part_newlines += append
        lines = part_newlines + (1 if size > 0 and not append and not f["ends_with_newline"] else 0)
        plans.append({
            "index": index, "skip": skip, "append": append, "byte": byte,
            "newlines_before": newlines, "lines_before": lines_before, "strip_bom": False,
        })
        # The crate strips a UTF-8 BOM at the start of the joined input only.
        plans[-1]["strip_bom"] = size > 0 and not started
        started = started or size > 0
        byte += size + append
        newlines += part_newlines
        lines_before += lines
        plans[-1]["lines"] = lines
    return plans


def part_bytes(data, plan):
    part = data[plan["skip"]:]
    return part + b"\n" if plan["append"] else part


# ---------------------------------------------------------------------------
# CSV, as the `csv` crate reads it (csv-core's machine: CRLF terminator, no
# escape, no comment, doubled quotes, flexible). `line` is what the crate's
# `Position::line` says: 1 + the line ends read before the record's read began.

START_RECORD, START_FIELD, IN_FIELD, IN_QUOTED, IN_DOUBLE_QUOTE, AFTER_CR = range(6)


def csv_records(data, delimiter, quote, strip_bom):
    """Yields `(fields, newlines before)` for each record of `data`, the
    newlines counted from its start to where the record's read began; then
    `(None, newlines at the end of the last record)`."""
    n = len(data)
    i = 3 if strip_bom and data[:3] == b"\xef\xbb\xbf" else 0
    special = re.compile(b"[" + re.escape(bytes([delimiter])) + b"\r\n]")
    quote_byte = bytes([quote]) if quote is not None else None
    state, newlines = START_RECORD, 0
    record_end = 0
    while True:
        start_newlines = newlines
        fields, field = [], []
        # AFTER_CR and blank lines: consumed by this read, before the record.
        while i < n:
            b = data[i]
            if state == AFTER_CR:
                state = START_RECORD
                if b == 10:
                    newlines += 1
                    i += 1
                continue
            if b == 10 or b == 13:
                newlines += b == 10
                i += 1
                continue
            break
        if i >= n:
            yield None, record_end
            return
        state = START_FIELD
        done = False
        while i < n:
            b = data[i]
            if state == START_FIELD:
                if quote is not None and b == quote:
                    state = IN_QUOTED
                    i += 1
                    continue
                state = IN_FIELD
                # falls through to IN_FIELD with the same byte
            if state == IN_FIELD:
                m = special.search(data, i)
                stop = m.start() if m else n
                field.append(data[i:stop])
                i = stop
                if i >= n:
                    break
                b = data[i]
            elif state == IN_QUOTED:
                stop = data.find(quote_byte, i)
                stop = n if stop < 0 else stop
                chunk = data[i:stop]
                newlines += chunk.count(b"\n")
                field.append(chunk)
                i = stop
                if i >= n:
                    break
                state = IN_DOUBLE_QUOTE
                i += 1
                continue
            elif state == IN_DOUBLE_QUOTE:
                if b == quote:
                    field.append(quote_byte)
                    state = IN_QUOTED
                    i += 1
                    continue
                if b != delimiter and b != 10 and b != 13:
                    state = IN_FIELD
                    continue
            # A delimiter or a record terminator ends the field.
            fields.append(b"".join(field))
            field = []
            i += 1
            if b == delimiter:
                state = START_FIELD
                continue
            if b == 10:
                newlines += 1
                state = START_RECORD
            else:
                state = AFTER_CR
            done = True
            break
        if not done:
            # The input ends inside a record: it ends the record.
            fields.append(b"".join(field))
            state = START_RECORD
        record_end = newlines
        yield fields, start_newlines


def csv_part(plan, data, delimiter, quote):
    """Parses one file's part: its records `("r", file, k, newlines before,
    fields)` and last `("f", file, facts)`."""
    part = part_bytes(data, plan)
    count, first, end = 0, None, 0
    for fields, newlines in csv_records(part, delimiter, quote, plan["strip_bom"]):
        if fields is None:
            end = newlines
            break
        if count == 0:
            first = fields
        yield ("r", plan["index"], count, newlines, fields)
        count += 1
    yield ("f", plan["index"], {"records": count, "first": first, "end_newlines": end})


def csv_rows(spark, raw, plans, args, delimiter, quote):
    """Columns, rows and rejects of a CSV input."""
    parsed = raw.flatMap(lambda item: csv_part(plans[item[0]], item[1], delimiter, quote))
    parsed = parsed.persist(_storage())
    facts = dict(parsed.filter(lambda x: x[0] == "f").map(lambda x: (x[1], x[2])).collect())
    with_records = [i for i in range(len(plans)) if facts.get(i, {}).get("records")]
    if not with_records:
        parsed.unpersist()
        raise tc.StepFailed("the source is empty: it has no header and no rows")
    first_file = with_records[0]
    first = facts[first_file]["first"]
    width = len(first)
    header = args.header == "true"
    if header:
        names = [f.decode("utf-8", "replace") for f in first]
    else:
        names = [f"column_{i}" for i in range(1, width + 1)]
    columns = tc.column_names(names)
    # Where each file's first record starts: after the previous file's last record.
    first_line, ended = {}, 0
    for i, plan in enumerate(plans):
        first_line[i] = 1 + ended
        f = facts.get(i)
        if f and f["records"]:
            ended = plan["newlines_before"] + f["end_newlines"]
    offsets = [p["newlines_before"] for p in plans]

    def judge(item):
        _, index, k, newlines, fields = item
        if header and index == first_file and k == 0:
            return []
        line = first_line[index] if k == 0 else 1 + offsets[index] + newlines
        raw_text = lambda: bytes([delimiter]).join(fields).decode("utf-8", "replace")
        if len(fields) != width:
            return [("bad", line, f"has {len(fields)} fields, expected {width}", raw_text())]
        values = []
        for position, field in enumerate(fields):
            try:
                values.append(field.decode("utf-8"))
            except UnicodeDecodeError:
                reason = f"field {position + 1} (`{columns[position]}`) is not valid UTF-8"
                return [("bad", line, reason, raw_text())]
        return [("row", values)]

    judged = parsed.filter(lambda x: x[0] == "r").flatMap(judge)
    return columns, judged, parsed


# ---------------------------------------------------------------------------
# JSON, as serde_json reads it (no float_roundtrip, no preserve_order):
# the top level into an `IndexMap<String, Value>`, its errors word for word.

U64_MAX, I64_MIN, I32_MAX = 2**64 - 1, -(2**63), 2**31 - 1
POW10 = [float(f"1e{i}") for i in range(309)]
_MESSAGES = {
    "list": "EOF while parsing a list",
    "object": "EOF while parsing an object",
    "string": "EOF while parsing a string",
    "value": "EOF while parsing a value",
    "colon": "expected `:`",
    "list_comma": "expected `,` or `]`",
    "object_comma": "expected `,` or `}`",
    "ident": "expected ident",
    "some_value": "expected value",
    "escape": "invalid escape",
    "number": "invalid number",
    "range": "number out of range",
    "unicode": "invalid unicode code point",
    "control": "control character (\\u0000-\\u001F) found while parsing a string",
    "key": "key must be a string",
    "surrogate": "lone leading surrogate in hex escape",
    "comma": "trailing comma",
    "trailing": "trailing characters",
    "hex_end": "unexpected end of hex escape",
    "recursion": "recursion limit exceeded",
}
_STRING_STOP = re.compile(rb'["\\\x00-\x1f]')
_ESCAPES = {0x22: b'"', 0x5C: b"\\", 0x2F: b"/", 0x62: b"\x08", 0x66: b"\x0c", 0x6E: b"\n", 0x72: b"\r", 0x74: b"\t"}
_HEX = re.compile(rb"[0-9a-fA-F]{4}\Z")


class JsonError(Exception):
    def __init__(self, message, column=None):
        super().__init__(message)
        self.message, self.column = message, column

    def __str__(self):
        return self.message if self.column is None else f"{self.message} at line 1 column {self.column}"


class JsonReader:
    """serde_json's `Deserializer<SliceRead>` over one line (no line ends in it)."""

    def __init__(self, data):
        self.s, self.i, self.n, self.depth = data, 0, len(data), 128

    def peek(self):
        return self.s[self.i] if self.i < self.n else None

    def peek0(self):
        return self.s[self.i] if self.i < self.n else 0

    def error(self, code):
        return JsonError(_MESSAGES[code], self.i)

    def peek_error(self, code):
        return JsonError(_MESSAGES[code], min(self.n, self.i + 1))

    def whitespace(self):
        s, n = self.s, self.n
        while self.i < n and s[self.i] in (0x20, 0x0A, 0x09, 0x0D):
            self.i += 1
        return self.peek()

    def ident(self, rest):
        for expected in rest:
            if self.i >= self.n:
                raise self.error("value")
            c = self.s[self.i]
            self.i += 1
            if c != expected:
                raise self.error("ident")

    # Numbers -----------------------------------------------------------

    def integer(self, positive):
        if self.i >= self.n:
            raise self.error("value")
        c = self.s[self.i]
        self.i += 1
        if c == 0x30:
            if 0x30 <= self.peek0() <= 0x39:
                raise self.peek_error("number")
            return self.number(positive, 0)
        if 0x31 <= c <= 0x39:
            significand = c - 0x30
            while True:
                c = self.peek0()
                if not 0x30 <= c <= 0x39:
                    return self.number(positive, significand)
                digit = c - 0x30
                if significand * 10 + digit > U64_MAX:
                    return self.long_integer(positive, significand)
                self.i += 1
                significand = significand * 10 + digit
        raise self.error("number")

    def number(self, positive, significand):
        c = self.peek0()
        if c == 0x2E:
            return self.decimal(positive, significand, 0)
        if c in (0x65, 0x45):
            return self.exponent(positive, significand, 0)
        if positive:
            return significand
        as_i64 = significand - 2**64 if significand >= 2**63 else significand
        neg = -as_i64
        if neg >= 2**63:
            neg -= 2**64
        # A float on underflow, or on `-0`.
        return -float(significand) if neg >= 0 else neg

    def decimal(self, positive, significand, before):
        self.i += 1
        after = 0
        while True:
            c = self.peek0()
            if not 0x30 <= c <= 0x39:
                break
            digit = c - 0x30
            if significand * 10 + digit > U64_MAX:
                return self.decimal_overflow(positive, significand, before + after)
            self.i += 1
            significand = significand * 10 + digit
            after -= 1
        if after == 0:
            raise self.peek_error("number" if self.i < self.n else "value")
        exponent = before + after
        if self.peek0() in (0x65, 0x45):
            return self.exponent(positive, significand, exponent)
        return self.from_parts(positive, significand, exponent)

    def exponent(self, positive, significand, starting):
        self.i += 1
        positive_exp = True
        c = self.peek0()
        if c == 0x2B:
            self.i += 1
        elif c == 0x2D:
            self.i += 1
            positive_exp = False
        if self.i >= self.n:
            raise self.error("value")
        c = self.s[self.i]
        self.i += 1
        if not 0x30 <= c <= 0x39:
            raise self.error("number")
        exp = c - 0x30
        while 0x30 <= self.peek0() <= 0x39:
            digit = self.s[self.i] - 0x30
            self.i += 1
            if exp * 10 + digit > I32_MAX:
                return self.exponent_overflow(positive, significand == 0, positive_exp)
            exp = exp * 10 + digit
        final = starting + exp if positive_exp else starting - exp
        final = max(-(2**31), min(I32_MAX, final))
        return self.from_parts(positive, significand, final)

    def from_parts(self, positive, significand, exponent):
        f = float(significand)
        while True:
            index = abs(exponent) if exponent != -(2**31) else None
            if index is not None and index < len(POW10):
                if exponent >= 0:
                    f *= POW10[index]
                    if f == float("inf"):
                        raise self.error("range")
                else:
                    f /= POW10[index]
                break
            if f == 0.0:
                break
            if exponent >= 0:
                raise self.error("range")
            f /= 1e308
            exponent += 308
        return f if positive else -f

    def long_integer(self, positive, significand):
        exponent = 0
        while True:
            c = self.peek0()
            if 0x30 <= c <= 0x39:
                self.i += 1
                exponent += 1
            elif c == 0x2E:
                return self.decimal(positive, significand, exponent)
            elif c in (0x65, 0x45):
                return self.exponent(positive, significand, exponent)
            else:
                return self.from_parts(positive, significand, exponent)

    def decimal_overflow(self, positive, significand, exponent):
        while 0x30 <= self.peek0() <= 0x39:
            self.i += 1
        if self.peek0() in (0x65, 0x45):
            return self.exponent(positive, significand, exponent)
        return self.from_parts(positive, significand, exponent)

    def exponent_overflow(self, positive, zero_significand, positive_exp):
        if not zero_significand and positive_exp:
            raise self.error("range")
        while 0x30 <= self.peek0() <= 0x39:
            self.i += 1
        return 0.0 if positive else -0.0

    # Strings -----------------------------------------------------------

    def string(self):
        """After the opening quote: the string, validated."""
        scratch, start = bytearray(), self.i
        while True:
            m = _STRING_STOP.search(self.s, self.i)
            if m is None:
                self.i = self.n
                raise self.error("string")
            self.i = m.start()
            b = self.s[self.i]
            if b == 0x22:
                if scratch:
                    scratch += self.s[start:self.i]
                    raw = bytes(scratch)
                else:
                    raw = self.s[start:self.i]
                self.i += 1
                try:
                    return raw.decode("utf-8")
                except UnicodeDecodeError as e:
                    raise JsonError(_MESSAGES["unicode"], max(0, self.i - (len(raw) - e.start))) from None
            if b == 0x5C:
                scratch += self.s[start:self.i]
                self.i += 1
                self.escape(scratch)
                start = self.i
            else:
                self.i += 1
                raise self.error("control")

    def escape(self, scratch):
        if self.i >= self.n:
            raise self.error("string")
        c = self.s[self.i]
        self.i += 1
        if c in _ESCAPES:
            scratch += _ESCAPES[c]
        elif c == 0x75:
            self.unicode_escape(scratch)
        else:
            raise self.error("escape")

    def hex4(self):
        if self.n - self.i >= 4:
            chunk = self.s[self.i:self.i + 4]
            self.i += 4
            if not _HEX.match(chunk):
                raise self.error("escape")
            return int(chunk, 16)
        self.i = self.n
        raise self.error("string")

    def unicode_escape(self, scratch):
        n = self.hex4()
        if 0xDC00 <= n <= 0xDFFF:
            raise self.error("surrogate")
        if not 0xD800 <= n <= 0xDBFF:
            scratch += chr(n).encode("utf-8")
            return
        for expected in (0x5C, 0x75):
            if self.i >= self.n:
                raise self.error("string")
            c = self.s[self.i]
            self.i += 1
            if c != expected:
                raise self.error("hex_end")
        n2 = self.hex4()
        if not 0xDC00 <= n2 <= 0xDFFF:
            raise self.error("surrogate")
        scratch += chr((((n - 0xD800) << 10) | (n2 - 0xDC00)) + 0x10000).encode("utf-8")

    # Values ------------------------------------------------------------

    def enter(self):
        self.depth -= 1
        if self.depth == 0:
            raise self.peek_error("recursion")

    def value(self):
        c = self.whitespace()
        if c is None:
            raise self.peek_error("value")
        if c == 0x6E:
            self.i += 1
            self.ident(b"ull")
            return None
        if c == 0x74:
            self.i += 1
            self.ident(b"rue")
            return True
        if c == 0x66:
            self.i += 1
            self.ident(b"alse")
            return False
        if c == 0x2D:
            self.i += 1
            return self.integer(False)
        if 0x30 <= c <= 0x39:
            return self.integer(True)
        if c == 0x22:
            self.i += 1
            return self.string()
        if c == 0x5B:
            self.enter()
            self.i += 1
            items = self.items()
            self.depth += 1
            self.end_list()
            return items
        if c == 0x7B:
            self.enter()
            self.i += 1
            entries = self.entries()
            self.depth += 1
            self.end_object()
            return entries
        raise self.peek_error("some_value")

    def items(self):
        items, first = [], True
        while True:
            c = self.whitespace()
            if c is None:
                raise self.peek_error("list")
            if c == 0x5D:
                return items
            if first:
                first = False
            elif c == 0x2C:
                self.i += 1
                c = self.whitespace()
                if c == 0x5D:
                    raise self.peek_error("comma")
                if c is None:
                    raise self.peek_error("value")
            else:
                raise self.peek_error("list_comma")
            items.append(self.value())

    def entries(self):
        entries, first = {}, True
        while True:
            c = self.whitespace()
            if c is None:
                raise self.peek_error("object")
            if c == 0x7D:
                return entries
            if first:
                first = False
                if c != 0x22:
                    raise self.peek_error("key")
            elif c == 0x2C:
                self.i += 1
                c = self.whitespace()
                if c == 0x7D:
                    raise self.peek_error("comma")
                if c is None:
                    raise self.peek_error("value")
                if c != 0x22:
                    raise self.peek_error("key")
            else:
                raise self.peek_error("object_comma")
            self.i += 1
            key = self.string()
            c = self.whitespace()
            if c is None:
                raise self.peek_error("object")
            if c != 0x3A:
                raise self.peek_error("colon")
            self.i += 1
            entries[key] = self.value()

    def end_list(self):
        c = self.whitespace()
        if c == 0x5D:
            self.i += 1
        elif c == 0x2C:
            self.i += 1
            raise self.peek_error("comma" if self.whitespace() == 0x5D else "trailing")
        elif c is None:
            raise self.peek_error("list")
        else:
            raise self.peek_error("trailing")

    def end_object(self):
        c = self.whitespace()
        if c == 0x7D:
            self.i += 1
        elif c == 0x2C:
            raise self.peek_error("comma")
        elif c is None:
            raise self.peek_error("object")
        else:
            raise self.peek_error("trailing")

    def end(self):
        if self.whitespace() is not None:
            raise self.peek_error("trailing")

    def top_object(self):
        """`from_slice::<IndexMap<String, Value>>`."""
        c = self.whitespace()
        if c is None:
            raise self.peek_error("value")
        if c == 0x7B:
            self.enter()
            self.i += 1
            entries = self.entries()
            self.depth += 1
            self.end_object()
        else:
            raise self.invalid_type()
        self.end()
        return entries

    def invalid_type(self):
        c = self.peek0()
        if c == 0x6E:
            self.i += 1
            self.ident(b"ull")
            what = "null"
        elif c in (0x74, 0x66):
            self.i += 1
            self.ident(b"rue" if c == 0x74 else b"alse")
            what = f"boolean `{'true' if c == 0x74 else 'false'}`"
        elif c == 0x2D or 0x30 <= c <= 0x39:
            if c == 0x2D:
                self.i += 1
            n = self.integer(c != 0x2D)
            what = f"floating point `{rust_display_float(n)}`" if isinstance(n, float) else f"integer `{n}`"
        elif c == 0x22:
            self.i += 1
            what = f"string {rust_debug_str(self.string())}"
        elif c == 0x5B:
            what = "sequence"
        else:
            return self.peek_error("some_value")
        # Errors made without a position get the current one.
        return JsonError(f"invalid type: {what}, expected a map", self.i)

    # IgnoredAny ----------------------------------------------------------

    def ignore_str(self):
        while True:
            m = _STRING_STOP.search(self.s, self.i)
            if m is None:
                raise self.error("string")
            self.i = m.start()
            b = self.s[self.i]
            if b == 0x22:
                self.i += 1
                return
            if b != 0x5C:
                raise self.error("control")
            self.i += 1
            if self.i >= self.n:
                raise self.error("string")
            c = self.s[self.i]
            self.i += 1
            if c == 0x75:
                self.hex4()
            elif c not in _ESCAPES:
                raise self.error("escape")

    def ignore_number(self):
        c = self.peek0()
        self.i += c != 0
        if c == 0x30:
            if 0x30 <= self.peek0() <= 0x39:
                raise self.peek_error("number")
        elif 0x31 <= c <= 0x39:
            while 0x30 <= self.peek0() <= 0x39:
                self.i += 1
        else:
            raise self.error("number")
        if self.peek0() == 0x2E:
            self.i += 1
            if not 0x30 <= self.peek0() <= 0x39:
                raise self.peek_error("number")
            while 0x30 <= self.peek0() <= 0x39:
                self.i += 1
        if self.peek0() in (0x65, 0x45):
            self.i += 1
            if self.peek0() in (0x2B, 0x2D):
                self.i += 1
            c = self.peek0()
            self.i += c != 0
            if not 0x30 <= c <= 0x39:
                raise self.error("number")
            while 0x30 <= self.peek0() <= 0x39:
                self.i += 1

    def ignore_value(self):
        """`from_slice::<IgnoredAny>` succeeds (no depth limit, no number
        ranges, strings not checked for UTF-8 or surrogates)."""
        stack = []
        while True:
            c = self.whitespace()
            if c is None:
                raise self.peek_error("value")
            opened = None
            if c in (0x6E, 0x74, 0x66):
                self.i += 1
                self.ident({0x6E: b"ull", 0x74: b"rue", 0x66: b"alse"}[c])
            elif c == 0x2D:
                self.i += 1
                self.ignore_number()
            elif 0x30 <= c <= 0x39:
                self.ignore_number()
            elif c == 0x22:
                self.i += 1
                self.ignore_str()
            elif c in (0x5B, 0x7B):
                self.i += 1
                opened = c
            else:
                raise self.peek_error("some_value")
            if opened is not None:
                stack.append(opened)
                accept_comma = False
            elif not stack:
                return self.end()
            else:
                accept_comma = True
            while True:
                frame = stack[-1]
                c = self.whitespace()
                if c == 0x2C and accept_comma:
                    self.i += 1
                    break
                if (c == 0x5D and frame == 0x5B) or (c == 0x7D and frame == 0x7B):
                    self.i += 1
                    stack.pop()
                    if not stack:
                        return self.end()
                    accept_comma = True
                    continue
                if c is None:
                    raise self.peek_error("list" if frame == 0x5B else "object")
                if accept_comma:
                    raise self.peek_error("list_comma" if frame == 0x5B else "object_comma")
                break
            if stack[-1] == 0x7B:
                c = self.whitespace()
                if c is None:
                    raise self.peek_error("object")
                if c != 0x22:
                    raise self.peek_error("key")
                self.i += 1
                self.ignore_str()
                c = self.whitespace()
                if c is None:
                    raise self.peek_error("object")
                if c != 0x3A:
                    raise self.peek_error("colon")
                self.i += 1


def _shortest(x):
    return tc._shortest(x)


def rust_display_float(x):
    """`WithDecimalPoint(x)`: Rust's `{}` of an f64 (never an exponent), `.0` added."""
    sign = "-" if str(x).startswith("-") else ""
    if x == 0:
        return sign + "0.0"
    return sign + tc._plain(*_shortest(x))


def rust_debug_str(s):
    out = ['"']
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\0":
            out.append("\\0")
        elif ch.isprintable():
            out.append(ch)
        else:
            out.append("\\u{%x}" % ord(ch))
    out.append('"')
    return "".join(out)


serde_float = tc.json_float


def _json_string(s):
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif o < 0x20:
            out.append({8: "\\b", 9: "\\t", 10: "\\n", 12: "\\f", 13: "\\r"}.get(o) or "\\u%04x" % o)
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def to_json(value):
    """`Value::to_string()` (objects with their keys sorted, as a BTreeMap)."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return serde_float(value)
    if isinstance(value, str):
        return _json_string(value)
    if isinstance(value, list):
        return "[" + ",".join(to_json(v) for v in value) + "]"
    return "{" + ",".join(_json_string(k) + ":" + to_json(value[k]) for k in sorted(value)) + "}"


def cell(value):
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return to_json(value)


def _number_token(token):
    if len(token) <= 18 and "." not in token and "e" not in token and "E" not in token and token != "-0":
        return int(token)
    reader = JsonReader(token.encode("ascii"))
    negative = token.startswith("-")
    reader.i = 1 if negative else 0
    return reader.integer(not negative)


class _Slow(Exception):
    pass


def _constant(name):
    raise _Slow(name)


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _fast_parse(line):
    """The line through Python's json where that reads it exactly as
    serde_json would; `_Slow` where it may not."""
    import json

    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        raise _Slow() from None
    if text.count("[") + text.count("{") >= 127 or ("\\u" in text and _SURROGATE_ESCAPE.search(text)):
        raise _Slow()
    try:
        return json.loads(text, parse_int=_number_token, parse_float=_number_token, parse_constant=_constant)
    except (ValueError, JsonError, RecursionError):
        raise _Slow() from None


def parse_object(line, too_long):
    """`(object, None)`, `(None, None)` for a blank line, or `(None, reason)`."""
    if too_long:
        return None, f"the line is longer than {MAX_LINE_BYTES >> 20} MiB"
    if not line.strip(b" \t\n\x0c\r"):
        return None, None
    try:
        value = _fast_parse(line)
        if isinstance(value, dict):
            return value, None
        return None, "is not a JSON object"
    except _Slow:
        pass
    try:
        return JsonReader(line).top_object(), None
    except JsonError as e:
        error = e
    except RecursionError:
        error = JsonError(_MESSAGES["recursion"])
    try:
        JsonReader(line).ignore_value()
        return None, "is not a JSON object"
    except JsonError:
        return None, f"is not valid JSON: {error}"


def json_lines(part, start_byte):
    """The lines of a part as the local step's `read_line` cuts them: `(line,
    too long)`, without the line end; `start_byte` is where the part starts
    in the joined input (a too-long line keeps whole buffer chunks)."""
    n, i = len(part), 0
    while i < n:
        end = part.find(b"\n", i)
        stop = n if end < 0 else end
        if stop - i <= MAX_LINE_BYTES:
            line, too_long = part[i:stop], False
        else:
            line, too_long, at = bytearray(), True, i
            while at < stop:
                chunk_end = min(stop, (start_byte + at) // READ_BUFFER * READ_BUFFER + READ_BUFFER - start_byte)
                if len(line) + chunk_end - at <= MAX_LINE_BYTES:
                    line += part[at:chunk_end]
                at = chunk_end
            line = bytes(line)
        if line.endswith(b"\r"):
            line = line[:-1]
        yield line, too_long
        i = stop + 1


def jsonl_part(plan, data):
    """One file's part: `("row", file, line, {key: cell})` and `("bad", file,
    line, reason, raw)`, then `("f", file, facts)`: its keys in order of first
    appearance and its first malformed line."""
    part = part_bytes(data, plan)
    line_number = plan["lines_before"]
    keys, seen, first_bad = [], set(), None
    for line, too_long in json_lines(part, plan["byte"]):
        line_number += 1
        value, reason = parse_object(line, too_long)
        if value is not None:
            for key in value:
                if key not in seen:
                    seen.add(key)
                    keys.append(key)
            yield ("row", plan["index"], line_number, {k: cell(v) for k, v in value.items()})
        elif reason is not None:
            if first_bad is None:
                first_bad = (line_number, reason)
            yield ("bad", plan["index"], line_number, reason, line.decode("utf-8", "replace"))
    yield ("f", plan["index"], {"keys": keys, "first_bad": first_bad})


def jsonl_rows(spark, raw, plans, args, total_lines):
    parsed = raw.flatMap(lambda item: jsonl_part(plans[item[0]], item[1])).persist(_storage())
    facts = dict(parsed.filter(lambda x: x[0] == "f").map(lambda x: (x[1], x[2])).collect())
    names, seen = [], set()
    for i in range(len(plans)):
        f = facts.get(i)
        if f is None:
            continue
        if args.on_error == "fail" and f["first_bad"]:
            parsed.unpersist()
            line, reason = f["first_bad"]
            raise tc.StepFailed(f"line {line}: {reason}")
        for key in f["keys"]:
            if key not in seen:
                seen.add(key)
                names.append(key)
    if not names and total_lines == 0:
        parsed.unpersist()
        raise tc.StepFailed("the source is empty")
    columns = tc.column_names(names)

    def judge(item):
        if item[0] == "row":
            cells = item[3]
            return [("row", [cells.get(name, "") for name in names])]
        return [("bad", item[2], item[3], item[4])]

    judged = parsed.filter(lambda x: x[0] != "f").flatMap(judge)
    return columns, judged, parsed


# ---------------------------------------------------------------------------


def _storage():
    from pyspark import StorageLevel

    return StorageLevel.MEMORY_AND_DISK


def read_files(spark, files):
    """One RDD of `(file index, bytes)` whose partitions follow the files' order."""
    sc = spark.sparkContext
    parts = [
        sc.binaryFiles(_glob_escape(uri)).map(lambda kv, i=i: (i, bytes(kv[1])))
        for i, (uri, _) in enumerate(files)
    ]
    return parts[0] if len(parts) == 1 else sc.union(parts)


def _glob_escape(uri):
    # Hadoop reads input paths as globs.
    return re.sub(r"([*?\[\]{}\\])", r"\\\1", uri)


def run(spark, argv):
    args = parse_args(argv)
    if not tc.valid_name(args.dataset):
        raise tc.UsageError(
            f"`{args.dataset}` is not a dataset name: use a lower-case letter, then letters, digits or _ (at most 63)"
        )
    delimiter = single_byte(args.delimiter, "delimiter")
    quote = None if args.quote == "none" else single_byte(args.quote, "quote")

    files, shown = locate(spark, args.source)
    names = [uri for uri, _ in files]
    total = sum(size for _, size in files)
    print(f"{STEP}: reading {shown}")
    if len(files) > 1:
        for uri, size in files:
            print(f"{STEP}:   {uri} ({human_bytes(size)})")
    print(f"{STEP}: reading {len(files)} object{'' if len(files) == 1 else 's'} ({human_bytes(total)})")

    jsonl = args.format == "jsonl" or (args.format == "auto" and jsonl_name(names[0]))
    raw = read_files(spark, files).persist(_storage())
    try:
        got = dict(raw.map(lambda item: (item[0], first_line_facts(item[1]))).collect())
        empty = {"size": 0, "line": b"", "skip": 0, "newlines": 0, "ends_with_newline": False}
        facts = [got.get(i, empty) for i in range(len(files))]
        plans = plan_parts(names, facts, args.format, args.header == "true")
        total_lines = plans[-1]["lines_before"] + plans[-1]["lines"]
        if jsonl:
            columns, judged, parsed = jsonl_rows(spark, raw, plans, args, total_lines)
        else:
            columns, judged, parsed = csv_rows(spark, raw, plans, args, delimiter, quote)
    finally:
        raw.unpersist()
    try:
        judged = judged.persist(_storage())
        rejects = judged.filter(lambda x: x[0] == "bad").map(lambda x: (x[1], x[2], x[3]))
        if not jsonl and args.on_error == "fail":
            first = rejects.take(1)
            if first:
                line, reason, _ = first[0]
                raise tc.StepFailed(f"line {line}: {reason}")
        for line, reason, _ in rejects.take(10):
            print(f"{STEP}: rejected line {line}: {reason}")
        rows = judged.filter(lambda x: x[0] == "row").map(lambda x: x[1])
        meta = tc.write_dataset(spark, args.datasets, args.dataset, columns, rows, rejects)
    finally:
        judged.unpersist()
        parsed.unpersist()
    schema = ", ".join(f"{c['name']} {c['type']}" for c in meta["columns"])
    print(
        f"{STEP}: wrote dataset `{meta['name']}` from {args.source}: {meta['rows']} rows, "
        f"{len(meta['columns'])} columns ({schema})"
    )
    if meta["rejected_rows"]:
        print(f"{STEP}: {meta['rejected_rows']} malformed rows rejected into datasets/{meta['name']}/rejects.csv")


if __name__ == "__main__":
    tc.main(run, STEP)
