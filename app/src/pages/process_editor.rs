//! The process editor: palette, canvas, the selected node's parameters, the
//! problems of the whole graph, autosave, publish and run.

use crate::api::connections::Connection;
use crate::api::processes::{DeployState, Deployment, Process, PublishRequest, UpdateProcess};
use crate::api::routes;
use crate::api::runs::StartRun;
use crate::api::FieldError;
use crate::components::canvas::EditCanvas;
use crate::components::catalog_context::TenantCatalog;
use crate::components::load::{alert_with, fetch, loaded, show};
use crate::components::node_panel::NodePanel;
use crate::components::tabs::{ProcessTab, ProcessTabs};
use crate::editor::{Action, Editor, Outcome, NODE_HEIGHT, NODE_WIDTH};
use crate::session::{Session, WithTenant};
use crate::types::component::ComponentType;
use crate::types::graph::Orchestrator;
use crate::types::graph::Position;
use crate::types::{ConnectionId, Role};
use crate::validate::{validate_graph, Limits};
use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_params_map};
use leptos_router::NavigateOptions;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

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

/// What a viewer sees of a process: its draft, drawn, without the means to
/// change, publish or run it.
#[component]
fn ProcessReadOnly(process: Process, catalog: Vec<ComponentType>) -> impl IntoView {
    let names: BTreeMap<String, String> = catalog.into_iter().map(|c| (c.key, c.name)).collect();
    let selected = RwSignal::new(None::<String>);
    view! {
        <div class="editor" data-testid="process-readonly">
            <div class="editor-head">
                <h1>{process.name.clone()}</h1>
                <ProcessTabs id=process.id.to_string() current=ProcessTab::Editor/>
            </div>
            <p class="notice" data-testid="read-only-note">
                "You can look at this process. Changing, publishing and running it need the editor role."
            </p>
            <crate::components::canvas::GraphView
                graph=Signal::derive(move || process.graph.clone())
                states=Signal::derive(BTreeMap::new)
                names=Signal::derive(move || names.clone())
                selected=selected
                on_select=Callback::new(move |id| selected.set(Some(id)))
            />
        </div>
    }
}

/// Where the draft stands against the server.
#[derive(Clone, Debug, PartialEq)]
enum Save {
    Saved,
    Pending,
    Saving,
    /// Someone else saved first; our graph is kept here.
    Conflict(String),
    Failed(String),
}

