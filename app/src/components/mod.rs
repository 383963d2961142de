//! Reusable UI pieces.

pub mod canvas;
pub mod node_panel;
pub mod shell;
