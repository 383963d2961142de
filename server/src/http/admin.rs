//! Platform administration: tenants and users (creating, disabling,
//! resetting passwords).

use super::doc::{Forbidden, Invalid, NotFound, Unauthorized};
use super::json::Json;
use crate::access::{PlatformAdmin, Via};
use crate::db::{audit, bootstrap::hash_password, sessions, tenants, users};
use crate::state::AppState;
use crate::{Error, Result};
use app::api::access::{AuditAction, NewTenant, NewUser, Tenant, TenantChange, User, UserChange};
use app::api::{FieldError, Problem};
use app::types::TenantId;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_tenants, create_tenant))
        .routes(routes!(change_tenant))
        .routes(routes!(list_users, create_user))
        .routes(routes!(change_user))
}

/// Checks a slug: lower-case letters, digits and `-`, starting with a letter
/// or digit, at most 63 characters.
pub fn check_slug(slug: &str, errors: &mut Vec<FieldError>) {
    let valid = !slug.is_empty()
        && slug.len() <= 63
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !slug.starts_with('-');
    if !valid {
        errors.push(FieldError::new(
            "slug",
            "pattern",
            "1 to 63 lower-case letters, digits and `-`, not starting with `-`",
        ));
    }
}

fn check_name(name: &str, errors: &mut Vec<FieldError>) {
    let length = name.trim().chars().count();
    if !(1..=100).contains(&length) {
        errors.push(FieldError::new("name", "length", "1 to 100 characters"));
    }
}

fn check_limit(limit: Option<i64>, errors: &mut Vec<FieldError>) {
    if limit.is_some_and(|n| !(1..=10_000).contains(&n)) {
        errors.push(FieldError::new(
            "max_concurrent_tasks",
            "range",
            "between 1 and 10000, or null for the server's default",
        ));
    }
}

fn check_quota(quota: Option<i64>, errors: &mut Vec<FieldError>) {
    if quota.is_some_and(|n| n < 0) {
        errors.push(FieldError::new(
            "quota_bytes",
            "range",
            "0 (unlimited) or more bytes, or null for the platform default",
        ));
    }
}

/// `tenant` with its disk usage and the quota that applies.
async fn with_usage(state: &AppState, id: &TenantId, mut tenant: Tenant) -> Tenant {
    let engine = &state.engine;
    tenant.usage_bytes = i64::try_from(engine.disk_usage(id).await).unwrap_or(i64::MAX);
    tenant.effective_quota_bytes =
        i64::try_from(engine.quota_of(tenant.quota_bytes)).unwrap_or(i64::MAX);
    tenant.effective_retention_days = i64::from(engine.retention_of(tenant.retention_days));
    tenant
}

fn done(errors: Vec<FieldError>) -> Result<()> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Error::Validation(errors))
    }
}

async fn record(state: &AppState, admin: &PlatformAdmin, action: AuditAction, target: &str) {
    let actor = audit::Actor::from(&admin.0);
    audit::record(
        &state.db,
        audit::Entry {
            tenant: None,
            actor: &actor,
            action,
            target: Some(target),
            detail: None,
        },
    )
    .await;
}

/// Every tenant, with its disk usage (platform admins).
#[utoipa::path(get, path = "/admin/tenants", tag = "admin", responses(
    (status = 200, body = [Tenant]),
    Unauthorized,
    Forbidden))]
async fn list_tenants(
    State(state): State<AppState>,
    _admin: PlatformAdmin,
) -> Result<axum::Json<Vec<Tenant>>> {
    let mut list = Vec::new();
    for (id, tenant) in tenants::list_with_ids(&state.db).await? {
        list.push(with_usage(&state, &id, tenant).await);
    }
    Ok(axum::Json(list))
}

/// Creates a tenant (platform admins). Add its first tenant admin with
/// `PUT …/members/{username}`.
#[utoipa::path(post, path = "/admin/tenants", tag = "admin", request_body = NewTenant, responses(
    (status = 201, body = Tenant),
    Unauthorized,
    Forbidden,
    (status = 409, description = "The slug is taken", body = Problem, content_type = "application/problem+json"),
    Invalid))]
