//! The run form: parameters as JSON and "Run now" for the latest version, once
//! Airflow (if it orchestrates) has that version ready.

use super::deployment::deployment_state;
use crate::api::processes::{DeployState, Deployment};
use crate::api::routes;
use crate::api::runs::StartRun;
use leptos::prelude::*;
use leptos_router::hooks::use_navigate;
use leptos_router::NavigateOptions;
use serde_json::Value;

/// Starts a run and opens it; `busy` and `status` are shared with publishing.
#[component]
pub(super) fn RunForm(
    tenant: String,
    process_id: String,
    latest: RwSignal<Option<i64>>,
    deployment: RwSignal<Option<Deployment>>,
    busy: RwSignal<bool>,
    status: RwSignal<Option<Result<String, String>>>,
) -> impl IntoView {
    let params = RwSignal::new("{}".to_owned());
    let navigate = use_navigate();
    let run = move |_| {
        let parsed: Result<serde_json::Map<String, Value>, _> =
            serde_json::from_str(&params.get_untracked());
        let Ok(run_params) = parsed else {
            status.set(Some(Err(
                "Run parameters must be a JSON object, such as {\"day\": \"2024-01-01\"}".into(),
            )));
            return;
        };
        busy.set(true);
        let (tenant, id) = (tenant.clone(), process_id.clone());
        let navigate = navigate.clone();
        leptos::task::spawn_local(async move {
            let body = StartRun {
                version: None,
                params: Some(run_params),
            };
            match routes::start_run(&tenant, &id, &body).await {
                Ok(r) => navigate(&format!("/runs/{}", r.id), NavigateOptions::default()),
                Err(e) => status.set(Some(Err(e.message()))),
            }
            busy.set(false);
        });
    };

    view! {
        <label class="field">
            <span>"Run parameters (JSON)"</span>
            <input data-testid="run-params" prop:value=move || params.get() on:input=move |ev| params.set(event_target_value(&ev)) />
        </label>
        {deployment_state(deployment)}
        <button data-testid="run-now"
            disabled=move || busy.get() || latest.get().is_none()
                || deployment.with(|d| d.as_ref().is_some_and(|d| d.state != DeployState::Ready))
            on:click=run>
            {move || match latest.get() {
                Some(v) => format!("Run version {v} now"),
                None => "Run now (publish first)".to_owned(),
            }}
        </button>
    }
}
