//! Isolation you can prove: every route of the API, called by everyone who
//! may not call it, is refused with the right status and leaks nothing; ids
//! of another tenant's objects are refused under one's own tenant.

use crate::common::{Backend, Session, TestApp};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;

on_both_backends!(
    every_route_refuses_whoever_may_not_call_it,
    ids_of_another_tenants_objects_are_refused,
);

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Needs {
    Anyone,
    SignedIn,
    Viewer,
    Editor,
    TenantAdmin,
    PlatformAdmin,
}

/// Every route and who may call it. A route the router serves but this table
/// does not name fails the test, so a new route cannot skip these checks.
fn required() -> BTreeMap<&'static str, Needs> {
    use Needs::*;
    BTreeMap::from([
        ("GET /healthz", Anyone),
        ("GET /readyz", Anyone),
        ("POST /api/v1/auth/login", Anyone),
        ("GET /api/v1/auth/methods", Anyone),
        ("GET /api/v1/auth/oidc/login", Anyone),
        ("GET /api/v1/auth/oidc/callback", Anyone),
        // Signing out without a session has nothing to end: 204 all the same.
        ("POST /api/v1/auth/logout", Anyone),
        ("GET /api/v1/me", SignedIn),
        ("GET /api/v1/me/tokens", SignedIn),
        ("PUT /api/v1/me/password", SignedIn),
        ("GET /api/v1/admin/tenants", PlatformAdmin),
        ("POST /api/v1/admin/tenants", PlatformAdmin),
        ("PATCH /api/v1/admin/tenants/{slug}", PlatformAdmin),
        ("GET /api/v1/admin/users", PlatformAdmin),
        ("POST /api/v1/admin/users", PlatformAdmin),
        ("PATCH /api/v1/admin/users/{username}", PlatformAdmin),
        ("POST /api/v1/admin/components", PlatformAdmin),
        ("PUT /api/v1/admin/components/{key}", PlatformAdmin),
        ("GET /api/v1/tenants/{tenant}/audit", TenantAdmin),
        ("GET /api/v1/tenants/{tenant}/members", TenantAdmin),
        (
            "PUT /api/v1/tenants/{tenant}/members/{username}",
            TenantAdmin,
        ),
        (
            "DELETE /api/v1/tenants/{tenant}/members/{username}",
            TenantAdmin,
        ),
        ("GET /api/v1/tenants/{tenant}/tokens", Viewer),
        ("POST /api/v1/tenants/{tenant}/tokens", Viewer),
        ("DELETE /api/v1/tenants/{tenant}/tokens/{id}", Viewer),
        ("GET /api/v1/tenants/{tenant}/connections", Viewer),
        ("POST /api/v1/tenants/{tenant}/connections", TenantAdmin),
        (
            "GET /api/v1/tenants/{tenant}/connections/external-id",
            TenantAdmin,
        ),
        (
            "GET /api/v1/tenants/{tenant}/connections/{connection}",
            Viewer,
        ),
        (
            "PUT /api/v1/tenants/{tenant}/connections/{connection}",
            TenantAdmin,
        ),
        (
            "DELETE /api/v1/tenants/{tenant}/connections/{connection}",
            TenantAdmin,
        ),
        (
            "POST /api/v1/tenants/{tenant}/connections/{connection}/test",
            TenantAdmin,
        ),
        ("GET /api/v1/tenants/{tenant}/alerts/channels", TenantAdmin),
        ("POST /api/v1/tenants/{tenant}/alerts/channels", TenantAdmin),
        (
            "DELETE /api/v1/tenants/{tenant}/alerts/channels/{channel}",
            TenantAdmin,
        ),
        (
            "POST /api/v1/tenants/{tenant}/alerts/channels/{channel}/test",
            TenantAdmin,
        ),
        ("GET /api/v1/tenants/{tenant}/alerts/rules", TenantAdmin),
        ("POST /api/v1/tenants/{tenant}/alerts/rules", TenantAdmin),
        (
            "DELETE /api/v1/tenants/{tenant}/alerts/rules/{rule}",
            TenantAdmin,
        ),
        (
            "GET /api/v1/tenants/{tenant}/alerts/deliveries",
            TenantAdmin,
        ),
        (
            "GET /api/v1/tenants/{tenant}/alerts/signing-secret",
            TenantAdmin,
        ),
        (
            "POST /api/v1/tenants/{tenant}/alerts/signing-secret",
            TenantAdmin,
        ),
        ("GET /api/v1/tenants/{tenant}/components", Viewer),
        ("GET /api/v1/tenants/{tenant}/datasets", Viewer),
        ("GET /api/v1/tenants/{tenant}/datasets/{name}", Viewer),
        (
            "GET /api/v1/tenants/{tenant}/datasets/{name}/download",
            Viewer,
        ),
        (
            "GET /api/v1/tenants/{tenant}/datasets/{name}/lineage",
            Viewer,
        ),
        ("GET /api/v1/tenants/{tenant}/files", Viewer),
        ("POST /api/v1/tenants/{tenant}/files", Editor),
        ("DELETE /api/v1/tenants/{tenant}/files", Editor),
        ("GET /api/v1/tenants/{tenant}/files/content", Viewer),
        ("GET /api/v1/tenants/{tenant}/events", Viewer),
        ("GET /api/v1/tenants/{tenant}/processes", Viewer),
        ("POST /api/v1/tenants/{tenant}/processes", Editor),
        ("GET /api/v1/tenants/{tenant}/processes/{process}", Viewer),
        ("PUT /api/v1/tenants/{tenant}/processes/{process}", Editor),
        ("POST /api/v1/tenants/{tenant}/processes/import", Editor),
        ("GET /api/v1/tenants/{tenant}/templates", Viewer),
        ("POST /api/v1/tenants/{tenant}/templates", Editor),
        (
            "DELETE /api/v1/tenants/{tenant}/templates/{template}",
            Editor,
        ),
        (
            "POST /api/v1/tenants/{tenant}/templates/{template}/processes",
            Editor,
        ),
        (
            "GET /api/v1/tenants/{tenant}/processes/{process}/definition",
            Viewer,
        ),
        // A viewer may copy into another tenant they edit.
        (
            "POST /api/v1/tenants/{tenant}/processes/{process}/copy",
            Viewer,
        ),
        (
            "DELETE /api/v1/tenants/{tenant}/processes/{process}",
            Editor,
        ),
        (
            "GET /api/v1/tenants/{tenant}/processes/{process}/runs",
            Viewer,
        ),
        (
            "POST /api/v1/tenants/{tenant}/processes/{process}/runs",
            Editor,
        ),
        (
            "GET /api/v1/tenants/{tenant}/processes/{process}/versions",
            Viewer,
        ),
        (
            "POST /api/v1/tenants/{tenant}/processes/{process}/versions",
            Editor,
        ),
        (
            "GET /api/v1/tenants/{tenant}/processes/{process}/versions/{number}",
            Viewer,
        ),
        (
            "GET /api/v1/tenants/{tenant}/processes/{process}/versions/{a}/diff/{b}",
            Viewer,
        ),
        (
            "GET /api/v1/tenants/{tenant}/processes/{process}/versions/{number}/airflow.py",
            Viewer,
        ),
        (
            "GET /api/v1/tenants/{tenant}/processes/{process}/schedule",
            Viewer,
        ),
        (
            "PUT /api/v1/tenants/{tenant}/processes/{process}/schedule",
            TenantAdmin,
        ),
        (
            "DELETE /api/v1/tenants/{tenant}/processes/{process}/schedule",
            TenantAdmin,
        ),
        (
            "GET /api/v1/tenants/{tenant}/processes/{process}/backfills",
            Viewer,
        ),
        (
            "POST /api/v1/tenants/{tenant}/processes/{process}/backfills",
            Editor,
        ),
        (
            "GET /api/v1/tenants/{tenant}/processes/{process}/backfills/{backfill}",
            Viewer,
        ),
        (
            "POST /api/v1/tenants/{tenant}/processes/{process}/backfills/{backfill}/cancel",
            Editor,
        ),
        ("GET /api/v1/tenants/{tenant}/schedules", Viewer),
        ("GET /api/v1/tenants/{tenant}/schedules/preview", Viewer),
        ("GET /api/v1/tenants/{tenant}/runs", Viewer),
        ("GET /api/v1/tenants/{tenant}/runs/daily", Viewer),
        ("GET /api/v1/tenants/{tenant}/runs/{run}", Viewer),
        // Authenticated by the run's own callback token, not by a user.
        ("POST /api/v1/airflow/runs/{run}/report", Anyone),
        ("POST /api/v1/tenants/{tenant}/runs/{run}/stop", Editor),
        ("POST /api/v1/tenants/{tenant}/runs/{run}/retry", Editor),
        ("POST /api/v1/tenants/{tenant}/runs/{run}/rerun", Editor),
        ("GET /api/v1/tenants/{tenant}/runs/{run}/events", Viewer),
        (
            "GET /api/v1/tenants/{tenant}/runs/{run}/tasks/{task}/log",
            Viewer,
        ),
    ])
}

