//! The demo processes run through the embedded engine, and what they leave
//! behind is readable through the datasets API — in the demo tenant only.

use crate::common::{ended, Backend, Session, TestApp};
use axum::http::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::Duration;

on_both_backends!(
    the_demo_pipeline_runs_and_its_datasets_can_be_read,
    the_strict_demo_fails_on_its_quality_check,
    datasets_belong_to_their_tenant,
);

const DEMO: &str = "/api/v1/tenants/demo";

async fn with_demo(backend: Backend) -> (TestApp, Session) {
    let app = TestApp::start(backend).await;
    let (tenant, admin) = server::db::bootstrap::demo_owner(&app.db)
        .await
        .unwrap()
        .unwrap();
    server::demo::install(&app.db, &app.database.data_dir(), &tenant, &admin)
        .await
        .unwrap();
    let session = app.admin().await;
    (app, session)
}

/// Starts a run of the demo process called `name` and waits for it to end.
async fn run_to_end(app: &TestApp, s: &Session, name: &str) -> Value {
    let list = app.get_as(s, &format!("{DEMO}/processes")).await.json();
    let process = list
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no process {name} in {list}"));
    assert_eq!(process["latest_version"], 1, "{process}");
    let path = format!("{DEMO}/processes/{}", process["id"].as_str().unwrap());
    let run = app.start_run(s, &path).await;
    app.wait_for_run_within(s, &run, Duration::from_secs(60), ended)
        .await
}

