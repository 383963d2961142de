//! First start: an empty database gets the `demo` tenant and the platform
//! admin `admin`, so a newcomer can sign in at once.

use super::{new_id, now, Db};
use app::types::{TenantId, UserId};
use argon2::password_hash::{rand_core::OsRng, PasswordHasher, SaltString};
use argon2::Argon2;
use rand::distributions::{Alphanumeric, DistString};
use sqlx::Row;

pub const DEMO_TENANT: &str = "demo";
pub const ADMIN_USER: &str = "admin";

/// What bootstrap did.
#[derive(Debug, PartialEq, Eq)]
pub enum Bootstrap {
    /// The database already had users; nothing changed.
    AlreadyDone,
    /// Created the demo tenant and admin; `generated_password` is set when no
    /// password was configured and one was made up (to be shown once).
    Created { generated_password: Option<String> },
}

/// Hashes a password with argon2id (PHC string format).
pub async fn hash_password(password: String) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| anyhow::anyhow!("hashing password: {e}"))
    })
    .await?
}

pub async fn bootstrap(db: &Db, admin_password: Option<String>) -> anyhow::Result<Bootstrap> {
    super::catalog::seed(db).await?;
    let users: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
        .fetch_one(&db.pool)
        .await?;
    if users > 0 {
        return Ok(Bootstrap::AlreadyDone);
    }
    let generated = admin_password.is_none();
    let password =
        admin_password.unwrap_or_else(|| Alphanumeric.sample_string(&mut rand::thread_rng(), 20));
    let hash = hash_password(password.clone()).await?;

    match insert_demo(db, &hash).await {
        Ok(()) => Ok(Bootstrap::Created {
            generated_password: generated.then_some(password),
        }),
        // Another server bootstrapped the same database at the same moment.
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Ok(Bootstrap::AlreadyDone),
        Err(e) => Err(e.into()),
    }
}

async fn insert_demo(db: &Db, password_hash: &str) -> Result<(), sqlx::Error> {
    let at = now();
    let tenant_id = new_id();
    let user_id = new_id();
    let mut tx = db.pool.begin().await?;
    sqlx::query("INSERT INTO tenants (id, slug, name, created_at) VALUES ($1, $2, $3, $4)")
        .bind(&tenant_id)
        .bind(DEMO_TENANT)
        .bind("Demo")
        .bind(&at)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO users (id, username, password_hash, platform_admin, created_at) VALUES ($1, $2, $3, 1, $4)",
    )
    .bind(&user_id)
    .bind(ADMIN_USER)
    .bind(password_hash)
    .bind(&at)
    .execute(&mut *tx)
    .await?;
    sqlx::query("INSERT INTO memberships (tenant_id, user_id, role, created_at) VALUES ($1, $2, 'tenant_admin', $3)")
        .bind(&tenant_id)
        .bind(&user_id)
        .bind(&at)
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

/// The demo tenant and the admin user, once bootstrap created them.
pub async fn demo_owner(db: &Db) -> sqlx::Result<Option<(TenantId, UserId)>> {
    sqlx::query(
        "SELECT t.id AS tenant_id, u.id AS user_id FROM tenants t, users u \
         WHERE t.slug = $1 AND u.username = $2",
    )
    .bind(DEMO_TENANT)
    .bind(ADMIN_USER)
    .fetch_optional(&db.pool)
    .await?
    .map(|row| {
        Ok((
            TenantId::new(row.try_get::<String, _>("tenant_id")?),
            UserId::new(row.try_get::<String, _>("user_id")?),
        ))
    })
    .transpose()
}
