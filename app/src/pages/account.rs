//! The signed-in user's own page: who they are, their password, and their
//! API tokens.

use crate::api::access::{ApiToken, CreatedApiToken, NewApiToken, PasswordChange};
use crate::api::routes;
use crate::components::load::{alert_with, fetch, loaded, loading, show};
use crate::components::time;
use crate::session::{Session, SignIn};
use crate::types::Role;
use leptos::prelude::*;

/// Roles a user may give a token in a tenant where they are `own`.
pub fn roles_up_to(own: Role) -> Vec<Role> {
    [Role::Viewer, Role::Editor, Role::TenantAdmin]
        .into_iter()
        .filter(|r| own.includes(*r))
        .collect()
}

#[component]
pub fn ProfilePage() -> impl IntoView {
    let session = Session::get();
    move || {
        match session.state.get() {
        SignIn::Checking => loading(),
        SignIn::SignedOut => view! {
            <p data-testid="signed-out">"You are not signed in. " <a href="/login">"Sign in"</a></p>
        }
        .into_any(),
        SignIn::SignedIn(me) => view! {
            <h1>"Profile"</h1>
            <p data-testid="profile-user">
                "Signed in as " <strong>{me.username.clone()}</strong>
                {me.platform_admin.then_some(" · platform admin")}
            </p>
            <table class="list" data-testid="membership-list">
                <thead><tr><th>"Tenant"</th><th>"Role"</th></tr></thead>
                <tbody>
                    {me.tenants.iter().map(|t| view! {
                        <tr><td>{t.name.clone()} " (" {t.slug.clone()} ")"</td><td>{t.role.to_string()}</td></tr>
                    }).collect_view()}
                </tbody>
            </table>
            <ChangePassword/>
            <Tokens/>
        }
        .into_any(),
    }
    }
}

/// Changes the user's own password; their other sessions end.
#[component]
fn ChangePassword() -> impl IntoView {
    let (current, new) = (RwSignal::new(String::new()), RwSignal::new(String::new()));
    let status = RwSignal::new(None::<Result<String, String>>);
    let change = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let body = PasswordChange {
            current_password: current.get_untracked(),
            new_password: new.get_untracked(),
        };
        leptos::task::spawn_local(async move {
            match routes::change_password(&body).await {
                Ok(()) => {
                    current.set(String::new());
                    new.set(String::new());
                    status.set(Some(Ok(
                        "Password changed; your other sessions have ended.".into(),
                    )));
                }
                Err(e) => status.set(Some(Err(e.message()))),
            }
        });
    };
    view! {
        <h2>"Password"</h2>
        <form class="inline" on:submit=change data-testid="password-form">
            <input aria-label="Current password" placeholder="Current password" type="password" required
                autocomplete="current-password" data-testid="password-current"
                prop:value=move || current.get() on:input=move |ev| current.set(event_target_value(&ev))/>
            <input aria-label="New password" placeholder="New password (10 characters or more)" type="password" required
                autocomplete="new-password" data-testid="password-new"
                prop:value=move || new.get() on:input=move |ev| new.set(event_target_value(&ev))/>
            <button type="submit" data-testid="password-change">"Change password"</button>
        </form>
        {move || status.get().map(|s| match s {
            Ok(m) => view! { <p class="ok" data-testid="password-changed">{m}</p> }.into_any(),
            Err(m) => alert_with("password-error", m),
        })}
    }
}

