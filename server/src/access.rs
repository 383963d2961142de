//! Who is calling: a signed-in user (session cookie) or an API token
//! (`Authorization: Bearer`), and that caller's role in the tenant the path
//! names. Objects of a tenant the caller is not a member of answer 404, as if
//! they did not exist; too low a role answers 403; no credentials answer 401.
//!
//! Handlers say what they need by the extractor they take: [`TenantAccess`]
//! (any member), [`EditorAccess`], [`AdminAccess`] (tenant admin),
//! [`PlatformAdmin`]. The role is checked before the request body is read.

use crate::config::AuthSettings;
use crate::db::{audit, memberships, sessions, tokens, users, Db};
use crate::limiter::Limiter;
use crate::time::Timestamp;
use crate::{Error, Result};
use app::api::access::{AuditAction, AuditVia};
use app::types::{Role, TenantId, UserId};
use argon2::password_hash::rand_core::{OsRng, RngCore};
use axum::extract::{FromRef, FromRequestParts, RawPathParams};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use axum_extra::extract::cookie::{Cookie, SameSite};
use axum_extra::extract::CookieJar;
use base64::Engine;
use sha2::{Digest, Sha256};
use std::ops::Deref;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const SESSION_COOKIE: &str = "trellis_session";
/// Readable by the page's script, which echoes it in [`CSRF_HEADER`].
pub const CSRF_COOKIE: &str = "trellis_csrf";
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Every API token starts with this, so leaked tokens are easy to spot.
pub const TOKEN_PREFIX: &str = "trl_";

/// How the caller proved who they are.
#[derive(Debug, Clone)]
pub enum Via {
    Session {
        token_hash: String,
    },
    Token {
        id: String,
        /// What the caller presented, hashed: a live stream presents it again.
        token_hash: String,
        tenant: TenantId,
        role: Role,
    },
}

/// A signed-in user, or a user's API token.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user_id: UserId,
    pub username: String,
    pub platform_admin: bool,
    pub via: Via,
}

impl Caller {
    pub fn new(user: users::Identity, via: Via) -> Self {
        Caller {
            user_id: user.id,
            username: user.username,
            platform_admin: user.platform_admin,
            via,
        }
    }
}

impl Caller {
    /// Who holds the live API token with `token_hash` (401 when it is
    /// unknown, revoked or expired, or its user is disabled).
    async fn by_token(db: &Db, token_hash: String) -> Result<Caller> {
        let token = tokens::live(db, &token_hash).await?.ok_or_else(|| {
            Error::Unauthorized("the API token is unknown, revoked or expired".into())
        })?;
        let via = Via::Token {
            id: token.id,
            token_hash,
            tenant: token.tenant,
            role: token.role,
        };
        Ok(Caller::new(token.user, via))
    }

    /// The live session with `token_hash` and its CSRF token (401 when it
    /// has ended or its user is disabled).
    async fn by_session(db: &Db, auth: &AuthState, token_hash: String) -> Result<(Caller, String)> {
        let session = sessions::live(db, &token_hash, idle_cutoff(auth.settings.idle_timeout))
            .await?
            .ok_or_else(|| Error::Unauthorized("the session has ended; sign in again".into()))?;
        let caller = Caller::new(session.user, Via::Session { token_hash });
        Ok((caller, session.csrf))
    }

    /// The caller as the credential it presented identifies it now: the
    /// lookup a request makes, made again (a live stream re-checks with it).
    pub async fn again(&self, db: &Db, auth: &AuthState) -> Result<Caller> {
        match &self.via {
            Via::Token { token_hash, .. } => Caller::by_token(db, token_hash.clone()).await,
            Via::Session { token_hash } => {
                Ok(Caller::by_session(db, auth, token_hash.clone()).await?.0)
            }
        }
    }
}

impl From<&Caller> for audit::Actor {
    fn from(caller: &Caller) -> Self {
        audit::Actor {
            id: Some(caller.user_id.clone()),
            name: caller.username.clone(),
            via: caller.audit_via(),
        }
    }
}

/// The caller's access to the tenant named by the `{tenant}` path segment.
#[derive(Debug, Clone)]
pub struct TenantAccess {
    pub tenant: TenantId,
    pub slug: String,
    /// The caller's effective role: the membership's (tenant admin for
    /// platform admins), capped by the token's role for token callers.
    pub role: Role,
    pub caller: Caller,
}

/// Settings and sign-in rate limits, shared by every request.
pub struct AuthState {
    pub settings: AuthSettings,
    /// The single sign-on provider's metadata and keys, when it is configured.
    pub oidc: Option<Arc<crate::oidc_provider::Provider>>,
    by_username: Limiter,
    by_address: Limiter,
}

