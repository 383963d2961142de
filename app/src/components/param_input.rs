//! A typed input for one value of a declared process parameter, shared by
//! the editor's Parameters panel (the default) and the run form, and the
//! text ⇄ value conversion behind it.

use crate::types::params::{ParamType, ProcessParam};
use leptos::prelude::*;
use serde_json::Value;

/// The value a control's `text` stands for under `kind`: `None` when empty.
/// Text that does not parse stays text, so the shared checks name it.
pub fn parse_value(kind: ParamType, text: &str) -> Option<Value> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return None;
    }
    Some(match kind {
        ParamType::Integer => trimmed
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::from(text)),
        // A whole number stays whole, so `0` reads back as `0`, not `0.0`.
        ParamType::Number => match trimmed.parse::<i64>() {
            Ok(n) => Value::from(n),
            Err(_) => trimmed
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Value::Number)
                .unwrap_or_else(|| Value::from(text)),
        },
        ParamType::Boolean => match trimmed {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => Value::from(text),
        },
        _ => Value::from(text),
    })
}

/// The text a control shows for `value`.
pub fn text_of(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// The input for a value of `param`: a number field, a date picker, a
/// true/false or enum choice, or text. `blank` labels the empty choice of a
/// select; `live` reports every keystroke instead of each finished edit.
#[component]
pub fn ParamInput(
    param: ProcessParam,
    /// The text shown first.
    value: String,
    testid: String,
    blank: String,
    #[prop(optional)] live: bool,
    on_change: Callback<String>,
) -> impl IntoView {
    let typed = move |ev: leptos::ev::Event| on_change.run(event_target_value(&ev));
    let choice = |options: Vec<String>| {
        let current = value.clone();
        view! {
            <select data-testid=testid.clone() on:change=typed>
                <option value="" selected=current.is_empty()>{blank.clone()}</option>
                {options.into_iter().map(|v| {
                    let selected = v == current;
                    view! { <option value=v.clone() selected=selected>{v.clone()}</option> }
                }).collect_view()}
            </select>
        }
        .into_any()
    };
    let field = |kind: &'static str, hint: &'static str| {
        view! {
            <input type=kind step="any" data-testid=testid.clone() placeholder=hint prop:value=value.clone()
                on:input=move |ev| if live { typed(ev) }
                on:change=move |ev| if !live { typed(ev) } />
        }
        .into_any()
    };
    match param.kind {
        ParamType::Boolean => choice(vec!["true".into(), "false".into()]),
        ParamType::Enum => choice(param.values.clone()),
        ParamType::Integer | ParamType::Number => field("number", ""),
        ParamType::Date => field("date", "2026-10-01"),
        ParamType::Timestamp => field("text", "2026-10-01T06:00:00Z"),
        ParamType::String => field("text", ""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn text_becomes_a_value_of_the_declared_type_or_stays_text_to_be_named() {
        assert_eq!(parse_value(ParamType::Integer, " 42 "), Some(json!(42)));
        assert_eq!(parse_value(ParamType::Integer, "4.5"), Some(json!("4.5")));
        assert_eq!(parse_value(ParamType::Number, "2.5"), Some(json!(2.5)));
        assert_eq!(parse_value(ParamType::Number, "0"), Some(json!(0)));
        assert_eq!(parse_value(ParamType::Number, "lots"), Some(json!("lots")));
        assert_eq!(parse_value(ParamType::Boolean, "false"), Some(json!(false)));
        assert_eq!(
            parse_value(ParamType::Date, "2026-10-01"),
            Some(json!("2026-10-01"))
        );
        assert_eq!(parse_value(ParamType::String, "  "), None);
        assert_eq!(parse_value(ParamType::String, " de "), Some(json!(" de ")));
    }

    #[test]
    fn a_value_shows_as_the_text_that_parses_back_to_it() {
        for (kind, value) in [
            (ParamType::Integer, json!(7)),
            (ParamType::Number, json!(0.25)),
            (ParamType::Boolean, json!(true)),
            (ParamType::Enum, json!("de")),
        ] {
            assert_eq!(parse_value(kind, &text_of(Some(&value))), Some(value));
        }
        assert_eq!(text_of(None), "");
    }
}
