//! The PySpark scripts of the data components on the AWS emulator: `trellis
//! spark upload` puts the ones the binary carries at a `script_location`, and
//! publishing a process that runs on EMR checks, as the connection's role,
//! that every script its nodes need is there.

use crate::common::emulator::{Emulator, ACCESS_KEY_ID, SECRET_ACCESS_KEY};
use crate::common::{Backend, TestApp};
use axum::http::{Method, StatusCode};
use serde_json::{json, Value};
use std::process::Command;

on_both_backends!(publishing_for_emr_needs_the_scripts_at_their_location);

const DEMO: &str = "/api/v1/tenants/demo";

/// The scripts as the repository has them, by file name.
pub fn scripts() -> Vec<(String, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../spark");
    [
        "trellis_common.py",
        "ingest_file.py",
        "quality_check.py",
        "transform_sql.py",
        "export_file.py",
    ]
    .iter()
    .map(|name| {
        let text = std::fs::read_to_string(dir.join(name)).unwrap();
        (name.to_string(), text)
    })
    .collect()
}

/// `trellis spark upload <to>` against the emulator, with keys in the
/// environment as an operator would have them.
fn upload(aws: &Emulator, to: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_trellis"))
        .args(["spark", "upload", to, "--endpoint-url", &aws.url])
        .env_clear()
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap()
}

async fn object(aws: &Emulator, bucket: &str, key: &str) -> Option<String> {
    let out = aws
        .s3("us-east-1")
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .ok()?;
    let bytes = out.body.collect().await.unwrap().into_bytes();
    Some(String::from_utf8(bytes.to_vec()).unwrap())
}

async fn publish(app: &TestApp, s: &crate::common::Session, graph: Value) -> (StatusCode, Value) {
    let draft = app
        .as_user(
            s,
            Method::POST,
            &format!("{DEMO}/processes"),
            Some(
                json!({"name": format!("spark {}", uuid::Uuid::new_v4().simple()), "graph": graph}),
            ),
        )
        .await;
    assert_eq!(draft.status, StatusCode::CREATED, "{}", draft.text());
    let id = draft.json()["id"].as_str().unwrap().to_owned();
    let published = app
        .as_user(
            s,
            Method::POST,
            &format!("{DEMO}/processes/{id}/versions"),
            Some(json!({})),
        )
        .await;
    (published.status, published.json())
}

