//! Which server drives which run: stops asked for, orphaned runs taken
//! over, and runs a server has lost to another.

use super::super::sql::Sql;
use super::super::{text, Db};
use super::Epoch;
use app::api::runs::StopMode;
use app::types::{RunId, TenantId};
use sqlx::any::AnyRow;
use sqlx::Row;

/// The stops asked for on the runs `owner` drives.
pub async fn stop_requests(db: &Db, owner: &str) -> sqlx::Result<Vec<(TenantId, RunId, StopMode)>> {
    sqlx::query(
        "SELECT tenant_id, id, stop_mode FROM runs \
         WHERE owner = $1 AND state = 'cancelling' AND stop_mode IS NOT NULL",
    )
    .bind(owner)
    .fetch_all(&db.pool)
    .await?
    .iter()
    .map(|row| run_and(row, "stop_mode"))
    .collect()
}

/// Takes over the unfinished runs no live server drives (their server
/// stopped heartbeating, or they predate ownership), bumping each one's
/// epoch: (tenant, run, the epoch `me` now holds).
pub async fn claim_orphans(db: &Db, me: &str) -> sqlx::Result<Vec<(TenantId, RunId, Epoch)>> {
    sqlx::query(
        "UPDATE runs SET owner = $1, epoch = epoch + 1 WHERE state IN ('queued', 'running', 'cancelling') \
         AND (owner IS NULL OR owner NOT IN (SELECT id FROM servers)) RETURNING tenant_id, id, epoch",
    )
    .bind(me)
    .fetch_all(&db.pool)
    .await?
    .iter()
    .map(|row| {
        Ok((
            TenantId::new(row.try_get::<String, _>("tenant_id")?),
            row.try_get("id")?,
            row.try_get("epoch")?,
        ))
    })
    .collect()
}

/// Who drives `run` and under which epoch (`None`: no such run).
pub async fn ownership(db: &Db, run: &RunId) -> sqlx::Result<Option<(Option<String>, Epoch)>> {
    sqlx::query("SELECT owner, epoch FROM runs WHERE id = $1")
        .bind(run)
        .fetch_optional(&db.pool)
        .await?
        .map(|row| Ok((row.try_get("owner")?, row.try_get("epoch")?)))
        .transpose()
}

/// Of the runs `me` drives under the epochs in `held`, those it has lost:
/// another server owns them now, or a later epoch.
pub async fn lost(db: &Db, me: &str, held: &[(RunId, Epoch)]) -> sqlx::Result<Vec<RunId>> {
    let mut lost = Vec::new();
    for chunk in held.chunks(500) {
        let mut sql = Sql::new("SELECT id, owner, epoch FROM runs WHERE id IN ");
        sql.bind_list(chunk.iter().map(|(run, _)| run.to_owned()));
        for row in sql.fetch_all(&db.pool).await? {
            let (id, owner, epoch): (RunId, Option<String>, Epoch) = (
                row.try_get("id")?,
                row.try_get("owner")?,
                row.try_get("epoch")?,
            );
            let held = chunk.iter().find(|(run, _)| *run == id).map(|(_, e)| *e);
            if owner.as_deref() != Some(me) || held != Some(epoch) {
                lost.push(id);
            }
        }
    }
    Ok(lost)
}

/// A row's tenant, run id and the text enum in `column`.
fn run_and<T>(row: &AnyRow, column: &str) -> sqlx::Result<(TenantId, RunId, T)>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    Ok((
        TenantId::new(row.try_get::<String, _>("tenant_id")?),
        row.try_get("id")?,
        text(row, column)?,
    ))
}
