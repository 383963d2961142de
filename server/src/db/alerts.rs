//! Alerts as stored: channels, rules and the tenant's signing secret here;
//! the outbox of ended runs and the deliveries in `deliveries` (see
//! `crate::alerts` for how they are made and sent).

use super::sql::Sql;
use super::{new_id, now, text, Db};
use app::api::alerts::{AlertTrigger, Channel, ChannelKind, Rule};
use app::types::{ProcessId, RunId, RunState, TenantId};
use sqlx::any::AnyRow;
use sqlx::Row;

mod deliveries;
pub use deliveries::*;

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