impl AuthState {
    pub fn new(settings: AuthSettings) -> Arc<Self> {
        let per_minute = settings.login_attempts_per_minute.max(1);
        let minute = Duration::from_secs(60);
        let keys = settings.login_tracked_keys;
        Arc::new(Self {
            oidc: settings
                .oidc
                .as_ref()
                .map(|o| Arc::new(crate::oidc_provider::Provider::new(&o.issuer, o.refresh))),
            by_username: Limiter::new(per_minute, minute, keys),
            by_address: Limiter::new(per_minute.saturating_mul(5), minute, keys),
            settings,
        })
    }

    /// Counts a sign-in attempt; 429 with the wait when over the limit.
    pub fn sign_in_attempt(&self, username: &str, address: Option<&str>) -> Result<()> {
        let now = Instant::now();
        let wait = |left: Duration| left.as_secs_f64().ceil().max(1.0) as u64;
        if let Some(address) = address {
            if let Err(left) = self.by_address.check(address, now) {
                return Err(Error::TooManyRequests {
                    message: "too many sign-in attempts from this address".into(),
                    retry_after: wait(left),
                });
            }
        }
        if let Err(left) = self.by_username.check(&username.to_lowercase(), now) {
            return Err(Error::TooManyRequests {
                message: format!("too many sign-in attempts for `{username}`"),
                retry_after: wait(left),
            });
        }
        Ok(())
    }

    /// How many usernames and client addresses the sign-in limits track.
    pub fn tracked_sign_in_keys(&self) -> (usize, usize) {
        (self.by_username.len(), self.by_address.len())
    }

    /// The session and CSRF cookies for a new session.
    pub fn session_cookies(
        &self,
        headers: &HeaderMap,
        token: String,
        csrf: String,
    ) -> [Cookie<'static>; 2] {
        let secure = self.secure(headers);
        let session = Cookie::build((SESSION_COOKIE, token))
            .path("/")
            .http_only(true)
            .secure(secure)
            .same_site(SameSite::Lax)
            .build();
        let csrf = Cookie::build((CSRF_COOKIE, csrf))
            .path("/")
            .secure(secure)
            .same_site(SameSite::Lax)
            .build();
        [session, csrf]
    }

    /// Whether cookies must be `Secure`: configured for https, or the
    /// request came through a proxy that terminated https.
    pub fn secure(&self, headers: &HeaderMap) -> bool {
        self.settings.secure_cookies
            || headers
                .get("x-forwarded-proto")
                .and_then(|v| v.to_str().ok())
                == Some("https")
    }
}

/// A new random secret (for a cookie or a token) and its hash (for the database).
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

/// Compares two secrets in time independent of where they differ.
fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

fn bearer(parts: &Parts) -> Result<Option<String>> {
    let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| Error::Unauthorized("the Authorization header is not text".into()))?;
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => {
            Ok(Some(token.trim().to_owned()))
        }
        _ => Err(Error::Unauthorized(
            "the Authorization header must be `Bearer <API token>`".into(),
        )),
    }
}

impl<S> FromRequestParts<S> for Caller
where
    S: Send + Sync,
    Db: FromRef<S>,
    Arc<AuthState>: FromRef<S>,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self> {
        if let Some(caller) = parts.extensions.get::<Caller>() {
            return Ok(caller.clone());
        }
        let db = Db::from_ref(state);
        let caller = if let Some(token) = bearer(parts)? {
            Caller::by_token(&db, hash_token(&token)).await?
        } else {
            let jar = CookieJar::from_headers(&parts.headers);
            let token = jar
                .get(SESSION_COOKIE)
                .map(|c| c.value().to_owned())
                .ok_or_else(|| Error::Unauthorized("sign in first".into()))?;
            let auth = Arc::<AuthState>::from_ref(state);
            let (caller, csrf) = Caller::by_session(&db, &auth, hash_token(&token)).await?;
            if !parts.method.is_safe() {
                let sent = parts
                    .headers
                    .get(CSRF_HEADER)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                if csrf.is_empty() || !same_secret(sent, &csrf) {
                    return Err(Error::Forbidden(format!(
                        "a signed-in browser must send the `{CSRF_COOKIE}` cookie's value in the \
                         X-CSRF-Token header with this request"
                    )));
                }
            }
            caller
        };
        parts.extensions.insert(caller.clone());
        Ok(caller)
    }
}

/// The oldest `last_seen_at` a live session may have.
fn idle_cutoff(idle: Duration) -> Timestamp {
    Timestamp::ago(chrono::Duration::from_std(idle).unwrap_or(chrono::Duration::hours(1)))
}

impl Caller {
    /// A session or a token, for the audit log.
    pub fn audit_via(&self) -> AuditVia {
        match self.via {
            Via::Session { .. } => AuditVia::Session,
            Via::Token { .. } => AuditVia::Token,
        }
    }

    /// Fails with 403 for API tokens: some things need a person.
    pub fn require_session(&self, what: &str) -> Result<()> {
        match self.via {
            Via::Session { .. } => Ok(()),
            Via::Token { .. } => Err(Error::Forbidden(format!(
                "API tokens cannot {what}; sign in as the user"
            ))),
        }
    }
}

