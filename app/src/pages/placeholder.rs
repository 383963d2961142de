//! A page whose feature has not been built yet.

use leptos::prelude::*;

#[component]
pub fn Placeholder(title: &'static str) -> impl IntoView {
    view! {
        <section class="page" data-testid="placeholder">
            <h1>{title}</h1>
            <p class="muted">"Nothing here yet."</p>
        </section>
    }
}
