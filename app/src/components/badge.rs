//! The state badge of a run or a task, coloured by its state.

use leptos::prelude::*;

/// A state badge such as `succeeded`, coloured by its class.
#[component]
pub fn StateBadge(#[prop(into)] state: String) -> impl IntoView {
    view! { <span class=format!("badge state-{state}") data-testid="state">{state.replace('_', " ")}</span> }
}
