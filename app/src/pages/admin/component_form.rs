//! The component catalog's editor on the Admin page (platform admins): pick
//! an entry or start a new one, and edit it in a form — its fields, its typed
//! parameters, how it runs — with the shared validator's problems under the
//! fields they name as it changes (Save waits until there are none; what the
//! server refuses shows the same way), a live preview of the node and of its
//! parameter panel, and the entry as JSON, editable both ways.

use super::component_draft::{Draft, EMR_ACTIONS};
use super::component_params::ParamRows;
use super::component_preview::Preview;
use crate::api::routes;
use crate::api::FieldError;
use crate::components::canvas::marks::ICONS;
use crate::components::catalog_context::TenantCatalog;
use crate::components::load::send_form;
use crate::types::component::ComponentType;
use crate::types::ComponentKey;
use leptos::prelude::*;

/// The editor's state, shared by its parts.
#[derive(Clone, Copy)]
pub(super) struct Editing {
    /// The form as typed.
    pub draft: RwSignal<Draft>,
    /// The key of the saved entry being edited; `None` while it is new.
    pub saved_key: RwSignal<Option<ComponentKey>>,
    /// The JSON view's text as typed there, until the form changes.
    pub json: RwSignal<Option<String>>,
    /// What the server refused at the last save.
    pub refused: RwSignal<Vec<FieldError>>,
    /// The success line of the last save.
    pub saved: RwSignal<Option<String>>,
    /// The form's problems now; Save waits until there are none.
    pub problems: Memo<Vec<FieldError>>,
    /// What the form shows: its problems, then the server's.
    pub shown: Memo<Vec<FieldError>>,
}

impl Editing {
    fn new() -> Self {
        let draft = RwSignal::new(Draft::default());
        let saved_key = RwSignal::new(None::<ComponentKey>);
        let refused = RwSignal::new(Vec::<FieldError>::new());
        let problems = Memo::new(move |_| {
            let saved = saved_key.get();
            draft.with(|d| d.problems(saved.as_ref().map(ComponentKey::as_str)))
        });
        let shown = Memo::new(move |_| {
            let mut all = problems.get();
            refused.with(|refused| {
                for e in refused {
                    if !all.contains(e) {
                        all.push(e.clone());
                    }
                }
            });
            all
        });
        Self {
            draft,
            saved_key,
            json: RwSignal::new(None),
            refused,
            saved: RwSignal::new(None),
            problems,
            shown,
        }
    }

    /// Changes the form: the JSON view follows it, and what the last save
    /// said no longer applies.
    pub fn edit(self, change: impl FnOnce(&mut Draft)) {
        self.draft.update(change);
        if self.json.with_untracked(Option::is_some) {
            self.json.set(None);
        }
        if self.refused.with_untracked(|r| !r.is_empty()) {
            self.refused.set(Vec::new());
        }
        if self.saved.with_untracked(Option::is_some) {
            self.saved.set(None);
        }
    }

    /// The problems of the field `at` names (none while it names none), each
    /// under it as `data-testid="error-<field>"`.
    pub fn messages(self, at: impl Fn() -> Option<String> + Send + 'static) -> impl IntoView {
        let shown = self.shown;
        move || {
            let field = at();
            shown.with(|all| {
                all.iter()
                    .filter(|e| field.as_deref() == Some(e.field.as_str()))
                    .map(|e| {
                        view! { <span class="error" data-testid=format!("error-{}", e.field)>{e.message.clone()}</span> }
                    })
                    .collect_view()
            })
        }
    }
}

/// The control a field is typed into.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Control {
    /// One line of text.
    Text,
    /// A whole number, kept as typed until it reads.
    Whole,
    /// A number, kept as typed until it reads.
    Decimal,
    /// Several lines: one argument or value a line, or prose.
    Lines,
}

/// How a field of the form looks.
#[derive(Clone, Copy)]
pub(super) struct Field {
    label: &'static str,
    testid: &'static str,
    control: Control,
    hint: &'static str,
    list: &'static str,
}

impl Field {
    pub(super) fn new(label: &'static str, testid: &'static str, control: Control) -> Self {
        Self {
            label,
            testid,
            control,
            hint: "",
            list: "",
        }
    }

    /// Its placeholder.
    pub(super) fn hint(self, hint: &'static str) -> Self {
        Self { hint, ..self }
    }

