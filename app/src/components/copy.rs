//! A button that puts a text (an id, a policy) on the clipboard.

use leptos::prelude::*;

/// Copies `text` when clicked, and says so.
#[component]
pub fn CopyButton(text: String, #[prop(into)] testid: String) -> impl IntoView {
    let copied = RwSignal::new(false);
    let copy = move |_| {
        #[cfg(feature = "hydrate")]
        {
            // The promise settles on its own; a refusal leaves the text
            // on the page to select by hand.
            let _ = window().navigator().clipboard().write_text(&text);
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = &text;
        copied.set(true);
    };
    view! {
        <button type="button" class="link" data-testid=testid on:click=copy>
            {move || if copied.get() { "Copied" } else { "Copy" }}
        </button>
    }
}