async fn create_tenant(
    State(state): State<AppState>,
    admin: PlatformAdmin,
    Json(body): Json<NewTenant>,
) -> Result<(StatusCode, axum::Json<Tenant>)> {
    let mut errors = Vec::new();
    check_slug(&body.slug, &mut errors);
    check_name(&body.name, &mut errors);
    check_limit(body.max_concurrent_tasks, &mut errors);
    done(errors)?;
    let id = tenants::create(
        &state.db,
        &body.slug,
        body.name.trim(),
        body.max_concurrent_tasks,
    )
    .await
    .map_err(|e| {
        Error::taken(
            e,
            "slug",
            format!("a tenant `{}` already exists", body.slug),
        )
    })?;
    state
        .engine
        .set_tenant_limit(&id, body.max_concurrent_tasks);
    record(&state, &admin, AuditAction::TenantCreate, &body.slug).await;
    let (id, tenant) = tenants::by_slug(&state.db, &body.slug)
        .await?
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("a new tenant was not found")))?;
    Ok((
        StatusCode::CREATED,
        axum::Json(with_usage(&state, &id, tenant).await),
    ))
}

/// Renames a tenant or changes its task limit, disk quota or retention
/// (platform admins).
#[utoipa::path(patch, path = "/admin/tenants/{slug}", tag = "admin", request_body = TenantChange,
    params(("slug" = String, Path, description = "The tenant's slug")), responses(
    (status = 200, body = Tenant),
    Unauthorized,
    Forbidden,
    NotFound,
    Invalid))]
async fn change_tenant(
    State(state): State<AppState>,
    admin: PlatformAdmin,
    Path(slug): Path<String>,
    Json(body): Json<TenantChange>,
) -> Result<axum::Json<Tenant>> {
    let (id, current) = tenants::by_slug(&state.db, &slug)
        .await?
        .ok_or_else(|| Error::NotFound(format!("tenant `{slug}`")))?;
    let name = body.name.unwrap_or(current.name);
    let limit = body
        .max_concurrent_tasks
        .unwrap_or(current.max_concurrent_tasks);
    let mut errors = Vec::new();
    check_name(&name, &mut errors);
    check_limit(limit, &mut errors);
    if let Some(quota) = body.quota_bytes {
        check_quota(quota, &mut errors);
    }
    if let Some(Some(days)) = body.retention_days {
        if !(0..=36_500).contains(&days) {
            errors.push(FieldError::new(
                "retention_days",
                "range",
                "0 (forever) to 36500 days, or null for the platform default",
            ));
        }
    }
    done(errors)?;
    tenants::update(&state.db, &id, name.trim(), limit).await?;
    if let Some(quota) = body.quota_bytes {
        tenants::set_quota(&state.db, &id, quota).await?;
    }
    if let Some(days) = body.retention_days {
        tenants::set_retention(&state.db, &id, days).await?;
    }
    state.engine.set_tenant_limit(&id, limit);
    record(&state, &admin, AuditAction::TenantChange, &slug).await;
    let (_, tenant) = tenants::by_slug(&state.db, &slug)
        .await?
        .ok_or_else(|| Error::NotFound(format!("tenant `{slug}`")))?;
    Ok(axum::Json(with_usage(&state, &id, tenant).await))
}

/// Every user (platform admins).
#[utoipa::path(get, path = "/admin/users", tag = "admin", responses(
    (status = 200, body = [User]),
    Unauthorized,
    Forbidden))]
async fn list_users(
    State(state): State<AppState>,
    _admin: PlatformAdmin,
) -> Result<axum::Json<Vec<User>>> {
    Ok(axum::Json(users::list(&state.db).await?))
}

