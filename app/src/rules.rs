//! The rule language of the `quality.check` component, one rule per line:
//!
//! ```text
//! not_null(order_id, customer_id)
//! unique(order_id)
//! range(amount, 0, 10000)
//! regex(email, '^[^@ ]+@[^@ ]+$')
//! allowed_values(status, 'new', 'shipped', 'cancelled')
//! row_count(1, 1000000)
//! ```
//!
//! Blank lines and lines starting with `#` are ignored. Shared by the server
//! (which checks data with it) and the editor (which flags mistakes as they
//! are typed), so both report the same error in the same words.

use std::fmt;

/// The `language` of a text parameter written in this rule language.
pub const LANGUAGE: &str = "quality-rules";

/// A value a rule compares with.
#[derive(Clone, Debug, PartialEq)]
pub enum Literal {
    Number(f64),
    Text(String),
}

/// One check over a dataset.
#[derive(Clone, Debug, PartialEq)]
pub enum Rule {
    /// None of the columns may be empty.
    NotNull { columns: Vec<String> },
    /// No two rows may share the same values in these columns.
    Unique { columns: Vec<String> },
    /// Values lie between `min` and `max` inclusive: numbers compare as
    /// numbers, text (such as ISO dates) as text.
    Range {
        column: String,
        min: Literal,
        max: Literal,
    },
    /// Values match the regular expression somewhere (anchor it for a full match).
    Regex { column: String, pattern: String },
    /// Values are one of a list.
    AllowedValues { column: String, values: Vec<String> },
    /// The dataset has between `min` and `max` rows.
    RowCount { min: u64, max: u64 },
}

/// A rule with the line it was written on.
#[derive(Clone, Debug, PartialEq)]
pub struct RuleLine {
    pub line: usize,
    pub rule: Rule,
}

/// Where and why the rules do not parse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.line, self.column, self.message
        )
    }
}

impl std::error::Error for RuleError {}

#[derive(Clone, Debug, PartialEq)]
enum Arg {
    Name(String),
    Number(f64),
    Text(String),
}

impl Rule {
    /// The columns the rule reads.
    pub fn columns(&self) -> Vec<&str> {
        match self {
            Rule::NotNull { columns } | Rule::Unique { columns } => {
                columns.iter().map(String::as_str).collect()
            }
            Rule::Range { column, .. }
            | Rule::Regex { column, .. }
            | Rule::AllowedValues { column, .. } => vec![column.as_str()],
            Rule::RowCount { .. } => vec![],
        }
    }
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Number(n) => write!(f, "{n}"),
            Literal::Text(s) => f.write_str(&quote(s)),
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rule::NotNull { columns } => write!(f, "not_null({})", columns.join(", ")),
            Rule::Unique { columns } => write!(f, "unique({})", columns.join(", ")),
            Rule::Range { column, min, max } => write!(f, "range({column}, {min}, {max})"),
            Rule::Regex { column, pattern } => write!(f, "regex({column}, {})", quote(pattern)),
            Rule::AllowedValues { column, values } => {
                let values: Vec<String> = values.iter().map(|v| quote(v)).collect();
                write!(f, "allowed_values({column}, {})", values.join(", "))
            }
            Rule::RowCount { min, max } => write!(f, "row_count({min}, {max})"),
        }
    }
}

/// Parses a whole rule text; the first mistake is the error.
pub fn parse(text: &str) -> Result<Vec<RuleLine>, RuleError> {
    let mut rules = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let mut p = LineParser {
            line: index + 1,
            chars: line.char_indices().peekable(),
            text: line,
        };
        let rule = p.rule()?;
        rules.push(RuleLine {
            line: index + 1,
            rule,
        });
    }
    if rules.is_empty() {
        return Err(RuleError {
            line: 1,
            column: 1,
            message: "there are no rules; write at least one, such as not_null(id)".into(),
        });
    }
    Ok(rules)
}

struct LineParser<'a> {
    line: usize,
    text: &'a str,
    chars: std::iter::Peekable<std::str::CharIndices<'a>>,
}

