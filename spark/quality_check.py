"""`quality.check` on Spark: rules over a dataset, a JSON report beside it,
and a failed step when a rule has more violations than the threshold — the
EMR side of `server/src/components/quality.rs`, with the rule language of
`app/src/rules.rs` ported line for line (same syntax, same error messages).

    spark-submit quality_check.py --dataset orders --rules 'not_null(id)' \
        --threshold 0 --examples 5 --datasets s3://bucket/datasets

One pass over the rows (Spark tasks, one summary per partition) checks every
rule but `unique`; the `unique` rules are one `aggregateByKey` over the rows'
keys. Only small summaries come back to the driver: counts, and the first
`examples` violating rows of each rule with their values.

Regular expressions: patterns are validated as `regex_lite` does (the rule
parser's check, same messages) and translated to Python `re` with the `regex`
crate's meaning (`$` is the end of the text, `\\d`/`\\w`/`\\s`/`\\b` are
Unicode-aware, `(?i)` folds Unicode, inline flags are scoped). Known
differences: Python's `\\w` counts other numerics (such as `²`) as word
characters but not combining marks, and `\\s` also matches U+001C..U+001F; the
`regex` crate's compile-time size limit and its refusal of `(?-u).` (which can
match invalid UTF-8) are not reproduced.
"""

import heapq
import math
import re

import trellis_common as tc

STEP = "quality.check"
U64_MAX = 2**64 - 1

# ---------------------------------------------------------------------------
# Rust's text and number conventions.

# Python's isspace() also counts U+001C..U+001F, which are not White_Space.
_NOT_RUST_SPACE = frozenset("\x1c\x1d\x1e\x1f")


def _is_space(c):
    """`char::is_whitespace`."""
    return c.isspace() and c not in _NOT_RUST_SPACE


def _trim(s):
    """`str::trim`."""
    start, end = 0, len(s)
    while start < end and _is_space(s[start]):
        start += 1
    while end > start and _is_space(s[end - 1]):
        end -= 1
    return s[start:end]


def _lines(text):
    """`str::lines`: split after each `\\n`, dropping it and a `\\r` before it."""
    pieces = text.split("\n")
    last = pieces.pop()
    lines = [p[:-1] if p.endswith("\r") else p for p in pieces]
    if last:
        lines.append(last)
    return lines


_SPECIAL_FLOATS = {"inf": math.inf, "infinity": math.inf, "nan": math.nan}


def parse_f64(s):
    """`s.parse::<f64>()`, or None."""
    body = s[1:] if s[:1] in ("+", "-") else s
    special = _SPECIAL_FLOATS.get(body.lower())
    if special is not None:
        return -special if s[:1] == "-" else special
    return tc.parse_f64(s)


def parse_u64(s):
    """`s.parse::<u64>()`, or None."""
    digits = s[1:] if s[:1] == "+" else s
    if not digits or not digits.isascii() or not digits.isdigit():
        return None
    n = int(digits)
    return n if n <= U64_MAX else None


