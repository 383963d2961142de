//! The schedule editor's live preview: what the expression means and its
//! next fires, asked of the server (the scheduler's own parser) a moment
//! after the expression or the zone stop changing.

use crate::api::query::PreviewQuery;
use crate::api::routes;
use crate::api::schedules::SchedulePreview;
use crate::api::FieldError;
use crate::components::time;
use leptos::prelude::*;
use std::time::Duration;

#[component]
pub fn PreviewPanel(
    tenant: String,
    cron: RwSignal<String>,
    timezone: RwSignal<String>,
) -> impl IntoView {
    let preview = RwSignal::new(None::<Result<SchedulePreview, Vec<FieldError>>>);
    let typed = StoredValue::new(0u64);
    Effect::new(move |_| {
        let query = PreviewQuery {
            cron: Some(cron.get()),
            timezone: Some(timezone.get()),
        };
        let n = typed.get_value() + 1;
        typed.set_value(n);
        let tenant = tenant.clone();
        set_timeout(
            move || {
                // The page may have gone in the meantime.
                if typed.try_get_value() != Some(n) {
                    return;
                }
                leptos::task::spawn_local(async move {
                    let result = routes::schedule_preview(&tenant, &query).await;
                    if typed.try_get_value() == Some(n) {
                        preview.set(Some(result.map_err(|e| match e.problem {
                            Some(p) if !p.errors.is_empty() => p.errors,
                            _ => vec![FieldError::new("cron", "unknown", e.message())],
                        })));
                    }
                });
            },
            Duration::from_millis(250),
        );
    });
    view! {
        <section class="panel" data-testid="schedule-preview" aria-live="polite">
            <h2>"Next fires"</h2>
            {move || match preview.get() {
                None => view! { <p class="muted">"…"</p> }.into_any(),
                Some(Err(errors)) => view! {
                    <div class="error" role="alert" data-testid="preview-error">
                        {errors.into_iter().map(|e| view! { <p>{format!("{}: {}", e.field, e.message)}</p> }).collect_view()}
                    </div>
                }.into_any(),
                Some(Ok(p)) => view! {
                    <p data-testid="preview-words">{p.description.clone()}</p>
                    <table class="list">
                        <thead><tr><th>{move || timezone.get()}</th><th>"UTC"</th></tr></thead>
                        <tbody>
                            {p.next_fires_local.iter().zip(p.next_fires.iter()).map(|(local, utc)| view! {
                                <tr data-testid="preview-fire"><td>{time::spaced(local)}</td><td class="muted">{time::spaced(utc)}</td></tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any(),
            }}
        </section>
    }
}
