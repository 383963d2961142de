//! The tenant's runs across its processes: filters kept in the address (a
//! filtered list is a link to share), newest first a page at a time, live
//! over the tenant stream, a chart of runs per day by how they ended, and
//! stopping several runs at once for editors.

use crate::api::processes::ProcessSummary;
use crate::api::query::{StopQuery, TenantRunQuery};
use crate::api::routes;
use crate::api::runs::{RunDay, RunOrigin, RunSummary};
use crate::components::badge::StateBadge;
use crate::components::load::{alert, loaded, on_tenant_change, show};
use crate::components::time;
use crate::components::toast;
use crate::ordered::CollectOrdered;
use crate::session::{Session, WithTenant};
use crate::types::{Role, RunState};
use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_query_map};
use leptos_router::NavigateOptions;
use std::collections::BTreeSet;

#[component]
pub fn RunsPage() -> impl IntoView {
    view! {
        <h1>"Runs"</h1>
        <WithTenant children=|tenant| view! { <TenantRuns tenant/> }/>
    }
}

/// The filters the address holds.
fn query_of(params: &leptos_router::params::ParamsMap) -> TenantRunQuery {
    let text = |name: &str| params.get(name).filter(|v| !v.is_empty());
    TenantRunQuery {
        process: text("process"),
        version: text("version").and_then(|v| v.parse().ok()),
        state: text("state"),
        trigger: text("trigger"),
        started_by: text("started_by"),
        from: text("from"),
        to: text("to"),
        q: text("q"),
        before: None,
        limit: None,
    }
}

