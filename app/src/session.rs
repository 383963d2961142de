//! Who is signed in, shared by every page through context. Loaded from
//! `GET /api/v1/me` once the page is live in the browser.

use crate::api::auth::Me;
use leptos::prelude::*;

/// Where the sign-in state stands.
#[derive(Clone, Debug, PartialEq)]
pub enum SignIn {
    /// Not known yet (server rendering, or the request is on its way).
    Checking,
    SignedOut,
    SignedIn(Me),
}

#[derive(Clone, Copy)]
pub struct Session {
    pub state: RwSignal<SignIn>,
}

impl Session {
    /// Provides the session and, in the browser, asks who is signed in.
    pub fn provide() -> Session {
        let session = Session {
            state: RwSignal::new(SignIn::Checking),
        };
        provide_context(session);
        Effect::new(move |_| {
            leptos::task::spawn_local(async move {
                let state = match crate::client::get::<Me>("/api/v1/me").await {
                    Ok(me) => SignIn::SignedIn(me),
                    Err(_) => SignIn::SignedOut,
                };
                session.state.set(state);
            });
        });
        session
    }

    pub fn get() -> Session {
        expect_context::<Session>()
    }

    /// The tenant the pages work in: the first the user belongs to.
    pub fn tenant(&self) -> Option<String> {
        match self.state.get() {
            SignIn::SignedIn(me) => me.tenants.first().map(|t| t.slug.clone()),
            _ => None,
        }
    }
}

/// Renders `children` with the current tenant once signed in; otherwise a
/// loading line or a prompt to sign in.
#[component]
pub fn WithTenant<F, V>(children: F) -> impl IntoView
where
    F: Fn(String) -> V + Send + Sync + 'static,
    V: IntoView + 'static,
{
    let session = Session::get();
    move || {
        match session.state.get() {
        SignIn::Checking => view! { <p class="muted" data-testid="loading">"Loading…"</p> }.into_any(),
        SignIn::SignedOut => view! {
            <p data-testid="signed-out">
                "You are not signed in. " <a href="/login">"Sign in"</a> " to continue."
            </p>
        }
        .into_any(),
        SignIn::SignedIn(me) => match me.tenants.first() {
            Some(t) => children(t.slug.clone()).into_any(),
            None => view! { <p>"You are not a member of any tenant yet; ask an administrator to add you."</p> }.into_any(),
        },
    }
    }
}
