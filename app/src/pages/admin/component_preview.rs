//! The component editor's live preview, made from the form as it is now: the
//! node as the canvas draws it (with its category's band and its icon), its
//! entry in the palette, and the parameter panel users fill in, drawn with
//! the node panel's own field. Values typed into the preview are checked as
//! the editor checks a node's, and kept nowhere.

use super::component_form::Editing;
use crate::components::canvas::marks::{category_class, icon_path, node_marks, Looks};
use crate::components::node_panel::ParamField;
use crate::editor::{NODE_HEIGHT, NODE_WIDTH};
use crate::params::is_template;
use crate::types::component::{ComponentType, ParamSpec};
use crate::validate::check_value;
use leptos::prelude::*;
use serde_json::{Map, Value};

/// A node's title on the canvas while it has no label of its own.
fn title_of(c: &ComponentType) -> String {
    if c.name.trim().is_empty() {
        c.key.to_string()
    } else {
        c.name.clone()
    }
}

/// Its entry in the palette: under its category (with the category's
/// colour), its icon and name.
fn palette_entry(c: &ComponentType) -> AnyView {
    let band = category_class(&c.category);
    let category = match c.category.trim() {
        "" => "(no category)".to_owned(),
        category => category.to_owned(),
    };
    view! {
        <div class="palette component-palette" data-testid="preview-palette">
            <h3><span class=format!("palette-band {band}") aria-hidden="true"></span>{category}</h3>
            <ul>
                <li>
                    <span class="palette-entry" title=c.description.clone()>
                        <svg class="palette-icon" viewBox="0 0 24 24" aria-hidden="true">
                            <path d=icon_path(&c.icon)/>
                        </svg>
                        {title_of(c)}
                    </span>
                </li>
            </ul>
        </div>
    }
    .into_any()
}

/// What the editor says of a node's `value` of `spec`, short of what only a
/// process can tell (its parameters, which a `{{ … }}` reference names).
fn problem_of(spec: &ParamSpec, value: Option<&Value>) -> Option<String> {
    match value {
        None | Some(Value::Null) => (spec.required && spec.default.is_none()).then(|| {
            let name = if spec.label.is_empty() {
                &spec.name
            } else {
                &spec.label
            };
            format!("`{name}` is required")
        }),
        Some(value) if is_template(value) => None,
        Some(value) => check_value(spec, value).err().map(|(_, message)| message),
    }
}

#[component]
pub(super) fn Preview(ed: Editing) -> impl IntoView {
    let component = Memo::new(move |_| ed.draft.with(|d| d.component().0));
    let title = Memo::new(move |_| component.with(title_of));
    let params = Memo::new(move |_| component.with(|c| c.params.clone()));
    // What was typed into the preview, by parameter name.
    let values = RwSignal::new(Map::<String, Value>::new());
    let fields = move || {
        let typed = values.get();
        params
            .get()
            .into_iter()
            .map(|spec| {
                let current = typed.get(&spec.name).cloned();
                let message = Signal::stored(problem_of(&spec, current.as_ref()));
                let name = spec.name.clone();
                let on_set = Callback::new(move |value: Option<Value>| {
                    values.update(|v| match value {
                        Some(value) => {
                            v.insert(name.clone(), value);
                        }
                        None => {
                            v.remove(&name);
                        }
                    });
                });
                view! { <ParamField spec current declared=Vec::new() message on_set/> }
            })
            .collect_view()
    };
    let (width, height) = (NODE_WIDTH + 20.0, NODE_HEIGHT + 20.0);
    view! {
        <div class="component-preview" data-testid="component-preview">
            <h3>"Preview"</h3>
            <svg class="component-node" width=width height=height viewBox=format!("-10 -10 {width} {height}")
                role="img" aria-label=move || format!("{}, as a node on the canvas", title.get())>
                <g class="node" data-testid="preview-node">
                    <rect width=NODE_WIDTH height=NODE_HEIGHT rx="8"/>
                    {move || component.with(|c| {
                        let looks = Looks::from([(c.key.clone(), (c.category.clone(), c.icon.clone()))]);
                        node_marks(&c.key, &looks, NODE_WIDTH)
                    })}
                    <text x="12" y="26" class="node-title">{move || format!("{} ", title.get())}</text>
                    <text x="12" y="48" class="node-sub">{move || component.with(|c| c.key.to_string())}</text>
                    <circle class="port in" cx="0" cy=NODE_HEIGHT / 2.0 r="7"/>
                    <circle class="port out" cx=NODE_WIDTH cy=NODE_HEIGHT / 2.0 r="7"/>
                </g>
            </svg>
            {move || component.with(palette_entry)}
            <section class="panel" data-testid="preview-panel" aria-label="The node's parameter panel">
                <h4>{move || title.get()}</h4>
                <label class="field">
                    <span>"Label"</span>
                    <input placeholder=move || title.get()/>
                </label>
                {fields}
                {move || params.with(Vec::is_empty).then(|| view! { <p class="muted">"No parameters to set."</p> })}
            </section>
            <p class="muted">"Values typed into the preview are checked as a node's are, and not saved."</p>
        </div>
    }
}