/// A date field's value (`2026-11-30`) as the start of that day in UTC;
/// the end of a range is the start of the day after.
fn day_start(day: &str, next: bool) -> Option<String> {
    let ms = time::epoch_ms(&format!("{day}T00:00:00Z"))?;
    let ms = if next { ms + 86_400_000.0 } else { ms };
    Some(time::day_of(ms)? + "T00:00:00Z")
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

#[component]
fn TenantRuns(tenant: String) -> impl IntoView {
    let params = use_query_map();
    let navigate = use_navigate();
    let query = Memo::new(move |_| params.with(query_of));
    let runs = RwSignal::new(Vec::<RunSummary>::new());
    let next = RwSignal::new(None::<String>);
    let first = loaded::<()>();
    let days = loaded::<Vec<RunDay>>();
    let processes = RwSignal::new(Vec::<ProcessSummary>::new());
    let selected = RwSignal::new(BTreeSet::<String>::new());
    let error = RwSignal::new(None::<String>);
    let editor = Session::get().can(Role::Editor);
    // Counts loads, so that only the latest one's answer is kept.
    let round = StoredValue::new(0u64);
    let now = RwSignal::new(time::now_ms());

    // Sets one filter in the address (the list follows the address).
    let set = Callback::new(move |(name, value): (&'static str, String)| {
        let mut q = query.get_untracked();
        let value = Some(value).filter(|v| !v.is_empty());
        match name {
            "process" => q.process = value,
            "state" => q.state = value,
            "trigger" => q.trigger = value,
            "started_by" => q.started_by = value,
            "from" => q.from = value,
            "to" => q.to = value,
            "q" => q.q = value,
            _ => {}
        }
        navigate(
            &format!("/runs{}", q.to_query()),
            NavigateOptions {
                replace: true,
                ..Default::default()
            },
        );
    });

    // The first page and the chart, for the filters as they are now.
    let load = {
        let tenant = tenant.clone();
        move || {
            let n = round.get_value() + 1;
            round.set_value(n);
            let q = query.get_untracked();
            let tenant = tenant.clone();
            leptos::task::spawn_local(async move {
                let page = routes::tenant_runs(&tenant, &q).await;
                if round.try_get_value() != Some(n) {
                    return;
                }
                now.set(time::now_ms());
                match page {
                    Ok(page) => {
                        let active: BTreeSet<String> =
                            page.runs.iter().map(|r| r.id.to_string()).collect_set();
                        selected.update(|s| s.retain(|id| active.contains(id)));
                        runs.set(page.runs);
                        next.set(page.next);
                        first.set(Some(Ok(())));
                    }
                    Err(e) => first.set(Some(Err(e))),
                }
                // The chart comes after the list it sums up.
                let per_day = routes::runs_per_day(&tenant, &q).await;
                if round.try_get_value() == Some(n) {
                    days.set(Some(per_day));
                }
            });
        }
    };
    {
        let load = load.clone();
        Effect::new(move |_| {
            query.track();
            load();
        });
    }
    // Live: any run of the tenant changing state reloads the list.
    on_tenant_change(&tenant, load.clone());
    {
        let tenant = tenant.clone();
        Effect::new(move |_| {
            let tenant = tenant.clone();
            leptos::task::spawn_local(async move {
                if let Ok(list) = routes::processes(&tenant).await {
                    let _ = processes.try_set(list);
                }
            });
        });
    }

    let more = {
        let tenant = tenant.clone();
        move |_| {
            let Some(before) = next.get_untracked() else {
                return;
            };
            let n = round.get_value();
            let q = query.get_untracked().page(Some(before));
            let tenant = tenant.clone();
            leptos::task::spawn_local(async move {
                let page = routes::tenant_runs(&tenant, &q).await;
                if round.try_get_value() != Some(n) {
                    return;
                }
                match page {
                    Ok(page) => {
                        runs.update(|r| r.extend(page.runs));
                        next.set(page.next);
                    }
                    Err(e) => error.set(Some(e.message())),
                }
            });
        }
    };

    let stop_selected = {
        let tenant = tenant.clone();
        let load = load.clone();
        move |_| {
            let ids: Vec<String> = selected.get_untracked().into_iter().collect();
            let tenant = tenant.clone();
            let load = load.clone();
            leptos::task::spawn_local(async move {
                let mut failed = Vec::new();
                for id in &ids {
                    if let Err(e) = routes::stop_run(&tenant, id, &StopQuery::default()).await {
                        failed.push(format!(
                            "{}: {}",
                            crate::types::RunId::new(id.as_str()).short(),
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
                let _ = error.try_set((!failed.is_empty()).then(|| failed.join("; ")));
                let _ = selected.try_set(BTreeSet::new());
                load();
            });
        }
    };

    let state_box = move |state: RunState| {
        let name = state.as_str();
        let checked = move || {
            query.with(|q| {
                q.state
                    .as_deref()
                    .unwrap_or_default()
                    .split(',')
                    .any(|s| s == name)
            })
        };
        view! {
            <label class="check">
                <input type="checkbox" data-testid=format!("filter-state-{name}") prop:checked=checked
                    on:change=move |ev| {
                        let on = event_target_checked(&ev);
                        let mut states: Vec<String> = query.get_untracked().state.unwrap_or_default()
                            .split(',').filter(|s| !s.is_empty() && *s != name).map(str::to_owned).collect();
                        if on {
                            states.push(name.to_owned());
                        }
                        set.run(("state", states.join(",")));
                    }/>
                {name}
            </label>
        }
    };
    let date_field = move |label: &'static str, name: &'static str, next_day: bool| {
        let value = move || {
            query.with(|q| {
                let at = if name == "from" { &q.from } else { &q.to };
                // The field shows the day the range covers (its last day for `to`).
                at.as_deref()
                    .and_then(time::epoch_ms)
                    .map(|ms| if next_day { ms - 1.0 } else { ms })
                    .and_then(time::day_of)
                    .unwrap_or_default()
            })
        };
        view! {
            <label>
                {label} " "
                <input type="date" data-testid=format!("filter-{name}") prop:value=value
                    on:change=move |ev| {
                        let day = event_target_value(&ev);
                        set.run((name, day_start(&day, next_day).unwrap_or_default()));
                    }/>
            </label>
        }
    };

    let table = move || {
        let list = runs.get();
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
    };

    view! {
        <form class="filters toolbar" data-testid="run-filters" on:submit=|ev| ev.prevent_default()>
            <label>
                "Search "
                <input type="search" placeholder="Process name" data-testid="filter-q"
                    prop:value=move || query.with(|q| q.q.clone().unwrap_or_default())
                    on:change=move |ev| set.run(("q", event_target_value(&ev)))/>
            </label>
            <label>
                "Process "
                <select data-testid="filter-process" on:change=move |ev| set.run(("process", event_target_value(&ev)))>
                    <option value="">"all"</option>
                    {move || {
                        let current = query.with(|q| q.process.clone().unwrap_or_default());
                        processes.get().into_iter().map(|p| {
                            let id = p.id.to_string();
                            let chosen = id == current;
                            view! { <option value=id selected=chosen>{p.name}</option> }
                        }).collect_view()
                    }}
                </select>
            </label>
            <label>
                "Trigger "
                <select data-testid="filter-trigger" on:change=move |ev| set.run(("trigger", event_target_value(&ev)))>
                    <option value="">"any"</option>
                    {move || {
                        let current = query.with(|q| q.trigger.clone().unwrap_or_default());
                        RunOrigin::ALL.iter().map(|o| {
                            let chosen = o.as_str() == current;
                            view! { <option value=o.as_str() selected=chosen>{o.as_str()}</option> }
                        }).collect_view()
                    }}
                </select>
            </label>
            <label>
                "Started by "
                <input data-testid="filter-started-by" placeholder="username"
                    prop:value=move || query.with(|q| q.started_by.clone().unwrap_or_default())
                    on:change=move |ev| set.run(("started_by", event_target_value(&ev)))/>
            </label>
            {date_field("From", "from", false)}
            {date_field("To", "to", true)}
            <fieldset class="states">
                <legend>"State"</legend>
                {RunState::ALL.iter().map(|s| state_box(*s)).collect_view()}
            </fieldset>
        </form>
        {show(days, move |days| {
            let (from, to) = query.with_untracked(|q| (q.from.clone(), q.to.clone()));
            view! { <RunsChart days=every_day(days, from.as_deref(), to.as_deref(), now.get_untracked())/> }
        })}
        {move || error.get().map(alert)}
        {editor.then(|| view! {
            <div class="toolbar">
                <button data-testid="stop-selected" disabled=move || selected.with(BTreeSet::is_empty)
                    on:click=stop_selected.clone()>
                    {move || match selected.with(BTreeSet::len) {
                        0 => "Stop selected runs".to_owned(),
                        1 => "Stop 1 run".to_owned(),
                        n => format!("Stop {n} runs"),
                    }}
                </button>
            </div>
        })}
        {show(first, move |()| table())}
        {move || next.get().is_some().then(|| view! {
            <button data-testid="more-runs" on:click=more.clone()>"Load more"</button>
        })}
    }
}

/// `days` with the days of the range that had no runs, in order: from
/// `from` (or 30 days before `now`) to the day before `to` (or `now`'s).
fn every_day(
    days: Vec<RunDay>,
    from: Option<&str>,
    to: Option<&str>,
    now: Option<f64>,
) -> Vec<RunDay> {
    const DAY: f64 = 86_400_000.0;
    let first = from
        .and_then(time::epoch_ms)
        .or_else(|| now.map(|n| n - 30.0 * DAY));
    let last = to.and_then(time::epoch_ms).map(|t| t - 1.0).or(now);
    let (Some(first), Some(last)) = (first, last) else {
        return days;
    };
    // A range too long to draw day by day keeps its days with runs.
    if last < first || last - first > 400.0 * DAY {
        return days;
    }
    let mut had: std::collections::BTreeMap<String, RunDay> =
        days.into_iter().map(|d| (d.day.clone(), d)).collect_map();
    let mut at = first;
    while at <= last {
        if let Some(day) = time::day_of(at) {
            had.entry(day.clone()).or_insert(RunDay {
                day,
                ..Default::default()
            });
        }
        at += DAY;
    }
    had.into_values().collect()
}

/// Runs per day as stacked bars (succeeded, failed, cancelled, not ended).
#[component]
fn RunsChart(days: Vec<RunDay>) -> impl IntoView {
    if days
        .iter()
        .all(|d| d.succeeded + d.failed + d.cancelled + d.active == 0)
    {
        return view! { <p class="muted" data-testid="runs-chart-empty">"No runs in this range."</p> }
            .into_any();
    }
    let (bar, gap, height) = (14.0, 4.0, 80.0);
    let total = |d: &RunDay| d.succeeded + d.failed + d.cancelled + d.active;
    let top = days.iter().map(total).max().unwrap_or(1).max(1) as f64;
    let width = days.len() as f64 * (bar + gap);
    let label = format!(
        "Runs per day, {} to {}",
        days.first().map(|d| d.day.as_str()).unwrap_or_default(),
        days.last().map(|d| d.day.as_str()).unwrap_or_default()
    );
    let bars = days
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let x = i as f64 * (bar + gap);
            let mut y = height;
            let parts = [
                ("succeeded", d.succeeded),
                ("failed", d.failed),
                ("cancelled", d.cancelled),
                ("running", d.active),
            ]
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .map(|(class, n)| {
                let h = n as f64 / top * height;
                y -= h;
                view! { <rect class=format!("bar state-{class}") x=x y=y width=bar height=h/> }
            })
            .collect_view();
            let title = format!(
                "{}: {} succeeded, {} failed, {} cancelled, {} not ended",
                d.day, d.succeeded, d.failed, d.cancelled, d.active
            );
            view! { <g data-testid="runs-chart-day" data-day=d.day.clone()><title>{title}</title>{parts}</g> }
        })
        .collect_view();
    view! {
        <figure class="runs-chart" data-testid="runs-chart">
            <svg role="img" aria-label=label.clone() viewBox=format!("0 0 {width} {height}")
                width=width height=height>
                {bars}
            </svg>
            <figcaption class="muted">
                {label} " · "
                <span class="legend state-succeeded">"succeeded"</span> " "
                <span class="legend state-failed">"failed"</span> " "
                <span class="legend state-cancelled">"cancelled"</span> " "
                <span class="legend state-running">"not ended"</span>
            </figcaption>
        </figure>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_field_becomes_the_range_of_whole_utc_days() {
        assert_eq!(
            day_start("2026-11-30", false).as_deref(),
            Some("2026-11-30T00:00:00Z")
        );
        assert_eq!(
            day_start("2026-11-30", true).as_deref(),
            Some("2026-12-01T00:00:00Z")
        );
        assert_eq!(
            day_start("2024-02-28", true).as_deref(),
            Some("2024-02-29T00:00:00Z")
        );
        assert_eq!(day_start("nonsense", false), None);
    }

    #[test]
    fn the_chart_shows_every_day_of_the_range() {
        let ran = RunDay {
            day: "2026-11-29".into(),
            failed: 2,
            ..Default::default()
        };
        let days = every_day(
            vec![ran.clone()],
            Some("2026-11-28T00:00:00Z"),
            Some("2026-12-01T00:00:00Z"),
            None,
        );
        let names: Vec<&str> = days.iter().map(|d| d.day.as_str()).collect();
        assert_eq!(names, ["2026-11-28", "2026-11-29", "2026-11-30"]);
        assert_eq!(days[1], ran);
        // No range known (no clock on the server): the days with runs.
        assert_eq!(every_day(vec![ran.clone()], None, None, None), vec![ran]);
    }
}
