//! Single sign-on against a provider that rotates its signing keys: a
//! small OpenID Connect provider on loopback (discovery, JWKS, token
//! endpoint; RS256 ID tokens), the real router signing users in through it.

use crate::common::{Backend, Session, TestApp};
use axum::body::Body;
use axum::extract::State;
use axum::http::{Request, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use rsa::pkcs8::DecodePrivateKey;
use rsa::signature::{SignatureEncoding, Signer};
use rsa::traits::PublicKeyParts;
use rsa::RsaPrivateKey;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const KEY_A: &str = include_str!("oidc/key-a.pem");
const KEY_B: &str = include_str!("oidc/key-b.pem");

/// What the provider does now: which key signs, which keys it publishes,
/// and the nonce of the sign-in under way.
struct Keys {
    signing: &'static str,
    published: Vec<&'static str>,
    nonce: String,
}

struct Provider {
    issuer: String,
    keys: Mutex<Keys>,
    discoveries: AtomicUsize,
    jwks_reads: AtomicUsize,
}

impl Provider {
    async fn start() -> Arc<Provider> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let provider = Arc::new(Provider {
            issuer: format!("http://{}", listener.local_addr().unwrap()),
            keys: Mutex::new(Keys {
                signing: "a",
                published: vec!["a"],
                nonce: String::new(),
            }),
            discoveries: AtomicUsize::new(0),
            jwks_reads: AtomicUsize::new(0),
        });
        let router = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .route("/token", post(token))
            .with_state(provider.clone());
        tokio::spawn(async move { axum::serve(listener, router).await });
        provider
    }

    /// Signs with `signing` and publishes only `published` from now on.
    fn rotate(&self, signing: &'static str, published: &[&'static str]) {
        let mut keys = self.keys.lock().unwrap();
        keys.signing = signing;
        keys.published = published.to_vec();
    }

    fn jwks_reads(&self) -> usize {
        self.jwks_reads.load(Ordering::SeqCst)
    }
}

fn key(kid: &str) -> RsaPrivateKey {
    RsaPrivateKey::from_pkcs8_pem(if kid == "a" { KEY_A } else { KEY_B }).unwrap()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

async fn discovery(State(p): State<Arc<Provider>>) -> Json<Value> {
    p.discoveries.fetch_add(1, Ordering::SeqCst);
    let issuer = &p.issuer;
    Json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "jwks_uri": format!("{issuer}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
    }))
}

async fn jwks(State(p): State<Arc<Provider>>) -> Json<Value> {
    p.jwks_reads.fetch_add(1, Ordering::SeqCst);
    let published = p.keys.lock().unwrap().published.clone();
    let keys: Vec<Value> = published
        .into_iter()
        .map(|kid| {
            let key = key(kid);
            json!({
                "kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
                "n": b64(&key.n().to_bytes_be()),
                "e": b64(&key.e().to_bytes_be()),
            })
        })
        .collect();
    Json(json!({ "keys": keys }))
}

