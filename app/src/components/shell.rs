//! The page frame every route shares: header with navigation, content, footer.

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, Stylesheet, Title};
use leptos_router::{
    components::{Route, Router, Routes, A},
    lazy_route, path, Lazy, LazyRoute, StaticSegment,
};

use crate::components::shortcuts::ShortcutsOverlay;
use crate::components::toast::{ToastRegion, Toasts};
use crate::pages::{login::LoginPage, placeholder::Placeholder, processes::ProcessesPage};
use crate::session::{Session, SignIn};
use crate::types::Role;

/// The HTML document the server renders around the app.
#[cfg(feature = "ssr")]
pub fn shell(options: LeptosOptions) -> impl IntoView {
    use leptos_meta::MetaTags;
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The navigation entries of the header, in order.
pub const NAV: &[(&str, &str)] = &[
    ("/processes", "Processes"),
    ("/runs", "Runs"),
    ("/schedules", "Schedules"),
    ("/datasets", "Datasets"),
    ("/files", "Files"),
    ("/connections", "Connections"),
];

/// The signed-in user's corner of the header: the tenant they work in (a
/// switcher when they belong to several) and a menu with their profile and
/// sign-out.
#[component]
fn UserCorner() -> impl IntoView {
    let session = Session::get();
    move || match session.state.get() {
        SignIn::SignedIn(me) => {
            let tenants = me.tenants.clone();
            let switcher = match tenants.len() {
                0 => ().into_any(),
                1 => view! { <span class="tenant" data-testid="current-tenant">{tenants[0].name.clone()}</span> }
                    .into_any(),
                _ => view! {
                    <select class="tenant-switcher" aria-label="Tenant" data-testid="tenant-switcher"
                        on:change=move |ev| session.switch(event_target_value(&ev))>
                        {tenants.into_iter().map(|t| {
                            let slug = t.slug.clone();
                            view! {
                                <option value=t.slug.clone() selected=move || session.tenant().as_ref() == Some(&slug)>
                                    {t.name.clone()}
                                </option>
                            }
                        }).collect_view()}
                    </select>
                }
                .into_any(),
            };
            view! {
                {switcher}
                <details class="user-menu" data-testid="user-menu">
                    <summary data-testid="user">{me.username}</summary>
                    <div class="menu" role="menu">
                        <a href="/profile" role="menuitem" data-testid="menu-profile">"Profile and API tokens"</a>
                        <button role="menuitem" data-testid="sign-out" on:click=move |_| session.sign_out()>
                            "Sign out"
                        </button>
                    </div>
                </details>
            }
            .into_any()
        }
        SignIn::SignedOut => {
            view! { <a href="/login" data-testid="sign-in">"Sign in"</a> }.into_any()
        }
        SignIn::Checking => ().into_any(),
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Flips once the whole page is hydrated, its route's lazily loaded part
    // included: tests and styles can tell a live page from server-rendered HTML.
    let hydrated = Signal::derive(crate::live::is_live);
    let (routing, set_routing) = signal(false);
    // Light on the server; in the browser, the user's choice or the system's.
    let (dark, set_dark) = signal(false);
    Effect::new(move |_| set_dark.set(crate::components::theme::starts_dark()));
    let session = Session::provide();
    crate::components::catalog_context::TenantCatalog::provide(session);
    let toasts = Toasts::provide();
    let shortcuts = RwSignal::new(false);
    // The navigation on a narrow screen: a menu, closed again by a link.
    let menu = RwSignal::new(false);
    let close_on_link = move |ev: leptos::ev::MouseEvent| {
        use leptos::wasm_bindgen::JsCast;
        let on_link = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            .and_then(|el| el.closest("a").ok().flatten())
            .is_some();
        if on_link {
            menu.set(false);
        }
    };

    view! {
        <Stylesheet id="leptos" href="/pkg/trellis.css"/>
        <Title text="Trellis"/>
        <Router set_is_routing=set_routing>
            <div
                class="app"
                class:dark=move || dark.get()
                data-testid="app"
                data-hydrated=move || hydrated.get().to_string()
            >
                <header class="topbar" class:menu-open=move || menu.get()>
                    <A href="/" attr:class="brand">"Trellis"</A>
                    <button class="menu-toggle" data-testid="menu-toggle" aria-controls="topbar-menu"
                        aria-expanded=move || menu.get().to_string() on:click=move |_| menu.update(|m| *m = !*m)>
                        "Menu"
                    </button>
                    <div class="topbar-menu" id="topbar-menu" on:click=close_on_link>
                    <nav class="nav" data-testid="nav">
                        {NAV
                            .iter()
                            .map(|(href, label)| view! { <A href=*href>{*label}</A> })
                            .collect_view()}
                        <Show when=move || session.can(Role::TenantAdmin)>
                            <A href="/alerts">"Alerts"</A>
                            <A href="/members">"Members"</A>
                            <A href="/audit">"Audit log"</A>
                        </Show>
                        <Show when=move || session.platform_admin()>
                            <A href="/admin">"Admin"</A>
                        </Show>
                    </nav>
                    <UserCorner/>
                    <button
                        class="theme-toggle"
                        data-testid="theme-toggle"
                        on:click=move |_| {
                            set_dark.update(|d| *d = !*d);
                            crate::components::theme::remember(dark.get_untracked());
                        }
                    >
                        {move || if dark.get() { "Light theme" } else { "Dark theme" }}
                    </button>
                    </div>
                </header>
                // Busy while the next page (and its part of the bundle) loads.
                <main class="content" aria-busy=move || routing.get().to_string()>
                    <Routes fallback=|| view! { <Placeholder title="Page not found"/> }>
                        <Route path=StaticSegment("") view={Lazy::<Home>::new()}/>
                        <Route path=StaticSegment("login") view=LoginPage/>
                        <Route path=StaticSegment("processes") view=ProcessesPage/>
                        <Route path=path!("/processes/:id") view={Lazy::<Editor>::new()}/>
                        <Route path=path!("/processes/:id/versions") view={Lazy::<Versions>::new()}/>
                        <Route path=path!("/processes/:id/runs") view={Lazy::<ProcessRuns>::new()}/>
                        <Route path=path!("/processes/:id/schedule") view={Lazy::<ProcessSchedule>::new()}/>
                        <Route path=path!("/processes/:id/copy") view={Lazy::<ProcessCopy>::new()}/>
                        <Route path=StaticSegment("import") view={Lazy::<Import>::new()}/>
                        <Route path=StaticSegment("templates") view={Lazy::<Templates>::new()}/>
                        <Route path=StaticSegment("runs") view={Lazy::<Runs>::new()}/>
                        <Route path=path!("/runs/:id") view={Lazy::<Run>::new()}/>
                        <Route path=StaticSegment("schedules") view={Lazy::<Schedules>::new()}/>
                        <Route path=StaticSegment("connections") view={Lazy::<Connections>::new()}/>
                        <Route path=StaticSegment("alerts") view={Lazy::<Alerts>::new()}/>
                        <Route path=StaticSegment("files") view={Lazy::<Files>::new()}/>
                        <Route path=StaticSegment("datasets") view={Lazy::<Datasets>::new()}/>
                        <Route path=StaticSegment("admin") view={Lazy::<Admin>::new()}/>
                        <Route path=StaticSegment("members") view={Lazy::<Members>::new()}/>
                        <Route path=StaticSegment("audit") view={Lazy::<Audit>::new()}/>
                        <Route path=StaticSegment("profile") view={Lazy::<Profile>::new()}/>
                    </Routes>
                </main>
                <footer class="footer" data-testid="footer">
                    "Trellis " <span data-testid="version">{crate::VERSION}</span>
                    <button class="link" data-testid="shortcuts-open" on:click=move |_| shortcuts.set(true)>
                        "Keyboard shortcuts (?)"
                    </button>
                </footer>
                <ToastRegion toasts/>
                <ShortcutsOverlay open=shortcuts/>
            </div>
        </Router>
    }
}

/// A page the browser loads when it is first visited: built with
/// `cargo leptos build --split`, each is its own part of the bundle (with the
/// code only it uses), so the sign-in page and the processes list do not wait
/// for the canvas, the run view or the admin pages. On the server it is an
/// ordinary route; the browser build must be split (`--split`) to load.
macro_rules! lazy_page {
    ($($route:ident => $page:path),* $(,)?) => {$(
        struct $route;

        #[lazy_route]
        impl LazyRoute for $route {
            fn data() -> Self {
                $route
            }

            fn view(_this: Self) -> AnyView {
                // As the router runs a page's component: untracked.
                untrack(|| $page().into_any())
            }
        }
    )*};
}

lazy_page! {
    Home => crate::pages::home::HomePage,
    Editor => crate::pages::process_editor::EditorPage,
    Versions => crate::pages::history::VersionsPage,
    ProcessRuns => crate::pages::history::ProcessRunsPage,
    ProcessSchedule => crate::pages::schedules::ProcessSchedulePage,
    ProcessCopy => crate::pages::process_copy::ProcessCopyPage,
    Import => crate::pages::process_import::ImportPage,
    Templates => crate::pages::templates::TemplatesPage,
    Runs => crate::pages::runs::RunsPage,
    Run => crate::pages::run::RunPage,
    Schedules => crate::pages::schedules::SchedulesPage,
    Connections => crate::pages::connections::ConnectionsPage,
    Alerts => crate::pages::alerts::AlertsPage,
    Files => crate::pages::files::FilesPage,
    Datasets => crate::pages::datasets::DatasetsPage,
    Admin => crate::pages::admin::AdminPage,
    Members => crate::pages::members::MembersPage,
    Audit => crate::pages::members::AuditPage,
    Profile => crate::pages::account::ProfilePage,
}
