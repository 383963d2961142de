//! The `trellis` binary: parse config, init tracing, run the chosen command.

use clap::Parser;
use server::config::{Cli, Command};
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    server::init_tracing(cli.log_format);
    if let Command::Step(step) = cli.command {
        return server::components::run(step).await;
    }
    let result = match cli.command {
        Command::Serve(args) => server::serve(*args).await,
        Command::Migrate(db) => server::open_db(&db.url()).await.map(|_| {
            println!("migrations applied to {}", server::db::redact(&db.url()));
        }),
        Command::Spark(command) => server::spark::run(command).await,
        Command::Step(_) => unreachable!("handled above"),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::FAILURE
        }
    }
}
