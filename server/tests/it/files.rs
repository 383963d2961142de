//! The tenant's data folder over the API: uploads streamed as multipart
//! within the upload limit and the disk quota, placed only when whole;
//! list, download and delete; the steps' path rules; editors write,
//! viewers read; an uploaded file is what `ingest.file` reads.

use crate::common::{ended, Backend, Session, TestApp};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::{json, Value};

on_both_backends!(the_data_folder_is_managed_from_the_api_and_never_half_written);

const DEMO: &str = "/api/v1/tenants/demo";
const BOUNDARY: &str = "trellis-test-boundary";

fn multipart(part: &str, content: &[u8]) -> Vec<u8> {
    let mut body = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{part}\"; filename=\"x.csv\"\r\n\
         Content-Type: text/csv\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(content);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    body
}

fn upload_request(s: &Session, query: &str, body: Body) -> Request<Body> {
    Request::builder()
        .method(Method::POST)
        .uri(format!("{DEMO}/files?{query}"))
        .header("cookie", &s.cookie)
        .header("x-csrf-token", &s.csrf)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(body)
        .unwrap()
}

async fn upload(app: &TestApp, s: &Session, query: &str, content: &[u8]) -> crate::common::Reply {
    app.send(upload_request(
        s,
        query,
        Body::from(multipart("file", content)),
    ))
    .await
}

