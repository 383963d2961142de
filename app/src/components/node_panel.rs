//! The selected node's side panel: its label, a form generated from its
//! component's parameter schema with the validation messages inline, and
//! "Connect to" for connecting from the keyboard.

use crate::api::FieldError;
use crate::editor::{Action, Editor, Outcome};
use crate::types::component::{ComponentType, ParamKind, ParamSpec};
use leptos::prelude::*;
use serde_json::Value;

/// The value a form control's text stands for under `spec`.
fn parse_input(spec: &ParamSpec, text: &str) -> Option<Value> {
    if text.is_empty() {
        return None;
    }
    Some(match spec.kind {
        ParamKind::Integer { .. } => text
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::from(text)),
        ParamKind::Number { .. } => text
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .unwrap_or_else(|| Value::from(text)),
        _ => Value::from(text),
    })
}

fn shown(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

#[component]
pub fn NodePanel(
    editor: RwSignal<Editor>,
    dispatch: Callback<Action, Outcome>,
    catalog: StoredValue<Vec<ComponentType>>,
    problems: Memo<Vec<FieldError>>,
) -> impl IntoView {
    move || {
        let selected = editor.with(|e| {
            (e.selection.nodes.len() == 1)
                .then(|| {
                    e.selection
                        .nodes
                        .iter()
                        .next()
                        .and_then(|id| e.graph.node(id).cloned())
                })
                .flatten()
        });
        let Some(node) = selected else {
            return view! { <section class="panel" data-testid="node-panel"><p class="muted">"Select a node to edit its parameters."</p></section> }.into_any();
        };
        let component = catalog.with_value(|c| c.iter().find(|c| c.key == node.component).cloned());
        let Some(component) = component else {
            return view! { <section class="panel" data-testid="node-panel"><p class="error">{format!("Unknown component {}", node.component)}</p></section> }.into_any();
        };
        let node_id = node.id.clone();
        let label_id = node.id.clone();
        let connect_from = node.id.clone();
        // Connecting from the keyboard: every node this one could lead to.
        let others: Vec<String> = editor.with(|e| {
            e.graph
                .nodes
                .iter()
                .filter(|n| {
                    n.id != node.id
                        && !e
                            .graph
                            .edges
                            .iter()
                            .any(|x| x.from == node.id && x.to == n.id)
                })
                .map(|n| n.id.clone())
                .collect()
        });
        let fields = component
            .params
            .clone()
            .into_iter()
            .map(|spec| {
                let id = node_id.clone();
                let field = format!("params.{}", spec.name);
                let message = {
                    let id = id.clone();
                    move || {
                        problems.with(|p| {
                            p.iter()
                                .find(|e| e.node.as_deref() == Some(id.as_str()) && e.field == field)
                                .map(|e| e.message.clone())
                        })
                    }
                };
                let current = node.params.get(&spec.name).cloned();
                let placeholder = spec.default.as_ref().map(|d| shown(Some(d))).unwrap_or_default();
                let name = spec.name.clone();
                let testid = format!("param-{}", spec.name);
                let set = {
                    let spec = spec.clone();
                    let id = id.clone();
                    move |text: String| {
                        dispatch.run(Action::SetParam {
                            node: id.clone(),
                            name: spec.name.clone(),
                            value: parse_input(&spec, &text),
                        });
                    }
                };
                let input = match &spec.kind {
                    ParamKind::Text { .. } => view! {
                        <textarea data-testid=testid placeholder=placeholder rows="5"
                            prop:value=shown(current.as_ref())
                            on:change=move |ev| set(event_target_value(&ev))></textarea>
                    }
                    .into_any(),
                    ParamKind::Boolean => {
                        let checked = current.as_ref().or(spec.default.as_ref()).and_then(Value::as_bool).unwrap_or(false);
                        let id = id.clone();
                        let name = spec.name.clone();
                        view! {
                            <input type="checkbox" data-testid=testid prop:checked=checked
                                on:change=move |ev| {
                                    dispatch.run(Action::SetParam {
                                        node: id.clone(),
                                        name: name.clone(),
                                        value: Some(Value::Bool(event_target_checked(&ev))),
                                    });
                                } />
                        }
                        .into_any()
                    }
                    ParamKind::Enum { values } => {
                        let current = shown(current.as_ref().or(spec.default.as_ref()));
                        view! {
                            <select data-testid=testid on:change=move |ev| set(event_target_value(&ev))>
                                {values.iter().map(|v| {
                                    let selected = *v == current;
                                    view! { <option value=v.clone() selected=selected>{v.clone()}</option> }
                                }).collect_view()}
                            </select>
                        }
                        .into_any()
                    }
                    ParamKind::Integer { .. } | ParamKind::Number { .. } => view! {
                        <input type="number" step="any" data-testid=testid placeholder=placeholder
                            prop:value=shown(current.as_ref())
                            on:change=move |ev| set(event_target_value(&ev)) />
                    }
                    .into_any(),
                    ParamKind::String { .. } => view! {
                        <input data-testid=testid placeholder=placeholder
                            prop:value=shown(current.as_ref())
                            on:change=move |ev| set(event_target_value(&ev)) />
                    }
                    .into_any(),
                };
                let label = if spec.label.is_empty() { spec.name.clone() } else { spec.label.clone() };
                view! {
                    <label class="field" for=name>
                        <span>{label}{spec.required.then_some(" *")}</span>
                        {input}
                        {spec.help.clone().map(|h| view! { <small class="muted">{h}</small> })}
                        {move || message().map(|m| view! { <small class="error" data-testid="field-error">{m}</small> })}
                    </label>
                }
            })
            .collect_view();
        view! {
            <section class="panel" data-testid="node-panel">
                <h2>{component.name.clone()}</h2>
                <label class="field">
                    <span>"Label"</span>
                    <input data-testid="node-label" prop:value=node.label.clone()
                        on:change=move |ev| { dispatch.run(Action::SetLabel { node: label_id.clone(), label: event_target_value(&ev) }); } />
                </label>
                {fields}
                <label class="field">
                    <span>"Connect to (runs after this node)"</span>
                    <select data-testid="connect-to" on:change=move |ev| {
                        let to = event_target_value(&ev);
                        if !to.is_empty() {
                            dispatch.run(Action::Connect { from: connect_from.clone(), to });
                        }
                    }>
                        <option value="" selected=true>"Choose a node…"</option>
                        {others.into_iter().map(|id| view! { <option value=id.clone()>{id.clone()}</option> }).collect_view()}
                    </select>
                </label>
            </section>
        }
        .into_any()
    }
}