const DEMO: &str = "/api/v1/tenants/demo";

/// The demo tenant with its sample pipeline run once (so there are versions,
/// a run, task logs and datasets), three members — one per role — and a
/// rival tenant whose admin must see none of it.
struct World {
    app: TestApp,
    admin: Session,
    viewer: Session,
    editor: Session,
    tenant_admin: Session,
    rival: Session,
    rival_token: String,
    editor_token: String,
    values: BTreeMap<&'static str, String>,
    /// Text that must never appear in an answer to an outsider.
    secrets: Vec<String>,
}

async fn world(backend: Backend) -> World {
    let app = TestApp::start(backend).await;
    let (tenant, owner) = server::db::bootstrap::demo_owner(&app.db)
        .await
        .unwrap()
        .unwrap();
    server::demo::install(&app.db, &app.database.data_dir(), &tenant, &owner)
        .await
        .unwrap();
    let admin = app.admin().await;
    let viewer = app.member("demo", "vera", "viewer").await;
    let editor = app.member("demo", "eddie", "editor").await;
    let tenant_admin = app.member("demo", "tina", "tenant_admin").await;
    let rival = app.member("rival", "rick", "tenant_admin").await;

    let list = app
        .get_as(&admin, &format!("{DEMO}/processes"))
        .await
        .json();
    let process = list
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == server::demo::REVENUE_PROCESS)
        .unwrap()
        .clone();
    let id = process["id"].as_str().unwrap().to_owned();
    // A second version, for the diff route.
    let draft = app
        .get_as(&admin, &format!("{DEMO}/processes/{id}"))
        .await
        .json();
    let mut graph = draft["graph"].clone();
    for node in graph["nodes"].as_array_mut().unwrap() {
        if node["id"] == "check_orders" {
            node["params"]["threshold"] = json!("6%");
        }
    }
    let replaced = app
        .as_user(
            &admin,
            Method::PUT,
            &format!("{DEMO}/processes/{id}"),
            Some(json!({"revision": draft["revision"], "graph": graph})),
        )
        .await;
    assert_eq!(replaced.status, StatusCode::OK, "{}", replaced.text());
    let published = app
        .as_user(
            &admin,
            Method::POST,
            &format!("{DEMO}/processes/{id}/versions"),
            Some(json!({"message": "renamed"})),
        )
        .await;
    assert_eq!(
        published.status,
        StatusCode::CREATED,
        "{}",
        published.text()
    );

    let run = app
        .start_run(&admin, &format!("{DEMO}/processes/{id}"))
        .await;
    let finished = app
        .wait_for_run_within(&admin, &run, Duration::from_secs(60), |r| {
            r["state"] == "succeeded"
        })
        .await;
    let task = finished["tasks"][1]["key"].as_str().unwrap().to_owned();

    let token = |s: Session, tenant: &'static str, role: &'static str| {
        let app = &app;
        async move {
            let reply = app
                .as_user(
                    &s,
                    Method::POST,
                    &format!("/api/v1/tenants/{tenant}/tokens"),
                    Some(json!({"name": "automation", "role": role})),
                )
                .await;
            assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
            let body = reply.json();
            (
                body["id"].as_str().unwrap().to_owned(),
                body["secret"].as_str().unwrap().to_owned(),
            )
        }
    };
    let (_, editor_token) = token(editor.clone(), "demo", "editor").await;
    let (viewer_token_id, _) = token(viewer.clone(), "demo", "viewer").await;
    let (_, rival_token) = token(rival.clone(), "rival", "tenant_admin").await;

    // A connection whose AWS endpoint answers nothing (port 1 is closed),
    // so testing it fails fast without leaving the machine.
    let connection = app
        .as_user(
            &admin,
            Method::POST,
            &format!("{DEMO}/connections"),
            Some(
                json!({"name": "secret-emr", "region": "eu-west-1", "cluster_id": "j-SECRET",
                        "role_arn": "arn:aws:iam::123456789012:role/secret-role",
                        "endpoint_url": "http://127.0.0.1:1"}),
            ),
        )
        .await;
    assert_eq!(
        connection.status,
        StatusCode::CREATED,
        "{}",
        connection.text()
    );
    let connection = connection.json()["id"].as_str().unwrap().to_owned();

    // An alert channel (to a port that answers nothing) and a rule.
    let channel = app
        .as_user(
            &admin,
            Method::POST,
            &format!("{DEMO}/alerts/channels"),
            Some(json!({"name": "secret-hook", "kind": "webhook", "target": "http://127.0.0.1:1/hook"})),
        )
        .await;
    assert_eq!(channel.status, StatusCode::CREATED, "{}", channel.text());
    let channel = channel.json()["id"].as_str().unwrap().to_owned();
    let rule = app
        .as_user(
            &admin,
            Method::POST,
            &format!("{DEMO}/alerts/rules"),
            Some(json!({"trigger": "failure", "channel": channel})),
        )
        .await;
    assert_eq!(rule.status, StatusCode::CREATED, "{}", rule.text());
    let rule = rule.json()["id"].as_str().unwrap().to_owned();

    // A paused schedule on the process (the rival must not see it).
    let schedule = app
        .as_user(
            &admin,
            Method::PUT,
            &format!("{DEMO}/processes/{id}/schedule"),
            Some(json!({"cron": "17 3 * * *", "timezone": "Pacific/Chatham", "enabled": false})),
        )
        .await;
    assert_eq!(schedule.status, StatusCode::CREATED, "{}", schedule.text());
    // A backfill of one fire (with the schedule's cron expression and zone).
    let backfill = app
        .as_user(
            &admin,
            Method::POST,
            &format!("{DEMO}/processes/{id}/backfills"),
            Some(json!({"start": "2026-10-01T00:00:00Z", "end": "2026-10-02T00:00:00Z"})),
        )
        .await;
    assert_eq!(backfill.status, StatusCode::CREATED, "{}", backfill.text());
    let backfill = backfill.json()["id"].as_str().unwrap().to_owned();

    let values = BTreeMap::from([
        ("backfill", backfill),
        ("connection", connection.clone()),
        ("channel", channel.clone()),
        ("rule", rule.clone()),
        ("template", "builtin-check-a-file".to_owned()),
        ("tenant", "demo".to_owned()),
        ("process", id.clone()),
        ("number", "1".to_owned()),
        ("a", "1".to_owned()),
        ("b", "2".to_owned()),
        ("run", run.clone()),
        ("task", task),
        ("name", "orders".to_owned()),
        ("username", "vera".to_owned()),
        ("id", viewer_token_id),
        ("key", "noop".to_owned()),
        ("slug", "demo".to_owned()),
    ]);
    // The tenant's AWS external id: its admins' to see, nobody else's.
    let external_id = app
        .get_as(&admin, &format!("{DEMO}/connections/external-id"))
        .await
        .json()["external_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let secrets = vec![
        external_id,
        id,
        run,
        server::demo::REVENUE_PROCESS.to_owned(),
        "revenue_by_country".to_owned(),
        "vera".to_owned(),
        connection,
        "secret-emr".to_owned(),
        "Pacific/Chatham".to_owned(),
    ];
    World {
        app,
        admin,
        viewer,
        editor,
        tenant_admin,
        rival,
        rival_token,
        editor_token,
        values,
        secrets,
    }
}

