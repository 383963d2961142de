//! The colour theme: the system's setting (`prefers-color-scheme`) until
//! the user picks one with the toggle, which the browser then remembers.

use crate::session::storage;

const KEY: &str = "trellis.theme";

/// Whether to show the dark theme: the user's own choice, else the
/// system's. (`false` where there is no browser, as on the server.)
pub fn starts_dark() -> bool {
    match storage().and_then(|s| s.get_item(KEY).ok()?).as_deref() {
        Some("dark") => true,
        Some("light") => false,
        _ => web_sys::window()
            .and_then(|w| w.match_media("(prefers-color-scheme: dark)").ok()?)
            .is_some_and(|m| m.matches()),
    }
}

/// Remembers the theme the user picked.
pub fn remember(dark: bool) {
    if let Some(s) = storage() {
        let _ = s.set_item(KEY, if dark { "dark" } else { "light" });
    }
}
