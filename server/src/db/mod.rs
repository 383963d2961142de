//! Storage: one sqlx pool over SQLite (embedded default) or PostgreSQL, the
//! migrations, readiness, and first-start bootstrap. The same SQL serves both
//! backends: `$n` placeholders, text timestamps, text JSON, BIGINT integers.

pub mod alerts;
pub mod audit;
pub mod backfills;
pub mod bootstrap;
pub mod catalog;
pub mod connections;
pub mod deployments;
pub mod memberships;
pub mod processes;
pub mod runs;
pub mod schedules;
pub mod servers;
pub mod sessions;
pub mod sql;
pub mod templates;
pub mod tenants;
pub mod tokens;
pub mod users;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions, AnyRow};
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, Executor, Row};
use std::str::FromStr;
use std::time::Duration;

/// The migrations in `migrations/`, embedded in the binary.
pub static MIGRATOR: Migrator = sqlx::migrate!("../migrations");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The database handle shared by the whole server.
#[derive(Debug, Clone)]
pub struct Db {
    pub pool: AnyPool,
    pub backend: Backend,
}

/// Why the server is not ready to serve.
#[derive(Debug, thiserror::Error)]
pub enum NotReady {
    #[error("database unreachable")]
    Unreachable(#[source] sqlx::Error),
    #[error("{0} migration(s) not applied")]
    PendingMigrations(usize),
}

impl Db {
    /// Connects to `url`; for SQLite creates the file (and its directory) and
    /// turns on WAL, foreign keys and a busy timeout on every connection.
    pub async fn connect(url: &str) -> Result<Db, sqlx::Error> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            return Err(sqlx::Error::Configuration(
                format!("unsupported database URL scheme in `{}`", redact(url)).into(),
            ));
        };
        if backend == Backend::Sqlite {
            create_sqlite_dir(url)?;
        }
        let options = AnyConnectOptions::from_str(url)?;
        let pool = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 8 } else { 16 })
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                        conn.execute("PRAGMA busy_timeout = 5000").await?;
                        conn.execute("PRAGMA synchronous = NORMAL").await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        Ok(Db { pool, backend })
    }

    /// Whether `error` may go away by itself, so that the statement is worth
    /// trying again: the connection or the pool failed, or (SQLite) the
    /// database was busy or locked past the busy timeout, or (PostgreSQL) a
    /// connection exception, a serialization failure, a deadlock or a
    /// server shutting down or overloaded. A constraint or a bug is not.
    pub fn is_transient(&self, error: &sqlx::Error) -> bool {
        match error {
            sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::Protocol(_) => true,
            sqlx::Error::Database(e) => {
                let code = e.code().unwrap_or_default();
                match self.backend {
                    // Extended result codes keep the primary one in the low byte.
                    Backend::Sqlite => code.parse::<i32>().is_ok_and(|n| matches!(n & 0xff, 5 | 6)),
                    Backend::Postgres => {
                        code.starts_with("08")
                            || matches!(
                                &*code,
                                "40001" | "40P01" | "53300" | "57P01" | "57P02" | "57P03"
                            )
                    }
                }
            }
            _ => false,
        }
    }

    /// Applies every pending migration.
    pub async fn migrate(&self) -> Result<(), sqlx::migrate::MigrateError> {
        MIGRATOR.run(&self.pool).await
    }

    /// Ready means: the database answers and every embedded migration is applied.
    pub async fn readiness(&self) -> Result<(), NotReady> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(NotReady::Unreachable)?;
        // Before the first migration the table does not exist: nothing is applied.
        let applied: Vec<i64> =
            sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
                .fetch_all(&self.pool)
                .await
                .unwrap_or_default();
        let pending = MIGRATOR
            .iter()
            .filter(|m| !m.migration_type.is_down_migration())
            .filter(|m| !applied.contains(&m.version))
            .count();
        match pending {
            0 => Ok(()),
            n => Err(NotReady::PendingMigrations(n)),
        }
    }
}

fn create_sqlite_dir(url: &str) -> Result<(), sqlx::Error> {
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:")
        .split('?')
        .next()
        .unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return Ok(());
    }
    if let Some(dir) = std::path::Path::new(path).parent() {
        if !dir.as_os_str().is_empty() {
            std::fs::create_dir_all(dir).map_err(|e| sqlx::Error::Configuration(e.into()))?;
        }
    }
    Ok(())
}

/// The URL without its password, for messages and logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{}:***{}", &url[..scheme_end + 3], user, &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// Now, as stored: RFC 3339 UTC with milliseconds (sorts as text).
pub fn now() -> String {
    crate::time::Timestamp::now().to_string()
}

/// A text column parsed into its enum; a value the enum does not know is a
/// decode error, not a panic.
pub fn text<T>(row: &AnyRow, column: &str) -> sqlx::Result<T>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    row.try_get::<String, _>(column)?
        .parse()
        .map_err(|e: T::Err| sqlx::Error::Decode(e.to_string().into()))
}

/// A nullable text column parsed into its enum, as [`text`] does.
pub fn optional_text<T>(row: &AnyRow, column: &str) -> sqlx::Result<Option<T>>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    row.try_get::<Option<String>, _>(column)?
        .map(|v| v.parse())
        .transpose()
        .map_err(|e: T::Err| sqlx::Error::Decode(e.to_string().into()))
}

/// A JSON text column decoded into its type; text that does not decode is a
/// decode error.
pub fn json<T: serde::de::DeserializeOwned>(row: &AnyRow, column: &str) -> sqlx::Result<T> {
    serde_json::from_str(&row.try_get::<String, _>(column)?)
        .map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

/// A nullable JSON text column decoded, as [`json`] does.
pub fn optional_json<T: serde::de::DeserializeOwned>(
    row: &AnyRow,
    column: &str,
) -> sqlx::Result<Option<T>> {
    row.try_get::<Option<String>, _>(column)?
        .map(|v| serde_json::from_str(&v))
        .transpose()
        .map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

/// A boolean column or expression: SQLite answers an integer, PostgreSQL
/// a bool for expressions and an integer for the stored flags.
pub fn flag(row: &AnyRow, column: &str) -> sqlx::Result<bool> {
    row.try_get::<bool, _>(column)
        .or_else(|_| row.try_get::<i64, _>(column).map(|v| v != 0))
}

/// A new time-ordered id.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords_only() {
        assert_eq!(
            redact("postgres://u:secret@h:5/db"),
            "postgres://u:***@h:5/db"
        );
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("sqlite://data/x.db"), "sqlite://data/x.db");
    }

    #[test]
    fn timestamps_sort_as_text() {
        let a = now();
        std::thread::sleep(Duration::from_millis(2));
        let b = now();
        assert!(a < b, "{a} < {b}");
        assert!(a.ends_with('Z'));
    }
}
