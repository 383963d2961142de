//! Tenant AWS connections: kept with their secrets sealed and never shown,
//! checked field by field, and tested against the AWS emulator (moto) —
//! reporting exactly what AWS said.

use crate::common::emulator::{Emulator, ACCESS_KEY_ID, SECRET_ACCESS_KEY};
use crate::common::{Backend, TestApp};
use axum::http::{Method, StatusCode};
use serde_json::json;

on_both_backends!(
    connections_keep_their_secrets_sealed_and_unshown,
    connection_input_is_checked_field_by_field,
    testing_a_connection_reports_what_aws_says,
);

const DEMO: &str = "/api/v1/tenants/demo";
const ROLE: &str = "arn:aws:iam::123456789012:role/trellis";

async fn connections_keep_their_secrets_sealed_and_unshown(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let editor = app.member("demo", "eddie", "editor").await;
    let body = json!({
        "name": "prod-emr", "region": "eu-west-1", "role_arn": ROLE,
        "external_id": "very-secret-external-id", "cluster_id": "j-2AXXXXXXGAPLF",
        "access_key_id": ACCESS_KEY_ID, "secret_access_key": "very-secret-access-key",
    });
    let created = app
        .as_user(
            &admin,
            Method::POST,
            &format!("{DEMO}/connections"),
            Some(body.clone()),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    let c = created.json();
    let id = c["id"].as_str().unwrap().to_owned();
    assert_eq!(c["has_external_id"], true);
    assert_eq!(c["has_secret_access_key"], true);
    assert_eq!(c["session_duration_seconds"], 3600);
    for reply in [
        created.text(),
        app.get_as(&editor, &format!("{DEMO}/connections"))
            .await
            .text(),
        app.get_as(&editor, &format!("{DEMO}/connections/{id}"))
            .await
            .text(),
    ] {
        assert!(!reply.contains("very-secret"), "a secret is shown: {reply}");
    }
    let (external, secret): (String, String) =
        sqlx::query_as("SELECT external_id, secret_access_key FROM connections WHERE id = $1")
            .bind(&id)
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    for sealed in [&external, &secret] {
        assert!(
            sealed.starts_with("v1:") && !sealed.contains("very-secret"),
            "{sealed}"
        );
    }

    // Editors read, but do not change.
    let refused = app
        .as_user(
            &editor,
            Method::POST,
            &format!("{DEMO}/connections"),
            Some(body.clone()),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let taken = app
        .as_user(
            &admin,
            Method::POST,
            &format!("{DEMO}/connections"),
            Some(body),
        )
        .await;
    assert_eq!(taken.status, StatusCode::CONFLICT);
    assert_eq!(taken.json()["errors"][0]["field"], "name");

    // Leaving secrets out keeps them; null removes them.
    let kept = app
        .as_user(&admin, Method::PUT, &format!("{DEMO}/connections/{id}"),
            Some(json!({"name": "prod", "region": "eu-west-1", "role_arn": ROLE, "cluster_id": "j-2AXXXXXXGAPLF",
                        "access_key_id": ACCESS_KEY_ID})))
        .await;
    assert_eq!(kept.status, StatusCode::OK, "{}", kept.text());
    assert_eq!(kept.json()["name"], "prod");
    assert_eq!(kept.json()["has_external_id"], true);
    assert_eq!(kept.json()["has_secret_access_key"], true);
    let cleared = app
        .as_user(&admin, Method::PUT, &format!("{DEMO}/connections/{id}"),
            Some(json!({"name": "prod", "region": "eu-west-1", "role_arn": ROLE, "cluster_id": "j-2AXXXXXXGAPLF",
                        "external_id": null, "access_key_id": null, "secret_access_key": null})))
        .await;
    assert_eq!(cleared.status, StatusCode::OK, "{}", cleared.text());
    assert_eq!(cleared.json()["has_external_id"], false);
    assert_eq!(cleared.json()["has_secret_access_key"], false);

    app.member("rival", "rick", "tenant_admin").await;
    let rick = app.login("rick", "pw").await;
    assert_eq!(
        app.get_as(&rick, &format!("/api/v1/tenants/rival/connections/{id}"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    let gone = app
        .as_user(
            &admin,
            Method::DELETE,
            &format!("{DEMO}/connections/{id}"),
            None,
        )
        .await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get_as(&admin, &format!("{DEMO}/connections/{id}"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let log = app.get_as(&admin, &format!("{DEMO}/audit")).await.json();
    let actions: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    for action in [
        "connection.create",
        "connection.change",
        "connection.delete",
    ] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
}

async fn connection_input_is_checked_field_by_field(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let bad = app
        .as_user(&admin, Method::POST, &format!("{DEMO}/connections"),
            Some(json!({
                "name": "", "region": "Europe", "role_arn": "trellis", "session_duration_seconds": 60,
                "cluster_id": "cluster-1", "endpoint_url": "ftp://x", "access_key_id": ACCESS_KEY_ID,
            })))
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let problem = bad.json();
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "name",
            "region",
            "role_arn",
            "session_duration_seconds",
            "cluster_id",
            "endpoint_url",
            "secret_access_key"
        ]
    );
    let missing = app
        .as_user(
            &admin,
            Method::POST,
            &format!("{DEMO}/connections"),
            Some(json!({"name": "x", "region": "us-east-1"})),
        )
        .await;
    assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(missing.json()["errors"][0]["field"], "cluster_id");
    assert_eq!(missing.json()["errors"][0]["code"], "required");
}

async fn testing_a_connection_reports_what_aws_says(backend: Backend) {
    let aws = Emulator::start();
    let cluster = aws.cluster("us-east-1").await;
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let make = |name: &str, region: &str, role: &str, cluster: &str, endpoint: &str| {
        json!({
            "name": name, "region": region, "role_arn": role, "external_id": "ext-123",
            "cluster_id": cluster, "endpoint_url": endpoint,
            "access_key_id": ACCESS_KEY_ID, "secret_access_key": SECRET_ACCESS_KEY,
        })
    };
    let test = |body: serde_json::Value| {
        let (app, admin) = (&app, &admin);
        async move {
            let created = app
                .as_user(
                    admin,
                    Method::POST,
                    &format!("{DEMO}/connections"),
                    Some(body),
                )
                .await;
            assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
            let id = created.json()["id"].as_str().unwrap().to_owned();
            app.as_user(
                admin,
                Method::POST,
                &format!("{DEMO}/connections/{id}/test"),
                None,
            )
            .await
        }
    };

    let ok = test(make("good", "us-east-1", ROLE, &cluster, &aws.url)).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text());
    assert_eq!(ok.json()["ok"], true);
    assert_eq!(ok.json()["cluster_state"], "WAITING");
    assert_eq!(ok.json()["cluster_name"], "trellis-test");
    assert!(
        ok.json()["identity"]
            .as_str()
            .unwrap()
            .contains("assumed-role/trellis/trellis-demo"),
        "{}",
        ok.text()
    );

    let unknown = test(make(
        "unknown",
        "us-east-1",
        ROLE,
        "j-DOESNOTEXIST",
        &aws.url,
    ))
    .await;
    assert_eq!(
        unknown.status,
        StatusCode::BAD_GATEWAY,
        "{}",
        unknown.text()
    );
    assert_eq!(unknown.header("content-type"), "application/problem+json");
    assert_eq!(unknown.json()["errors"][0]["field"], "cluster_id");
    assert_eq!(unknown.json()["errors"][0]["code"], "unknown_cluster");

    let elsewhere = test(make("wrong region", "eu-west-1", ROLE, &cluster, &aws.url)).await;
    assert_eq!(elsewhere.status, StatusCode::BAD_GATEWAY);
    assert_eq!(elsewhere.json()["errors"][0]["code"], "unknown_cluster");
    assert!(
        elsewhere.json()["detail"]
            .as_str()
            .unwrap()
            .contains("in eu-west-1"),
        "{}",
        elsewhere.text()
    );

    let denied_role = "arn:aws:iam::123456789012:role/not-trusted";
    aws.control("sts/deny", json!({"role_arn": denied_role}))
        .await;
    let denied = test(make("denied", "us-east-1", denied_role, &cluster, &aws.url)).await;
    assert_eq!(denied.status, StatusCode::BAD_GATEWAY);
    assert_eq!(denied.json()["errors"][0]["field"], "role_arn");
    assert_eq!(denied.json()["errors"][0]["code"], "access_denied");
    assert!(denied.json()["detail"]
        .as_str()
        .unwrap()
        .contains("not authorized to perform: sts:AssumeRole"));

    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        format!("http://127.0.0.1:{port}")
    };
    let unreachable = test(make("unreachable", "us-east-1", ROLE, &cluster, &closed)).await;
    assert_eq!(unreachable.status, StatusCode::BAD_GATEWAY);
    assert_eq!(unreachable.json()["errors"][0]["field"], "endpoint_url");
    assert_eq!(unreachable.json()["errors"][0]["code"], "unreachable");
}
