//! Airflow reached as an Amazon MWAA environment, through the AWS emulator's
//! `GetEnvironment` and `InvokeRestApi`: the DAGs folder comes from the
//! environment, every REST call goes through the AWS API signed with the
//! server's own keys, and Airflow's refusals (MWAA's `RestApiClientException`
//! and `RestApiServerException`) reach callers with Airflow's own status and
//! body. The whole path against a real Airflow is in `airflow_e2e`; here the
//! Airflow behind the environment is a small loopback server answering the
//! refusals a real one gives only by accident.

use crate::common::emulator::{Emulator, ACCESS_KEY_ID, SECRET_ACCESS_KEY};
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use server::airflow::{Airflow, AirflowSettings, Door, Folder};
use std::sync::{Arc, Mutex};

type Seen = Arc<Mutex<Vec<String>>>;

/// An Airflow stand-in: a token for the right password; DAG `known`
/// exists, `broken` fails inside Airflow, others are missing; triggering
/// conflicts; every call is noted with its query and token.
async fn airflow() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let note = |seen: &Seen, what: String| seen.lock().unwrap().push(what);
    let app = Router::new()
        .route(
            "/auth/token",
            post(|Json(body): Json<Value>| async move {
                if body["password"] == "mwaa-pw" {
                    (StatusCode::CREATED, Json(json!({"access_token": "jwt-1"})))
                } else {
                    (StatusCode::UNAUTHORIZED, Json(json!({"detail": "bad"})))
                }
            }),
        )
        .route(
            "/api/v2/dags/{dag}",
            get(move |State(seen): State<Seen>, Path(dag): Path<String>, headers: axum::http::HeaderMap| async move {
                note(&seen, format!("GET dag {dag} {:?}", headers.get("authorization")));
                match dag.as_str() {
                    "known" => (StatusCode::OK, Json(json!({"tags": [{"name": "trellis-hash:abc"}], "is_stale": false}))),
                    "broken" => (StatusCode::INTERNAL_SERVER_ERROR, Json(json!({"detail": "database is locked"}))),
                    _ => (StatusCode::NOT_FOUND, Json(json!({"detail": format!("The Dag with ID: `{dag}` was not found")}))),
                }
            }),
        )
        .route(
            "/api/v2/dags/{dag}/dagRuns",
            post(move |State(seen): State<Seen>, Path(dag): Path<String>, Json(body): Json<Value>| async move {
                note(&seen, format!("POST run {dag} {body}"));
                (StatusCode::CONFLICT, Json(json!({"detail": "a run with this logical date exists"})))
            }),
        )
        .route(
            "/api/v2/importErrors",
            get(move |State(seen): State<Seen>, RawQuery(query): RawQuery| async move {
                note(&seen, format!("GET importErrors {}", query.unwrap_or_default()));
                Json(json!({"import_errors": [{"filename": "dags/x.py", "stack_trace": "SyntaxError"}]}))
            }),
        )
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

fn on_mwaa(aws: &Emulator, environment: &str) -> Arc<Airflow> {
    Airflow::new(AirflowSettings {
        door: Door::Mwaa {
            environment: environment.into(),
            region: "us-east-1".into(),
            endpoint_url: Some(aws.url.clone()),
        },
        dags: None,
        credentials: Some(aws_credential_types::Credentials::new(
            ACCESS_KEY_ID,
            SECRET_ACCESS_KEY,
            None,
            None,
            "tests",
        )),
        s3_endpoint_url: Some(aws.url.clone()),
        s3_region: "us-east-1".into(),
        poll: std::time::Duration::from_millis(100),
        retire_after: std::time::Duration::from_secs(3600),
        public_url: "http://127.0.0.1:9".into(),
    })
}

