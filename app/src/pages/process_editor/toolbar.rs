//! The editing toolbar: undo and redo, delete, copy and paste, zoom, fit and
//! auto layout, each enabled only when it would do something.

use crate::editor::{Action, Editor, Outcome};
use leptos::prelude::*;

/// The canvas's size on screen, for actions that depend on it.
pub(super) fn canvas_size() -> (f64, f64) {
    document()
        .query_selector("[data-testid=canvas]")
        .ok()
        .flatten()
        .map(|el| {
            let r = el.get_bounding_client_rect();
            (r.width(), r.height())
        })
        .unwrap_or((800.0, 480.0))
}

/// Fills in the canvas size for the actions that need it.
fn sized(action: Action) -> Action {
    let (width, height) = canvas_size();
    match action {
        Action::FitToView { .. } => Action::FitToView { width, height },
        Action::Zoom { factor, .. } => Action::Zoom {
            factor,
            x: width / 2.0,
            y: height / 2.0,
        },
        other => other,
    }
}

#[component]
pub(super) fn Toolbar(
    editor: RwSignal<Editor>,
    dispatch: Callback<Action, Outcome>,
) -> impl IntoView {
    let button = move |label: &'static str,
                       testid: &'static str,
                       action: Action,
                       enabled: Signal<bool>| {
        view! {
            <button data-testid=testid disabled=move || !enabled.get() on:click=move |_| { dispatch.run(sized(action.clone())); }>
                {label}
            </button>
        }
    };
    let always = Signal::derive(|| true);
    let can_undo = Signal::derive(move || editor.with(|e| e.can_undo()));
    let can_redo = Signal::derive(move || editor.with(|e| e.can_redo()));
    let selected = Signal::derive(move || editor.with(|e| !e.selection.is_empty()));
    let can_paste = Signal::derive(move || editor.with(|e| e.can_paste()));
    view! {
        <div class="toolbar" role="toolbar" aria-label="Editing">
            {button("Undo", "undo", Action::Undo, can_undo)}
            {button("Redo", "redo", Action::Redo, can_redo)}
            {button("Delete", "delete", Action::DeleteSelection, selected)}
            {button("Copy", "copy", Action::Copy, selected)}
            {button("Paste", "paste", Action::Paste { dx: 24.0, dy: 24.0 }, can_paste)}
            {button("Zoom in", "zoom-in", Action::Zoom { factor: 1.2, x: 400.0, y: 200.0 }, always)}
            {button("Zoom out", "zoom-out", Action::Zoom { factor: 1.0 / 1.2, x: 400.0, y: 200.0 }, always)}
            {button("Fit", "fit", Action::FitToView { width: 800.0, height: 480.0 }, always)}
            {button("Auto layout", "auto-layout", Action::AutoLayout, always)}
        </div>
    }
    .into_any()
}
