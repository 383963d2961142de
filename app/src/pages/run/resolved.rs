//! "What exactly ran": the run's parameters and built-in values as it
//! resolved them when it started, and a node's values as its tasks got them.

use crate::api::runs::Run;
use crate::components::param_input::text_of;
use crate::components::time;
use leptos::prelude::*;
use serde_json::{Map, Value};

/// The run's logical date, data interval and parameters; what it retried
/// and ran again.
#[component]
pub fn RunFacts(run: Run) -> impl IntoView {
    let retried = (run.retries > 0).then(|| {
        let by = run
            .retried_by
            .clone()
            .map(|b| format!(", last by {b}"))
            .unwrap_or_default();
        let at = run
            .retried_at
            .as_deref()
            .map(|t| format!(" at {} UTC", time::seconds(t)))
            .unwrap_or_default();
        let times = if run.retries == 1 { "once".to_owned() } else { format!("{} times", run.retries) };
        view! { <p class="muted" data-testid="run-retries">{format!("Retried {times}{by}{at}")}</p> }
    });
    let rerun = run.rerun_of.clone().map(|of| {
        let short = of.short().to_owned();
        view! {
            <p class="muted" data-testid="rerun-of">
                "Runs again " <a href=format!("/runs/{of}")>{format!("run {short}")}</a>
            </p>
        }
    });
    let resolved = run.resolved.map(|r| {
        view! {
            <dl class="run-facts" data-testid="run-params">
                <dt>"Logical date"</dt><dd data-testid="logical-date">{r.logical_date}</dd>
                <dt>"Data interval"</dt>
                <dd data-testid="data-interval">{format!("{} – {} UTC", time::seconds(&r.data_interval_start), time::seconds(&r.data_interval_end))}</dd>
                {r.params.into_iter().map(|(name, value)| view! {
                    <dt>{name.clone()}</dt>
                    <dd data-testid=format!("resolved-param-{name}")>{text_of(Some(&value))}</dd>
                }).collect_view()}
            </dl>
        }
    });
    view! { {resolved} {retried} {rerun} }
}

/// A node's parameter values as its tasks received them.
#[component]
pub fn NodeValues(values: Option<Map<String, Value>>) -> impl IntoView {
    let Some(values) = values else {
        return view! { <p class="muted" data-testid="resolved-values">"This run started before runs recorded their values."</p> }.into_any();
    };
    if values.is_empty() {
        return view! { <p class="muted" data-testid="resolved-values">"The node ran with its components' defaults."</p> }.into_any();
    }
    view! {
        <table class="list" data-testid="resolved-values">
            <caption>"What exactly ran"</caption>
            <tbody>
                {values.into_iter().map(|(name, value)| view! {
                    <tr>
                        <th scope="row">{name.clone()}</th>
                        <td><pre data-testid=format!("resolved-value-{name}")>{text_of(Some(&value))}</pre></td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}
