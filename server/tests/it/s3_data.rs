//! `s3://` sources and destinations of the data steps, on the AWS emulator:
//! the real `trellis step …` binary with a connection's credentials, and a
//! whole process whose steps run on this server as the connection's role.

use crate::common::emulator::{Emulator, ACCESS_KEY_ID, ROLE_ARN};
use crate::common::{ended, task, Backend, TestApp};
use aws_sdk_s3::primitives::ByteStream;
use axum::http::{Method, StatusCode};
use serde_json::{json, Value};
use std::path::Path;

on_both_backends!(a_process_on_this_server_reads_and_writes_s3_as_its_connections_role);

const ORDERS: &str = include_str!("../../demo/orders.csv");
const DEMO: &str = "/api/v1/tenants/demo";

async fn bucket(aws: &Emulator, name: &str) {
    aws.s3("us-east-1")
        .create_bucket()
        .bucket(name)
        .send()
        .await
        .unwrap();
}

async fn put(aws: &Emulator, bucket: &str, key: &str, body: impl Into<ByteStream>) {
    aws.s3("us-east-1")
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(body.into())
        .send()
        .await
        .unwrap();
}

async fn get(aws: &Emulator, bucket: &str, key: &str) -> Option<String> {
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

/// What one step did: its exit code, output, and peak memory (KiB).
struct Out {
    code: i32,
    stdout: String,
    stderr: String,
    max_rss_kib: i64,
}

/// Runs `trellis step …` in `tenant` as the engine would for a process with
/// a connection (or without one: `aws` false), and waits for it with
/// `wait4` to learn its peak memory.
#[allow(clippy::zombie_processes)] // reaped by `wait4`, which `Child` cannot do
fn step(tenant: &Path, aws: Option<&Emulator>, args: &[&str]) -> Out {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_trellis"));
    command
        .arg("step")
        .args(args)
        .env_clear()
        .env("TRELLIS_TENANT_DIR", tenant)
        .env("TRELLIS_RUN", "run-1")
        .env("TRELLIS_NODE", "node-1")
        .env("TRELLIS_OUTBOUND_ALLOW", "127.0.0.1/32")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    if let Some(aws) = aws {
        // As `aws::step_env` gives them: an assumed role's keys (moto takes any).
        command
            .env("TRELLIS_AWS_CONNECTION", "emulated")
            .env("AWS_ACCESS_KEY_ID", "ASIASTEPTESTKEY00001")
            .env("AWS_SECRET_ACCESS_KEY", "step-secret")
            .env("AWS_SESSION_TOKEN", "step-token")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ENDPOINT_URL", &aws.url);
    }
    let mut child = command.spawn().unwrap();
    let (mut stdout, mut stderr) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let out = std::thread::spawn(move || {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut text).unwrap();
        text
    });
    let err = std::thread::spawn(move || {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut stderr, &mut text).unwrap();
        text
    });
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = child.id() as libc::pid_t;
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(waited, pid, "wait4: {}", std::io::Error::last_os_error());
    Out {
        code: if libc::WIFEXITED(status) {
            libc::WEXITSTATUS(status)
        } else {
            -1
        },
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
        max_rss_kib: usage.ru_maxrss,
    }
}

fn ok(tenant: &Path, aws: &Emulator, args: &[&str]) -> Out {
    let out = step(tenant, Some(aws), args);
    assert_eq!(
        out.code, 0,
        "{args:?}\nstdout: {}\nstderr: {}",
        out.stdout, out.stderr
    );
    out
}

fn fails(tenant: &Path, aws: Option<&Emulator>, args: &[&str]) -> String {
    let out = step(tenant, aws, args);
    assert_eq!(out.code, 1, "{args:?} should fail\nstdout: {}", out.stdout);
    out.stderr
}

fn rows(tenant: &Path, dataset: &str) -> u64 {
    let meta: Value = serde_json::from_slice(
        &std::fs::read(tenant.join("datasets").join(dataset).join("dataset.json")).unwrap(),
    )
    .unwrap();
    meta["rows"].as_u64().unwrap()
}

