//! Home, where signing in lands: what needs the user — runs that failed
//! since they last looked (the failing node and its error's first line),
//! runs in progress with their progress, the next scheduled fires, and the
//! processes edited last — all kept live over the tenant stream. Signed
//! out, what Trellis is.

use crate::api::processes::ProcessSummary;
use crate::api::query::TenantRunQuery;
use crate::api::routes;
use crate::api::runs::{Run, RunSummary};
use crate::components::badge::StateBadge;
use crate::components::load::{loaded, on_tenant_change, show};
use crate::components::time;
use crate::session::{storage, Session, SignIn, WithTenant};
use crate::types::TaskState;
use leptos::prelude::*;

#[component]
pub fn HomePage() -> impl IntoView {
    let session = Session::get();
    move || match session.state.get() {
        SignIn::SignedIn(_) => view! {
            <section class="page home" data-testid="home">
                <h1>"Home"</h1>
                <WithTenant children=|tenant| view! { <Home tenant/> }/>
            </section>
        }
        .into_any(),
        _ => view! {
            <section class="page" data-testid="home">
                <h1>"Pipelines you can see"</h1>
                <p>
                    "Compose data pipelines from components, publish immutable versions, "
                    "and watch every run live on your own compute."
                </p>
                <p><a class="button" href="/login">"Sign in"</a></p>
            </section>
        }
        .into_any(),
    }
}

/// A failed run with where it failed: the node and its error's first line.
#[derive(Clone)]
struct Failure {
    run: RunSummary,
    node: Option<String>,
    error: Option<String>,
}

/// A run in progress: its tasks ended of all.
#[derive(Clone)]
struct InProgress {
    run: RunSummary,
    ended: usize,
    total: usize,
}

/// One process's next scheduled fire.
#[derive(Clone)]
struct NextFire {
    process: String,
    name: String,
    at: String,
}

/// What the home shows, loaded together.
#[derive(Clone)]
struct Needs {
    failed: Vec<Failure>,
    running: Vec<InProgress>,
    next: Vec<NextFire>,
    recent: Vec<ProcessSummary>,
}

/// Where the browser keeps when the user last marked failures seen.
fn seen_key(tenant: &str) -> String {
    format!("trellis.seen.{tenant}")
}

/// When the user last marked failures as seen; a day ago on a first visit.
fn seen_since(tenant: &str) -> Option<String> {
    storage()
        .and_then(|s| s.get_item(&seen_key(tenant)).ok()?)
        .or_else(|| time::now_ms().and_then(|now| time::iso_of(now - 86_400_000.0)))
}

async fn load(tenant: String, since: Option<String>) -> crate::client::ApiResult<Needs> {
    let failed_query = TenantRunQuery {
        state: Some("failed".into()),
        from: since,
        limit: Some(10),
        ..Default::default()
    };
    let mut failed = Vec::new();
    for run in routes::tenant_runs(&tenant, &failed_query).await?.runs {
        let detail = routes::run(&tenant, run.id.as_str()).await.ok();
        let broken = detail.as_ref().and_then(|d| {
            d.tasks
                .iter()
                .find(|t| t.state == TaskState::Failed && t.node.is_some())
        });
        failed.push(Failure {
            node: broken.and_then(|t| t.node.clone()),
            error: broken
                .and_then(|t| t.error.as_deref())
                .and_then(|e| e.lines().next())
                .map(str::to_owned),
            run,
        });
    }
    let active = TenantRunQuery {
        state: Some("queued,running,cancelling".into()),
        limit: Some(10),
        ..Default::default()
    };
    let mut running = Vec::new();
    for run in routes::tenant_runs(&tenant, &active).await?.runs {
        let (ended, total) = routes::run(&tenant, run.id.as_str())
            .await
            .map(|d: Run| {
                let ended = d.tasks.iter().filter(|t| t.state.is_terminal()).count();
                (ended, d.tasks.len())
            })
            .unwrap_or((0, 0));
        running.push(InProgress { run, ended, total });
    }
    let mut next: Vec<NextFire> = routes::schedules(&tenant)
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|s| s.enabled)
        .filter_map(|s| {
            Some(NextFire {
                at: s.next_fires.first()?.clone(),
                process: s.process.to_string(),
                name: s.process_name,
            })
        })
        .collect();
    next.sort_by(|a, b| a.at.cmp(&b.at));
    next.truncate(5);
    let mut recent: Vec<ProcessSummary> = routes::processes(&tenant)
        .await?
        .into_iter()
        .filter(|p| !p.archived)
        .collect();
    recent.sort_by(|a, b| b.updated_at.cmp(&a.updated_at));
    recent.truncate(5);
    Ok(Needs {
        failed,
        running,
        next,
        recent,
    })
}