#[component]
fn Tokens() -> impl IntoView {
    let session = Session::get();
    let tokens = loaded::<Vec<ApiToken>>();
    let reload = move || fetch(tokens, routes::my_tokens());
    Effect::new(move |_| reload());
    let name = RwSignal::new(String::new());
    let role = RwSignal::new(Role::Viewer);
    let days = RwSignal::new(String::new());
    let created = RwSignal::new(None::<CreatedApiToken>);
    let error = RwSignal::new(None::<String>);

    let create = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Some(tenant) = session.tenant() else {
            return;
        };
        let expires_in_days = match days.get_untracked().trim() {
            "" => None,
            d => match d.parse::<i64>() {
                Ok(n) => Some(n),
                Err(_) => {
                    error.set(Some("Expires in: a whole number of days, or empty".into()));
                    return;
                }
            },
        };
        let body = NewApiToken {
            name: name.get_untracked(),
            role: role.get_untracked(),
            expires_in_days,
        };
        leptos::task::spawn_local(async move {
            match routes::create_token(&tenant, &body).await {
                Ok(token) => {
                    error.set(None);
                    name.set(String::new());
                    created.set(Some(token));
                    reload();
                }
                Err(e) => error.set(Some(e.message())),
            }
        });
    };
    let revoke = move |tenant: String, id: String| {
        leptos::task::spawn_local(async move {
            match routes::revoke_token(&tenant, &id).await {
                Ok(()) => reload(),
                Err(e) => error.set(Some(e.message())),
            }
        });
    };

    view! {
        <h2>"API tokens"</h2>
        <p class="muted">
            "A token acts for you in one tenant, with a role no higher than yours. Send it as "
            <code>"Authorization: Bearer <token>"</code> "."
        </p>
        <form class="inline" on:submit=create data-testid="token-form">
            <input aria-label="Token name" placeholder="Token name" required data-testid="token-name"
                prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev))/>
            <select aria-label="Token role" data-testid="token-role"
                on:change=move |ev| if let Ok(r) = event_target_value(&ev).parse() { role.set(r) }>
                {move || {
                    let own = session.membership().map(|m| m.role).unwrap_or(Role::Viewer);
                    roles_up_to(own).into_iter().map(|r| view! {
                        <option value=r.to_string() selected=move || role.get() == r>{r.to_string()}</option>
                    }).collect_view()
                }}
            </select>
            <input aria-label="Expires in days" placeholder="Expires in days (optional)" data-testid="token-days"
                prop:value=move || days.get() on:input=move |ev| days.set(event_target_value(&ev))/>
            <button type="submit" data-testid="token-create">
                {move || format!("Create for {}", session.tenant().unwrap_or_default())}
            </button>
        </form>
        {move || error.get().map(|e| alert_with("token-error", e))}
        {move || created.get().map(|t| view! {
            <div class="notice" data-testid="token-secret-box">
                <p>"Copy the token now; it will not be shown again:"</p>
                <code data-testid="token-secret">{t.secret}</code>
            </div>
        })}
        {show(tokens, move |list| if list.is_empty() {
            view! { <p class="muted" data-testid="no-tokens">"No tokens yet."</p> }.into_any()
        } else {
            view! {
                <table class="list" data-testid="token-list">
                    <thead><tr>
                        <th>"Name"</th><th>"Tenant"</th><th>"Role"</th><th>"Starts with"</th>
                        <th>"Created"</th><th>"Last used"</th><th>"Expires"</th><th></th>
                    </tr></thead>
                    <tbody>
                        {list.into_iter().map(|t| {
                            let (tenant, id) = (t.tenant.clone(), t.id.clone());
                            let live = t.revoked_at.is_none();
                            view! {
                                <tr data-testid="token-row" data-live=live.to_string()>
                                    <td>{t.name.clone()}</td>
                                    <td>{t.tenant.clone()}</td>
                                    <td>{t.role.to_string()}</td>
                                    <td><code>{t.prefix.clone()} "…"</code></td>
                                    <td>{time::minutes(&t.created_at)}</td>
                                    <td>{t.last_used_at.as_deref().map_or("never".to_owned(), time::minutes)}</td>
                                    <td>{t.expires_at.as_deref().map_or("never".to_owned(), time::minutes)}</td>
                                    <td>{if live {
                                        view! {
                                            <button class="link" data-testid="token-revoke"
                                                aria-label=format!("Revoke {}", t.name)
                                                on:click=move |_| revoke(tenant.clone(), id.clone())>"Revoke"</button>
                                        }.into_any()
                                    } else {
                                        view! { <span class="muted">"revoked"</span> }.into_any()
                                    }}</td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            }.into_any()
        })}
    }
}
