//! The keyboard shortcut overlay: `?` anywhere (but in a text field) shows
//! every shortcut of the app, Escape or Close hides it.

use leptos::prelude::*;

/// (keys, what they do), by where they work.
const SHORTCUTS: &[(&str, &[(&str, &str)])] = &[
    (
        "Anywhere",
        &[
            ("?", "Show or hide this list"),
            ("Esc", "Close this list or a menu"),
        ],
    ),
    (
        "Process canvas (when it has the focus)",
        &[
            ("Tab / Shift+Tab", "Go to the next or previous node"),
            (
                "Enter or Space",
                "Select the focused node (Shift adds it to the selection)",
            ),
            ("Arrow keys", "Move the selected node"),
            ("Delete or Backspace", "Delete the selection"),
            ("Ctrl+Z", "Undo"),
            ("Ctrl+Shift+Z or Ctrl+Y", "Redo"),
            ("Ctrl+C / Ctrl+V", "Copy and paste the selection"),
            ("Ctrl+A", "Select everything"),
            ("Esc", "Clear the selection"),
        ],
    ),
    (
        "Component palette",
        &[("Enter", "Add the focused component to the canvas")],
    ),
];

/// Whether a key press went to something that takes text.
fn typing(ev: &leptos::ev::KeyboardEvent) -> bool {
    use leptos::wasm_bindgen::JsCast;
    ev.target()
        .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
        .is_some_and(|el| {
            matches!(el.tag_name().as_str(), "INPUT" | "TEXTAREA" | "SELECT")
                || el.get_attribute("contenteditable").is_some()
        })
}

/// The overlay, opened by `?` or by setting `open`.
#[component]
pub fn ShortcutsOverlay(open: RwSignal<bool>) -> impl IntoView {
    let listener = window_event_listener(leptos::ev::keydown, move |ev| {
        if ev.default_prevented() || ev.ctrl_key() || ev.meta_key() || ev.alt_key() {
            return;
        }
        match ev.key().as_str() {
            "?" if !typing(&ev) => {
                ev.prevent_default();
                open.update(|o| *o = !*o);
            }
            "Escape" if open.get_untracked() => open.set(false),
            _ => {}
        }
    });
    on_cleanup(move || listener.remove());
    let close = NodeRef::<leptos::html::Button>::new();
    Effect::new(move |_| {
        if open.get() {
            if let Some(button) = close.get() {
                let _ = button.focus();
            }
        }
    });
    view! {
        <Show when=move || open.get()>
            <div class="overlay" on:click=move |_| open.set(false)>
                <div class="dialog" role="dialog" aria-modal="true" aria-labelledby="shortcuts-title"
                    data-testid="shortcuts" on:click=|ev| ev.stop_propagation()>
                    <h2 id="shortcuts-title">"Keyboard shortcuts"</h2>
                    {SHORTCUTS.iter().map(|(place, keys)| view! {
                        <h3>{*place}</h3>
                        <dl class="shortcut-list">
                            {keys.iter().map(|(key, what)| view! {
                                <dt><kbd>{*key}</kbd></dt>
                                <dd>{*what}</dd>
                            }).collect_view()}
                        </dl>
                    }).collect_view()}
                    <button node_ref=close data-testid="shortcuts-close" on:click=move |_| open.set(false)>"Close"</button>
                </div>
            </div>
        </Show>
    }
}