    /// The id of the `<datalist>` whose values it suggests.
    pub(super) fn list(self, list: &'static str) -> Self {
        Self { list, ..self }
    }
}

/// A field of the form: its label, its control showing `get` and telling
/// `set` every keystroke, and under it the problems of the field `at` names.
pub(super) fn field(
    ed: Editing,
    look: Field,
    get: impl Fn() -> String + Send + Sync + 'static,
    set: impl Fn(String) + Send + Sync + 'static,
    at: impl Fn() -> Option<String> + Send + Sync + 'static,
) -> AnyView {
    let Field {
        label,
        testid,
        control,
        hint,
        list,
    } = look;
    let hint = (!hint.is_empty()).then_some(hint);
    let input = move |ev: leptos::ev::Event| set(event_target_value(&ev));
    let control = if control == Control::Lines {
        view! {
            <textarea data-testid=testid rows="3" placeholder=hint prop:value=get on:input=input></textarea>
        }
        .into_any()
    } else {
        let mode = match control {
            Control::Whole => Some("numeric"),
            Control::Decimal => Some("decimal"),
            _ => None,
        };
        let list = (!list.is_empty()).then_some(list);
        view! {
            <input data-testid=testid placeholder=hint inputmode=mode list=list prop:value=get on:input=input/>
        }
        .into_any()
    };
    view! {
        <label class="field">
            <span>{label}</span>
            {control}
            {ed.messages(at)}
        </label>
    }
    .into_any()
}

/// A field of the component itself; `name` names it in problems.
fn top(
    ed: Editing,
    look: Field,
    name: &'static str,
    get: fn(&Draft) -> &String,
    set: fn(&mut Draft, String),
) -> AnyView {
    field(
        ed,
        look,
        move || ed.draft.with(|d| get(d).clone()),
        move |value| ed.edit(|d| set(d, value)),
        move || Some(name.to_owned()),
    )
}

/// An on/off switch of the component.
fn switch(
    ed: Editing,
    label: &'static str,
    testid: &'static str,
    get: fn(&Draft) -> bool,
    set: fn(&mut Draft, bool),
) -> AnyView {
    view! {
        <label class="field checkbox">
            <input type="checkbox" data-testid=testid
                prop:checked=move || ed.draft.with(get)
                on:change=move |ev| {
                    let on = event_target_checked(&ev);
                    ed.edit(|d| set(d, on));
                }/>
            <span>{label}</span>
        </label>
    }
    .into_any()
}

/// The problems of fields without a place on the form, and what the server
/// said of no field, listed above the form.
fn unplaced(ed: Editing) -> impl IntoView {
    move || {
        let places = ed.draft.with(Draft::places);
        let rest: Vec<String> = ed.shown.with(|all| {
            all.iter()
                .filter(|e| !places.contains(&e.field))
                .map(|e| {
                    if e.field.is_empty() {
                        e.message.clone()
                    } else {
                        format!("{}: {}", e.field, e.message)
                    }
                })
                .collect()
        });
        (!rest.is_empty()).then(|| {
            view! {
                <ul class="problems" data-testid="component-problems">
                    {rest.into_iter().map(|m| view! { <li>{m}</li> }).collect_view()}
                </ul>
            }
        })
    }
}

fn problem_count(n: usize) -> String {
    match n {
        1 => "1 problem to fix before saving".to_owned(),
        n => format!("{n} problems to fix before saving"),
    }
}