def display_float(x):
    """`format!("{x}")` of an f64 (never an exponent; whole numbers without `.0`)."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    sign = "-" if math.copysign(1.0, x) < 0 else ""
    if x == 0:
        return sign + "0"
    digits, exponent = tc._shortest(x)
    if exponent >= 0:
        return sign + digits + "0" * exponent
    point = len(digits) + exponent
    if point > 0:
        return sign + digits[:point] + "." + digits[point:]
    return sign + "0." + "0" * (-point) + digits


def round_half_away(x):
    """`f64::round`."""
    if not math.isfinite(x):
        return x
    r = math.floor(abs(x))
    if abs(x) - r >= 0.5:
        r += 1
    return math.copysign(float(r), x)


# ---------------------------------------------------------------------------
# Threshold (`rules::Threshold`).


class Threshold:
    def __init__(self, count=None, percent=None):
        self.count, self.percent = count, percent

    @staticmethod
    def parse(text):
        """`"0"`, `"25"`, `"2.5%"`; a `UsageError` with the Rust message otherwise."""
        text = _trim(text)
        bad = f"`{text}` is not a threshold; write a count such as 10 or a percentage such as 2.5%"
        if text.endswith("%"):
            p = parse_f64(_trim(text[:-1]))
            if p is None:
                raise tc.UsageError(bad)
            if not (0.0 <= p <= 100.0):
                raise tc.UsageError(f"a percentage threshold lies between 0% and 100%, got {text}")
            return Threshold(percent=p)
        n = parse_u64(text)
        if n is None:
            raise tc.UsageError(bad)
        return Threshold(count=n)

    def exceeded(self, violations, checked):
        if self.percent is None:
            return violations > self.count
        return violations > 0 and float(violations) * 100.0 > self.percent * float(max(checked, 1))

    def __str__(self):
        return str(self.count) if self.percent is None else f"{display_float(self.percent)}%"


# ---------------------------------------------------------------------------
# The rule language (`app/src/rules.rs`).


class RuleError(Exception):
    def __init__(self, line, column, message):
        super().__init__(f"line {line}, column {column}: {message}")
        self.line, self.column, self.message = line, column, message


def _quote(s):
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


class Literal:
    def __init__(self, number=None, text=None):
        self.number, self.text = number, text

    @property
    def is_number(self):
        return self.text is None

    def __str__(self):
        return display_float(self.number) if self.is_number else _quote(self.text)


class Rule:
    """One check: `kind` and its fields, printed back normalised by `str()`."""

    def __init__(self, kind, **fields):
        self.kind = kind
        self.__dict__.update(fields)

    def columns(self):
        if self.kind in ("not_null", "unique"):
            return list(self.cols)
        if self.kind == "row_count":
            return []
        return [self.column]

    def __str__(self):
        k = self.kind
        if k in ("not_null", "unique"):
            return f"{k}({', '.join(self.cols)})"
        if k == "range":
            return f"range({self.column}, {self.min}, {self.max})"
        if k == "regex":
            return f"regex({self.column}, {_quote(self.pattern)})"
        if k == "allowed_values":
            return f"allowed_values({self.column}, {', '.join(_quote(v) for v in self.values)})"
        return f"row_count({self.min}, {self.max})"


class RuleLine:
    def __init__(self, line, rule):
        self.line, self.rule = line, rule


def parse_rules(text):
    """`rules::parse`: every rule with its line; the first mistake as `RuleError`."""
    rules = []
    for index, line in enumerate(_lines(text)):
        trimmed = _trim(line)
        if not trimmed or trimmed.startswith("#"):
            continue
        rules.append(RuleLine(index + 1, _LineParser(index + 1, line).rule()))
    if not rules:
        raise RuleError(1, 1, "there are no rules; write at least one, such as not_null(id)")
    return rules


def _ascii_alnum(c):
    return c.isascii() and c.isalnum()


class _LineParser:
    def __init__(self, line, text):
        self.line, self.text, self.pos = line, text, 0

    def peek(self):
        return self.text[self.pos] if self.pos < len(self.text) else None

    def next(self):
        c = self.peek()
        if c is not None:
            self.pos += 1
        return c

    def next_if(self, test):
        c = self.peek()
        if c is not None and test(c):
            self.pos += 1
            return c
        return None

    def column(self):
        return self.pos + 1

    def error(self, message):
        raise RuleError(self.line, self.column(), message)

    def skip_space(self):
        while self.next_if(_is_space) is not None:
            pass

    def expect(self, want):
        self.skip_space()
        c = self.peek()
        if c == want:
            self.pos += 1
        elif c is not None:
            self.error(f"expected `{want}`, found `{c}`")
        else:
            self.error(f"expected `{want}` before the end of the line")

    def name(self):
        out = ""
        while (c := self.next_if(lambda c: _ascii_alnum(c) or c == "_")) is not None:
            out += c
        return out or None

    def arg(self):
        self.skip_space()
        c = self.peek()
        if c in ("'", '"'):
            q = c
            self.pos += 1
            out = []
            while True:
                c = self.next()
                if c == "\\":
                    escaped = self.next()
                    if escaped is None:
                        self.error("the text ends after a `\\`")
                    out.append(escaped)
                elif c == q:
                    return ("text", "".join(out))
                elif c is not None:
                    out.append(c)
                else:
                    self.error(f"missing closing {q}")
        if c is not None and ((c.isascii() and c.isdigit()) or c in "-+."):
            raw = ""
            while (ch := self.next_if(lambda ch: _ascii_alnum(ch) or ch in "-+._")) is not None:
                raw += ch
            n = parse_f64(raw.replace("_", ""))
            if n is not None and math.isfinite(n):
                return ("number", n)
            self.error(f"`{raw}` is not a number")
        if c is not None and ((c.isascii() and c.isalpha()) or c == "_"):
            return ("name", self.name())
        if c is not None:
            self.error(f"expected a column name, a number or quoted text, found `{c}`")
        self.error("expected a column name, a number or quoted text")

    def rule(self):
        self.skip_space()
        start = self.column()
        kind = self.name()
        if kind is None:
            self.error("expected a rule name such as not_null")
        self.expect("(")
        args = []
        self.skip_space()
        if self.next_if(lambda c: c == ")") is None:
            while True:
                args.append(self.arg())
                self.skip_space()
                c = self.next()
                if c == ",":
                    continue
                if c == ")":
                    break
                if c is not None:
                    self.error(f"expected `,` or `)`, found `{c}`")
                self.error("missing `)`")
        self.skip_space()
        c = self.peek()
        if c is not None and c != "#":
            self.error(f"unexpected `{c}` after the rule")
        try:
            return _build(kind, args)
        except _BuildError as e:
            raise RuleError(self.line, start, str(e)) from None


class _BuildError(Exception):
    pass


def _column(arg, rule):
    kind, value = arg
    if kind == "name" or (kind == "text" and value):
        return value
    raise _BuildError(f"{rule}: expected a column name")


def _columns(args, rule):
    if not args:
        raise _BuildError(f"{rule} needs at least one column")
    return [_column(a, rule) for a in args]


def _literal(arg):
    kind, value = arg
    return Literal(number=value) if kind == "number" else Literal(text=value)


def _count(arg):
    kind, n = arg
    if kind == "number" and n >= 0.0 and n == math.floor(n) and n <= float(U64_MAX):
        return min(int(n), U64_MAX)
    raise _BuildError("row_count: bounds must be whole numbers, 0 or more")


def _build(kind, args):
    n = len(args)

    def arity(want):
        return _BuildError(f"{kind} takes {want}, got {n} argument(s)")

    if kind in ("not_null", "unique"):
        return Rule(kind, cols=_columns(args, kind))
    if kind == "range":
        if n != 3:
            raise arity("(column, min, max)")
        c, lo, hi = args[0], _literal(args[1]), _literal(args[2])
        if lo.is_number and hi.is_number:
            if lo.number > hi.number:
                raise _BuildError(f"range: min {lo} is above max {hi}")
        elif not lo.is_number and not hi.is_number:
            if lo.text > hi.text:
                raise _BuildError(f"range: min '{lo.text}' is above max '{hi.text}'")
        else:
            raise _BuildError("range: min and max must both be numbers or both text")
        return Rule(kind, column=_column(c, kind), min=lo, max=hi)
    if kind == "regex":
        if n != 2:
            raise arity("(column, 'pattern')")
        c, (pkind, pattern) = args
        if pkind != "text":
            raise _BuildError("regex: the pattern must be quoted text")
        try:
            python = translate_regex(pattern)
        except RegexError as e:
            raise _BuildError(f"regex: invalid pattern: {e}") from None
        return Rule(kind, column=_column(c, kind), pattern=pattern, python=python)
    if kind == "allowed_values":
        if n == 0:
            raise arity("(column, value, …)")
        values = [display_float(v) if k == "number" else v for k, v in args[1:]]
        if not values:
            raise _BuildError("allowed_values needs at least one value after the column")
        return Rule(kind, column=_column(args[0], kind), values=values)
    if kind == "row_count":
        if n != 2:
            raise arity("(min, max)")
        lo, hi = _count(args[0]), _count(args[1])
        if lo > hi:
            raise _BuildError(f"row_count: min {lo} is above max {hi}")
        return Rule(kind, min=lo, max=hi)
    raise _BuildError(
        f"unknown rule `{kind}`; the rules are not_null, unique, range, regex, allowed_values, row_count"
    )


# ---------------------------------------------------------------------------
# Regular expressions: `regex_lite`'s parser (its checks and messages, from
# regex-lite 0.1.9 `hir/parse.rs`), emitting a Python `re` pattern with the
# meaning the `regex` crate gives the same pattern.


class RegexError(Exception):
    pass


NEST_LIMIT = 50
_META = set("\\.+*?()|[]{}^$#&-~")


def _escapable(c):
    if c in _META:
        return True
    if not c.isascii():
        return False
    return not (c.isalnum() or c in "<>")


def _py_char(c):
    """A character as a Python pattern atom, inside or outside a set."""
    o = ord(c)
    if c.isascii() and (c.isalnum() or c == "_"):
        return c
    if o < 0x20 or o == 0x7F:
        return f"\\x{o:02x}"
    if c.isascii():
        return "\\" + c
    return c


_POSIX = {
    "alnum": [("0", "9"), ("A", "Z"), ("a", "z")],
    "alpha": [("A", "Z"), ("a", "z")],
    "ascii": [("\x00", "\x7f")],
    "blank": [("\t", "\t"), (" ", " ")],
    "cntrl": [("\x00", "\x1f"), ("\x7f", "\x7f")],
    "digit": [("0", "9")],
    "graph": [("!", "~")],
    "lower": [("a", "z")],
    "print": [(" ", "~")],
    "punct": [("!", "/"), (":", "@"), ("[", "`"), ("{", "~")],
    "space": [("\t", "\r"), (" ", " ")],
    "upper": [("A", "Z")],
    "word": [("0", "9"), ("A", "Z"), ("_", "_"), ("a", "z")],
    "xdigit": [("0", "9"), ("A", "F"), ("a", "f")],
}


def _negate(ranges):
    out, next_start = [], 0
    for a, b in sorted((ord(a), ord(b)) for a, b in ranges):
        if a > next_start:
            out.append((chr(next_start), chr(a - 1)))
        next_start = max(next_start, b + 1)
    if next_start <= 0x10FFFF:
        out.append((chr(next_start), chr(0x10FFFF)))
    return out


def _set_body(ranges):
    return "".join(_py_char(a) if a == b else f"{_py_char(a)}-{_py_char(b)}" for a, b in ranges)


class _Node:
    """A parsed piece: `kind` is char, class, look, empty or expr; `py` its
    Python text; `body` (classes that may stand in a set) its set content."""

    def __init__(self, kind, py, height=0, ch=None, body=None):
        self.kind, self.py, self.height, self.ch, self.body = kind, py, height, ch, body


_EMPTY = _Node("empty", "")


class _Flags:
    def __init__(self, i=False, m=False, s=False, U=False, R=False, x=False, u=True):
        self.i, self.m, self.s, self.U, self.R, self.x, self.u = i, m, s, U, R, x, u

    def copy(self):
        return _Flags(self.i, self.m, self.s, self.U, self.R, self.x, self.u)


def translate_regex(pattern):
    """`pattern` checked as `regex_lite::Regex::new` checks it (a `RegexError`
    with its message otherwise), as a Python `re` pattern."""
    parser = _RegexParser(pattern)
    node = parser.parse_inner()
    if node.height > NEST_LIMIT:
        raise RegexError("pattern has too much nesting")
    try:
        re.compile(node.py)
    except (re.error, OverflowError, RecursionError) as e:  # a gap in the translation
        raise RegexError(f"cannot be checked on Spark ({e})") from None
    return node.py


class _RegexParser:
    def __init__(self, pattern):
        self.p, self.pos, self.depth = pattern, 0, 0
        self.flags = _Flags()
        self.captures = 0
        self.names = set()

    # -- cursor
    def done(self):
        return self.pos >= len(self.p)

    def char(self):
        return self.p[self.pos] if self.pos < len(self.p) else None

    def bump(self):
        if self.done():
            return False
        self.pos += 1
        return not self.done()

    def bump_if(self, prefix):
        if self.p.startswith(prefix, self.pos):
            self.pos += len(prefix)
            return True
        return False

    def bump_and_bump_space(self):
        if not self.bump():
            return False
        self.bump_space()
        return not self.done()

    def bump_space(self):
        if not self.flags.x:
            return
        while not self.done():
            c = self.char()
            if _is_space(c):
                self.bump()
            elif c == "#":
                self.bump()
                while not self.done():
                    c = self.char()
                    self.bump()
                    if c == "\n":
                        break
            else:
                break

    def peek(self):
        return self.p[self.pos + 1] if self.pos + 1 < len(self.p) else None

    def peek_space(self):
        if not self.flags.x:
            return self.peek()
        if self.done():
            return None
        in_comment = False
        for c in self.p[self.pos + 1:]:
            if _is_space(c):
                continue
            if not in_comment and c == "#":
                in_comment = True
            elif in_comment and c == "\n":
                in_comment = False
            elif not in_comment:
                return c
        return None

    # -- structure
    def parse_inner(self):
        old = self.depth
        if old > NEST_LIMIT:
            raise RegexError("pattern has too much nesting")
        self.depth += 1
        alternates, concat = [], []
        while True:
            self.bump_space()
            if self.done():
                break
            c = self.char()
            if c == "(":
                oldflags = self.flags.copy()
                sub = self.parse_group()
                if sub is not None:
                    concat.append(sub)
                    self.flags = oldflags
                if self.char() != ")":
                    raise RegexError("found open group without closing ')'")
                self.bump()
            elif c == ")":
                if old == 0:
                    raise RegexError("found closing ')' without matching '('")
                break
            elif c == "|":
                alternates.append(self.concat(concat))
                concat = []
                self.bump()
            elif c == "[":
                concat.append(self.parse_class())
            elif c in "?*+":
                self.parse_uncounted_repetition(concat)
            elif c == "{":
                self.parse_counted_repetition(concat)
            else:
                concat.append(self.parse_primitive())
        self.depth -= 1
        alternates.append(self.concat(concat))
        if len(alternates) == 1:
            return alternates[0]
        return _Node(
            "expr",
            "(?:" + "|".join(a.py for a in alternates) + ")",
            1 + max(a.height for a in alternates),
        )

    @staticmethod
    def concat(nodes):
        if not nodes:
            return _EMPTY
        if len(nodes) == 1:
            return nodes[0]
        return _Node("expr", "".join(n.py for n in nodes), 1 + max(n.height for n in nodes))

    def parse_group(self):
        self.bump_and_bump_space()
        if self.bump_if("?=") or self.bump_if("?!") or self.bump_if("?<=") or self.bump_if("?<!"):
            raise RegexError("look-around is not supported")
        if self.bump_if("?P<") or self.bump_if("?<"):
            self.captures += 1
            self.parse_capture_name()
            sub = self.parse_inner()
            return _Node("expr", "(?:" + sub.py + ")", sub.height + 1)
        if self.bump_if("?"):
            if self.done():
                raise RegexError("expected closing ')', but got end of pattern")
            start = self.pos
            self.flags = self.parse_flags()
            if self.char() == ")":
                if self.pos == start:
                    raise RegexError("empty flag directive '(?)' is not allowed")
                return None
            self.bump()  # ':'
            sub = self.parse_inner()
            return _Node("expr", "(?:" + sub.py + ")", sub.height) if sub.kind != "empty" else sub
        self.captures += 1
        sub = self.parse_inner()
        return _Node("expr", "(?:" + sub.py + ")", sub.height + 1)

    def parse_capture_name(self):
        if self.done():
            raise RegexError("expected capture group name, but got end of pattern")
        start = self.pos
        while True:
            c = self.char()
            if c == ">":
                break
            first = self.pos == start
            ok = (c == "_" or c.isalpha()) if first else (c in "_.[]" or c.isalnum())
            if not ok:
                raise RegexError("invalid group name")
            if not self.bump():
                break
        end = self.pos
        if self.done():
            raise RegexError("expected end of capture group name, but got end of pattern")
        self.bump()
        name = self.p[start:end]
        if not name:
            raise RegexError("empty capture group names are not allowed")
        if name in self.names:
            raise RegexError("duplicate capture group name")
        self.names.add(name)

    def parse_flags(self):
        flags = self.flags.copy()
        negate = last_was_negation = False
        seen = set()
        while self.char() not in (":", ")"):
            c = self.char()
            if c == "-":
                last_was_negation = True
                if negate:
                    raise RegexError("inline flag negation cannot be repeated")
                negate = True
            else:
                last_was_negation = False
                if c not in "imsURxu":
                    raise RegexError("unrecognized inline flag")
                setattr(flags, c, not negate)
                if c in seen:
                    raise RegexError("duplicate inline flag is not allowed")
                seen.add(c)
            if not self.bump():
                raise RegexError("expected ':' or ')' to end inline flags, but got end of pattern")
        if last_was_negation:
            raise RegexError("inline flags cannot end with negation directive")
        return flags

    # -- repetition
    def _repeat(self, concat, suffix, lo, hi):
        sub = concat.pop()
        if lo == 0 and hi == 0:
            concat.append(_EMPTY)
        elif lo == 1 and hi == 1:
            concat.append(sub)
        elif sub.kind == "empty":
            concat.append(_Node("expr", "", 1))
        else:
            concat.append(_Node("expr", "(?:" + sub.py + ")" + suffix, sub.height + 1))

    def parse_uncounted_repetition(self, concat):
        if not concat:
            raise RegexError("uncounted repetition operator must be applied to a sub-expression")
        op = self.char()
        lo, hi = {"?": (0, 1), "*": (0, None), "+": (1, None)}[op]
        greedy = True
        if self.bump() and self.char() == "?":
            greedy = False
            self.bump()
        if self.flags.U:
            greedy = not greedy
        self._repeat(concat, op + ("" if greedy else "?"), lo, hi)

    def parse_decimal(self):
        while not self.done() and _is_space(self.char()):
            self.bump()
        digits = ""
        while not self.done() and "0" <= self.char() <= "9":
            digits += self.char()
            self.bump_and_bump_space()
        while not self.done() and _is_space(self.char()):
            self.bump_and_bump_space()
        if not digits:
            raise RegexError("expected decimal number, but found no digits")
        n = int(digits)
        if n > 2**32 - 1:
            raise RegexError("got invalid decimal number")
        return n

    def parse_counted_repetition(self, concat):
        if not concat:
            raise RegexError("counted repetition operator must be applied to a sub-expression")
        if not self.bump_and_bump_space():
            raise RegexError("found unclosed counted repetition operator")
        lo = self.parse_decimal()
        hi = lo
        if self.done():
            raise RegexError("found incomplete and unclosed counted repetition operator")
        if self.char() == ",":
            if not self.bump_and_bump_space():
                raise RegexError("found counted repetition operator with a comma that is unclosed")
            hi = self.parse_decimal() if self.char() != "}" else None
            if self.done():
                raise RegexError("found counted repetition with min and max that is unclosed")
        if self.char() != "}":
            raise RegexError("expected closing brace for counted repetition, but got something else")
        greedy = True
        if self.bump_and_bump_space() and self.char() == "?":
            greedy = False
            self.bump()
        if self.flags.U:
            greedy = not greedy
        if hi is not None and lo > hi:
            raise RegexError("found counted repetition with a min bigger than its max")
        counts = f"{{{lo}}}" if hi == lo else (f"{{{lo},}}" if hi is None else f"{{{lo},{hi}}}")
        self._repeat(concat, counts + ("" if greedy else "?"), lo, hi)

    # -- atoms
    def parse_primitive(self):
        c = self.char()
        self.bump()
        if c == "\\":
            return self.parse_escape()
        if c == ".":
            if self.flags.s:
                return _Node("class", "[\\x00-\\U0010ffff]")
            return _Node("class", "[^\\n\\r]" if self.flags.R else "[^\\n]")
        if c == "^":
            if not self.flags.m:
                return _Node("look", "\\A")
            return _Node("look", "(?:\\A|(?<=\\n)|(?<=\\r)(?!\\n))" if self.flags.R else "(?m:^)")
        if c == "$":
            if not self.flags.m:
                return _Node("look", "\\Z")
            return _Node("look", "(?:\\Z|(?=\\r)|(?<!\\r)(?=\\n))" if self.flags.R else "(?m:$)")
        return self.hir_char(c)

    def hir_char(self, c):
        py = _py_char(c)
        if self.flags.i:
            folded = c.isascii() and c.isalpha()
            wrapped = ("(?i:" if self.flags.u else "(?ai:") + py + ")"
            return _Node("class" if folded else "char", wrapped, ch=None if folded else c, body=py)
        return _Node("char", py, ch=c, body=py)

    def _look(self, py):
        return _Node("look", py if self.flags.u else f"(?a:{py})")

    def parse_escape(self):
        if self.done():
            raise RegexError("saw start of escape sequence, but saw end of pattern before it finished")
        c = self.char()
        if "0" <= c <= "9":
            raise RegexError("backreferences are not supported")
        if c in "pP":
            raise RegexError("Unicode character classes are not supported")
        if c in "xuU":
            return self.parse_hex()
        if c in "dswDSW":
            self.bump()
            return self.perl_class(c)
        self.bump()
        if _escapable(c):
            return self.hir_char(c)
        special = {"a": "\x07", "f": "\x0c", "t": "\t", "n": "\n", "r": "\r", "v": "\x0b"}
        if c in special:
            return self.hir_char(special[c])
        if c == "A":
            return _Node("look", "\\A")
        if c == "z":
            return _Node("look", "\\Z")
        if c == "b":
            if not self.done() and self.char() == "{":
                special_boundary = self.maybe_parse_special_word_boundary()
                if special_boundary is not None:
                    return special_boundary
            return self._look("\\b")
        if c == "B":
            return self._look("\\B")
        if c == "<":
            return self._look("\\b(?=\\w)")
        if c == ">":
            return self._look("\\b(?<=\\w)")
        raise RegexError("unrecognized escape sequence")

    def perl_class(self, c):
        if self.flags.u:
            py = "\\" + c
            return _Node("class", py, body=py)
        ranges = _POSIX[{"d": "digit", "s": "space", "w": "word"}[c.lower()]]
        if c.isupper():
            ranges = _negate(ranges)
        body = _set_body(ranges)
        return _Node("class", f"[{body}]", body=body)

    def maybe_parse_special_word_boundary(self):
        valid = lambda c: c is not None and c.isascii() and (c.isalpha() or c == "-")  # noqa: E731
        start = self.pos
        if not self.bump_and_bump_space():
            raise RegexError("found start of special word boundary or repetition without an end")
        if not valid(self.char()):
            self.pos = start
            return None
        scratch = ""
        while not self.done() and valid(self.char()):
            scratch += self.char()
            self.bump_and_bump_space()
        if self.done() or self.char() != "}":
            raise RegexError("special word boundary assertion is unclosed or has an invalid character")
        self.bump()
        looks = {"start": "\\b(?=\\w)", "end": "\\b(?<=\\w)", "start-half": "(?<!\\w)", "end-half": "(?!\\w)"}
        if scratch not in looks:
            raise RegexError("special word boundary assertion is unrecognized")
        return self._look(looks[scratch])

    def parse_hex(self):
        digit_len = {"x": 2, "u": 4, "U": 8}[self.char()]
        if not self.bump_and_bump_space():
            raise RegexError("expected hexadecimal number, but saw end of pattern first")
        if self.char() == "{":
            return self.parse_hex_brace()
        scratch = ""
        for i in range(digit_len):
            if i > 0 and not self.bump_and_bump_space():
                raise RegexError("expected fixed length hexadecimal number, but saw end of pattern first")
            if not _is_hex(self.char()):
                raise RegexError("expected fixed length hexadecimal number, but got non-hex digit")
            scratch += self.char()
        self.bump_and_bump_space()
        c = _hex_char(scratch)
        if c is None:
            raise RegexError("got invalid fixed length hexadecimal number")
        return self.hir_char(c)

    def parse_hex_brace(self):
        scratch = ""
        while self.bump_and_bump_space() and self.char() != "}":
            if not _is_hex(self.char()):
                raise RegexError("expected hexadecimal number in braces, but got non-hex digit")
            scratch += self.char()
        if self.done():
            raise RegexError("expected hexadecimal number, but saw end of pattern before closing brace")
        self.bump_and_bump_space()
        if not scratch:
            raise RegexError("expected hexadecimal number in braces, but got no digits")
        c = _hex_char(scratch)
        if c is None:
            raise RegexError("got invalid hexadecimal number in braces")
        return self.hir_char(c)

    # -- classes
    def parse_class(self):
        parts = []  # Python set content, in order
        if not self.bump_and_bump_space():
            raise RegexError("found unclosed character class")
        negate = False
        if self.char() == "^":
            if not self.bump_and_bump_space():
                raise RegexError("negated character class has no closing bracket")
            negate = True
        while self.char() == "-":
            parts.append("\\-")
            if not self.bump_and_bump_space():
                raise RegexError("non-empty character class has no closing bracket after dash")
        if not parts and self.char() == "]":
            parts.append("\\]")
            if not self.bump_and_bump_space():
                raise RegexError("character class begins with literal ']' but has no closing bracket")
        while True:
            self.bump_space()
            if self.done():
                raise RegexError("found unclosed character class")
            c = self.char()
            if c == "[":
                posix = self.maybe_parse_posix_class()
                if posix is not None:
                    parts.append(posix)
                    continue
                raise RegexError("nested character classes are not supported")
            if c == "]":
                self.bump()
                py = "[" + ("^" if negate else "") + "".join(parts) + "]"
                if self.flags.i:
                    py = ("(?i:" if self.flags.u else "(?ai:") + py + ")"
                return _Node("class", py)
            if c == "&" and self.peek() == "&":
                raise RegexError("character class intersection is not supported")
            if c == "-" and self.peek() == "-":
                raise RegexError("character class difference is not supported")
            if c == "~" and self.peek() == "~":
                raise RegexError("character class symmetric difference is not supported")
            parts.append(self.parse_class_range())

    def parse_class_item(self):
        c = self.char()
        self.bump()
        if c == "\\":
            return self.parse_escape()
        py = _py_char(c)
        return _Node("char", py, ch=c, body=py)

    def parse_class_range(self):
        first = self.parse_class_item()
        self.bump_space()
        if self.done():
            raise RegexError("non-empty character class has no closing bracket")
        if self.char() != "-" or self.peek_space() in ("]", "-"):
            if first.kind not in ("char", "class") or first.body is None:
                raise RegexError("invalid escape sequence in character class")
            return first.body
        if not self.bump_and_bump_space():
            raise RegexError("non-empty character class has no closing bracket after dash")
        second = self.parse_class_item()
        if first.kind != "char" or second.kind != "char":
            raise RegexError("character class ranges must start and end with a single character")
        if first.ch > second.ch:
            raise RegexError("invalid range in character class")
        return f"{first.body}-{second.body}"

    def maybe_parse_posix_class(self):
        start = self.pos
        if not self.bump() or self.char() != ":":
            self.pos = start
            return None
        if not self.bump():
            self.pos = start
            return None
        negated = False
        if self.char() == "^":
            negated = True
            if not self.bump():
                self.pos = start
                return None
        name_start = self.pos
        while self.char() != ":" and self.bump():
            pass
        if self.done():
            self.pos = start
            return None
        name = self.p[name_start:self.pos]
        if not self.bump_if(":]") or name not in _POSIX:
            self.pos = start
            return None
        ranges = _POSIX[name]
        return _set_body(_negate(ranges) if negated else ranges)


def _is_hex(c):
    return c is not None and c in "0123456789abcdefABCDEF"


def _hex_char(digits):
    n = int(digits, 16)
    if n > 0x10FFFF or 0xD800 <= n <= 0xDFFF:
        return None
    return chr(n)


# ---------------------------------------------------------------------------
# Checking rows in Spark.


def _check_partition(specs, keep):
    """Per partition: rows seen, and per rule [checked, violations, the
    `keep` first violating rows as a heap of (-row, detail, values)]."""

    def run(rows):
        compiled = [re.compile(s[2]) if s[0] == "regex" else None for s in specs]
        stats = [[0, 0, []] for _ in specs]
        count = 0
        for row, values in rows:
            count += 1
            for i, (kind, columns, param) in enumerate(specs):
                state = stats[i]
                if kind == "not_null":
                    state[0] += 1
                    if any(not values[c] for c in columns):
                        _violate(state, row, None, values, columns, keep)
                    continue
                if kind == "unique":
                    if all(values[c] for c in columns):
                        state[0] += 1
                    continue
                if kind == "row_count":
                    continue
                v = values[columns[0]]
                if not v:
                    continue
                state[0] += 1
                if kind == "range_number":
                    n = parse_f64(_trim(v))
                    if n is None:
                        _violate(state, row, "not a number", values, columns, keep)
                    elif not (param[0] <= n <= param[1]):
                        _violate(state, row, None, values, columns, keep)
                elif kind == "range_text":
                    if v < param[0] or v > param[1]:
                        _violate(state, row, None, values, columns, keep)
                elif kind == "regex":
                    if compiled[i].search(v) is None:
                        _violate(state, row, None, values, columns, keep)
                elif kind == "allowed":
                    if v not in param:
                        _violate(state, row, None, values, columns, keep)
        yield count, stats

    return run


def _violate(state, row, detail, values, columns, keep):
    """Counts a violation; keeps the `keep` smallest rows (a heap, largest on
    top: in row order, a later row is one comparison)."""
    state[1] += 1
    kept = state[2]
    if len(kept) < keep:
        heapq.heappush(kept, (-row, detail, tuple(values[c] for c in columns)))
    elif keep and row < -kept[0][0]:
        heapq.heapreplace(kept, (-row, detail, tuple(values[c] for c in columns)))


def _duplicates(rows, uniques, keep):
    """Per `unique` rule index: (duplicate rows, the `keep` smallest duplicate
    rows as (row, the first row with that key, key values)) — what
    `KeySorter::duplicates` finds: every row after the first with a key."""

    def keys(pair):
        row, values = pair
        for index, columns in uniques:
            key = tuple(values[c] for c in columns)
            if all(key):
                yield (index, key), row

    def add(acc, row):
        count, smallest = acc
        smallest = sorted(smallest + [row])[: keep + 1]
        return count + 1, smallest

    def merge(a, b):
        return a[0] + b[0], sorted(a[1] + b[1])[: keep + 1]

    def per_rule(item):
        (index, key), (count, smallest) = item
        first = smallest[0]
        return index, (count - 1, [(row, first, key) for row in smallest[1:]])

    def combine(a, b):
        return a[0] + b[0], sorted(a[1] + b[1])[:keep]

    found = (
        rows.flatMap(keys)
        .aggregateByKey((0, []), add, merge)
        .filter(lambda item: item[1][0] > 1)
        .map(per_rule)
        .reduceByKey(combine)
        .collectAsMap()
    )
    return {i: (n, sorted(examples)[:keep]) for i, (n, examples) in found.items()}


class _State:
    def __init__(self, line, columns, spec):
        self.line, self.columns, self.spec = line, columns, spec
        self.checked = self.violations = 0
        self.examples = []  # (row, detail, values)


def _prepare(dataset, line):
    rule = line.rule
    try:
        columns = [dataset.column_index(c) for c in rule.columns()]
    except tc.StepFailed as e:
        raise tc.StepFailed(f"rule on line {line.line} ({rule}): {e}") from None
    if rule.kind in ("not_null", "unique"):
        spec = (rule.kind, columns, None)
    elif rule.kind == "range":
        if rule.min.is_number:
            spec = ("range_number", columns, (rule.min.number, rule.max.number))
        else:
            spec = ("range_text", columns, (rule.min.text, rule.max.text))
    elif rule.kind == "regex":
        spec = ("regex", columns, rule.python)
    elif rule.kind == "allowed_values":
        spec = ("allowed", columns, frozenset(rule.values))
    else:
        spec = ("row_count", columns, (rule.min, rule.max))
    return _State(line, columns, spec)


def _evaluate(spark, dataset, states, keep):
    from pyspark import StorageLevel

    specs = [s.spec for s in states]
    uniques = [(i, s.columns) for i, s in enumerate(states) if s.spec[0] == "unique"]
    rows = dataset.rows()
    if uniques:
        rows = rows.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        total = 0
        for count, stats in rows.mapPartitions(_check_partition(specs, keep)).collect():
            total += count
            for state, (checked, violations, examples) in zip(states, stats):
                state.checked += checked
                state.violations += violations
                state.examples.extend((-row, detail, values) for row, detail, values in examples)
        for state in states:
            state.examples = sorted(state.examples, key=lambda e: e[0])[:keep]
        duplicates = _duplicates(rows, uniques, keep) if uniques else {}
    finally:
        if uniques:
            rows.unpersist()
    for i, state in enumerate(states):
        kind = state.spec[0]
        if kind == "row_count":
            lo, hi = state.spec[2]
            state.checked = 1
            if total < lo or total > hi:
                state.violations = 1
                state.examples = [(0, f"the dataset has {total} rows", ())][:keep]
        elif kind == "unique":
            count, examples = duplicates.get(i, (0, []))
            state.violations = count
            state.examples = [(row, f"same value as row {first}", key) for row, first, key in examples]


def _report(dataset, states, threshold):
    """The report as `quality.rs` writes it; keys in serde_json's (sorted) order."""
    meta_columns = dataset.meta["columns"]
    rules = []
    for s in states:
        examples = []
        for row, detail, values in s.examples:
            shown = {}
            if row > 0:
                for c, v in zip(s.columns, values):
                    column = meta_columns[c]
                    shown[column["name"]] = tc.typed(column["type"], v or "")
            example = {"values": dict(sorted(shown.items()))}
            if row > 0:
                example["row"] = row
            if detail is not None:
                example["detail"] = detail
            examples.append(dict(sorted(example.items())))
        percent = 0.0 if s.checked == 0 else float(s.violations) * 100.0 / float(s.checked)
        rules.append(
            {
                "checked": s.checked,
                "examples": examples,
                "line": s.line.line,
                "passed": not threshold.exceeded(s.violations, s.checked),
                "rule": str(s.line.rule),
                "violation_percent": round_half_away(percent * 1000.0) / 1000.0,
                "violations": s.violations,
            }
        )
    return {
        "checked_at": tc.now_rfc3339(),
        "checked_by": None,
        "dataset": dataset.meta["name"],
        "passed": all(not threshold.exceeded(s.violations, s.checked) for s in states),
        "rows": dataset.meta["rows"],
        "rules": rules,
        "threshold": str(threshold),
    }


