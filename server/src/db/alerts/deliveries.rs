//! The outbox of ended runs and the deliveries made from it: stored once
//! per rule and ending, claimed by one server at a time, each attempt
//! recorded, and removed by retention once they are no longer pending.

use super::super::sql::Sql;
use super::super::{new_id, now, optional_text, text, Db};
use app::api::alerts::{AlertTrigger, Channel, Delivery, DeliveryStatus};
use app::api::query::DeliveryQuery;
use app::types::{RunId, RunState, TenantId};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

/// Notes, in the transaction that ends `run`, that it ended: only in a
/// tenant with rules (the others pay one indexed look-up).
pub async fn note_run_end(
    tx: &mut Transaction<'static, Any>,
    tenant: &TenantId,
    run: &RunId,
    state: RunState,
    at: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO alert_outbox (id, tenant_id, run_id, state, ended_at) \
         SELECT $1, $2, $3, $4, $5 WHERE EXISTS (SELECT 1 FROM alert_rules WHERE tenant_id = $2)",
    )
    .bind(new_id())
    .bind(tenant.as_str())
    .bind(run.as_str())
    .bind(state.as_str())
    .bind(at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A run's ending, waiting in the outbox.
pub struct Ending {
    pub id: String,
    pub tenant: TenantId,
    pub run: RunId,
    pub state: RunState,
    pub ended_at: String,
}

/// The oldest `limit` endings in the outbox.
pub async fn endings(db: &Db, limit: i64) -> sqlx::Result<Vec<Ending>> {
    sqlx::query(
        "SELECT id, tenant_id, run_id, state, ended_at FROM alert_outbox ORDER BY id LIMIT $1",
    )
    .bind(limit)
    .fetch_all(&db.pool)
    .await?
    .iter()
    .map(|row| {
        Ok(Ending {
            id: row.try_get("id")?,
            tenant: TenantId::new(row.try_get::<String, _>("tenant_id")?),
            run: row.try_get("run_id")?,
            state: text(row, "state")?,
            ended_at: row.try_get("ended_at")?,
        })
    })
    .collect()
}

/// A delivery to make.
pub struct NewDelivery<'a> {
    pub tenant: &'a TenantId,
    pub channel: &'a Channel,
    pub rule: Option<&'a str>,
    pub trigger: Option<AlertTrigger>,
    pub run: Option<&'a RunId>,
    pub process_name: Option<&'a str>,
    pub run_number: Option<i64>,
    pub dedupe: Option<String>,
    pub summary: &'a str,
    pub payload: &'a serde_json::Value,
}

