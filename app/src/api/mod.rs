//! The JSON API's shared request/response types.

pub mod problem;

pub use problem::{FieldError, Problem};
