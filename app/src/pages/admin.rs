//! Platform administration: tenants (with their task limits, disk quotas and
//! usage), users (with disabling and password resets), and the component
//! catalog, edited in a form with a live preview (`admin/component_form.rs`).

mod component_draft;
mod component_form;
mod component_params;
mod component_preview;

use crate::api::access::{NewTenant, NewUser, Tenant, TenantChange, User, UserChange};
use crate::api::routes;
use crate::components::bytes;
use crate::components::load::{alert_with, fetch, loaded, show};
use crate::components::time;
use crate::session::{Session, SignIn};
use component_form::ComponentEditor;
use leptos::prelude::*;

#[component]
pub fn AdminPage() -> impl IntoView {
    let session = Session::get();
    view! {
        <h1>"Platform administration"</h1>
        {move || if session.platform_admin() {
            view! { <Tenants/> <Users/> <ComponentEditor/> }.into_any()
        } else {
            view! { <p data-testid="platform-admins-only">"Only platform admins can see this page."</p> }.into_any()
        }}
    }
}

fn limit_text(limit: Option<i64>) -> String {
    limit.map_or("default".to_owned(), |n| n.to_string())
}

/// A quota as typed: empty for the platform default, `unlimited` or `0`, or
/// a size such as `50 GiB`.
fn parse_quota(text: &str) -> Result<Option<i64>, String> {
    match text.trim() {
        "" => Ok(None),
        t if t.eq_ignore_ascii_case("unlimited") => Ok(Some(0)),
        t => bytes::parse(t)
            .map(|n| Some(n as i64))
            .map_err(|e| format!("Disk quota: {e}, or empty for the default")),
    }
}

/// A retention as typed: days, `0` for forever, empty for the default.
fn parse_retention(text: &str) -> Result<Option<i64>, String> {
    match text.trim() {
        "" => Ok(None),
        t => t
            .parse::<i64>()
            .ok()
            .filter(|d| (0..=36_500).contains(d))
            .map(Some)
            .ok_or_else(|| {
                "Keep runs: a number of days (0 keeps them forever), or empty for the default"
                    .to_owned()
            }),
    }
}

/// `30 days`, `forever`.
fn retention_text(days: i64) -> String {
    match days {
        0 => "forever".to_owned(),
        1 => "1 day".to_owned(),
        n => format!("{n} days"),
    }
}

/// What the last retention sweep freed: `12 runs, 3.4 MB on 2026-11-30 04:00`.
fn swept_text(t: &Tenant) -> String {
    t.last_sweep.as_ref().map_or_else(String::new, |s| {
        format!(
            "{} runs, {} on {}",
            s.runs,
            bytes::human(s.bytes.max(0) as u64),
            time::minutes(&s.at)
        )
    })
}

fn quota_text(bytes: i64) -> String {
    match bytes {
        0 => "unlimited".to_owned(),
        n => bytes::human(n.max(0) as u64),
    }
}

/// `1.2 GB of 50.0 GB (2%)`, `1.2 GB (unlimited)`.
fn usage_text(t: &Tenant) -> String {
    let used = bytes::human(t.usage_bytes.max(0) as u64);
    match t.effective_quota_bytes {
        q if q <= 0 => format!("{used} (no quota)"),
        q => format!(
            "{used} of {} ({:.0}%)",
            bytes::human(q as u64),
            t.usage_bytes as f64 * 100.0 / q as f64
        ),
    }
}

