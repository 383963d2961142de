//! The global component catalog.

use super::{now, Db};
use app::types::component::ComponentType;
use app::types::ComponentKey;
use sqlx::any::AnyRow;
use sqlx::Row;

const COLUMNS: &str =
    "key, name, category, description, icon, params, local_exec, emr_step, policy";

/// The retry and timeout policy, stored as one JSON column.
#[derive(serde::Serialize, serde::Deserialize)]
struct Policy {
    #[serde(default)]
    retries: u32,
    #[serde(default = "five")]
    retry_delay_seconds: f64,
    #[serde(default)]
    timeout_seconds: Option<f64>,
}

fn five() -> f64 {
    5.0
}

fn from_row(row: &AnyRow) -> sqlx::Result<ComponentType> {
    let json = |column: &str| row.try_get::<Option<String>, _>(column);
    let decode = |e: serde_json::Error| sqlx::Error::Decode(Box::new(e));
    let policy: Policy =
        serde_json::from_str(&json("policy")?.unwrap_or_else(|| "{}".into())).map_err(decode)?;
    Ok(ComponentType {
        key: row.try_get("key")?,
        name: row.try_get("name")?,
        category: row.try_get("category")?,
        description: row.try_get("description")?,
        icon: row.try_get("icon")?,
        params: serde_json::from_str(&json("params")?.unwrap_or_else(|| "[]".into()))
            .map_err(decode)?,
        local: json("local_exec")?
            .map(|s| serde_json::from_str(&s))
            .transpose()
            .map_err(decode)?,
        emr: json("emr_step")?
            .map(|s| serde_json::from_str(&s))
            .transpose()
            .map_err(decode)?,
        retries: policy.retries,
        retry_delay_seconds: policy.retry_delay_seconds,
        timeout_seconds: policy.timeout_seconds,
    })
}

/// Every component type, by category then key.
pub async fn list(db: &Db) -> sqlx::Result<Vec<ComponentType>> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM component_types ORDER BY category, key"
    ))
    .fetch_all(&db.pool)
    .await?;
    rows.iter().map(from_row).collect()
}

pub async fn get(db: &Db, key: &ComponentKey) -> sqlx::Result<Option<ComponentType>> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM component_types WHERE key = $1"
    ))
    .bind(key)
    .fetch_optional(&db.pool)
    .await?;
    row.as_ref().map(from_row).transpose()
}

fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("catalog types serialise")
}

fn json_columns(c: &ComponentType) -> (String, Option<String>, Option<String>) {
    (
        to_json(&c.params),
        c.local.as_ref().map(to_json),
        c.emr.as_ref().map(to_json),
    )
}

/// Runs `sql` whose `$1`…`$10` are the entry's columns in `COLUMNS` order and
/// the current time; true when it changed a row.
async fn write(db: &Db, sql: &str, c: &ComponentType) -> sqlx::Result<bool> {
    let (params, local, emr) = json_columns(c);
    let done = sqlx::query(sql)
        .bind(&c.key)
        .bind(&c.name)
        .bind(&c.category)
        .bind(&c.description)
        .bind(&c.icon)
        .bind(params)
        .bind(local)
        .bind(emr)
        .bind(to_json(&Policy {
            retries: c.retries,
            retry_delay_seconds: c.retry_delay_seconds,
            timeout_seconds: c.timeout_seconds,
        }))
        .bind(now())
        .execute(&db.pool)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Inserts `c`; `Ok(false)` when its key is taken.
pub async fn insert(db: &Db, c: &ComponentType) -> sqlx::Result<bool> {
    let sql = format!(
        "INSERT INTO component_types ({COLUMNS}, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) ON CONFLICT (key) DO NOTHING"
    );
    write(db, &sql, c).await
}

/// Replaces the entry with `c.key`; `Ok(false)` when there is none.
pub async fn update(db: &Db, c: &ComponentType) -> sqlx::Result<bool> {
    let sql = "UPDATE component_types SET name = $2, category = $3, description = $4, icon = $5, \
               params = $6, local_exec = $7, emr_step = $8, policy = $9, updated_at = $10 WHERE key = $1";
    write(db, sql, c).await
}

/// Adds the built-in entries that are missing; edited ones are left alone.
pub async fn seed(db: &Db) -> sqlx::Result<()> {
    for component in app::catalog::builtin() {
        insert(db, &component).await?;
    }
    Ok(())
}