/// Stores `deliveries` (each at most once per dedupe key) and, when
/// `ending` is given, takes that ending out of the outbox, in one
/// transaction: the ids of the deliveries stored (none when another server
/// took the ending first).
pub async fn make_deliveries(
    db: &Db,
    ending: Option<&str>,
    deliveries: &[NewDelivery<'_>],
) -> sqlx::Result<Vec<String>> {
    let mut tx = db.pool.begin().await?;
    if let Some(ending) = ending {
        let taken = sqlx::query("DELETE FROM alert_outbox WHERE id = $1")
            .bind(ending)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if taken == 0 {
            return Ok(Vec::new());
        }
    }
    let at = now();
    let mut stored = Vec::with_capacity(deliveries.len());
    for d in deliveries {
        let id: Option<String> = sqlx::query_scalar(
            "INSERT INTO alert_deliveries (id, tenant_id, channel_id, channel_name, channel_kind, \
             rule_id, trigger, run_id, process_name, run_number, dedupe, summary, payload, status, \
             attempts, next_attempt_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 'pending', 0, $14, $14) \
             ON CONFLICT (dedupe) DO NOTHING RETURNING id",
        )
        .bind(new_id())
        .bind(d.tenant.as_str())
        .bind(&d.channel.id)
        .bind(&d.channel.name)
        .bind(d.channel.kind.as_str())
        .bind(d.rule)
        .bind(d.trigger.map(AlertTrigger::as_str))
        .bind(d.run.map(RunId::as_str))
        .bind(d.process_name)
        .bind(d.run_number)
        .bind(d.dedupe.as_deref())
        .bind(d.summary)
        .bind(d.payload.to_string())
        .bind(&at)
        .fetch_optional(&mut *tx)
        .await?;
        stored.extend(id);
    }
    tx.commit().await?;
    Ok(stored)
}

const DELIVERY: &str = "SELECT id, channel_id, channel_name, channel_kind, trigger, run_id, \
     process_name, run_number, summary, status, attempts, next_attempt_at, last_error, created_at, \
     delivered_at FROM alert_deliveries";

fn delivery_from(row: &AnyRow) -> sqlx::Result<Delivery> {
    let status: DeliveryStatus = text(row, "status")?;
    Ok(Delivery {
        id: row.try_get("id")?,
        channel: row.try_get("channel_id")?,
        channel_name: row.try_get("channel_name")?,
        channel_kind: text(row, "channel_kind")?,
        trigger: optional_text(row, "trigger")?,
        run: row.try_get("run_id")?,
        process_name: row.try_get("process_name")?,
        run_number: row.try_get("run_number")?,
        summary: row.try_get("summary")?,
        next_attempt_at: match status {
            DeliveryStatus::Pending => row.try_get("next_attempt_at")?,
            _ => None,
        },
        status,
        attempts: row.try_get("attempts")?,
        last_error: row.try_get("last_error")?,
        created_at: row.try_get("created_at")?,
        delivered_at: row.try_get("delivered_at")?,
    })
}

/// The tenant's deliveries, newest first, as `query` filters them.
pub async fn deliveries(
    db: &Db,
    tenant: &TenantId,
    query: &DeliveryQuery,
) -> sqlx::Result<Vec<Delivery>> {
    let mut sql = Sql::new(DELIVERY);
    sql.push(" WHERE tenant_id = ")
        .bind(tenant.as_str().to_owned());
    if let Some(channel) = &query.channel {
        sql.push(" AND channel_id = ").bind(channel.clone());
    }
    if let Some(run) = &query.run {
        sql.push(" AND run_id = ").bind(run.clone());
    }
    if let Some(status) = query.status {
        sql.push(" AND status = ").bind(status.as_str());
    }
    sql.push(" ORDER BY created_at DESC, id DESC LIMIT ")
        .bind(query.limit.unwrap_or(100).clamp(1, 500));
    sql.fetch_all(&db.pool)
        .await?
        .iter()
        .map(delivery_from)
        .collect()
}

pub async fn delivery(db: &Db, tenant: &TenantId, id: &str) -> sqlx::Result<Option<Delivery>> {
    sqlx::query(&format!("{DELIVERY} WHERE tenant_id = $1 AND id = $2"))
        .bind(tenant.as_str())
        .bind(id)
        .fetch_optional(&db.pool)
        .await?
        .as_ref()
        .map(delivery_from)
        .transpose()
}

/// A delivery claimed for sending.
pub struct Claimed {
    pub id: String,
    pub tenant: TenantId,
    pub channel: String,
    pub payload: serde_json::Value,
    pub summary: String,
    pub attempts: i64,
}

/// Claims up to `limit` pending deliveries due at `now` for server `me`
/// until `until`: those nobody holds, whose server is gone, or whose
/// claim ran out.
pub async fn claim_due(
    db: &Db,
    me: &str,
    now: &str,
    until: &str,
    limit: i64,
) -> sqlx::Result<Vec<Claimed>> {
    // The claim's conditions are repeated outside the sub-select: a second
    // server updating the same row re-checks them against the row as the
    // first one left it (PostgreSQL), so only one of them claims it.
    const FREE: &str = "status = 'pending' AND next_attempt_at <= $2 AND (claimed_by IS NULL \
         OR claimed_until < $2 OR claimed_by NOT IN (SELECT id FROM servers))";
    sqlx::query(&format!(
        "UPDATE alert_deliveries SET claimed_by = $1, claimed_until = $3 \
         WHERE {FREE} AND id IN (SELECT id FROM alert_deliveries WHERE {FREE} \
         ORDER BY next_attempt_at LIMIT $4) \
         RETURNING id, tenant_id, channel_id, payload, summary, attempts"
    ))
    .bind(me)
    .bind(now)
    .bind(until)
    .bind(limit)
    .fetch_all(&db.pool)
    .await?
    .iter()
    .map(|row| {
        Ok(Claimed {
            id: row.try_get("id")?,
            tenant: TenantId::new(row.try_get::<String, _>("tenant_id")?),
            channel: row.try_get("channel_id")?,
            payload: super::super::json(row, "payload")?,
            summary: row.try_get("summary")?,
            attempts: row.try_get("attempts")?,
        })
    })
    .collect()
}

/// What an attempt came to.
pub enum Attempt<'a> {
    Delivered,
    /// Failed; tried again at the time given, or never (`None`).
    Failed {
        error: &'a str,
        again_at: Option<String>,
    },
}

/// Records an attempt of a delivery `me` claimed.
pub async fn record_attempt(db: &Db, id: &str, me: &str, attempt: Attempt<'_>) -> sqlx::Result<()> {
    let at = now();
    let (status, error, next, delivered) = match attempt {
        Attempt::Delivered => ("delivered", None, None, Some(at)),
        Attempt::Failed {
            error,
            again_at: Some(next),
        } => ("pending", Some(error), Some(next), None),
        Attempt::Failed {
            error,
            again_at: None,
        } => ("failed", Some(error), None, None),
    };
    sqlx::query(
        "UPDATE alert_deliveries SET status = $3, attempts = attempts + 1, last_error = $4, \
         next_attempt_at = COALESCE($5, next_attempt_at), delivered_at = $6, \
         claimed_by = NULL, claimed_until = NULL WHERE id = $1 AND claimed_by = $2",
    )
    .bind(id)
    .bind(me)
    .bind(status)
    .bind(error)
    .bind(next)
    .bind(delivered)
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// Deletes the tenant's deliveries made before `cutoff` that are no longer
/// pending (retention); how many.
pub async fn delete_finished_before(db: &Db, tenant: &TenantId, cutoff: &str) -> sqlx::Result<u64> {
    Ok(sqlx::query(
        "DELETE FROM alert_deliveries WHERE tenant_id = $1 AND created_at < $2 AND status <> 'pending'",
    )
    .bind(tenant.as_str())
    .bind(cutoff)
    .execute(&db.pool)
    .await?
    .rows_affected())
}
