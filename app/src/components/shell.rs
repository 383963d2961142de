//! The page frame every route shares: header with navigation, content, footer.

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, Stylesheet, Title};
use leptos_router::{
    components::{Route, Router, Routes, A},
    path, Lazy, LazyRoute, StaticSegment,
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

/// Pages the browser loads when one of them is first visited: built with
/// `cargo leptos build --split`, each part of the bundle holds a few pages
/// people use together (with the code only they use), so the sign-in page
/// and the processes list do not wait for the canvas, the run view or the
/// admin pages. On the server they are ordinary routes; the browser build
/// must be split (`--split`) to load.
///
/// Pages share a part where they share most code or follow one another (a
/// process's tabs, a run and the runs list): every further part is a file
/// to fetch, and the splitter puts the code any two parts share in a file of
/// its own — 19 parts of one page each made 370 files, most under 1 KB,
/// whose compression alone cost a third of the bundle (issue 24).
macro_rules! lazy_parts {
    ($($part:ident { $($route:ident => $page:path),* $(,)? })*) => {
        /// One split function per page, `#[lazy(part)]` putting it in its part.
        #[allow(non_snake_case)]
        mod parts {
            use leptos::prelude::*;
            $($(
                #[leptos::lazy($part)]
                pub fn $route() -> AnyView {
                    // As the router runs a page's component: untracked.
                    untrack(|| $page().into_any())
                }
            )*)*
        }
        $($(
            struct $route;

            impl LazyRoute for $route {
                fn data() -> Self {
                    $route
                }

                async fn view(_this: Self) -> AnyView {
                    parts::$route().await
                }

                async fn preload() {
                    // The part starts loading with the route's data.
                    #[cfg(target_arch = "wasm32")]
                    pastey::paste! { parts::[<__preload_ $route>]().await; }
                }
            }
        )*)*
    };
}

lazy_parts! {
    home { Home => crate::pages::home::HomePage }
    // The editor, where a process opens, on its own: with the other tabs
    // its part was 609 KB, alone it is what opening a process waits for.
    editor { Editor => crate::pages::process_editor::EditorPage }
    process {
        Versions => crate::pages::history::VersionsPage,
        ProcessRuns => crate::pages::history::ProcessRunsPage,
        ProcessSchedule => crate::pages::schedules::ProcessSchedulePage,
        ProcessCopy => crate::pages::process_copy::ProcessCopyPage,
    }
    create {
        Import => crate::pages::process_import::ImportPage,
        Templates => crate::pages::templates::TemplatesPage,
    }
    runs {
        Runs => crate::pages::runs::RunsPage,
        Run => crate::pages::run::RunPage,
    }
    data {
        Files => crate::pages::files::FilesPage,
        Datasets => crate::pages::datasets::DatasetsPage,
    }
    tenant {
        Schedules => crate::pages::schedules::SchedulesPage,
        Connections => crate::pages::connections::ConnectionsPage,
        Alerts => crate::pages::alerts::AlertsPage,
        Members => crate::pages::members::MembersPage,
        Audit => crate::pages::members::AuditPage,
    }
    admin { Admin => crate::pages::admin::AdminPage }
    profile { Profile => crate::pages::account::ProfilePage }
}
