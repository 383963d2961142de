//! Trellis shared code: the types the server and the browser agree on, and the
//! Leptos user interface that the server renders and the browser hydrates.

// Lazily loaded pages hydrate asynchronously: the release build computes the
// layout of each page's whole hydration future, deeper than the default 128.
#![recursion_limit = "256"]

pub mod api;
pub mod catalog;
pub mod client;
pub mod components;
pub mod diff;
pub mod editor;
mod graph_algo;
pub mod live;
pub mod ordered;
pub mod pages;
pub mod params;
pub mod rules;
pub mod session;
pub mod types;
pub mod validate;

#[cfg(feature = "ssr")]
pub use components::shell::shell;
pub use components::shell::App;

/// The version of this build, shown in the page footer and by `/healthz`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
