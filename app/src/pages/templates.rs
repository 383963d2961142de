//! New from template: the tenant's gallery (the built-in templates, then
//! the tenant's own, saved from a process's Copy & export tab), and a new
//! process from one, with values for the template's parameters.

use crate::api::routes;
use crate::api::templates::{Template, UseTemplate};
use crate::api::FieldError;
use crate::components::catalog_context::TenantCatalog;
use crate::components::confirm::confirmed;
use crate::components::load::{alert, alert_with, fetch, field_error, loaded, send_form, show};
use crate::components::run_form::{initial_texts, run_params, ParamFields};
use crate::components::toast;
use crate::session::{Session, WithTenant};
use crate::types::graph::ProcessGraph;
use crate::types::params::ProcessParam;
use crate::types::{ComponentKey, Role};
use leptos::prelude::*;
use leptos_router::hooks::use_navigate;
use leptos_router::NavigateOptions;
use std::collections::BTreeMap;

#[component]
pub fn TemplatesPage() -> impl IntoView {
    view! {
        <h1>"New from template"</h1>
        <p class="muted">
            "A template is a ready-made process. The built-in ones are made from the data components; "
            "the tenant's own are saved from a process's Copy & export tab. A new process from one "
            "takes its graph, and the parameter values given here become its parameter defaults."
        </p>
        <WithTenant children=|tenant| view! { <Gallery tenant/> }/>
    }
}

/// The component types a graph uses, each once, in the order its nodes
/// first use them.
fn components_of(graph: &ProcessGraph) -> Vec<ComponentKey> {
    let mut keys: Vec<ComponentKey> = Vec::new();
    for node in &graph.nodes {
        if !keys.contains(&node.component) {
            keys.push(node.component.clone());
        }
    }
    keys
}

fn node_count(n: usize) -> String {
    if n == 1 {
        "1 node".to_owned()
    } else {
        format!("{n} nodes")
    }
}

/// The problems of a use that belong under none of the form's fields:
/// neither the name nor one of the template's parameters.
fn other_problems(errors: &[FieldError], declared: &[ProcessParam]) -> Vec<String> {
    errors
        .iter()
        .filter(|e| {
            e.field != "name"
                && !declared
                    .iter()
                    .any(|p| e.field.strip_prefix("params.") == Some(p.name.as_str()))
        })
        .map(|e| e.message.clone())
        .collect()
}

#[component]
fn Gallery(tenant: String) -> impl IntoView {
    let templates = loaded::<Vec<Template>>();
    let tenant = StoredValue::new(tenant);
    Effect::new(move |_| {
        let t = tenant.get_value();
        fetch(templates, async move { routes::templates(&t).await });
    });
    let editor = Session::get().can(Role::Editor);
    // The catalog's names for the component keys.
    let names = TenantCatalog::get().names();
    // The template whose form is open.
    let chosen = RwSignal::new(None::<Template>);
    let error = RwSignal::new(None::<String>);
    let remove = Callback::new(move |id: String| {
        let t = tenant.get_value();
        leptos::task::spawn_local(async move {
            let answer = routes::delete_template(&t, &id).await;
            match answer {
                Ok(()) => {
                    toast::success("Template deleted");
                    let _ = error.try_set(None);
                    let open =
                        chosen.try_with_untracked(|c| c.as_ref().is_some_and(|c| c.id == id));
                    if open == Some(true) {
                        let _ = chosen.try_set(None);
                    }
                    fetch(templates, async move { routes::templates(&t).await });
                }
                Err(e) => {
                    let _ = error.try_set(Some(e.message()));
                }
            }
        });
    });

    view! {
        {(!editor).then(|| view! {
            <p class="muted" data-testid="templates-editors-only">
                "Editors can start new processes from these templates."
            </p>
        })}
        {move || error.get().map(alert)}
        {show(templates, move |list: Vec<Template>| view! {
            <div class="card-grid" data-testid="template-gallery">
                {list.into_iter().map(|t| card(t, editor, names, chosen, remove)).collect_view()}
            </div>
        })}
        {move || chosen.get().map(|t| view! { <UseForm tenant=tenant.get_value() template=t chosen/> })}
    }
}

