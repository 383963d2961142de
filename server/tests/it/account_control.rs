//! Taking access away: platform admins disable users and reset passwords,
//! users change their own; what API tokens may not do with members and
//! tokens; and the last tenant admin stays even when two admins demote each
//! other at the same moment.

use crate::common::{Backend, Session, TestApp};
use axum::http::{Method, StatusCode};
use serde_json::json;

on_both_backends!(
    a_disabled_user_is_shut_out_at_once,
    a_password_reset_ends_the_users_sessions,
    users_change_their_own_password,
    api_tokens_cannot_change_members,
    a_tenants_token_lists_only_that_tenants_tokens,
    two_admins_demoting_each_other_leave_one_tenant_admin,
    single_sign_on_never_removes_a_tenants_last_admin,
);

async fn single_sign_on_never_removes_a_tenants_last_admin(backend: Backend) {
    use app::types::Role;
    let app = TestApp::start(backend).await;
    let (_, owner) = server::db::bootstrap::demo_owner(&app.db)
        .await
        .unwrap()
        .unwrap();
    let role = |app: &TestApp| {
        let (db, owner) = (app.db.clone(), owner.clone());
        async move {
            server::db::memberships::tenant_role(&db, "demo", &owner)
                .await
                .unwrap()
                .and_then(|(_, role)| role)
        }
    };
    assert_eq!(role(&app).await, Some(Role::TenantAdmin));
    // The provider's roles claim no longer names the demo tenant at all.
    server::db::memberships::replace(&app.db, &owner, &[])
        .await
        .unwrap();
    assert_eq!(
        role(&app).await,
        Some(Role::TenantAdmin),
        "the last admin stays"
    );
    // With another admin, the claim is followed.
    let admin = app.admin().await;
    let other = app
        .as_user(
            &admin,
            Method::POST,
            "/api/v1/admin/users",
            Some(json!({"username": "ida", "password": "ida-password-1"})),
        )
        .await;
    assert_eq!(other.status, StatusCode::CREATED, "{}", other.text());
    let set = app
        .as_user(
            &admin,
            Method::PUT,
            &format!("{DEMO}/members/ida"),
            Some(json!({"role": "tenant_admin"})),
        )
        .await;
    assert!(set.status.is_success(), "{}", set.text());
    server::db::memberships::replace(&app.db, &owner, &[("demo".into(), Role::Editor)])
        .await
        .unwrap();
    assert_eq!(role(&app).await, Some(Role::Editor));
}

const DEMO: &str = "/api/v1/tenants/demo";

