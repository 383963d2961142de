//! The OpenAPI document describes every API route the router serves.

use crate::common::{Backend, TestApp};

on_both_backends!(the_nul_character_is_refused_wherever_it_comes_from);
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};

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
        "DELETE /api/v1/tenants/{tenant}/alerts/channels/{channel}",
        "DELETE /api/v1/tenants/{tenant}/alerts/rules/{rule}",
        "DELETE /api/v1/tenants/{tenant}/connections/{connection}",
        "DELETE /api/v1/tenants/{tenant}/files",
        "DELETE /api/v1/tenants/{tenant}/members/{username}",
        "DELETE /api/v1/tenants/{tenant}/processes/{process}",
        "DELETE /api/v1/tenants/{tenant}/processes/{process}/schedule",
        "DELETE /api/v1/tenants/{tenant}/templates/{template}",
        "DELETE /api/v1/tenants/{tenant}/tokens/{id}",
        "GET /api/v1/admin/tenants",
        "GET /api/v1/admin/users",
        "GET /api/v1/auth/methods",
        "GET /api/v1/auth/oidc/callback",
        "GET /api/v1/auth/oidc/login",
        "GET /api/v1/me",
        "GET /api/v1/me/tokens",
        "GET /api/v1/tenants/{tenant}/alerts/channels",
        "GET /api/v1/tenants/{tenant}/alerts/deliveries",
        "GET /api/v1/tenants/{tenant}/alerts/rules",
        "GET /api/v1/tenants/{tenant}/alerts/signing-secret",
        "GET /api/v1/tenants/{tenant}/audit",
        "GET /api/v1/tenants/{tenant}/components",
        "GET /api/v1/tenants/{tenant}/connections",
        "GET /api/v1/tenants/{tenant}/connections/external-id",
        "GET /api/v1/tenants/{tenant}/connections/{connection}",
        "GET /api/v1/tenants/{tenant}/datasets",
        "GET /api/v1/tenants/{tenant}/datasets/{name}",
        "GET /api/v1/tenants/{tenant}/datasets/{name}/download",
        "GET /api/v1/tenants/{tenant}/datasets/{name}/lineage",
        "GET /api/v1/tenants/{tenant}/events",
        "GET /api/v1/tenants/{tenant}/files",
        "GET /api/v1/tenants/{tenant}/files/content",
        "GET /api/v1/tenants/{tenant}/members",
        "GET /api/v1/tenants/{tenant}/processes",
        "GET /api/v1/tenants/{tenant}/processes/{process}",
        "GET /api/v1/tenants/{tenant}/processes/{process}/backfills",
        "GET /api/v1/tenants/{tenant}/processes/{process}/backfills/{backfill}",
        "GET /api/v1/tenants/{tenant}/processes/{process}/definition",
        "GET /api/v1/tenants/{tenant}/processes/{process}/runs",
        "GET /api/v1/tenants/{tenant}/processes/{process}/schedule",
        "GET /api/v1/tenants/{tenant}/processes/{process}/versions",
        "GET /api/v1/tenants/{tenant}/processes/{process}/versions/{a}/diff/{b}",
        "GET /api/v1/tenants/{tenant}/processes/{process}/versions/{number}",
        "GET /api/v1/tenants/{tenant}/processes/{process}/versions/{number}/airflow.py",
        "GET /api/v1/tenants/{tenant}/runs",
        "GET /api/v1/tenants/{tenant}/runs/daily",
        "GET /api/v1/tenants/{tenant}/runs/{run}",
        "GET /api/v1/tenants/{tenant}/runs/{run}/events",
        "GET /api/v1/tenants/{tenant}/runs/{run}/tasks/{task}/log",
        "GET /api/v1/tenants/{tenant}/schedules",
        "GET /api/v1/tenants/{tenant}/schedules/preview",
        "GET /api/v1/tenants/{tenant}/templates",
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
        "POST /api/v1/tenants/{tenant}/alerts/channels",
        "POST /api/v1/tenants/{tenant}/alerts/channels/{channel}/test",
        "POST /api/v1/tenants/{tenant}/alerts/rules",
        "POST /api/v1/tenants/{tenant}/alerts/signing-secret",
        "POST /api/v1/tenants/{tenant}/connections",
        "POST /api/v1/tenants/{tenant}/connections/{connection}/test",
        "POST /api/v1/tenants/{tenant}/files",
        "POST /api/v1/tenants/{tenant}/processes",
        "POST /api/v1/tenants/{tenant}/processes/import",
        "POST /api/v1/tenants/{tenant}/processes/{process}/backfills",
        "POST /api/v1/tenants/{tenant}/processes/{process}/backfills/{backfill}/cancel",
        "POST /api/v1/tenants/{tenant}/processes/{process}/copy",
        "POST /api/v1/tenants/{tenant}/processes/{process}/runs",
        "POST /api/v1/tenants/{tenant}/processes/{process}/versions",
        "POST /api/v1/tenants/{tenant}/runs/{run}/rerun",
        "POST /api/v1/tenants/{tenant}/runs/{run}/retry",
        "POST /api/v1/tenants/{tenant}/runs/{run}/stop",
        "POST /api/v1/tenants/{tenant}/templates",
        "POST /api/v1/tenants/{tenant}/templates/{template}/processes",
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

