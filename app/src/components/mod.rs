//! Reusable UI pieces.

pub mod badge;
pub mod bytes;
pub mod canvas;
pub mod catalog_context;
pub mod confirm;
pub mod copy;
pub mod load;
pub mod node_panel;
pub mod param_input;
pub mod run_form;
pub mod shell;
pub mod shortcuts;
pub mod tabs;
pub mod theme;
pub mod time;
pub mod toast;