# ---------------------------------------------------------------------------
# The step.


def _count_arg(text):
    n = parse_u64(text)
    if n is None:
        raise ValueError(text)
    return n


def parse_args(argv):
    p = tc.parser(STEP)
    p.add_argument("--dataset", required=True)
    p.add_argument("--rules", required=True)
    p.add_argument("--threshold", default="0")
    p.add_argument("--examples", default=5, type=_count_arg)
    return p.parse_args(argv)


def run(spark, argv):
    args = parse_args(argv)
    try:
        parsed = parse_rules(args.rules)
    except RuleError as e:
        raise tc.UsageError(f"rules: {e}") from None
    threshold = Threshold.parse(args.threshold)
    try:
        dataset = tc.read_dataset(spark, args.datasets, args.dataset)
    except tc.StepFailed as e:
        raise tc.StepFailed(f"{e}; run the step that writes it before this check") from None
    states = [_prepare(dataset, line) for line in parsed]
    keep = args.examples
    print(
        f"{STEP}: checking `{dataset.meta['name']}` ({dataset.meta['rows']} rows) "
        f"against {len(states)} rules, threshold {threshold}"
    )
    _evaluate(spark, dataset, states, keep)
    tc.write_report(spark, dataset, _report(dataset, states, threshold))

    failed = []
    for s in states:
        over = threshold.exceeded(s.violations, s.checked)
        rows = [str(e[0]) for e in s.examples if e[0] > 0]
        if not rows:
            shown = ""
        elif len(rows) == 1:
            shown = f" (row {rows[0]})"
        elif s.violations > len(rows):
            shown = f" (rows {', '.join(rows)}, …)"
        else:
            shown = f" (rows {', '.join(rows)})"
        violations = "1 violation" if s.violations == 1 else f"{s.violations} violations"
        print(f"  {'FAIL' if over else 'pass'} {s.line.rule}: {violations} in {s.checked} checked{shown}")
        if over:
            failed.append(f"{s.line.rule} ({violations})")
    print(f"{STEP}: report in {dataset.dir}/{tc.QUALITY_FILE}")
    if not failed:
        print(f"{STEP}: all {len(states)} rules passed")
        return
    raise tc.StepFailed(
        f"quality check of `{dataset.meta['name']}` failed: {len(failed)} of {len(states)} rules "
        f"over the threshold {threshold}: {'; '.join(failed)}"
    )


if __name__ == "__main__":
    tc.main(run, STEP)
