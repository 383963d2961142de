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
}
