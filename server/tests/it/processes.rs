//! Processes, versions and the catalog through the HTTP API, as editors,
//! viewers, admins, strangers and anonymous callers see them.

use crate::common::{Backend, Reply, Session, TestApp};
use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

on_both_backends!(
    create_list_and_read_a_process,
    bad_names_are_422_and_taken_names_409,
    stale_revisions_are_409_and_lose_nothing,
    publish_validates_compiles_and_numbers_versions,
    invalid_drafts_are_422_with_every_problem,
    versions_are_immutable_and_diffable,
    unknown_versions_are_404_and_bad_numbers_422,
    archive_keeps_versions_and_freezes_the_draft,
    roles_are_enforced,
    other_tenants_objects_are_404,
    the_catalog_is_seeded_and_admins_edit_it,
    oversized_process_bodies_are_413,
);

const PROCESSES: &str = "/api/v1/tenants/demo/processes";

fn chain() -> Value {
    json!({
        "nodes": [
            {"id": "ingest", "component": "noop", "label": "Ingest", "params": {}, "position": {"x": 80.0, "y": 120.0}},
            {"id": "wait", "component": "sleep", "label": "Wait", "params": {"seconds": 1}, "position": {"x": 300.0, "y": 120.0}}
        ],
        "edges": [{"from": "ingest", "to": "wait"}]
    })
}

async fn post(app: &TestApp, s: &Session, path: &str, body: Value) -> Reply {
    app.as_user(s, Method::POST, path, Some(body)).await
}

async fn put(app: &TestApp, s: &Session, path: &str, body: Value) -> Reply {
    app.as_user(s, Method::PUT, path, Some(body)).await
}

/// Creates a process with the chain graph; returns its path.
async fn create(app: &TestApp, s: &Session, name: &str) -> String {
    let reply = post(app, s, PROCESSES, json!({"name": name, "graph": chain()})).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    format!("{PROCESSES}/{}", reply.json()["id"].as_str().unwrap())
}