impl LineParser<'_> {
    fn column(&mut self) -> usize {
        let at = self
            .chars
            .peek()
            .map(|(i, _)| *i)
            .unwrap_or(self.text.len());
        self.text[..at].chars().count() + 1
    }

    fn error<T>(&mut self, message: impl Into<String>) -> Result<T, RuleError> {
        Err(RuleError {
            line: self.line,
            column: self.column(),
            message: message.into(),
        })
    }

    fn skip_space(&mut self) {
        while self.chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
    }

    fn expect(&mut self, want: char) -> Result<(), RuleError> {
        self.skip_space();
        match self.chars.peek() {
            Some((_, c)) if *c == want => {
                self.chars.next();
                Ok(())
            }
            Some((_, c)) => {
                let c = *c;
                self.error(format!("expected `{want}`, found `{c}`"))
            }
            None => self.error(format!("expected `{want}` before the end of the line")),
        }
    }

    fn name(&mut self) -> Option<String> {
        let mut out = String::new();
        while let Some((_, c)) = self
            .chars
            .next_if(|(_, c)| c.is_ascii_alphanumeric() || *c == '_')
        {
            out.push(c);
        }
        (!out.is_empty()).then_some(out)
    }

    fn arg(&mut self) -> Result<Arg, RuleError> {
        self.skip_space();
        match self.chars.peek().map(|(_, c)| *c) {
            Some(q @ ('\'' | '"')) => {
                self.chars.next();
                let mut out = String::new();
                loop {
                    match self.chars.next() {
                        Some((_, '\\')) => match self.chars.next() {
                            Some((_, c)) => out.push(c),
                            None => return self.error("the text ends after a `\\`"),
                        },
                        Some((_, c)) if c == q => return Ok(Arg::Text(out)),
                        Some((_, c)) => out.push(c),
                        None => return self.error(format!("missing closing {q}")),
                    }
                }
            }
            Some(c) if c.is_ascii_digit() || c == '-' || c == '+' || c == '.' => {
                let mut raw = String::new();
                while let Some((_, c)) = self.chars.next_if(|(_, c)| {
                    c.is_ascii_alphanumeric() || matches!(c, '-' | '+' | '.' | '_')
                }) {
                    raw.push(c);
                }
                match raw.replace('_', "").parse::<f64>() {
                    Ok(n) if n.is_finite() => Ok(Arg::Number(n)),
                    _ => self.error(format!("`{raw}` is not a number")),
                }
            }
            Some(c) if c.is_ascii_alphabetic() || c == '_' => Ok(Arg::Name(
                self.name().expect("starts with a name character"),
            )),
            Some(c) => self.error(format!(
                "expected a column name, a number or quoted text, found `{c}`"
            )),
            None => self.error("expected a column name, a number or quoted text"),
        }
    }

    fn rule(&mut self) -> Result<Rule, RuleError> {
        self.skip_space();
        let start = self.column();
        let Some(kind) = self.name() else {
            return self.error("expected a rule name such as not_null");
        };
        self.expect('(')?;
        let mut args = Vec::new();
        self.skip_space();
        if self.chars.next_if(|(_, c)| *c == ')').is_none() {
            loop {
                args.push(self.arg()?);
                self.skip_space();
                match self.chars.next() {
                    Some((_, ',')) => continue,
                    Some((_, ')')) => break,
                    Some((_, c)) => {
                        return self.error(format!("expected `,` or `)`, found `{c}`"));
                    }
                    None => return self.error("missing `)`"),
                }
            }
        }
        self.skip_space();
        if let Some((_, c)) = self.chars.peek() {
            let c = *c;
            if c != '#' {
                return self.error(format!("unexpected `{c}` after the rule"));
            }
        }
        build(&kind, args).map_err(|message| RuleError {
            line: self.line,
            column: start,
            message,
        })
    }
}

fn column(arg: Arg, rule: &str) -> Result<String, String> {
    match arg {
        Arg::Name(name) => Ok(name),
        Arg::Text(t) if !t.is_empty() => Ok(t),
        _ => Err(format!("{rule}: expected a column name")),
    }
}

fn columns(args: Vec<Arg>, rule: &str) -> Result<Vec<String>, String> {
    if args.is_empty() {
        return Err(format!("{rule} needs at least one column"));
    }
    args.into_iter().map(|a| column(a, rule)).collect()
}

