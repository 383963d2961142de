//! A process as a file and processes from processes: export (JSON, YAML,
//! a version's), import with every problem listed and nothing saved, and
//! copies within a tenant and into another the caller edits.

use crate::common::{Backend, Reply, Session, TestApp};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::{json, Value};

on_both_backends!(
    export_is_stable_and_imports_back_in_both_formats,
    import_lists_every_problem_and_saves_nothing,
    copies_go_within_and_across_tenants_the_caller_edits,
);

const PROCESSES: &str = "/api/v1/tenants/demo/processes";

fn chain() -> Value {
    json!({
        "nodes": [
            {"id": "ingest", "component": "noop", "label": "Ingest", "params": {}, "position": {"x": 80.0, "y": 120.0}},
            {"id": "wait", "component": "sleep", "label": "Wait", "params": {"seconds": 1}, "position": {"x": 300.0, "y": 120.0}}
        ],
        "edges": [{"from": "ingest", "to": "wait"}],
        "params": [{"name": "day", "type": "date", "required": false}]
    })
}

/// Creates a process with the chain graph; returns its id.
async fn create(app: &TestApp, s: &Session, tenant: &str, name: &str) -> String {
    let reply = app
        .as_user(
            s,
            Method::POST,
            &format!("/api/v1/tenants/{tenant}/processes"),
            Some(json!({"name": name, "description": "Nightly orders", "graph": chain()})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    reply.json()["id"].as_str().unwrap().to_owned()
}

/// POSTs a file's text as `content_type` to the import route.
async fn import(app: &TestApp, s: &Session, query: &str, content_type: &str, text: &str) -> Reply {
    let request = Request::post(format!("{PROCESSES}/import{query}"))
        .header("cookie", &s.cookie)
        .header("x-csrf-token", &s.csrf)
        .header("content-type", content_type)
        .body(Body::from(text.to_owned()))
        .unwrap();
    app.send(request).await
}

/// (node, field, code) of every problem of a 422.
fn problems(reply: &Reply) -> Vec<(Option<String>, String, String)> {
    assert_eq!(
        reply.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        reply.text()
    );
    reply.json()["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["node"].as_str().map(str::to_owned),
                e["field"].as_str().unwrap().to_owned(),
                e["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn has(found: &[(Option<String>, String, String)], node: Option<&str>, field: &str, code: &str) {
    assert!(
        found
            .iter()
            .any(|(n, f, c)| n.as_deref() == node && f == field && c == code),
        "no ({node:?}, {field}, {code}) in {found:?}"
    );
}

async fn names(app: &TestApp, s: &Session, tenant: &str) -> Vec<String> {
    let list = app
        .get_as(s, &format!("/api/v1/tenants/{tenant}/processes"))
        .await
        .json();
    let mut names: Vec<String> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

async fn export_is_stable_and_imports_back_in_both_formats(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let id = create(&app, &admin, "demo", "Daily orders (EU)").await;
    let path = format!("{PROCESSES}/{id}");

    let json_file = app.get_as(&admin, &format!("{path}/definition")).await;
    assert_eq!(json_file.status, StatusCode::OK, "{}", json_file.text());
    assert_eq!(json_file.header("content-type"), "application/json");
    assert_eq!(
        json_file.header("content-disposition"),
        "attachment; filename=\"daily-orders-eu.trellis.json\""
    );
    let text = json_file.text();
    assert!(
        text.starts_with(
            "{\n  \"format\": \"trellis.process/v1\",\n  \"name\": \"Daily orders (EU)\",\n"
        ),
        "{text}"
    );
    assert!(text.ends_with("}\n"));
    let definition = json_file.json();
    assert_eq!(definition["description"], "Nightly orders");
    assert_eq!(definition["graph"], chain());
    // The same definition, the same bytes (fit for git).
    let again = app
        .get_as(&admin, &format!("{path}/definition?format=json"))
        .await;
    assert_eq!(again.body, json_file.body);

    let yaml_file = app
        .get_as(&admin, &format!("{path}/definition?format=yaml"))
        .await;
    assert_eq!(yaml_file.status, StatusCode::OK);
    assert_eq!(
        yaml_file.header("content-type"),
        "application/yaml; charset=utf-8"
    );
    let yaml = yaml_file.text();
    assert!(
        yaml.starts_with("format: trellis.process/v1\nname: Daily orders (EU)\n"),
        "{yaml}"
    );
    assert!(yaml.contains("component: sleep"), "{yaml}");

    // Both import back into the same graph, under another name.
    for (query, kind, text, name) in [
        (
            "?name=From%20JSON",
            "application/json",
            text.as_str(),
            "From JSON",
        ),
        (
            "?name=From%20YAML",
            "application/yaml",
            yaml.as_str(),
            "From YAML",
        ),
    ] {
        let created = import(&app, &admin, query, kind, text).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
        let process = created.json();
        assert_eq!(process["name"], name);
        assert_eq!(process["description"], "Nightly orders");
        assert_eq!(process["graph"], chain());
        assert_eq!(process["problems"], json!([]));
        assert_eq!(process["created_by"], "admin");
        // And exports as the same file but for its name.
        let back = app
            .get_as(
                &admin,
                &format!("{PROCESSES}/{}/definition", process["id"].as_str().unwrap()),
            )
            .await
            .text();
        assert_eq!(back, json_file.text().replace("Daily orders (EU)", name));
    }

    // A published version exports as it was published, whatever the draft is now.
    let published = app
        .as_user(
            &admin,
            Method::POST,
            &format!("{path}/versions"),
            Some(json!({})),
        )
        .await;
    assert_eq!(
        published.status,
        StatusCode::CREATED,
        "{}",
        published.text()
    );
    let revision = app.get_as(&admin, &path).await.json()["revision"].clone();
    let changed = app
        .as_user(
            &admin,
            Method::PUT,
            &path,
            Some(json!({"revision": revision, "graph": {"nodes": [], "edges": []}})),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.text());
    let v1 = app
        .get_as(&admin, &format!("{path}/definition?version=1"))
        .await;
    assert_eq!(v1.json()["graph"], chain());
    assert_eq!(
        v1.header("content-disposition"),
        "attachment; filename=\"daily-orders-eu-v1.trellis.json\""
    );
    assert_eq!(
        app.get_as(&admin, &format!("{path}/definition"))
            .await
            .json()["graph"]["nodes"],
        json!([])
    );
    let missing = app
        .get_as(&admin, &format!("{path}/definition?version=9"))
        .await;
    has(&problems(&missing), None, "version", "not_found");
    let bad_format = app
        .get_as(&admin, &format!("{path}/definition?format=xml"))
        .await;
    assert!(
        bad_format.status.is_client_error() && bad_format.text().contains("format"),
        "{} {}",
        bad_format.status,
        bad_format.text()
    );
    // Another tenant's process is not there.
    let stranger = app.member("acme", "sam", "tenant_admin").await;
    let hidden = app
        .get_as(
            &stranger,
            &format!("/api/v1/tenants/acme/processes/{id}/definition"),
        )
        .await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND);
}

async fn import_lists_every_problem_and_saves_nothing(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    create(&app, &admin, "demo", "Orders").await;
    let before = names(&app, &admin, "demo").await;

    // Everything wrong at once: each problem is listed, nothing is saved.
    let broken = json!({
        "format": "trellis.process/v9",
        "description": 7,
        "graph": {
            "nodes": [
                {"id": "a", "component": "no.such.component", "params": {}},
                {"id": "b", "component": "sleep", "params": {}, "colour": "red"}
            ],
            "edgse": [],
            "edges": [{"from": "a", "to": "missing"}]
        },
        "grpah": {}
    });
    let reply = import(&app, &admin, "", "application/json", &broken.to_string()).await;
    let found = problems(&reply);
    has(&found, None, "format", "unsupported");
    has(&found, None, "name", "required");
    has(&found, None, "description", "type");
    has(&found, None, "graph.edgse", "unknown_field");
    has(&found, None, "graph.nodes[1].colour", "unknown_field");
    has(&found, None, "grpah", "unknown_field");
    assert!(
        found.iter().any(|(n, _, _)| n.as_deref() == Some("a")),
        "the unknown component is named on its node: {found:?}"
    );
    assert!(found.len() >= 8, "{found:?}");
    assert_eq!(reply.header("content-type"), "application/problem+json");
    assert_eq!(names(&app, &admin, "demo").await, before);

    // A name already taken, and a connection the tenant does not have.
    let file = json!({
        "format": "trellis.process/v1", "name": "Orders",
        "graph": {"nodes": [], "edges": [], "connection": "conn-elsewhere"}
    });
    let found = problems(&import(&app, &admin, "", "application/json", &file.to_string()).await);
    has(&found, None, "name", "taken");
    has(&found, None, "graph.connection", "not_found");
    let found = problems(
        &import(
            &app,
            &admin,
            "?name=%20%20",
            "application/json",
            &file.to_string(),
        )
        .await,
    );
    has(&found, None, "name", "required");

    // Syntax: where it broke, in each format.
    let found = import(
        &app,
        &admin,
        "",
        "application/json",
        "{\n  \"name\": \"x\",\n  oops\n}",
    )
    .await;
    has(&problems(&found), None, "definition", "syntax");
    assert!(found.text().contains("line 3"), "{}", found.text());
    let found = import(
        &app,
        &admin,
        "",
        "application/yaml",
        "name: [unclosed\nformat: x\n",
    )
    .await;
    has(&problems(&found), None, "definition", "syntax");
    let found = import(
        &app,
        &admin,
        "",
        "application/yaml",
        "- a list\n- not a definition\n",
    )
    .await;
    has(&problems(&found), None, "definition", "type");
    // A graph of the wrong shape names where.
    let file =
        json!({"format": "trellis.process/v1", "name": "Shape", "graph": {"nodes": [{"id": "a"}]}});
    has(
        &problems(&import(&app, &admin, "", "application/json", &file.to_string()).await),
        None,
        "graph.nodes[0]",
        "invalid",
    );
    assert_eq!(names(&app, &admin, "demo").await, before);

    // Neither JSON nor YAML; a viewer; another tenant.
    let plain = import(&app, &admin, "", "text/plain", "format: x").await;
    assert_eq!(plain.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(plain.header("content-type"), "application/problem+json");
    let viewer = app.member("demo", "vic", "viewer").await;
    let good = json!({"format": "trellis.process/v1", "name": "Fine", "graph": chain()});
    let refused = import(&app, &viewer, "", "application/json", &good.to_string()).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(names(&app, &admin, "demo").await, before);
    let created = import(&app, &admin, "", "application/json", &good.to_string()).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    assert_eq!(created.json()["graph"], chain());
}

async fn copies_go_within_and_across_tenants_the_caller_edits(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    // `ed` edits demo and acme, only views globex.
    let ed = app.member("demo", "ed", "editor").await;
    app.member("acme", "ann", "tenant_admin").await;
    app.member("globex", "gus", "tenant_admin").await;
    for (tenant, role) in [("acme", "editor"), ("globex", "viewer")] {
        sqlx::query(
            "INSERT INTO memberships (tenant_id, user_id, role, created_at) \
             SELECT t.id, u.id, $3, $4 FROM tenants t, users u WHERE t.slug = $1 AND u.username = $2",
        )
        .bind(tenant)
        .bind("ed")
        .bind(role)
        .bind(server::db::now())
        .execute(&app.db.pool)
        .await
        .unwrap();
    }
    let id = create(&app, &admin, "demo", "Orders").await;
    let path = format!("{PROCESSES}/{id}");
    let copy = |body: Value| {
        let (app, ed, path) = (&app, &ed, &path);
        async move {
            app.as_user(ed, Method::POST, &format!("{path}/copy"), Some(body))
                .await
        }
    };

    // Within the tenant: a new draft with the same graph and description.
    let same = copy(json!({"name": "Orders (copy)"})).await;
    assert_eq!(same.status, StatusCode::CREATED, "{}", same.text());
    let same = same.json();
    assert_ne!(same["id"], json!(id));
    assert_eq!(same["graph"], chain());
    assert_eq!(same["description"], "Nightly orders");
    assert_eq!(same["revision"], 1);
    assert_eq!(same["latest_version"], Value::Null);
    assert_eq!(same["created_by"], "ed");
    let taken = copy(json!({"name": "Orders"})).await;
    assert_eq!(taken.status, StatusCode::CONFLICT, "{}", taken.text());
    assert_eq!(taken.json()["errors"][0]["field"], "name");

    // A version rather than the draft.
    app.as_user(
        &admin,
        Method::POST,
        &format!("{path}/versions"),
        Some(json!({})),
    )
    .await;
    let revision = app.get_as(&admin, &path).await.json()["revision"].clone();
    app.as_user(
        &admin,
        Method::PUT,
        &path,
        Some(json!({"revision": revision, "graph": {"nodes": [], "edges": [], "connection": "conn-demo"}})),
    )
    .await;
    let v1 = copy(json!({"name": "Orders v1", "version": 1})).await;
    assert_eq!(v1.status, StatusCode::CREATED, "{}", v1.text());
    assert_eq!(v1.json()["graph"], chain());
    has(
        &problems(&copy(json!({"name": "Orders v9", "version": 9})).await),
        None,
        "version",
        "not_found",
    );

    // Into another tenant the caller edits.
    let acme = copy(json!({"name": "Orders from demo", "tenant": "acme", "version": 1})).await;
    assert_eq!(acme.status, StatusCode::CREATED, "{}", acme.text());
    let acme_id = acme.json()["id"].as_str().unwrap().to_owned();
    let in_acme = app
        .get_as(&ed, &format!("/api/v1/tenants/acme/processes/{acme_id}"))
        .await;
    assert_eq!(in_acme.status, StatusCode::OK);
    assert_eq!(in_acme.json()["graph"], chain());
    assert_eq!(names(&app, &ed, "acme").await, vec!["Orders from demo"]);
    // …whose connections are its own: the draft's runs on demo's.
    let found = problems(&copy(json!({"name": "Draft", "tenant": "acme"})).await);
    has(&found, None, "connection", "required");
    let found = problems(
        &copy(json!({"name": "Draft", "tenant": "acme", "connection": "conn-demo"})).await,
    );
    has(&found, None, "connection", "not_found");
    // Not into a tenant ed only views, nor one that does not exist: the same answer.
    for tenant in ["globex", "no-such-tenant"] {
        let refused = copy(json!({"name": "Orders", "tenant": tenant, "version": 1})).await;
        has(&problems(&refused), None, "tenant", "not_found");
    }
    assert_eq!(names(&app, &admin, "globex").await, Vec::<String>::new());

    // A viewer cannot copy within the tenant they view.
    let viewer = app.member("demo", "vic", "viewer").await;
    let refused = app
        .as_user(
            &viewer,
            Method::POST,
            &format!("{path}/copy"),
            Some(json!({"name": "Mine"})),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text());
    // Bad names are the create route's.
    has(
        &problems(&copy(json!({"name": "  "})).await),
        None,
        "name",
        "required",
    );
}
