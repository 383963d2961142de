//! The backfill form: a range of days, the cron expression and zone (the
//! schedule's to start with), the version, its run parameters, how many runs
//! at once and in which order; a live preview from the server's dry run a
//! moment after a field stops changing, the server's problems next to their
//! fields, and Start.

use super::backfill_list::Backfills;
use super::backfill_values::{preview_words, BackfillValues, FIELDS};
use super::declared::Declared;
use crate::api::backfills::{BackfillPreview, NewBackfill};
use crate::api::processes::VersionSummary;
use crate::api::routes;
use crate::api::schedules::Schedule;
use crate::api::FieldError;
use crate::client::ApiError;
use crate::components::run_form::{run_params, ParamFields};
use leptos::prelude::*;
use std::time::Duration;

/// The form's state: its fields and what the server said of them.
#[derive(Clone, Copy)]
struct Fields {
    start_day: RwSignal<String>,
    end_day: RwSignal<String>,
    cron: RwSignal<String>,
    timezone: RwSignal<String>,
    version: RwSignal<String>,
    max_active_runs: RwSignal<String>,
    order: RwSignal<String>,
    /// The version's declared parameters and the texts of their inputs.
    params: Declared,
    errors: RwSignal<Vec<FieldError>>,
    /// A problem that belongs to no field.
    failure: RwSignal<Option<String>>,
}

impl Fields {
    fn new() -> Fields {
        let text = |s: &str| RwSignal::new(s.to_owned());
        Fields {
            start_day: text(""),
            end_day: text(""),
            cron: text(""),
            timezone: text(""),
            version: text(""),
            max_active_runs: text("1"),
            order: text("oldest_first"),
            params: Declared::new(),
            errors: RwSignal::new(Vec::new()),
            failure: RwSignal::new(None),
        }
    }

    /// The request the fields make (tracked), or `None` until both days are
    /// chosen and the parameters are known.
    fn request(self) -> Option<NewBackfill> {
        let values = BackfillValues {
            start_day: self.start_day.get(),
            end_day: self.end_day.get(),
            cron: self.cron.get(),
            timezone: self.timezone.get(),
            version: self.version.get(),
            max_active_runs: self.max_active_runs.get(),
            order: self.order.get(),
        };
        let declared = self.params.params.get()?;
        let params = self.params.texts.with(|t| run_params(&declared, t));
        values.request(params)
    }

    /// Shows what the server refused: next to the fields it names, or above
    /// the button when it names none the form has.
    fn refused(self, e: ApiError) {
        let found = e
            .problem
            .as_ref()
            .map(|p| p.errors.clone())
            .unwrap_or_default();
        let inline = !found.is_empty()
            && found
                .iter()
                .all(|f| FIELDS.contains(&f.field.as_str()) || f.field.starts_with("params."));
        let _ = self.failure.try_set((!inline).then(|| e.message()));
        let _ = self.errors.try_set(found);
    }

    fn clear(self) {
        self.errors.set(Vec::new());
        self.failure.set(None);
    }

    /// The problems of `field`, under it.
    fn error(self, field: &'static str) -> impl IntoView {
        let errors = self.errors;
        move || {
            errors.with(|list| {
                list.iter()
                    .filter(|e| e.field == field)
                    .map(|e| view! { <small class="error" data-testid=format!("backfill-error-{field}")>{e.message.clone()}</small> })
                    .collect_view()
            })
        }
    }

    fn input(
        self,
        label: &'static str,
        field: &'static str,
        kind: &'static str,
        value: RwSignal<String>,
        hint: &'static str,
    ) -> impl IntoView {
        view! {
            <label class="field">
                <span>{label}</span>
                <input type=kind data-testid=format!("backfill-{field}") placeholder=hint autocomplete="off"
                    prop:value=move || value.get() on:input=move |ev| value.set(event_target_value(&ev))/>
                {self.error(field)}
            </label>
        }
    }
}

