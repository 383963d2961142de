//! Domain types shared by the server and the browser.

pub mod component;
pub mod dag;
pub mod graph;
pub mod ids;
pub mod params;
pub mod state;
pub mod text_enum;

pub use ids::*;
pub use state::*;
pub use text_enum::UnknownVariant;
