//! The data components as the local executor runs them: the real `trellis
//! step …` binary in a tenant folder, over real files and a real HTTP server.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};
use std::path::Path;
use std::sync::{Arc, Mutex};

const ORDERS: &str = include_str!("../../demo/orders.csv");
const CUSTOMERS: &str = include_str!("../../demo/customers.csv");

struct Tenant {
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
}

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Tenant {
    fn new() -> Tenant {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("data/samples")).unwrap();
        Tenant { dir, env: vec![] }
    }

    fn with_samples() -> Tenant {
        let t = Tenant::new();
        t.file("samples/orders.csv", ORDERS.as_bytes());
        t.file("samples/customers.csv", CUSTOMERS.as_bytes());
        t
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn file(&self, path: &str, bytes: &[u8]) {
        let path = self.root().join("data").join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }

    async fn step(&self, args: &[&str]) -> Out {
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_trellis"))
            .arg("step")
            .args(args)
            .env_clear()
            .env("TRELLIS_TENANT_DIR", self.root())
            .env("TRELLIS_RUN", "run-1")
            .env("TRELLIS_NODE", "node-1")
            .env("TRELLIS_OUTBOUND_ALLOW", "127.0.0.1/32")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .output()
            .await
            .unwrap();
        Out {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Runs a step that must succeed.
    async fn ok(&self, args: &[&str]) -> String {
        let out = self.step(args).await;
        assert_eq!(
            out.code, 0,
            "{args:?}\nstdout: {}\nstderr: {}",
            out.stdout, out.stderr
        );
        out.stdout
    }

    /// Ingests `samples/<name>.csv` as dataset `name`.
    async fn ingest_sample(&self, name: &str) {
        let source = format!("--source=samples/{name}.csv");
        let dataset = format!("--dataset={name}");
        self.ok(&["ingest.file", &source, &dataset]).await;
    }

    /// Runs a step that must fail with `code`; answers its stderr.
    async fn fails(&self, code: i32, args: &[&str]) -> String {
        let out = self.step(args).await;
        assert_eq!(
            out.code, code,
            "{args:?}\nstdout: {}\nstderr: {}",
            out.stdout, out.stderr
        );
        out.stderr.trim().to_owned()
    }

    fn dataset(&self, name: &str) -> Value {
        let path = self.root().join("datasets").join(name).join("dataset.json");
        serde_json::from_slice(&std::fs::read(&path).unwrap_or_else(|e| panic!("{path:?}: {e}")))
            .unwrap()
    }

    fn data(&self, name: &str) -> String {
        std::fs::read_to_string(self.root().join("datasets").join(name).join("data.csv")).unwrap()
    }

    fn types(&self, name: &str) -> Vec<(String, String)> {
        self.dataset(name)["columns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["name"].as_str().unwrap().to_owned(),
                    c["type"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[tokio::test]
async fn ingest_reads_csv_infers_types_and_rejects_malformed_rows() {
    let t = Tenant::with_samples();
    let out = t
        .ok(&[
            "ingest.file",
            "--source=samples/orders.csv",
            "--dataset=orders",
        ])
        .await;
    assert!(out.contains("40 rows, 5 columns"), "{out}");
    assert!(
        out.contains("rejected line 29: has 3 fields, expected 5"),
        "{out}"
    );
    let meta = t.dataset("orders");
    assert_eq!(meta["rows"], 40);
    assert_eq!(meta["rejected_rows"], 1);
    assert_eq!(
        meta["produced_by"],
        json!({"run": "run-1", "node": "node-1"})
    );
    assert_eq!(
        t.types("orders"),
        pairs(&[
            ("order_id", "integer"),
            ("customer_id", "integer"),
            ("ordered_on", "date"),
            ("status", "string"),
            ("amount", "number")
        ])
    );
    let rejects = std::fs::read_to_string(t.root().join("datasets/orders/rejects.csv")).unwrap();
    assert_eq!(
        rejects,
        "line,reason,raw\n29,\"has 3 fields, expected 5\",\"1027,7,2024-03-14\"\n"
    );

    // Failing instead of rejecting leaves the existing dataset as it was.
    let err = t
        .fails(
            1,
            &[
                "ingest.file",
                "--source=samples/orders.csv",
                "--dataset=orders",
                "--on-error=fail",
            ],
        )
        .await;
    assert_eq!(err, "line 29: has 3 fields, expected 5");
    assert_eq!(t.dataset("orders")["rows"], 40);
    let leftovers: Vec<_> = std::fs::read_dir(t.root().join("datasets"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        leftovers,
        ["orders"],
        "no half-written dataset is left behind"
    );
}

#[tokio::test]
async fn ingest_honours_csv_options_and_reports_bad_encoding() {
    let t = Tenant::new();
    t.file(
        "semi.csv",
        "1;'a;b';true\n2;'line\nbreak';false\n3;;\n".as_bytes(),
    );
    t.ok(&[
        "ingest.file",
        "--source=semi.csv",
        "--dataset=semi",
        "--header=false",
        "--delimiter=;",
        "--quote='",
    ])
    .await;
    assert_eq!(
        t.types("semi"),
        pairs(&[
            ("column_1", "integer"),
            ("column_2", "string"),
            ("column_3", "boolean")
        ])
    );
    assert_eq!(
        t.data("semi"),
        "column_1,column_2,column_3\n1,a;b,true\n2,\"line\nbreak\",false\n3,,\n"
    );
    assert_eq!(t.dataset("semi")["columns"][2]["nulls"], 1);

    t.file("tabs.tsv", b"id\tname\n1\tok\n2\tbad \xff byte\n");
    let out = t
        .ok(&[
            "ingest.file",
            "--source=tabs.tsv",
            "--dataset=tabs",
            "--delimiter=tab",
        ])
        .await;
    assert!(
        out.contains("rejected line 3: field 2 (`name`) is not valid UTF-8"),
        "{out}"
    );
    assert_eq!(t.dataset("tabs")["rows"], 1);

    t.file("empty.csv", b"");
    let err = t
        .fails(1, &["ingest.file", "--source=empty.csv", "--dataset=e"])
        .await;
    assert_eq!(err, "the source is empty: it has no header and no rows");
    let err = t
        .fails(
            2,
            &["ingest.file", "--source=semi.csv", "--dataset=Bad-Name"],
        )
        .await;
    assert!(err.contains("`Bad-Name` is not a dataset name"), "{err}");
}

#[tokio::test]
async fn ingest_reads_json_lines() {
    let t = Tenant::new();
    t.file(
        "events.jsonl",
        b"{\"id\": 1, \"kind\": \"click\", \"at\": \"2024-03-01T10:00:00Z\"}\n\
          \n\
          {\"id\": 2, \"kind\": \"view\", \"extra\": {\"page\": \"/\"}, \"score\": 2.5}\n\
          [1, 2]\n\
          {\"id\": 3, oops}\n\
          {\"id\": 4, \"kind\": null}\n",
    );
    let out = t
        .ok(&["ingest.file", "--source=events.jsonl", "--dataset=events"])
        .await;
    assert!(
        out.contains("rejected line 4: is not a JSON object"),
        "{out}"
    );
    assert!(out.contains("rejected line 5: is not valid JSON"), "{out}");
    assert_eq!(
        t.types("events"),
        pairs(&[
            ("id", "integer"),
            ("kind", "string"),
            ("at", "timestamp"),
            ("extra", "string"),
            ("score", "number")
        ])
    );
    assert_eq!(t.dataset("events")["rows"], 3);
    assert_eq!(t.dataset("events")["rejected_rows"], 2);
    assert!(
        t.data("events")
            .contains("2,view,,\"{\"\"page\"\":\"\"/\"\"}\",2.5\n"),
        "{}",
        t.data("events")
    );

    let err = t
        .fails(
            1,
            &[
                "ingest.file",
                "--source=events.jsonl",
                "--dataset=events",
                "--on-error=fail",
            ],
        )
        .await;
    assert_eq!(err, "line 4: is not a JSON object");
}

#[tokio::test]
async fn paths_cannot_leave_the_tenant_folder() {
    let t = Tenant::with_samples();
    std::fs::write(t.root().join("secret.csv"), "password\nhunter2\n").unwrap();
    std::os::unix::fs::symlink(t.root().join("secret.csv"), t.root().join("data/link.csv"))
        .unwrap();
    for (source, want) in [
        ("../secret.csv", "contains `..`"),
        ("/etc/passwd", "is an absolute path"),
        ("link.csv", "leads outside the tenant's data folder"),
        (
            "samples/nope.csv",
            "`samples/nope.csv` does not exist in the tenant's data folder",
        ),
        (
            "s3://bucket/orders.csv",
            "S3 locations are reached through the process's AWS connection, and this process has none",
        ),
    ] {
        let err = t
            .fails(
                1,
                &["ingest.file", &format!("--source={source}"), "--dataset=x"],
            )
            .await;
        assert!(err.contains(want), "{source}: {err}");
    }
    t.ingest_sample("orders").await;
    for (destination, want) in [
        ("../leak.csv", "contains `..`"),
        ("/tmp/leak.csv", "is an absolute path"),
        ("s3://bucket/out.csv", "this process has none"),
    ] {
        let err = t
            .fails(
                1,
                &[
                    "export.file",
                    "--dataset=orders",
                    &format!("--destination={destination}"),
                ],
            )
            .await;
        assert!(err.contains(want), "{destination}: {err}");
    }
    std::fs::create_dir_all(t.root().join("exports")).unwrap();
    std::os::unix::fs::symlink(t.root(), t.root().join("exports/up")).unwrap();
    let err = t
        .fails(
            1,
            &[
                "export.file",
                "--dataset=orders",
                "--destination=up/leak.csv",
            ],
        )
        .await;
    assert!(
        err.contains("leads outside the tenant's export folder"),
        "{err}"
    );
    assert!(!t.root().join("leak.csv").exists());
}

#[derive(Default)]
struct Received {
    content_type: String,
    body: Vec<u8>,
}

/// A loopback HTTP server: `/orders.csv`, `/big.csv` (2 MiB), `/slow.csv`
/// (answers after 10 s), `/missing` (404), `POST /upload`, `POST /reject` (500).
async fn http_server() -> (String, Arc<Mutex<Received>>) {
    let received = Arc::new(Mutex::new(Received::default()));
    let app = Router::new()
        .route("/orders.csv", get(|| async { ORDERS }))
        .route("/big.csv", get(|| async { "x\n".repeat(1 << 20) }))
        .route(
            "/slow.csv",
            get(|| async {
                tokio::time::sleep(std::time::Duration::from_secs(10)).await;
                "x\n1\n"
            }),
        )
        .route("/missing", get(|| async { StatusCode::NOT_FOUND }))
        .route(
            "/upload",
            post(|State(r): State<Arc<Mutex<Received>>>, headers: HeaderMap, body: Bytes| async move {
                let mut r = r.lock().unwrap();
                r.content_type = headers["content-type"].to_str().unwrap().to_owned();
                r.body = body.to_vec();
                StatusCode::CREATED
            }),
        )
        .route("/reject", post(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "disk full") }))
        .with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, received)
}

#[tokio::test]
async fn urls_are_fetched_within_size_and_time_limits() {
    let (base, _) = http_server().await;
    let mut t = Tenant::new();
    t.env = vec![
        ("TRELLIS_FETCH_MAX_BYTES".into(), "1000000".into()),
        ("TRELLIS_FETCH_TIMEOUT_SECONDS".into(), "1".into()),
    ];
    let out = t
        .ok(&[
            "ingest.file",
            &format!("--source={base}/orders.csv"),
            "--dataset=orders",
        ])
        .await;
    assert!(out.contains("40 rows"), "{out}");
    let err = t
        .fails(
            1,
            &[
                "ingest.file",
                &format!("--source={base}/big.csv"),
                "--dataset=big",
            ],
        )
        .await;
    assert_eq!(
        err,
        format!("{base}/big.csv is larger than the download limit of 1000000 bytes")
    );
    let err = t
        .fails(
            1,
            &[
                "ingest.file",
                &format!("--source={base}/slow.csv"),
                "--dataset=slow",
            ],
        )
        .await;
    assert_eq!(
        err,
        format!("{base}/slow.csv: no complete answer within the time limit")
    );
    let err = t
        .fails(
            1,
            &[
                "ingest.file",
                &format!("--source={base}/missing"),
                "--dataset=m",
            ],
        )
        .await;
    assert_eq!(err, format!("GET {base}/missing answered 404 Not Found"));
    let work: Vec<_> = std::fs::read_dir(t.root().join("work")).unwrap().collect();
    assert!(work.is_empty(), "downloads are cleaned up: {work:?}");
}

fn report(t: &Tenant, dataset: &str) -> Value {
    serde_json::from_slice(
        &std::fs::read(t.root().join("datasets").join(dataset).join("quality.json")).unwrap(),
    )
    .unwrap()
}

const ORDER_RULES: &str = "not_null(order_id, customer_id, amount)\nunique(order_id)\nrange(amount, 0, 10000)\n\
                           allowed_values(status, 'new', 'paid', 'shipped', 'cancelled')\nrow_count(1, 1000000)";

#[tokio::test]
async fn quality_checks_report_violations_and_fail_over_the_threshold() {
    let t = Tenant::with_samples();
    t.ingest_sample("orders").await;

    let out = t
        .ok(&[
            "quality.check",
            "--dataset=orders",
            &format!("--rules={ORDER_RULES}"),
            "--threshold=5%",
        ])
        .await;
    assert!(out.contains("all 5 rules passed"), "{out}");
    let r = report(&t, "orders");
    assert_eq!(r["passed"], true);
    assert_eq!(r["checked_by"], json!({"run": "run-1", "node": "node-1"}));
    let counts: Vec<(String, u64, u64)> = r["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["rule"].as_str().unwrap().to_owned(),
                x["checked"].as_u64().unwrap(),
                x["violations"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        counts,
        [
            ("not_null(order_id, customer_id, amount)".to_owned(), 40, 0),
            ("unique(order_id)".to_owned(), 40, 1),
            ("range(amount, 0, 10000)".to_owned(), 40, 1),
            (
                "allowed_values(status, 'new', 'paid', 'shipped', 'cancelled')".to_owned(),
                40,
                1
            ),
            ("row_count(1, 1000000)".to_owned(), 1, 0),
        ]
    );
    assert_eq!(
        r["rules"][1]["examples"],
        json!([{"row": 18, "values": {"order_id": 1017}, "detail": "same value as row 17"}])
    );
    assert_eq!(
        r["rules"][2]["examples"],
        json!([{"row": 22, "values": {"amount": -15.0}}])
    );
    assert_eq!(
        r["rules"][3]["examples"],
        json!([{"row": 19, "values": {"status": "lost"}}])
    );

    let err = t
        .fails(
            1,
            &[
                "quality.check",
                "--dataset=orders",
                &format!("--rules={ORDER_RULES}"),
                "--threshold=0",
            ],
        )
        .await;
    assert_eq!(
        err,
        "quality check of `orders` failed: 3 of 5 rules over the threshold 0: unique(order_id) (1 violation); \
         range(amount, 0, 10000) (1 violation); allowed_values(status, 'new', 'paid', 'shipped', 'cancelled') (1 violation)"
    );
    assert_eq!(report(&t, "orders")["passed"], false);

    t.ingest_sample("customers").await;
    let err = t
        .fails(
            1,
            &[
                "quality.check",
                "--dataset=customers",
                "--rules=not_null(email)\nregex(email, '^[^@ ]+@[^@ ]+$')\nrow_count(50, 100)",
                "--threshold=10%",
            ],
        )
        .await;
    assert!(
        err.ends_with("1 of 3 rules over the threshold 10%: row_count(50, 100) (1 violation)"),
        "{err}"
    );
    let r = report(&t, "customers");
    assert_eq!(
        r["rules"][0]["examples"],
        json!([{"row": 7, "values": {"email": null}}])
    );
    assert_eq!(
        r["rules"][1]["examples"],
        json!([{"row": 12, "values": {"email": "konrad[at]example.de"}}])
    );
    assert_eq!(
        r["rules"][2]["examples"],
        json!([{"values": {}, "detail": "the dataset has 20 rows"}])
    );
    assert_eq!(r["rules"][2]["violation_percent"], 100.0);
}

#[tokio::test]
async fn quality_check_mistakes_are_explained() {
    let t = Tenant::with_samples();
    let err = t
        .fails(
            1,
            &[
                "quality.check",
                "--dataset=orders",
                "--rules=unique(order_id)",
            ],
        )
        .await;
    assert_eq!(
        err,
        "dataset `orders` does not exist; run the step that writes it before this check"
    );
    t.ingest_sample("orders").await;
    let err = t
        .fails(
            2,
            &[
                "quality.check",
                "--dataset=orders",
                "--rules=unique(order_id)\nrange(amount, 0",
            ],
        )
        .await;
    assert_eq!(err, "rules: line 2, column 16: missing `)`");
    let err = t
        .fails(
            1,
            &["quality.check", "--dataset=orders", "--rules=not_null(amt)"],
        )
        .await;
    assert_eq!(
        err,
        "rule on line 1 (not_null(amt)): dataset `orders` has no column `amt` (its columns: order_id, customer_id, ordered_on, status, amount)"
    );
    let err = t
        .fails(
            2,
            &[
                "quality.check",
                "--dataset=orders",
                "--rules=unique(order_id)",
                "--threshold=lots",
            ],
        )
        .await;
    assert!(err.contains("`lots` is not a threshold"), "{err}");
}

const REVENUE: &str = "SELECT c.country, COUNT(*) AS orders, ROUND(SUM(o.amount), 2) AS revenue, MAX(o.amount > 200) AS big \
                       FROM orders o JOIN customers c ON c.customer_id = o.customer_id \
                       WHERE o.status IN ('paid', 'shipped') AND o.amount >= 0 GROUP BY c.country ORDER BY revenue DESC, c.country";

#[tokio::test]
async fn sql_transforms_read_only_their_inputs() {
    let t = Tenant::with_samples();
    t.ingest_sample("orders").await;
    t.ingest_sample("customers").await;
    let out = t
        .ok(&[
            "transform.sql",
            "--inputs=orders, customers",
            &format!("--sql={REVENUE}"),
            "--dataset=revenue",
        ])
        .await;
    assert!(
        out.contains("wrote dataset `revenue`: 9 rows, 4 columns"),
        "{out}"
    );
    assert_eq!(
        t.types("revenue"),
        pairs(&[
            ("country", "string"),
            ("orders", "integer"),
            ("revenue", "number"),
            ("big", "integer")
        ])
    );
    let data = t.data("revenue");
    assert!(
        data.starts_with("country,orders,revenue,big\nUS,"),
        "{data}"
    );
    assert!(data.contains("\nSE,2,110.0,0\n"), "{data}");

    // Booleans survive a round trip through SQL.
    t.file("flags.csv", b"id,ok\n1,true\n2,false\n");
    t.ok(&["ingest.file", "--source=flags.csv", "--dataset=flags"])
        .await;
    t.ok(&[
        "transform.sql",
        "--inputs=flags",
        "--sql=SELECT id, ok FROM flags WHERE ok",
        "--dataset=good",
    ])
    .await;
    assert_eq!(t.data("good"), "id,ok\n1,true\n");
    assert_eq!(
        t.types("good"),
        pairs(&[("id", "integer"), ("ok", "boolean")])
    );

    let db = t.root().join("other.db");
    for (sql, want) in [
        (
            "SELECT * FROM customers",
            "SQL error: no such table: customers",
        ),
        (
            &format!("ATTACH DATABASE '{}' AS x", db.display()),
            "write one SELECT statement",
        ),
        ("SELECT 1; SELECT 2", "more than one statement"),
        ("DELETE FROM flags", "the SQL must only read"),
        ("CREATE TABLE t (x)", "the SQL must only read"),
        ("SELEKT 1", "SQL error: near \"SELEKT\": syntax error"),
    ] {
        let err = t
            .fails(
                1,
                &[
                    "transform.sql",
                    "--inputs=flags",
                    &format!("--sql={sql}"),
                    "--dataset=out",
                ],
            )
            .await;
        assert!(err.contains(want), "{sql}: {err}");
    }
    assert!(!db.exists());
    let err = t
        .fails(
            1,
            &[
                "transform.sql",
                "--inputs=flags,nope",
                "--sql=SELECT 1",
                "--dataset=out",
            ],
        )
        .await;
    assert_eq!(
        err,
        "input dataset `nope` does not exist; run the step that writes it before this one"
    );
}

#[tokio::test]
async fn exports_write_files_and_post_to_urls() {
    let (base, received) = http_server().await;
    let t = Tenant::with_samples();
    t.ingest_sample("customers").await;

    let out = t
        .ok(&[
            "export.file",
            "--dataset=customers",
            "--destination=daily/customers.csv",
        ])
        .await;
    assert!(out.contains("wrote 20 rows"), "{out}");
    let csv = std::fs::read_to_string(t.root().join("exports/daily/customers.csv")).unwrap();
    assert!(csv.starts_with(
        "customer_id,name,email,country,signed_up\n1,Ada Lovelace,ada@example.com,GB,2023-01-15\n"
    ));
    assert_eq!(csv.lines().count(), 21);

    t.ok(&[
        "export.file",
        "--dataset=customers",
        "--format=jsonl",
        "--destination=customers.jsonl",
    ])
    .await;
    let lines: Vec<Value> = std::fs::read_to_string(t.root().join("exports/customers.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 20);
    assert_eq!(
        lines[6],
        json!({"customer_id": 7, "name": "Claude Shannon", "email": null, "country": "US", "signed_up": "2023-05-01"})
    );

    let out = t
        .ok(&[
            "export.file",
            "--dataset=customers",
            "--format=jsonl",
            &format!("--destination={base}/upload"),
        ])
        .await;
    assert!(out.contains("accepted the export (201)"), "{out}");
    {
        let got = received.lock().unwrap();
        assert_eq!(got.content_type, "application/x-ndjson");
        assert_eq!(got.body.iter().filter(|b| **b == b'\n').count(), 20);
    }
    let err = t
        .fails(
            1,
            &[
                "export.file",
                "--dataset=customers",
                &format!("--destination={base}/reject"),
            ],
        )
        .await;
    assert_eq!(
        err,
        format!("POST {base}/reject answered 500 Internal Server Error"),
        "the remote's answer is not echoed"
    );
    let err = t
        .fails(1, &["export.file", "--dataset=nope", "--destination=x.csv"])
        .await;
    assert_eq!(
        err,
        "dataset `nope` does not exist; run the step that writes it before this export"
    );
}

#[tokio::test]
async fn steps_need_a_tenant_folder() {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_trellis"))
        .args(["step", "ingest.file", "--source=a.csv", "--dataset=a"])
        .env_clear()
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("TRELLIS_TENANT_DIR is not set"));
}