async fn the_demo_pipeline_runs_and_its_datasets_can_be_read(backend: Backend) {
    let (app, s) = with_demo(backend).await;
    let run = run_to_end(&app, &s, server::demo::REVENUE_PROCESS).await;
    assert_eq!(run["state"], "succeeded", "{run}");
    let run_id = run["id"].as_str().unwrap();

    let list = app.get_as(&s, &format!("{DEMO}/datasets")).await;
    assert_eq!(list.status, StatusCode::OK);
    let list = list.json();
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["customers", "orders", "revenue_by_country"]);
    let orders = &list[1];
    assert_eq!(orders["rows"], 40);
    assert_eq!(orders["rejected_rows"], 1);
    assert_eq!(
        orders["produced_by"],
        json!({"run": run_id, "node": "ingest_orders"})
    );
    assert!(orders["size_bytes"].as_u64().unwrap() > 1000);

    let revenue = app
        .get_as(&s, &format!("{DEMO}/datasets/revenue_by_country"))
        .await
        .json();
    assert_eq!(
        revenue["columns"],
        json!([
            {"name": "country", "type": "string", "nulls": 0},
            {"name": "orders", "type": "integer", "nulls": 0},
            {"name": "revenue", "type": "number", "nulls": 0},
        ])
    );
    assert_eq!(revenue["rows"], 9);
    assert_eq!(revenue["preview"][0], json!(["US", 11, 1273.44]));
    assert_eq!(revenue["quality"], Value::Null);

    let orders = app
        .get_as(&s, &format!("{DEMO}/datasets/orders"))
        .await
        .json();
    assert_eq!(orders["preview"].as_array().unwrap().len(), 40);
    assert_eq!(
        orders["preview"][0],
        json!([1001, 1, "2024-03-01", "paid", 120.5])
    );
    assert_eq!(
        orders["rejects"],
        json!([{"line": 29, "reason": "has 3 fields, expected 5", "raw": "1027,7,2024-03-14"}])
    );
    assert_eq!(revenue["rejects"], json!([]));
    assert_eq!(orders["quality"]["passed"], true);
    assert_eq!(orders["quality"]["threshold"], "5%");

    let exported = std::fs::read_to_string(
        app.state
            .engine
            .tenant_dir(
                &server::db::bootstrap::demo_owner(&app.db)
                    .await
                    .unwrap()
                    .unwrap()
                    .0,
            )
            .join("exports/revenue_by_country.csv"),
    )
    .unwrap();
    assert!(
        exported.starts_with("country,orders,revenue\nUS,11,1273.44\n"),
        "{exported}"
    );

    // The run form's parameter changes the output: only big orders count.
    let path = format!("{DEMO}/processes/{}", run["process"].as_str().unwrap());
    let big = app
        .as_user(
            &s,
            Method::POST,
            &format!("{path}/runs"),
            Some(json!({"params": {"min_amount": 200}})),
        )
        .await;
    assert_eq!(big.status, StatusCode::CREATED, "{}", big.text());
    assert!(big.json()["resolved"]["nodes"]["revenue"]["sql"]
        .as_str()
        .unwrap()
        .contains("o.amount >= 200\n"));
    let done = app
        .wait_for_run_within(
            &s,
            big.json()["id"].as_str().unwrap(),
            Duration::from_secs(60),
            ended,
        )
        .await;
    assert_eq!(done["state"], "succeeded", "{done}");
    let revenue = app
        .get_as(&s, &format!("{DEMO}/datasets/revenue_by_country"))
        .await
        .json();
    assert_eq!(
        (revenue["rows"].clone(), revenue["preview"][0].clone()),
        (json!(4), json!(["US", 2, 515.1])),
        "{revenue}"
    );

    // Downloads: the whole dataset, streamed, as CSV or typed JSON Lines.
    let csv = app
        .get_as(&s, &format!("{DEMO}/datasets/revenue_by_country/download"))
        .await;
    assert_eq!(csv.status, StatusCode::OK);
    assert_eq!(
        csv.header("content-disposition"),
        "attachment; filename=\"revenue_by_country.csv\""
    );
    assert!(
        csv.text()
            .starts_with("country,orders,revenue\nUS,2,515.1\n"),
        "{}",
        csv.text()
    );
    assert_eq!(csv.text().lines().count(), 5);
    let jsonl = app
        .get_as(
            &s,
            &format!("{DEMO}/datasets/revenue_by_country/download?format=jsonl"),
        )
        .await;
    assert_eq!(jsonl.status, StatusCode::OK);
    let first: Value = serde_json::from_str(jsonl.text().lines().next().unwrap()).unwrap();
    assert_eq!(
        first,
        json!({"country": "US", "orders": 2, "revenue": 515.1})
    );
    assert_eq!(jsonl.text().lines().count(), 4);
    let bad = app
        .get_as(
            &s,
            &format!("{DEMO}/datasets/revenue_by_country/download?format=xlsx"),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.json()["errors"][0]["field"], "format");

    // Lineage: who writes and who reads, by the processes' latest versions.
    let lineage = app
        .get_as(&s, &format!("{DEMO}/datasets/orders/lineage"))
        .await
        .json();
    let uses = |side: &str| -> Vec<(String, String)> {
        lineage[side]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| {
                (
                    u["process_name"].as_str().unwrap().to_owned(),
                    u["node"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let revenue_process = server::demo::REVENUE_PROCESS.to_owned();
    assert_eq!(
        uses("writers"),
        [(revenue_process.clone(), "ingest_orders".to_owned())]
    );
    let readers = uses("readers");
    assert!(
        readers.contains(&(revenue_process.clone(), "check_orders".to_owned())),
        "{lineage}"
    );
    assert!(
        readers.contains(&(revenue_process.clone(), "revenue".to_owned())),
        "{lineage}"
    );
    assert_eq!(lineage["writers"][0]["version"], 1);
    let gone = app
        .get_as(&s, &format!("{DEMO}/datasets/nope/lineage"))
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);

    let missing = app.get_as(&s, &format!("{DEMO}/datasets/nope")).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.header("content-type"), "application/problem+json");
    assert_eq!(missing.json()["detail"], "dataset `nope` not found");
    let odd = app
        .get_as(&s, &format!("{DEMO}/datasets/..%2Fsecrets"))
        .await;
    assert_eq!(odd.status, StatusCode::NOT_FOUND);
}

async fn the_strict_demo_fails_on_its_quality_check(backend: Backend) {
    let (app, s) = with_demo(backend).await;
    let run = run_to_end(&app, &s, server::demo::STRICT_PROCESS).await;
    assert_eq!(run["state"], "failed", "{run}");
    let watch = run["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["key"] == "W_check_contacts")
        .unwrap();
    assert_eq!(watch["state"], "failed");
    let error = watch["error"].as_str().unwrap();
    assert!(
        error.starts_with(
            "quality check of `customers` failed: 2 of 3 rules over the threshold 0: not_null(email) (1 violation); regex(email,"
        ),
        "{error}"
    );
    let customers = app
        .get_as(&s, &format!("{DEMO}/datasets/customers"))
        .await
        .json();
    assert_eq!(customers["quality"]["passed"], false);
    assert_eq!(customers["quality"]["rules"][1]["examples"][0]["row"], 7);
}

async fn datasets_belong_to_their_tenant(backend: Backend) {
    let (app, s) = with_demo(backend).await;
    let run = run_to_end(&app, &s, server::demo::STRICT_PROCESS).await;
    assert_eq!(run["state"], "failed");
    let outsider = app.member("acme", "wile", "tenant_admin").await;
    for path in [
        format!("{DEMO}/datasets"),
        format!("{DEMO}/datasets/customers"),
    ] {
        let reply = app.get_as(&outsider, &path).await;
        assert_eq!(
            reply.status,
            StatusCode::NOT_FOUND,
            "{path}: {}",
            reply.text()
        );
        assert!(!reply.text().contains("Claude"), "{}", reply.text());
    }
    let own = app.get_as(&outsider, "/api/v1/tenants/acme/datasets").await;
    assert_eq!(own.status, StatusCode::OK);
    assert_eq!(own.json(), json!([]));
    let anonymous = app.get("/api/v1/tenants/demo/datasets").await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    let viewer = app.member("demo", "vera", "viewer").await;
    let reply = app
        .get_as(&viewer, &format!("{DEMO}/datasets/customers"))
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()["rows"], 20);
}