/// Operations anyone may call without signing in.
const PUBLIC: [&str; 7] = [
    "GET /healthz",
    "GET /readyz",
    "GET /api/v1/auth/methods",
    "GET /api/v1/auth/oidc/login",
    "GET /api/v1/auth/oidc/callback",
    "POST /api/v1/auth/login",
    "POST /api/v1/auth/logout",
];

/// Every operation of the document as (`METHOD path`, operation).
fn operations(doc: &serde_json::Value) -> Vec<(String, &serde_json::Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            out.push((format!("{} {path}", method.to_uppercase()), operation));
        }
    }
    out
}

fn documents(operation: &serde_json::Value, status: &str) -> bool {
    operation["responses"][status]["content"]
        .get("application/problem+json")
        .is_some()
}

/// Whether a schema lets `null` through (OpenAPI 3.1 `type: [.., "null"]`,
/// a `oneOf` with a null member, or 3.0's `nullable`).
fn nullable(schema: &serde_json::Value) -> bool {
    let null_type = |s: &serde_json::Value| match &s["type"] {
        serde_json::Value::String(t) => t == "null",
        serde_json::Value::Array(types) => types.iter().any(|t| t == "null"),
        _ => false,
    };
    null_type(schema)
        || schema["nullable"] == true
        || ["oneOf", "anyOf"].iter().any(|k| {
            schema[*k]
                .as_array()
                .is_some_and(|members| members.iter().any(null_type))
        })
}

fn parameter<'a>(operation: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    operation["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("parameter {name}"))
}

