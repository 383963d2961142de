//! The template gallery: the built-in templates run as they are on the demo
//! tenant's samples; a tenant publishes its own from a process; a new
//! process from a template takes values for its parameters.

use crate::common::{Backend, Session, TestApp};
use axum::http::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::Duration;

on_both_backends!(
    a_builtin_template_makes_a_process_that_runs,
    tenants_publish_their_own_templates,
);

const DEMO: &str = "/api/v1/tenants/demo";

async fn post(app: &TestApp, s: &Session, path: &str, body: Value) -> crate::common::Reply {
    app.as_user(s, Method::POST, &format!("{DEMO}{path}"), Some(body))
        .await
}

/// The application with the demo tenant's sample files and processes.
async fn with_demo(backend: Backend) -> TestApp {
    let app = TestApp::start(backend).await;
    let (tenant, owner) = server::db::bootstrap::demo_owner(&app.db)
        .await
        .unwrap()
        .unwrap();
    server::demo::install(&app.db, &app.database.data_dir(), &tenant, &owner)
        .await
        .unwrap();
    app
}

fn fields(reply: &crate::common::Reply) -> Vec<(String, String)> {
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
                e["field"].as_str().unwrap().to_owned(),
                e["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn a_builtin_template_makes_a_process_that_runs(backend: Backend) {
    let app = with_demo(backend).await;
    let admin = app.admin().await;
    let gallery = app.get_as(&admin, &format!("{DEMO}/templates")).await;
    assert_eq!(gallery.status, StatusCode::OK);
    let gallery = gallery.json();
    let names: Vec<&str> = gallery
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "Check a file",
            "Convert a CSV file to JSON Lines",
            "Join two files and export a summary"
        ]
    );
    let convert = &gallery[1];
    assert_eq!(convert["builtin"], true);
    assert_eq!(convert["id"], "builtin-convert-csv-to-json-lines");
    let params: Vec<&str> = convert["graph"]["params"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(params, ["source", "destination"]);

    // Wrong values, unknown parameters and a missing name: all at once.
    let path = "/templates/builtin-convert-csv-to-json-lines/processes";
    let refused = post(
        &app,
        &admin,
        path,
        json!({"name": " ", "params": {"source": 7, "colour": "red"}}),
    )
    .await;
    let found = fields(&refused);
    for expected in [
        ("name", "required"),
        ("params.source", "type"),
        ("params.colour", "unknown_param"),
    ] {
        assert!(
            found.contains(&(expected.0.into(), expected.1.into())),
            "{expected:?} in {found:?}"
        );
    }

    // The values given become the process's parameter defaults.
    let created = post(
        &app,
        &admin,
        path,
        json!({"name": "Customers as JSON Lines", "params": {"destination": "exports/customers.jsonl"}}),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    let process = created.json();
    assert_eq!(process["problems"], json!([]));
    assert_eq!(process["graph"]["nodes"], convert["graph"]["nodes"]);
    assert_eq!(
        process["graph"]["params"][1]["default"],
        "exports/customers.jsonl"
    );
    assert_eq!(
        process["graph"]["params"][0]["default"],
        "samples/customers.csv"
    );
    let taken = post(
        &app,
        &admin,
        path,
        json!({"name": "Customers as JSON Lines"}),
    )
    .await;
    assert_eq!(taken.status, StatusCode::CONFLICT);

    // Published and run as it is: the sample customers, as JSON Lines.
    let id = process["id"].as_str().unwrap();
    let published = post(
        &app,
        &admin,
        &format!("/processes/{id}/versions"),
        json!({}),
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
    let done = app
        .wait_for_run_within(&admin, &run, Duration::from_secs(60), crate::common::ended)
        .await;
    assert_eq!(done["state"], "succeeded", "{done}");
    let exported = app
        .state
        .engine
        .tenant_dir(&app.demo_tenant().await)
        .join("exports/exports/customers.jsonl");
    let text = std::fs::read_to_string(&exported)
        .unwrap_or_else(|e| panic!("{}: {e}", exported.display()));
    assert_eq!(text.lines().count(), 20, "{text}");
    assert!(
        text.starts_with("{\"country\":\"GB\",\"customer_id\":1,"),
        "{text}"
    );

    // Built-in templates cannot be deleted; unknown ones are 404.
    let gone = app
        .as_user(
            &admin,
            Method::DELETE,
            &format!("{DEMO}/templates/builtin-check-a-file"),
            None,
        )
        .await;
    assert_eq!(gone.status, StatusCode::CONFLICT);
    let missing = post(
        &app,
        &admin,
        "/templates/nope/processes",
        json!({"name": "x"}),
    )
    .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

async fn tenants_publish_their_own_templates(backend: Backend) {
    let app = with_demo(backend).await;
    let admin = app.admin().await;
    let processes = app
        .get_as(&admin, &format!("{DEMO}/processes"))
        .await
        .json();
    let revenue = processes
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == server::demo::REVENUE_PROCESS)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let made = post(
        &app,
        &admin,
        "/templates",
        json!({"process": revenue, "version": 1, "name": "Revenue report", "description": "Ours"}),
    )
    .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.text());
    let template = made.json();
    assert_eq!(template["builtin"], false);
    assert_eq!(template["created_by"], "admin");
    assert_eq!(template["description"], "Ours");
    let version = app
        .get_as(&admin, &format!("{DEMO}/processes/{revenue}/versions/1"))
        .await
        .json();
    assert_eq!(template["graph"], version["graph"]);

    for (body, field, code) in [
        (
            json!({"process": revenue, "name": "Revenue report"}),
            "name",
            "taken",
        ),
        (
            json!({"process": "nope", "name": "X"}),
            "process",
            "not_found",
        ),
        (
            json!({"process": revenue, "version": 9, "name": "X"}),
            "version",
            "not_found",
        ),
    ] {
        let reply = post(&app, &admin, "/templates", body).await;
        if code == "taken" {
            assert_eq!(reply.status, StatusCode::CONFLICT, "{}", reply.text());
        } else {
            assert!(
                fields(&reply).contains(&(field.into(), code.into())),
                "{}",
                reply.text()
            );
        }
    }
    let builtin_name = post(
        &app,
        &admin,
        "/templates",
        json!({"process": revenue, "name": "Check a file"}),
    )
    .await;
    assert_eq!(builtin_name.status, StatusCode::CONFLICT);

    // In the gallery after the built-in ones; another tenant does not see it.
    let gallery = app
        .get_as(&admin, &format!("{DEMO}/templates"))
        .await
        .json();
    assert_eq!(gallery.as_array().unwrap().len(), 4);
    assert_eq!(gallery[3]["name"], "Revenue report");
    let stranger = app.member("acme", "sam", "tenant_admin").await;
    let theirs = app
        .get_as(&stranger, "/api/v1/tenants/acme/templates")
        .await
        .json();
    assert_eq!(theirs.as_array().unwrap().len(), 3);
    let id = template["id"].as_str().unwrap();
    let hidden = app
        .as_user(
            &stranger,
            Method::POST,
            &format!("/api/v1/tenants/acme/templates/{id}/processes"),
            Some(json!({"name": "Stolen"})),
        )
        .await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND);

    // A process from it takes the template's parameter (min_amount).
    let started = post(
        &app,
        &admin,
        &format!("/templates/{id}/processes"),
        json!({"name": "Big orders by country", "params": {"min_amount": 100}}),
    )
    .await;
    assert_eq!(started.status, StatusCode::CREATED, "{}", started.text());
    let process = started.json();
    assert_eq!(process["graph"]["params"][0]["default"], 100);
    assert_eq!(process["description"], "Ours");

    // Viewers see the gallery but make nothing; editors delete.
    let viewer = app.member("demo", "vic", "viewer").await;
    assert_eq!(
        app.get_as(&viewer, &format!("{DEMO}/templates"))
            .await
            .status,
        StatusCode::OK
    );
    let refused = post(
        &app,
        &viewer,
        &format!("/templates/{id}/processes"),
        json!({"name": "Mine"}),
    )
    .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let deleted = app
        .as_user(
            &admin,
            Method::DELETE,
            &format!("{DEMO}/templates/{id}"),
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let again = app
        .as_user(
            &admin,
            Method::DELETE,
            &format!("{DEMO}/templates/{id}"),
            None,
        )
        .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    let gallery = app
        .get_as(&admin, &format!("{DEMO}/templates"))
        .await
        .json();
    assert_eq!(gallery.as_array().unwrap().len(), 3);
}
