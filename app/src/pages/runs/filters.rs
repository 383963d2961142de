//! The filters above the list, kept in the address: a filtered list is a
//! link to share.

use crate::api::processes::ProcessSummary;
use crate::api::query::TenantRunQuery;
use crate::api::runs::RunOrigin;
use crate::components::time;
use crate::types::RunState;
use leptos::prelude::*;
use leptos_router::hooks::use_navigate;
use leptos_router::NavigateOptions;

/// The filters the address holds.
pub(super) fn query_of(params: &leptos_router::params::ParamsMap) -> TenantRunQuery {
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

/// The filter form; a change navigates to the address with the new
/// filters (the list follows the address).
#[component]
pub(super) fn RunFilters(
    query: Memo<TenantRunQuery>,
    processes: RwSignal<Vec<ProcessSummary>>,
) -> impl IntoView {
    let navigate = use_navigate();
    let set: SetFilter = Callback::new(move |(name, value): (&'static str, String)| {
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
            {date_field(query, set, "From", "from", false)}
            {date_field(query, set, "To", "to", true)}
            <fieldset class="states">
                <legend>"State"</legend>
                {RunState::ALL.iter().map(|s| state_box(query, set, *s)).collect_view()}
            </fieldset>
        </form>
    }
}

/// Sets one filter in the address: its name and its value ("" for none).
type SetFilter = Callback<(&'static str, String)>;

/// One state's box: the list shows the runs in any of the states ticked.
fn state_box(query: Memo<TenantRunQuery>, set: SetFilter, state: RunState) -> impl IntoView {
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
}

/// A day field for one end of the range (`to` covers its whole day).
fn date_field(
    query: Memo<TenantRunQuery>,
    set: SetFilter,
    label: &'static str,
    name: &'static str,
    next_day: bool,
) -> impl IntoView {
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
}
