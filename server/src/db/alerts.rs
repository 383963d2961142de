//! Alerts as stored: channels, rules, the outbox of ended runs and the
//! deliveries (see `crate::alerts` for how they are made and sent).

use super::sql::Sql;
use super::{new_id, now, optional_text, text, Db};
use app::api::alerts::{AlertTrigger, Channel, ChannelKind, Delivery, DeliveryStatus, Rule};
use app::api::query::DeliveryQuery;
use app::types::{ProcessId, RunId, RunState, TenantId};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

fn channel_from(row: &AnyRow) -> sqlx::Result<Channel> {
    Ok(Channel {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        kind: text(row, "kind")?,
        target: row.try_get("target")?,
        created_at: row.try_get("created_at")?,
        signing_secret: None,
    })
}

const CHANNEL: &str = "SELECT id, name, kind, target, created_at FROM alert_channels";

pub async fn channels(db: &Db, tenant: &TenantId) -> sqlx::Result<Vec<Channel>> {
    sqlx::query(&format!("{CHANNEL} WHERE tenant_id = $1 ORDER BY name"))
        .bind(tenant.as_str())
        .fetch_all(&db.pool)
        .await?
        .iter()
        .map(channel_from)
        .collect()
}

pub async fn channel(db: &Db, tenant: &TenantId, id: &str) -> sqlx::Result<Option<Channel>> {
    sqlx::query(&format!("{CHANNEL} WHERE tenant_id = $1 AND id = $2"))
        .bind(tenant.as_str())
        .bind(id)
        .fetch_optional(&db.pool)
        .await?
        .as_ref()
        .map(channel_from)
        .transpose()
}

