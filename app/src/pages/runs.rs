//! The tenant's runs across its processes: filters kept in the address (a
//! filtered list is a link to share), newest first a page at a time, live
//! over the tenant stream, a chart of runs per day by how they ended, and
//! stopping several runs at once for editors.

mod chart;
mod filters;
mod list;

use crate::api::processes::ProcessSummary;
use crate::api::routes;
use crate::components::load::{alert, on_tenant_change, show};
use crate::session::{Session, WithTenant};
use crate::types::Role;
use chart::{every_day, RunsChart};
use filters::{query_of, RunFilters};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use list::{RunList, RunTable, StopSelected};

#[component]
pub fn RunsPage() -> impl IntoView {
    view! {
        <h1>"Runs"</h1>
        <WithTenant children=|tenant| view! { <TenantRuns tenant/> }/>
    }
}

#[component]
fn TenantRuns(tenant: String) -> impl IntoView {
    let params = use_query_map();
    let query = Memo::new(move |_| params.with(query_of));
    let list = RunList::new(tenant.clone(), query);
    let processes = RwSignal::new(Vec::<ProcessSummary>::new());
    let editor = Session::get().can(Role::Editor);

    // The list follows the address, and any run of the tenant changing
    // state.
    Effect::new(move |_| {
        query.track();
        list.load();
    });
    on_tenant_change(&tenant, move || list.load());
    Effect::new(move |_| {
        let tenant = tenant.clone();
        leptos::task::spawn_local(async move {
            if let Ok(found) = routes::processes(&tenant).await {
                let _ = processes.try_set(found);
            }
        });
    });

    view! {
        <RunFilters query processes/>
        {show(list.days, move |days| {
            let (from, to) = query.with_untracked(|q| (q.from.clone(), q.to.clone()));
            view! { <RunsChart days=every_day(days, from.as_deref(), to.as_deref(), list.now.get_untracked())/> }
        })}
        {move || list.error.get().map(alert)}
        {editor.then(|| view! { <StopSelected list/> })}
        {show(list.first, move |()| view! { <RunTable list editor/> })}
        {move || list.next.get().is_some().then(|| view! {
            <button data-testid="more-runs" on:click=move |_| list.more()>"Load more"</button>
        })}
    }
}
