//! Single sign-on with OpenID Connect: the authorization code flow with
//! PKCE, through the `openidconnect` crate. The browser goes to
//! `/api/v1/auth/oidc/login`, signs in at the provider, and comes back to
//! `/api/v1/auth/oidc/callback`, which verifies the ID token, finds or
//! creates the user, maps their memberships, and opens a session.

use super::admin::check_username;
use super::session::open_session;
use crate::config::OidcSettings;
use crate::db::{memberships, tenants, users};
use crate::oidc_provider::http_client;
use crate::state::AppState;
use crate::{Error, Result};
use app::api::access::SignInMethod;
use app::api::Problem;
use app::types::Role;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::{Cookie, SameSite};
use axum_extra::extract::CookieJar;
use base64::Engine;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken, Nonce,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
};
use serde::{Deserialize, Serialize};
use utoipa_axum::{router::OpenApiRouter, routes};

const FLOW_COOKIE: &str = "trellis_oidc";
const CALLBACK: &str = "/api/v1/auth/oidc/callback";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(callback))
}

/// What the browser carries between leaving for the provider and coming back.
#[derive(Serialize, Deserialize)]
struct Flow {
    state: String,
    nonce: String,
    verifier: String,
    next: String,
}

fn settings(state: &AppState) -> Result<&OidcSettings> {
    state
        .auth
        .settings
        .oidc
        .as_ref()
        .ok_or_else(|| Error::NotFound("single sign-on (it is not configured)".into()))
}

/// The provider's metadata and keys, as last read.
fn provider(state: &AppState) -> Result<&crate::oidc_provider::Provider> {
    state
        .auth
        .oidc
        .as_deref()
        .ok_or_else(|| Error::NotFound("single sign-on (it is not configured)".into()))
}

type Client = CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

fn client(state: &AppState, oidc: &OidcSettings, metadata: CoreProviderMetadata) -> Result<Client> {
    let redirect = RedirectUrl::new(format!("{}{CALLBACK}", state.auth.settings.public_url))
        .map_err(|e| Error::Internal(anyhow::anyhow!("the callback URL is invalid: {e}")))?;
    Ok(CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(oidc.client_id.clone()),
        oidc.client_secret
            .as_ref()
            .map(|s| ClientSecret::new(s.expose().to_owned())),
    )
    .set_redirect_uri(redirect))
}

/// Only a path on this site: never an open redirect elsewhere. Browsers
/// drop tabs and newlines and read `\\` as `/`, so `/\t/evil.com` and
/// `/\\evil.com` would both leave the site: any such character refuses it.
fn local_path(next: Option<&str>) -> String {
    let on_this_site = |p: &str| {
        p.starts_with('/')
            && !p.starts_with("//")
            && !p
                .chars()
                .any(|c| c == '\\' || c.is_control() || c.is_whitespace())
    };
    match next {
        Some(p) if on_this_site(p) => p.to_owned(),
        _ => "/".to_owned(),
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
struct LoginQuery {
    /// Where to go after signing in (a path on this site).
    next: Option<String>,
}

/// Starts single sign-on: redirects the browser to the provider.
#[utoipa::path(get, path = "/auth/oidc/login", tag = "auth", params(LoginQuery), responses(
    (status = 303, description = "To the provider's sign-in page"),
    (status = 404, description = "Single sign-on is not configured", body = Problem, content_type = "application/problem+json"),
    (status = 503, description = "The provider does not answer", body = Problem, content_type = "application/problem+json")))]
async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
    Query(q): Query<LoginQuery>,
) -> Result<(CookieJar, Redirect)> {
    let oidc = settings(&state)?;
    let client = client(&state, oidc, provider(&state)?.metadata().await?)?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("email".into()))
        .set_pkce_challenge(challenge)
        .url();
    let flow = Flow {
        state: csrf.secret().clone(),
        nonce: nonce.secret().clone(),
        verifier: verifier.secret().clone(),
        next: local_path(q.next.as_deref()),
    };
    let value = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(serde_json::to_vec(&flow).map_err(|e| Error::Internal(e.into()))?);
    let cookie = Cookie::build((FLOW_COOKIE, value))
        .path("/api/v1/auth/oidc")
        .http_only(true)
        .secure(state.auth.secure(&headers))
        .same_site(SameSite::Lax)
        .build();
    Ok((jar.add(cookie), Redirect::to(url.as_str())))
}

#[derive(Deserialize, utoipa::IntoParams)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// Where the provider sends the browser back. Signs the user in and goes on
/// to the page they wanted; a failure goes to the sign-in page, which says why.
#[utoipa::path(get, path = "/auth/oidc/callback", tag = "auth", params(CallbackQuery), responses(
    (status = 303, description = "Signed in (to the page asked for), or back to the sign-in page with the reason")))]
async fn callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    jar: CookieJar,
    Query(q): Query<CallbackQuery>,
) -> Response {
    let flow = jar.get(FLOW_COOKIE).and_then(|c| {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(c.value())
            .ok()?;
        serde_json::from_slice::<Flow>(&bytes).ok()
    });
    let jar = jar.remove(Cookie::build(FLOW_COOKIE).path("/api/v1/auth/oidc"));
    match finish(&state, &headers, jar.clone(), flow, q).await {
        Ok((jar, next)) => (jar, Redirect::to(&next)).into_response(),
        Err(e) => {
            tracing::info!(error = %e, "single sign-on failed");
            let reason: String = url_encode(&e.to_string());
            (jar, Redirect::to(&format!("/login?error={reason}"))).into_response()
        }
    }
}

fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn finish(
    state: &AppState,
    headers: &HeaderMap,
    jar: CookieJar,
    flow: Option<Flow>,
    q: CallbackQuery,
) -> Result<(CookieJar, String)> {
    let oidc = settings(state)?;
    if let Some(error) = q.error {
        let detail = q.error_description.unwrap_or_default();
        return Err(Error::Unauthorized(format!(
            "the sign-on provider refused: {error} {detail}"
        )));
    }
    let flow = flow.ok_or_else(|| {
        Error::Unauthorized("the sign-on took too long or was started elsewhere; try again".into())
    })?;
    let (Some(code), Some(returned_state)) = (q.code, q.state) else {
        return Err(Error::BadRequest("the provider sent no code".into()));
    };
    if returned_state != flow.state {
        return Err(Error::Unauthorized(
            "the sign-on answer does not belong to this browser; try again".into(),
        ));
    }
    let provider = provider(state)?;
    let first = client(state, oidc, provider.metadata().await?)?;
    let tokens = first
        .exchange_code(AuthorizationCode::new(code))
        .map_err(|e| Error::Unavailable(format!("the provider has no token endpoint: {e}")))?
        .set_pkce_verifier(PkceCodeVerifier::new(flow.verifier))
        .request_async(&http_client()?)
        .await
        .map_err(|e| Error::Unauthorized(format!("the provider did not accept the code: {e}")))?;
    let id_token = openidconnect::TokenResponse::id_token(&tokens)
        .ok_or_else(|| Error::Unauthorized("the provider sent no ID token".into()))?;
    let nonce = Nonce::new(flow.nonce);
    let invalid =
        |e: ClaimsVerificationError| Error::Unauthorized(format!("the ID token is not valid: {e}"));
    let subject = match id_token.claims(&first.id_token_verifier(), &nonce) {
        Ok(claims) => claims.subject().as_str().to_owned(),
        // Signed with a key Trellis has not read yet: the provider may have
        // rotated its keys. Read them again (rate-limited) and retry once.
        Err(ClaimsVerificationError::SignatureVerification(e)) => {
            let Some(metadata) = provider.refresh_after_signature_failure().await? else {
                return Err(invalid(ClaimsVerificationError::SignatureVerification(e)));
            };
            let refreshed = client(state, oidc, metadata)?;
            let verifier = refreshed.id_token_verifier();
            let claims = id_token.claims(&verifier, &nonce).map_err(invalid)?;
            claims.subject().as_str().to_owned()
        }
        Err(e) => return Err(invalid(e)),
    };
    let subject = format!("{} {subject}", oidc.issuer);
    // The signature and nonce are verified above; read the claims Trellis
    // maps (which may be custom) from the token's payload.
    let payload = id_token
        .to_string()
        .split('.')
        .nth(1)
        .and_then(|p| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(p)
                .ok()
        })
        .and_then(|p| serde_json::from_slice::<serde_json::Value>(&p).ok())
        .unwrap_or_default();
    let user_id = find_or_create(state, oidc, &subject, &payload).await?;
    let (jar, _) = open_session(state, headers, jar, &user_id, SignInMethod::Oidc).await?;
    Ok((jar, flow.next))
}

/// The user linked to `subject`, created on first sign-in; memberships
/// follow the roles claim, or new users join the default tenant.
async fn find_or_create(
    state: &AppState,
    oidc: &OidcSettings,
    subject: &str,
    claims: &serde_json::Value,
) -> Result<app::types::UserId> {
    let db = &state.db;
    let existing = users::by_oidc_subject(db, subject).await?;
    let (user, new) = match existing {
        Some(user) => (user, false),
        None => {
            let username = claims[&oidc.username_claim]
                .as_str()
                .or_else(|| claims["sub"].as_str())
                .unwrap_or_default()
                .to_owned();
            let mut errors = Vec::new();
            check_username(&username, &mut errors);
            if !errors.is_empty() {
                return Err(Error::Unauthorized(format!(
                    "the provider's `{}` claim (`{username}`) is not a valid username",
                    oidc.username_claim
                )));
            }
            let user = users::create(db, &username, None, false, Some(subject))
                .await
                .map_err(|e| match e {
                    sqlx::Error::Database(d) if d.is_unique_violation() => Error::Unauthorized(format!(
                        "a user `{username}` already exists and is not linked to this sign-on identity; \
                         ask a platform admin"
                    )),
                    e => e.into(),
                })?;
            (user, true)
        }
    };
    if let Some(claim) = &oidc.roles_claim {
        let wanted: Vec<(String, Role)> = claims[claim]
            .as_array()
            .map(|entries| {
                entries
                    .iter()
                    .filter_map(|e| {
                        let (slug, role) = e.as_str()?.split_once(':')?;
                        Some((slug.to_owned(), role.parse().ok()?))
                    })
                    .collect()
            })
            .unwrap_or_default();
        memberships::replace(db, &user, &wanted).await?;
    } else if new {
        if let Some(slug) = &oidc.default_tenant {
            if let Some((tenant, _)) = tenants::by_slug(db, slug).await? {
                // A new user is no one's last admin: never refused.
                let _joined = memberships::set(db, &tenant, &user, oidc.default_role).await?;
            }
        }
    }
    Ok(user)
}

#[cfg(test)]
mod tests {
    use super::local_path;

    #[test]
    fn only_paths_on_this_site_are_followed_after_sign_in() {
        assert_eq!(local_path(Some("/runs/abc?node=x")), "/runs/abc?node=x");
        for elsewhere in [
            "https://evil.com/",
            "//evil.com",
            "/\\evil.com",
            "/\t/evil.com",
            "/\n/evil.com",
            "/ /evil.com",
            "evil.com",
            "",
        ] {
            assert_eq!(local_path(Some(elsewhere)), "/", "{elsewhere:?}");
        }
        assert_eq!(local_path(None), "/");
    }
}