async fn listed(app: &TestApp, s: &Session) -> Vec<(String, u64)> {
    let list = app.get_as(s, &format!("{DEMO}/files")).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text());
    list.json()
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_owned(),
                f["size"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn field_of(reply: &crate::common::Reply) -> Value {
    reply.json()["errors"][0]["field"].clone()
}

async fn the_data_folder_is_managed_from_the_api_and_never_half_written(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let csv = b"id,amount\n1,10\n2,20\n3,oops\n";

    // Upload, list, download: the same bytes, in a folder made for it.
    let up = upload(&app, &admin, "path=uploads/orders.csv", csv).await;
    assert_eq!(up.status, StatusCode::CREATED, "{}", up.text());
    assert_eq!(up.json()["path"], "uploads/orders.csv");
    assert_eq!(up.json()["size"], csv.len());
    assert!(listed(&app, &admin)
        .await
        .contains(&("uploads/orders.csv".to_owned(), csv.len() as u64)));
    let down = app
        .get_as(
            &admin,
            &format!("{DEMO}/files/content?path=uploads%2Forders.csv"),
        )
        .await;
    assert_eq!(down.status, StatusCode::OK);
    assert_eq!(down.body, csv);
    assert_eq!(down.headers["content-type"], "application/octet-stream");
    assert_eq!(
        down.headers["content-disposition"],
        "attachment; filename=\"orders.csv\"; filename*=UTF-8''orders.csv"
    );

    // The same path again needs overwrite=true; then it is replaced.
    let again = upload(&app, &admin, "path=uploads/orders.csv", b"id\n1\n").await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.text());
    assert_eq!(field_of(&again), "path");
    let replaced = upload(&app, &admin, "path=uploads/orders.csv&overwrite=true", csv).await;
    assert_eq!(replaced.status, StatusCode::CREATED);

    // What ingest.file reads by that path.
    let graph = json!({"nodes": [{"id": "load", "component": "ingest.file",
        "params": {"source": "uploads/orders.csv", "dataset": "uploaded"}}], "edges": []});
    let path = app
        .published(&admin, "from an upload", graph, json!({}))
        .await;
    let run = app.start_run(&admin, &path).await;
    let done = app.wait_for_run(&admin, &run, ended).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    let dataset = app
        .get_as(&admin, &format!("{DEMO}/datasets/uploaded"))
        .await
        .json();
    assert_eq!(dataset["rows"], 3, "{dataset}");

    // The steps' path rules, each a 422 naming `path`; a missing file 404.
    let long = "x".repeat(300);
    for bad in [
        "..%2Fescape.csv",
        "%2Fetc%2Fpasswd",
        "uploads%2F",
        "",
        long.as_str(),
    ] {
        let refused = upload(&app, &admin, &format!("path={bad}"), csv).await;
        assert!(
            refused.status == StatusCode::UNPROCESSABLE_ENTITY
                || refused.status == StatusCode::BAD_REQUEST,
            "{bad}: {} {}",
            refused.status,
            refused.text()
        );
        if refused.status == StatusCode::UNPROCESSABLE_ENTITY {
            assert_eq!(field_of(&refused), "path", "{bad}");
        }
    }
    let missing = app
        .get_as(&admin, &format!("{DEMO}/files/content?path=nope.csv"))
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let escape = app
        .get_as(
            &admin,
            &format!("{DEMO}/files/content?path=..%2F..%2Fsecret"),
        )
        .await;
    assert_eq!(escape.status, StatusCode::UNPROCESSABLE_ENTITY);

    // Not multipart, or no `file` part: refused, nothing written.
    let plain = app
        .send(
            Request::builder()
                .method(Method::POST)
                .uri(format!("{DEMO}/files?path=plain.csv"))
                .header("cookie", &admin.cookie)
                .header("x-csrf-token", &admin.csrf)
                .header("content-type", "text/csv")
                .body(Body::from(&csv[..]))
                .unwrap(),
        )
        .await;
    assert_eq!(
        plain.status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "{}",
        plain.text()
    );
    let unnamed = app
        .send(upload_request(
            &admin,
            "path=unnamed.csv",
            Body::from(multipart("other", csv)),
        ))
        .await;
    assert_eq!(unnamed.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(field_of(&unnamed), "file");

    // Past the upload limit (1 MiB here): 413, and nothing is left — not
    // the file, not its staging copy.
    let big = vec![b'x'; (1 << 20) + 10];
    let too_big = upload(&app, &admin, "path=big.csv", &big).await;
    assert_eq!(
        too_big.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "{}",
        too_big.text()
    );
    assert!(
        too_big.text().contains("upload limit"),
        "{}",
        too_big.text()
    );
    // An upload that breaks off mid-way leaves nothing either.
    let mut parts = multipart("file", &vec![b'y'; 200_000]);
    parts.truncate(100_000);
    let stream = futures::stream::iter(vec![
        Ok::<_, std::io::Error>(axum::body::Bytes::from(parts)),
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "the browser went away",
        )),
    ]);
    let broken = app
        .send(upload_request(
            &admin,
            "path=broken.csv",
            Body::from_stream(stream),
        ))
        .await;
    assert_eq!(broken.status, StatusCode::BAD_REQUEST, "{}", broken.text());
    // Past the tenant's disk quota: 413 with the quota's words.
    let quota = app
        .as_user(
            &admin,
            Method::PATCH,
            "/api/v1/admin/tenants/demo",
            Some(json!({"quota_bytes": 300_000})),
        )
        .await;
    assert_eq!(quota.status, StatusCode::OK, "{}", quota.text());
    let over = upload(&app, &admin, "path=over.csv", &vec![b'z'; 600_000]).await;
    assert_eq!(
        over.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "{}",
        over.text()
    );
    assert!(over.text().contains("disk quota"), "{}", over.text());
    let files: Vec<String> = listed(&app, &admin)
        .await
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    for never in [
        "big.csv",
        "broken.csv",
        "over.csv",
        "plain.csv",
        "unnamed.csv",
    ] {
        assert!(
            !files.contains(&never.to_owned()),
            "{never} was kept: {files:?}"
        );
    }
    let work = app
        .state
        .engine
        .tenant_dir(&app.demo_tenant().await)
        .join("work");
    let staged: Vec<_> = std::fs::read_dir(&work)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter(|e| e.path().is_file())
                .collect()
        })
        .unwrap_or_default();
    assert!(staged.is_empty(), "staging copies left: {staged:?}");

    // Viewers list and download; only editors upload and delete.
    let viewer = app.member("demo", "vera", "viewer").await;
    assert_eq!(listed(&app, &viewer).await, listed(&app, &admin).await);
    let read = app
        .get_as(
            &viewer,
            &format!("{DEMO}/files/content?path=uploads%2Forders.csv"),
        )
        .await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(
        upload(&app, &viewer, "path=v.csv", csv).await.status,
        StatusCode::FORBIDDEN
    );
    let delete = format!("{DEMO}/files?path=uploads%2Forders.csv");
    assert_eq!(
        app.as_user(&viewer, Method::DELETE, &delete, None)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.as_user(&admin, Method::DELETE, &delete, None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.as_user(&admin, Method::DELETE, &delete, None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert!(!listed(&app, &admin)
        .await
        .iter()
        .any(|(p, _)| p == "uploads/orders.csv"));
}
