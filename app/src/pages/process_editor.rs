//! The process editor: palette, canvas, the selected node's parameters, the
//! problems of the whole graph, where it runs and the parameters it takes,
//! autosave, publish and run.

mod catalog_changes;
mod deployment;
mod palette;
mod parameters;
mod problems;
mod publish;
mod read_only;
mod run_form;
mod runs_on;
mod save;
mod toolbar;

use crate::api::processes::Process;
use crate::api::routes;
use crate::components::canvas::EditCanvas;
use crate::components::catalog_context::TenantCatalog;
use crate::components::load::{fetch, loaded, show};
use crate::components::node_panel::NodePanel;
use crate::components::tabs::{ProcessTab, ProcessTabs};
use crate::editor::{Action, Editor, Outcome};
use crate::ordered::CollectOrdered;
use crate::session::{Session, WithTenant};
use crate::types::component::ComponentType;
use crate::types::{ComponentKey, Role};
use catalog_changes::CatalogChanges;
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;
use palette::Palette;
use parameters::ParametersPanel;
use problems::{problems_of, Problems};
use publish::PublishPanel;
use read_only::ProcessReadOnly;
use runs_on::RunsOn;
use save::{Autosave, SaveState};
use std::collections::{BTreeMap, BTreeSet};
use toolbar::Toolbar;

#[component]
pub fn EditorPage() -> impl IntoView {
    let params = use_params_map();
    view! {
        <WithTenant children=move |tenant| {
            let id = params.with(|p| p.get("id").unwrap_or_default());
            view! { <EditorLoader tenant id/> }
        }/>
    }
}

#[component]
fn EditorLoader(tenant: String, id: String) -> impl IntoView {
    let process = loaded::<Process>();
    {
        let (tenant, id) = (tenant.clone(), id.clone());
        Effect::new(move |_| {
            let (tenant, id) = (tenant.clone(), id.clone());
            fetch(process, async move { routes::process(&tenant, &id).await });
        });
    }
    let catalog = TenantCatalog::get().list;
    show(process, move |process| {
        let tenant = tenant.clone();
        show(catalog, move |catalog| {
            let process = process.clone();
            if Session::get().can(Role::Editor) {
                view! { <ProcessEditor tenant=tenant.clone() process catalog/> }.into_any()
            } else {
                view! { <ProcessReadOnly process catalog/> }.into_any()
            }
        })
    })
}

#[component]
fn ProcessEditor(tenant: String, process: Process, catalog: Vec<ComponentType>) -> impl IntoView {
    let process_id = process.id.to_string();
    let editor = RwSignal::new(Editor::new(process.graph.clone()));
    let autosave = Autosave::new(tenant.clone(), process_id.clone(), editor, process.revision);
    let notice = RwSignal::new(None::<String>);
    let palette_drag = RwSignal::new(None::<ComponentKey>);
    let latest = RwSignal::new(process.latest_version);
    let catalog = StoredValue::new(catalog);
    let names: Signal<BTreeMap<ComponentKey, String>> = Signal::derive(move || {
        catalog.with_value(|c| {
            c.iter()
                .map(|c| (c.key.clone(), c.name.clone()))
                .collect_map()
        })
    });
    let problems = problems_of(editor, catalog);
    let flagged: Signal<BTreeSet<String>> = Signal::derive(move || {
        problems.with(|p| p.iter().filter_map(|e| e.node.clone()).collect_set())
    });

    let dispatch = Callback::new(move |action: Action| {
        let mut outcome = Outcome::Unchanged;
        editor.update(|e| outcome = e.apply(action));
        match &outcome {
            Outcome::Refused(message) => notice.set(Some(message.clone())),
            Outcome::Changed => {
                notice.set(None);
                autosave.changed();
            }
            _ => {}
        }
        outcome
    });

    view! {
        <div class="editor" data-testid="editor">
            <div class="editor-head">
                <h1>{process.name.clone()}</h1>
                <ProcessTabs id=process_id.clone() current=ProcessTab::Editor/>
                <SaveState autosave/>
            </div>
            <Toolbar editor dispatch/>
            <p class="phone-only muted" data-testid="phone-hint">
                "On a small screen the canvas is for viewing and running; edit it on a larger one."
            </p>
            {move || notice.get().map(|n| view! { <p class="notice" role="alert" data-testid="notice">{n}</p> })}
            <div class="editor-body">
                <Palette catalog=catalog.get_value() palette_drag editor dispatch/>
                <EditCanvas editor dispatch names flagged palette_drag/>
                <aside class="side">
                    <NodePanel editor dispatch catalog problems/>
                    <Problems problems dispatch/>
                    <RunsOn tenant=tenant.clone() editor dispatch/>
                    <ParametersPanel editor dispatch problems/>
                    <CatalogChanges tenant=tenant.clone() process_id=process_id.clone() latest editor catalog/>
                    <PublishPanel tenant process_id problems autosave latest/>
                </aside>
            </div>
        </div>
    }
}
