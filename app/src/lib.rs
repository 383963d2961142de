//! Trellis shared code: the types the server and the browser agree on, and the
//! Leptos user interface that the server renders and the browser hydrates.

pub mod api;
pub mod components;
pub mod pages;
pub mod types;

pub use components::shell::App;
#[cfg(feature = "ssr")]
pub use components::shell::shell;

/// The version of this build, shown in the page footer and by `/healthz`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