#[tokio::test]
async fn an_mwaa_environment_is_driven_through_the_aws_api_with_airflows_own_answers() {
    let aws = Emulator::start();
    let (url, seen) = airflow().await;
    aws.control(
        "mwaa/environment",
        json!({"name": "analytics", "source_bucket_arn": "arn:aws:s3:::acme-airflow", "dag_s3_path": "dags/",
               "airflow_url": url, "username": "trellis", "password": "mwaa-pw"}),
    )
    .await;
    aws.s3("us-east-1")
        .create_bucket()
        .bucket("acme-airflow")
        .send()
        .await
        .unwrap();
    let af = on_mwaa(&aws, "analytics");

    // The DAGs folder is the environment's; files go there.
    let folder = af.folder().await.unwrap();
    assert_eq!(
        folder,
        &Folder {
            bucket: "acme-airflow".into(),
            prefix: "dags".into()
        }
    );
    af.upload("trellis.demo.p.v1", "# a DAG\n".into())
        .await
        .unwrap();
    let object = aws
        .s3("us-east-1")
        .get_object()
        .bucket("acme-airflow")
        .key("dags/trellis.demo.p.v1.py")
        .send()
        .await
        .unwrap();
    assert_eq!(
        object.body.collect().await.unwrap().into_bytes().as_ref(),
        b"# a DAG\n"
    );

    // Airflow's answers, whatever their status, arrive as Airflow gave them.
    let known = af.api.dag("known").await.unwrap().expect("known DAG");
    assert_eq!(known.tags[0].name, "trellis-hash:abc");
    assert!(
        af.api.dag("missing").await.unwrap().is_none(),
        "a 404 is no DAG"
    );
    let broken = af.api.dag("broken").await.unwrap_err().to_string();
    assert!(
        broken.contains(
            "reading DAG broken: Airflow answered 500 Internal Server Error: database is locked"
        ),
        "{broken}"
    );
    let refused = af
        .api
        .trigger("known", &json!({"trellis": {"run": "r1"}}))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains("409 Conflict: a run with this logical date exists"),
        "{refused}"
    );
    assert_eq!(
        af.api.import_error("x.py").await.unwrap().as_deref(),
        Some("SyntaxError")
    );

    // The calls reached Airflow with its token, queries and bodies intact.
    let seen = seen.lock().unwrap().clone();
    assert!(
        seen.contains(&"GET dag known Some(\"Bearer jwt-1\")".to_owned()),
        "{seen:?}"
    );
    let query = seen
        .iter()
        .find_map(|s| s.strip_prefix("GET importErrors "))
        .unwrap();
    let mut query: Vec<&str> = query.split('&').collect();
    query.sort();
    assert_eq!(query, ["limit=100", "order_by=-import_error_id"]);
    assert!(
        seen.contains(
            &r#"POST run known {"conf":{"trellis":{"run":"r1"}},"logical_date":null}"#.to_owned()
        ),
        "{seen:?}"
    );
    // All through the AWS API, signed with the server's own keys.
    let mwaa = aws.signed("mwaa:").await;
    assert_eq!(mwaa[0]["action"], "mwaa:GetEnvironment");
    assert!(
        mwaa.iter()
            .filter(|s| s["action"] == "mwaa:InvokeRestApi")
            .count()
            >= 5,
        "{mwaa:?}"
    );
    assert!(
        mwaa.iter().all(|s| s["access_key_id"] == ACCESS_KEY_ID),
        "{mwaa:?}"
    );
    assert!(
        mwaa.iter()
            .any(|s| s["path"] == "/dags/known" && s["method"] == "GET"),
        "{mwaa:?}"
    );

    // An environment that does not exist says so, in MWAA's words.
    let gone = on_mwaa(&aws, "nope");
    let missing = gone.api.dag("known").await.unwrap_err().to_string();
    assert!(
        missing.contains("InvokeRestApi of MWAA environment nope: ResourceNotFoundException"),
        "{missing}"
    );
    let folder = gone.folder().await.unwrap_err();
    assert!(
        folder.contains("GetEnvironment of MWAA environment nope"),
        "{folder}"
    );
}
