//! Python literals for JSON values. Every value the Airflow renderer writes
//! into a DAG file goes through here, so a value is always data: strings are
//! escaped to printable ASCII (`\n`, `\"`, `\uXXXX` …), never pasted as text.

use serde_json::Value;
use std::fmt::Write;

/// A Python string literal (double-quoted, ASCII only) holding `text`.
pub fn string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            ' '..='~' => out.push(c),
            c if (c as u32) < 0x100 => write!(out, "\\x{:02x}", c as u32).unwrap(),
            c if (c as u32) < 0x10000 => write!(out, "\\u{:04x}", c as u32).unwrap(),
            c => write!(out, "\\U{:08x}", c as u32).unwrap(),
        }
    }
    out.push('"');
    out
}

/// `value` as a Python literal, laid out over lines indented by `indent`
/// spaces (nested containers one level deeper, four spaces each).
pub fn literal(value: &Value, indent: usize) -> String {
    let mut out = String::new();
    write_value(&mut out, value, indent);
    out
}

fn write_value(out: &mut String, value: &Value, indent: usize) {
    match value {
        Value::Null => out.push_str("None"),
        Value::Bool(true) => out.push_str("True"),
        Value::Bool(false) => out.push_str("False"),
        // JSON numbers (`3`, `2.5`, `1e+20`, `-0.0`) are Python numbers.
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => out.push_str(&string(s)),
        Value::Array(items) if items.is_empty() => out.push_str("[]"),
        Value::Object(map) if map.is_empty() => out.push_str("{}"),
        Value::Array(items) if items.iter().all(is_scalar) => {
            let items: Vec<String> = items.iter().map(|i| literal(i, 0)).collect();
            let line = format!("[{}]", items.join(", "));
            if indent + line.len() <= 80 {
                out.push_str(&line);
            } else {
                out.push_str("[\n");
                for item in items {
                    pad(out, indent + 4);
                    out.push_str(&item);
                    out.push_str(",\n");
                }
                pad(out, indent);
                out.push(']');
            }
        }
        Value::Array(items) => {
            out.push_str("[\n");
            for item in items {
                pad(out, indent + 4);
                write_value(out, item, indent + 4);
                out.push_str(",\n");
            }
            pad(out, indent);
            out.push(']');
        }
        Value::Object(map) => {
            out.push_str("{\n");
            for (key, item) in map {
                pad(out, indent + 4);
                out.push_str(&string(key));
                out.push_str(": ");
                write_value(out, item, indent + 4);
                out.push_str(",\n");
            }
            pad(out, indent);
            out.push('}');
        }
    }
}

fn is_scalar(value: &Value) -> bool {
    !matches!(value, Value::Array(_) | Value::Object(_))
}

fn pad(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strings_are_escaped_to_printable_ascii() {
        assert_eq!(string("plain"), r#""plain""#);
        assert_eq!(
            string("a\"b\\c\nd\re\tf\u{0}g\u{7f}"),
            r#""a\"b\\c\nd\re\tf\x00g\x7f""#
        );
        assert_eq!(string("é€😀"), r#""\xe9\u20ac\U0001f600""#);
        assert_eq!(string("'''\"\"\"{{ x }}"), r#""'''\"\"\"{{ x }}""#);
    }

    #[test]
    fn values_lay_out_as_python() {
        let value = json!({"a": {}, "b": [1, 2.5, true, null], "c": [["x"]]});
        assert_eq!(
            literal(&value, 0),
            "{\n    \"a\": {},\n    \"b\": [1, 2.5, True, None],\n    \"c\": [\n        [\"x\"],\n    ],\n}"
        );
    }
}
