//! Sign-in with a password, the session cookie, sign-out and "who am I".

use crate::common::{Backend, TestApp};
use axum::http::{Method, StatusCode};
use serde_json::json;

on_both_backends!(
    signing_in_sets_a_safe_session_cookie,
    wrong_credentials_are_401_without_saying_which,
    me_needs_a_session,
    signing_out_ends_the_session,
    login_bodies_are_checked,
);

async fn signing_in_sets_a_safe_session_cookie(backend: Backend) {
    let app = TestApp::start(backend).await;
    let reply = app
        .call(
            Method::POST,
            "/api/v1/auth/login",
            json!({"username": "admin", "password": "admin-password"}).to_string(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let cookie = reply
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|c| c.starts_with("trellis_session="))
        .expect("a session cookie");
    assert!(!cookie.contains("Secure"), "plain http: {cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(cookie.contains("Path=/"), "{cookie}");
    let me = reply.json();
    assert_eq!(me["username"], "admin");
    assert_eq!(me["platform_admin"], true);
    assert_eq!(
        me["tenants"],
        json!([{"slug": "demo", "name": "Demo", "role": "tenant_admin"}])
    );
}

async fn wrong_credentials_are_401_without_saying_which(backend: Backend) {
    let app = TestApp::start(backend).await;
    let wrong_password = app
        .call(
            Method::POST,
            "/api/v1/auth/login",
            json!({"username": "admin", "password": "nope"}).to_string(),
        )
        .await;
    let no_user = app
        .call(
            Method::POST,
            "/api/v1/auth/login",
            json!({"username": "ghost", "password": "nope"}).to_string(),
        )
        .await;
    for reply in [&wrong_password, &no_user] {
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert_eq!(reply.header("content-type"), "application/problem+json");
        assert_eq!(reply.json()["detail"], "wrong username or password");
        assert!(reply.header("set-cookie").is_empty());
    }
}

async fn me_needs_a_session(backend: Backend) {
    let app = TestApp::start(backend).await;
    let anonymous = app.get("/api/v1/me").await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert_eq!(anonymous.json()["status"], 401);

    let forged = crate::common::Session {
        cookie: "trellis_session=forged".into(),
        csrf: "forged".into(),
    };
    assert_eq!(
        app.get_as(&forged, "/api/v1/me").await.status,
        StatusCode::UNAUTHORIZED
    );

    let editor = app.member("acme", "erin", "editor").await;
    let me = app.get_as(&editor, "/api/v1/me").await.json();
    assert_eq!(me["username"], "erin");
    assert_eq!(me["platform_admin"], false);
    assert_eq!(
        me["tenants"],
        json!([{"slug": "acme", "name": "acme", "role": "editor"}])
    );
}

async fn signing_out_ends_the_session(backend: Backend) {
    let app = TestApp::start(backend).await;
    let session = app.admin().await;
    assert_eq!(
        app.get_as(&session, "/api/v1/me").await.status,
        StatusCode::OK
    );
    let out = app
        .as_user(&session, Method::POST, "/api/v1/auth/logout", None)
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    assert!(
        out.headers
            .get_all("set-cookie")
            .iter()
            .any(|c| c.to_str().unwrap().starts_with("trellis_session=")),
        "the cookie is cleared"
    );
    assert_eq!(
        app.get_as(&session, "/api/v1/me").await.status,
        StatusCode::UNAUTHORIZED,
        "the old cookie no longer works"
    );
}

async fn login_bodies_are_checked(backend: Backend) {
    let app = TestApp::start(backend).await;
    let missing = app
        .call(
            Method::POST,
            "/api/v1/auth/login",
            json!({"username": "admin"}).to_string(),
        )
        .await;
    assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(missing.json()["errors"][0]["field"], "password");
    assert_eq!(missing.json()["errors"][0]["code"], "required");

    let wrong_type = app
        .call(
            Method::POST,
            "/api/v1/auth/login",
            json!({"username": 5, "password": "x"}).to_string(),
        )
        .await;
    assert_eq!(wrong_type.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(wrong_type.json()["errors"][0]["field"], "username");

    // A huge username is refused before it is looked up, hashed or counted.
    let huge = app
        .call(
            Method::POST,
            "/api/v1/auth/login",
            json!({"username": "a".repeat(1_000), "password": "x"}).to_string(),
        )
        .await;
    assert_eq!(huge.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(huge.json()["errors"][0]["field"], "username");
    assert_eq!(huge.json()["errors"][0]["code"], "length");

    let broken = app
        .call(Method::POST, "/api/v1/auth/login", "{\"username\":")
        .await;
    assert_eq!(broken.status, StatusCode::BAD_REQUEST);
    assert_eq!(broken.header("content-type"), "application/problem+json");

    let request = axum::http::Request::post("/api/v1/auth/login")
        .header("content-type", "text/plain")
        .body(axum::body::Body::from("admin:admin-password"))
        .unwrap();
    assert_eq!(
        app.send(request).await.status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
}

mod limits {
    use super::*;

    /// Guessing passwords is slowed down: after the allowed attempts a
    /// username answers 429 with when to try again; other users can still sign in.
    #[tokio::test]
    async fn sign_in_attempts_are_limited_per_username() {
        let app = TestApp::start(Backend::Sqlite).await;
        let attempt = |password: &'static str| {
            let app = &app;
            async move {
                app.call(
                    Method::POST,
                    "/api/v1/auth/login",
                    json!({"username": "admin", "password": password}).to_string(),
                )
                .await
            }
        };
        for _ in 0..10 {
            assert_eq!(attempt("guess").await.status, StatusCode::UNAUTHORIZED);
        }
        let limited = attempt("admin-password").await;
        assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(limited.header("content-type"), "application/problem+json");
        let wait: u64 = limited.header("retry-after").parse().unwrap();
        assert!((1..=60).contains(&wait), "{wait}");
        assert!(limited.json()["detail"]
            .as_str()
            .unwrap()
            .starts_with("too many sign-in attempts for `admin`"));
        app.member("demo", "erin", "editor").await;
    }

    /// A sign-in attempt for `username` from the socket address `peer`,
    /// forwarding `forwarded` as `X-Forwarded-For`.
    async fn attempt_from(
        app: &TestApp,
        peer: &str,
        forwarded: Option<&str>,
        username: &str,
    ) -> crate::common::Reply {
        let body = json!({"username": username, "password": "guess"}).to_string();
        let mut request = axum::http::Request::post("/api/v1/auth/login")
            .header("content-type", "application/json")
            .header("content-length", body.len());
        if let Some(forwarded) = forwarded {
            request = request.header("x-forwarded-for", forwarded);
        }
        let mut request = request.body(axum::body::Body::from(body)).unwrap();
        let peer: std::net::SocketAddr = peer.parse().unwrap();
        request
            .extensions_mut()
            .insert(axum::extract::ConnectInfo(peer));
        app.send(request).await
    }

    /// Made-up usernames cannot grow the limiter's table without bound, nor
    /// push a username under attack out of it.
    #[tokio::test]
    async fn many_distinct_usernames_do_not_grow_the_limits_past_their_bound() {
        let app = TestApp::start(Backend::Sqlite)
            .await
            .with_auth(|auth| auth.login_tracked_keys = 20);
        for _ in 0..10 {
            let reply = app
                .call(
                    Method::POST,
                    "/api/v1/auth/login",
                    json!({"username": "admin", "password": "guess"}).to_string(),
                )
                .await;
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        }
        for i in 0..200 {
            let reply = app
                .call(
                    Method::POST,
                    "/api/v1/auth/login",
                    json!({"username": format!("made-up-{i}"), "password": "guess"}).to_string(),
                )
                .await;
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.text());
            let (usernames, _) = app.state.auth.tracked_sign_in_keys();
            assert!(usernames <= 20, "{usernames} usernames tracked");
        }
        let still = app
            .call(
                Method::POST,
                "/api/v1/auth/login",
                json!({"username": "admin", "password": "admin-password"}).to_string(),
            )
            .await;
        assert_eq!(
            still.status,
            StatusCode::TOO_MANY_REQUESTS,
            "{}",
            still.text()
        );
    }

    /// Anyone can write `X-Forwarded-For`: from a peer that is not a
    /// trusted proxy it is ignored and the socket's address is limited.
    #[tokio::test]
    async fn forwarded_addresses_from_untrusted_peers_are_ignored() {
        let app = TestApp::start(Backend::Sqlite)
            .await
            .with_auth(|auth| auth.login_attempts_per_minute = 2);
        // Two per username, ten per address: ten distinct users pass.
        for i in 0..10 {
            let forwarded = format!("203.0.113.{i}");
            let reply = attempt_from(
                &app,
                "198.51.100.1:4000",
                Some(&forwarded),
                &format!("u{i}"),
            )
            .await;
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.text());
        }
        let limited = attempt_from(&app, "198.51.100.1:4001", Some("203.0.113.77"), "u77").await;
        assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
        let detail = limited.json()["detail"].as_str().unwrap().to_owned();
        assert!(
            detail.starts_with("too many sign-in attempts from this address"),
            "{detail}"
        );
        // Another socket address is not limited.
        let other = attempt_from(&app, "198.51.100.2:4000", None, "u78").await;
        assert_eq!(other.status, StatusCode::UNAUTHORIZED);
    }

    /// Behind a trusted proxy each forwarded client is limited apart, by
    /// the right-most address the proxy did not add itself.
    #[tokio::test]
    async fn forwarded_addresses_from_trusted_proxies_are_used() {
        let app = TestApp::start(Backend::Sqlite).await.with_auth(|auth| {
            auth.login_attempts_per_minute = 2;
            auth.trusted_proxies = vec![server::client_ip::parse_proxy("198.51.100.0/24").unwrap()];
        });
        for i in 0..20 {
            // What the client wrote itself (left) proves nothing.
            let forwarded = format!("10.9.9.9, 203.0.113.{i}");
            let reply = attempt_from(
                &app,
                "198.51.100.1:4000",
                Some(&forwarded),
                &format!("u{i}"),
            )
            .await;
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.text());
        }
        for i in 0..10 {
            let forwarded = format!("10.{i}.0.1, 203.0.113.200");
            let reply = attempt_from(
                &app,
                "198.51.100.9:4000",
                Some(&forwarded),
                &format!("v{i}"),
            )
            .await;
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.text());
        }
        let limited = attempt_from(&app, "198.51.100.1:4000", Some("203.0.113.200"), "v99").await;
        assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
        let detail = limited.json()["detail"].as_str().unwrap().to_owned();
        assert!(
            detail.starts_with("too many sign-in attempts from this address"),
            "{detail}"
        );
        let (_, addresses) = app.state.auth.tracked_sign_in_keys();
        assert_eq!(addresses, 21, "one per forwarded client, none per proxy");
    }
}