fn fill(path: &str, values: &BTreeMap<&str, String>) -> String {
    let mut out = path.to_owned();
    for (name, value) in values {
        out = out.replace(&format!("{{{name}}}"), value);
    }
    assert!(!out.contains('{'), "no value for a parameter of {path}");
    out
}

enum As<'a> {
    Nobody,
    User(&'a Session),
    Token(&'a str),
}

fn request(method: &Method, path: &str, who: &As) -> Request<Body> {
    let mut builder = Request::builder().method(method.clone()).uri(path);
    builder = match who {
        As::Nobody => builder,
        As::User(s) => builder
            .header("cookie", &s.cookie)
            .header("x-csrf-token", &s.csrf),
        As::Token(t) => builder.header("authorization", format!("Bearer {t}")),
    };
    if matches!(*method, Method::POST | Method::PUT | Method::PATCH) {
        builder
            .header("content-type", "application/json")
            .body(Body::from("{}"))
            .unwrap()
    } else {
        builder.body(Body::empty()).unwrap()
    }
}

async fn every_route_refuses_whoever_may_not_call_it(backend: Backend) {
    let w = world(backend).await;
    let table = required();
    let doc = w.app.get("/api/v1/openapi.json").await.json();
    let mut routes = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let route = format!("{} {path}", method.to_uppercase());
            let needs = *table
                .get(route.as_str())
                .unwrap_or_else(|| panic!("{route} is served but not in the access table"));
            routes.push((route, needs));
        }
    }
    for route in table.keys() {
        assert!(
            routes.iter().any(|(r, _)| r == route),
            "{route} is in the access table but not served"
        );
    }

    let mut checked = 0;
    for (route, needs) in &routes {
        let (method, template) = route.split_once(' ').unwrap();
        let method: Method = method.parse().unwrap();
        let path = fill(template, &w.values);
        let tenant_route = template.contains("{tenant}");

        let mut denied: Vec<(&str, As, StatusCode)> = Vec::new();
        if *needs > Needs::Anyone {
            denied.push(("anonymous", As::Nobody, StatusCode::UNAUTHORIZED));
            denied.push((
                "a made-up token",
                As::Token("trl_made-up"),
                StatusCode::UNAUTHORIZED,
            ));
        }
        if tenant_route {
            denied.push((
                "another tenant's admin",
                As::User(&w.rival),
                StatusCode::NOT_FOUND,
            ));
            denied.push((
                "another tenant's admin token",
                As::Token(&w.rival_token),
                StatusCode::NOT_FOUND,
            ));
        }
        let roles = [
            (Needs::Viewer, "viewer", &w.viewer),
            (Needs::Editor, "editor", &w.editor),
            (Needs::TenantAdmin, "tenant admin", &w.tenant_admin),
        ];
        for (level, name, session) in roles {
            if level < *needs && *needs <= Needs::PlatformAdmin && *needs >= Needs::Viewer {
                denied.push((name, As::User(session), StatusCode::FORBIDDEN));
            }
        }
        if *needs == Needs::TenantAdmin || *needs == Needs::PlatformAdmin {
            denied.push((
                "an editor's token",
                As::Token(&w.editor_token),
                StatusCode::FORBIDDEN,
            ));
        }

        for (who, caller, expected) in denied {
            let reply = w.app.send(request(&method, &path, &caller)).await;
            assert_eq!(reply.status, expected, "{route} as {who}: {}", reply.text());
            assert_eq!(
                reply.header("content-type"),
                "application/problem+json",
                "{route} as {who}"
            );
            let text = reply.text();
            // An id the caller sent may be named back; nothing else may.
            for secret in w.secrets.iter().filter(|s| !path.contains(s.as_str())) {
                assert!(
                    !text.contains(secret.as_str()),
                    "{route} as {who} leaks {secret}: {text}"
                );
            }
            checked += 1;
        }
    }
    assert!(checked > 150, "only {checked} refusals checked");

    // The table is not too strict: whoever it allows gets past the door (a
    // bad body may still be refused, but not for who is asking). Changes
    // run after reads and removals last, so each call finds its object.
    let order = |route: &str| match route.split_once(' ').unwrap().0 {
        "GET" => 0,
        // A channel goes with its rules: after them.
        "DELETE" if route.contains("/members/") || route.contains("/alerts/channels/") => 3,
        "DELETE" => 2,
        _ => 1,
    };
    let mut allowed: Vec<_> = routes
        .iter()
        .filter(|(r, n)| *n > Needs::Anyone || r.ends_with("/logout"))
        .collect();
    allowed.sort_by_key(|(route, _)| order(route));
    for (route, needs) in allowed {
        let (method, template) = route.split_once(' ').unwrap();
        let method: Method = method.parse().unwrap();
        let path = fill(template, &w.values);
        let throwaway;
        let session = match needs {
            _ if route.ends_with("/logout") => {
                throwaway = w.app.login("vera", "pw").await;
                &throwaway
            }
            Needs::SignedIn | Needs::Viewer => &w.viewer,
            Needs::Editor => &w.editor,
            Needs::TenantAdmin => &w.tenant_admin,
            Needs::PlatformAdmin | Needs::Anyone => &w.admin,
        };
        let status = w
            .app
            .status_of(request(&method, &path, &As::User(session)))
            .await;
        assert!(
            ![
                StatusCode::UNAUTHORIZED,
                StatusCode::FORBIDDEN,
                StatusCode::NOT_FOUND
            ]
            .contains(&status),
            "{route} refused a caller it allows: {status}"
        );
    }
}

