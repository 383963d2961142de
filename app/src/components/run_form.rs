//! The run form: one typed input per parameter the version declares (its
//! default filled in, required ones marked), "Run", and the problems the
//! browser or the server found, each next to its input. Used by the editor
//! and by "Run this version" on the Versions tab.

use super::param_input::{parse_value, text_of, ParamInput};
use crate::api::routes;
use crate::api::runs::StartRun;
use crate::api::FieldError;
use crate::ordered::CollectOrdered;
use crate::types::params::ProcessParam;
use leptos::prelude::*;
use leptos_router::hooks::use_navigate;
use leptos_router::NavigateOptions;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// What the form sends for the texts it holds: the values that are set.
pub fn run_params(
    declared: &[ProcessParam],
    texts: &BTreeMap<String, String>,
) -> Map<String, Value> {
    declared
        .iter()
        .filter_map(|p| {
            let text = texts.get(&p.name)?;
            parse_value(p.kind, text).map(|v| (p.name.clone(), v))
        })
        .collect_map()
}

/// The texts a form starts from: each parameter's default.
pub fn initial_texts(declared: &[ProcessParam]) -> BTreeMap<String, String> {
    declared
        .iter()
        .map(|p| (p.name.clone(), text_of(p.default.as_ref())))
        .collect_map()
}

/// Starts a run of `version` of process `process` and opens it. `blocked`
/// keeps the button disabled (publishing, Airflow not ready yet).
#[component]
pub fn RunForm(
    tenant: String,
    process: String,
    version: Signal<Option<i64>>,
    #[prop(into)] blocked: Signal<bool>,
) -> impl IntoView {
    let declared = RwSignal::new(None::<Vec<ProcessParam>>);
    let texts = RwSignal::new(BTreeMap::<String, String>::new());
    let errors = RwSignal::new(Vec::<FieldError>::new());
    let failure = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    {
        let (tenant, process) = (tenant.clone(), process.clone());
        Effect::new(move |_| {
            let Some(n) = version.get() else {
                declared.set(Some(Vec::new()));
                return;
            };
            declared.set(None);
            let (tenant, process) = (tenant.clone(), process.clone());
            leptos::task::spawn_local(async move {
                match routes::version(&tenant, &process, n).await {
                    Ok(v) => {
                        texts.set(initial_texts(&v.graph.params));
                        errors.set(Vec::new());
                        failure.set(None);
                        let _ = declared.try_set(Some(v.graph.params));
                    }
                    Err(e) => failure.set(Some(e.message())),
                }
            });
        });
    }
    let navigate = use_navigate();
    let run = move |_| {
        let Some(n) = version.get_untracked() else {
            return;
        };
        let list = declared.get_untracked().unwrap_or_default();
        let params = texts.with_untracked(|t| run_params(&list, t));
        // The server checks the same way; this only saves the round trip.
        if let Err(found) = crate::params::check_run_params(&list, &params) {
            errors.set(found);
            failure.set(None);
            return;
        }
        busy.set(true);
        let (tenant, process, navigate) = (tenant.clone(), process.clone(), navigate.clone());
        leptos::task::spawn_local(async move {
            let body = StartRun {
                version: Some(n),
                params: Some(params),
            };
            match routes::start_run(&tenant, &process, &body).await {
                Ok(r) => navigate(&format!("/runs/{}", r.id), NavigateOptions::default()),
                Err(e) => {
                    let found = e
                        .problem
                        .as_ref()
                        .map(|p| p.errors.clone())
                        .unwrap_or_default();
                    let inline = found
                        .iter()
                        .all(|f| list.iter().any(|p| f.field == format!("params.{}", p.name)));
                    failure.set((found.is_empty() || !inline).then(|| e.message()));
                    errors.set(found);
                }
            }
            let _ = busy.try_set(false);
        });
    };
    view! {
        <div class="run-form" data-testid="run-form">
            <ParamFields declared texts errors prefix="run"/>
            {move || failure.get().map(|m| view! { <p class="error" role="alert" data-testid="run-error">{m}</p> })}
            <button data-testid="run-now"
                disabled=move || busy.get() || blocked.get() || version.get().is_none() || declared.with(Option::is_none)
                on:click=run>
                {move || match version.get() {
                    Some(v) => format!("Run version {v} now"),
                    None => "Run now (publish first)".to_owned(),
                }}
            </button>
        </div>
    }
}

