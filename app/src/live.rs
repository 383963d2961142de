//! Whether the page is live in the browser: its server-rendered HTML has been
//! hydrated, the current route included. Pages after the first load their
//! part of the bundle on demand (see `components::shell`), so hydration ends
//! after that part has arrived, some time after the shell's own effects ran.
//! Whatever changes what a page shows (the session above all) waits for this,
//! or the page would no longer match the HTML it is hydrating.

use leptos::prelude::*;

thread_local! {
    static LIVE: ArcRwSignal<bool> = ArcRwSignal::new(false);
}

/// True once the whole page is hydrated (tracked: an effect that reads it
/// runs again then). Always false on the server, which never reads the
/// signal (nothing rendered there subscribes to it).
pub fn is_live() -> bool {
    cfg!(feature = "hydrate") && LIVE.with(|live| live.get())
}

/// Called by the browser's entry point when hydration has finished.
pub fn mark_live() {
    LIVE.with(|live| live.set(true));
}
