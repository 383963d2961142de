//! The list itself: the runs loaded so far, newest first a page at a time,
//! and stopping the selected ones.

use crate::api::query::{StopQuery, TenantRunQuery};
use crate::api::routes;
use crate::api::runs::{RunDay, RunOrigin, RunSummary};
use crate::components::badge::StateBadge;
use crate::components::load::{loaded, Loaded};
use crate::components::time;
use crate::components::toast;
use crate::ordered::CollectOrdered;
use crate::types::{RunId, RunState};
use leptos::prelude::*;
use std::collections::BTreeSet;

/// What the page has loaded for the filters in the address, and what is
/// selected. Loads are numbered: only the latest one's answer is kept.
#[derive(Clone, Copy)]
pub(super) struct RunList {
    tenant: StoredValue<String>,
    query: Memo<TenantRunQuery>,
    pub runs: RwSignal<Vec<RunSummary>>,
    /// The cursor of the next page, when there is one.
    pub next: RwSignal<Option<String>>,
    /// The first page's answer (the runs are in `runs`).
    pub first: Loaded<()>,
    /// Runs per day, for the chart.
    pub days: Loaded<Vec<RunDay>>,
    pub selected: RwSignal<BTreeSet<String>>,
    /// What went wrong loading more or stopping.
    pub error: RwSignal<Option<String>>,
    /// When the list was loaded, for the durations of runs not ended.
    pub now: RwSignal<Option<f64>>,
    round: StoredValue<u64>,
}

impl RunList {
    pub fn new(tenant: String, query: Memo<TenantRunQuery>) -> Self {
        RunList {
            tenant: StoredValue::new(tenant),
            query,
            runs: RwSignal::new(Vec::new()),
            next: RwSignal::new(None),
            first: loaded(),
            days: loaded(),
            selected: RwSignal::new(BTreeSet::new()),
            error: RwSignal::new(None),
            now: RwSignal::new(time::now_ms()),
            round: StoredValue::new(0),
        }
    }

    /// Loads the first page, then the chart, for the filters as they are
    /// now; a selected run no longer listed is no longer selected.
    pub fn load(self) {
        let n = self.round.get_value() + 1;
        self.round.set_value(n);
        let q = self.query.get_untracked();
        let tenant = self.tenant.get_value();
        leptos::task::spawn_local(async move {
            let page = routes::tenant_runs(&tenant, &q).await;
            if self.round.try_get_value() != Some(n) {
                return;
            }
            self.now.set(time::now_ms());
            match page {
                Ok(page) => {
                    let active: BTreeSet<String> =
                        page.runs.iter().map(|r| r.id.to_string()).collect_set();
                    self.selected.update(|s| s.retain(|id| active.contains(id)));
                    self.runs.set(page.runs);
                    self.next.set(page.next);
                    self.first.set(Some(Ok(())));
                }
                Err(e) => self.first.set(Some(Err(e))),
            }
            // The chart comes after the list it sums up.
            let per_day = routes::runs_per_day(&tenant, &q).await;
            if self.round.try_get_value() == Some(n) {
                self.days.set(Some(per_day));
            }
        });
    }

    /// Adds the next page to the list.
    pub fn more(self) {
        let Some(before) = self.next.get_untracked() else {
            return;
        };
        let n = self.round.get_value();
        let q = self.query.get_untracked().page(Some(before));
        let tenant = self.tenant.get_value();
        leptos::task::spawn_local(async move {
            let page = routes::tenant_runs(&tenant, &q).await;
            if self.round.try_get_value() != Some(n) {
                return;
            }
            match page {
                Ok(page) => {
                    self.runs.update(|r| r.extend(page.runs));
                    self.next.set(page.next);
                }
                Err(e) => self.error.set(Some(e.message())),
            }
        });
    }

    /// Stops every selected run, says how many stopped and which did not,
    /// and loads the list again.
    pub fn stop_selected(self) {
        let ids: Vec<String> = self.selected.get_untracked().into_iter().collect();
        let tenant = self.tenant.get_value();
        leptos::task::spawn_local(async move {
            let mut failed = Vec::new();
            for id in &ids {
                if let Err(e) = routes::stop_run(&tenant, id, &StopQuery::default()).await {
                    failed.push(format!(
                        "{}: {}",
                        RunId::new(id.as_str()).short(),
                        e.message()
                    ));
                }
            }
            let stopped = ids.len() - failed.len();
            if stopped > 0 {
                toast::success(match stopped {
                    1 => "Stopping 1 run".to_owned(),
                    n => format!("Stopping {n} runs"),
                });
            }
            if !failed.is_empty() {
                toast::error(format!("{} not stopped", failed.len()));
            }
            let _ = self
                .error
                .try_set((!failed.is_empty()).then(|| failed.join("; ")));
            let _ = self.selected.try_set(BTreeSet::new());
            self.load();
        });
    }
}

