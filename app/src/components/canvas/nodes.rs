//! The live canvas's nodes, each redrawn only when its name or place changes;
//! the selection and problem marks follow their own memos.

use super::surface::Surface;
use super::title;
use crate::editor::{NODE_HEIGHT, NODE_WIDTH};
use crate::types::ComponentKey;
use leptos::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

/// What a node looks like; the key of its drawing.
#[derive(Clone, PartialEq, Eq, Hash)]
struct NodeLook {
    id: String,
    name: String,
    component: ComponentKey,
    x: u64,
    y: u64,
}

/// Dragging one node of a thousand redraws that one.
pub(super) fn nodes(
    s: Surface,
    names: Signal<BTreeMap<ComponentKey, String>>,
    selected: Memo<BTreeSet<String>>,
    flagged: Memo<BTreeSet<String>>,
) -> impl IntoView {
    let editor = s.editor;
    let marks = super::marks::looks();
    let looks = move || {
        let names = names.get();
        editor.with(|e| {
            e.graph
                .nodes
                .iter()
                .map(|n| NodeLook {
                    id: n.id.clone(),
                    name: title(n, &names),
                    component: n.component.clone(),
                    x: n.position.x.to_bits(),
                    y: n.position.y.to_bits(),
                })
                .collect::<Vec<_>>()
        })
    };
    view! {
        <For each=looks key=|look| look.clone() let:look>
            {
                let NodeLook { id, name, component, x, y } = look;
                let (x, y) = (f64::from_bits(x), f64::from_bits(y));
                let id_for_port = id.clone();
                let id_for_key = id.clone();
                let id_for_press = id.clone();
                let id_for_sel = id.clone();
                let id_for_sel2 = id.clone();
                let id_for_flag = id.clone();
                let name_for_label = name.clone();
                view! {
                    <g
                        class="node"
                        class:selected=move || selected.with(|s| s.contains(&id_for_sel))
                        class:has-problem=move || flagged.with(|f| f.contains(&id_for_flag))
                        transform=format!("translate({x} {y})")
                        data-node-id=id.clone()
                        data-testid=format!("node-{id}")
                        tabindex="0"
                        role="button"
                        aria-label=format!("{name_for_label}, {id}")
                        aria-pressed=move || selected.with(|s| s.contains(&id_for_sel2)).to_string()
                        on:keydown=move |ev| s.node_key(&id_for_key, ev)
                        on:pointerdown=move |ev| s.press_node(&id_for_press, ev)
                    >
                        <rect width=NODE_WIDTH height=NODE_HEIGHT rx="8"/>
                        {move || marks.with(|m| super::marks::node_marks(&component, m, NODE_WIDTH))}
                        // The label is the text shown (title, then id); the
                        // trailing space parts them in the text read out.
                        <text x="12" y="26" class="node-title">{format!("{name} ")}</text>
                        <text x="12" y="48" class="node-sub">{id.clone()}</text>
                        <circle class="port in" cx="0" cy=NODE_HEIGHT / 2.0 r="7" data-testid=format!("port-in-{id}")/>
                        <circle
                            class="port out"
                            cx=NODE_WIDTH
                            cy=NODE_HEIGHT / 2.0
                            r="7"
                            data-testid=format!("port-out-{id}")
                            on:pointerdown=move |ev| s.press_port(&id_for_port, ev)
                        />
                    </g>
                }
            }
        </For>
    }
}