async fn ids_of_another_tenants_objects_are_refused(backend: Backend) {
    let w = world(backend).await;
    let v = &w.values;
    let (process, run, task) = (&v["process"], &v["run"], &v["task"]);
    let token = &v["id"];
    let connection = &v["connection"];
    let rival = "/api/v1/tenants/rival";
    let crafted = [
        (Method::GET, format!("{rival}/processes/{process}"), None),
        (
            Method::PUT,
            format!("{rival}/processes/{process}"),
            Some(json!({"revision": 1, "name": "mine"})),
        ),
        (Method::DELETE, format!("{rival}/processes/{process}"), None),
        (
            Method::GET,
            format!("{rival}/processes/{process}/definition"),
            None,
        ),
        (
            Method::POST,
            format!("{rival}/processes/{process}/copy"),
            Some(json!({"name": "mine"})),
        ),
        (
            Method::GET,
            format!("{rival}/processes/{process}/versions"),
            None,
        ),
        (
            Method::POST,
            format!("{rival}/processes/{process}/versions"),
            Some(json!({"message": "mine"})),
        ),
        (
            Method::GET,
            format!("{rival}/processes/{process}/versions/1"),
            None,
        ),
        (
            Method::GET,
            format!("{rival}/processes/{process}/versions/1/diff/2"),
            None,
        ),
        (
            Method::GET,
            format!("{rival}/processes/{process}/versions/1/airflow.py"),
            None,
        ),
        (
            Method::GET,
            format!("{rival}/processes/{process}/runs"),
            None,
        ),
        (
            Method::POST,
            format!("{rival}/processes/{process}/runs"),
            Some(json!({})),
        ),
        (
            Method::GET,
            format!("{rival}/processes/{process}/schedule"),
            None,
        ),
        (
            Method::PUT,
            format!("{rival}/processes/{process}/schedule"),
            Some(json!({"cron": "* * * * *", "timezone": "UTC"})),
        ),
        (
            Method::DELETE,
            format!("{rival}/processes/{process}/schedule"),
            None,
        ),
        (Method::GET, format!("{rival}/runs/{run}"), None),
        (Method::POST, format!("{rival}/runs/{run}/stop"), None),
        (
            Method::POST,
            format!("{rival}/runs/{run}/retry"),
            Some(json!({"from_node": "check_orders"})),
        ),
        (Method::POST, format!("{rival}/runs/{run}/rerun"), None),
        (Method::GET, format!("{rival}/runs/{run}/events"), None),
        (
            Method::GET,
            format!("{rival}/runs/{run}/tasks/{task}/log"),
            None,
        ),
        (Method::GET, format!("{rival}/datasets/orders"), None),
        (
            Method::GET,
            format!("{rival}/datasets/orders/download"),
            None,
        ),
        (
            Method::GET,
            format!("{rival}/datasets/orders/lineage"),
            None,
        ),
        // The demo tenant's sample file, asked of the rival's own folder.
        (
            Method::GET,
            format!("{rival}/files/content?path=samples%2Forders.csv"),
            None,
        ),
        (
            Method::DELETE,
            format!("{rival}/files?path=samples%2Forders.csv"),
            None,
        ),
        (
            Method::GET,
            format!("{rival}/datasets/revenue_by_country"),
            None,
        ),
        (Method::DELETE, format!("{rival}/tokens/{token}"), None),
        (Method::DELETE, format!("{rival}/members/vera"), None),
        (
            Method::GET,
            format!("{rival}/connections/{connection}"),
            None,
        ),
        (
            Method::PUT,
            format!("{rival}/connections/{connection}"),
            Some(json!({"name": "mine", "region": "eu-west-1", "cluster_id": "j-MINE"})),
        ),
        (
            Method::DELETE,
            format!("{rival}/connections/{connection}"),
            None,
        ),
        (
            Method::POST,
            format!("{rival}/connections/{connection}/test"),
            None,
        ),
        (
            Method::POST,
            format!("{rival}/alerts/channels/{}/test", v["channel"]),
            None,
        ),
        (
            Method::DELETE,
            format!("{rival}/alerts/channels/{}", v["channel"]),
            None,
        ),
        (
            Method::DELETE,
            format!("{rival}/alerts/rules/{}", v["rule"]),
            None,
        ),
    ];
    for (method, path, body) in crafted {
        for (who, auth) in [
            ("session", ("cookie", w.rival.cookie.clone())),
            (
                "token",
                ("authorization", format!("Bearer {}", w.rival_token)),
            ),
        ] {
            let mut builder = Request::builder()
                .method(method.clone())
                .uri(&path)
                .header(auth.0, auth.1)
                .header("x-csrf-token", &w.rival.csrf);
            let body = match &body {
                Some(json) => {
                    builder = builder.header("content-type", "application/json");
                    Body::from(json.to_string())
                }
                None => Body::empty(),
            };
            let reply = w.app.send(builder.body(body).unwrap()).await;
            // Tokens may not manage tokens or members at all, whoever's
            // they are.
            let expected =
                if who == "token" && (path.contains("/tokens/") || path.contains("/members/")) {
                    StatusCode::FORBIDDEN
                } else {
                    StatusCode::NOT_FOUND
                };
            assert_eq!(
                reply.status,
                expected,
                "{method} {path} by {who}: {}",
                reply.text()
            );
            for secret in w.secrets.iter().filter(|s| !path.contains(s.as_str())) {
                assert!(
                    !reply.text().contains(secret.as_str()),
                    "{path} leaks {secret}"
                );
            }
        }
    }
    // The rival's listings hold nothing of the demo tenant.
    for path in [
        "processes",
        "datasets",
        "files",
        "tokens",
        "members",
        "audit",
        "connections",
        "schedules",
    ] {
        let reply = w.app.get_as(&w.rival, &format!("{rival}/{path}")).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}");
        for secret in &w.secrets {
            assert!(
                !reply.text().contains(secret.as_str()),
                "{path} leaks {secret}"
            );
        }
    }
    // And the demo objects are still there, unchanged.
    let still = w
        .app
        .get_as(&w.admin, &format!("{DEMO}/processes/{process}"))
        .await;
    assert_eq!(still.status, StatusCode::OK);
    assert_eq!(still.json()["archived"], false);
    let revoked = w
        .app
        .as_token(
            &w.editor_token,
            Method::GET,
            &format!("{DEMO}/processes"),
            None,
        )
        .await;
    assert_eq!(
        revoked.status,
        StatusCode::OK,
        "the editor's token still works"
    );
}