fn problem_codes(reply: &Reply) -> Vec<(Value, String, String)> {
    reply.json()["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["node"].clone(),
                e["field"].as_str().unwrap().to_owned(),
                e["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn create_list_and_read_a_process(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let reply = post(
        &app,
        &admin,
        PROCESSES,
        json!({"name": "Daily orders", "description": "d", "graph": chain()}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    let created = reply.json();
    assert_eq!(created["revision"], 1);
    assert_eq!(created["name"], "Daily orders");
    assert_eq!(created["created_by"], "admin");
    assert_eq!(created["graph"], chain());
    assert_eq!(created["latest_version"], Value::Null);
    assert_eq!(created["problems"], json!([]));

    let list = app.get_as(&admin, PROCESSES).await;
    assert_eq!(list.status, StatusCode::OK);
    let rows = list.json();
    assert_eq!(rows.as_array().unwrap().len(), 1);
    assert_eq!(rows[0]["name"], "Daily orders");
    assert_eq!(rows[0]["last_run_state"], Value::Null);

    let path = format!("{PROCESSES}/{}", created["id"].as_str().unwrap());
    assert_eq!(app.get_as(&admin, &path).await.json(), created);
}

async fn bad_names_are_422_and_taken_names_409(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let blank = post(&app, &admin, PROCESSES, json!({"name": "  "})).await;
    assert_eq!(blank.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        problem_codes(&blank),
        vec![(Value::Null, "name".into(), "required".into())]
    );

    let missing = post(&app, &admin, PROCESSES, json!({"graph": chain()})).await;
    assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(missing.json()["errors"][0]["field"], "name");

    let bad_graph = post(
        &app,
        &admin,
        PROCESSES,
        json!({"name": "x", "graph": {"nodes": [{"id": "a"}]}}),
    )
    .await;
    assert_eq!(bad_graph.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        bad_graph.json()["errors"][0]["field"],
        "graph.nodes[0].component"
    );

    create(&app, &admin, "Orders").await;
    let taken = post(&app, &admin, PROCESSES, json!({"name": "Orders"})).await;
    assert_eq!(taken.status, StatusCode::CONFLICT);
    assert_eq!(taken.json()["errors"][0]["field"], "name");
    assert_eq!(
        app.get_as(&admin, PROCESSES)
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

async fn stale_revisions_are_409_and_lose_nothing(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let path = create(&app, &admin, "Orders").await;

    let mut graph = chain();
    graph["nodes"][1]["params"]["seconds"] = json!(5);
    let first = put(&app, &admin, &path, json!({"revision": 1, "graph": graph})).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text());
    assert_eq!(first.json()["revision"], 2);

    let stale = put(
        &app,
        &admin,
        &path,
        json!({"revision": 1, "name": "Renamed", "graph": chain()}),
    )
    .await;
    assert_eq!(stale.status, StatusCode::CONFLICT);
    assert_eq!(stale.json()["errors"][0]["field"], "revision");
    assert!(
        stale.json()["detail"]
            .as_str()
            .unwrap()
            .contains("revision 2"),
        "{}",
        stale.text()
    );

    let now = app.get_as(&admin, &path).await.json();
    assert_eq!(now["revision"], 2);
    assert_eq!(now["name"], "Orders");
    assert_eq!(
        now["graph"]["nodes"][1]["params"]["seconds"], 5,
        "the first write is kept"
    );

    let renamed = put(
        &app,
        &admin,
        &path,
        json!({"revision": 2, "name": "Renamed"}),
    )
    .await;
    assert_eq!(renamed.json()["name"], "Renamed");
    assert_eq!(
        renamed.json()["graph"]["nodes"][1]["params"]["seconds"],
        5,
        "fields left out stay"
    );
}

async fn publish_validates_compiles_and_numbers_versions(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let path = create(&app, &admin, "Orders").await;
    let versions = format!("{path}/versions");

    let first = post(&app, &admin, &versions, json!({"message": "first"})).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text());
    let v1 = first.json();
    assert_eq!(v1["number"], 1);
    assert_eq!(v1["message"], "first");
    assert_eq!(v1["created_by"], "admin");
    assert!(v1["content_hash"].as_str().unwrap().starts_with("sha256:"));
    let keys: Vec<&str> = v1["dag"]["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["key"].as_str().unwrap())
        .collect();
    assert_eq!(
        keys,
        ["PEntry", "C_ingest", "W_ingest", "C_wait", "W_wait", "PExit"]
    );
    assert_eq!(v1["dag"]["tasks"][3]["depends_on"], json!(["W_ingest"]));

    let again = post(&app, &admin, &versions, json!({"message": "same again"})).await;
    assert_eq!(
        again.status,
        StatusCode::OK,
        "unchanged content is not a new version"
    );
    assert_eq!(again.json()["number"], 1);
    assert_eq!(again.json()["message"], "first");

    let mut graph = chain();
    graph["nodes"][1]["params"]["seconds"] = json!(2);
    put(&app, &admin, &path, json!({"revision": 1, "graph": graph})).await;
    let second = post(&app, &admin, &versions, json!({})).await;
    assert_eq!(second.status, StatusCode::CREATED);
    assert_eq!(second.json()["number"], 2);
    assert_ne!(second.json()["content_hash"], v1["content_hash"]);

    assert_eq!(app.get_as(&admin, &path).await.json()["latest_version"], 2);
    let listed = app.get_as(&admin, &versions).await.json();
    let numbers: Vec<i64> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["number"].as_i64().unwrap())
        .collect();
    assert_eq!(numbers, [2, 1], "newest first");
}

async fn invalid_drafts_are_422_with_every_problem(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let graph = json!({
        "nodes": [
            {"id": "a", "component": "noop"},
            {"id": "b", "component": "sleep", "params": {"seconds": "soon"}},
            {"id": "c", "component": "nope"}
        ],
        "edges": [{"from": "a", "to": "b"}, {"from": "b", "to": "a"}, {"from": "c", "to": "ghost"}]
    });
    let reply = post(
        &app,
        &admin,
        PROCESSES,
        json!({"name": "Broken", "graph": graph}),
    )
    .await;
    assert_eq!(
        reply.status,
        StatusCode::CREATED,
        "a draft may be invalid while it is being edited"
    );
    assert_eq!(
        reply.json()["problems"].as_array().unwrap().len(),
        4,
        "{}",
        reply.text()
    );
    let path = format!("{PROCESSES}/{}", reply.json()["id"].as_str().unwrap());

    let publish = post(
        &app,
        &admin,
        &format!("{path}/versions"),
        json!({"message": "try"}),
    )
    .await;
    assert_eq!(publish.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(publish.header("content-type"), "application/problem+json");
    assert_eq!(
        problem_codes(&publish),
        vec![
            (json!("b"), "params.seconds".into(), "type".into()),
            (json!("c"), "component".into(), "unknown_component".into()),
            (Value::Null, "edges[2].to".into(), "unknown_node".into()),
            (json!("a"), "edges".into(), "cycle".into()),
        ]
    );
    assert_eq!(publish.json()["errors"][3]["path"], json!(["a", "b", "a"]));
    assert_eq!(
        app.get_as(&admin, &format!("{path}/versions")).await.json(),
        json!([]),
        "nothing was published"
    );
}

async fn versions_are_immutable_and_diffable(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let path = create(&app, &admin, "Orders").await;
    post(
        &app,
        &admin,
        &format!("{path}/versions"),
        json!({"message": "v1"}),
    )
    .await;

    let mut graph = chain();
    graph["nodes"][1]["params"]["seconds"] = json!(30);
    graph["nodes"][0]["position"] = json!({"x": 10, "y": 10});
    graph["nodes"]
        .as_array_mut()
        .unwrap()
        .push(json!({"id": "done", "component": "noop"}));
    graph["edges"]
        .as_array_mut()
        .unwrap()
        .push(json!({"from": "wait", "to": "done"}));
    put(&app, &admin, &path, json!({"revision": 1, "graph": graph})).await;
    post(
        &app,
        &admin,
        &format!("{path}/versions"),
        json!({"message": "v2"}),
    )
    .await;

    let v1 = app.get_as(&admin, &format!("{path}/versions/1")).await;
    assert_eq!(v1.status, StatusCode::OK);
    assert_eq!(
        v1.json()["graph"],
        chain(),
        "version 1 keeps the graph it was published with"
    );

    let diff = app
        .get_as(&admin, &format!("{path}/versions/1/diff/2"))
        .await;
    assert_eq!(diff.status, StatusCode::OK, "{}", diff.text());
    let d = diff.json();
    assert_eq!((d["from"].clone(), d["to"].clone()), (json!(1), json!(2)));
    assert_eq!(d["nodes_added"][0]["id"], "done");
    assert_eq!(d["nodes_removed"], json!([]));
    assert_eq!(
        d["nodes_changed"],
        json!([{"id": "wait", "params": [{"name": "seconds", "old": 1, "new": 30}]}])
    );
    assert_eq!(d["edges_added"], json!([{"from": "wait", "to": "done"}]));
    assert_eq!(d["cosmetic"][0]["id"], "ingest");
    assert_eq!(
        d["cosmetic"][0]["position"]["new"],
        json!({"x": 10.0, "y": 10.0})
    );
}

async fn unknown_versions_are_404_and_bad_numbers_422(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let path = create(&app, &admin, "Orders").await;
    post(&app, &admin, &format!("{path}/versions"), json!({})).await;
    assert_eq!(
        app.get_as(&admin, &format!("{path}/versions/9"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get_as(&admin, &format!("{path}/versions/1/diff/9"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let bad = app.get_as(&admin, &format!("{path}/versions/latest")).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.json()["errors"][0]["field"], "number");
    assert_eq!(
        app.get_as(&admin, &format!("{PROCESSES}/nope/versions"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get_as(&admin, &format!("{PROCESSES}/nope"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

async fn archive_keeps_versions_and_freezes_the_draft(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let path = create(&app, &admin, "Orders").await;
    post(&app, &admin, &format!("{path}/versions"), json!({})).await;

    let archived = app.as_user(&admin, Method::DELETE, &path, None).await;
    assert_eq!(archived.status, StatusCode::NO_CONTENT);
    assert_eq!(app.get_as(&admin, PROCESSES).await.json(), json!([]));
    let all = app
        .get_as(&admin, &format!("{PROCESSES}?archived=true"))
        .await
        .json();
    assert_eq!(all[0]["archived"], true);

    assert_eq!(app.get_as(&admin, &path).await.json()["archived"], true);
    assert_eq!(
        app.get_as(&admin, &format!("{path}/versions/1"))
            .await
            .status,
        StatusCode::OK,
        "versions stay"
    );
    assert_eq!(
        put(&app, &admin, &path, json!({"revision": 1, "name": "x"}))
            .await
            .status,
        StatusCode::CONFLICT
    );
    assert_eq!(
        post(&app, &admin, &format!("{path}/versions"), json!({}))
            .await
            .status,
        StatusCode::CONFLICT
    );
    assert_eq!(
        app.as_user(&admin, Method::DELETE, &path, None)
            .await
            .status,
        StatusCode::CONFLICT
    );

    create(&app, &admin, "Orders").await; // the name is free again
}

async fn roles_are_enforced(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let path = create(&app, &admin, "Orders").await;
    let viewer = app.member("demo", "vera", "viewer").await;
    let editor = app.member("demo", "ed", "editor").await;

    assert_eq!(app.get_as(&viewer, PROCESSES).await.status, StatusCode::OK);
    assert_eq!(app.get_as(&viewer, &path).await.status, StatusCode::OK);
    for reply in [
        post(&app, &viewer, PROCESSES, json!({"name": "Mine"})).await,
        put(&app, &viewer, &path, json!({"revision": 1, "name": "x"})).await,
        post(&app, &viewer, &format!("{path}/versions"), json!({})).await,
        app.as_user(&viewer, Method::DELETE, &path, None).await,
    ] {
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.text());
        assert!(
            reply.json()["detail"].as_str().unwrap().contains("editor"),
            "{}",
            reply.text()
        );
    }
    assert_eq!(
        post(&app, &editor, &format!("{path}/versions"), json!({}))
            .await
            .status,
        StatusCode::CREATED
    );

    let anonymous = app.get(PROCESSES).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert_eq!(anonymous.header("content-type"), "application/problem+json");
}

async fn other_tenants_objects_are_404(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let path = create(&app, &admin, "Orders").await;
    let id = path.rsplit('/').next().unwrap().to_owned();
    post(&app, &admin, &format!("{path}/versions"), json!({})).await;
    let stranger = app.member("acme", "sam", "tenant_admin").await;

    // Another tenant's paths look exactly like paths that do not exist.
    for path in [
        PROCESSES.to_owned(),
        path.clone(),
        format!("{path}/versions"),
        format!("{path}/versions/1"),
        format!("{path}/versions/1/diff/1"),
        "/api/v1/tenants/demo/components".to_owned(),
        "/api/v1/tenants/no-such-tenant/processes".to_owned(),
    ] {
        let reply = app.get_as(&stranger, &path).await;
        assert_eq!(
            reply.status,
            StatusCode::NOT_FOUND,
            "{path}: {}",
            reply.text()
        );
        assert!(!reply.text().contains("Orders"));
    }
    assert_eq!(
        put(
            &app,
            &stranger,
            &path,
            json!({"revision": 1, "name": "mine"})
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );

    // A crafted id of demo's process under the stranger's own tenant.
    let crafted = format!("/api/v1/tenants/acme/processes/{id}");
    assert_eq!(
        app.get_as(&stranger, &crafted).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get_as(&stranger, &format!("{crafted}/versions/1"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        post(&app, &stranger, &format!("{crafted}/versions"), json!({}))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.as_user(&stranger, Method::DELETE, &crafted, None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.get_as(&admin, &path).await.json()["archived"], false);
}

async fn the_catalog_is_seeded_and_admins_edit_it(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let catalog = app
        .get_as(&admin, "/api/v1/tenants/demo/components")
        .await
        .json();
    let keys: Vec<&str> = catalog
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["key"].as_str().unwrap())
        .collect();
    for key in ["noop", "sleep", "fail"] {
        assert!(keys.contains(&key), "{keys:?}");
    }
    let sleep = catalog
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["key"] == "sleep")
        .unwrap();
    assert_eq!(sleep["params"][0]["type"], "number");
    assert_eq!(
        sleep["local"]["args"],
        json!(["step", "sleep", "--seconds={seconds}"])
    );

    let component = json!({
        "key": "ingest.api", "name": "Ingest API", "category": "Ingest",
        "params": [{"name": "url", "type": "string", "required": true, "pattern": "https?://.+"}],
        "emr": {"jar": "command-runner.jar", "args": ["spark-submit", "--url", "{url}"]}
    });
    let editor = app.member("demo", "ed", "editor").await;
    assert_eq!(
        post(&app, &editor, "/api/v1/admin/components", component.clone())
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let created = post(&app, &admin, "/api/v1/admin/components", component.clone()).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    assert_eq!(created.json()["emr"]["action_on_failure"], "CONTINUE");
    assert_eq!(
        post(&app, &admin, "/api/v1/admin/components", component.clone())
            .await
            .status,
        StatusCode::CONFLICT
    );

    let mut broken = component.clone();
    broken["emr"]["args"] = json!(["{nope}"]);
    let invalid = put(&app, &admin, "/api/v1/admin/components/ingest.api", broken).await;
    assert_eq!(invalid.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(invalid.json()["errors"][0]["field"], "emr.args");

    let mut renamed = component.clone();
    renamed["name"] = json!("Ingest from an API");
    assert_eq!(
        put(
            &app,
            &admin,
            "/api/v1/admin/components/ingest.api",
            renamed.clone()
        )
        .await
        .status,
        StatusCode::OK
    );
    let listed = app
        .get_as(&editor, "/api/v1/tenants/demo/components")
        .await
        .json();
    assert!(listed
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["name"] == "Ingest from an API"));
    renamed["key"] = json!("other");
    assert_eq!(
        put(&app, &admin, "/api/v1/admin/components/other", renamed)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

async fn oversized_process_bodies_are_413(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let huge = json!({"name": "big", "description": "x".repeat(100 * 1024)});
    let reply = post(&app, &admin, PROCESSES, huge).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(reply.header("content-type"), "application/problem+json");
    assert_eq!(app.get_as(&admin, PROCESSES).await.json(), json!([]));
}
