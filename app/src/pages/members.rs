//! Tenant administration: members and their roles, and the audit log.

use crate::api::access::{AuditEvent, Member, SetMember, AUDIT_ACTIONS};
use crate::api::query::AuditQuery;
use crate::api::routes;
use crate::components::load::{alert, alert_with, fetch, loaded, show};
use crate::components::time;
use crate::components::toast;
use crate::session::{Session, WithTenant};
use crate::types::Role;
use leptos::prelude::*;

const ROLES: [Role; 3] = [Role::Viewer, Role::Editor, Role::TenantAdmin];

/// Renders `children` for tenant admins; a short refusal for everyone else.
#[component]
fn AdminsOnly<F, V>(children: F) -> impl IntoView
where
    F: Fn(String) -> V + Send + Sync + 'static,
    V: IntoView + 'static,
{
    let children = std::sync::Arc::new(children);
    view! {
        <WithTenant children=move |tenant| {
            if Session::get().can(Role::TenantAdmin) {
                children(tenant).into_any()
            } else {
                view! { <p data-testid="admins-only">"Only tenant admins can see this page."</p> }.into_any()
            }
        }/>
    }
}

#[component]
pub fn MembersPage() -> impl IntoView {
    view! {
        <h1>"Members"</h1>
        <AdminsOnly children=|tenant| view! { <MemberList tenant/> }/>
    }
}

