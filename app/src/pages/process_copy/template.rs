//! "Save as template" on the Copy & export tab: the process's draft or a
//! version as a template of the tenant's gallery (New from template).

use super::version_select;
use crate::api::processes::{Process, VersionSummary};
use crate::api::routes;
use crate::api::templates::NewTemplate;
use crate::api::FieldError;
use crate::components::load::{field_error, other_errors, send_form, Loaded};
use crate::components::toast;
use crate::session::Session;
use crate::types::Role;
use leptos::prelude::*;

const TEMPLATE_FIELDS: &[&str] = &["name", "description", "version"];

/// For editors of the tenant; nothing for anyone else.
#[component]
pub fn SaveAsTemplate(
    tenant: String,
    process: Process,
    versions: Loaded<Vec<VersionSummary>>,
) -> impl IntoView {
    if !Session::get().can(Role::Editor) {
        return ().into_any();
    }
    let name = RwSignal::new(process.name);
    let description = RwSignal::new(process.description);
    let version = RwSignal::new(None::<i64>);
    let errors = RwSignal::new(Vec::<FieldError>::new());
    let busy = RwSignal::new(false);
    // The name of the template just saved.
    let saved = RwSignal::new(None::<String>);
    let tenant = StoredValue::new(tenant);
    let source = StoredValue::new(process.id);

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let body = NewTemplate {
            process: source.get_value(),
            version: version.get_untracked(),
            name: name.get_untracked(),
            description: description.get_untracked(),
        };
        let tenant = tenant.get_value();
        saved.set(None);
        send_form(
            busy,
            errors,
            async move { routes::create_template(&tenant, &body).await },
            move |t| {
                toast::success(format!("Saved as the template “{}”", t.name));
                let _ = saved.try_set(Some(t.name));
            },
        );
    };

    view! {
        <form class="panel" on:submit=submit data-testid="template-save-form">
            <h2>"Save as template"</h2>
            <p class="muted">
                "Its graph and parameters become a template of this tenant's gallery "
                "(Processes → New from template), to start new processes from."
            </p>
            <label class="field">
                <span>"Name"</span>
                <input type="text" data-testid="template-save-name" autocomplete="off"
                    prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev))/>
                {field_error(errors, "name")}
            </label>
            <label class="field">
                <span>"Description"</span>
                <textarea rows="3" data-testid="template-save-description"
                    prop:value=move || description.get()
                    on:input=move |ev| description.set(event_target_value(&ev))></textarea>
                {field_error(errors, "description")}
            </label>
            <label class="field">
                <span>"From"</span>
                {version_select("template-save-version", versions, version)}
                {field_error(errors, "version")}
            </label>
            {other_errors(errors, TEMPLATE_FIELDS, "template-save-error")}
            {move || saved.get().map(|n| view! {
                <p class="ok" role="status" data-testid="template-saved">
                    {format!("Saved as the template “{n}”. ")}
                    <a href="/templates">"See it in the gallery"</a>
                </p>
            })}
            <div class="toolbar">
                <button type="submit" data-testid="template-save" disabled=move || busy.get()>"Save as template"</button>
            </div>
        </form>
    }
    .into_any()
}