/// The catalog section of the Admin page.
#[component]
pub(super) fn ComponentEditor() -> impl IntoView {
    let catalog = TenantCatalog::get();
    let ed = Editing::new();
    let busy = RwSignal::new(false);
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() || ed.problems.with_untracked(|p| !p.is_empty()) {
            return;
        }
        let (component, _) = ed.draft.with_untracked(Draft::component);
        let key = ed.saved_key.get_untracked();
        ed.saved.set(None);
        send_form(
            busy,
            ed.refused,
            async move {
                match &key {
                    Some(k) => routes::replace_component(k, &component).await,
                    None => routes::create_component(&component).await,
                }
            },
            move |saved| {
                let _ = ed.json.try_set(None);
                let _ = ed.saved.try_set(Some(format!("Saved `{}`", saved.key)));
                let _ = ed.saved_key.try_set(Some(saved.key));
                catalog.reload();
            },
        );
    };
    view! {
        <h2>"Component catalog"</h2>
        {picker(ed, catalog)}
        <datalist id="component-icons">
            {ICONS.iter().map(|(icon, _)| view! { <option value=*icon></option> }).collect_view()}
        </datalist>
        <datalist id="emr-actions">
            {EMR_ACTIONS.into_iter().map(|action| view! { <option value=action></option> }).collect_view()}
        </datalist>
        <div class="component-editor">
            <div class="component-editor-main">
                <form class="component-form" data-testid="component-form" on:submit=save>
                    <h3>{move || match ed.saved_key.get() {
                        Some(k) => format!("Edit `{k}`"),
                        None => "New component".to_owned(),
                    }}</h3>
                    {unplaced(ed)}
                    {identity_fields(ed)}
                    <fieldset>
                        <legend>"Parameters"</legend>
                        <ParamRows ed/>
                    </fieldset>
                    {execution_fields(ed)}
                    <div class="toolbar">
                        <button type="submit" data-testid="component-save"
                            disabled=move || busy.get() || ed.problems.with(|p| !p.is_empty())>
                            {move || if ed.saved_key.with(Option::is_some) { "Save changes" } else { "Add component" }}
                        </button>
                        {move || {
                            let n = ed.problems.with(Vec::len);
                            (n > 0).then(|| view! { <span class="muted" data-testid="component-problem-count">{problem_count(n)}</span> })
                        }}
                    </div>
                    {move || ed.saved.get().map(|m| view! { <p class="ok" role="status" data-testid="component-saved">{m}</p> })}
                </form>
                <JsonView ed/>
            </div>
            <Preview ed/>
        </div>
    }
}

/// The component to edit, chosen from the catalog, or a new one.
fn picker(ed: Editing, catalog: TenantCatalog) -> impl IntoView {
    let components = catalog.list;
    let pick = move |key: String| {
        let found = components.with_untracked(|list| {
            list.as_ref()
                .and_then(|r| r.as_ref().ok())
                .and_then(|list| list.iter().find(|c| c.key.as_str() == key).cloned())
        });
        if let Some(c) = found {
            ed.edit(|d| d.load(&c));
            ed.saved_key.set(Some(c.key));
        }
    };
    view! {
    <div class="toolbar">
        <select aria-label="Component to edit" data-testid="catalog-pick"
            prop:value=move || {
                components.track();
                ed.saved_key.get().map(|k| k.to_string()).unwrap_or_default()
            }
            on:change=move |ev| pick(event_target_value(&ev))>
            <option value="">"Choose a component to edit…"</option>
            {move || components.get().and_then(Result::ok).unwrap_or_default().into_iter().map(|c| view! {
                <option value=c.key.to_string()>{c.key.to_string()} " — " {c.name.clone()}</option>
            }).collect_view()}
        </select>
        <button type="button" data-testid="component-new"
            on:click=move |_| {
                ed.edit(Draft::clear);
                ed.saved_key.set(None);
            }>
            "New component"
        </button>
    </div>
    }
}

/// The component's key, names, icon and retry settings.
fn identity_fields(ed: Editing) -> impl IntoView {
    view! {
    <fieldset>
        <legend>"Component"</legend>
        <label class="field">
            <span>"Key"</span>
            <input data-testid="component-key" placeholder="such as ingest.file" autocomplete="off"
                readonly=move || ed.saved_key.with(Option::is_some)
                prop:value=move || ed.draft.with(|d| d.key.clone())
                on:input=move |ev| {
                    let key = event_target_value(&ev);
                    ed.edit(|d| d.key = key);
                }/>
            <small class="muted">"a-z, 0-9, _, . and -; a saved component keeps its key"</small>
            {ed.messages(|| Some("key".to_owned()))}
        </label>
        {top(ed, Field::new("Name", "component-name", Control::Text).hint("as the palette and the canvas show it"),
            "name", |d| &d.name, |d, v| d.name = v)}
        {top(ed, Field::new("Category", "component-category", Control::Text).hint("the palette's group, such as Ingest"),
            "category", |d| &d.category, |d, v| d.category = v)}
        {top(ed, Field::new("Description", "component-description", Control::Lines),
            "description", |d| &d.description, |d, v| d.description = v)}
        {top(ed, Field::new("Icon", "component-icon", Control::Text).list("component-icons").hint("such as download"),
            "icon", |d| &d.icon, |d, v| d.icon = v)}
        <div class="component-numbers">
            {top(ed, Field::new("Retries", "component-retries", Control::Whole).hint("0 to 10"),
                "retries", |d| &d.retries, |d, v| d.retries = v)}
            {top(ed, Field::new("Retry delay (seconds)", "component-retry-delay", Control::Decimal).hint("0 to 3600, doubled each retry"),
                "retry_delay_seconds", |d| &d.retry_delay, |d, v| d.retry_delay = v)}
            {top(ed, Field::new("Timeout (seconds)", "component-timeout", Control::Decimal).hint("empty: the platform's"),
                "timeout_seconds", |d| &d.timeout, |d, v| d.timeout = v)}
        </div>
    </fieldset>
    }
}

