//! The OpenAPI document describes every API route the router serves.

use crate::common::{Backend, TestApp};
use axum::http::StatusCode;

#[tokio::test]
async fn the_document_lists_every_endpoint_with_its_errors() {
    let app = TestApp::start(Backend::Sqlite).await;
    let reply = app.get("/api/v1/openapi.json").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.header("content-type").starts_with("application/json"));
    let doc = reply.json();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );

    let mut operations: Vec<String> = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            operations.push(format!("{} {path}", method.to_uppercase()));
        }
    }
    operations.sort();
    let expected = [
        "DELETE /api/v1/tenants/{tenant}/connections/{connection}",
        "DELETE /api/v1/tenants/{tenant}/members/{username}",
        "DELETE /api/v1/tenants/{tenant}/processes/{process}",
        "DELETE /api/v1/tenants/{tenant}/processes/{process}/schedule",
        "DELETE /api/v1/tenants/{tenant}/tokens/{id}",
        "GET /api/v1/admin/tenants",
        "GET /api/v1/admin/users",
        "GET /api/v1/auth/methods",
        "GET /api/v1/auth/oidc/callback",
        "GET /api/v1/auth/oidc/login",
        "GET /api/v1/me",
        "GET /api/v1/me/tokens",
        "GET /api/v1/tenants/{tenant}/audit",
        "GET /api/v1/tenants/{tenant}/components",
        "GET /api/v1/tenants/{tenant}/connections",
        "GET /api/v1/tenants/{tenant}/connections/external-id",
        "GET /api/v1/tenants/{tenant}/connections/{connection}",
        "GET /api/v1/tenants/{tenant}/datasets",
        "GET /api/v1/tenants/{tenant}/datasets/{name}",
        "GET /api/v1/tenants/{tenant}/events",
        "GET /api/v1/tenants/{tenant}/members",
        "GET /api/v1/tenants/{tenant}/processes",
        "GET /api/v1/tenants/{tenant}/processes/{process}",
        "GET /api/v1/tenants/{tenant}/processes/{process}/backfills",
        "GET /api/v1/tenants/{tenant}/processes/{process}/backfills/{backfill}",
        "GET /api/v1/tenants/{tenant}/processes/{process}/runs",
        "GET /api/v1/tenants/{tenant}/processes/{process}/schedule",
        "GET /api/v1/tenants/{tenant}/processes/{process}/versions",
        "GET /api/v1/tenants/{tenant}/processes/{process}/versions/{a}/diff/{b}",
        "GET /api/v1/tenants/{tenant}/processes/{process}/versions/{number}",
        "GET /api/v1/tenants/{tenant}/processes/{process}/versions/{number}/airflow.py",
        "GET /api/v1/tenants/{tenant}/runs/{run}",
        "GET /api/v1/tenants/{tenant}/runs/{run}/events",
        "GET /api/v1/tenants/{tenant}/runs/{run}/tasks/{task}/log",
        "GET /api/v1/tenants/{tenant}/schedules",
        "GET /api/v1/tenants/{tenant}/schedules/preview",
        "GET /api/v1/tenants/{tenant}/tokens",
        "GET /healthz",
        "GET /readyz",
        "PATCH /api/v1/admin/tenants/{slug}",
        "PATCH /api/v1/admin/users/{username}",
        "POST /api/v1/admin/components",
        "POST /api/v1/admin/tenants",
        "POST /api/v1/admin/users",
        "POST /api/v1/airflow/runs/{run}/report",
        "POST /api/v1/auth/login",
        "POST /api/v1/auth/logout",
        "POST /api/v1/tenants/{tenant}/connections",
        "POST /api/v1/tenants/{tenant}/connections/{connection}/test",
        "POST /api/v1/tenants/{tenant}/processes",
        "POST /api/v1/tenants/{tenant}/processes/{process}/backfills",
        "POST /api/v1/tenants/{tenant}/processes/{process}/backfills/{backfill}/cancel",
        "POST /api/v1/tenants/{tenant}/processes/{process}/runs",
        "POST /api/v1/tenants/{tenant}/processes/{process}/versions",
        "POST /api/v1/tenants/{tenant}/runs/{run}/rerun",
        "POST /api/v1/tenants/{tenant}/runs/{run}/retry",
        "POST /api/v1/tenants/{tenant}/runs/{run}/stop",
        "POST /api/v1/tenants/{tenant}/tokens",
        "PUT /api/v1/admin/components/{key}",
        "PUT /api/v1/me/password",
        "PUT /api/v1/tenants/{tenant}/connections/{connection}",
        "PUT /api/v1/tenants/{tenant}/members/{username}",
        "PUT /api/v1/tenants/{tenant}/processes/{process}",
        "PUT /api/v1/tenants/{tenant}/processes/{process}/schedule",
    ];
    assert_eq!(operations, expected);

    let publish = &doc["paths"]["/api/v1/tenants/{tenant}/processes/{process}/versions"]["post"];
    for status in ["200", "201", "401", "403", "404", "409", "422"] {
        assert!(
            publish["responses"].get(status).is_some(),
            "publish documents {status}"
        );
    }
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for name in [
        "Problem",
        "FieldError",
        "Process",
        "Version",
        "Dag",
        "ComponentType",
        "ParamKind",
        "VersionDiff",
    ] {
        assert!(schemas.contains_key(name), "schema {name} is described");
    }
    // Typed ids are plain strings in the document.
    for (schema, field) in [
        ("ComponentType", "key"),
        ("Node", "component"),
        ("DagTask", "key"),
    ] {
        assert_eq!(
            schemas[schema]["properties"][field]["type"], "string",
            "{schema}.{field}: {}",
            schemas[schema]["properties"][field]
        );
    }
}

#[tokio::test]
async fn every_documented_route_is_served() {
    let app = TestApp::start(Backend::Sqlite).await;
    let doc = app.get("/api/v1/openapi.json").await.json();
    for (path, item) in doc["paths"].as_object().unwrap() {
        let concrete = path
            .replace("{tenant}", "demo")
            .replace("{process}", "p")
            .replace("{number}", "1")
            .replace("{a}", "1")
            .replace("{b}", "2")
            .replace("{key}", "noop")
            .replace("{run}", "r")
            .replace("{task}", "PEntry");
        for method in item.as_object().unwrap().keys() {
            let method: axum::http::Method = method.to_uppercase().parse().unwrap();
            let reply = app.call(method.clone(), &concrete, "{}").await;
            assert_ne!(
                reply.status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {concrete}"
            );
            let routed =
                reply.status != StatusCode::NOT_FOUND || !reply.text().contains("API endpoint");
            assert!(routed, "{method} {concrete} is routed: {}", reply.text());
        }
    }
}