/// The button that stops the selected runs (editors only).
#[component]
pub(super) fn StopSelected(list: RunList) -> impl IntoView {
    let selected = list.selected;
    view! {
        <div class="toolbar">
            <button data-testid="stop-selected" disabled=move || selected.with(BTreeSet::is_empty)
                on:click=move |_| list.stop_selected()>
                {move || match selected.with(BTreeSet::len) {
                    0 => "Stop selected runs".to_owned(),
                    1 => "Stop 1 run".to_owned(),
                    n => format!("Stop {n} runs"),
                }}
            </button>
        </div>
    }
}

/// The runs as a table; an editor can select the runs not yet ended.
#[component]
pub(super) fn RunTable(list: RunList, editor: bool) -> impl IntoView {
    let (selected, now) = (list.selected, list.now);
    move || {
        let list = list.runs.get();
        if list.is_empty() {
            return view! { <p class="muted" data-testid="no-runs">"No runs match these filters."</p> }.into_any();
        }
        let now = now.get();
        view! {
            <table class="list" data-testid="run-list">
                <thead><tr>
                    {editor.then(|| view! { <th><span class="sr-only">"Select"</span></th> })}
                    <th>"Run"</th><th>"Process"</th><th>"Version"</th><th>"State"</th>
                    <th>"Started by"</th><th>"Created"</th><th>"Duration"</th>
                </tr></thead>
                <tbody>
                    {list.into_iter().map(|r| {
                        let id = r.id.to_string();
                        let short = r.id.short().to_owned();
                        let stoppable = matches!(r.state, RunState::Queued | RunState::Running);
                        let pick = {
                            let id = id.clone();
                            move |ev| {
                                let on = event_target_checked(&ev);
                                let id = id.clone();
                                selected.update(|s| { if on { s.insert(id); } else { s.remove(&id); } });
                            }
                        };
                        let checked = {
                            let id = id.clone();
                            move || selected.with(|s| s.contains(&id))
                        };
                        view! {
                            <tr data-testid="run-row" data-run=id.clone() data-state=r.state.as_str()>
                                {editor.then(|| view! {
                                    <td>{stoppable.then(|| view! {
                                        <input type="checkbox" data-testid="select-run"
                                            aria-label=format!("Select run {short}")
                                            prop:checked=checked on:change=pick/>
                                    })}</td>
                                })}
                                <td><a href=format!("/runs/{id}")>{short.clone()}</a></td>
                                <td data-testid="run-process"><a href=format!("/processes/{}/runs", r.process)>{r.process_name.clone()}</a></td>
                                <td>{format!("v{}", r.version)}</td>
                                <td><StateBadge state=r.state.to_string()/></td>
                                <td data-testid="run-trigger">{started_by(&r)}</td>
                                <td class="muted">{time::seconds(&r.created_at)}</td>
                                <td data-testid="run-duration">{duration(&r, now)}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        }
        .into_any()
    }
}

/// How long a run took, or has been running (until `now`).
fn duration(run: &RunSummary, now: Option<f64>) -> String {
    let Some(start) = run.started_at.as_deref().and_then(time::epoch_ms) else {
        return String::new();
    };
    let end = match run.finished_at.as_deref() {
        Some(end) => time::epoch_ms(end),
        None => now,
    };
    end.map(|end| time::duration((end - start).max(0.0) as i64))
        .unwrap_or_default()
}

/// Who or what started a run, as a person reads it.
fn started_by(run: &RunSummary) -> String {
    let origin = run.origin();
    let by = run.created_by.clone().unwrap_or_default();
    match origin {
        RunOrigin::Manual | RunOrigin::Api if !by.is_empty() => format!("{origin} · {by}"),
        RunOrigin::Schedule | RunOrigin::Backfill => match run.scheduled_for.as_deref() {
            Some(at) => format!("{origin} · {} UTC", time::seconds(at)),
            None => origin.to_string(),
        },
        RunOrigin::Retry if !by.is_empty() => format!("{origin} · {by}"),
        _ => origin.to_string(),
    }
}
