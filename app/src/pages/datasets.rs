//! Every dataset of the tenant, and one in detail (`/datasets?name=…`, a
//! link to share): its schema, size and who wrote it, a preview, rejected
//! rows, the latest quality report, downloads as CSV or JSON Lines, and its
//! lineage — the processes that write it and those that read it.

use crate::api::datasets::{Dataset, DatasetDetail, DatasetUse, Lineage};
use crate::api::routes;
use crate::components::bytes::human;
use crate::components::load::{fetch, loaded, show};
use crate::components::time;
use crate::session::WithTenant;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use serde_json::Value;

#[component]
pub fn DatasetsPage() -> impl IntoView {
    view! {
        <h1>"Datasets"</h1>
        <p class="muted">"What the data steps wrote: each dataset with its schema, a preview, what it rejected and how its last quality check went."</p>
        <WithTenant children=|tenant| view! { <Datasets tenant/> }/>
    }
}

#[component]
fn Datasets(tenant: String) -> impl IntoView {
    let list = loaded::<Vec<Dataset>>();
    {
        let tenant = tenant.clone();
        Effect::new(move |_| {
            let tenant = tenant.clone();
            fetch(list, async move { routes::datasets(&tenant).await });
        });
    }
    let query = use_query_map();
    let selected = Memo::new(move |_| query.with(|q| q.get("name")));
    let table_tenant = tenant.clone();
    view! {
        {show(list, move |all: Vec<Dataset>| {
            if all.is_empty() {
                return view! {
                    <p class="muted" data-testid="datasets-empty">
                        "No datasets yet: a run of a process with an Ingest file step writes the first one."
                    </p>
                }.into_any();
            }
            let _ = &table_tenant;
            view! {
                <table class="list" data-testid="dataset-list">
                    <thead><tr><th>"Dataset"</th><th>"Rows"</th><th>"Size"</th><th>"Rejected"</th><th>"Written"</th><th>"By run"</th></tr></thead>
                    <tbody>
                        {all.into_iter().map(|d| {
                            let name = d.name.clone();
                            let current = name.clone();
                            view! {
                                <tr data-testid="dataset-row" data-name=name.clone()
                                    class=move || if selected.get().as_deref() == Some(current.as_str()) { "selected" } else { "" }>
                                    <td><a href=format!("/datasets?name={name}") data-testid="dataset-open">{name.clone()}</a></td>
                                    <td>{d.rows}</td>
                                    <td>{human(d.size_bytes)}</td>
                                    <td>{d.rejected_rows}</td>
                                    <td class="muted">{time::seconds(&d.created_at)}</td>
                                    <td>{d.produced_by.map(|p| view! {
                                        <a href=format!("/runs/{}", p.run) title=format!("node {}", p.node)>{p.run.short().to_owned()}</a>
                                    })}</td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            }.into_any()
        })}
        {move || selected.get().map(|name| {
            let tenant = tenant.clone();
            view! { <DatasetView tenant name/> }
        })}
    }
}

#[component]
fn DatasetView(tenant: String, name: String) -> impl IntoView {
    let detail = loaded::<DatasetDetail>();
    let lineage = loaded::<Lineage>();
    {
        let (tenant, name) = (tenant.clone(), name.clone());
        fetch(detail, async move { routes::dataset(&tenant, &name).await });
    }
    {
        let (tenant, name) = (tenant.clone(), name.clone());
        fetch(lineage, async move {
            routes::dataset_lineage(&tenant, &name).await
        });
    }
    let csv = routes::dataset_download_href(&tenant, &name, "csv");
    let jsonl = routes::dataset_download_href(&tenant, &name, "jsonl");
    let graph_name = name.clone();
    view! {
        <section class="panel dataset" data-testid="dataset-detail">
            <h2>{name.clone()}</h2>
            <p class="toolbar">
                "Download: "
                <a href=csv rel="external" download data-testid="download-csv">"CSV"</a>
                " · "
                <a href=jsonl rel="external" download data-testid="download-jsonl">"JSON Lines"</a>
            </p>
            <h3>"Lineage"</h3>
            {show(lineage, move |l: Lineage| view! { <LineageGraph name=graph_name.clone() lineage=l/> })}
            {show(detail, |d: DatasetDetail| view! {
                <p class="muted" data-testid="dataset-facts">
                    {format!("{} rows · {} · {} rejected · written {}", d.dataset.rows, human(d.dataset.size_bytes),
                        d.dataset.rejected_rows, time::seconds(&d.dataset.created_at))}
                </p>
                <h3>"Schema"</h3>
                <table class="list" data-testid="dataset-schema">
                    <thead><tr><th>"Column"</th><th>"Type"</th><th>"Empty values"</th></tr></thead>
                    <tbody>
                        {d.dataset.columns.iter().map(|c| view! {
                            <tr><td>{c.name.clone()}</td><td>{c.column_type.as_str()}</td><td>{c.nulls}</td></tr>
                        }).collect_view()}
                    </tbody>
                </table>
                <h3>{format!("Preview (first {} rows)", d.preview.len())}</h3>
                <div class="preview">
                    <table class="list" data-testid="dataset-preview">
                        <thead><tr>{d.dataset.columns.iter().map(|c| view! { <th>{c.name.clone()}</th> }).collect_view()}</tr></thead>
                        <tbody>
                            {d.preview.iter().map(|row| view! {
                                <tr>{row.iter().map(|v| view! { <td>{cell(v)}</td> }).collect_view()}</tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                </div>
                {(!d.rejects.is_empty()).then(|| view! {
                    <h3>"Rejected rows"</h3>
                    <table class="list" data-testid="dataset-rejects">
                        <thead><tr><th>"Line"</th><th>"Why"</th><th>"Row"</th></tr></thead>
                        <tbody>
                            {d.rejects.iter().map(|r| view! {
                                <tr><td>{r.line}</td><td>{r.reason.clone()}</td><td><code>{r.raw.clone()}</code></td></tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                })}
                {d.quality.map(|q| view! { <Quality report=q/> })}
            })}
        </section>
    }
}

fn cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The latest quality report: each rule, how many rows broke it, passed or not.
#[component]
fn Quality(report: Value) -> impl IntoView {
    let passed = report["passed"].as_bool().unwrap_or(false);
    let rules = report["rules"].as_array().cloned().unwrap_or_default();
    view! {
        <h3>"Latest quality check"</h3>
        <p data-testid="quality-summary" class=if passed { "ok" } else { "error" }>
            {format!("{} (threshold {}), checked {}", if passed { "Passed" } else { "Failed" },
                report["threshold"].as_str().unwrap_or(""), time::seconds(report["checked_at"].as_str().unwrap_or("")))}
        </p>
        <table class="list" data-testid="quality-rules">
            <thead><tr><th>"Rule"</th><th>"Rows checked"</th><th>"Violations"</th><th>"Result"</th></tr></thead>
            <tbody>
                {rules.into_iter().map(|r| view! {
                    <tr>
                        <td><code>{r["rule"].as_str().unwrap_or("").to_owned()}</code></td>
                        <td>{r["checked"].to_string()}</td>
                        <td>{format!("{} ({}%)", r["violations"], r["violation_percent"])}</td>
                        <td>{if r["passed"].as_bool().unwrap_or(false) { "passed" } else { "failed" }}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}

/// Writers on the left, the dataset in the middle, readers on the right,
/// each process a link to it.
#[component]
fn LineageGraph(name: String, lineage: Lineage) -> impl IntoView {
    if lineage.writers.is_empty() && lineage.readers.is_empty() {
        return view! {
            <p class="muted" data-testid="lineage-none">"No process's latest version names this dataset."</p>
        }
        .into_any();
    }
    let side = |uses: Vec<DatasetUse>, testid: &'static str, none: &'static str| {
        if uses.is_empty() {
            return view! { <ul class="lineage-side"><li class="muted">{none}</li></ul> }
                .into_any();
        }
        view! {
            <ul class="lineage-side">
                {uses.into_iter().map(|u| view! {
                    <li>
                        <a class="lineage-process" data-testid=testid href=format!("/processes/{}", u.process)
                            title=u.component.clone()>
                            {format!("{} v{} · {}", u.process_name, u.version, u.node)}
                        </a>
                    </li>
                }).collect_view()}
            </ul>
        }
        .into_any()
    };
    let label = format!(
        "Lineage of {name}: written by {}, read by {}",
        lineage.writers.len(),
        lineage.readers.len()
    );
    view! {
        <div class="lineage" data-testid="lineage" role="group" aria-label=label>
            {side(lineage.writers, "lineage-writer", "no process writes it")}
            <span class="lineage-arrow" aria-hidden="true">"→"</span>
            <span class="lineage-dataset">{name}</span>
            <span class="lineage-arrow" aria-hidden="true">"→"</span>
            {side(lineage.readers, "lineage-reader", "no process reads it")}
        </div>
    }
    .into_any()
}
