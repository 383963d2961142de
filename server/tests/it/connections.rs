//! Tenant AWS connections: kept with their secrets sealed and never shown,
//! checked field by field, and tested against the AWS emulator (moto) —
//! reporting exactly what AWS said. Every connection assumes a role, with
//! the tenant's own external id, which Trellis makes; static keys only where
//! the platform allows them.

use crate::common::emulator::{Emulator, ACCESS_KEY_ID, SECRET_ACCESS_KEY};
use crate::common::{Backend, TestApp, PRINCIPAL_ARN};
use axum::http::{Method, StatusCode};
use serde_json::json;

on_both_backends!(
    connections_keep_their_secrets_sealed_and_unshown,
    connection_input_is_checked_field_by_field,
    testing_a_connection_reports_what_aws_says,
    a_connection_must_name_a_role_and_carries_no_keys_unless_allowed,
    each_tenant_has_its_own_stable_external_id_for_its_admins,
    assume_role_carries_the_tenants_external_id_and_only_the_role_calls_emr,
);

const DEMO: &str = "/api/v1/tenants/demo";
const ROLE: &str = "arn:aws:iam::123456789012:role/trellis";

async fn connections_keep_their_secrets_sealed_and_unshown(backend: Backend) {
    // Static keys are the only secret a connection holds, and only where
    // the platform allows them.
    let app = TestApp::start(backend)
        .await
        .with_aws(|p| p.allow_static_keys = true);
    let admin = app.admin().await;
    let editor = app.member("demo", "eddie", "editor").await;
    let body = json!({
        "name": "prod-emr", "region": "eu-west-1", "role_arn": ROLE,
        "cluster_id": "j-2AXXXXXXGAPLF",
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
    assert!(c.get("has_external_id").is_none(), "{c}");
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
    let (sealed,): (String,) =
        sqlx::query_as("SELECT secret_access_key FROM connections WHERE id = $1")
            .bind(&id)
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert!(
        sealed.starts_with("v1:") && !sealed.contains("very-secret"),
        "{sealed}"
    );

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
    assert_eq!(kept.json()["has_secret_access_key"], true);
    let cleared = app
        .as_user(&admin, Method::PUT, &format!("{DEMO}/connections/{id}"),
            Some(json!({"name": "prod", "region": "eu-west-1", "role_arn": ROLE, "cluster_id": "j-2AXXXXXXGAPLF",
                        "access_key_id": null, "secret_access_key": null})))
        .await;
    assert_eq!(cleared.status, StatusCode::OK, "{}", cleared.text());
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
            "access_key_id"
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
            "name": name, "region": region, "role_arn": role,
            "cluster_id": cluster, "endpoint_url": endpoint,
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

async fn a_connection_must_name_a_role_and_carries_no_keys_unless_allowed(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let create = |body: serde_json::Value| {
        let (app, admin) = (&app, &admin);
        async move {
            app.as_user(
                admin,
                Method::POST,
                &format!("{DEMO}/connections"),
                Some(body),
            )
            .await
        }
    };
    let field_of = |reply: &crate::common::Reply| {
        let problem = reply.json();
        let errors = problem["errors"].as_array().unwrap().clone();
        assert_eq!(errors.len(), 1, "{problem}");
        (
            errors[0]["field"].as_str().unwrap().to_owned(),
            errors[0]["code"].as_str().unwrap().to_owned(),
        )
    };

    // No role: the server's own identity would do the tenant's work.
    let roleless =
        create(json!({"name": "no role", "region": "us-east-1", "cluster_id": "j-1"})).await;
    assert_eq!(
        roleless.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        roleless.text()
    );
    assert_eq!(field_of(&roleless), ("role_arn".into(), "required".into()));
    let blank = create(
        json!({"name": "blank", "region": "us-east-1", "role_arn": " ", "cluster_id": "j-1"}),
    )
    .await;
    assert_eq!(field_of(&blank), ("role_arn".into(), "required".into()));

    // Static keys, which this platform does not allow.
    let keyed = json!({"name": "keys", "region": "us-east-1", "role_arn": ROLE, "cluster_id": "j-1",
                       "access_key_id": ACCESS_KEY_ID, "secret_access_key": SECRET_ACCESS_KEY});
    let refused = create(keyed.clone()).await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.text()
    );
    assert_eq!(
        field_of(&refused),
        ("access_key_id".into(), "not_allowed".into())
    );
    let secret_only = create(
        json!({"name": "secret", "region": "us-east-1", "role_arn": ROLE, "cluster_id": "j-1",
                                    "secret_access_key": SECRET_ACCESS_KEY}),
    )
    .await;
    assert_eq!(
        field_of(&secret_only),
        ("access_key_id".into(), "not_allowed".into())
    );

    // A row stored before (no role; keys from when they were allowed) is
    // refused when used, saying why.
    let app = app.with_aws(|p| p.allow_static_keys = true);
    let admin = app.admin().await;
    let stored = app
        .as_user(
            &admin,
            Method::POST,
            &format!("{DEMO}/connections"),
            Some(keyed),
        )
        .await;
    assert_eq!(stored.status, StatusCode::CREATED, "{}", stored.text());
    let keys_id = stored.json()["id"].as_str().unwrap().to_owned();
    let app = app.with_aws(|p| p.allow_static_keys = false);
    let admin = app.admin().await;
    let used = app
        .as_user(
            &admin,
            Method::POST,
            &format!("{DEMO}/connections/{keys_id}/test"),
            None,
        )
        .await;
    assert_eq!(
        used.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        used.text()
    );
    assert_eq!(used.json()["errors"][0]["field"], "access_key_id");
    assert!(
        used.json()["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("static AWS keys"),
        "{}",
        used.text()
    );
    sqlx::query("UPDATE connections SET role_arn = NULL, access_key_id = NULL, secret_access_key = NULL WHERE id = $1")
        .bind(&keys_id)
        .execute(&app.db.pool)
        .await
        .unwrap();
    let roleless = app
        .as_user(
            &admin,
            Method::POST,
            &format!("{DEMO}/connections/{keys_id}/test"),
            None,
        )
        .await;
    assert_eq!(
        roleless.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        roleless.text()
    );
    assert_eq!(roleless.json()["errors"][0]["field"], "role_arn");
    assert!(
        roleless.json()["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("names no role to assume"),
        "{}",
        roleless.text()
    );
    // Changing it while keys are not allowed drops the stored ones.
    sqlx::query("UPDATE connections SET role_arn = $2, access_key_id = $3, secret_access_key = 'v1:old' WHERE id = $1")
        .bind(&keys_id)
        .bind(ROLE)
        .bind(ACCESS_KEY_ID)
        .execute(&app.db.pool)
        .await
        .unwrap();
    let changed = app
        .as_user(&admin, Method::PUT, &format!("{DEMO}/connections/{keys_id}"),
            Some(json!({"name": "keys", "region": "us-east-1", "role_arn": ROLE, "cluster_id": "j-1"})))
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.text());
    assert_eq!(changed.json()["access_key_id"], serde_json::Value::Null);
    assert_eq!(changed.json()["has_secret_access_key"], false);
}

async fn each_tenant_has_its_own_stable_external_id_for_its_admins(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let editor = app.member("demo", "eddie", "editor").await;
    app.member("rival", "rick", "tenant_admin").await;
    let rick = app.login("rick", "pw").await;

    let first = app
        .get_as(&admin, &format!("{DEMO}/connections/external-id"))
        .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text());
    let ours = first.json();
    let id = ours["external_id"].as_str().unwrap().to_owned();
    // 32 random bytes, base64url: unguessable, and valid as an sts:ExternalId.
    assert_eq!(id.len(), 43, "{id}");
    assert!(
        id.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "{id}"
    );
    assert_eq!(ours["principal_arn"], PRINCIPAL_ARN);
    let statement = &ours["trust_policy"]["Statement"][0];
    assert_eq!(statement["Principal"]["AWS"], PRINCIPAL_ARN);
    assert_eq!(statement["Action"], "sts:AssumeRole");
    assert_eq!(
        statement["Condition"]["StringEquals"]["sts:ExternalId"],
        id.as_str()
    );

    let again = app
        .get_as(&admin, &format!("{DEMO}/connections/external-id"))
        .await;
    assert_eq!(again.json()["external_id"], id.as_str(), "stable");
    let theirs = app
        .get_as(&rick, "/api/v1/tenants/rival/connections/external-id")
        .await;
    assert_eq!(theirs.status, StatusCode::OK, "{}", theirs.text());
    let theirs = theirs.json()["external_id"].as_str().unwrap().to_owned();
    assert_ne!(theirs, id, "each tenant has its own");
    assert!(!theirs.is_empty());

    // Only the tenant's admins see it.
    let refused = app
        .get_as(&editor, &format!("{DEMO}/connections/external-id"))
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let outsider = app
        .get_as(&rick, &format!("{DEMO}/connections/external-id"))
        .await;
    assert_eq!(outsider.status, StatusCode::NOT_FOUND);
    assert!(!outsider.text().contains(&id));

    // A tenant cannot choose it: a sent `external_id` is not stored or used.
    let created = app
        .as_user(
            &admin,
            Method::POST,
            &format!("{DEMO}/connections"),
            Some(
                json!({"name": "chosen", "region": "us-east-1", "role_arn": ROLE,
                        "cluster_id": "j-1", "external_id": "guessable"}),
            ),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    let after = app
        .get_as(&admin, &format!("{DEMO}/connections/external-id"))
        .await;
    assert_eq!(after.json()["external_id"], id.as_str());
    // Its permissions policy names its one cluster.
    assert_eq!(
        created.json()["permissions_policy"]["Statement"][0]["Resource"],
        "arn:aws:elasticmapreduce:us-east-1:123456789012:cluster/j-1"
    );
}

async fn assume_role_carries_the_tenants_external_id_and_only_the_role_calls_emr(backend: Backend) {
    let aws = Emulator::start();
    let cluster = aws.cluster("us-east-1").await;
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let external_id = app
        .get_as(&admin, &format!("{DEMO}/connections/external-id"))
        .await
        .json()["external_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let created = app
        .as_user(
            &admin,
            Method::POST,
            &format!("{DEMO}/connections"),
            Some(aws.connection_body(&cluster)),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    let id = created.json()["id"].as_str().unwrap().to_owned();
    let tested = app
        .as_user(
            &admin,
            Method::POST,
            &format!("{DEMO}/connections/{id}/test"),
            None,
        )
        .await;
    assert_eq!(tested.status, StatusCode::OK, "{}", tested.text());

    let assumed = aws.read("sts/assumed").await;
    let assumed = assumed.as_array().unwrap();
    assert_eq!(assumed.len(), 1, "{assumed:?}");
    assert_eq!(assumed[0]["role_arn"], ROLE);
    assert_eq!(assumed[0]["external_id"], external_id.as_str());
    assert_eq!(assumed[0]["session_name"], "trellis-demo");
    // The server's own key assumed the role …
    assert_eq!(assumed[0]["access_key_id"], ACCESS_KEY_ID);
    // … and the tenant's EMR call ran with the role's credentials only.
    let signers = aws.read("signers").await;
    let described: Vec<&str> = signers
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["action"] == "DescribeCluster")
        .map(|s| s["access_key_id"].as_str().unwrap())
        .collect();
    assert_eq!(described.len(), 1, "{signers}");
    assert!(
        described[0].starts_with("ASIA") && described[0] != ACCESS_KEY_ID,
        "{signers}"
    );
}