pub async fn insert_channel(
    db: &Db,
    tenant: &TenantId,
    name: &str,
    kind: ChannelKind,
    target: &str,
) -> sqlx::Result<String> {
    let id = new_id();
    sqlx::query(
        "INSERT INTO alert_channels (id, tenant_id, name, kind, target, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&id)
    .bind(tenant.as_str())
    .bind(name)
    .bind(kind.as_str())
    .bind(target)
    .bind(now())
    .execute(&db.pool)
    .await?;
    Ok(id)
}

/// Deletes a channel and the rules that send to it; whether it existed.
pub async fn delete_channel(db: &Db, tenant: &TenantId, id: &str) -> sqlx::Result<bool> {
    let mut tx = db.pool.begin().await?;
    sqlx::query("DELETE FROM alert_rules WHERE tenant_id = $1 AND channel_id = $2")
        .bind(tenant.as_str())
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let gone = sqlx::query("DELETE FROM alert_channels WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.as_str())
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    tx.commit().await?;
    Ok(gone > 0)
}

const RULE: &str = "SELECT r.id, r.process_id, p.name AS process_name, r.trigger, r.threshold, \
     r.channel_id, c.name AS channel_name, r.created_at \
     FROM alert_rules r JOIN alert_channels c ON c.id = r.channel_id \
     LEFT JOIN processes p ON p.id = r.process_id";

fn rule_from(row: &AnyRow) -> sqlx::Result<Rule> {
    Ok(Rule {
        id: row.try_get("id")?,
        process: row.try_get("process_id")?,
        process_name: row.try_get("process_name")?,
        trigger: text(row, "trigger")?,
        threshold: row.try_get("threshold")?,
        channel: row.try_get("channel_id")?,
        channel_name: row.try_get("channel_name")?,
        created_at: row.try_get("created_at")?,
    })
}

/// The tenant's rules: defaults first, then by process name.
pub async fn rules(db: &Db, tenant: &TenantId) -> sqlx::Result<Vec<Rule>> {
    sqlx::query(&format!(
        "{RULE} WHERE r.tenant_id = $1 \
         ORDER BY CASE WHEN r.process_id IS NULL THEN 0 ELSE 1 END, p.name, r.created_at"
    ))
    .bind(tenant.as_str())
    .fetch_all(&db.pool)
    .await?
    .iter()
    .map(rule_from)
    .collect()
}

pub async fn rule(db: &Db, tenant: &TenantId, id: &str) -> sqlx::Result<Option<Rule>> {
    sqlx::query(&format!("{RULE} WHERE r.tenant_id = $1 AND r.id = $2"))
        .bind(tenant.as_str())
        .bind(id)
        .fetch_optional(&db.pool)
        .await?
        .as_ref()
        .map(rule_from)
        .transpose()
}

/// The rules that apply to a run of `process`: its own, or the tenant
/// defaults when it has none.
pub async fn rules_for(db: &Db, tenant: &TenantId, process: &ProcessId) -> sqlx::Result<Vec<Rule>> {
    let own = sqlx::query(&format!(
        "{RULE} WHERE r.tenant_id = $1 AND r.process_id = $2 ORDER BY r.created_at"
    ))
    .bind(tenant.as_str())
    .bind(process.as_str())
    .fetch_all(&db.pool)
    .await?;
    if !own.is_empty() {
        return own.iter().map(rule_from).collect();
    }
    sqlx::query(&format!(
        "{RULE} WHERE r.tenant_id = $1 AND r.process_id IS NULL ORDER BY r.created_at"
    ))
    .bind(tenant.as_str())
    .fetch_all(&db.pool)
    .await?
    .iter()
    .map(rule_from)
    .collect()
}

pub async fn insert_rule(
    db: &Db,
    tenant: &TenantId,
    process: Option<&ProcessId>,
    trigger: AlertTrigger,
    threshold: Option<i64>,
    channel: &str,
) -> sqlx::Result<String> {
    let id = new_id();
    sqlx::query(
        "INSERT INTO alert_rules (id, tenant_id, process_id, trigger, threshold, channel_id, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&id)
    .bind(tenant.as_str())
    .bind(process.map(ProcessId::as_str))
    .bind(trigger.as_str())
    .bind(threshold)
    .bind(channel)
    .bind(now())
    .execute(&db.pool)
    .await?;
    Ok(id)
}

pub async fn delete_rule(db: &Db, tenant: &TenantId, id: &str) -> sqlx::Result<bool> {
    let gone = sqlx::query("DELETE FROM alert_rules WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.as_str())
        .bind(id)
        .execute(&db.pool)
        .await?
        .rows_affected();
    Ok(gone > 0)
}

/// Every `overdue` rule of every tenant: (tenant, rule id, process or
/// `None` for a default, minutes).
pub async fn overdue_rules(
    db: &Db,
) -> sqlx::Result<Vec<(TenantId, String, Option<ProcessId>, i64)>> {
    sqlx::query(
        "SELECT tenant_id, id, process_id, threshold FROM alert_rules \
         WHERE trigger = 'overdue' AND threshold IS NOT NULL",
    )
    .fetch_all(&db.pool)
    .await?
    .iter()
    .map(|row| {
        Ok((
            TenantId::new(row.try_get::<String, _>("tenant_id")?),
            row.try_get("id")?,
            row.try_get("process_id")?,
            row.try_get("threshold")?,
        ))
    })
    .collect()
}

/// The unfinished runs a rule covers that were started before `cutoff`
/// and have no delivery keyed `<dedupe_prefix><run id>` yet.
pub async fn overdue_runs(
    db: &Db,
    tenant: &TenantId,
    process: Option<&ProcessId>,
    cutoff: &str,
    dedupe_prefix: &str,
) -> sqlx::Result<Vec<RunId>> {
    let mut sql = Sql::new(
        "SELECT r.id FROM runs r WHERE r.state IN ('queued', 'running', 'cancelling') AND r.tenant_id = ",
    );
    sql.bind(tenant.as_str().to_owned())
        .push(" AND r.created_at <= ")
        .bind(cutoff.to_owned());
    match process {
        Some(p) => {
            sql.push(" AND r.process_id = ").bind(p.as_str().to_owned());
        }
        None => {
            sql.push(
                " AND NOT EXISTS (SELECT 1 FROM alert_rules x WHERE x.process_id = r.process_id)",
            );
        }
    }
    sql.push(" AND NOT EXISTS (SELECT 1 FROM alert_deliveries d WHERE d.dedupe = ")
        .bind(dedupe_prefix.to_owned())
        .push(" || r.id) ORDER BY r.created_at LIMIT 100");
    sql.fetch_all(&db.pool)
        .await?
        .iter()
        .map(|row| row.try_get("id"))
        .collect()
}

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
            payload: super::json(row, "payload")?,
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

/// The tenant's signing secret (sealed) and when it was made.
pub async fn signing_secret(db: &Db, tenant: &TenantId) -> sqlx::Result<Option<(String, String)>> {
    let row = sqlx::query("SELECT alert_secret, alert_secret_at FROM tenants WHERE id = $1")
        .bind(tenant.as_str())
        .fetch_optional(&db.pool)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let sealed: Option<String> = row.try_get("alert_secret")?;
    let at: Option<String> = row.try_get("alert_secret_at")?;
    Ok(sealed.zip(at))
}

/// Stores a new signing secret (sealed); `only_if_none` keeps an existing
/// one (two first webhooks at once make one secret). Whether it was stored.
pub async fn set_signing_secret(
    db: &Db,
    tenant: &TenantId,
    sealed: &str,
    at: &str,
    only_if_none: bool,
) -> sqlx::Result<bool> {
    let condition = if only_if_none {
        " AND alert_secret IS NULL"
    } else {
        ""
    };
    let done = sqlx::query(&format!(
        "UPDATE tenants SET alert_secret = $2, alert_secret_at = $3 WHERE id = $1{condition}"
    ))
    .bind(tenant.as_str())
    .bind(sealed)
    .bind(at)
    .execute(&db.pool)
    .await?
    .rows_affected();
    Ok(done > 0)
}

/// The tenant's slug and name.
pub async fn tenant_names(db: &Db, tenant: &TenantId) -> sqlx::Result<(String, String)> {
    let row = sqlx::query("SELECT slug, name FROM tenants WHERE id = $1")
        .bind(tenant.as_str())
        .fetch_one(&db.pool)
        .await?;
    Ok((row.try_get("slug")?, row.try_get("name")?))
}

/// The final states (`succeeded` or `failed`: a stopped run neither breaks
/// nor extends a streak) of up to `limit` runs of `process` before run
/// number `number`, newest first.
pub async fn outcomes_before(
    db: &Db,
    tenant: &TenantId,
    process: &ProcessId,
    number: i64,
    limit: i64,
) -> sqlx::Result<Vec<RunState>> {
    sqlx::query(
        "SELECT state FROM runs WHERE tenant_id = $1 AND process_id = $2 AND number < $3 \
         AND state IN ('succeeded', 'failed') ORDER BY number DESC LIMIT $4",
    )
    .bind(tenant.as_str())
    .bind(process.as_str())
    .bind(number)
    .bind(limit)
    .fetch_all(&db.pool)
    .await?
    .iter()
    .map(|row| text(row, "state"))
    .collect()
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