/// One template of the gallery: what it is and does, and for editors "Use"
/// (and "Delete" for the tenant's own).
fn card(
    t: Template,
    editor: bool,
    names: Signal<BTreeMap<ComponentKey, String>>,
    chosen: RwSignal<Option<Template>>,
    remove: Callback<String>,
) -> impl IntoView {
    let nodes = node_count(t.graph.nodes.len());
    let keys = components_of(&t.graph);
    let uses = move || {
        keys.iter()
            .map(|k| {
                names
                    .with(|m| m.get(k).cloned())
                    .unwrap_or_else(|| k.to_string())
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let origin = if t.builtin {
        view! { <span class="badge" data-testid="template-builtin">"Built-in"</span> }.into_any()
    } else {
        let by = t
            .created_by
            .as_ref()
            .map_or_else(|| "by a former member".to_owned(), |u| format!("by {u}"));
        view! { <span class="muted" data-testid="template-author">{by}</span> }.into_any()
    };
    let actions = if editor {
        let id = t.id.clone();
        let open = t.clone();
        let is_open = move || chosen.with(|c| c.as_ref().is_some_and(|c| c.id == id));
        let use_it = move || {
            // Open already: what was typed stays.
            if !chosen.with_untracked(|c| c.as_ref().is_some_and(|c| c.id == open.id)) {
                chosen.set(Some(open.clone()));
            }
        };
        let delete = if t.builtin {
            None
        } else {
            let id = t.id.clone();
            Some(confirmed(
                "Delete",
                "Delete this template?",
                "template-delete",
                move || remove.run(id.clone()),
            ))
        };
        Some(view! {
            <div class="toolbar">
                <button type="button" data-testid="template-use"
                    aria-expanded=move || is_open().to_string() on:click=move |_| use_it()>"Use"</button>
                {delete}
            </div>
        })
    } else {
        None
    };
    view! {
        <article class="panel" data-testid="template-card">
            <h2>{t.name.clone()}</h2>
            <div>{origin}</div>
            <p>{t.description.clone()}</p>
            <p class="muted">
                <span data-testid="template-nodes">{nodes}</span>
                " · uses "
                <span data-testid="template-components">{uses}</span>
            </p>
            {actions}
        </article>
    }
}

/// A new process from `template`: its name, and a value for each of the
/// template's parameters (its default filled in).
#[component]
fn UseForm(
    tenant: String,
    template: Template,
    chosen: RwSignal<Option<Template>>,
) -> impl IntoView {
    let params = template.graph.params.clone();
    let has_params = !params.is_empty();
    let texts = RwSignal::new(initial_texts(&params));
    let declared = RwSignal::new(Some(params));
    let name = RwSignal::new(template.name.clone());
    let errors = RwSignal::new(Vec::<FieldError>::new());
    let busy = RwSignal::new(false);
    let name_input = NodeRef::<leptos::html::Input>::new();
    // Opened from a card: the keyboard (and the view) goes to the form.
    Effect::new(move |_| {
        if let Some(input) = name_input.get() {
            let _ = input.focus();
        }
    });

    let navigate = use_navigate();
    let tenant = StoredValue::new(tenant);
    let id = StoredValue::new(template.id.clone());
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let list = declared.get_untracked().unwrap_or_default();
        let body = UseTemplate {
            name: name.get_untracked(),
            params: texts.with_untracked(|t| run_params(&list, t)),
        };
        let (tenant, id, navigate) = (tenant.get_value(), id.get_value(), navigate.clone());
        // The server names every problem at once: the name's and each
        // parameter's, under their fields.
        send_form(
            busy,
            errors,
            async move { routes::use_template(&tenant, &id, &body).await },
            move |p| {
                toast::success(format!("Created “{}” from the template", p.name));
                navigate(&format!("/processes/{}", p.id), NavigateOptions::default())
            },
        );
    };
    let others = move || {
        let rest =
            declared.with(|d| other_problems(&errors.get(), d.as_deref().unwrap_or_default()));
        (!rest.is_empty()).then(|| alert_with("template-error", rest.join("; ")))
    };

    view! {
        <form class="panel copy-sections" on:submit=submit data-testid="template-form">
            <h2>{format!("New process from “{}”", template.name)}</h2>
            <label class="field">
                <span>"Name"</span>
                <input type="text" data-testid="template-name" autocomplete="off" node_ref=name_input
                    prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev))/>
                {field_error(errors, "name")}
            </label>
            {has_params.then(move || view! {
                <fieldset class="run-params" data-testid="template-params">
                    <legend>"Parameters"</legend>
                    <p class="muted">"They become the new process's parameter defaults; a run may still give others."</p>
                    <ParamFields declared texts errors prefix="template"/>
                </fieldset>
            })}
            {others}
            <div class="toolbar">
                <button type="submit" data-testid="template-create" disabled=move || busy.get()>"Create process"</button>
                <button type="button" data-testid="template-cancel" on:click=move |_| chosen.set(None)>"Cancel"</button>
            </div>
        </form>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::graph::{Node, Position};
    use crate::types::params::ParamType;

    fn node(id: &str, component: &str) -> Node {
        Node {
            id: id.into(),
            component: ComponentKey::from(component),
            label: String::new(),
            params: serde_json::Map::new(),
            position: Position::default(),
        }
    }

    #[test]
    fn a_template_uses_each_component_once_in_the_order_of_its_nodes() {
        let graph = ProcessGraph {
            nodes: vec![
                node("orders", "ingest.file"),
                node("check", "quality.check"),
                node("customers", "ingest.file"),
                node("export", "export.file"),
            ],
            ..ProcessGraph::default()
        };
        let keys: Vec<String> = components_of(&graph)
            .into_iter()
            .map(ComponentKey::into_inner)
            .collect();
        assert_eq!(keys, ["ingest.file", "quality.check", "export.file"]);
        assert_eq!(node_count(graph.nodes.len()), "4 nodes");
        assert_eq!(node_count(1), "1 node");
    }

    #[test]
    fn only_problems_of_no_field_of_the_form_go_to_its_error_line() {
        let declared = [ProcessParam {
            name: "destination".into(),
            kind: ParamType::String,
            values: Vec::new(),
            default: None,
            required: true,
            description: String::new(),
        }];
        let errors = [
            FieldError::new("name", "required", "a name is needed"),
            FieldError::new("params.destination", "required", "a value is needed"),
            FieldError::new("params.stray", "unknown_param", "no such parameter"),
            FieldError::new("", "error", "the template is gone"),
        ];
        assert_eq!(
            other_problems(&errors, &declared),
            ["no such parameter", "the template is gone"]
        );
    }
}
