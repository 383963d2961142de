//! The component palette: search the catalog by category; click an item to
//! add it at the canvas's centre, or drag it onto the canvas.

use super::toolbar::canvas_size;
use crate::editor::{Action, Editor, Outcome, NODE_HEIGHT, NODE_WIDTH};
use crate::types::component::ComponentType;
use crate::types::graph::Position;
use crate::types::ComponentKey;
use leptos::prelude::*;
use std::collections::BTreeMap;

/// Adds a `key` node at the canvas's centre, nudged so repeated adds do not
/// stack exactly.
fn add_at_center(editor: RwSignal<Editor>, dispatch: Callback<Action, Outcome>, key: ComponentKey) {
    let (width, height) = canvas_size();
    let at = editor.with_untracked(|e| {
        let (x, y) = e.viewport.to_canvas(width / 2.0, height / 2.0);
        let n = e.graph.nodes.len() as f64;
        Position {
            x: x - NODE_WIDTH / 2.0 + 12.0 * (n % 5.0),
            y: y - NODE_HEIGHT / 2.0 + 12.0 * (n % 5.0),
        }
    });
    dispatch.run(Action::AddNode {
        component: key,
        at,
        params: Default::default(),
    });
}

#[component]
pub(super) fn Palette(
    catalog: Vec<ComponentType>,
    palette_drag: RwSignal<Option<ComponentKey>>,
    editor: RwSignal<Editor>,
    dispatch: Callback<Action, Outcome>,
) -> impl IntoView {
    let on_add = move |key: ComponentKey| add_at_center(editor, dispatch, key);
    let search = RwSignal::new(String::new());
    let catalog = StoredValue::new(catalog);
    let groups = move || {
        let needle = search.get().to_lowercase();
        let mut groups: BTreeMap<String, Vec<ComponentType>> = BTreeMap::new();
        catalog.with_value(|c| {
            for component in c {
                let hay = format!(
                    "{} {} {}",
                    component.name, component.key, component.description
                )
                .to_lowercase();
                if needle.is_empty() || hay.contains(&needle) {
                    groups
                        .entry(component.category.clone())
                        .or_default()
                        .push(component.clone());
                }
            }
        });
        groups
            .into_iter()
            .map(|(category, items)| {
                let band = crate::components::canvas::marks::category_class(&category);
                view! {
                    <h3><span class=format!("palette-band {band}") aria-hidden="true"></span>{category}</h3>
                    <ul>
                        {items
                            .into_iter()
                            .map(|c| {
                                let key = c.key.clone();
                                let key_for_drag = c.key.clone();
                                view! {
                                    <li>
                                        <button
                                            class="palette-item"
                                            title=c.description.clone()
                                            data-testid=format!("palette-{}", c.key)
                                            on:pointerdown=move |_| palette_drag.set(Some(key_for_drag.clone()))
                                            on:click=move |_| {
                                                palette_drag.set(None);
                                                on_add(key.clone());
                                            }
                                        >
                                            <svg class="palette-icon" viewBox="0 0 24 24" aria-hidden="true">
                                                <path d=crate::components::canvas::marks::icon_path(&c.icon)/>
                                            </svg>
                                            {c.name.clone()}
                                        </button>
                                    </li>
                                }
                            })
                            .collect_view()}
                    </ul>
                }
            })
            .collect_view()
    };
    view! {
        <nav class="palette" aria-label="Components" data-testid="palette">
            <input
                type="search"
                placeholder="Search components"
                aria-label="Search components"
                prop:value=move || search.get()
                on:input=move |ev| search.set(event_target_value(&ev))
            />
            {groups}
        </nav>
    }
    .into_any()
}
