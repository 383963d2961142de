//! The live editing canvas: nodes move by dragging, edges are drawn from port
//! to port, the background pans, the wheel zooms; every gesture is an [`Action`].

use super::edges::edges;
use super::gesture::Gesture;
use super::minimap::minimap;
use super::nodes::nodes;
use super::surface::Surface;
use crate::editor::{Action, Editor, Outcome};
use crate::types::ComponentKey;
use leptos::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

/// The live editing canvas over `editor`; `dispatch` applies an action.
#[component]
pub fn EditCanvas(
    editor: RwSignal<Editor>,
    dispatch: Callback<Action, Outcome>,
    #[prop(into)] names: Signal<BTreeMap<ComponentKey, String>>,
    /// Nodes that have problems, marked on the canvas.
    #[prop(into)]
    flagged: Signal<BTreeSet<String>>,
    /// The component being dragged from the palette, if one is.
    palette_drag: RwSignal<Option<ComponentKey>>,
) -> impl IntoView {
    let canvas = NodeRef::<leptos::html::Div>::new();
    let s = Surface {
        editor,
        dispatch,
        canvas,
        gesture: RwSignal::new(Gesture::Idle),
    };
    s.accept_palette_drops(palette_drag);

    let transform = move || {
        let v = editor.with(|e| e.viewport);
        format!("scale({}) translate({} {})", v.zoom, v.pan_x, v.pan_y)
    };
    let selected_nodes = Memo::new(move |_| editor.with(|e| e.selection.nodes.clone()));
    let selected_edges = Memo::new(move |_| editor.with(|e| e.selection.edges.clone()));
    let flagged = Memo::new(move |_| flagged.get());

    view! {
        <div
            class="canvas"
            class:dropping=move || palette_drag.get().is_some()
            node_ref=canvas
            tabindex="0"
            role="application"
            aria-label="Process canvas: drag components here; Delete removes, Ctrl+Z undoes"
            data-testid="canvas"
            on:pointerdown=move |ev| s.press_background(ev)
            on:pointermove=move |ev| s.pointer_move(ev)
            on:pointerup=move |ev| s.release(ev)
            on:wheel=move |ev| s.wheel(ev)
            on:keydown=move |ev| s.key(ev)
        >
            <svg>
                <g transform=transform>{edges(s, selected_edges)}{nodes(s, names, selected_nodes, flagged)}</g>
                {s.overlay()}
            </svg>
            {minimap(s)}
        </div>
    }
    .into_any()
}