#[component]
fn ProcessEditor(tenant: String, process: Process, catalog: Vec<ComponentType>) -> impl IntoView {
    let process_id = process.id.to_string();
    let editor = RwSignal::new(Editor::new(process.graph.clone()));
    let revision = RwSignal::new(process.revision);
    let save = RwSignal::new(Save::Saved);
    let notice = RwSignal::new(None::<String>);
    let palette_drag = RwSignal::new(None::<String>);
    let latest = RwSignal::new(process.latest_version);
    let catalog = StoredValue::new(catalog);
    let names: Signal<BTreeMap<String, String>> = Signal::derive(move || {
        catalog.with_value(|c| c.iter().map(|c| (c.key.clone(), c.name.clone())).collect())
    });
    // Moving nodes changes nothing validation looks at; only re-validate when
    // something else changed.
    let structure = Memo::new(move |_| {
        editor.with(|e| {
            let mut g = e.graph.clone();
            for n in &mut g.nodes {
                n.position = Position::default();
            }
            g
        })
    });
    let problems: Memo<Vec<FieldError>> = Memo::new(move |_| {
        structure.with(|g| catalog.with_value(|c| validate_graph(g, c, &Limits::default())))
    });
    let flagged: Signal<BTreeSet<String>> = Signal::derive(move || {
        problems.with(|p| p.iter().filter_map(|e| e.node.clone()).collect())
    });

    // Saves the draft unless a newer change is waiting to be saved.
    let save_now = {
        let (tenant, id) = (tenant.clone(), process_id.clone());
        move |force: bool| {
            let (tenant, id) = (tenant.clone(), id.clone());
            let (graph, changes) = editor.with_untracked(|e| (e.graph.clone(), e.changes));
            save.set(Save::Saving);
            leptos::task::spawn_local(async move {
                let body = UpdateProcess {
                    revision: revision.get_untracked(),
                    name: None,
                    description: None,
                    graph: Some(graph),
                };
                let body = if force {
                    match routes::process(&tenant, &id).await {
                        Ok(p) => UpdateProcess {
                            revision: p.revision,
                            ..body
                        },
                        Err(e) => {
                            save.set(Save::Failed(e.message()));
                            return;
                        }
                    }
                } else {
                    body
                };
                match routes::update_process(&tenant, &id, &body).await {
                    Ok(p) => {
                        revision.set(p.revision);
                        let newer = editor.with_untracked(|e| e.changes) != changes;
                        save.set(if newer { Save::Pending } else { Save::Saved });
                    }
                    Err(e) if e.status == 409 => save.set(Save::Conflict(e.message())),
                    Err(e) => save.set(Save::Failed(e.message())),
                }
            });
        }
    };
    let save_now = StoredValue::new(save_now);

    let dispatch = Callback::new(move |action: Action| {
        let mut outcome = Outcome::Unchanged;
        editor.update(|e| outcome = e.apply(action));
        match &outcome {
            Outcome::Refused(message) => notice.set(Some(message.clone())),
            Outcome::Changed => {
                notice.set(None);
                if !matches!(save.get_untracked(), Save::Conflict(_)) {
                    save.set(Save::Pending);
                    let changes = editor.with_untracked(|e| e.changes);
                    set_timeout(
                        move || {
                            let still = editor.with_untracked(|e| e.changes) == changes;
                            if still && save.get_untracked() == Save::Pending {
                                save_now.with_value(|s| s(false));
                            }
                        },
                        Duration::from_millis(400),
                    );
                }
            }
            _ => {}
        }
        outcome
    });

    let add_at_center = move |key: String| {
        let (width, height) = canvas_size();
        let at = editor.with_untracked(|e| {
            let (x, y) = e.viewport.to_canvas(width / 2.0, height / 2.0);
            let n = e.graph.nodes.len() as f64;
            Position {
                x: x - NODE_WIDTH / 2.0 + 12.0 * (n % 5.0),
                y: y - NODE_HEIGHT / 2.0 + 12.0 * (n % 5.0),
            }
        });
        dispatch.run(Action::AddNode {
            component: key,
            at,
            params: Default::default(),
        });
    };

    view! {
        <div class="editor" data-testid="editor">
            <div class="editor-head">
                <h1>{process.name.clone()}</h1>
                <ProcessTabs id=process_id.clone() current=ProcessTab::Editor/>
                <SaveState save revision on_overwrite=Callback::new(move |_| save_now.with_value(|s| s(true)))/>
            </div>
            <Toolbar editor dispatch/>
            {move || notice.get().map(|n| view! { <p class="notice" role="alert" data-testid="notice">{n}</p> })}
            <div class="editor-body">
                <Palette catalog=catalog.get_value() palette_drag on_add=Callback::new(add_at_center)/>
                <EditCanvas editor dispatch names flagged palette_drag/>
                <aside class="side">
                    <NodePanel editor dispatch catalog problems/>
                    <Problems problems dispatch/>
                    <RunsOn tenant=tenant.clone() editor dispatch/>
                    <PublishPanel
                        tenant=tenant.clone()
                        process_id=process_id.clone()
                        problems
                        save
                        latest
                        on_save=Callback::new(move |_| save_now.with_value(|s| s(false)))
                    />
                </aside>
            </div>
        </div>
    }
}

