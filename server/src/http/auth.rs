//! Sign-in, sign-out and "who am I": a server-side session behind an
//! `HttpOnly`, `SameSite=Lax` cookie.

use super::json::Json;
use crate::auth::{hash_token, new_token, Caller, SESSION_COOKIE};
use crate::db::users;
use crate::state::AppState;
use crate::{Error, Result};
use app::api::auth::{LoginRequest, Me, TenantMembership};
use app::api::Problem;
use argon2::{password_hash::PasswordHash, Argon2, PasswordVerifier};
use axum::extract::State;
use axum::http::StatusCode;
use axum_extra::extract::cookie::{Cookie, SameSite};
use axum_extra::extract::CookieJar;
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(me))
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

/// Signs in with a password; answers the user and sets the session cookie.
#[utoipa::path(post, path = "/auth/login", tag = "auth", request_body = LoginRequest, responses(
    (status = 200, description = "Signed in", body = Me),
    (status = 401, description = "Wrong username or password", body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "Invalid request; every problem is listed", body = Problem, content_type = "application/problem+json")))]
async fn login(
    State(state): State<AppState>,
    jar: CookieJar,
    Json(body): Json<LoginRequest>,
) -> Result<(CookieJar, axum::Json<Me>)> {
    let found = users::credentials(&state.db, &body.username).await?;
    let (user_id, hash) = match found {
        Some((id, hash)) => (Some(id), hash),
        None => (None, None),
    };
    let valid = verify(body.password, hash.clone()).await;
    let user_id = match (user_id, valid && hash.is_some()) {
        (Some(id), true) => id,
        _ => return Err(Error::Unauthorized("wrong username or password".into())),
    };
    let (token, token_hash) = new_token();
    users::create_session(&state.db, &token_hash, &user_id).await?;
    let cookie = Cookie::build((SESSION_COOKIE, token))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .build();
    let caller = users::session_caller(&state.db, &token_hash)
        .await?
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("a new session was not found")))?;
    Ok((jar.add(cookie), axum::Json(me_of(&state, &caller).await?)))
}

/// Ends the session and clears its cookie.
#[utoipa::path(post, path = "/auth/logout", tag = "auth", responses((status = 204, description = "Signed out")))]
async fn logout(State(state): State<AppState>, jar: CookieJar) -> Result<(StatusCode, CookieJar)> {
    if let Some(cookie) = jar.get(SESSION_COOKIE) {
        users::delete_session(&state.db, &hash_token(cookie.value())).await?;
    }
    Ok((
        StatusCode::NO_CONTENT,
        jar.remove(Cookie::build(SESSION_COOKIE).path("/")),
    ))
}

/// The signed-in user and their tenants.
#[utoipa::path(get, path = "/me", tag = "auth", responses((status = 200, body = Me), (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json")))]
async fn me(State(state): State<AppState>, caller: Caller) -> Result<axum::Json<Me>> {
    Ok(axum::Json(me_of(&state, &caller).await?))
}

async fn me_of(state: &AppState, caller: &Caller) -> Result<Me> {
    let tenants = users::memberships(&state.db, &caller.user_id)
        .await?
        .into_iter()
        .filter_map(|(slug, name, role)| {
            Some(TenantMembership {
                slug,
                name,
                role: role.parse().ok()?,
            })
        })
        .collect();
    Ok(Me {
        username: caller.username.clone(),
        platform_admin: caller.platform_admin,
        tenants,
    })
}