/// Checks a username: 1 to 64 letters, digits, `.`, `_`, `-`, `@`.
pub fn check_username(username: &str, errors: &mut Vec<FieldError>) {
    let valid = (1..=64).contains(&username.len())
        && username
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if !valid {
        errors.push(FieldError::new(
            "username",
            "pattern",
            "1 to 64 letters, digits, `.`, `_`, `-` or `@`",
        ));
    }
}

/// Checks a new password: 10 to 1024 characters.
pub fn check_password(field: &str, password: &str, errors: &mut Vec<FieldError>) {
    if !(10..=1024).contains(&password.chars().count()) {
        errors.push(FieldError::new(
            field,
            "length",
            "at least 10 characters (and at most 1024)",
        ));
    }
}

/// Creates a user (platform admins).
#[utoipa::path(post, path = "/admin/users", tag = "admin", request_body = NewUser, responses(
    (status = 201, body = User),
    Unauthorized,
    Forbidden,
    (status = 409, description = "The username is taken", body = Problem, content_type = "application/problem+json"),
    Invalid))]
async fn create_user(
    State(state): State<AppState>,
    admin: PlatformAdmin,
    Json(body): Json<NewUser>,
) -> Result<(StatusCode, axum::Json<User>)> {
    let mut errors = Vec::new();
    check_username(&body.username, &mut errors);
    if let Some(password) = &body.password {
        check_password("password", password, &mut errors);
    }
    done(errors)?;
    let hash = match body.password {
        Some(password) => Some(hash_password(password).await?),
        None => None,
    };
    users::create(
        &state.db,
        &body.username,
        hash.as_deref(),
        body.platform_admin,
        None,
    )
    .await
    .map_err(|e| {
        Error::taken(
            e,
            "username",
            format!("a user `{}` already exists", body.username),
        )
    })?;
    record(&state, &admin, AuditAction::UserCreate, &body.username).await;
    let user = users::by_username(&state.db, &body.username)
        .await?
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("a new user was not found")))?;
    Ok((StatusCode::CREATED, axum::Json(user)))
}

/// Disables or enables a user, or sets a new password (platform admins).
/// Disabling ends the user's sessions and stops their API tokens at once;
/// a new password ends their sessions.
#[utoipa::path(patch, path = "/admin/users/{username}", tag = "admin", request_body = UserChange,
    params(("username" = String, Path, description = "The user")), responses(
    (status = 200, body = User),
    Unauthorized,
    Forbidden,
    NotFound,
    Invalid))]
async fn change_user(
    State(state): State<AppState>,
    admin: PlatformAdmin,
    Path(username): Path<String>,
    Json(body): Json<UserChange>,
) -> Result<axum::Json<User>> {
    let id = users::id_of(&state.db, &username)
        .await?
        .ok_or_else(|| Error::NotFound(format!("user `{username}`")))?;
    let mut errors = Vec::new();
    if body.disabled == Some(true) && id == admin.0.user_id {
        errors.push(FieldError::new(
            "disabled",
            "own_account",
            "you cannot disable your own account",
        ));
    }
    if let Some(password) = &body.password {
        check_password("password", password, &mut errors);
    }
    done(errors)?;
    // The admin's own session survives a reset of their own password.
    let keep = match &admin.0.via {
        Via::Session { token_hash } if id == admin.0.user_id => Some(token_hash.as_str()),
        _ => None,
    };
    if let Some(password) = body.password {
        let hash = hash_password(password).await?;
        users::set_password(&state.db, &id, &hash).await?;
        sessions::end_all(&state.db, &id, keep).await?;
        record(&state, &admin, AuditAction::UserPasswordReset, &username).await;
    }
    if let Some(disabled) = body.disabled {
        users::set_disabled(&state.db, &id, disabled).await?;
        let action = if disabled {
            sessions::end_all(&state.db, &id, None).await?;
            AuditAction::UserDisable
        } else {
            AuditAction::UserEnable
        };
        record(&state, &admin, action, &username).await;
    }
    let user = users::by_username(&state.db, &username)
        .await?
        .ok_or_else(|| Error::NotFound(format!("user `{username}`")))?;
    Ok(axum::Json(user))
}