/// A platform admin signed in with a session.
#[derive(Debug, Clone)]
pub struct PlatformAdmin(pub Caller);

impl<S> FromRequestParts<S> for PlatformAdmin
where
    S: Send + Sync,
    Db: FromRef<S>,
    Arc<AuthState>: FromRef<S>,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self> {
        let caller = Caller::from_request_parts(parts, state).await?;
        if !caller.platform_admin {
            return Err(Error::Forbidden("only platform admins may do this".into()));
        }
        caller.require_session("administer the platform")?;
        Ok(PlatformAdmin(caller))
    }
}

impl TenantAccess {
    /// Fails with 403 unless the caller's role includes `role`.
    pub fn require(&self, role: Role) -> Result<()> {
        if self.role.includes(role) {
            Ok(())
        } else {
            Err(Error::Forbidden(format!(
                "this needs the {role} role in tenant `{}`; you are {}",
                self.slug, self.role
            )))
        }
    }
}

impl TenantAccess {
    /// Records in the tenant's audit log that the caller did `action`.
    pub async fn audit(
        &self,
        db: &Db,
        action: AuditAction,
        target: &str,
        detail: Option<serde_json::Value>,
    ) {
        let actor = audit::Actor::from(&self.caller);
        audit::record(
            db,
            audit::Entry {
                tenant: Some(&self.tenant),
                actor: &actor,
                action,
                target: Some(target),
                detail,
            },
        )
        .await;
    }

    /// How a run this caller starts is triggered: `api` for tokens.
    pub fn trigger(&self) -> app::types::Trigger {
        match self.caller.via {
            Via::Session { .. } => app::types::Trigger::Manual,
            Via::Token { .. } => app::types::Trigger::Api,
        }
    }
}

impl<S> FromRequestParts<S> for TenantAccess
where
    S: Send + Sync,
    Db: FromRef<S>,
    Arc<AuthState>: FromRef<S>,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self> {
        let caller = Caller::from_request_parts(parts, state).await?;
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|e| Error::BadRequest(e.body_text()))?;
        let slug = params
            .iter()
            .find(|(name, _)| *name == "tenant")
            .map(|(_, value)| value.to_owned())
            .ok_or_else(|| Error::BadRequest("the path names no tenant".into()))?;
        TenantAccess::of(&Db::from_ref(state), caller, slug).await
    }
}

impl TenantAccess {
    /// `caller`'s access to the tenant `slug` (404 when they are not a
    /// member, or their token is for another tenant).
    pub async fn of(db: &Db, caller: Caller, slug: String) -> Result<TenantAccess> {
        let not_found = || Error::NotFound(format!("tenant `{slug}`"));
        let (tenant, membership) = memberships::tenant_role(db, &slug, &caller.user_id)
            .await?
            .ok_or_else(not_found)?;
        let own = match (membership, caller.platform_admin) {
            (_, true) => Role::TenantAdmin,
            (Some(role), false) => role,
            (None, false) => return Err(not_found()),
        };
        let role = match &caller.via {
            Via::Session { .. } => own,
            Via::Token {
                tenant: token_tenant,
                role,
                ..
            } => {
                if *token_tenant != tenant {
                    return Err(not_found());
                }
                if own.includes(*role) {
                    *role
                } else {
                    own
                }
            }
        };
        Ok(TenantAccess {
            tenant,
            slug,
            role,
            caller,
        })
    }

    /// Looks the caller's credential and membership up again, exactly as a
    /// new request would; the error such a request would get when the
    /// access is gone (session ended, token revoked, user disabled, no
    /// longer a member).
    pub async fn recheck(&self, db: &Db, auth: &AuthState) -> Result<()> {
        let caller = self.caller.again(db, auth).await?;
        let now = TenantAccess::of(db, caller, self.slug.clone()).await?;
        if now.tenant != self.tenant {
            return Err(Error::NotFound(format!("tenant `{}`", self.slug)));
        }
        Ok(())
    }
}

macro_rules! role_extractor {
    ($(#[$doc:meta])* $name:ident, $role:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub struct $name(pub TenantAccess);

        impl Deref for $name {
            type Target = TenantAccess;
            fn deref(&self) -> &TenantAccess {
                &self.0
            }
        }

        impl<S> FromRequestParts<S> for $name
        where
            S: Send + Sync,
            Db: FromRef<S>,
            Arc<AuthState>: FromRef<S>,
        {
            type Rejection = Error;

            async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self> {
                let access = TenantAccess::from_request_parts(parts, state).await?;
                access.require($role)?;
                Ok($name(access))
            }
        }
    };
}

role_extractor!(
    /// A member who may compose, publish, run and stop.
    EditorAccess,
    Role::Editor
);
role_extractor!(
    /// A tenant admin: members, tokens of others, audit log, schedules, connections.
    AdminAccess,
    Role::TenantAdmin
);
