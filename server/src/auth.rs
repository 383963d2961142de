//! Who is calling: the signed-in user from the session cookie, and that user's
//! role in the tenant the path names. Objects of a tenant the caller is not a
//! member of answer 404, as if they did not exist; too low a role answers 403.

use crate::db::users;
use crate::state::AppState;
use crate::{Error, Result};
use app::types::{Role, TenantId, UserId};
use argon2::password_hash::rand_core::{OsRng, RngCore};
use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::request::Parts;
use axum_extra::extract::CookieJar;
use base64::Engine;
use sha2::{Digest, Sha256};

pub const SESSION_COOKIE: &str = "trellis_session";

/// A signed-in user.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user_id: UserId,
    pub username: String,
    pub platform_admin: bool,
}

/// The caller's access to the tenant named by the `{tenant}` path segment.
#[derive(Debug, Clone)]
pub struct TenantAccess {
    pub tenant: TenantId,
    pub slug: String,
    pub role: Role,
    pub caller: Caller,
}

/// A new random session token (for the cookie) and its hash (for the database).
pub fn new_token() -> (String, String) {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash_token(&token);
    (token, hash)
}

pub fn hash_token(token: &str) -> String {
    format!("{:x}", Sha256::digest(token.as_bytes()))
}

fn session_token(parts: &Parts) -> Option<String> {
    CookieJar::from_headers(&parts.headers)
        .get(SESSION_COOKIE)
        .map(|c| c.value().to_owned())
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        if let Some(caller) = parts.extensions.get::<Caller>() {
            return Ok(caller.clone());
        }
        let token =
            session_token(parts).ok_or_else(|| Error::Unauthorized("sign in first".into()))?;
        let caller = users::session_caller(&state.db, &hash_token(&token))
            .await?
            .ok_or_else(|| Error::Unauthorized("the session has ended; sign in again".into()))?;
        parts.extensions.insert(caller.clone());
        Ok(caller)
    }
}

impl Caller {
    pub fn require_platform_admin(&self) -> Result<()> {
        if self.platform_admin {
            Ok(())
        } else {
            Err(Error::Forbidden("only platform admins may do this".into()))
        }
    }
}

impl TenantAccess {
    /// Fails with 403 unless the caller's role includes `role`.
    pub fn require(&self, role: Role) -> Result<()> {
        if self.role.includes(role) {
            Ok(())
        } else {
            Err(Error::Forbidden(format!(
                "this needs the {role} role in tenant `{}`",
                self.slug
            )))
        }
    }
}

impl FromRequestParts<AppState> for TenantAccess {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let caller = Caller::from_request_parts(parts, state).await?;
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|e| Error::BadRequest(e.body_text()))?;
        let slug = params
            .iter()
            .find(|(name, _)| *name == "tenant")
            .map(|(_, value)| value.to_owned())
            .ok_or_else(|| Error::BadRequest("the path names no tenant".into()))?;
        let not_found = || Error::NotFound(format!("tenant `{slug}`"));
        let (tenant, role) = users::tenant_role(&state.db, &slug, &caller.user_id)
            .await?
            .ok_or_else(not_found)?;
        let role = match (role, caller.platform_admin) {
            (_, true) => Role::TenantAdmin,
            (Some(role), false) => role,
            (None, false) => return Err(not_found()),
        };
        Ok(TenantAccess {
            tenant,
            slug,
            role,
            caller,
        })
    }
}
