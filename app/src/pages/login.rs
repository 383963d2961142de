//! Sign-in: with a password, or through single sign-on when configured.

use crate::api::access::AuthMethods;
use crate::api::auth::LoginRequest;
use crate::api::routes;
use crate::components::load::{alert_with, fetch, loaded};
use crate::session::{Session, SignIn};
use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_query_map};
use leptos_router::NavigateOptions;

#[component]
pub fn LoginPage() -> impl IntoView {
    let session = Session::get();
    let username = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    // Single sign-on comes back here with the reason when it fails.
    let query = use_query_map();
    let error = RwSignal::new(None::<String>);
    Effect::new(move |_| {
        if let Some(reason) = query.with(|q| q.get("error")) {
            error.set(Some(reason));
        }
    });
    let busy = RwSignal::new(false);
    let navigate = use_navigate();
    let methods = loaded::<AuthMethods>();
    Effect::new(move |_| fetch(methods, routes::auth_methods()));
    let sso = move || {
        methods.get().and_then(Result::ok).and_then(|m| m.sso).map(|label| {
            view! {
                <p class="sso">
                    <a class="button" rel="external" href="/api/v1/auth/oidc/login?next=/" data-testid="sso">{label}</a>
                </p>
                <p class="muted">"or with a password:"</p>
            }
        })
    };

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        busy.set(true);
        error.set(None);
        let navigate = navigate.clone();
        leptos::task::spawn_local(async move {
            let body = LoginRequest {
                username: username.get_untracked(),
                password: password.get_untracked(),
            };
            match routes::login(&body).await {
                Ok(me) => {
                    session.state.set(SignIn::SignedIn(me));
                    navigate("/", NavigateOptions::default());
                }
                Err(e) => error.set(Some(e.message())),
            }
            busy.set(false);
        });
    };

    view! {
        <section class="login">
            <h1>"Sign in"</h1>
            {sso}
            <form on:submit=submit data-testid="login-form">
                <label>
                    "Username"
                    <input
                        name="username"
                        autocomplete="username"
                        required
                        prop:value=move || username.get()
                        on:input=move |ev| username.set(event_target_value(&ev))
                    />
                </label>
                <label>
                    "Password"
                    <input
                        name="password"
                        type="password"
                        autocomplete="current-password"
                        required
                        prop:value=move || password.get()
                        on:input=move |ev| password.set(event_target_value(&ev))
                    />
                </label>
                {move || error.get().map(|e| alert_with("login-error", e))}
                <button type="submit" data-testid="login-submit" disabled=move || busy.get()>
                    {move || if busy.get() { "Signing in…" } else { "Sign in" }}
                </button>
            </form>
        </section>
    }
}
