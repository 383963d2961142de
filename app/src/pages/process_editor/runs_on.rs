//! Where the process runs: the embedded engine (alone, or reaching a
//! connection's S3 data), a connection's EMR cluster, or that cluster with
//! Airflow orchestrating.

use crate::api::connections::Connection;
use crate::api::routes;
use crate::components::load::{fetch, loaded};
use crate::editor::{Action, Editor, Outcome};
use crate::types::graph::Orchestrator;
use crate::types::ConnectionId;
use leptos::prelude::*;

/// Where the process runs: the embedded engine (``), the embedded engine
/// with a connection's S3 data (`local:<connection>`), a connection's EMR
/// cluster (`<connection>`), or that cluster with Airflow orchestrating
/// (`airflow:<connection>`).
#[component]
pub(super) fn RunsOn(
    tenant: String,
    editor: RwSignal<Editor>,
    dispatch: Callback<Action, Outcome>,
) -> impl IntoView {
    let connections = loaded::<Vec<Connection>>();
    Effect::new(move |_| {
        let tenant = tenant.clone();
        fetch(
            connections,
            async move { routes::connections(&tenant).await },
        );
    });
    let current = move || {
        editor.with(|e| match (&e.graph.connection, e.graph.orchestrator) {
            (None, _) => String::new(),
            (Some(c), _) if e.graph.local_steps => format!("local:{c}"),
            (Some(c), None) => c.to_string(),
            (Some(c), Some(Orchestrator::Airflow)) => format!("airflow:{c}"),
        })
    };
    view! {
        <section class="panel" data-testid="runs-on">
            <label class="field">
                <span>"Runs on"</span>
                <select data-testid="runs-on-select"
                    on:change=move |ev| {
                        let value = event_target_value(&ev);
                        let (connection, orchestrator, local_steps) =
                            if let Some(c) = value.strip_prefix("airflow:") {
                                (Some(ConnectionId::from(c)), Some(Orchestrator::Airflow), false)
                            } else if let Some(c) = value.strip_prefix("local:") {
                                (Some(ConnectionId::from(c)), None, true)
                            } else {
                                (Some(value).filter(|v| !v.is_empty()).map(ConnectionId::from), None, false)
                            };
                        dispatch.run(Action::SetRunsOn { connection, orchestrator, local_steps });
                    }>
                    <option value="" selected=move || current().is_empty()>"The embedded engine (this server)"</option>
                    {move || connections.get().and_then(Result::ok).unwrap_or_default().into_iter().map(|c| {
                        let emr = c.id.to_string();
                        let airflow = format!("airflow:{}", c.id);
                        let on_airflow = airflow.clone();
                        let local = format!("local:{}", c.id);
                        let on_local = local.clone();
                        view! {
                            <option value=local selected=move || current() == on_local>
                                {format!("This server, S3 data through: {} ({})", c.name, c.region)}
                            </option>
                            <option value=c.id.to_string() selected=move || current() == emr>
                                {format!("EMR: {} ({}, {})", c.name, c.cluster_id, c.region)}
                            </option>
                            <option value=airflow selected=move || current() == on_airflow>
                                {format!("Airflow, steps on EMR: {} ({})", c.name, c.cluster_id)}
                            </option>
                        }
                    }).collect_view()}
                </select>
            </label>
        </section>
    }
}