#[component]
fn MemberList(tenant: String) -> impl IntoView {
    let members = loaded::<Vec<Member>>();
    let reload = {
        let tenant = tenant.clone();
        move || {
            let tenant = tenant.clone();
            fetch(members, async move { routes::members(&tenant).await });
        }
    };
    {
        let reload = reload.clone();
        Effect::new(move |_| reload());
    }
    let error = RwSignal::new(None::<String>);
    let username = RwSignal::new(String::new());
    let role = RwSignal::new(Role::Viewer);

    let set_role = {
        let (tenant, reload) = (tenant.clone(), reload.clone());
        move |user: String, role: Role| {
            let (tenant, reload) = (tenant.clone(), reload.clone());
            leptos::task::spawn_local(async move {
                match routes::set_member(&tenant, &user, &SetMember { role }).await {
                    Ok(_) => {
                        toast::success(format!("{user} is now {role}"));
                        error.set(None);
                        reload();
                    }
                    Err(e) => {
                        error.set(Some(e.message()));
                        reload();
                    }
                }
            });
        }
    };
    let remove = {
        let (tenant, reload) = (tenant.clone(), reload.clone());
        move |user: String| {
            let (tenant, reload) = (tenant.clone(), reload.clone());
            leptos::task::spawn_local(async move {
                match routes::remove_member(&tenant, &user).await {
                    Ok(()) => {
                        toast::success(format!("{user} is no longer a member"));
                        error.set(None);
                        reload();
                    }
                    Err(e) => error.set(Some(e.message())),
                }
            });
        }
    };
    let add = {
        let set_role = set_role.clone();
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            set_role(
                username.get_untracked().trim().to_owned(),
                role.get_untracked(),
            );
            username.set(String::new());
        }
    };

    view! {
        <form class="inline" on:submit=add data-testid="member-form">
            <input aria-label="Username" placeholder="Username" required data-testid="member-username"
                prop:value=move || username.get() on:input=move |ev| username.set(event_target_value(&ev))/>
            <select aria-label="Role" data-testid="member-role"
                on:change=move |ev| if let Ok(r) = event_target_value(&ev).parse() { role.set(r) }>
                {ROLES.iter().map(|r| view! { <option value=r.to_string()>{r.to_string()}</option> }).collect_view()}
            </select>
            <button type="submit" data-testid="member-add">"Add or change"</button>
        </form>
        {move || error.get().map(|e| alert_with("member-error", e))}
        {show(members, move |list| {
                let (set_role, remove) = (set_role.clone(), remove.clone());
                view! {
                    <table class="list" data-testid="member-list">
                        <thead><tr><th>"User"</th><th>"Role"</th><th>"Since"</th><th></th></tr></thead>
                        <tbody>
                            {list.into_iter().map(|m| {
                                let (set_role, remove) = (set_role.clone(), remove.clone());
                                let (user, user2) = (m.username.clone(), m.username.clone());
                                view! {
                                    <tr data-testid="member-row">
                                        <td>{m.username.clone()}</td>
                                        <td>
                                            <select aria-label=format!("Role of {}", m.username)
                                                on:change=move |ev| if let Ok(r) = event_target_value(&ev).parse() { set_role(user.clone(), r) }>
                                                {ROLES.iter().map(|r| view! {
                                                    <option value=r.to_string() selected=*r == m.role>{r.to_string()}</option>
                                                }).collect_view()}
                                            </select>
                                        </td>
                                        <td>{time::minutes(&m.since)}</td>
                                        <td><button class="link" aria-label=format!("Remove {}", m.username)
                                            on:click=move |_| remove(user2.clone())>"Remove"</button></td>
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                }
        })}
    }
}

#[component]
pub fn AuditPage() -> impl IntoView {
    view! {
        <h1>"Audit log"</h1>
        <AdminsOnly children=|tenant| view! { <AuditList tenant/> }/>
    }
}

const PAGE: usize = 50;

#[component]
fn AuditList(tenant: String) -> impl IntoView {
    let user = RwSignal::new(String::new());
    let action = RwSignal::new(String::new());
    let entries = RwSignal::new(Vec::<AuditEvent>::new());
    let more = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    // Loads the first page (or, with `after_last`, the next one).
    let load = move |after_last: bool| {
        let query = AuditQuery {
            user: Some(user.get_untracked()).filter(|u| !u.is_empty()),
            // "Any action" is the empty value, which names no action.
            action: Some(action.get_untracked()).filter(|a| !a.is_empty()),
            before: after_last
                .then(|| entries.with_untracked(|e| e.last().map(|e| e.id.clone())))
                .flatten(),
            limit: Some(PAGE as i64),
        };
        let tenant = tenant.clone();
        leptos::task::spawn_local(async move {
            match routes::audit(&tenant, &query).await {
                Ok(page) => {
                    more.set(page.len() == PAGE);
                    error.set(None);
                    if after_last {
                        entries.update(|e| e.extend(page));
                    } else {
                        entries.set(page);
                    }
                }
                Err(e) => error.set(Some(e.message())),
            }
        });
    };
    let load = StoredValue::new(load);
    Effect::new(move |_| load.with_value(|l| l(false)));

    view! {
        <form class="inline" data-testid="audit-filter"
            on:submit=move |ev: leptos::ev::SubmitEvent| { ev.prevent_default(); load.with_value(|l| l(false)); }>
            <input aria-label="User" placeholder="User" data-testid="audit-user"
                prop:value=move || user.get() on:input=move |ev| user.set(event_target_value(&ev))/>
            <select aria-label="Action" data-testid="audit-action"
                on:change=move |ev| { action.set(event_target_value(&ev)); load.with_value(|l| l(false)); }>
                <option value="">"Any action"</option>
                {AUDIT_ACTIONS.iter().map(|a| view! { <option value=a.as_str()>{a.as_str()}</option> }).collect_view()}
            </select>
            <button type="submit" data-testid="audit-apply">"Filter"</button>
        </form>
        {move || error.get().map(alert)}
        <table class="list" data-testid="audit-list">
            <thead><tr><th>"When"</th><th>"Who"</th><th>"How"</th><th>"What"</th><th>"On"</th><th>"Details"</th></tr></thead>
            <tbody>
                {move || entries.get().into_iter().map(|e| {
                    let action = e.action.as_str();
                    view! {
                    <tr data-testid="audit-row" data-action=action>
                        <td>{time::minutes(&e.at)}</td>
                        <td>{e.actor}</td>
                        <td class="muted">{e.via.as_str()}</td>
                        <td>{action}</td>
                        <td><code>{e.target.unwrap_or_default()}</code></td>
                        <td class="muted">{e.detail.map(|d| d.to_string()).unwrap_or_default()}</td>
                    </tr>
                }}).collect_view()}
            </tbody>
        </table>
        <Show when=move || more.get()>
            <button data-testid="audit-more" on:click=move |_| load.with_value(|l| l(true))>"Older entries"</button>
        </Show>
    }
}
