//! Accounts and what protects them: API tokens, CSRF, sign-in limits,
//! session expiry, tenant and member administration, and the audit log.

use crate::common::{Backend, TestApp};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::json;

on_both_backends!(
    api_tokens_act_for_one_tenant_with_their_role,
    revoked_expired_and_orphaned_tokens_stop_working,
    a_signed_in_browser_must_send_its_csrf_token,
    sessions_end_when_idle_or_expired,
    platform_admins_manage_tenants_and_users,
    tenant_admins_manage_members,
    the_audit_log_records_who_did_what,
);

const DEMO: &str = "/api/v1/tenants/demo";

fn noop_graph() -> serde_json::Value {
    json!({"nodes": [{"id": "a", "component": "noop"}], "edges": []})
}

async fn api_tokens_act_for_one_tenant_with_their_role(backend: Backend) {
    let app = TestApp::start(backend).await;
    let editor = app.member("demo", "eddie", "editor").await;
    let above = app
        .as_user(
            &editor,
            Method::POST,
            &format!("{DEMO}/tokens"),
            Some(json!({"name": "too much", "role": "tenant_admin"})),
        )
        .await;
    assert_eq!(above.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(above.json()["errors"][0]["field"], "role");
    assert_eq!(above.json()["errors"][0]["code"], "above_own_role");

    let created = app
        .as_user(
            &editor,
            Method::POST,
            &format!("{DEMO}/tokens"),
            Some(json!({"name": "nightly job", "role": "editor", "expires_in_days": 30})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    let body = created.json();
    let secret = body["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("trl_") && secret.len() > 40, "{secret}");
    assert_eq!(body["role"], "editor");
    assert_eq!(body["tenant"], "demo");
    assert!(body["expires_at"].is_string());
    assert_eq!(body["prefix"].as_str().unwrap(), &secret[..10]);

    // The listing never shows the secret again.
    let listed = app.get_as(&editor, &format!("{DEMO}/tokens")).await;
    assert!(!listed.text().contains(&secret));
    assert_eq!(listed.json()[0]["name"], "nightly job");
    assert!(listed.json()[0]["last_used_at"].is_null());

    // The token composes, publishes and runs — recorded as an `api` run.
    let process = app
        .as_token(
            &secret,
            Method::POST,
            &format!("{DEMO}/processes"),
            Some(json!({"name": "by token", "graph": noop_graph()})),
        )
        .await;
    assert_eq!(process.status, StatusCode::CREATED, "{}", process.text());
    let id = process.json()["id"].as_str().unwrap().to_owned();
    let published = app
        .as_token(
            &secret,
            Method::POST,
            &format!("{DEMO}/processes/{id}/versions"),
            Some(json!({"message": "v1"})),
        )
        .await;
    assert_eq!(published.status, StatusCode::CREATED);
    let run = app
        .as_token(
            &secret,
            Method::POST,
            &format!("{DEMO}/processes/{id}/runs"),
            Some(json!({})),
        )
        .await;
    assert_eq!(run.status, StatusCode::CREATED);
    assert_eq!(run.json()["trigger"], "api");

    let used = app.get_as(&editor, &format!("{DEMO}/tokens")).await.json();
    assert!(used[0]["last_used_at"].is_string(), "{used}");

    // Only in its tenant; never platform administration; never more tokens.
    app.member("other", "olga", "tenant_admin").await;
    let elsewhere = app
        .as_token(
            &secret,
            Method::GET,
            "/api/v1/tenants/other/processes",
            None,
        )
        .await;
    assert_eq!(elsewhere.status, StatusCode::NOT_FOUND);
    let more = app
        .as_token(
            &secret,
            Method::POST,
            &format!("{DEMO}/tokens"),
            Some(json!({"name": "child", "role": "viewer"})),
        )
        .await;
    assert_eq!(more.status, StatusCode::FORBIDDEN);
    assert_eq!(
        app.as_token(&secret, Method::GET, "/api/v1/admin/users", None)
            .await
            .status,
        StatusCode::FORBIDDEN
    );

    // A viewer token of an editor may only read.
    let viewer_token = app
        .as_user(
            &editor,
            Method::POST,
            &format!("{DEMO}/tokens"),
            Some(json!({"name": "dashboard", "role": "viewer"})),
        )
        .await
        .json()["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        app.as_token(
            &viewer_token,
            Method::GET,
            &format!("{DEMO}/processes"),
            None
        )
        .await
        .status,
        StatusCode::OK
    );
    let refused = app
        .as_token(
            &viewer_token,
            Method::POST,
            &format!("{DEMO}/processes/{id}/runs"),
            Some(json!({})),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused.json()["detail"]
        .as_str()
        .unwrap()
        .contains("editor"));

    let malformed = app
        .send(
            Request::get(format!("{DEMO}/processes"))
                .header("authorization", "Basic abc")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(malformed.status, StatusCode::UNAUTHORIZED);
    assert!(malformed.json()["detail"]
        .as_str()
        .unwrap()
        .contains("Bearer"));
}

async fn revoked_expired_and_orphaned_tokens_stop_working(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let editor = app.member("demo", "eddie", "editor").await;
    let make = |name: &'static str| {
        let (app, editor) = (&app, editor.clone());
        async move {
            let body = app
                .as_user(
                    &editor,
                    Method::POST,
                    &format!("{DEMO}/tokens"),
                    Some(json!({"name": name, "role": "editor"})),
                )
                .await
                .json();
            (
                body["id"].as_str().unwrap().to_owned(),
                body["secret"].as_str().unwrap().to_owned(),
            )
        }
    };
    let list = format!("{DEMO}/processes");
    let (revoked_id, revoked) = make("revoked").await;
    let (expired_id, expired) = make("expired").await;
    let (_, orphaned) = make("orphaned").await;
    for secret in [&revoked, &expired, &orphaned] {
        assert_eq!(
            app.as_token(secret, Method::GET, &list, None).await.status,
            StatusCode::OK
        );
    }

    let gone = app
        .as_user(
            &editor,
            Method::DELETE,
            &format!("{DEMO}/tokens/{revoked_id}"),
            None,
        )
        .await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT);
    let after = app.as_token(&revoked, Method::GET, &list, None).await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);
    assert_eq!(after.header("content-type"), "application/problem+json");
    let listed = app.get_as(&editor, &format!("{DEMO}/tokens")).await.json();
    let shown = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == revoked_id.as_str())
        .unwrap();
    assert!(shown["revoked_at"].is_string());

    sqlx::query("UPDATE api_tokens SET expires_at = '2020-01-01T00:00:00.000Z' WHERE id = $1")
        .bind(&expired_id)
        .execute(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(
        app.as_token(&expired, Method::GET, &list, None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );

    // Removed from the tenant: the token is no key to it any more.
    let removed = app
        .as_user(
            &admin,
            Method::DELETE,
            &format!("{DEMO}/members/eddie"),
            None,
        )
        .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.as_token(&orphaned, Method::GET, &list, None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    // Demoted: the token's role is capped by the member's.
    app.as_user(
        &admin,
        Method::PUT,
        &format!("{DEMO}/members/eddie"),
        Some(json!({"role": "viewer"})),
    )
    .await;
    assert_eq!(
        app.as_token(&orphaned, Method::GET, &list, None)
            .await
            .status,
        StatusCode::OK
    );
    let create = app
        .as_token(
            &orphaned,
            Method::POST,
            &list,
            Some(json!({"name": "x", "graph": noop_graph()})),
        )
        .await;
    assert_eq!(create.status, StatusCode::FORBIDDEN);
}

async fn a_signed_in_browser_must_send_its_csrf_token(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let body = json!({"name": "forged", "graph": noop_graph()}).to_string();
    for header in [None, Some("wrong")] {
        let mut request = Request::post(format!("{DEMO}/processes"))
            .header("cookie", &admin.cookie)
            .header("content-type", "application/json");
        if let Some(value) = header {
            request = request.header("x-csrf-token", value);
        }
        let reply = app
            .send(request.body(Body::from(body.clone())).unwrap())
            .await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{header:?}");
        assert!(reply.json()["detail"]
            .as_str()
            .unwrap()
            .contains("X-CSRF-Token"));
    }
    let listed = app.get_as(&admin, &format!("{DEMO}/processes")).await;
    assert!(!listed.text().contains("forged"), "nothing was created");

    // Reads need no token; sign-out does.
    let read = app
        .send(
            Request::get(format!("{DEMO}/processes"))
                .header("cookie", &admin.cookie)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(read.status, StatusCode::OK);
    let logout = app
        .send(
            Request::post("/api/v1/auth/logout")
                .header("cookie", &admin.cookie)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(logout.status, StatusCode::FORBIDDEN);
    assert_eq!(
        app.get_as(&admin, "/api/v1/me").await.status,
        StatusCode::OK,
        "still signed in"
    );

    // A sign-in form posted from another site is refused.
    let cross = app
        .send(
            Request::post("/api/v1/auth/login")
                .header("content-type", "application/json")
                .header("host", "trellis.example")
                .header("origin", "https://evil.example")
                .body(Body::from(
                    json!({"username": "admin", "password": "admin-password"}).to_string(),
                ))
                .unwrap(),
        )
        .await;
    assert_eq!(cross.status, StatusCode::FORBIDDEN);
    assert!(cross.header("set-cookie").is_empty());

    // Behind an https proxy the cookies are Secure.
    let secure = app
        .send(
            Request::post("/api/v1/auth/login")
                .header("content-type", "application/json")
                .header("x-forwarded-proto", "https")
                .body(Body::from(
                    json!({"username": "admin", "password": "admin-password"}).to_string(),
                ))
                .unwrap(),
        )
        .await;
    let cookies: Vec<&str> = secure
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(cookies.len(), 2, "{cookies:?}");
    assert!(cookies.iter().all(|c| c.contains("Secure")), "{cookies:?}");
    let named = |name: &str| *cookies.iter().find(|c| c.starts_with(name)).unwrap();
    assert!(named("trellis_session=").contains("HttpOnly"));
    assert!(
        !named("trellis_csrf=").contains("HttpOnly"),
        "the page reads it"
    );
}

async fn sessions_end_when_idle_or_expired(backend: Backend) {
    let app = TestApp::start(backend).await;
    let idle = app.admin().await;
    let expired = app.admin().await;
    let fresh = app.admin().await;
    let hash = |s: &crate::common::Session| {
        let token = s
            .cookie
            .split("; ")
            .find_map(|c| c.strip_prefix("trellis_session="))
            .unwrap();
        server::access::hash_token(token)
    };
    sqlx::query(
        "UPDATE sessions SET last_seen_at = '2020-01-01T00:00:00.000Z' WHERE token_hash = $1",
    )
    .bind(hash(&idle))
    .execute(&app.db.pool)
    .await
    .unwrap();
    sqlx::query(
        "UPDATE sessions SET expires_at = '2020-01-01T00:00:00.000Z' WHERE token_hash = $1",
    )
    .bind(hash(&expired))
    .execute(&app.db.pool)
    .await
    .unwrap();
    for (name, session) in [("idle", &idle), ("expired", &expired)] {
        let reply = app.get_as(session, "/api/v1/me").await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{name}");
        assert_eq!(
            reply.json()["detail"],
            "the session has ended; sign in again"
        );
    }
    assert_eq!(
        app.get_as(&fresh, "/api/v1/me").await.status,
        StatusCode::OK
    );
}

async fn platform_admins_manage_tenants_and_users(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let bad = app
        .as_user(
            &admin,
            Method::POST,
            "/api/v1/admin/tenants",
            Some(json!({"slug": "Not OK", "name": "", "max_concurrent_tasks": 0})),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let problem = bad.json();
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["slug", "name", "max_concurrent_tasks"]);

    let created = app
        .as_user(
            &admin,
            Method::POST,
            "/api/v1/admin/tenants",
            Some(json!({"slug": "acme", "name": "Acme Corp", "max_concurrent_tasks": 4})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    assert_eq!(created.json()["max_concurrent_tasks"], 4);
    assert_eq!(created.json()["members"], 0);
    let again = app
        .as_user(
            &admin,
            Method::POST,
            "/api/v1/admin/tenants",
            Some(json!({"slug": "acme", "name": "Other"})),
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(again.json()["errors"][0]["field"], "slug");

    let changed = app
        .as_user(
            &admin,
            Method::PATCH,
            "/api/v1/admin/tenants/acme",
            Some(json!({"max_concurrent_tasks": null})),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK);
    assert_eq!(
        changed.json()["max_concurrent_tasks"],
        serde_json::Value::Null
    );
    assert_eq!(changed.json()["name"], "Acme Corp");
    assert_eq!(
        app.as_user(
            &admin,
            Method::PATCH,
            "/api/v1/admin/tenants/nope",
            Some(json!({}))
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );

    let short = app
        .as_user(
            &admin,
            Method::POST,
            "/api/v1/admin/users",
            Some(json!({"username": "ann", "password": "short"})),
        )
        .await;
    assert_eq!(short.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(short.json()["errors"][0]["field"], "password");
    let user = app
        .as_user(
            &admin,
            Method::POST,
            "/api/v1/admin/users",
            Some(json!({"username": "ann", "password": "a long enough password"})),
        )
        .await;
    assert_eq!(user.status, StatusCode::CREATED, "{}", user.text());
    assert_eq!(user.json()["has_password"], true);
    assert!(
        !user.text().contains("long enough"),
        "the password is not echoed"
    );
    let taken = app
        .as_user(
            &admin,
            Method::POST,
            "/api/v1/admin/users",
            Some(json!({"username": "ann"})),
        )
        .await;
    assert_eq!(taken.status, StatusCode::CONFLICT);
    assert_eq!(taken.json()["errors"][0]["field"], "username");

    // Ann joins acme as its admin and sees exactly that tenant.
    let joined = app
        .as_user(
            &admin,
            Method::PUT,
            "/api/v1/tenants/acme/members/ann",
            Some(json!({"role": "tenant_admin"})),
        )
        .await;
    assert_eq!(joined.status, StatusCode::CREATED, "{}", joined.text());
    let ann = app.login("ann", "a long enough password").await;
    let me = app.get_as(&ann, "/api/v1/me").await.json();
    assert_eq!(
        me["tenants"],
        json!([{"slug": "acme", "name": "Acme Corp", "role": "tenant_admin"}])
    );
    assert_eq!(
        app.get_as(&ann, &format!("{DEMO}/processes")).await.status,
        StatusCode::NOT_FOUND
    );
    // The platform admin works in every tenant, member or not (own first).
    let mine = app.get_as(&admin, "/api/v1/me").await.json();
    assert_eq!(
        mine["tenants"],
        json!([
            {"slug": "demo", "name": "Demo", "role": "tenant_admin"},
            {"slug": "acme", "name": "Acme Corp", "role": "tenant_admin"}
        ])
    );
    let tenants = app.get_as(&admin, "/api/v1/admin/tenants").await.json();
    let slugs: Vec<&str> = tenants
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["slug"].as_str().unwrap())
        .collect();
    assert_eq!(slugs, ["acme", "demo"]);
}

async fn tenant_admins_manage_members(backend: Backend) {
    let app = TestApp::start(backend).await;
    let tina = app.member("acme", "tina", "tenant_admin").await;
    app.member("other", "olga", "viewer").await;
    let acme = "/api/v1/tenants/acme";

    let ghost = app
        .as_user(
            &tina,
            Method::PUT,
            &format!("{acme}/members/ghost"),
            Some(json!({"role": "viewer"})),
        )
        .await;
    assert_eq!(ghost.status, StatusCode::NOT_FOUND);
    let bad_role = app
        .as_user(
            &tina,
            Method::PUT,
            &format!("{acme}/members/olga"),
            Some(json!({"role": "owner"})),
        )
        .await;
    assert_eq!(bad_role.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad_role.json()["errors"][0]["field"], "role");

    let added = app
        .as_user(
            &tina,
            Method::PUT,
            &format!("{acme}/members/olga"),
            Some(json!({"role": "editor"})),
        )
        .await;
    assert_eq!(added.status, StatusCode::CREATED);
    let changed = app
        .as_user(
            &tina,
            Method::PUT,
            &format!("{acme}/members/olga"),
            Some(json!({"role": "viewer"})),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK);
    assert_eq!(changed.json()["role"], "viewer");
    let members = app.get_as(&tina, &format!("{acme}/members")).await.json();
    let names: Vec<(&str, &str)> = members
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["username"].as_str().unwrap(), m["role"].as_str().unwrap()))
        .collect();
    assert_eq!(names, [("olga", "viewer"), ("tina", "tenant_admin")]);

    // The last tenant admin stays.
    let demote = app
        .as_user(
            &tina,
            Method::PUT,
            &format!("{acme}/members/tina"),
            Some(json!({"role": "editor"})),
        )
        .await;
    assert_eq!(demote.status, StatusCode::CONFLICT);
    assert_eq!(demote.json()["errors"][0]["field"], "role");
    let leave = app
        .as_user(&tina, Method::DELETE, &format!("{acme}/members/tina"), None)
        .await;
    assert_eq!(leave.status, StatusCode::CONFLICT);

    let removed = app
        .as_user(&tina, Method::DELETE, &format!("{acme}/members/olga"), None)
        .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT);
    let twice = app
        .as_user(&tina, Method::DELETE, &format!("{acme}/members/olga"), None)
        .await;
    assert_eq!(twice.status, StatusCode::NOT_FOUND);
}

async fn the_audit_log_records_who_did_what(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let editor = app.member("demo", "eddie", "editor").await;
    let rival = app.member("rival", "rick", "tenant_admin").await;
    let wrong = app
        .call(
            Method::POST,
            "/api/v1/auth/login",
            json!({"username": "eddie", "password": "nope"}).to_string(),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);

    let process = app
        .as_user(&editor, Method::POST, &format!("{DEMO}/processes"),
            Some(json!({"name": "audited", "graph": {"nodes": [{"id": "a", "component": "sleep", "params": {"seconds": 30}}], "edges": []}})))
        .await
        .json();
    let id = process["id"].as_str().unwrap();
    app.as_user(
        &editor,
        Method::POST,
        &format!("{DEMO}/processes/{id}/versions"),
        Some(json!({"message": "first"})),
    )
    .await;
    let run = app
        .as_user(
            &editor,
            Method::POST,
            &format!("{DEMO}/processes/{id}/runs"),
            Some(json!({})),
        )
        .await
        .json();
    let run_id = run["id"].as_str().unwrap();
    let stopped = app
        .as_user(
            &editor,
            Method::POST,
            &format!("{DEMO}/runs/{run_id}/stop?mode=force"),
            None,
        )
        .await;
    assert_eq!(stopped.status, StatusCode::ACCEPTED, "{}", stopped.text());
    app.as_user(
        &admin,
        Method::PUT,
        &format!("{DEMO}/members/eddie"),
        Some(json!({"role": "viewer"})),
    )
    .await;
    let token = app
        .as_user(
            &editor,
            Method::POST,
            &format!("{DEMO}/tokens"),
            Some(json!({"name": "t", "role": "viewer"})),
        )
        .await
        .json();
    let token_id = token["id"].as_str().unwrap();
    app.as_user(
        &editor,
        Method::DELETE,
        &format!("{DEMO}/tokens/{token_id}"),
        None,
    )
    .await;
    app.as_user(
        &rival,
        Method::POST,
        "/api/v1/tenants/rival/processes",
        Some(json!({"name": "rival secret", "graph": noop_graph()})),
    )
    .await;

    let log = app.get_as(&admin, &format!("{DEMO}/audit")).await;
    assert_eq!(log.status, StatusCode::OK);
    let entries = log.json();
    let seen: Vec<(String, String)> = entries
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .map(|e| {
            (
                e["actor"].as_str().unwrap().to_owned(),
                e["action"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected = [
        ("admin", "sign_in"),
        ("eddie", "sign_in"),
        ("eddie", "sign_in.failed"),
        ("eddie", "process.create"),
        ("eddie", "publish"),
        ("eddie", "run.start"),
        ("eddie", "run.stop"),
        ("admin", "member.set"),
        ("eddie", "token.create"),
        ("eddie", "token.revoke"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(seen, expected, "{entries}");
    assert!(!log.text().contains("rival secret") && !log.text().contains("rick"));
    let stop = entries
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "run.stop")
        .unwrap();
    assert_eq!(stop["target"], run_id);
    assert_eq!(stop["detail"]["mode"], "force");
    assert_eq!(stop["via"], "session");

    let by_eddie = app
        .get_as(&admin, &format!("{DEMO}/audit?user=eddie&action=publish"))
        .await
        .json();
    assert_eq!(by_eddie.as_array().unwrap().len(), 1);
    assert_eq!(by_eddie[0]["detail"]["version"], 1);
    // Paging: the entries before the newest one.
    let newest = entries[0]["id"].as_str().unwrap();
    let older = app
        .get_as(&admin, &format!("{DEMO}/audit?before={newest}&limit=2"))
        .await
        .json();
    assert_eq!(older.as_array().unwrap().len(), 2);
    assert_eq!(older[0]["id"], entries[1]["id"]);
    let bad = app.get_as(&admin, &format!("{DEMO}/audit?limit=0")).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.json()["errors"][0]["field"], "limit");
    let unknown = app
        .get_as(&admin, &format!("{DEMO}/audit?action=launch"))
        .await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(unknown.json()["errors"][0]["field"], "action");
    // The form's "any action" is an empty value: no filter.
    let any = app.get_as(&admin, &format!("{DEMO}/audit?action=")).await;
    assert_eq!(any.status, StatusCode::OK);
    assert_eq!(
        any.json().as_array().unwrap().len(),
        entries.as_array().unwrap().len()
    );
}
