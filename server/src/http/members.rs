//! What tenant admins manage about people: members and their roles, API
//! tokens, and the audit log. Every member manages their own tokens.

use super::doc::{Forbidden, Invalid, NotFound, TenantPath, Unauthorized};
use super::json::Json;
use super::query::Query;
use crate::access::{new_token, AdminAccess, Caller, TenantAccess, Via, TOKEN_PREFIX};
use crate::db::memberships::Refused;
use crate::db::{audit, memberships, tokens, users};
use crate::state::AppState;
use crate::time::Timestamp;
use crate::{Error, Result};
use app::api::access::{
    ApiToken, AuditAction, AuditEvent, CreatedApiToken, Member, NewApiToken, SetMember,
};
use app::api::query::AuditQuery;
use app::api::{FieldError, Problem};
use app::types::Role;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_members))
        .routes(routes!(set_member, remove_member))
        .routes(routes!(list_tokens, create_token))
        .routes(routes!(revoke_token))
        .routes(routes!(my_tokens))
        .routes(routes!(audit_log))
}

/// The tenant's members and their roles (tenant admins).
#[utoipa::path(get, path = "/tenants/{tenant}/members", tag = "members",
    params(TenantPath), responses(
    (status = 200, body = [Member]),
    Unauthorized,
    Forbidden,
    NotFound))]
async fn list_members(
    State(state): State<AppState>,
    access: AdminAccess,
) -> Result<axum::Json<Vec<Member>>> {
    Ok(axum::Json(
        memberships::of_tenant(&state.db, &access.tenant).await?,
    ))
}

async fn user_of(state: &AppState, username: &str) -> Result<app::types::UserId> {
    users::id_of(&state.db, username)
        .await?
        .ok_or_else(|| Error::NotFound(format!("user `{username}`")))
}

/// The answer to a change that would leave the tenant without a tenant admin.
fn last_admin(access: &AdminAccess) -> Error {
    Error::Conflict {
        field: Some("role".into()),
        message: format!("`{}` must keep one tenant admin", access.slug),
    }
}

/// Adds a user to the tenant or changes their role (tenant admins).
#[utoipa::path(put, path = "/tenants/{tenant}/members/{username}", tag = "members", request_body = SetMember,
    params(TenantPath, ("username" = String, Path, description = "The user")),
    responses(
    (status = 200, description = "The role changed", body = Member),
    (status = 201, description = "A new member", body = Member),
    Unauthorized,
    (status = 403, description = "Not a tenant admin, or an API token (tokens cannot change members)", body = Problem, content_type = "application/problem+json"),
    (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "The tenant would have no tenant admin left", body = Problem, content_type = "application/problem+json"),
    Invalid))]
async fn set_member(
    State(state): State<AppState>,
    access: AdminAccess,
    Path((_, username)): Path<(String, String)>,
    Json(body): Json<SetMember>,
) -> Result<(StatusCode, axum::Json<Member>)> {
    access.caller.require_session("change members")?;
    let user = user_of(&state, &username).await?;
    let created = memberships::set(&state.db, &access.tenant, &user, body.role)
        .await?
        .map_err(|_| last_admin(&access))?;
    access
        .audit(
            &state.db,
            AuditAction::MemberSet,
            &username,
            Some(serde_json::json!({ "role": body.role })),
        )
        .await;
    let member = memberships::of_tenant(&state.db, &access.tenant)
        .await?
        .into_iter()
        .find(|m| m.username == username)
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("the membership vanished")))?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, axum::Json(member)))
}

/// Removes a member (tenant admins). Their API tokens for the tenant stop working.
#[utoipa::path(delete, path = "/tenants/{tenant}/members/{username}", tag = "members",
    params(TenantPath, ("username" = String, Path, description = "The user")),
    responses(
    (status = 204, description = "Removed"),
    Unauthorized,
    (status = 403, description = "Not a tenant admin, or an API token (tokens cannot change members)", body = Problem, content_type = "application/problem+json"),
    NotFound,
    (status = 409, description = "The tenant would have no tenant admin left", body = Problem, content_type = "application/problem+json")))]
async fn remove_member(
    State(state): State<AppState>,
    access: AdminAccess,
    Path((_, username)): Path<(String, String)>,
) -> Result<StatusCode> {
    access.caller.require_session("change members")?;
    let user = user_of(&state, &username).await?;
    match memberships::remove(&state.db, &access.tenant, &user).await? {
        Ok(()) => {}
        Err(Refused::NotMember) => return Err(Error::NotFound(format!("member `{username}`"))),
        Err(Refused::LastAdmin) => return Err(last_admin(&access)),
    }
    access
        .audit(&state.db, AuditAction::MemberRemove, &username, None)
        .await;
    Ok(StatusCode::NO_CONTENT)
}

/// API tokens in the tenant: your own; every member's for tenant admins.
#[utoipa::path(get, path = "/tenants/{tenant}/tokens", tag = "tokens",
    params(TenantPath), responses(
    (status = 200, body = [ApiToken]),
    Unauthorized,
    NotFound))]
async fn list_tokens(
    State(state): State<AppState>,
    access: TenantAccess,
) -> Result<axum::Json<Vec<ApiToken>>> {
    let only = (!access.role.includes(Role::TenantAdmin)).then_some(&access.caller.user_id);
    Ok(axum::Json(
        tokens::list(&state.db, &access.tenant, only).await?,
    ))
}