#[component]
fn SaveState(
    save: RwSignal<Save>,
    revision: RwSignal<i64>,
    on_overwrite: Callback<()>,
) -> impl IntoView {
    move || {
        match save.get() {
        Save::Saved => view! { <span class="save muted" data-testid="save-state">{format!("Saved (revision {})", revision.get())}</span> }.into_any(),
        Save::Pending | Save::Saving => view! { <span class="save muted" data-testid="save-state">"Saving…"</span> }.into_any(),
        Save::Failed(e) => view! { <span class="save error" role="alert" data-testid="save-state">{format!("Not saved: {e}")}</span> }.into_any(),
        Save::Conflict(e) => view! {
            <span class="save error" role="alert" data-testid="save-state">
                {format!("Not saved: {e}. Your changes are still here. ")}
                <button data-testid="overwrite" on:click=move |_| on_overwrite.run(())>"Save mine over theirs"</button>
            </span>
        }
        .into_any(),
    }
    }
}

/// The canvas's size on screen, for actions that depend on it.
fn canvas_size() -> (f64, f64) {
    document()
        .query_selector("[data-testid=canvas]")
        .ok()
        .flatten()
        .map(|el| {
            let r = el.get_bounding_client_rect();
            (r.width(), r.height())
        })
        .unwrap_or((800.0, 480.0))
}

/// Fills in the canvas size for the actions that need it.
fn sized(action: Action) -> Action {
    let (width, height) = canvas_size();
    match action {
        Action::FitToView { .. } => Action::FitToView { width, height },
        Action::Zoom { factor, .. } => Action::Zoom {
            factor,
            x: width / 2.0,
            y: height / 2.0,
        },
        other => other,
    }
}

#[component]
fn Toolbar(editor: RwSignal<Editor>, dispatch: Callback<Action, Outcome>) -> impl IntoView {
    let button = move |label: &'static str,
                       testid: &'static str,
                       action: Action,
                       enabled: Signal<bool>| {
        view! {
            <button data-testid=testid disabled=move || !enabled.get() on:click=move |_| { dispatch.run(sized(action.clone())); }>
                {label}
            </button>
        }
    };
    let always = Signal::derive(|| true);
    let can_undo = Signal::derive(move || editor.with(|e| e.can_undo()));
    let can_redo = Signal::derive(move || editor.with(|e| e.can_redo()));
    let selected = Signal::derive(move || editor.with(|e| !e.selection.is_empty()));
    let can_paste = Signal::derive(move || editor.with(|e| e.can_paste()));
    view! {
        <div class="toolbar" role="toolbar" aria-label="Editing">
            {button("Undo", "undo", Action::Undo, can_undo)}
            {button("Redo", "redo", Action::Redo, can_redo)}
            {button("Delete", "delete", Action::DeleteSelection, selected)}
            {button("Copy", "copy", Action::Copy, selected)}
            {button("Paste", "paste", Action::Paste { dx: 24.0, dy: 24.0 }, can_paste)}
            {button("Zoom in", "zoom-in", Action::Zoom { factor: 1.2, x: 400.0, y: 200.0 }, always)}
            {button("Zoom out", "zoom-out", Action::Zoom { factor: 1.0 / 1.2, x: 400.0, y: 200.0 }, always)}
            {button("Fit", "fit", Action::FitToView { width: 800.0, height: 480.0 }, always)}
            {button("Auto layout", "auto-layout", Action::AutoLayout, always)}
        </div>
    }
    .into_any()
}

