//! The latest version's Airflow deployment: followed while Airflow parses it,
//! and shown as a line of state.

use crate::api::processes::{DeployState, Deployment};
use crate::api::routes;
use leptos::prelude::*;

/// Reads version `n`'s deployment into `deployment`, again every second
/// while Airflow has not parsed it and `n` is still the latest version.
pub(super) fn follow_deployment(
    tenant: String,
    process: String,
    n: i64,
    latest: RwSignal<Option<i64>>,
    deployment: RwSignal<Option<Deployment>>,
) {
    leptos::task::spawn_local(async move {
        if latest.try_get_untracked().flatten() != Some(n) {
            return;
        }
        let Ok(version) = routes::version(&tenant, &process, n).await else {
            return;
        };
        let deploying = version
            .deployment
            .as_ref()
            .is_some_and(|d| d.state == DeployState::Deploying);
        if deployment.try_set(version.deployment).is_some() {
            return;
        }
        if deploying {
            set_timeout(
                move || follow_deployment(tenant, process, n, latest, deployment),
                std::time::Duration::from_secs(1),
            );
        }
    });
}

/// The deployment's state, with Airflow's note while it deploys.
pub(super) fn deployment_state(deployment: RwSignal<Option<Deployment>>) -> impl IntoView {
    move || {
        deployment.get().map(|d| {
            let text = match d.state {
                DeployState::Deploying => {
                    "On Airflow: deploying — waiting for Airflow to parse the DAG file…".to_owned()
                }
                DeployState::Ready => format!("On Airflow: ready as {}", d.dag_id),
                DeployState::Failed => format!(
                    "On Airflow: failed — {}",
                    d.error.clone().unwrap_or_default()
                ),
                DeployState::Retired => format!(
                    "On Airflow: retired — {} is paused and its file removed (a later version replaced it)",
                    d.dag_id
                ),
            };
            let note = (d.state == DeployState::Deploying)
                .then_some(d.error)
                .flatten();
            view! {
                <p class=format!("deployment {}", d.state.as_str()) data-testid="deployment-state"
                    data-state=d.state.as_str()>{text}</p>
                {note.map(|n| view! { <small class="muted">{n}</small> })}
            }
        })
    }
}