#[component]
fn Home(tenant: String) -> impl IntoView {
    let needs = loaded::<Needs>();
    let since = RwSignal::new(None::<String>);
    // Counts loads: only the latest one's answer is shown (an older one may
    // arrive after it, from before the failures were marked seen).
    let round = StoredValue::new(0u64);
    let reload = {
        let tenant = tenant.clone();
        move || {
            let n = round.get_value() + 1;
            round.set_value(n);
            let (tenant, from) = (tenant.clone(), since.get_untracked());
            leptos::task::spawn_local(async move {
                let answer = load(tenant, from).await;
                if round.try_get_value() == Some(n) {
                    let _ = needs.try_set(Some(answer));
                }
            });
        }
    };
    {
        let (tenant, reload) = (tenant.clone(), reload.clone());
        Effect::new(move |_| {
            since.set(seen_since(&tenant));
            reload();
        });
    }
    on_tenant_change(&tenant, reload.clone());
    let mark_seen = {
        let tenant = tenant.clone();
        move |_| {
            let now = time::now_ms().and_then(time::iso_of);
            if let (Some(storage), Some(now)) = (storage(), &now) {
                let _ = storage.set_item(&seen_key(&tenant), now);
            }
            since.set(now);
            reload();
        }
    };

    view! {
        {show(needs, move |n| {
            let mark_seen = mark_seen.clone();
            view! {
                <div class="home-grid">
                    <section class="panel" data-testid="home-failed">
                        <h2>"Failed since you last looked"</h2>
                        {if n.failed.is_empty() {
                            view! { <p class="muted" data-testid="home-failed-empty">"No failures. Runs that fail show up here until you mark them seen."</p> }.into_any()
                        } else {
                            view! {
                                <ul class="home-list">
                                    {n.failed.into_iter().map(|f| view! {
                                        <li data-testid="home-failed-run" data-run=f.run.id.to_string()>
                                            <a href=format!("/runs/{}", f.run.id)>{f.run.process_name.clone()}</a>
                                            " " <span class="muted">{format!("v{} · {}", f.run.version, time::minutes(&f.run.created_at))}</span>
                                            {f.node.map(|node| view! { <div>"Failed at " <strong data-testid="home-failed-node">{node}</strong></div> })}
                                            {f.error.map(|e| view! { <div class="error-line" data-testid="home-failed-error">{e}</div> })}
                                        </li>
                                    }).collect_view()}
                                </ul>
                                <button data-testid="home-mark-seen" on:click=mark_seen>"Mark all as seen"</button>
                            }.into_any()
                        }}
                    </section>
                    <section class="panel" data-testid="home-running">
                        <h2>"Running now"</h2>
                        {if n.running.is_empty() {
                            view! { <p class="muted" data-testid="home-running-empty">"Nothing is running. Start a run from a process, or let a schedule start one."</p> }.into_any()
                        } else {
                            view! {
                                <ul class="home-list">
                                    {n.running.into_iter().map(|r| view! {
                                        <li data-testid="home-running-run" data-run=r.run.id.to_string()>
                                            <a href=format!("/runs/{}", r.run.id)>{r.run.process_name.clone()}</a>
                                            " " <StateBadge state=r.run.state.to_string()/>
                                            <Progress ended=r.ended total=r.total/>
                                        </li>
                                    }).collect_view()}
                                </ul>
                            }.into_any()
                        }}
                    </section>
                    <section class="panel" data-testid="home-next">
                        <h2>"Next scheduled"</h2>
                        {if n.next.is_empty() {
                            view! { <p class="muted" data-testid="home-next-empty">"No schedules are on. Give a process a schedule on its Schedule tab."</p> }.into_any()
                        } else {
                            view! {
                                <ul class="home-list">
                                    {n.next.into_iter().map(|f| view! {
                                        <li data-testid="home-next-fire">
                                            <a href=format!("/processes/{}/schedule", f.process)>{f.name}</a>
                                            " " <span class="muted">{format!("{} UTC", time::minutes(&f.at))}</span>
                                        </li>
                                    }).collect_view()}
                                </ul>
                            }.into_any()
                        }}
                    </section>
                    <section class="panel" data-testid="home-recent">
                        <h2>"Edited lately"</h2>
                        {if n.recent.is_empty() {
                            view! { <p class="muted" data-testid="home-recent-empty">"No processes yet. " <a href="/processes">"Create one"</a> " to begin."</p> }.into_any()
                        } else {
                            view! {
                                <ul class="home-list">
                                    {n.recent.into_iter().map(|p| view! {
                                        <li data-testid="home-recent-process">
                                            <a href=format!("/processes/{}", p.id)>{p.name}</a>
                                            " " <span class="muted">{time::minutes(&p.updated_at)}</span>
                                        </li>
                                    }).collect_view()}
                                </ul>
                            }.into_any()
                        }}
                    </section>
                </div>
            }
        })}
    }
}

/// A run's progress: its tasks ended of all, as a bar and in words.
#[component]
fn Progress(ended: usize, total: usize) -> impl IntoView {
    let width = if total == 0 {
        0.0
    } else {
        ended as f64 * 100.0 / total as f64
    };
    let label = format!("{ended} of {total} tasks done");
    view! {
        <div class="backfill-progress">
            <div class="bar-track" role="progressbar" data-testid="home-progress"
                aria-valuemin="0" aria-valuemax=total aria-valuenow=ended
                aria-valuetext=label.clone() aria-label="Tasks done">
                // Drawn, not styled: the Content-Security-Policy allows no inline styles.
                <svg class="bar-parts" viewBox="0 0 100 1" preserveAspectRatio="none" aria-hidden="true">
                    <rect class="segment running" x="0" y="0" width=format!("{width:.2}") height="1"></rect>
                </svg>
            </div>
            <span class="muted">{label}</span>
        </div>
    }
}