#[component]
fn Palette(
    catalog: Vec<ComponentType>,
    palette_drag: RwSignal<Option<String>>,
    on_add: Callback<String>,
) -> impl IntoView {
    let search = RwSignal::new(String::new());
    let catalog = StoredValue::new(catalog);
    let groups = move || {
        let needle = search.get().to_lowercase();
        let mut groups: BTreeMap<String, Vec<ComponentType>> = BTreeMap::new();
        catalog.with_value(|c| {
            for component in c {
                let hay = format!(
                    "{} {} {}",
                    component.name, component.key, component.description
                )
                .to_lowercase();
                if needle.is_empty() || hay.contains(&needle) {
                    groups
                        .entry(component.category.clone())
                        .or_default()
                        .push(component.clone());
                }
            }
        });
        groups
            .into_iter()
            .map(|(category, items)| {
                view! {
                    <h3>{category}</h3>
                    <ul>
                        {items
                            .into_iter()
                            .map(|c| {
                                let key = c.key.clone();
                                let key_for_drag = c.key.clone();
                                view! {
                                    <li>
                                        <button
                                            class="palette-item"
                                            title=c.description.clone()
                                            data-testid=format!("palette-{}", c.key)
                                            on:pointerdown=move |_| palette_drag.set(Some(key_for_drag.clone()))
                                            on:click=move |_| {
                                                palette_drag.set(None);
                                                on_add.run(key.clone());
                                            }
                                        >
                                            {c.name.clone()}
                                        </button>
                                    </li>
                                }
                            })
                            .collect_view()}
                    </ul>
                }
            })
            .collect_view()
    };
    view! {
        <nav class="palette" aria-label="Components" data-testid="palette">
            <input
                type="search"
                placeholder="Search components"
                aria-label="Search components"
                prop:value=move || search.get()
                on:input=move |ev| search.set(event_target_value(&ev))
            />
            {groups}
        </nav>
    }
    .into_any()
}

#[component]
fn Problems(problems: Memo<Vec<FieldError>>, dispatch: Callback<Action, Outcome>) -> impl IntoView {
    move || {
        let list = problems.get();
        if list.is_empty() {
            return view! { <section class="panel" data-testid="problems"><p class="ok">"No problems."</p></section> }.into_any();
        }
        view! {
            <section class="panel" data-testid="problems">
                <h2>{format!("Problems ({})", list.len())}</h2>
                <ul>
                    {list.into_iter().map(|p| {
                        let node = p.node.clone();
                        view! {
                            <li data-testid="problem">
                                <button class="link" on:click=move |_| {
                                    if let Some(id) = node.clone() {
                                        dispatch.run(Action::SelectNode { id, additive: false });
                                    }
                                }>
                                    {p.node.clone().map(|n| format!("{n}: ")).unwrap_or_default()}{p.message.clone()}
                                </button>
                            </li>
                        }
                    }).collect_view()}
                </ul>
            </section>
        }
        .into_any()
    }
}

