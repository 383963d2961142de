//! What an editor can do with a run that has ended: retry its failed part,
//! retry from a chosen node on, or run it again as a new run.

use super::RunModel;
use crate::api::routes;
use crate::api::runs::RetryRun;
use crate::components::load::Loaded;
use crate::types::RunState;
use leptos::prelude::*;
use leptos_router::hooks::use_navigate;
use leptos_router::NavigateOptions;

/// Retries run `id` (from `from_node` on, if given) and shows it running
/// again; the live events carry on from there.
fn retry(
    tenant: String,
    id: String,
    from_node: Option<String>,
    model: Loaded<RunModel>,
    error: RwSignal<Option<String>>,
) {
    leptos::task::spawn_local(async move {
        match routes::retry_run(&tenant, &id, &RetryRun { from_node }).await {
            Ok(run) => {
                let _ = error.try_set(None);
                let _ = model.try_update(|m| {
                    if let Some(Ok(m)) = m {
                        m.reloaded(run);
                    }
                });
            }
            Err(e) => {
                let _ = error.try_set(Some(e.message()));
            }
        }
    });
}

/// Retry (a failed or cancelled run) and Run again (any run that ended).
#[component]
pub fn RunActions(
    tenant: String,
    id: String,
    model: Loaded<RunModel>,
    /// The signed-in member may change runs.
    editor: bool,
) -> impl IntoView {
    let error = RwSignal::new(None::<String>);
    let state = Signal::derive(move || {
        model.with(|m| match m {
            Some(Ok(m)) => Some(m.run.state),
            _ => None,
        })
    });
    let navigate = use_navigate();
    let retry_all = {
        let (tenant, id) = (tenant.clone(), id.clone());
        move |_| retry(tenant.clone(), id.clone(), None, model, error)
    };
    let again = move |_| {
        let (tenant, id, navigate) = (tenant.clone(), id.clone(), navigate.clone());
        leptos::task::spawn_local(async move {
            match routes::rerun(&tenant, &id).await {
                Ok(run) => navigate(&format!("/runs/{}", run.id), NavigateOptions::default()),
                Err(e) => {
                    let _ = error.try_set(Some(e.message()));
                }
            }
        });
    };
    editor.then(|| {
        view! {
            <div class="toolbar">
                {move || matches!(state.get(), Some(RunState::Failed | RunState::Cancelled)).then(|| {
                    let retry_all = retry_all.clone();
                    view! {
                        <button data-testid="retry" title="Run the failed, cancelled and skipped tasks and what follows them again; what succeeded is kept"
                            on:click=retry_all>"Retry"</button>
                    }
                })}
                {move || state.get().is_some_and(RunState::is_terminal).then(|| {
                    let again = again.clone();
                    view! {
                        <button data-testid="run-again" title="A new run of the same version with the same parameters"
                            on:click=again>"Run again"</button>
                    }
                })}
                {move || error.get().map(|m| view! { <span class="error" role="alert" data-testid="run-action-error">{m}</span> })}
            </div>
        }
    })
}

/// "Retry from here" for the selected node of a run that has ended.
#[component]
pub fn RetryFromHere(
    tenant: String,
    id: String,
    node: String,
    model: Loaded<RunModel>,
) -> impl IntoView {
    let error = RwSignal::new(None::<String>);
    view! {
        <div class="toolbar">
            <button data-testid="retry-from-here" title="Run this node and everything after it again, even what succeeded"
                on:click=move |_| retry(tenant.clone(), id.clone(), Some(node.clone()), model, error)>
                "Retry from here"
            </button>
            {move || error.get().map(|m| view! { <span class="error" role="alert" data-testid="run-action-error">{m}</span> })}
        </div>
    }
}
