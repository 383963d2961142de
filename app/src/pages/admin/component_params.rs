//! The component editor's parameters: a row each — name, label, type, the
//! constraints of that type only (as `ParamKind` has them), required, a
//! default typed as the type says, help — added, removed and moved, with
//! each row's problems under its fields (`params[2].default`).

use super::component_draft::{ParamDraft, KINDS, LANGUAGES};
use super::component_form::{field, Control, Editing, Field};
use leptos::prelude::*;

/// The row being drawn: the editor, the row, and where it is in the list now.
#[derive(Clone, Copy)]
struct Row {
    ed: Editing,
    row: u64,
    index: Memo<Option<usize>>,
}

impl Row {
    /// A field of this row; `name` names it in problems.
    fn field(
        self,
        look: Field,
        name: &'static str,
        get: fn(&ParamDraft) -> &String,
        set: fn(&mut ParamDraft, String),
    ) -> AnyView {
        let Row { ed, row, .. } = self;
        field(
            ed,
            look,
            move || {
                ed.draft
                    .with(|d| d.param(row).map(|p| get(p).clone()).unwrap_or_default())
            },
            move |value| {
                ed.edit(|d| {
                    if let Some(p) = d.param_mut(row) {
                        set(p, value);
                    }
                })
            },
            self.at(name),
        )
    }