async fn token(app: &TestApp, s: &Session, tenant: &str, role: &str) -> String {
    let reply = app
        .as_user(
            s,
            Method::POST,
            &format!("/api/v1/tenants/{tenant}/tokens"),
            Some(json!({"name": "automation", "role": role})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    reply.json()["secret"].as_str().unwrap().to_owned()
}

async fn change_user(
    app: &TestApp,
    admin: &Session,
    username: &str,
    body: serde_json::Value,
) -> crate::common::Reply {
    app.as_user(
        admin,
        Method::PATCH,
        &format!("/api/v1/admin/users/{username}"),
        Some(body),
    )
    .await
}

async fn sign_in(app: &TestApp, username: &str, password: &str) -> crate::common::Reply {
    app.call(
        Method::POST,
        "/api/v1/auth/login",
        json!({"username": username, "password": password}).to_string(),
    )
    .await
}

async fn a_disabled_user_is_shut_out_at_once(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let eddie = app.member("demo", "eddie", "editor").await;
    let secret = token(&app, &eddie, "demo", "editor").await;
    let processes = format!("{DEMO}/processes");
    assert_eq!(
        app.as_token(&secret, Method::GET, &processes, None)
            .await
            .status,
        StatusCode::OK
    );

    let disabled = change_user(&app, &admin, "eddie", json!({"disabled": true})).await;
    assert_eq!(disabled.status, StatusCode::OK, "{}", disabled.text());
    assert!(disabled.json()["disabled_at"].is_string());

    // The open session and the token stop at once.
    let me = app.get_as(&eddie, "/api/v1/me").await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED);
    let by_token = app.as_token(&secret, Method::GET, &processes, None).await;
    assert_eq!(by_token.status, StatusCode::UNAUTHORIZED);
    // Signing in again is refused with the reason — only to whoever knows
    // the password.
    let again = sign_in(&app, "eddie", "pw").await;
    assert_eq!(again.status, StatusCode::FORBIDDEN, "{}", again.text());
    assert!(
        again.json()["detail"]
            .as_str()
            .unwrap()
            .contains("disabled"),
        "{}",
        again.text()
    );
    assert!(
        again.header("set-cookie").is_empty(),
        "no session is opened"
    );
    let guess = sign_in(&app, "eddie", "wrong").await;
    assert_eq!(guess.status, StatusCode::UNAUTHORIZED);
    let listed = app.get_as(&admin, "/api/v1/admin/users").await.json();
    let row = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "eddie")
        .unwrap()
        .clone();
    assert!(row["disabled_at"].is_string(), "{row}");

    // What cannot be done.
    let own = change_user(&app, &admin, "admin", json!({"disabled": true})).await;
    assert_eq!(own.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(own.json()["errors"][0]["field"], "disabled");
    let ghost = change_user(&app, &admin, "ghost", json!({"disabled": true})).await;
    assert_eq!(ghost.status, StatusCode::NOT_FOUND);
    let tina = app.member("demo", "tina", "tenant_admin").await;
    let not_platform = change_user(&app, &tina, "eddie", json!({"disabled": false})).await;
    assert_eq!(not_platform.status, StatusCode::FORBIDDEN);

    // Enabled again: eddie signs in; the old session stays ended.
    let enabled = change_user(&app, &admin, "eddie", json!({"disabled": false})).await;
    assert_eq!(enabled.status, StatusCode::OK);
    assert!(enabled.json()["disabled_at"].is_null());
    assert_eq!(
        app.get_as(&eddie, "/api/v1/me").await.status,
        StatusCode::UNAUTHORIZED
    );
    let back = app.login("eddie", "pw").await;
    assert_eq!(app.get_as(&back, "/api/v1/me").await.status, StatusCode::OK);

    // Platform actions stay out of the tenant's log.
    let log = app.get_as(&admin, &format!("{DEMO}/audit")).await;
    assert_eq!(log.status, StatusCode::OK);
    for action in ["user.disable", "user.enable"] {
        assert!(
            !log.text().contains(action),
            "{action} is in no tenant's log: {}",
            log.text()
        );
    }
}

async fn a_password_reset_ends_the_users_sessions(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let eddie = app.member("demo", "eddie", "editor").await;
    let short = change_user(&app, &admin, "eddie", json!({"password": "short"})).await;
    assert_eq!(short.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(short.json()["errors"][0]["field"], "password");
    assert_eq!(
        app.get_as(&eddie, "/api/v1/me").await.status,
        StatusCode::OK,
        "a refused reset changes nothing"
    );

    let reset = change_user(
        &app,
        &admin,
        "eddie",
        json!({"password": "a brand new password"}),
    )
    .await;
    assert_eq!(reset.status, StatusCode::OK, "{}", reset.text());
    assert!(
        !reset.text().contains("brand new"),
        "the password is not echoed"
    );
    assert_eq!(reset.json()["has_password"], true);
    assert_eq!(
        app.get_as(&eddie, "/api/v1/me").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        sign_in(&app, "eddie", "pw").await.status,
        StatusCode::UNAUTHORIZED
    );
    let fresh = app.login("eddie", "a brand new password").await;
    assert_eq!(
        app.get_as(&fresh, "/api/v1/me").await.status,
        StatusCode::OK
    );
    // The admin was not signed out by resetting someone else.
    assert_eq!(
        app.get_as(&admin, "/api/v1/me").await.status,
        StatusCode::OK
    );
}

async fn users_change_their_own_password(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let here = app.member("demo", "eddie", "editor").await;
    let elsewhere = app.login("eddie", "pw").await;
    let secret = token(&app, &here, "demo", "editor").await;
    let change = |s: &Session, current: &str, new: &str| {
        let body = json!({"current_password": current, "new_password": new});
        let (app, s) = (&app, s.clone());
        async move {
            app.as_user(&s, Method::PUT, "/api/v1/me/password", Some(body))
                .await
        }
    };

    let wrong = change(&here, "not it", "a brand new password").await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(wrong.json()["errors"][0]["field"], "current_password");
    let short = change(&here, "pw", "short").await;
    assert_eq!(short.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(short.json()["errors"][0]["field"], "new_password");
    let by_token = app
        .as_token(
            &secret,
            Method::PUT,
            "/api/v1/me/password",
            Some(json!({"current_password": "pw", "new_password": "a brand new password"})),
        )
        .await;
    assert_eq!(by_token.status, StatusCode::FORBIDDEN);
    assert_eq!(
        app.get_as(&elsewhere, "/api/v1/me").await.status,
        StatusCode::OK,
        "refused changes end nothing"
    );

    let changed = change(&here, "pw", "a brand new password").await;
    assert_eq!(changed.status, StatusCode::NO_CONTENT, "{}", changed.text());
    assert_eq!(
        app.get_as(&here, "/api/v1/me").await.status,
        StatusCode::OK,
        "this session stays"
    );
    assert_eq!(
        app.get_as(&elsewhere, "/api/v1/me").await.status,
        StatusCode::UNAUTHORIZED,
        "the other session ended"
    );
    assert_eq!(
        sign_in(&app, "eddie", "pw").await.status,
        StatusCode::UNAUTHORIZED
    );
    app.login("eddie", "a brand new password").await;

    // The tenant's admins see it in the log.
    let log = app
        .get_as(&admin, &format!("{DEMO}/audit?action=password.change"))
        .await;
    assert_eq!(log.status, StatusCode::OK, "{}", log.text());
    let entries = log.json();
    let actors: Vec<&str> = entries
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["actor"].as_str().unwrap())
        .collect();
    assert_eq!(actors, ["eddie"]);
}

async fn api_tokens_cannot_change_members(backend: Backend) {
    let app = TestApp::start(backend).await;
    let tina = app.member("demo", "tina", "tenant_admin").await;
    app.member("demo", "vera", "viewer").await;
    let secret = token(&app, &tina, "demo", "tenant_admin").await;
    // The token can read the members: it is a tenant admin's.
    let members = app
        .as_token(&secret, Method::GET, &format!("{DEMO}/members"), None)
        .await;
    assert_eq!(members.status, StatusCode::OK);

    for (method, body) in [
        (Method::PUT, Some(json!({"role": "tenant_admin"}))),
        (Method::DELETE, None),
    ] {
        let reply = app
            .as_token(
                &secret,
                method.clone(),
                &format!("{DEMO}/members/vera"),
                body,
            )
            .await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{method}");
        assert_eq!(
            reply.json()["detail"],
            "API tokens cannot change members; sign in as the user"
        );
    }
    let after = app.get_as(&tina, &format!("{DEMO}/members")).await.json();
    let vera = after
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["username"] == "vera")
        .unwrap()
        .clone();
    assert_eq!(vera["role"], "viewer", "nothing changed");
}

async fn a_tenants_token_lists_only_that_tenants_tokens(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let eddie = app.member("demo", "eddie", "editor").await;
    app.member("acme", "ann", "tenant_admin").await;
    let joined = app
        .as_user(
            &admin,
            Method::PUT,
            "/api/v1/tenants/acme/members/eddie",
            Some(json!({"role": "editor"})),
        )
        .await;
    assert_eq!(joined.status, StatusCode::CREATED, "{}", joined.text());
    let demo_token = token(&app, &eddie, "demo", "viewer").await;
    token(&app, &eddie, "acme", "viewer").await;

    let tenants_of = |reply: crate::common::Reply| {
        let mut seen: Vec<String> = reply
            .json()
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["tenant"].as_str().unwrap().to_owned())
            .collect();
        seen.sort();
        seen
    };
    let by_session = app.get_as(&eddie, "/api/v1/me/tokens").await;
    assert_eq!(tenants_of(by_session), ["acme", "demo"]);
    let by_token = app
        .as_token(&demo_token, Method::GET, "/api/v1/me/tokens", None)
        .await;
    assert_eq!(by_token.status, StatusCode::OK);
    assert_eq!(tenants_of(by_token), ["demo"]);
}

