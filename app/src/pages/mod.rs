//! One module per page.

pub mod editor;
pub mod history;
pub mod home;
pub mod login;
pub mod placeholder;
pub mod processes;
pub mod run;