#[tokio::test]
async fn every_status_a_route_can_answer_is_documented() {
    let app = TestApp::start(Backend::Sqlite).await;
    let doc = app.get("/api/v1/openapi.json").await.json();
    let mut with_body = 0;
    for (name, operation) in operations(&doc) {
        if operation.get("requestBody").is_some() {
            for status in ["400", "413", "415", "422"] {
                assert!(documents(operation, status), "{name} documents {status}");
            }
            with_body += 1;
        }
        let parsed = operation["parameters"]
            .as_array()
            .is_some_and(|p| p.iter().any(|p| p["in"] == "query" || p["in"] == "path"));
        if parsed {
            assert!(documents(operation, "400"), "{name} documents 400");
        }
        if !PUBLIC.contains(&name.as_str()) {
            assert!(documents(operation, "401"), "{name} documents 401");
        }
    }
    assert!(with_body >= 20, "{with_body} operations with a body");
    let paths = &doc["paths"];
    for (path, method) in [
        ("/api/v1/auth/login", "post"),
        ("/api/v1/me/password", "put"),
    ] {
        let limited = &paths[path][method];
        assert!(documents(limited, "429"), "{method} {path} documents 429");
        assert!(
            limited["responses"]["429"]["headers"]
                .get("Retry-After")
                .is_some(),
            "{path}: {}",
            limited["responses"]["429"]
        );
    }

    // And the server answers them as documented.
    let admin = app.admin().await;
    let processes = "/api/v1/tenants/demo/processes";
    let mut wrong_type = Request::builder()
        .method(Method::POST)
        .uri(processes)
        .header("cookie", &admin.cookie)
        .header("x-csrf-token", &admin.csrf)
        .header("content-type", "text/plain")
        .body(Body::from(r#"{"name": "p"}"#))
        .unwrap();
    assert_eq!(
        app.send(wrong_type).await.status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    wrong_type = Request::builder()
        .method(Method::POST)
        .uri(processes)
        .header("cookie", &admin.cookie)
        .header("x-csrf-token", &admin.csrf)
        .header("content-type", "application/json")
        .body(Body::from(r#"{"name": "#))
        .unwrap();
    assert_eq!(app.send(wrong_type).await.status, StatusCode::BAD_REQUEST);
    let shape = app
        .as_user(
            &admin,
            Method::POST,
            processes,
            Some(serde_json::json!({"name": 7})),
        )
        .await;
    assert_eq!(
        shape.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        shape.text()
    );
    let created = app
        .as_user(
            &admin,
            Method::POST,
            processes,
            Some(serde_json::json!({"name": "documented"})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    let id = created.json()["id"].as_str().unwrap().to_owned();
    let runs = format!("{processes}/{id}/runs");
    let unparsed = app.get_as(&admin, &format!("{runs}?limit=many")).await;
    assert_eq!(
        unparsed.status,
        StatusCode::BAD_REQUEST,
        "{}",
        unparsed.text()
    );
    assert_eq!(
        unparsed.header("content-type"),
        "application/problem+json",
        "{}",
        unparsed.text()
    );
    let out_of_range = app.get_as(&admin, &format!("{runs}?limit=201")).await;
    assert_eq!(out_of_range.status, StatusCode::UNPROCESSABLE_ENTITY);
    let list = &paths["/api/v1/tenants/{tenant}/processes/{process}/runs"]["get"];
    for status in ["400", "422"] {
        assert!(documents(list, status), "the run list documents {status}");
    }
}

#[tokio::test]
async fn bounds_required_parameters_and_nulls_are_in_the_document() {
    let app = TestApp::start(Backend::Sqlite).await;
    let doc = app.get("/api/v1/openapi.json").await.json();
    let paths = &doc["paths"];
    let tenant = "/api/v1/tenants/{tenant}";

    let runs = &paths[format!("{tenant}/processes/{{process}}/runs")]["get"];
    let limit = &parameter(runs, "limit")["schema"];
    assert_eq!(
        (limit["minimum"].as_f64(), limit["maximum"].as_f64()),
        (Some(1.0), Some(200.0)),
        "{limit}"
    );
    assert_eq!(
        parameter(runs, "version")["schema"]["minimum"].as_f64(),
        Some(1.0)
    );
    let audit = &paths[format!("{tenant}/audit")]["get"];
    assert_eq!(
        parameter(audit, "limit")["schema"]["maximum"].as_f64(),
        Some(500.0)
    );
    for (path, names) in [
        ("/processes/{process}/versions/{number}", &["number"][..]),
        (
            "/processes/{process}/versions/{number}/airflow.py",
            &["number"],
        ),
        ("/processes/{process}/versions/{a}/diff/{b}", &["a", "b"]),
    ] {
        let read = &paths[format!("{tenant}{path}")]["get"];
        for name in names {
            let schema = &parameter(read, name)["schema"];
            assert_eq!(
                schema["minimum"].as_f64(),
                Some(1.0),
                "{path} {name}: {schema}"
            );
        }
    }
    let preview = &paths[format!("{tenant}/schedules/preview")]["get"];
    assert_eq!(parameter(preview, "cron")["required"], true);
    assert_ne!(
        parameter(preview, "timezone")["required"],
        true,
        "{preview}"
    );
    assert_eq!(parameter(preview, "timezone")["in"], "query", "{preview}");
    assert_eq!(parameter(preview, "cron")["in"], "query", "{preview}");

    let schemas = &doc["components"]["schemas"];
    for (schema, field, bound, value) in [
        ("StartRun", "version", "minimum", 1.0),
        ("ScheduleInput", "max_active_runs", "maximum", 100.0),
        ("NewBackfill", "max_active_runs", "maximum", 100.0),
        ("NewApiToken", "name", "maxLength", 100.0),
        ("NewApiToken", "expires_in_days", "maximum", 3650.0),
        ("CreateProcess", "name", "maxLength", 200.0),
        ("PublishRequest", "message", "maxLength", 2000.0),
        ("LoginRequest", "username", "maxLength", 64.0),
        ("PasswordChange", "new_password", "minLength", 10.0),
        (
            "ConnectionInput",
            "session_duration_seconds",
            "maximum",
            43200.0,
        ),
    ] {
        let property = &schemas[schema]["properties"][field];
        assert_eq!(
            property[bound].as_f64(),
            Some(value),
            "{schema}.{field}: {property}"
        );
    }
    for pattern in [
        &schemas["NewTenant"]["properties"]["slug"]["pattern"],
        &schemas["NewUser"]["properties"]["username"]["pattern"],
        &schemas["ConnectionInput"]["properties"]["region"]["pattern"],
    ] {
        assert!(pattern.is_string(), "{pattern}");
    }

    // What the server sends as null, the document lets be null.
    for (schema, field) in [
        ("AuditEvent", "detail"),
        ("AuditEvent", "target"),
        ("DatasetDetail", "quality"),
        ("User", "disabled_at"),
        ("Version", "deployment"),
    ] {
        // A flattened struct is an `allOf` of its parts.
        let parts = std::iter::once(&schemas[schema])
            .chain(schemas[schema]["allOf"].as_array().into_iter().flatten());
        let property = parts
            .map(|part| &part["properties"][field])
            .find(|p| !p.is_null())
            .unwrap_or(&serde_json::Value::Null);
        assert!(
            nullable(property),
            "{schema}.{field} is nullable: {property}"
        );
    }
    // Archiving records an audit entry with nothing more to say.
    let admin = app.admin().await;
    let processes = "/api/v1/tenants/demo/processes";
    let body = serde_json::json!({"name": "archived"});
    let created = app
        .as_user(&admin, Method::POST, processes, Some(body))
        .await;
    let id = created.json()["id"].as_str().unwrap().to_owned();
    let archived = app
        .as_user(&admin, Method::DELETE, &format!("{processes}/{id}"), None)
        .await;
    assert_eq!(
        archived.status,
        StatusCode::NO_CONTENT,
        "{}",
        archived.text()
    );
    let log = app
        .get_as(&admin, "/api/v1/tenants/demo/audit?action=process.archive")
        .await;
    assert_eq!(log.status, StatusCode::OK, "{}", log.text());
    let entries = log.json();
    assert!(
        entries
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["target"] == id.as_str() && e["detail"].is_null()),
        "the archive's entry has a null detail: {entries}"
    );
}

/// What the fuzzer (`make fuzz`) found, kept found: the document states
/// the grammar of a cron expression, the zone names, the audit actions and
/// a header that cannot be null as the server reads them, and the server
/// refuses what the document does not allow.
#[tokio::test]
async fn the_document_and_the_server_agree_on_what_the_fuzzer_found() {
    let app = TestApp::start(Backend::Sqlite).await;
    let doc = app.get("/api/v1/openapi.json").await.json();
    let schemas = &doc["components"]["schemas"];
    let paths = &doc["paths"];
    let tenant = "/api/v1/tenants/{tenant}";

    assert_eq!(
        schemas["CronExpression"]["pattern"],
        app::api::timing::cron_pattern()
    );
    let zones = schemas["TimeZoneName"]["enum"].as_array().unwrap();
    assert_eq!(zones.len(), chrono_tz::TZ_VARIANTS.len());
    for zone in ["UTC", "Europe/Berlin", "America/New_York"] {
        assert!(zones.iter().any(|z| z == zone), "{zone}");
    }
    let refers = |schema: &serde_json::Value, name: &str| {
        schema
            .to_string()
            .contains(&format!("#/components/schemas/{name}"))
    };
    for schema in ["ScheduleInput", "NewBackfill"] {
        let properties = &schemas[schema]["properties"];
        assert!(
            refers(&properties["cron"], "CronExpression"),
            "{schema}: {properties}"
        );
        assert!(
            refers(&properties["timezone"], "TimeZoneName"),
            "{schema}: {properties}"
        );
    }
    let preview = &paths[format!("{tenant}/schedules/preview")]["get"];
    assert!(refers(
        &parameter(preview, "cron")["schema"],
        "CronExpression"
    ));
    assert!(refers(
        &parameter(preview, "timezone")["schema"],
        "TimeZoneName"
    ));
    let audit = &paths[format!("{tenant}/audit")]["get"];
    assert!(refers(
        &parameter(audit, "action")["schema"],
        "AuditActionFilter"
    ));
    let events = &paths[format!("{tenant}/runs/{{run}}/events")]["get"];
    let last_event = &parameter(events, "Last-Event-ID")["schema"];
    assert!(!nullable(last_event), "{last_event}");
    assert_eq!(last_event["type"], "integer");

    let admin = app.admin().await;
    let path = app
        .published(
            &admin,
            "p",
            serde_json::json!({"nodes": [{"id": "a", "component": "noop"}], "edges": []}),
            serde_json::json!({}),
        )
        .await;
    for (method, uri, body, field) in [
        // serde would read a struct from an array of its fields.
        (
            Method::POST,
            format!("{path}/runs"),
            Some(serde_json::json!([null, null])),
            "",
        ),
        (
            Method::GET,
            format!("{path}/runs?version=0"),
            None,
            "version",
        ),
    ] {
        let reply = app.as_user(&admin, method, &uri, body).await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{uri}: {}",
            reply.text()
        );
        assert_eq!(reply.json()["errors"][0]["field"], field, "{uri}");
    }
    // A range that ends before it starts wraps, as the document says.
    let reply = app
        .as_user(
            &admin,
            Method::GET,
            "/api/v1/tenants/demo/schedules/preview?cron=0+22-2+*+*+FRI-MON&timezone=UTC",
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
}

/// PostgreSQL can neither store nor compare text holding U+0000 (and
/// SQLite's `length()` stops at it): a body, a query parameter or a path
/// segment holding one is refused, never a 500.
async fn the_nul_character_is_refused_wherever_it_comes_from(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let connection = serde_json::json!({
        "name": "a\0b", "region": "eu-west-1", "cluster_id": "j-ABC",
        "role_arn": "arn:aws:iam::123456789012:role/trellis"
    });
    for (method, uri, body, status, field) in [
        (
            Method::POST,
            "/api/v1/tenants/demo/connections",
            Some(connection),
            422,
            "name",
        ),
        (
            Method::GET,
            "/api/v1/tenants/demo/audit?user=x%00",
            None,
            422,
            "user",
        ),
        (
            Method::GET,
            "/api/v1/tenants/demo/processes/x%00y",
            None,
            404,
            "",
        ),
        (Method::GET, "/api/v1/tenants/demo/processes", None, 200, ""),
    ] {
        let reply = app.as_user(&admin, method, uri, body).await;
        assert_eq!(reply.status.as_u16(), status, "{uri}: {}", reply.text());
        if status == 422 {
            let error = &reply.json()["errors"][0];
            assert_eq!(
                (error["field"].as_str(), error["code"].as_str()),
                (Some(field), Some("nul"))
            );
        }
    }
}