async fn publishing_for_emr_needs_the_scripts_at_their_location(backend: Backend) {
    let aws = Emulator::start();
    let cluster = aws.cluster("us-east-1").await;
    let s3 = aws.s3("us-east-1");
    for bucket in ["trellis-components", "acme-scripts"] {
        s3.create_bucket().bucket(bucket).send().await.unwrap();
    }
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let connection = app.emulated_connection(&admin, &aws, &cluster).await;
    let graph = |script_location: Option<&str>| {
        let mut check = json!({"dataset": "orders", "rules": "not_null(id)"});
        if let Some(location) = script_location {
            check["script_location"] = json!(location);
        }
        json!({
            "connection": connection,
            "nodes": [
                {"id": "ingest", "component": "ingest.file",
                 "params": {"source": "s3://acme-raw/orders.csv", "dataset": "orders"}},
                {"id": "check", "component": "quality.check", "params": check},
                {"id": "wait", "component": "sleep", "params": {"seconds": 1}},
            ],
            "edges": [{"from": "ingest", "to": "check"}, {"from": "check", "to": "wait"}],
        })
    };

    // Nothing uploaded yet: each data node is told which file is missing
    // from its folder, and how to put it there.
    let (status, body) = publish(&app, &admin, graph(None)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let errors = body["errors"].as_array().unwrap();
    for (node, script) in [("ingest", "ingest_file.py"), ("check", "quality_check.py")] {
        for file in [script, "trellis_common.py"] {
            let url = format!("s3://trellis-components/v1/{file}");
            assert!(
                errors.iter().any(|e| e["node"] == node
                    && e["field"] == "params.script_location"
                    && e["code"] == "script_missing"
                    && e["message"]
                        .as_str()
                        .unwrap()
                        .starts_with(&format!("{url} does not exist"))
                    && e["message"]
                        .as_str()
                        .unwrap()
                        .contains("trellis spark upload s3://trellis-components/v1")),
                "{node} needs {url}: {body}"
            );
        }
    }
    assert!(!errors.iter().any(|e| e["node"] == "wait"), "{body}");

    // The operator uploads them: byte for byte the repository's scripts.
    let out = upload(&aws, "s3://trellis-components/v1/");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stdout);
    for (name, text) in scripts() {
        assert!(
            said.contains(&format!("uploaded s3://trellis-components/v1/{name}")),
            "{said}"
        );
        assert_eq!(
            object(&aws, "trellis-components", &format!("v1/{name}"))
                .await
                .as_deref(),
            Some(text.as_str()),
            "{name} as uploaded"
        );
    }
    let (status, body) = publish(&app, &admin, graph(None)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    // A node pointing elsewhere is checked there; a folder the role may not
    // read says so.
    let (status, body) = publish(&app, &admin, graph(Some("s3://acme-scripts/trellis"))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let errors = body["errors"].as_array().unwrap();
    assert!(errors.iter().all(|e| e["node"] == "check"), "{body}");
    assert!(
        errors.iter().any(|e| e["message"]
            .as_str()
            .unwrap()
            .starts_with("s3://acme-scripts/trellis/quality_check.py does not exist")),
        "{body}"
    );
    let out = upload(&aws, "s3://acme-scripts/trellis");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (status, body) = publish(&app, &admin, graph(Some("s3://acme-scripts/trellis"))).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    aws.control("s3/deny", json!({"bucket": "acme-scripts"}))
        .await;
    let (status, body) = publish(&app, &admin, graph(Some("s3://acme-scripts/trellis/"))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["node"] == "check"
                && e["message"].as_str().unwrap().contains(
                    "cannot be read by the connection's role (it needs s3:GetObject there)"
                )),
        "{body}"
    );

    // A location that refers to the run is checked when the run resolves it;
    // on this server no script is needed at all.
    let mut by_run = graph(Some("{{ params.scripts }}"));
    by_run["params"] =
        json!([{"name": "scripts", "type": "string", "default": "s3://acme-scripts/trellis"}]);
    let (status, body) = publish(&app, &admin, by_run).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let mut local = graph(Some("s3://nowhere/at-all"));
    local["connection"] = Value::Null;
    let (status, body) = publish(&app, &admin, local).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    // On EMR data comes from and goes to S3: a path in the tenant's folders
    // or a URL to post to is refused where it is written.
    let mut on_this_server = graph(None);
    on_this_server["nodes"][0]["params"]["source"] = json!("samples/orders.csv");
    on_this_server["nodes"]
        .as_array_mut()
        .unwrap()
        .push(json!({"id": "export", "component": "export.file",
                     "params": {"dataset": "orders", "destination": "https://example.com/in"}}));
    let (status, body) = publish(&app, &admin, on_this_server).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    for (node, field, value) in [
        ("ingest", "source", "samples/orders.csv"),
        ("export", "destination", "https://example.com/in"),
    ] {
        assert!(
            body["errors"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["node"] == node
                    && e["field"] == format!("params.{field}")
                    && e["code"] == "not_on_emr"
                    && e["message"].as_str().unwrap().contains(&format!(
                        "on EMR the {field} is an s3://bucket/key location, not `{value}`"
                    ))),
            "{body}"
        );
    }

    // A bucket that does not exist is the upload's error, naming the file.
    let out = upload(&aws, "s3://no-such-bucket/v1");
    assert!(!out.status.success());
    let said =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("uploading s3://no-such-bucket/v1/trellis_common.py"),
        "{said}"
    );
}
