//! The server's integration tests, as one test binary (one link, one
//! throwaway PostgreSQL cluster): one module per area, the shared harness in
//! `common`. Run one area with `cargo test -p server --test it <module>`.

#[macro_use]
mod common;

mod access;
mod account_control;
mod accounts;
mod airflow_e2e;
mod airflow_file;
mod airflow_import;
mod alerts;
mod auth;
mod backfills;
mod chaos;
mod cli;
mod connections;
mod data_steps;
mod datasets_api;
mod definitions;
mod emr;
mod engine;
mod files;
mod foundation;
mod limits;
mod local_executor;
mod metrics;
mod mwaa;
mod openapi;
mod params;
mod processes;
mod quota;
mod recovery;
mod retention;
mod retry;
mod run_store;
mod runs_api;
mod s3_data;
mod scheduler_servers;
mod schedules;
mod spark_scripts;
mod sso;
mod ssrf;
mod streams;
mod templates;
mod tenant_runs;
mod traces;
mod transitions;