/// Creates an API token for this tenant with a role no higher than yours.
/// The secret is in this answer only.
#[utoipa::path(post, path = "/tenants/{tenant}/tokens", tag = "tokens", request_body = NewApiToken,
    params(TenantPath), responses(
    (status = 201, body = CreatedApiToken),
    Unauthorized,
    (status = 403, description = "Tokens cannot make tokens", body = Problem, content_type = "application/problem+json"),
    NotFound,
    Invalid))]
async fn create_token(
    State(state): State<AppState>,
    access: TenantAccess,
    Json(body): Json<NewApiToken>,
) -> Result<(StatusCode, axum::Json<CreatedApiToken>)> {
    access.caller.require_session("create API tokens")?;
    let mut errors = Vec::new();
    let name = body.name.trim();
    if !(1..=100).contains(&name.chars().count()) {
        errors.push(FieldError::new("name", "length", "1 to 100 characters"));
    }
    if !access.role.includes(body.role) {
        errors.push(FieldError::new(
            "role",
            "above_own_role",
            format!(
                "a token's role cannot be higher than your own ({})",
                access.role
            ),
        ));
    }
    if body
        .expires_in_days
        .is_some_and(|d| !(1..=3650).contains(&d))
    {
        errors.push(FieldError::new(
            "expires_in_days",
            "range",
            "between 1 and 3650 days, or absent for no expiry",
        ));
    }
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    let (random, _) = new_token();
    let secret = format!("{TOKEN_PREFIX}{random}");
    let prefix: String = secret.chars().take(TOKEN_PREFIX.len() + 6).collect();
    let expires_at = body
        .expires_in_days
        .map(|d| Timestamp::in_future(chrono::Duration::days(d)));
    let id = tokens::create(
        &state.db,
        tokens::NewToken {
            tenant: &access.tenant,
            user: &access.caller.user_id,
            name,
            role: body.role,
            token_hash: &crate::access::hash_token(&secret),
            prefix: &prefix,
            expires_at,
        },
    )
    .await?;
    access
        .audit(
            &state.db,
            AuditAction::TokenCreate,
            &id,
            Some(serde_json::json!({ "name": name, "role": body.role })),
        )
        .await;
    let (token, _) = tokens::get(&state.db, &access.tenant, &id)
        .await?
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("a new token was not found")))?;
    Ok((
        StatusCode::CREATED,
        axum::Json(CreatedApiToken { token, secret }),
    ))
}

/// Revokes an API token: your own, or any member's for tenant admins.
#[utoipa::path(delete, path = "/tenants/{tenant}/tokens/{id}", tag = "tokens",
    params(TenantPath, ("id" = String, Path, description = "The token's id")),
    responses(
    (status = 204, description = "Revoked"),
    Unauthorized,
    (status = 403, description = "Tokens cannot revoke tokens", body = Problem, content_type = "application/problem+json"),
    NotFound))]
async fn revoke_token(
    State(state): State<AppState>,
    access: TenantAccess,
    Path((_, id)): Path<(String, String)>,
) -> Result<StatusCode> {
    access.caller.require_session("revoke API tokens")?;
    let not_found = || Error::NotFound(format!("token `{id}`"));
    let (_, owner) = tokens::get(&state.db, &access.tenant, &id)
        .await?
        .ok_or_else(not_found)?;
    if owner != access.caller.user_id && !access.role.includes(Role::TenantAdmin) {
        return Err(not_found());
    }
    tokens::revoke(&state.db, &access.tenant, &id).await?;
    access
        .audit(&state.db, AuditAction::TokenRevoke, &id, None)
        .await;
    Ok(StatusCode::NO_CONTENT)
}

/// Every API token you made, in any tenant; called with a token, only
/// those of the token's own tenant.
#[utoipa::path(get, path = "/me/tokens", tag = "tokens", responses(
    (status = 200, body = [ApiToken]),
    Unauthorized))]
async fn my_tokens(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<axum::Json<Vec<ApiToken>>> {
    let tenant = match &caller.via {
        Via::Token { tenant, .. } => Some(tenant),
        Via::Session { .. } => None,
    };
    Ok(axum::Json(
        tokens::of_user(&state.db, &caller.user_id, tenant).await?,
    ))
}

/// The tenant's audit log, newest first (tenant admins).
#[utoipa::path(get, path = "/tenants/{tenant}/audit", tag = "members",
    params(TenantPath, AuditQuery), responses(
    (status = 200, body = [AuditEvent]),
    Unauthorized,
    Forbidden,
    NotFound,
    Invalid))]
async fn audit_log(
    State(state): State<AppState>,
    access: AdminAccess,
    Query(q): Query<AuditQuery>,
) -> Result<axum::Json<Vec<AuditEvent>>> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(Error::Validation(vec![FieldError::new(
            "limit",
            "range",
            "between 1 and 500",
        )]));
    }
    let action = q.action().map_err(|e| {
        Error::Validation(vec![FieldError::new(
            "action",
            "enum",
            format!("no such action `{}`", e.value),
        )])
    })?;
    let filter = audit::Filter {
        user: q.user.filter(|u| !u.is_empty()),
        action,
        before: q.before.filter(|b| !b.is_empty()),
        limit,
    };
    Ok(axum::Json(
        audit::list(&state.db, &access.tenant, &filter).await?,
    ))
}
