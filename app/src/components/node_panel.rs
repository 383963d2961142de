//! The selected node's side panel: its label, a form generated from its
//! component's parameter schema with the validation messages inline (any
//! field can hold a `{{ … }}` reference to a process parameter or a run
//! built-in instead of a value), and "Connect to" for connecting from the
//! keyboard. Each parameter's field ([`ParamField`]) is also what the
//! component editor's preview shows.

use crate::api::FieldError;
use crate::editor::{Action, Editor, Outcome};
use crate::params::{is_template, Builtin};
use crate::types::component::{ComponentType, ParamKind, ParamSpec};
use crate::types::params::ProcessParam;
use leptos::prelude::*;
use serde_json::Value;

/// What a node value becomes when `reference` (such as `params.country`) is
/// chosen for it: text fields get it added to what they hold, any other
/// field is the reference alone.
fn with_reference(kind: &ParamKind, current: Option<&Value>, reference: &str) -> Value {
    let r = format!("{{{{ {reference} }}}}");
    match (kind, current) {
        (ParamKind::String { .. } | ParamKind::Text { .. }, Some(Value::String(s)))
            if !s.is_empty() =>
        {
            Value::from(format!("{s}{r}"))
        }
        _ => Value::from(r),
    }
}

/// The choice of references for a field: declared parameters, then built-ins.
fn reference_picker(
    testid: String,
    declared: &[ProcessParam],
    on_pick: impl Fn(String) + 'static,
) -> impl IntoView {
    view! {
        <select class="reference" data-testid=testid title="Use a process parameter or a run value"
            on:change=move |ev| {
                let picked = event_target_value(&ev);
                if !picked.is_empty() {
                    on_pick(picked);
                }
            }>
            <option value="" selected=true>"{{ }}"</option>
            {declared.iter().map(|p| {
                let path = format!("params.{}", p.name);
                view! { <option value=path.clone()>{format!("{path} ({})", p.kind)}</option> }
            }).collect_view()}
            {Builtin::ALL.iter().map(|b| view! { <option value=b.path()>{b.path()}</option> }).collect_view()}
        </select>
    }
}

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

/// One parameter's field as users fill it in: its label, the control its
/// type calls for (or the `{{ … }}` reference it holds, with the way back to
/// a value), the reference picker offering `declared` and the run's
/// built-ins, its help, and `message`. The node panel shows each parameter of
/// a node with it, and the component editor's preview too.
#[component]
pub fn ParamField(
    spec: ParamSpec,
    /// The value set now (`None`: unset).
    current: Option<Value>,
    /// The process parameters a reference may name.
    declared: Vec<ProcessParam>,
    /// The problem found in the value, if any.
    message: Signal<Option<String>>,
    /// Sets the value (`None` unsets it).
    on_set: Callback<Option<Value>>,
) -> impl IntoView {
    let placeholder = spec
        .default
        .as_ref()
        .map(|d| shown(Some(d)))
        .unwrap_or_default();
    let testid = format!("param-{}", spec.name);
    let set = {
        let spec = spec.clone();
        move |text: String| on_set.run(parse_input(&spec, &text))
    };
    let picker = {
        let (kind, current) = (spec.kind.clone(), current.clone());
        reference_picker(format!("ref-{}", spec.name), &declared, move |path| {
            on_set.run(Some(with_reference(&kind, current.as_ref(), &path)));
        })
    };
    let typed = matches!(spec.kind, ParamKind::String { .. } | ParamKind::Text { .. });
    let referring = !typed && current.as_ref().is_some_and(is_template);
    let input = match &spec.kind {
        // A typed field holding a reference: its text, and the way back.
        _ if referring => view! {
            <input data-testid=testid prop:value=shown(current.as_ref())
                on:change=move |ev| set(event_target_value(&ev)) />
            <button class="link" data-testid=format!("unref-{}", spec.name) title="Enter a value instead"
                on:click=move |_| on_set.run(None)>
                "×"
            </button>
        }
        .into_any(),
        ParamKind::Text { .. } => view! {
            <textarea data-testid=testid placeholder=placeholder rows="5"
                prop:value=shown(current.as_ref())
                on:change=move |ev| set(event_target_value(&ev))></textarea>
        }
        .into_any(),
        ParamKind::Boolean => {
            let checked = current
                .as_ref()
                .or(spec.default.as_ref())
                .and_then(Value::as_bool)
                .unwrap_or(false);
            view! {
                <input type="checkbox" data-testid=testid prop:checked=checked
                    on:change=move |ev| on_set.run(Some(Value::Bool(event_target_checked(&ev)))) />
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
    let label = if spec.label.is_empty() {
        spec.name.clone()
    } else {
        spec.label.clone()
    };
    // The label holds its control: a `for` naming no element would part them.
    view! {
        <label class="field">
            <span>{label}{spec.required.then_some(" *")}</span>
            <span class="with-reference">{input}{picker}</span>
            {spec.help.clone().map(|h| view! { <small class="muted">{h}</small> })}
            {move || message.get().map(|m| view! { <small class="error" data-testid="field-error">{m}</small> })}
        </label>
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
        let declared = editor.with(|e| e.graph.params.clone());
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
                let message = {
                    let id = node_id.clone();
                    let field = format!("params.{}", spec.name);
                    Signal::derive(move || {
                        problems.with(|p| {
                            p.iter()
                                .find(|e| {
                                    e.node.as_deref() == Some(id.as_str()) && e.field == field
                                })
                                .map(|e| e.message.clone())
                        })
                    })
                };
                let on_set = {
                    let (id, name) = (node_id.clone(), spec.name.clone());
                    Callback::new(move |value: Option<Value>| {
                        dispatch.run(Action::SetParam {
                            node: id.clone(),
                            name: name.clone(),
                            value,
                        });
                    })
                };
                let current = node.params.get(&spec.name).cloned();
                view! { <ParamField spec current declared=declared.clone() message on_set/> }
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