/// How the component runs: a local program, an EMR step, or both.
fn execution_fields(ed: Editing) -> impl IntoView {
    view! {
    <fieldset>
        <legend>"Execution"</legend>
        <p class="muted">
            "Arguments are one a line. " <code>"{name}"</code>
            " in an argument is replaced by the value of the parameter called name; nothing runs through a shell."
        </p>
        {switch(ed, "Runs on this server (a local program)", "component-local", |d| d.local, |d, on| d.local = on)}
        <Show when=move || ed.draft.with(|d| d.local)>
            {top(ed, Field::new("Program", "component-local-program", Control::Text).hint("such as trellis (this server's own binary)"),
                "local.program", |d| &d.program, |d, v| d.program = v)}
            {top(ed, Field::new("Arguments, one a line", "component-local-args", Control::Lines).hint("step\n--message={message}"),
                "local.args", |d| &d.local_args, |d, v| d.local_args = v)}
        </Show>
        {switch(ed, "Runs on EMR (a step on the tenant's cluster)", "component-emr", |d| d.emr, |d, on| d.emr = on)}
        <Show when=move || ed.draft.with(|d| d.emr)>
            {top(ed, Field::new("Jar", "component-emr-jar", Control::Text).hint("command-runner.jar"),
                "emr.jar", |d| &d.jar, |d, v| d.jar = v)}
            {top(ed, Field::new("Arguments, one a line", "component-emr-args", Control::Lines).hint("spark-submit\n{script_location}/job.py"),
                "emr.args", |d| &d.emr_args, |d, v| d.emr_args = v)}
            {top(ed, Field::new("On failure", "component-emr-action", Control::Text).list("emr-actions").hint("CONTINUE"),
                "emr.action_on_failure", |d| &d.action_on_failure, |d, v| d.action_on_failure = v)}
        </Show>
    </fieldset>
    }
}

/// The entry as JSON, both ways: the form's entry, pretty-printed; JSON typed
/// here that reads as a component fills the form, and anything else is named
/// and leaves the form as it is.
#[component]
fn JsonView(ed: Editing) -> impl IntoView {
    let error = RwSignal::new(None::<String>);
    let text = move || {
        ed.json.get().unwrap_or_else(|| {
            ed.draft
                .with(|d| serde_json::to_string_pretty(&d.component().0).unwrap_or_default())
        })
    };
    let typed = move |ev: leptos::ev::Event| {
        let text = event_target_value(&ev);
        match crate::client::from_json::<ComponentType>(&text) {
            Ok(c) => {
                ed.edit(|d| d.load(&c));
                error.set(None);
            }
            Err(e) => error.set(Some(format!("Not a component: {e}"))),
        }
        // Shown as typed (not reformatted) until the form changes.
        ed.json.set(Some(text));
    };
    // Only while the text shown is the text typed.
    let problem = move || {
        if ed.json.with(Option::is_some) {
            error.get()
        } else {
            None
        }
    };
    view! {
        <details class="component-json" data-testid="component-json">
            <summary>"Advanced: JSON"</summary>
            <p class="muted">"The component as the API takes it. JSON typed here that reads as a component fills the form."</p>
            <textarea class="code" rows="16" spellcheck="false" aria-label="Component as JSON" data-testid="catalog-json"
                prop:value=text on:input=typed></textarea>
            {move || problem().map(|e| view! { <p class="error" role="alert" data-testid="component-json-error">{e}</p> })}
        </details>
    }
}