#[component]
fn Tenants() -> impl IntoView {
    let tenants = loaded::<Vec<Tenant>>();
    let reload = move || fetch(tenants, routes::tenants());
    Effect::new(move |_| reload());
    let (slug, name, limit) = (
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
    );
    let error = RwSignal::new(None::<String>);
    let parse_limit = |text: String| -> Result<Option<i64>, String> {
        match text.trim() {
            "" => Ok(None),
            t => t
                .parse()
                .map(Some)
                .map_err(|_| "Task limit: a whole number, or empty for the default".to_owned()),
        }
    };
    let create = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let max_concurrent_tasks = match parse_limit(limit.get_untracked()) {
            Ok(l) => l,
            Err(e) => return error.set(Some(e)),
        };
        let body = NewTenant {
            slug: slug.get_untracked(),
            name: name.get_untracked(),
            max_concurrent_tasks,
        };
        leptos::task::spawn_local(async move {
            match routes::create_tenant(&body).await {
                Ok(_) => {
                    error.set(None);
                    slug.set(String::new());
                    name.set(String::new());
                    limit.set(String::new());
                    reload();
                    // The creator may now pick it as a platform admin.
                    Session::get().refresh();
                }
                Err(e) => error.set(Some(e.message())),
            }
        });
    };
    let change = move |slug: String, body: TenantChange| {
        leptos::task::spawn_local(async move {
            match routes::change_tenant(&slug, &body).await {
                Ok(_) => {
                    error.set(None);
                    reload();
                }
                Err(e) => error.set(Some(e.message())),
            }
        });
    };
    let change_limit = move |slug: String, text: String| {
        let max_concurrent_tasks = match parse_limit(text) {
            Ok(l) => l,
            Err(e) => return error.set(Some(e)),
        };
        let body = TenantChange {
            max_concurrent_tasks: Some(max_concurrent_tasks),
            ..Default::default()
        };
        change(slug, body);
    };
    let change_quota = move |slug: String, text: String| {
        let quota_bytes = match parse_quota(&text) {
            Ok(q) => q,
            Err(e) => return error.set(Some(e)),
        };
        let body = TenantChange {
            quota_bytes: Some(quota_bytes),
            ..Default::default()
        };
        change(slug, body);
    };
    let change_retention = move |slug: String, text: String| {
        let days = match parse_retention(&text) {
            Ok(d) => d,
            Err(e) => return error.set(Some(e)),
        };
        let body = TenantChange {
            retention_days: Some(days),
            ..Default::default()
        };
        change(slug, body);
    };
    view! {
        <h2>"Tenants"</h2>
        <form class="inline" on:submit=create data-testid="tenant-form">
            <input aria-label="Slug" placeholder="slug (used in URLs)" required data-testid="tenant-slug"
                prop:value=move || slug.get() on:input=move |ev| slug.set(event_target_value(&ev))/>
            <input aria-label="Name" placeholder="Name" required data-testid="tenant-name"
                prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev))/>
            <input aria-label="Task limit" placeholder="Task limit (optional)" data-testid="tenant-limit"
                prop:value=move || limit.get() on:input=move |ev| limit.set(event_target_value(&ev))/>
            <button type="submit" data-testid="tenant-create">"Create tenant"</button>
        </form>
        {move || error.get().map(|e| alert_with("tenant-error", e))}
        {show(tenants, move |list| view! {
                <table class="list" data-testid="tenant-list">
                    <thead><tr><th>"Slug"</th><th>"Name"</th><th>"Members"</th><th>"Tasks at once"</th><th>"Disk used"</th><th>"Disk quota"</th><th>"Keeps runs"</th><th>"Created"</th></tr></thead>
                    <tbody>
                        {list.into_iter().map(|t| {
                            let slug = t.slug.clone();
                            let quota_slug = t.slug.clone();
                            let retention_slug = t.slug.clone();
                            let default_retention = format!("default ({})", retention_text(t.effective_retention_days));
                            let default_quota = if t.quota_bytes.is_none() {
                                format!("default ({})", quota_text(t.effective_quota_bytes))
                            } else {
                                "default".to_owned()
                            };
                            view! {
                                <tr data-testid="tenant-row">
                                    <td>{t.slug.clone()}</td>
                                    <td>{t.name.clone()}</td>
                                    <td>{t.members}</td>
                                    <td>
                                        <input aria-label=format!("Task limit of {}", t.slug) class="narrow"
                                            placeholder=limit_text(None)
                                            value=t.max_concurrent_tasks.map(|n| n.to_string()).unwrap_or_default()
                                            on:change=move |ev| change_limit(slug.clone(), event_target_value(&ev))/>
                                    </td>
                                    <td data-testid="tenant-usage">{usage_text(&t)}</td>
                                    <td>
                                        <input aria-label=format!("Disk quota of {}", t.slug) class="narrow"
                                            data-testid="tenant-quota" placeholder=default_quota
                                            value=t.quota_bytes.map(quota_text).unwrap_or_default()
                                            on:change=move |ev| change_quota(quota_slug.clone(), event_target_value(&ev))/>
                                    </td>
                                    <td>
                                        <input aria-label=format!("Days {} keeps ended runs", t.slug) class="narrow"
                                            data-testid="tenant-retention" placeholder=default_retention
                                            value=t.retention_days.map(|d| d.to_string()).unwrap_or_default()
                                            on:change=move |ev| change_retention(retention_slug.clone(), event_target_value(&ev))/>
                                        <span class="muted" data-testid="tenant-swept">{swept_text(&t)}</span>
                                    </td>
                                    <td>{time::minutes(&t.created_at)}</td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
        })}
    }
}

#[component]
fn Users() -> impl IntoView {
    let users = loaded::<Vec<User>>();
    let reload = move || fetch(users, routes::users());
    Effect::new(move |_| reload());
    let (username, password) = (RwSignal::new(String::new()), RwSignal::new(String::new()));
    let platform_admin = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let create = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let secret = Some(password.get_untracked()).filter(|p| !p.is_empty());
        let body = NewUser {
            username: username.get_untracked(),
            password: secret,
            platform_admin: platform_admin.get_untracked(),
        };
        leptos::task::spawn_local(async move {
            match routes::create_user(&body).await {
                Ok(_) => {
                    error.set(None);
                    username.set(String::new());
                    password.set(String::new());
                    reload();
                }
                Err(e) => error.set(Some(e.message())),
            }
        });
    };
    let session = Session::get();
    let me = move || match session.state.get() {
        SignIn::SignedIn(me) => me.username,
        _ => String::new(),
    };
    let set_disabled = move |username: String, disabled: bool| {
        let body = UserChange {
            disabled: Some(disabled),
            password: None,
        };
        leptos::task::spawn_local(async move {
            match routes::change_user(&username, &body).await {
                Ok(_) => {
                    error.set(None);
                    reload();
                }
                Err(e) => error.set(Some(e.message())),
            }
        });
    };
    view! {
        <h2>"Users"</h2>
        <form class="inline" on:submit=create data-testid="user-form">
            <input aria-label="Username" placeholder="Username" required data-testid="user-name"
                prop:value=move || username.get() on:input=move |ev| username.set(event_target_value(&ev))/>
            <input aria-label="Password" placeholder="Password (empty: SSO only)" type="password" data-testid="user-password"
                autocomplete="new-password"
                prop:value=move || password.get() on:input=move |ev| password.set(event_target_value(&ev))/>
            <label><input type="checkbox" prop:checked=move || platform_admin.get()
                on:change=move |ev| platform_admin.set(event_target_checked(&ev))/>" platform admin"</label>
            <button type="submit" data-testid="user-create">"Create user"</button>
        </form>
        {move || error.get().map(|e| alert_with("user-error", e))}
        {show(users, move |list| view! {
                <table class="list" data-testid="user-list">
                    <thead><tr>
                        <th>"User"</th><th>"Platform admin"</th><th>"Signs in with"</th><th>"Created"</th>
                        <th>"Status"</th><th></th>
                    </tr></thead>
                    <tbody>
                        {list.into_iter().map(|u| {
                            let how = match (u.has_password, u.sso) {
                                (true, true) => "password, single sign-on",
                                (true, false) => "password",
                                (false, true) => "single sign-on",
                                (false, false) => "nothing yet",
                            };
                            let disabled = u.disabled_at.is_some();
                            let status = u.disabled_at.as_deref().map_or("active".to_owned(), |at| {
                                format!("disabled {}", time::minutes(at))
                            });
                            let name = u.username.clone();
                            let own = me() == u.username;
                            view! {
                                <tr data-testid="user-row" data-disabled=disabled.to_string()>
                                    <td>{u.username.clone()}</td>
                                    <td>{if u.platform_admin { "yes" } else { "" }}</td>
                                    <td>{how}</td>
                                    <td>{time::minutes(&u.created_at)}</td>
                                    <td>{status}</td>
                                    <td>{(!own).then(|| view! {
                                        <button class="link" data-testid="user-toggle"
                                            aria-label=format!("{} {}", if disabled { "Enable" } else { "Disable" }, u.username)
                                            on:click=move |_| set_disabled(name.clone(), !disabled)>
                                            {if disabled { "Enable" } else { "Disable" }}
                                        </button>
                                    })}</td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
        })}
        <PasswordReset users/>
    }
}

/// Sets a user's password (their sessions end).
#[component]
fn PasswordReset(users: crate::components::load::Loaded<Vec<User>>) -> impl IntoView {
    let (who, password) = (RwSignal::new(String::new()), RwSignal::new(String::new()));
    let status = RwSignal::new(None::<Result<String, String>>);
    let reset = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let username = who.get_untracked();
        if username.is_empty() {
            return status.set(Some(Err("Choose a user".into())));
        }
        let body = UserChange {
            disabled: None,
            password: Some(password.get_untracked()),
        };
        leptos::task::spawn_local(async move {
            match routes::change_user(&username, &body).await {
                Ok(_) => {
                    password.set(String::new());
                    status.set(Some(Ok(format!(
                        "New password set for `{username}`; their sessions have ended."
                    ))));
                }
                Err(e) => status.set(Some(Err(e.message()))),
            }
        });
    };
    view! {
        <h3>"Reset a password"</h3>
        <form class="inline" on:submit=reset data-testid="password-reset-form">
            <select aria-label="User whose password to set" data-testid="password-reset-user"
                on:change=move |ev| who.set(event_target_value(&ev))>
                <option value="">"Choose a user…"</option>
                {move || users.get().and_then(Result::ok).unwrap_or_default().into_iter().map(|u| view! {
                    <option value=u.username.clone() selected=move || who.get() == u.username>{u.username.clone()}</option>
                }).collect_view()}
            </select>
            <input aria-label="New password" placeholder="New password (10 characters or more)" type="password" required
                autocomplete="new-password" data-testid="password-reset-new"
                prop:value=move || password.get() on:input=move |ev| password.set(event_target_value(&ev))/>
            <button type="submit" data-testid="password-reset-submit">"Set password"</button>
        </form>
        {move || status.get().map(|s| match s {
            Ok(m) => view! { <p class="ok" data-testid="password-reset-done">{m}</p> }.into_any(),
            Err(m) => alert_with("password-reset-error", m),
        })}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quota_is_typed_as_a_size_or_left_to_the_default() {
        assert_eq!(parse_quota(""), Ok(None));
        assert_eq!(parse_quota("unlimited"), Ok(Some(0)));
        assert_eq!(parse_quota("2 GB"), Ok(Some(2_000_000_000)));
        assert!(parse_quota("lots").unwrap_err().starts_with("Disk quota: "));
        // What the page shows reads back as the same quota, give or take rounding.
        assert_eq!(
            parse_quota(&quota_text(2_000_000_000)),
            Ok(Some(2_000_000_000))
        );
        assert_eq!(parse_quota(&quota_text(0)), Ok(Some(0)));
    }

    #[test]
    fn usage_reads_against_the_quota() {
        let tenant = |usage_bytes, effective_quota_bytes| Tenant {
            slug: "t".into(),
            name: "T".into(),
            max_concurrent_tasks: None,
            quota_bytes: None,
            effective_quota_bytes,
            usage_bytes,
            retention_days: None,
            effective_retention_days: 0,
            last_sweep: None,
            members: 1,
            created_at: String::new(),
        };
        assert_eq!(
            usage_text(&tenant(1_500_000, 10_000_000)),
            "1.5 MB of 10.0 MB (15%)"
        );
        assert_eq!(usage_text(&tenant(320, 0)), "320 B (no quota)");
    }

    #[test]
    fn a_retention_is_days_forever_or_the_default() {
        assert_eq!(parse_retention(""), Ok(None));
        assert_eq!(parse_retention(" 30 "), Ok(Some(30)));
        assert_eq!(parse_retention("0"), Ok(Some(0)));
        assert!(parse_retention("-1")
            .unwrap_err()
            .starts_with("Keep runs: "));
        assert!(parse_retention("a month").is_err());
        assert_eq!(retention_text(0), "forever");
        assert_eq!(retention_text(30), "30 days");
    }
}
