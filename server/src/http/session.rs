//! Sign-in, sign-out and "who am I": a server-side session behind an
//! `HttpOnly`, `SameSite=Lax` cookie.

use super::admin::check_password;
use super::doc::{Invalid, TooManyRequests, Unauthorized};
use super::json::Json;
use crate::access::{new_token, AuthState, Caller, Via, CSRF_COOKIE, SESSION_COOKIE};
use crate::db::bootstrap::hash_password;
use crate::db::{audit, memberships, sessions, tenants, users};
use crate::state::AppState;
use crate::{Error, Result};
use app::api::access::{AuditAction, AuditVia, AuthMethods, PasswordChange, SignInMethod};
use app::api::auth::{LoginRequest, Me, TenantMembership};
use app::api::{FieldError, Problem};
use app::types::UserId;
use argon2::{password_hash::PasswordHash, Argon2, PasswordVerifier};
use axum::extract::{ConnectInfo, FromRef, State};
use axum::http::StatusCode;
use axum::http::{header, HeaderMap};
use axum_extra::extract::cookie::Cookie;
use axum_extra::extract::CookieJar;
use std::net::SocketAddr;
use std::sync::Arc;
use utoipa_axum::{router::OpenApiRouter, routes};

/// No username is longer (local ones are at most 64 characters).
const MAX_USERNAME_BYTES: usize = 256;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(me))
        .routes(routes!(change_password))
        .routes(routes!(methods))
}

/// A valid argon2id hash of nothing in particular, verified against when the
/// user does not exist so that timing does not reveal which usernames do.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Yc2wWJ9OnWUFdB/bbqYfWHvUn5SyGVxiIkHWrZ0rEXE";

async fn verify(password: String, hash: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
        let hash = hash.unwrap_or_else(|| DUMMY_HASH.to_owned());
        PasswordHash::new(&hash)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false)
}

/// The client's network address, when the server knows it: the socket's
/// peer, or what a trusted proxy forwarded (see [`crate::client_ip`]).
pub struct ClientAddress(pub Option<String>);

impl<S> axum::extract::FromRequestParts<S> for ClientAddress
where
    S: Send + Sync,
    Arc<AuthState>: FromRef<S>,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> std::result::Result<Self, Self::Rejection> {
        let auth = Arc::<AuthState>::from_ref(state);
        Ok(ClientAddress(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(peer)| {
                    crate::client_ip::client_ip(
                        peer.ip(),
                        &parts.headers,
                        &auth.settings.trusted_proxies,
                    )
                    .to_string()
                }),
        ))
    }
}

/// Refuses a cross-site sign-in form (login CSRF): when the browser says
/// where the request comes from, it must be this server.
fn same_origin(headers: &HeaderMap) -> Result<()> {
    let (Some(origin), Some(host)) = (headers.get(header::ORIGIN), headers.get(header::HOST))
    else {
        return Ok(());
    };
    let origin = origin.to_str().unwrap_or_default();
    let host = host.to_str().unwrap_or_default();
    let origin_host = origin
        .split_once("://")
        .map(|(_, rest)| rest)
        .unwrap_or(origin);
    if origin_host == host {
        Ok(())
    } else {
        Err(Error::Forbidden(format!(
            "sign-in from another site ({origin}) is refused"
        )))
    }
}

/// Opens a session for a user who proved who they are; answers the user
/// with the session and CSRF cookies set.
pub async fn open_session(
    state: &AppState,
    headers: &HeaderMap,
    jar: CookieJar,
    user_id: &UserId,
    method: SignInMethod,
) -> Result<(CookieJar, Me)> {
    if users::disabled(&state.db, user_id).await? {
        return Err(Error::Forbidden(
            "this account is disabled; a platform admin can enable it again".into(),
        ));
    }
    let (token, token_hash) = new_token();
    let (csrf, _) = new_token();
    sessions::create(
        &state.db,
        &token_hash,
        user_id.as_str(),
        &csrf,
        method,
        state.auth.settings.session_lifetime,
    )
    .await?;
    let user = users::get(&state.db, user_id)
        .await?
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("the signed-in user was not found")))?;
    let caller = Caller::new(user, Via::Session { token_hash });
    let actor = audit::Actor {
        id: Some(caller.user_id.clone()),
        name: caller.username.clone(),
        via: method.into(),
    };
    audit::record(
        &state.db,
        audit::Entry {
            tenant: None,
            actor: &actor,
            action: AuditAction::SignIn,
            target: None,
            detail: None,
        },
    )
    .await;
    let [session, csrf] = state.auth.session_cookies(headers, token, csrf);
    Ok((jar.add(session).add(csrf), me_of(state, &caller).await?))
}

/// Signs in with a password; answers the user and sets the session cookie
/// (`HttpOnly`) and the CSRF cookie (read by the page, echoed in
/// `X-CSRF-Token`).
#[utoipa::path(post, path = "/auth/login", tag = "auth", request_body = LoginRequest, responses(
    (status = 200, description = "Signed in", body = Me),
    (status = 401, description = "Wrong username or password", body = Problem, content_type = "application/problem+json"),
    (status = 403, description = "Sent from another site, or the account is disabled", body = Problem, content_type = "application/problem+json"),
    Invalid,
    TooManyRequests))]
