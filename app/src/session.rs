//! Who is signed in, shared by every page through context. Loaded from
//! `GET /api/v1/me` once the page is live in the browser.

use crate::api::auth::{Me, TenantMembership};
use crate::types::Role;
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
    /// The tenant the user chose to work in (kept in the browser's storage).
    chosen: RwSignal<Option<String>>,
}

const CHOSEN_KEY: &str = "trellis.tenant";

/// The browser's local storage (none on the server).
pub(crate) fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok()?
}

impl Session {
    /// Provides the session and, in the browser, asks who is signed in.
    pub fn provide() -> Session {
        let session = Session {
            state: RwSignal::new(SignIn::Checking),
            chosen: RwSignal::new(None),
        };
        provide_context(session);
        // Only once the page is live: what the session changes must not
        // reach a route that is still hydrating.
        Effect::new(move |_| {
            if !crate::live::is_live() {
                return;
            }
            session
                .chosen
                .set(storage().and_then(|s| s.get_item(CHOSEN_KEY).ok()?));
            session.refresh();
        });
        session
    }

    /// Asks the server again who is signed in.
    pub fn refresh(self) {
        leptos::task::spawn_local(async move {
            let state = match crate::api::routes::me().await {
                Ok(me) => SignIn::SignedIn(me),
                Err(_) => SignIn::SignedOut,
            };
            self.state.set(state);
        });
    }

    pub fn get() -> Session {
        expect_context::<Session>()
    }

    fn current(me: &Me, chosen: Option<&str>) -> Option<TenantMembership> {
        me.tenants
            .iter()
            .find(|t| Some(t.slug.as_str()) == chosen)
            .or_else(|| me.tenants.first())
            .cloned()
    }

    /// The tenant the pages work in: the one chosen, else the first.
    pub fn tenant(&self) -> Option<String> {
        self.membership().map(|t| t.slug)
    }

    /// The current tenant and the user's role in it.
    pub fn membership(&self) -> Option<TenantMembership> {
        let chosen = self.chosen.get();
        match self.state.get() {
            SignIn::SignedIn(me) => Self::current(&me, chosen.as_deref()),
            _ => None,
        }
    }

    /// The tenants where the user's role includes `role`, in the order the
    /// tenant switcher lists them.
    pub fn tenants_with(&self, role: Role) -> Vec<TenantMembership> {
        match self.state.get() {
            SignIn::SignedIn(me) => me
                .tenants
                .into_iter()
                .filter(|t| t.role.includes(role))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Whether the user's role in the current tenant includes `role`.
    pub fn can(&self, role: Role) -> bool {
        self.membership().is_some_and(|t| t.role.includes(role))
    }

    pub fn platform_admin(&self) -> bool {
        matches!(self.state.get(), SignIn::SignedIn(me) if me.platform_admin)
    }

    /// Works in `slug` from now on (and after a reload).
    pub fn switch(&self, slug: String) {
        if let Some(s) = storage() {
            let _ = s.set_item(CHOSEN_KEY, &slug);
        }
        self.chosen.set(Some(slug));
    }

    /// Ends the session on the server, then starts afresh at the sign-in
    /// page (a full load, so nothing of the session stays in memory).
    pub fn sign_out(self) {
        leptos::task::spawn_local(async move {
            let _ = crate::api::routes::logout().await;
            self.state.set(SignIn::SignedOut);
            if let Some(w) = web_sys::window() {
                let _ = w.location().set_href("/login");
            }
        });
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
        SignIn::Checking => crate::components::load::loading(),
        SignIn::SignedOut => view! {
            <p data-testid="signed-out">
                "You are not signed in. " <a href="/login">"Sign in"</a> " to continue."
            </p>
        }
        .into_any(),
        SignIn::SignedIn(_) => match session.tenant() {
            Some(slug) => children(slug).into_any(),
            None => view! { <p>"You are not a member of any tenant yet; ask an administrator to add you."</p> }.into_any(),
        },
    }
    }
}
