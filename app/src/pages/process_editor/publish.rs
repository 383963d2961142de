//! The "Publish and run" panel: publishes the saved draft as a new version,
//! holds the run form, and reports how either went.

use super::deployment::follow_deployment;
use super::run_form::EditorRunForm;
use super::save::{Autosave, Save};
use crate::api::processes::{Deployment, PublishRequest};
use crate::api::routes;
use crate::api::FieldError;
use crate::components::load::alert_with;
use crate::components::toast;
use leptos::prelude::*;

#[component]
pub(super) fn PublishPanel(
    tenant: String,
    process_id: String,
    problems: Memo<Vec<FieldError>>,
    autosave: Autosave,
    latest: RwSignal<Option<i64>>,
) -> impl IntoView {
    let message = RwSignal::new(String::new());
    let status = RwSignal::new(None::<Result<String, String>>);
    let busy = RwSignal::new(false);
    // The latest version's Airflow deployment, followed while it deploys.
    let deployment = RwSignal::new(None::<Deployment>);
    {
        let (tenant, id) = (tenant.clone(), process_id.clone());
        Effect::new(move |_| {
            if let Some(n) = latest.get() {
                follow_deployment(tenant.clone(), id.clone(), n, latest, deployment);
            }
        });
    }

    let publish = {
        let (tenant, id) = (tenant.clone(), process_id.clone());
        move |_| {
            if autosave.state.get_untracked() != Save::Saved {
                autosave.save_now(false);
                status.set(Some(Err("Saving first; publish again in a moment.".into())));
                return;
            }
            busy.set(true);
            let (tenant, id) = (tenant.clone(), id.clone());
            leptos::task::spawn_local(async move {
                let body = PublishRequest {
                    message: message.get_untracked(),
                };
                match routes::publish(&tenant, &id, &body).await {
                    Ok(v) => {
                        deployment.set(v.deployment.clone());
                        latest.set(Some(v.number));
                        status.set(Some(Ok(format!("Published version {}", v.number))));
                        toast::success(format!("Published version {}", v.number));
                        message.set(String::new());
                    }
                    Err(e) => status.set(Some(Err(e.message()))),
                }
                busy.set(false);
            });
        }
    };

    view! {
        <section class="panel" data-testid="publish-panel">
            <h2>"Publish and run"</h2>
            <label class="field">
                <span>"Message"</span>
                <input data-testid="publish-message" placeholder="What changed"
                    prop:value=move || message.get()
                    on:input=move |ev| message.set(event_target_value(&ev)) />
            </label>
            <button data-testid="publish" disabled=move || busy.get() || !problems.with(Vec::is_empty) on:click=publish>
                "Publish"
            </button>
            {move || (!problems.with(Vec::is_empty)).then(|| view! { <small class="muted">"Fix the problems to publish."</small> })}
            {move || status.get().map(|s| match s {
                Ok(m) => view! { <p class="ok" data-testid="publish-status">{m}</p> }.into_any(),
                Err(m) => alert_with("publish-status", m),
            })}
            <EditorRunForm tenant process_id latest deployment busy/>
        </section>
    }
    .into_any()
}
