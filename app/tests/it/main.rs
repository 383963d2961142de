//! The app crate's integration tests, as one test binary: one module per
//! area, the shared graph builders in `support`. Run one area with
//! `cargo test -p app --features ssr --test it <module>`.

mod support;

mod compile;
mod diff;
mod editor;
mod properties;
mod validation;