/// Where the process runs: the embedded engine, a connection's EMR cluster,
/// or that cluster with Airflow orchestrating (`airflow:<connection>`).
#[component]
fn RunsOn(
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
                        let (connection, orchestrator) = match value.strip_prefix("airflow:") {
                            Some(c) => (Some(ConnectionId::from(c)), Some(Orchestrator::Airflow)),
                            None => (Some(value).filter(|v| !v.is_empty()).map(ConnectionId::from), None),
                        };
                        dispatch.run(Action::SetRunsOn { connection, orchestrator });
                    }>
                    <option value="" selected=move || current().is_empty()>"The embedded engine (this server)"</option>
                    {move || connections.get().and_then(Result::ok).unwrap_or_default().into_iter().map(|c| {
                        let emr = c.id.to_string();
                        let airflow = format!("airflow:{}", c.id);
                        let on_airflow = airflow.clone();
                        view! {
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

/// Reads version `n`'s deployment into `deployment`, again every second
/// while Airflow has not parsed it and `n` is still the latest version.
fn follow_deployment(
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

#[component]
fn PublishPanel(
    tenant: String,
    process_id: String,
    problems: Memo<Vec<FieldError>>,
    save: RwSignal<Save>,
    latest: RwSignal<Option<i64>>,
    on_save: Callback<()>,
) -> impl IntoView {
    let message = RwSignal::new(String::new());
    let params = RwSignal::new("{}".to_owned());
    let status = RwSignal::new(None::<Result<String, String>>);
    let busy = RwSignal::new(false);
    let navigate = use_navigate();
    // The latest version's Airflow deployment, followed while it deploys.
    let deployment = RwSignal::new(None::<Deployment>);
    {
        let (tenant, id) = (tenant.clone(), process_id.clone());
        Effect::new(move |_| {
            if let Some(n) = latest.get() {
                follow_deployment(tenant.clone(), id.clone(), n, latest, deployment);
            }
        });
    }

    let publish = {
        let (tenant, id) = (tenant.clone(), process_id.clone());
        move |_| {
            if save.get_untracked() != Save::Saved {
                on_save.run(());
                status.set(Some(Err("Saving first; publish again in a moment.".into())));
                return;
            }
            busy.set(true);
            let (tenant, id) = (tenant.clone(), id.clone());
            leptos::task::spawn_local(async move {
                let body = PublishRequest {
                    message: message.get_untracked(),
                };
                match routes::publish(&tenant, &id, &body).await {
                    Ok(v) => {
                        deployment.set(v.deployment.clone());
                        latest.set(Some(v.number));
                        status.set(Some(Ok(format!("Published version {}", v.number))));
                        message.set(String::new());
                    }
                    Err(e) => status.set(Some(Err(e.message()))),
                }
                busy.set(false);
            });
        }
    };

    let run = move |_| {
        let parsed: Result<serde_json::Map<String, Value>, _> =
            serde_json::from_str(&params.get_untracked());
        let Ok(run_params) = parsed else {
            status.set(Some(Err(
                "Run parameters must be a JSON object, such as {\"day\": \"2024-01-01\"}".into(),
            )));
            return;
        };
        busy.set(true);
        let (tenant, id) = (tenant.clone(), process_id.clone());
        let navigate = navigate.clone();
        leptos::task::spawn_local(async move {
            let body = StartRun {
                version: None,
                params: Some(run_params),
            };
            match routes::start_run(&tenant, &id, &body).await {
                Ok(r) => navigate(&format!("/runs/{}", r.id), NavigateOptions::default()),
                Err(e) => status.set(Some(Err(e.message()))),
            }
            busy.set(false);
        });
    };

    view! {
        <section class="panel" data-testid="publish-panel">
            <h2>"Publish and run"</h2>
            <label class="field">
                <span>"Message"</span>
                <input data-testid="publish-message" placeholder="What changed"
                    prop:value=move || message.get()
                    on:input=move |ev| message.set(event_target_value(&ev)) />
            </label>
            <button data-testid="publish" disabled=move || busy.get() || !problems.with(Vec::is_empty) on:click=publish>
                "Publish"
            </button>
            {move || (!problems.with(Vec::is_empty)).then(|| view! { <small class="muted">"Fix the problems to publish."</small> })}
            <label class="field">
                <span>"Run parameters (JSON)"</span>
                <input data-testid="run-params" prop:value=move || params.get() on:input=move |ev| params.set(event_target_value(&ev)) />
            </label>
            {move || deployment.get().map(|d| {
                let text = match d.state {
                    DeployState::Deploying => "On Airflow: deploying — waiting for Airflow to parse the DAG file…".to_owned(),
                    DeployState::Ready => format!("On Airflow: ready as {}", d.dag_id),
                    DeployState::Failed => format!("On Airflow: failed — {}", d.error.clone().unwrap_or_default()),
                };
                let note = (d.state == DeployState::Deploying).then_some(d.error).flatten();
                view! {
                    <p class=format!("deployment {}", d.state.as_str()) data-testid="deployment-state"
                        data-state=d.state.as_str()>{text}</p>
                    {note.map(|n| view! { <small class="muted">{n}</small> })}
                }
            })}
            <button data-testid="run-now"
                disabled=move || busy.get() || latest.get().is_none()
                    || deployment.with(|d| d.as_ref().is_some_and(|d| d.state != DeployState::Ready))
                on:click=run>
                {move || match latest.get() {
                    Some(v) => format!("Run version {v} now"),
                    None => "Run now (publish first)".to_owned(),
                }}
            </button>
            {move || status.get().map(|s| match s {
                Ok(m) => view! { <p class="ok" data-testid="publish-status">{m}</p> }.into_any(),
                Err(m) => alert_with("publish-status", m),
            })}
        </section>
    }
    .into_any()
}