async fn token(State(p): State<Arc<Provider>>) -> Json<Value> {
    let (kid, nonce) = {
        let keys = p.keys.lock().unwrap();
        (keys.signing, keys.nonce.clone())
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let header = json!({ "alg": "RS256", "typ": "JWT", "kid": kid });
    let claims = json!({
        "iss": p.issuer, "sub": "carol-1", "aud": "trellis",
        "iat": now, "exp": now + 300, "nonce": nonce,
        "preferred_username": "carol",
    });
    let signed = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let signer = rsa::pkcs1v15::SigningKey::<rsa::sha2::Sha256>::new(key(kid));
    let signature = signer.sign(signed.as_bytes()).to_bytes();
    Json(json!({
        "access_token": "access", "token_type": "Bearer", "expires_in": 300,
        "id_token": format!("{signed}.{}", b64(&signature)),
    }))
}

/// Trellis configured for `provider`, reading it again every `refresh`.
async fn trellis(provider: &Provider, refresh: Duration) -> TestApp {
    let issuer = provider.issuer.clone();
    TestApp::start(Backend::Sqlite).await.with_auth(|auth| {
        auth.oidc = Some(server::config::OidcSettings {
            issuer,
            client_id: "trellis".into(),
            client_secret: Some(server::config::Secret::new("secret")),
            roles_claim: None,
            default_tenant: Some("demo".into()),
            default_role: app::types::Role::Viewer,
            username_claim: "preferred_username".into(),
            label: "Sign in with Example SSO".into(),
            refresh,
        })
    })
}

/// Goes through single sign-on as the browser would; answers where the
/// callback sends the browser, and the session when one was opened.
async fn sign_in(app: &TestApp, provider: &Provider) -> (String, Option<Session>) {
    let login = app.get("/api/v1/auth/oidc/login").await;
    assert_eq!(login.status, StatusCode::SEE_OTHER, "{}", login.text());
    let to_provider = login.header("location").to_owned();
    let param = |name: &str| {
        to_provider
            .split(['?', '&'])
            .find_map(|p| p.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("{name} in {to_provider}"))
            .to_owned()
    };
    provider.keys.lock().unwrap().nonce = param("nonce");
    let flow = login
        .header("set-cookie")
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let request = Request::get(format!(
        "/api/v1/auth/oidc/callback?code=the-code&state={}",
        param("state")
    ))
    .header("cookie", flow)
    .body(Body::empty())
    .unwrap();
    let back = app.send(request).await;
    assert_eq!(back.status, StatusCode::SEE_OTHER, "{}", back.text());
    let cookies: Vec<String> = back
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .filter(|c| !c.starts_with("trellis_oidc="))
        .collect();
    let session = cookies
        .iter()
        .find_map(|c| c.strip_prefix("trellis_csrf="))
        .map(|csrf| Session {
            cookie: cookies.join("; "),
            csrf: csrf.to_owned(),
        });
    (back.header("location").to_owned(), session)
}

async fn signed_in_as(app: &TestApp, session: &Session) -> String {
    let me = app.get_as(session, "/api/v1/me").await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.text());
    me.json()["username"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn a_rotated_signing_key_is_read_again_at_the_next_sign_in() {
    let provider = Provider::start().await;
    let app = trellis(&provider, Duration::from_secs(3600)).await;

    let (next, session) = sign_in(&app, &provider).await;
    assert_eq!(next, "/");
    assert_eq!(
        signed_in_as(&app, &session.expect("a session")).await,
        "carol"
    );
    assert_eq!(provider.jwks_reads(), 1);

    // The provider rotates: new tokens are signed with a key Trellis has
    // not seen. The failed signature makes it read the keys again.
    provider.rotate("b", &["b"]);
    let (next, session) = sign_in(&app, &provider).await;
    assert_eq!(next, "/", "signed in after the rotation");
    assert_eq!(
        signed_in_as(&app, &session.expect("a session")).await,
        "carol"
    );
    assert_eq!(provider.jwks_reads(), 2);

    // A token signed with a key the provider no longer publishes is refused,
    // and so soon after the last forced read the keys are not read again.
    provider.rotate("a", &["b"]);
    let (next, session) = sign_in(&app, &provider).await;
    assert!(
        next.starts_with("/login?error=") && next.contains("ID%20token%20is%20not%20valid"),
        "{next}"
    );
    assert!(
        session.is_none(),
        "no session for a token that does not verify"
    );
    assert_eq!(provider.jwks_reads(), 2, "at most one forced read per 30 s");
}

#[tokio::test]
async fn the_provider_is_read_again_on_a_timer_until_shutdown() {
    let provider = Provider::start().await;
    let app = trellis(&provider, Duration::from_secs(1)).await;
    let shutdown = tokio_util::sync::CancellationToken::new();
    app.state
        .auth
        .oidc
        .clone()
        .expect("single sign-on is configured")
        .spawn_refresh(shutdown.clone());

    // Without a single sign-in, the keys are read every second.
    let started = std::time::Instant::now();
    while provider.jwks_reads() < 2 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "read {} times in 10 s",
            provider.jwks_reads()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A rotation is picked up by the timer: once it has read the new key,
    // signing in needs no forced read.
    provider.rotate("b", &["b"]);
    let seen = provider.jwks_reads();
    while provider.jwks_reads() == seen {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (next, _) = sign_in(&app, &provider).await;
    assert_eq!(next, "/");

    shutdown.cancel();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let stopped = provider.jwks_reads();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(provider.jwks_reads(), stopped, "no reads after shutdown");
}