fn data(tenant: &Path, dataset: &str) -> String {
    std::fs::read_to_string(tenant.join("datasets").join(dataset).join("data.csv")).unwrap()
}

#[tokio::test]
async fn s3_sources_and_destinations_are_streamed_and_written_whole_or_not_at_all() {
    let aws = Emulator::start();
    bucket(&aws, "acme-raw").await;
    bucket(&aws, "acme-out").await;
    put(&aws, "acme-raw", "orders.csv", ORDERS.as_bytes().to_vec()).await;
    let tenant = tempfile::tempdir().unwrap();
    let t = tenant.path();
    std::fs::create_dir_all(t.join("data")).unwrap();
    std::fs::write(t.join("data/orders.csv"), ORDERS).unwrap();

    // One object reads as the same file in the tenant's folder does.
    let out = ok(
        t,
        &aws,
        &[
            "ingest.file",
            "--source=s3://acme-raw/orders.csv",
            "--dataset=from_s3",
        ],
    );
    assert!(out.stdout.contains("downloaded 1 object"), "{}", out.stdout);
    ok(
        t,
        &aws,
        &["ingest.file", "--source=orders.csv", "--dataset=from_file"],
    );
    assert_eq!(data(t, "from_s3"), data(t, "from_file"));
    assert!(rows(t, "from_s3") > 0);

    // A prefix reads every object under it in key order, its header once.
    let (header, body) = ORDERS.split_once('\n').unwrap();
    let lines: Vec<&str> = body.lines().collect();
    let half = lines.len() / 2;
    let part = |rows: &[&str]| format!("{header}\n{}\n", rows.join("\n"));
    put(
        &aws,
        "acme-raw",
        "daily/part-2.csv",
        part(&lines[half..]).into_bytes(),
    )
    .await;
    put(
        &aws,
        "acme-raw",
        "daily/part-1.csv",
        part(&lines[..half]).into_bytes(),
    )
    .await;
    put(&aws, "acme-raw", "daily/", Vec::new()).await; // a console-made folder marker
    let out = ok(
        t,
        &aws,
        &[
            "ingest.file",
            "--source=s3://acme-raw/daily/",
            "--dataset=daily",
        ],
    );
    assert!(
        out.stdout.contains("downloaded 2 objects"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.find("daily/part-1.csv").unwrap() < out.stdout.find("daily/part-2.csv").unwrap(),
        "{}",
        out.stdout
    );
    assert_eq!(data(t, "daily"), data(t, "from_file"));

    // Parts with other columns, a missing object, an empty prefix, a bucket
    // the role may not read, and no connection at all: clear task errors.
    put(
        &aws,
        "acme-raw",
        "mixed/a.csv",
        b"id,amount\n1,2\n".to_vec(),
    )
    .await;
    put(&aws, "acme-raw", "mixed/b.csv", b"id,total\n3,4\n".to_vec()).await;
    let err = fails(
        t,
        Some(&aws),
        &[
            "ingest.file",
            "--source=s3://acme-raw/mixed/",
            "--dataset=mixed",
        ],
    );
    assert!(
        err.contains(
            "s3://acme-raw/mixed/b.csv starts with the header `id,total`, not `id,amount`"
        ),
        "{err}"
    );
    let err = fails(
        t,
        Some(&aws),
        &[
            "ingest.file",
            "--source=s3://acme-raw/nope.csv",
            "--dataset=x",
        ],
    );
    assert!(
        err.contains("s3://acme-raw/nope.csv does not exist"),
        "{err}"
    );
    let err = fails(
        t,
        Some(&aws),
        &["ingest.file", "--source=s3://acme-raw/none/", "--dataset=x"],
    );
    assert!(
        err.contains("there are no objects under s3://acme-raw/none/"),
        "{err}"
    );
    aws.control("s3/deny", json!({"bucket": "acme-secret"}))
        .await;
    let err = fails(
        t,
        Some(&aws),
        &[
            "ingest.file",
            "--source=s3://acme-secret/orders.csv",
            "--dataset=x",
        ],
    );
    assert!(
        err.contains("s3://acme-secret/orders.csv: access denied; the connection's role needs s3:GetObject on it"),
        "{err}"
    );
    let err = fails(
        t,
        None,
        &[
            "ingest.file",
            "--source=s3://acme-raw/orders.csv",
            "--dataset=x",
        ],
    );
    assert!(err.contains("this process has none"), "{err}");
    assert!(!t.join("datasets/x").exists());

    // Exports are uploaded whole, as the file export writes them.
    ok(
        t,
        &aws,
        &[
            "export.file",
            "--dataset=from_s3",
            "--format=jsonl",
            "--destination=s3://acme-out/orders.jsonl",
        ],
    );
    ok(
        t,
        &aws,
        &[
            "export.file",
            "--dataset=from_s3",
            "--format=jsonl",
            "--destination=orders.jsonl",
        ],
    );
    let exported = get(&aws, "acme-out", "orders.jsonl").await.unwrap();
    assert_eq!(
        exported,
        std::fs::read_to_string(t.join("exports/orders.jsonl")).unwrap()
    );

    // An export whose parts are refused is aborted: no object, no upload left.
    aws.control(
        "s3/deny",
        json!({"bucket": "acme-out", "operations": ["UploadPart"]}),
    )
    .await;
    let err = fails(
        t,
        Some(&aws),
        &[
            "export.file",
            "--dataset=from_s3",
            "--destination=s3://acme-out/broken.csv",
        ],
    );
    assert!(
        err.contains("s3://acme-out/broken.csv: access denied"),
        "{err}"
    );
    assert_eq!(get(&aws, "acme-out", "broken.csv").await, None);
    let uploads = aws
        .s3("us-east-1")
        .list_multipart_uploads()
        .bucket("acme-out")
        .send()
        .await
        .unwrap();
    assert!(uploads.uploads().is_empty(), "{:?}", uploads.uploads());

    // A large object is streamed: ingesting 24 MiB takes no more memory
    // than ingesting a small one (within a few MiB), not the object's size.
    let line = format!("{},{}\n", 1, "x".repeat(1000));
    let mut big = String::from("id,text\n");
    while big.len() < 24 << 20 {
        big.push_str(&line);
    }
    put(&aws, "acme-raw", "big.csv", big.into_bytes()).await;
    let small = ok(
        t,
        &aws,
        &[
            "ingest.file",
            "--source=s3://acme-raw/mixed/a.csv",
            "--dataset=small",
        ],
    );
    let large = ok(
        t,
        &aws,
        &[
            "ingest.file",
            "--source=s3://acme-raw/big.csv",
            "--dataset=big",
        ],
    );
    assert!(rows(t, "big") > 24_000);
    let grown = large.max_rss_kib - small.max_rss_kib;
    assert!(
        grown < 8 << 10,
        "peak memory grew by {grown} KiB for a 24 MiB object ({} → {} KiB)",
        small.max_rss_kib,
        large.max_rss_kib
    );
}

async fn a_process_on_this_server_reads_and_writes_s3_as_its_connections_role(backend: Backend) {
    let aws = Emulator::start();
    let cluster = aws.cluster("us-east-1").await;
    bucket(&aws, "acme-raw").await;
    bucket(&aws, "acme-out").await;
    put(&aws, "acme-raw", "orders.csv", ORDERS.as_bytes().to_vec()).await;
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let connection = app.emulated_connection(&admin, &aws, &cluster).await;
    let signed_before = aws.signed("s3:").await.len();

    let nodes = json!([
        {"id": "ingest", "component": "ingest.file", "params": {"source": "s3://acme-raw/orders.csv", "dataset": "orders"}},
        {"id": "export", "component": "export.file",
         "params": {"dataset": "orders", "format": "jsonl", "destination": "s3://acme-out/daily/orders.jsonl"}},
    ]);
    let edges = json!([{"from": "ingest", "to": "export"}]);

    // `local_steps` needs a connection, and is not for Airflow.
    for (graph, code) in [
        (
            json!({"nodes": nodes, "edges": edges, "local_steps": true}),
            "needs_connection",
        ),
        (
            json!({"nodes": nodes, "edges": edges, "local_steps": true, "connection": connection, "orchestrator": "airflow"}),
            "not_on_airflow",
        ),
    ] {
        let draft = app
            .as_user(
                &admin,
                Method::POST,
                &format!("{DEMO}/processes"),
                Some(json!({"name": code, "graph": graph})),
            )
            .await;
        assert_eq!(draft.status, StatusCode::CREATED, "{}", draft.text());
        let id = draft.json()["id"].as_str().unwrap().to_owned();
        let refused = app
            .as_user(
                &admin,
                Method::POST,
                &format!("{DEMO}/processes/{id}/versions"),
                Some(json!({})),
            )
            .await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            refused.text()
        );
        let body = refused.json();
        assert!(
            body["errors"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["field"] == "local_steps" && e["code"] == code),
            "{body}"
        );
    }

    let graph =
        json!({"connection": connection, "local_steps": true, "nodes": nodes, "edges": edges});
    let path = app
        .published(&admin, "orders to s3", graph, json!({}))
        .await;
    let run = app.start_run(&admin, &path).await;
    let done = app.wait_for_run(&admin, &run, ended).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    // The steps ran here, not as EMR steps.
    assert!(
        task(&done, "C_ingest")["external_ref"]
            .as_str()
            .unwrap()
            .starts_with("pid:"),
        "{done}"
    );
    assert_eq!(aws.read("emr/steps").await, json!([]));

    let s3_calls = aws.signed("s3:").await.split_off(signed_before);
    let exported = get(&aws, "acme-out", "daily/orders.jsonl").await.unwrap();
    assert_eq!(
        exported.lines().count() as u64,
        dataset_rows(&app, &admin, "orders").await
    );
    assert!(
        exported.starts_with("{\"amount\":120.5,") && exported.contains("\"order_id\":1001,"),
        "{exported}"
    );

    // Every S3 call of the steps was signed with the assumed role's keys,
    // never the server's; the role was assumed with the tenant's external id.
    let actions: Vec<&str> = s3_calls
        .iter()
        .map(|s| s["action"].as_str().unwrap())
        .collect();
    for wanted in [
        "s3:GetObject",
        "s3:CreateMultipartUpload",
        "s3:UploadPart",
        "s3:CompleteMultipartUpload",
    ] {
        assert!(actions.contains(&wanted), "{actions:?}");
    }
    assert!(
        s3_calls
            .iter()
            .all(|s| s["access_key_id"] != ACCESS_KEY_ID && s["access_key_id"].is_string()),
        "{s3_calls:?}"
    );
    let assumed = aws.read("sts/assumed").await;
    assert!(
        assumed
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["role_arn"] == ROLE_ARN && a["external_id"].is_string()),
        "{assumed}"
    );

    // A role that may not read the bucket fails the task with S3's reason.
    aws.control("s3/deny", json!({"bucket": "acme-raw"})).await;
    let run = app.start_run(&admin, &path).await;
    let done = app.wait_for_run(&admin, &run, ended).await;
    assert_eq!(done["state"], "failed", "{done}");
    let error = task(&done, "C_ingest")["error"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
        + task(&done, "W_ingest")["error"]
            .as_str()
            .unwrap_or_default();
    assert!(
        error.contains("access denied; the connection's role needs s3:GetObject"),
        "{done}"
    );
}

/// The rows of the tenant's dataset `name`, as the API lists it.
async fn dataset_rows(app: &TestApp, admin: &crate::common::Session, name: &str) -> u64 {
    let list = app
        .as_user(admin, Method::GET, &format!("{DEMO}/datasets"), None)
        .await
        .json();
    let found = list
        .as_array()
        .and_then(|l| l.iter().find(|d| d["name"] == name))
        .unwrap_or_else(|| panic!("{list}"));
    found["rows"].as_u64().unwrap()
}
