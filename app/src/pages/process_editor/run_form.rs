//! Running from the editor: the run form for the latest version, once
//! Airflow (if it orchestrates) has that version ready.

use super::deployment::deployment_state;
use crate::api::processes::{DeployState, Deployment};
use crate::components::run_form::RunForm;
use leptos::prelude::*;

/// The latest version's run form; `busy` (publishing) holds it back.
#[component]
pub(super) fn EditorRunForm(
    tenant: String,
    process_id: String,
    latest: RwSignal<Option<i64>>,
    deployment: RwSignal<Option<Deployment>>,
    busy: RwSignal<bool>,
) -> impl IntoView {
    let blocked = Signal::derive(move || {
        busy.get() || deployment.with(|d| d.as_ref().is_some_and(|d| d.state != DeployState::Ready))
    });
    view! {
        {deployment_state(deployment)}
        <RunForm tenant process=process_id version=latest.into() blocked/>
    }
}