async fn two_admins_demoting_each_other_leave_one_tenant_admin(backend: Backend) {
    let app = TestApp::start(backend).await;
    // The platform admin demotes both at once: unlike either of the two,
    // it keeps its access whatever happens first, so each request reaches
    // the membership change.
    let admin = app.admin().await;
    app.member("acme", "tina", "tenant_admin").await;
    app.member("acme", "tom", "tenant_admin").await;
    let acme = "/api/v1/tenants/acme";
    let admins = || async {
        app.get_as(&admin, &format!("{acme}/members"))
            .await
            .json()
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["role"] == "tenant_admin")
            .map(|m| m["username"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    let set = |who: &str, role: &str| {
        let (app, admin, path) = (&app, &admin, format!("{acme}/members/{who}"));
        let body = json!({ "role": role });
        async move { app.as_user(admin, Method::PUT, &path, Some(body)).await }
    };
    let remove = |who: &str| {
        let (app, admin, path) = (&app, &admin, format!("{acme}/members/{who}"));
        async move { app.as_user(admin, Method::DELETE, &path, None).await }
    };

    for round in 0..5 {
        let (a, b) = tokio::join!(set("tina", "editor"), set("tom", "viewer"));
        let mut statuses = [a.status, b.status];
        statuses.sort();
        assert_eq!(
            statuses,
            [StatusCode::OK, StatusCode::CONFLICT],
            "round {round}: {} / {}",
            a.text(),
            b.text()
        );
        let refused = if a.status == StatusCode::CONFLICT {
            &a
        } else {
            &b
        };
        assert_eq!(refused.json()["errors"][0]["field"], "role");
        let left = admins().await;
        assert_eq!(left.len(), 1, "round {round}: {left:?}");
        for who in ["tina", "tom"] {
            let back = set(who, "tenant_admin").await;
            assert_eq!(back.status, StatusCode::OK, "{}", back.text());
        }
    }

    let (a, b) = tokio::join!(remove("tina"), remove("tom"));
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::NO_CONTENT, StatusCode::CONFLICT],
        "{} / {}",
        a.text(),
        b.text()
    );
    assert_eq!(admins().await.len(), 1);
}