fn literal(arg: Arg) -> Literal {
    match arg {
        Arg::Number(n) => Literal::Number(n),
        Arg::Text(t) | Arg::Name(t) => Literal::Text(t),
    }
}

fn count(arg: Arg) -> Result<u64, String> {
    match arg {
        Arg::Number(n) if n >= 0.0 && n.fract() == 0.0 && n <= u64::MAX as f64 => Ok(n as u64),
        _ => Err("row_count: bounds must be whole numbers, 0 or more".into()),
    }
}

fn build(kind: &str, args: Vec<Arg>) -> Result<Rule, String> {
    let n = args.len();
    let arity = |want: &str| format!("{kind} takes {want}, got {n} argument(s)");
    match kind {
        "not_null" => Ok(Rule::NotNull {
            columns: columns(args, kind)?,
        }),
        "unique" => Ok(Rule::Unique {
            columns: columns(args, kind)?,
        }),
        "range" => {
            let [c, min, max]: [Arg; 3] = args
                .try_into()
                .map_err(|_| arity("(column, min, max)"))?;
            let (min, max) = (literal(min), literal(max));
            match (&min, &max) {
                (Literal::Number(a), Literal::Number(b)) if a > b => {
                    return Err(format!("range: min {a} is above max {b}"));
                }
                (Literal::Text(a), Literal::Text(b)) if a > b => {
                    return Err(format!("range: min '{a}' is above max '{b}'"));
                }
                (Literal::Number(_), Literal::Text(_)) | (Literal::Text(_), Literal::Number(_)) => {
                    return Err("range: min and max must both be numbers or both text".into());
                }
                _ => {}
            }
            Ok(Rule::Range {
                column: column(c, kind)?,
                min,
                max,
            })
        }
        "regex" => {
            let [c, p]: [Arg; 2] = args.try_into().map_err(|_| arity("(column, 'pattern')"))?;
            let Arg::Text(pattern) = p else {
                return Err("regex: the pattern must be quoted text".into());
            };
            if let Err(e) = regex_lite::Regex::new(&pattern) {
                let detail = e.to_string();
                let last = detail.lines().last().unwrap_or("").trim().to_owned();
                return Err(format!("regex: invalid pattern: {last}"));
            }
            Ok(Rule::Regex {
                column: column(c, kind)?,
                pattern,
            })
        }
        "allowed_values" => {
            let mut args = args.into_iter();
            let c = args
                .next()
                .ok_or_else(|| arity("(column, value, …)"))?;
            let values: Vec<String> = args
                .map(|a| match a {
                    Arg::Number(n) => n.to_string(),
                    Arg::Text(t) | Arg::Name(t) => t,
                })
                .collect();
            if values.is_empty() {
                return Err("allowed_values needs at least one value after the column".into());
            }
            Ok(Rule::AllowedValues {
                column: column(c, kind)?,
                values,
            })
        }
        "row_count" => {
            let [min, max]: [Arg; 2] = args.try_into().map_err(|_| arity("(min, max)"))?;
            let (min, max) = (count(min)?, count(max)?);
            if min > max {
                return Err(format!("row_count: min {min} is above max {max}"));
            }
            Ok(Rule::RowCount { min, max })
        }
        other => Err(format!(
            "unknown rule `{other}`; the rules are not_null, unique, range, regex, allowed_values, row_count"
        )),
    }
}

/// When a quality check fails: more violations of one rule than a count, or
/// than a percentage of the rows it checked.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Threshold {
    Count(u64),
    Percent(f64),
}

