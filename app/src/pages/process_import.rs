//! Import a process definition (JSON or YAML, as a process's "Copy &
//! export" tab downloads it), from a file or pasted: every problem of the
//! file is listed, and nothing is saved until there are none.

use crate::api::routes;
use crate::api::FieldError;
use crate::components::load::alert_with;
use crate::components::toast;
use crate::session::{Session, WithTenant};
use crate::types::Role;
use leptos::prelude::*;
use leptos_router::hooks::use_navigate;
use leptos_router::NavigateOptions;

const JSON: &str = "application/json";
const YAML: &str = "application/yaml";

#[component]
pub fn ImportPage() -> impl IntoView {
    view! {
        <h1>"Import a definition"</h1>
        <p class="muted">
            "A process definition file, as a process's Copy & export tab downloads it (JSON or YAML), "
            "becomes a new process of this tenant with its graph as the draft."
        </p>
        <WithTenant children=|tenant| {
            if Session::get().can(Role::Editor) {
                view! { <ImportForm tenant/> }.into_any()
            } else {
                view! { <p data-testid="import-editors-only">"Only editors can import processes."</p> }.into_any()
            }
        }/>
    }
}

/// The type to send `text` as: by the file's extension, else JSON when it
/// starts with `{` and YAML otherwise.
fn content_type(file: Option<&str>, text: &str) -> &'static str {
    let extension = file
        .and_then(|f| f.rsplit_once('.'))
        .map(|(_, e)| e.to_ascii_lowercase());
    match extension.as_deref() {
        Some("json") => JSON,
        Some("yaml" | "yml") => YAML,
        _ if text.trim_start().starts_with('{') => JSON,
        _ => YAML,
    }
}

/// One problem of the file as its line in the list.
fn problem_line(p: &FieldError) -> String {
    match &p.node {
        Some(node) => format!("Node {node}: {} — {}", p.field, p.message),
        None if p.field.is_empty() => p.message.clone(),
        None => format!("{}: {}", p.field, p.message),
    }
}

#[component]
fn ImportForm(tenant: String) -> impl IntoView {
    let text = RwSignal::new(String::new());
    // The chosen file's name while the text is that file's.
    let file_name = RwSignal::new(None::<String>);
    let name = RwSignal::new(String::new());
    let problems = RwSignal::new(Vec::<FieldError>::new());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let chosen = NodeRef::<leptos::html::Input>::new();

    // The chosen file's text goes into the text box (browser only).
    let read = move |_: leptos::ev::Event| {
        #[cfg(feature = "hydrate")]
        {
            let Some(input) = chosen.get_untracked() else {
                return;
            };
            let Some(file) = input.files().and_then(|list| list.get(0)) else {
                return;
            };
            let file_label = file.name();
            leptos::task::spawn_local(async move {
                let answer = wasm_bindgen_futures::JsFuture::from(file.text()).await;
                match answer.ok().and_then(|v| v.as_string()) {
                    Some(content) => {
                        let _ = text.try_set(content);
                        let _ = file_name.try_set(Some(file_label));
                        let _ = problems.try_set(Vec::new());
                        let _ = error.try_set(None);
                    }
                    None => {
                        let _ =
                            error.try_set(Some(format!("{file_label} cannot be read as text.")));
                    }
                }
            });
        }
    };

    let navigate = use_navigate();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let body = text.get_untracked();
        if body.trim().is_empty() {
            problems.set(Vec::new());
            return error.set(Some("Choose a file or paste a definition first.".into()));
        }
        let kind = content_type(file_name.get_untracked().as_deref(), &body);
        let given = name.get_untracked().trim().to_owned();
        let tenant = tenant.clone();
        let navigate = navigate.clone();
        error.set(None);
        busy.set(true);
        leptos::task::spawn_local(async move {
            let given = (!given.is_empty()).then_some(given.as_str());
            let answer = routes::import_process(&tenant, given, kind, body).await;
            let _ = busy.try_set(false);
            match answer {
                Ok(p) => {
                    toast::success(format!("Imported “{}”", p.name));
                    navigate(&format!("/processes/{}", p.id), NavigateOptions::default())
                }
                // Every problem of the file; the text stays to be fixed.
                Err(e) => match e.problem.as_ref().filter(|p| !p.errors.is_empty()) {
                    Some(p) => {
                        let _ = problems.try_set(p.errors.clone());
                    }
                    None => {
                        let _ = problems.try_set(Vec::new());
                        let _ = error.try_set(Some(e.message()));
                    }
                },
            }
        });
    };

    view! {
        <form class="panel copy-sections" on:submit=submit data-testid="import-form">
            <label class="field">
                <span>"Definition file"</span>
                <input type="file" accept=".json,.yaml,.yml" node_ref=chosen data-testid="import-file" on:change=read/>
                <span class="muted">"Its text appears below, where it can be changed before importing."</span>
            </label>
            <label class="field">
                <span>"Or paste the definition"</span>
                <textarea class="code" rows="16" spellcheck="false" data-testid="import-text"
                    placeholder="format: trellis.process/v1"
                    prop:value=move || text.get()
                    on:input=move |ev| {
                        text.set(event_target_value(&ev));
                        file_name.set(None);
                    }></textarea>
                <span class="muted">"JSON when it starts with “{”, YAML otherwise (a chosen file: by its extension)."</span>
            </label>
            <label class="field">
                <span>"Name (optional)"</span>
                <input type="text" data-testid="import-name" autocomplete="off" placeholder="The file's name"
                    prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev))/>
                <span class="muted">"Instead of the name in the file."</span>
            </label>
            {move || {
                let list = problems.get();
                (!list.is_empty()).then(|| view! {
                    <div role="alert">
                        <p class="error">
                            {format!("The file has {} problem{}; nothing was imported.", list.len(), if list.len() == 1 { "" } else { "s" })}
                        </p>
                        <ul class="problems" data-testid="import-problems">
                            {list.iter().map(|p| view! { <li data-testid="import-problem">{problem_line(p)}</li> }).collect_view()}
                        </ul>
                    </div>
                })
            }}
            {move || error.get().map(|e| alert_with("import-error", e))}
            <div class="toolbar">
                <button type="submit" data-testid="import-submit" disabled=move || busy.get()>"Import"</button>
            </div>
        </form>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_content_type_comes_from_the_extension_then_the_text() {
        assert_eq!(content_type(Some("a.trellis.JSON"), "format: x"), JSON);
        assert_eq!(content_type(Some("a.yml"), "{}"), YAML);
        assert_eq!(content_type(Some("a.yaml"), "{}"), YAML);
        assert_eq!(content_type(None, "  \n{\"format\": 1}"), JSON);
        assert_eq!(content_type(Some("definition"), "format: x"), YAML);
        assert_eq!(content_type(None, ""), YAML);
    }

    #[test]
    fn a_node_problem_names_its_node_and_field() {
        let mut p = FieldError::new("params.path", "required", "a path is needed");
        assert_eq!(problem_line(&p), "params.path: a path is needed");
        p.node = Some("ingest".into());
        assert_eq!(
            problem_line(&p),
            "Node ingest: params.path — a path is needed"
        );
        assert_eq!(problem_line(&FieldError::new("", "error", "boom")), "boom");
    }
}
