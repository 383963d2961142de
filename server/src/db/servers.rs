//! The server processes that share the database, each with its heartbeat:
//! the owners of the runs they drive (see `engine::lease`).

use super::Db;
use crate::time::Timestamp;
use sqlx::any::AnyRow;
use sqlx::Row;

/// A server process as it last reported itself.
pub struct Server {
    pub id: String,
    pub host: String,
    pub pid: i64,
    pub heartbeat_at: String,
}

const COLUMNS: &str = "id, host, pid, heartbeat_at";

fn from_row(row: &AnyRow) -> sqlx::Result<Server> {
    Ok(Server {
        id: row.try_get("id")?,
        host: row.try_get("host")?,
        pid: row.try_get("pid")?,
        heartbeat_at: row.try_get("heartbeat_at")?,
    })
}

/// Records that server `id` is alive at `at`, registering it (on `host`
/// as process `pid`) at its first heartbeat.
pub async fn heartbeat(db: &Db, id: &str, host: &str, pid: i64, at: Timestamp) -> sqlx::Result<()> {
    let at = at.to_string();
    let updated = sqlx::query("UPDATE servers SET heartbeat_at = $2 WHERE id = $1")
        .bind(id)
        .bind(&at)
        .execute(&db.pool)
        .await?
        .rows_affected();
    if updated == 0 {
        sqlx::query(
            "INSERT INTO servers (id, host, pid, started_at, heartbeat_at) VALUES ($1, $2, $3, $4, $4)",
        )
        .bind(id)
        .bind(host)
        .bind(pid)
        .bind(&at)
        .execute(&db.pool)
        .await?;
    }
    Ok(())
}

/// Every server but `me`.
pub async fn others(db: &Db, me: &str) -> sqlx::Result<Vec<Server>> {
    sqlx::query(&format!("SELECT {COLUMNS} FROM servers WHERE id <> $1"))
        .bind(me)
        .fetch_all(&db.pool)
        .await?
        .iter()
        .map(from_row)
        .collect()
}

/// Forgets a server (it stopped, or signed off).
pub async fn forget(db: &Db, id: &str) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM servers WHERE id = $1")
        .bind(id)
        .execute(&db.pool)
        .await?;
    Ok(())
}
