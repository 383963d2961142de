//! The process's Parameters panel: the values a run takes, declared with a
//! name, a type, a default and whether a run must give one. Each edit is a
//! draft change (undo, autosave); the shared validation's problems show
//! next to the field they name.

use crate::api::FieldError;
use crate::components::param_input::{parse_value, text_of, ParamInput};
use crate::editor::{Action, Editor, Outcome};
use crate::types::params::{ParamType, ProcessParam};
use leptos::prelude::*;

/// `a, b ,c` → `["a", "b", "c"]`.
fn split_values(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `param` with its type changed: an enum keeps its values, anything else
/// loses them, and a default that was text of the old type is kept as text
/// for the checks to judge.
fn with_kind(param: &ProcessParam, kind: ParamType) -> ProcessParam {
    let mut p = param.clone();
    p.kind = kind;
    if kind != ParamType::Enum {
        p.values.clear();
    }
    p.default = p
        .default
        .as_ref()
        .and_then(|d| parse_value(kind, &text_of(Some(d))));
    p
}

#[component]
pub(super) fn ParametersPanel(
    editor: RwSignal<Editor>,
    dispatch: Callback<Action, Outcome>,
    problems: Memo<Vec<FieldError>>,
) -> impl IntoView {
    let declared = Memo::new(move |_| editor.with(|e| e.graph.params.clone()));
    let rows = move || {
        declared
            .get()
            .into_iter()
            .enumerate()
            .map(|(index, param)| view! { <ParamRow index param dispatch problems/> })
            .collect_view()
    };
    view! {
        <section class="panel" data-testid="parameters">
            <h2>"Parameters"</h2>
            {move || declared.with(Vec::is_empty).then(|| view! {
                <p class="muted">"A run can take values, such as a country or a minimum amount; nodes use them as {{ params.<name> }}."</p>
            })}
            {rows}
            <button data-testid="add-param" on:click=move |_| { dispatch.run(Action::AddProcessParam); }>"Add parameter"</button>
        </section>
    }
}

#[component]
fn ParamRow(
    index: usize,
    param: ProcessParam,
    dispatch: Callback<Action, Outcome>,
    problems: Memo<Vec<FieldError>>,
) -> impl IntoView {
    let current = StoredValue::new(param.clone());
    let set = move |change: &dyn Fn(&mut ProcessParam)| {
        let mut p = current.get_value();
        change(&mut p);
        dispatch.run(Action::SetProcessParam { index, param: p });
    };
    let error = move |field: &'static str| {
        let field = format!("params[{index}].{field}");
        move || {
            problems.with(|p| {
                p.iter()
                    .filter(|e| e.node.is_none() && e.field == field)
                    .map(|e| view! { <small class="error" data-testid="field-error">{e.message.clone()}</small> })
                    .collect_view()
            })
        }
    };
    let testid = move |what: &str| format!("decl-{what}-{index}");
    let kind = param.kind;
    view! {
        <fieldset class="declared-param" data-testid="declared-param">
            <label class="field">
                <span>"Name"</span>
                <input data-testid=testid("name") prop:value=param.name.clone() autocomplete="off"
                    on:change=move |ev| { let v = event_target_value(&ev); set(&|p| p.name = v.trim().to_owned()); } />
                {error("name")}
            </label>
            <label class="field">
                <span>"Type"</span>
                <select data-testid=testid("type") on:change=move |ev| {
                    if let Ok(kind) = event_target_value(&ev).parse::<ParamType>() {
                        dispatch.run(Action::SetProcessParam { index, param: with_kind(&current.get_value(), kind) });
                    }
                }>
                    {ParamType::ALL.iter().map(|t| view! {
                        <option value=t.as_str() selected=*t == kind>{t.as_str()}</option>
                    }).collect_view()}
                </select>
            </label>
            {(kind == ParamType::Enum).then(|| view! {
                <label class="field">
                    <span>"Values (comma separated)"</span>
                    <input data-testid=testid("values") prop:value=param.values.join(", ")
                        on:change=move |ev| { let v = split_values(&event_target_value(&ev)); set(&|p| p.values = v.clone()); } />
                    {error("values")}
                </label>
            })}
            <label class="field">
                <span>"Default"</span>
                <ParamInput param=param.clone() value=text_of(param.default.as_ref()) testid=testid("default")
                    blank="(no default)".to_owned()
                    on_change=Callback::new(move |text: String| set(&|p| p.default = parse_value(p.kind, &text))) />
                {error("default")}
            </label>
            <label class="field checkbox">
                <input type="checkbox" data-testid=testid("required") prop:checked=param.required
                    on:change=move |ev| { let v = event_target_checked(&ev); set(&|p| p.required = v); } />
                <span>"A run must give it"</span>
            </label>
            <label class="field">
                <span>"Description"</span>
                <input data-testid=testid("description") prop:value=param.description.clone()
                    on:change=move |ev| { let v = event_target_value(&ev); set(&|p| p.description = v.clone()); } />
                {error("description")}
            </label>
            <button class="link" data-testid=testid("remove")
                on:click=move |_| { dispatch.run(Action::RemoveProcessParam { index }); }>
                "Remove"
            </button>
        </fieldset>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn enum_values_are_read_from_a_comma_separated_list() {
        assert_eq!(split_values(" de, fr ,,it "), ["de", "fr", "it"]);
        assert!(split_values(" , ").is_empty());
    }

    #[test]
    fn changing_the_type_keeps_a_default_that_still_reads_and_drops_enum_values() {
        let p = ProcessParam {
            name: "country".into(),
            kind: ParamType::Enum,
            values: vec!["de".into(), "fr".into()],
            default: Some(json!("de")),
            required: false,
            description: String::new(),
        };
        let s = with_kind(&p, ParamType::String);
        assert!(s.values.is_empty());
        assert_eq!(s.default, Some(json!("de")));
        let n = with_kind(&with_kind(&p, ParamType::Integer), ParamType::Number);
        assert_eq!(
            n.default,
            Some(json!("de")),
            "kept as text for the checks to name"
        );
        let mut ten = p.clone();
        ten.default = Some(json!("10"));
        assert_eq!(with_kind(&ten, ParamType::Integer).default, Some(json!(10)));
    }
}