/// One typed input per declared parameter (`None`: still loading), each with
/// its description and the problems found in it. Test ids start with
/// `prefix`: `{prefix}-field-<name>` and `{prefix}-param-<name>`.
#[component]
pub fn ParamFields(
    declared: RwSignal<Option<Vec<ProcessParam>>>,
    texts: RwSignal<BTreeMap<String, String>>,
    errors: RwSignal<Vec<FieldError>>,
    prefix: &'static str,
) -> impl IntoView {
    move || {
        declared.get().map(|list| {
            list.into_iter()
                .map(|p| {
                    let field = format!("params.{}", p.name);
                    let name = p.name.clone();
                    let message = move || {
                        errors.with(|e| {
                            e.iter()
                                .filter(|e| e.field == field)
                                .map(|e| view! { <small class="error" data-testid="field-error">{e.message.clone()}</small> })
                                .collect_view()
                        })
                    };
                    let value = texts.with_untracked(|t| t.get(&p.name).cloned().unwrap_or_default());
                    let blank = match (&p.default, p.required) {
                        (Some(d), _) => format!("(default: {})", text_of(Some(d))),
                        (None, true) => "Choose…".to_owned(),
                        (None, false) => "(not set)".to_owned(),
                    };
                    let on_change = Callback::new(move |text: String| {
                        texts.update(|t| {
                            t.insert(name.clone(), text);
                        });
                    });
                    view! {
                        <label class="field" data-testid=format!("{prefix}-field-{}", p.name)>
                            <span>{p.name.clone()}{p.required.then_some(" *")}
                                " " <small class="muted">{p.kind.as_str()}</small></span>
                            <ParamInput param=p.clone() value testid=format!("{prefix}-param-{}", p.name) blank live=true on_change/>
                            {(!p.description.is_empty()).then(|| view! { <small class="muted">{p.description.clone()}</small> })}
                            {message}
                        </label>
                    }
                })
                .collect_view()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::params::ParamType;
    use serde_json::json;

    fn param(name: &str, kind: ParamType, default: Option<Value>) -> ProcessParam {
        ProcessParam {
            name: name.into(),
            kind,
            values: Vec::new(),
            default,
            required: false,
            description: String::new(),
        }
    }

    #[test]
    fn the_form_starts_from_the_defaults_and_sends_typed_values_leaving_out_blanks() {
        let declared = [
            param("min_amount", ParamType::Number, Some(json!(10))),
            param("country", ParamType::String, None),
            param("day", ParamType::Date, None),
        ];
        let mut texts = initial_texts(&declared);
        assert_eq!(texts["min_amount"], "10");
        assert_eq!(texts["country"], "");
        texts.insert("day".into(), "2026-10-01".into());
        texts.insert("stray".into(), "x".into());
        let sent = run_params(&declared, &texts);
        assert_eq!(
            Value::Object(sent),
            json!({ "min_amount": 10, "day": "2026-10-01" })
        );
    }

    #[test]
    fn a_value_the_browser_can_tell_is_wrong_is_named_before_sending() {
        let mut count = param("count", ParamType::Integer, None);
        count.required = true;
        let declared = [count];
        let texts = BTreeMap::from([("count".to_owned(), "many".to_owned())]);
        let errors =
            crate::params::check_run_params(&declared, &run_params(&declared, &texts)).unwrap_err();
        assert_eq!(errors[0].field, "params.count");
        let texts = BTreeMap::from([("count".to_owned(), String::new())]);
        let errors =
            crate::params::check_run_params(&declared, &run_params(&declared, &texts)).unwrap_err();
        assert_eq!(errors[0].code, "required");
    }
}