    /// The name of this row's field `name` in problems, such as
    /// `params[2].default`; none once the row is gone.
    fn at(self, name: &'static str) -> impl Fn() -> Option<String> + Send + Sync + Copy + 'static {
        let index = self.index;
        move || index.get().map(|i| format!("params[{i}].{name}"))
    }
}

/// The parameter rows, and the button that adds one.
#[component]
pub(super) fn ParamRows(ed: Editing) -> impl IntoView {
    let rows = move || {
        ed.draft
            .with(|d| d.params.iter().map(|p| p.row).collect::<Vec<_>>())
    };
    let none = Memo::new(move |_| ed.draft.with(|d| d.params.is_empty()));
    view! {
        <datalist id="param-languages">
            {LANGUAGES.into_iter().map(|language| view! { <option value=language></option> }).collect_view()}
        </datalist>
        {move || none.get().then(|| view! { <p class="muted">"No parameters: its nodes take none."</p> })}
        <For each=rows key=|row| *row let:row>
            <ParamRow ed row/>
        </For>
        <button type="button" data-testid="param-add" on:click=move |_| ed.edit(|d| d.add_param())>
            "Add parameter"
        </button>
    }
}

#[component]
fn ParamRow(ed: Editing, row: u64) -> impl IntoView {
    let index = Memo::new(move |_| ed.draft.with(|d| d.index(row)));
    let count = Memo::new(move |_| ed.draft.with(|d| d.params.len()));
    let kind = Memo::new(move |_| {
        ed.draft
            .with(|d| d.param(row).map(|p| p.kind.clone()).unwrap_or_default())
    });
    let r = Row { ed, row, index };
    let legend = move || {
        let n = index.get().map_or(0, |i| i + 1);
        let name = ed
            .draft
            .with(|d| d.param(row).map(|p| p.name.clone()).unwrap_or_default());
        if name.trim().is_empty() {
            format!("Parameter {n}")
        } else {
            format!("Parameter {n}: {name}")
        }
    };
    view! {
        <fieldset class="param-row" data-testid="param-row">
            <legend>{legend}</legend>
            <div class="param-grid">
                {r.field(Field::new("Name", "param-name", Control::Text).hint("such as dataset"),
                    "name", |p| &p.name, |p, v| p.name = v)}
                {r.field(Field::new("Label", "param-label", Control::Text).hint("as users see it"),
                    "label", |p| &p.label, |p, v| p.label = v)}
                <label class="field">
                    <span>"Type"</span>
                    <select data-testid="param-type" prop:value=move || kind.get()
                        on:change=move |ev| {
                            let kind = event_target_value(&ev);
                            ed.edit(|d| {
                                if let Some(p) = d.param_mut(row) {
                                    p.kind = kind;
                                }
                            });
                        }>
                        {KINDS.into_iter().map(|k| view! { <option value=k>{k}</option> }).collect_view()}
                    </select>
                    {ed.messages(r.at("type"))}
                </label>
                {move || constraints(r, kind.get())}
                <label class="field checkbox">
                    <input type="checkbox" data-testid="param-required"
                        prop:checked=move || ed.draft.with(|d| d.param(row).is_some_and(|p| p.required))
                        on:change=move |ev| {
                            let on = event_target_checked(&ev);
                            ed.edit(|d| {
                                if let Some(p) = d.param_mut(row) {
                                    p.required = on;
                                }
                            });
                        }/>
                    <span>"Required"</span>
                </label>
                {ed.messages(r.at("required"))}
                {move || default_field(r, kind.get())}
                {r.field(Field::new("Help", "param-help", Control::Text).hint("shown under the field"),
                    "help", |p| &p.help, |p, v| p.help = v)}
            </div>
            <div class="toolbar">
                <button type="button" data-testid="param-up"
                    disabled=move || index.get().is_none_or(|i| i == 0)
                    on:click=move |_| ed.edit(|d| d.move_param(row, true))>
                    "Move up"
                </button>
                <button type="button" data-testid="param-down"
                    disabled=move || index.get().is_none_or(|i| i + 1 >= count.get())
                    on:click=move |_| ed.edit(|d| d.move_param(row, false))>
                    "Move down"
                </button>
                <button type="button" data-testid="param-remove"
                    on:click=move |_| ed.edit(|d| d.remove_param(row))>
                    "Remove"
                </button>
            </div>
        </fieldset>
    }
}

/// The constraints of a parameter of type `kind`, and nothing else.
fn constraints(r: Row, kind: String) -> AnyView {
    let max_length = || {
        r.field(
            Field::new(
                "Max length (characters)",
                "param-max-length",
                Control::Whole,
            ),
            "max_length",
            |p| &p.max_length,
            |p, v| p.max_length = v,
        )
    };
    match kind.as_str() {
        "string" => view! {
            {r.field(Field::new("Pattern (the whole value matches it)", "param-pattern", Control::Text).hint("such as [a-z]+"),
                "pattern", |p| &p.pattern, |p, v| p.pattern = v)}
            {max_length()}
        }
        .into_any(),
        "text" => view! {
            {r.field(Field::new("Language (for the editor)", "param-language", Control::Text).list("param-languages").hint("such as sql"),
                "language", |p| &p.language, |p, v| p.language = v)}
            {max_length()}
        }
        .into_any(),
        "integer" | "number" => {
            let control = if kind == "integer" {
                Control::Whole
            } else {
                Control::Decimal
            };
            view! {
                {r.field(Field::new("Min", "param-min", control), "min", |p| &p.min, |p, v| p.min = v)}
                {r.field(Field::new("Max", "param-max", control), "max", |p| &p.max, |p, v| p.max = v)}
            }
            .into_any()
        }
        "enum" => r.field(
            Field::new("Values, one a line", "param-values", Control::Lines),
            "values",
            |p| &p.values,
            |p, v| p.values = v,
        ),
        _ => ().into_any(),
    }
}

/// The default, typed as `kind` says: a choice for a boolean or an enum,
/// lines for text, one line otherwise.
fn default_field(r: Row, kind: String) -> AnyView {
    let Row { ed, row, .. } = r;
    let control = match kind.as_str() {
        "boolean" => {
            let options = Memo::new(|_| vec!["true".to_owned(), "false".to_owned()]);
            return default_choice(r, options);
        }
        "enum" => {
            let options = Memo::new(move |_| {
                ed.draft
                    .with(|d| d.param(row).map(ParamDraft::choices).unwrap_or_default())
            });
            return default_choice(r, options);
        }
        "text" => Control::Lines,
        "integer" => Control::Whole,
        "number" => Control::Decimal,
        _ => Control::Text,
    };
    r.field(
        Field::new("Default", "param-default", control),
        "default",
        |p| &p.default,
        |p, v| p.default = v,
    )
}

/// A default chosen from `options`, or none.
fn default_choice(r: Row, options: Memo<Vec<String>>) -> AnyView {
    let Row { ed, row, .. } = r;
    view! {
        <label class="field">
            <span>"Default"</span>
            <select data-testid="param-default"
                prop:value=move || {
                    options.track();
                    ed.draft.with(|d| d.param(row).map(|p| p.default.clone()).unwrap_or_default())
                }
                on:change=move |ev| {
                    let value = event_target_value(&ev);
                    ed.edit(|d| {
                        if let Some(p) = d.param_mut(row) {
                            p.default = value;
                        }
                    });
                }>
                <option value="">"(none)"</option>
                {move || options.get().into_iter().map(|o| view! { <option value=o.clone()>{o.clone()}</option> }).collect_view()}
            </select>
            {ed.messages(r.at("default"))}
        </label>
    }
    .into_any()
}
