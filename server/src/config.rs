//! Configuration, read once from flags and environment into typed settings.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Trellis: self-service data-pipeline orchestration.
#[derive(Debug, Parser)]
#[command(name = "trellis", version, about)]
pub struct Cli {
    /// Log output format.
    #[arg(long, env = "TRELLIS_LOG_FORMAT", value_enum, default_value_t = LogFormat::Human, global = true)]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the server (applies pending migrations first).
    Serve(ServeArgs),
    /// Apply pending database migrations and exit.
    Migrate(DbArgs),
    /// Run one built-in component step (what the local executor spawns).
    #[command(subcommand)]
    Step(Step),
}

/// The built-in components that run as `trellis step …`.
#[derive(Debug, Clone, Subcommand)]
pub enum Step {
    /// Do nothing and succeed.
    Noop,
    /// Wait, then succeed.
    Sleep {
        /// How long to wait, in seconds.
        #[arg(long, allow_negative_numbers = true)]
        seconds: f64,
    },
    /// Fail at once with a message on stderr.
    Fail {
        /// The error to report.
        #[arg(long, default_value = "failed on purpose")]
        message: String,
    },
    /// Read a CSV or JSON Lines file into a dataset.
    #[command(name = "ingest.file")]
    IngestFile(crate::steps::ingest::IngestArgs),
    /// Check a dataset against quality rules.
    #[command(name = "quality.check")]
    QualityCheck(crate::steps::quality::QualityArgs),
    /// Write the result of a SQL query over datasets as a dataset.
    #[command(name = "transform.sql")]
    TransformSql(crate::steps::transform::TransformArgs),
    /// Write a dataset as CSV or JSON Lines to a file or URL.
    #[command(name = "export.file")]
    ExportFile(crate::steps::export::ExportArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Human,
    /// One JSON object per line.
    Json,
}

/// Where the data lives.
#[derive(Debug, Clone, Args)]
pub struct DbArgs {
    /// Directory for the embedded database, task logs and datasets.
    #[arg(long, env = "TRELLIS_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,

    /// Database URL: `postgres://…` for PostgreSQL, `sqlite://…` for a
    /// specific SQLite file. Defaults to `<data-dir>/trellis.db`.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub db: DbArgs,

    /// Address to listen on.
    #[arg(long, env = "TRELLIS_LISTEN", default_value = "127.0.0.1:3000")]
    pub listen: SocketAddr,

    /// Directory holding the built browser bundle (`pkg/…`), as written by
    /// `cargo leptos build`.
    #[arg(long, env = "TRELLIS_SITE_ROOT", default_value = "target/site")]
    pub site_root: PathBuf,

    /// Largest request body accepted, in bytes; larger bodies get 413.
    #[arg(long, env = "TRELLIS_MAX_BODY_BYTES", default_value_t = 2 * 1024 * 1024)]
    pub max_body_bytes: usize,

    /// Seconds a graceful stop waits after SIGTERM before it kills a task.
    #[arg(long, env = "TRELLIS_STOP_GRACE_SECONDS", default_value_t = 10)]
    pub stop_grace_seconds: u64,

    /// Tasks running at once on this server, all tenants together.
    #[arg(long, env = "TRELLIS_MAX_RUNNING_TASKS", default_value_t = 64)]
    pub max_running_tasks: usize,

    /// Tasks running at once for any one tenant (tenants take turns).
    #[arg(
        long,
        env = "TRELLIS_MAX_RUNNING_TASKS_PER_TENANT",
        default_value_t = 16
    )]
    pub max_running_tasks_per_tenant: usize,

    /// Largest task log, in bytes; further output is cut off with a marker.
    #[arg(long, env = "TRELLIS_TASK_LOG_MAX_BYTES", default_value_t = 10 * 1024 * 1024)]
    pub task_log_max_bytes: u64,

    /// Largest file a data step downloads from a URL, in bytes.
    #[arg(long, env = "TRELLIS_FETCH_MAX_BYTES", default_value_t = 1 << 30)]
    pub fetch_max_bytes: u64,

    /// Longest a data step's download or upload may take, in seconds.
    #[arg(long, env = "TRELLIS_FETCH_TIMEOUT_SECONDS", default_value_t = 300)]
    pub fetch_timeout_seconds: u64,

    /// Password for the `admin` user created on first start. When unset, one
    /// is generated and printed once.
    #[arg(long, env = "TRELLIS_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<String>,
}

impl DbArgs {
    /// The database URL to connect to.
    pub fn url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("trellis.db").display()
            ),
        }
    }
}

/// What the HTTP layer needs to know, independent of how it was configured.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    pub max_body_bytes: usize,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            max_body_bytes: 2 * 1024 * 1024,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_to_sqlite_under_the_data_dir() {
        let db = DbArgs {
            data_dir: "/tmp/x".into(),
            database_url: None,
        };
        assert_eq!(db.url(), "sqlite:///tmp/x/trellis.db?mode=rwc");
    }

    #[test]
    fn serve_flags_parse() {
        let cli = Cli::try_parse_from([
            "trellis",
            "serve",
            "--listen",
            "127.0.0.1:4000",
            "--database-url",
            "postgres://u@127.0.0.1/db",
            "--log-format",
            "json",
        ])
        .unwrap();
        assert_eq!(cli.log_format, LogFormat::Json);
        let Command::Serve(args) = cli.command else {
            panic!("expected serve")
        };
        assert_eq!(args.listen.port(), 4000);
        assert_eq!(args.db.url(), "postgres://u@127.0.0.1/db");
    }

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
