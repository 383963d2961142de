//! A process's backfills, each with its progress bar, kept current by
//! reloading every 2 s while any is running (a backfill ends in the
//! scheduler's pass, which no run event announces), and Cancel / Stop runs
//! too for editors.

use super::backfill_values::Progress;
use crate::api::backfills::{Backfill, BackfillState, CancelQuery};
use crate::api::routes;
use crate::components::badge::StateBadge;
use crate::components::load::{alert, show, Loaded};
use crate::components::time;
use leptos::prelude::*;
use std::time::Duration;

/// The list as the page holds it, and the reloading of it.
#[derive(Clone, Copy)]
pub struct Backfills {
    /// The tenant and the process.
    target: StoredValue<(String, String)>,
    pub list: Loaded<Vec<Backfill>>,
    /// Counts reloads, so only the latest one keeps polling.
    round: StoredValue<u64>,
}

impl Backfills {
    pub fn new(tenant: String, id: String) -> Backfills {
        Backfills {
            target: StoredValue::new((tenant, id)),
            list: RwSignal::new(None),
            round: StoredValue::new(0),
        }
    }

    /// Loads the list now, and again every 2 s while a backfill runs and
    /// the page is open.
    pub fn reload(self) {
        let n = self.round.get_value() + 1;
        self.round.set_value(n);
        let (tenant, id) = self.target.get_value();
        leptos::task::spawn_local(async move {
            let answer = routes::backfills(&tenant, &id).await;
            let running = matches!(&answer, Ok(list) if list.iter().any(|b| b.state == BackfillState::Running));
            if self.list.try_set(Some(answer)).is_some() {
                return; // the page has gone
            }
            if running {
                set_timeout(
                    move || {
                        if self.round.try_get_value() == Some(n) {
                            self.reload();
                        }
                    },
                    Duration::from_secs(2),
                );
            }
        });
    }

    fn cancel(self, backfill: String, stop: bool, error: RwSignal<Option<String>>) {
        let (tenant, id) = self.target.get_value();
        let query = CancelQuery {
            mode: stop.then(|| "stop".to_owned()),
        };
        leptos::task::spawn_local(async move {
            match routes::cancel_backfill(&tenant, &id, &backfill, &query).await {
                Ok(_) => error.set(None),
                Err(e) => error.set(Some(e.message())),
            }
            self.reload();
        });
    }
}

#[component]
pub fn BackfillList(backfills: Backfills, process: String, editor: bool) -> impl IntoView {
    let error = RwSignal::new(None::<String>);
    Effect::new(move |_| backfills.reload());
    view! {
        {move || error.get().map(alert)}
        {show(backfills.list, move |list| if list.is_empty() {
            view! { <p class="muted" data-testid="no-backfills">"No backfills yet."</p> }.into_any()
        } else {
            let process = process.clone();
            view! {
                <table class="list" data-testid="backfill-list">
                    <thead><tr><th>"Range (UTC)"</th><th>"Fires"</th><th>"Progress"</th><th>"State"</th><th>"Started"</th><th></th></tr></thead>
                    <tbody>
                        {list.into_iter().map(|b| view! { <Row b process=process.clone() editor backfills error/> }).collect_view()}
                    </tbody>
                </table>
            }.into_any()
        })}
    }
}

#[component]
fn Row(
    b: Backfill,
    process: String,
    editor: bool,
    backfills: Backfills,
    error: RwSignal<Option<String>>,
) -> impl IntoView {
    let progress = Progress::of(&b);
    let running = b.state == BackfillState::Running;
    let (pending, stop) = (b.id.clone(), b.id.clone());
    view! {
        <tr data-testid="backfill-row" data-state=b.state.as_str()>
            <td>{format!("{} … {}", time::minutes(&b.start), time::minutes(&b.end))}</td>
            <td><code>{b.cron.clone()}</code>" " <span class="muted">{format!("{} · v{}", b.timezone, b.version)}</span></td>
            <td><ProgressBar progress/></td>
            <td><StateBadge state=b.state.as_str()/></td>
            <td class="muted">{b.created_by.clone().unwrap_or_default()}" " {time::minutes(&b.created_at)}</td>
            <td>
                <div class="toolbar">
                    <a href=format!("/processes/{process}/runs") data-testid="backfill-runs">"Runs"</a>
                    {(editor && running).then(|| view! {
                        <button data-testid="backfill-cancel" title="Start none of the runs that have not started"
                            on:click=move |_| backfills.cancel(pending.clone(), false, error)>"Cancel"</button>
                        <button class="danger" data-testid="backfill-stop" title="Also stop the runs that are running"
                            on:click=move |_| backfills.cancel(stop.clone(), true, error)>"Stop runs too"</button>
                    })}
                </div>
            </td>
        </tr>
    }
}

/// The fires as a bar of coloured parts (succeeded, failed, running,
/// cancelled, waiting) with the same in words.
#[component]
fn ProgressBar(progress: Progress) -> impl IntoView {
    let label = progress.label();
    let total = progress.total.max(1) as f64;
    view! {
        <div class="backfill-progress">
            <div class="bar-track" role="progressbar" data-testid="backfill-progress"
                aria-valuemin="0" aria-valuemax=progress.total aria-valuenow=progress.ended()
                aria-valuetext=label.clone() aria-label="Fires through">
                // Drawn, not styled: the Content-Security-Policy allows no inline styles.
                <svg class="bar-parts" viewBox="0 0 100 1" preserveAspectRatio="none" aria-hidden="true">
                    {progress.segments().into_iter().scan(0.0, |x, (class, n)| {
                        let width = n as f64 * 100.0 / total;
                        let at = *x;
                        *x += width;
                        Some(view! {
                            <rect class=format!("segment {class}") x=format!("{at:.2}") y="0"
                                width=format!("{width:.2}") height="1"></rect>
                        })
                    }).collect_view()}
                </svg>
            </div>
            <span class="muted" data-testid="backfill-progress-label">{label}</span>
        </div>
    }
}