impl Threshold {
    /// `"0"`, `"25"`, `"2.5%"`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let bad = || {
            format!("`{text}` is not a threshold; write a count such as 10 or a percentage such as 2.5%")
        };
        if let Some(p) = text.strip_suffix('%') {
            let p: f64 = p.trim().parse().map_err(|_| bad())?;
            if !(0.0..=100.0).contains(&p) {
                return Err(format!(
                    "a percentage threshold lies between 0% and 100%, got {text}"
                ));
            }
            Ok(Threshold::Percent(p))
        } else {
            text.parse().map(Threshold::Count).map_err(|_| bad())
        }
    }

    /// Whether `violations` out of `checked` go over the threshold.
    pub fn exceeded(self, violations: u64, checked: u64) -> bool {
        match self {
            Threshold::Count(n) => violations > n,
            Threshold::Percent(p) => {
                violations > 0 && (violations as f64) * 100.0 > p * (checked.max(1) as f64)
            }
        }
    }
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Threshold::Count(n) => write!(f, "{n}"),
            Threshold::Percent(p) => write!(f, "{p}%"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_parses_and_prints_back() {
        let text = "# orders\nnot_null(order_id, customer_id)\n\nunique(order_id)\nrange(amount, 0, 10_000)\n\
                    range(ordered_on, '2024-01-01', \"2024-12-31\")\nregex(email, '^[^@ ]+@[^@ ]+$')\n\
                    allowed_values(status, 'new', 'shipped', cancelled, 3)\nrow_count(1, 1000000) # sanity\n";
        let rules = parse(text).unwrap();
        let printed: Vec<String> = rules.iter().map(|r| r.rule.to_string()).collect();
        assert_eq!(
            printed,
            [
                "not_null(order_id, customer_id)",
                "unique(order_id)",
                "range(amount, 0, 10000)",
                "range(ordered_on, '2024-01-01', '2024-12-31')",
                "regex(email, '^[^@ ]+@[^@ ]+$')",
                "allowed_values(status, 'new', 'shipped', 'cancelled', '3')",
                "row_count(1, 1000000)",
            ]
        );
        assert_eq!(rules[0].line, 2);
        assert_eq!(rules[6].line, 9);
        let again = parse(&printed.join("\n")).unwrap();
        assert_eq!(
            again.iter().map(|r| &r.rule).collect::<Vec<_>>(),
            rules.iter().map(|r| &r.rule).collect::<Vec<_>>()
        );
    }

    #[test]
    fn mistakes_say_where() {
        let at = |text: &str| {
            let e = parse(text).unwrap_err();
            (e.line, e.column, e.message)
        };
        assert_eq!(at("not_null(a)\nunique(b"), (2, 9, "missing `)`".into()));
        assert_eq!(
            at("nope(a)"),
            (1, 1, "unknown rule `nope`; the rules are not_null, unique, range, regex, allowed_values, row_count".into())
        );
        assert_eq!(at("range(a, 5, 1)").2, "range: min 5 is above max 1");
        assert_eq!(
            at("range(a, 1, 'z')").2,
            "range: min and max must both be numbers or both text"
        );
        assert_eq!(
            at("range(a, 1)").2,
            "range takes (column, min, max), got 2 argument(s)"
        );
        assert!(at("regex(a, '(')").2.starts_with("regex: invalid pattern"));
        assert_eq!(
            at("regex(a, b)").2,
            "regex: the pattern must be quoted text"
        );
        assert_eq!(at("unique()").2, "unique needs at least one column");
        assert_eq!(
            at("row_count(-1, 5)").2,
            "row_count: bounds must be whole numbers, 0 or more"
        );
        assert_eq!(at("allowed_values(a, 'x) ").2, "missing closing '");
        assert_eq!(
            at("  unique(a) x"),
            (1, 13, "unexpected `x` after the rule".into())
        );
        assert_eq!(
            at("# only a comment\n").2,
            "there are no rules; write at least one, such as not_null(id)"
        );
        assert_eq!(at("range(a, 1x, 2)").2, "`1x` is not a number");
    }

    #[test]
    fn thresholds() {
        assert_eq!(Threshold::parse("0"), Ok(Threshold::Count(0)));
        assert_eq!(Threshold::parse("2.5%"), Ok(Threshold::Percent(2.5)));
        assert!(Threshold::parse("150%").is_err());
        assert!(Threshold::parse("2.5").is_err());
        assert!(!Threshold::Count(2).exceeded(2, 10));
        assert!(Threshold::Count(2).exceeded(3, 10));
        assert!(!Threshold::Percent(10.0).exceeded(1, 10));
        assert!(Threshold::Percent(10.0).exceeded(2, 10));
        assert!(!Threshold::Percent(0.0).exceeded(0, 0));
        assert!(Threshold::Percent(0.0).exceeded(1, 1_000_000));
    }
}
