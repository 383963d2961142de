//! A button that asks before it acts (deleting, replacing a secret).

use leptos::prelude::*;

/// A button that asks before it acts: `label`, then `question` with
/// "Yes" (`yes`) and "No".
pub fn confirmed(
    label: &'static str,
    question: &'static str,
    testid: &'static str,
    yes: impl Fn() + Clone + Send + Sync + 'static,
) -> impl IntoView {
    let asking = RwSignal::new(false);
    move || {
        if asking.get() {
            let yes = yes.clone();
            view! {
                <span class="toolbar confirm" role="alertdialog" aria-label=question>
                    <span>{question}</span>
                    <button type="button" class="danger" data-testid=format!("{testid}-confirm")
                        on:click=move |_| { asking.set(false); yes(); }>"Yes"</button>
                    <button type="button" data-testid=format!("{testid}-cancel") on:click=move |_| asking.set(false)>"No"</button>
                </span>
            }
            .into_any()
        } else {
            view! {
                <button type="button" class="link" data-testid=testid on:click=move |_| asking.set(true)>{label}</button>
            }
            .into_any()
        }
    }
}
