//! Reusable UI pieces.

pub mod canvas;
pub mod shell;