#[component]
pub fn BackfillForm(
    tenant: String,
    process: String,
    versions: RwSignal<Option<Vec<VersionSummary>>>,
    #[prop(into)] schedule: Signal<Option<Schedule>>,
    backfills: Backfills,
) -> impl IntoView {
    let f = Fields::new();
    let preview = RwSignal::new(None::<BackfillPreview>);
    let busy = RwSignal::new(false);
    let started = RwSignal::new(None::<String>);
    let target = StoredValue::new((tenant.clone(), process.clone()));

    // The schedule's expression and zone, once, as where to start from.
    let prefilled = StoredValue::new(false);
    Effect::new(move |_| {
        if let Some(s) = schedule.get() {
            if !prefilled.get_value() {
                prefilled.set_value(true);
                f.cron.set(s.cron);
                f.timezone.set(s.timezone);
            }
        }
    });
    f.params.follow((tenant, process), f.version, versions);

    // The live preview: a dry run 250 ms after the fields stop changing.
    let typed = StoredValue::new(0u64);
    Effect::new(move |_| {
        let request = f.request();
        let n = typed.get_value() + 1;
        typed.set_value(n);
        let Some(request) = request else {
            preview.set(None);
            f.clear();
            return;
        };
        set_timeout(
            move || {
                if typed.try_get_value() != Some(n) {
                    return;
                }
                let (tenant, process) = target.get_value();
                leptos::task::spawn_local(async move {
                    let answer = routes::backfill_preview(&tenant, &process, &request).await;
                    if typed.try_get_value() != Some(n) {
                        return;
                    }
                    match answer {
                        Ok(p) => {
                            f.clear();
                            preview.set(Some(p));
                        }
                        Err(e) => {
                            preview.set(None);
                            f.refused(e);
                        }
                    }
                });
            },
            Duration::from_millis(250),
        );
    });

    let start = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        started.set(None);
        let Some(request) = untrack(|| f.request()) else {
            f.errors.set(vec![FieldError::new(
                "start",
                "required",
                "choose the first and the last day",
            )]);
            return;
        };
        busy.set(true);
        let (tenant, process) = target.get_value();
        leptos::task::spawn_local(async move {
            match routes::start_backfill(&tenant, &process, &request).await {
                Ok(b) => {
                    f.clear();
                    let runs = if b.total == 1 { "run" } else { "runs" };
                    started.set(Some(format!("Started a backfill of {} {runs}.", b.total)));
                    backfills.reload();
                }
                Err(e) => f.refused(e),
            }
            let _ = busy.try_set(false);
        });
    };

    let latest = move || {
        versions.with(|v| match v.iter().flatten().next() {
            Some(v) => format!("The latest (now v{})", v.number),
            None => "The latest".to_owned(),
        })
    };
    view! {
        <form class="panel backfill-form" on:submit=start data-testid="backfill-form">
            <h2>"New backfill"</h2>
            <p class="muted">"One run per fire of the cron expression between 00:00:00 of the first day and 23:59:59 of the last, both read in UTC; each run gets its fire's logical date and data interval."</p>
            <div class="backfill-days">
                {f.input("First day (UTC)", "start", "date", f.start_day, "2026-10-01")}
                {f.input("Last day (UTC)", "end", "date", f.end_day, "2026-10-31")}
            </div>
            {f.input("Cron expression", "cron", "text", f.cron, "the schedule's")}
            {f.input("Time zone of the fires", "timezone", "text", f.timezone, "the schedule's, or UTC")}
            <label class="field">
                <span>"Version"</span>
                <select data-testid="backfill-version" on:change=move |ev| f.version.set(event_target_value(&ev))>
                    <option value="" selected=move || f.version.get().is_empty()>{latest}</option>
                    {move || versions.get().into_iter().flatten().map(|v| {
                        let n = v.number.to_string();
                        let m = n.clone();
                        view! { <option value=n selected=move || f.version.get() == m>{format!("v{}", v.number)}</option> }
                    }).collect_view()}
                </select>
                {f.error("version")}
            </label>
            <ParamFields declared=f.params.params texts=f.params.texts errors=f.errors prefix="backfill"/>
            {f.input("Runs at once", "max_active_runs", "number", f.max_active_runs, "1")}
            <label class="field">
                <span>"Order"</span>
                <select data-testid="backfill-order" on:change=move |ev| f.order.set(event_target_value(&ev))>
                    <option value="oldest_first" selected=move || f.order.get() == "oldest_first">"Oldest first"</option>
                    <option value="newest_first" selected=move || f.order.get() == "newest_first">"Newest first"</option>
                </select>
                {f.error("order")}
            </label>
            <p data-testid="backfill-preview" aria-live="polite">
                {move || match preview.get() {
                    Some(p) => view! { <strong>{preview_words(&p)}</strong> }.into_any(),
                    None if f.errors.with(Vec::is_empty) && f.failure.with(Option::is_none) => {
                        view! { <span class="muted">"Choose the first and the last day to see the runs."</span> }.into_any()
                    }
                    None => view! { <span class="muted">"Nothing to run until the problems are fixed."</span> }.into_any(),
                }}
            </p>
            {move || f.failure.get().map(|m| view! { <p class="error" role="alert" data-testid="backfill-failure">{m}</p> })}
            <div class="toolbar">
                <button type="submit" data-testid="backfill-submit" disabled=move || busy.get()>"Start backfill"</button>
                {move || started.get().map(|m| view! { <span class="ok" data-testid="backfill-started">{m}</span> })}
            </div>
        </form>
    }
}
