//! One module per page.

pub mod account;
pub mod admin;
pub mod alerts;
pub mod connections;
pub mod datasets;
pub mod files;
pub mod history;
pub mod home;
pub mod login;
pub mod members;
pub mod placeholder;
pub mod process_copy;
pub mod process_editor;
pub mod process_import;
pub mod processes;
pub mod run;
pub mod runs;
pub mod schedules;
pub mod templates;
