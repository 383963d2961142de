//! The landing page.

use leptos::prelude::*;

#[component]
pub fn HomePage() -> impl IntoView {
    view! {
        <section class="page" data-testid="home">
            <h1>"Pipelines you can see"</h1>
            <p>
                "Compose data pipelines from components, publish immutable versions, "
                "and watch every run live on your own compute."
            </p>
        </section>
    }
}