async fn login(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    jar: CookieJar,
    Json(body): Json<LoginRequest>,
) -> Result<(CookieJar, axum::Json<Me>)> {
    same_origin(&headers)?;
    // Bounded before anything keeps or hashes it (the limiter keys on it).
    if body.username.len() > MAX_USERNAME_BYTES {
        return Err(Error::Validation(vec![FieldError::new(
            "username",
            "length",
            format!("at most {MAX_USERNAME_BYTES} bytes"),
        )]));
    }
    state
        .auth
        .sign_in_attempt(&body.username, address.as_deref())?;
    let found = users::credentials(&state.db, &body.username).await?;
    let (user_id, hash) = match found {
        Some(found) => (Some(found.id), found.password_hash),
        None => (None, None),
    };
    let valid = verify(body.password, hash.clone()).await;
    let user_id = match (user_id, valid && hash.is_some()) {
        (Some(id), true) => id,
        (known, _) => {
            if let Some(id) = known {
                let actor = audit::Actor {
                    id: Some(id),
                    name: body.username.clone(),
                    via: AuditVia::Password,
                };
                audit::record(
                    &state.db,
                    audit::Entry {
                        tenant: None,
                        actor: &actor,
                        action: AuditAction::SignInFailed,
                        target: None,
                        detail: address.map(|a| serde_json::json!({ "address": a })),
                    },
                )
                .await;
            }
            return Err(Error::Unauthorized("wrong username or password".into()));
        }
    };
    let (jar, me) = open_session(&state, &headers, jar, &user_id, SignInMethod::Password).await?;
    Ok((jar, axum::Json(me)))
}

/// Ends the session and clears its cookies. A live session must send its
/// CSRF token like any other change.
#[utoipa::path(post, path = "/auth/logout", tag = "auth", responses(
    (status = 204, description = "Signed out"),
    (status = 403, description = "The CSRF token is missing or wrong", body = Problem, content_type = "application/problem+json")))]
async fn logout(
    State(state): State<AppState>,
    caller: std::result::Result<Caller, Error>,
    jar: CookieJar,
) -> Result<(StatusCode, CookieJar)> {
    match caller {
        Ok(caller) => {
            if let Via::Session { token_hash } = &caller.via {
                sessions::delete(&state.db, token_hash).await?;
                audit::record(
                    &state.db,
                    audit::Entry {
                        tenant: None,
                        actor: &audit::Actor::from(&caller),
                        action: AuditAction::SignOut,
                        target: None,
                        detail: None,
                    },
                )
                .await;
            }
        }
        Err(Error::Unauthorized(_)) => {}
        Err(e) => return Err(e),
    }
    Ok((
        StatusCode::NO_CONTENT,
        jar.remove(Cookie::build(SESSION_COOKIE).path("/"))
            .remove(Cookie::build(CSRF_COOKIE).path("/")),
    ))
}

/// How users can sign in here: the sign-in page asks before it draws.
#[utoipa::path(get, path = "/auth/methods", tag = "auth", responses((status = 200, body = AuthMethods)))]
async fn methods(State(state): State<AppState>) -> axum::Json<AuthMethods> {
    axum::Json(AuthMethods {
        password: true,
        sso: state.auth.settings.oidc.as_ref().map(|o| o.label.clone()),
    })
}

/// The signed-in user and their tenants.
#[utoipa::path(get, path = "/me", tag = "auth", responses((status = 200, body = Me), Unauthorized))]
async fn me(State(state): State<AppState>, caller: Caller) -> Result<axum::Json<Me>> {
    Ok(axum::Json(me_of(&state, &caller).await?))
}

/// Changes your own password: the current one is required, and every other
/// session of yours ends (this one stays). Attempts count against the
/// sign-in limits.
#[utoipa::path(put, path = "/me/password", tag = "auth", request_body = PasswordChange, responses(
    (status = 204, description = "Changed; your other sessions have ended"),
    Unauthorized,
    (status = 403, description = "Called with an API token, or without the CSRF token", body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "The current password is wrong (`current_password`), or the new one is not allowed (`new_password`)", body = Problem, content_type = "application/problem+json"),
    TooManyRequests))]
async fn change_password(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    caller: Caller,
    Json(body): Json<PasswordChange>,
) -> Result<StatusCode> {
    let Via::Session { token_hash } = &caller.via else {
        return Err(Error::Forbidden(
            "API tokens cannot change a password; sign in as the user".into(),
        ));
    };
    let mut errors = Vec::new();
    check_password("new_password", &body.new_password, &mut errors);
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    state
        .auth
        .sign_in_attempt(&caller.username, address.as_deref())?;
    let hash = users::credentials(&state.db, &caller.username)
        .await?
        .and_then(|c| c.password_hash);
    let Some(hash) = hash else {
        return Err(Error::Validation(vec![FieldError::new(
            "current_password",
            "none",
            "you sign in through single sign-on and have no password here",
        )]));
    };
    if !verify(body.current_password, Some(hash)).await {
        return Err(Error::Validation(vec![FieldError::new(
            "current_password",
            "wrong",
            "this is not your current password",
        )]));
    }
    let hash = hash_password(body.new_password).await?;
    users::set_password(&state.db, &caller.user_id, &hash).await?;
    sessions::end_all(&state.db, &caller.user_id, Some(token_hash)).await?;
    audit::record(
        &state.db,
        audit::Entry {
            tenant: None,
            actor: &audit::Actor::from(&caller),
            action: AuditAction::PasswordChange,
            target: None,
            detail: None,
        },
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}

/// The user and the tenants they work in: their memberships by slug, then
/// for platform admins (who administer every tenant) every other tenant.
pub async fn me_of(state: &AppState, caller: &Caller) -> Result<Me> {
    let mut joined = memberships::of_user(&state.db, &caller.user_id).await?;
    if caller.platform_admin {
        for t in tenants::list(&state.db).await? {
            if !joined.iter().any(|m| m.slug == t.slug) {
                joined.push(TenantMembership {
                    slug: t.slug,
                    name: t.name,
                    role: app::types::Role::TenantAdmin,
                });
            }
        }
    }
    Ok(Me {
        username: caller.username.clone(),
        platform_admin: caller.platform_admin,
        tenants: joined,
    })
}
