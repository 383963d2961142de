//! The JSON API's shared request/response types.

pub mod access;
pub mod alerts;
pub mod auth;
pub mod backfills;
pub mod connections;
pub mod datasets;
pub mod files;
pub mod problem;
pub mod processes;
pub mod query;
pub mod routes;
pub mod runs;
pub mod schedules;
pub mod templates;
pub mod timing;

pub use problem::{FieldError, Problem};
