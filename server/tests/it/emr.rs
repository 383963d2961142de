//! Processes on EMR through the AWS emulator: steps named for their run,
//! task and attempt, watched to their end, failures reported with EMR's
//! details, stops sent as CancelSteps and followed until EMR confirms.

use crate::common::emulator::Emulator;
use crate::common::{ended, task, Backend, Session, TestApp};
use axum::http::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::Duration;

on_both_backends!(
    run_values_become_single_step_arguments,
    a_process_runs_as_named_steps_on_the_tenants_cluster,
    a_failed_step_fails_its_task_with_emrs_failure_details,
    a_stop_cancels_the_step_and_waits_for_emr_to_confirm,
    when_emr_refuses_to_cancel_the_task_log_says_so,
    where_a_process_runs_is_checked_at_publish,
    a_retry_adds_steps_only_for_what_failed,
    a_deleted_connection_stops_its_watches_at_once,
    a_changed_connection_is_used_as_changed_from_its_next_call,
    an_emr_tasks_log_is_what_the_cluster_shipped,
);

const DEMO: &str = "/api/v1/tenants/demo";

struct Setup {
    app: TestApp,
    aws: Emulator,
    admin: Session,
    connection: String,
    cluster: String,
}

async fn setup(backend: Backend, auto: Value) -> Setup {
    let aws = Emulator::start();
    aws.control("emr/auto", auto).await;
    let cluster = aws.cluster("us-east-1").await;
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let connection = app.emulated_connection(&admin, &aws, &cluster).await;
    Setup {
        app,
        aws,
        admin,
        connection,
        cluster,
    }
}

/// Publishes `graph` as a new process; its path.
async fn published(s: &Setup, graph: Value) -> String {
    s.app.published(&s.admin, "on emr", graph, json!({})).await
}

fn fast() -> Value {
    json!({"enabled": true, "pending_seconds": 0.1, "running_seconds": 0.3, "final": "COMPLETED"})
}

async fn a_process_runs_as_named_steps_on_the_tenants_cluster(backend: Backend) {
    let s = setup(backend, fast()).await;
    let graph = json!({
        "connection": s.connection,
        "nodes": [{"id": "wait", "component": "sleep", "params": {"seconds": 5}}, {"id": "then", "component": "noop"}],
        "edges": [{"from": "wait", "to": "then"}],
    });
    let path = published(&s, graph).await;
    let run = s.app.start_run(&s.admin, &path).await;
    let done = s.app.wait_for_run(&s.admin, &run, ended).await;
    assert_eq!(done["state"], "succeeded", "{done}");

    let reference = task(&done, "C_wait")["external_ref"].as_str().unwrap();
    assert!(
        reference.starts_with(&format!("emr:{}/{}/s-", s.connection, s.cluster)),
        "{reference}"
    );
    let steps = s.aws.read("emr/steps").await;
    let mut seen: Vec<(String, Value, String)> = steps
        .as_array()
        .unwrap()
        .iter()
        .map(|st| {
            (
                st["name"].as_str().unwrap().to_owned(),
                st["args"].clone(),
                st["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    seen.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        seen,
        vec![
            (
                format!("trellis:{run}:C_then:1"),
                json!(["true"]),
                "COMPLETED".to_owned()
            ),
            (
                format!("trellis:{run}:C_wait:1"),
                json!(["sleep", "5"]),
                "COMPLETED".to_owned()
            ),
        ]
    );
    let calls = s.aws.read("calls").await;
    assert_eq!(calls["AddJobFlowSteps"], 2, "{calls}");
    let log = s
        .app
        .get_as(&s.admin, &format!("{DEMO}/runs/{run}/tasks/C_wait/log"))
        .await
        .text();
    assert!(log.contains("submitted as EMR step s-"), "{log}");
}

async fn run_values_become_single_step_arguments(backend: Backend) {
    let s = setup(backend, fast()).await;
    let graph = json!({
        "connection": s.connection,
        "params": [{"name": "wait", "type": "integer", "default": 5}, {"name": "why", "type": "string"}],
        "nodes": [{"id": "wait", "component": "sleep", "params": {"seconds": "{{ params.wait }}"}},
                  {"id": "say", "component": "fail", "params": {"message": "{{ params.why }} (v{{ version }})"}}],
        "edges": [],
    });
    let path = published(&s, graph).await;
    let hostile = "x\" ; rm -rf / # {{ params.wait }} $(id)";
    let started = s
        .app
        .as_user(
            &s.admin,
            axum::http::Method::POST,
            &format!("{path}/runs"),
            Some(json!({"params": {"wait": 2, "why": hostile}})),
        )
        .await;
    assert_eq!(started.status, 201, "{}", started.text());
    let run = started.json()["id"].as_str().unwrap().to_owned();
    s.app.wait_for_run(&s.admin, &run, ended).await;
    let steps = s.aws.read("emr/steps").await;
    let args = |name: &str| {
        steps
            .as_array()
            .unwrap()
            .iter()
            .find(|st| st["name"] == format!("trellis:{run}:C_{name}:1"))
            .map(|st| st["args"].clone())
            .unwrap()
    };
    assert_eq!(args("wait"), json!(["sleep", "2"]));
    assert_eq!(
        args("say"),
        json!([
            "bash",
            "-c",
            "echo \"$0\" >&2; exit 1",
            format!("{hostile} (v1)")
        ]),
        "the value is one argument, as given"
    );
}

async fn a_failed_step_fails_its_task_with_emrs_failure_details(backend: Backend) {
    let s = setup(
        backend,
        json!({"enabled": true, "pending_seconds": 0.1, "running_seconds": 0.2, "final": "FAILED"}),
    )
    .await;
    let graph = json!({"connection": s.connection, "nodes": [{"id": "a", "component": "noop"}, {"id": "b", "component": "noop"}],
                       "edges": [{"from": "a", "to": "b"}]});
    let path = published(&s, graph).await;
    let run = s.app.start_run(&s.admin, &path).await;
    let done = s.app.wait_for_run(&s.admin, &run, ended).await;
    assert_eq!(done["state"], "failed");
    let error = task(&done, "W_a")["error"].as_str().unwrap();
    assert!(error.contains("failed: Step failed (emulated)"), "{error}");
    assert!(
        error.contains("the emulator was told to fail every step"),
        "{error}"
    );
    assert!(
        error.contains("(log: s3://emulator-logs/steps/s-"),
        "{error}"
    );
    assert_eq!(task(&done, "C_b")["state"], "skipped");
}

async fn a_stop_cancels_the_step_and_waits_for_emr_to_confirm(backend: Backend) {
    let s = setup(backend, json!({"enabled": true, "pending_seconds": 0.05, "running_seconds": 60, "cancel_seconds": 0.5})).await;
    let graph = json!({"connection": s.connection, "nodes": [{"id": "long", "component": "sleep", "params": {"seconds": 3600}}], "edges": []});
    let path = published(&s, graph).await;
    let run = s.app.start_run(&s.admin, &path).await;
    s.app
        .wait_for_run(&s.admin, &run, |r| task(r, "W_long")["state"] == "running")
        .await;
    // Let the step get going on the cluster.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stop = s
        .app
        .as_user(
            &s.admin,
            Method::POST,
            &format!("{DEMO}/runs/{run}/stop"),
            None,
        )
        .await;
    assert_eq!(stop.status, StatusCode::ACCEPTED, "{}", stop.text());
    assert_eq!(stop.json()["state"], "cancelling");
    // EMR takes a while to confirm; until then the run says cancelling.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let meanwhile = s
        .app
        .get_as(&s.admin, &format!("{DEMO}/runs/{run}"))
        .await
        .json();
    assert_eq!(meanwhile["state"], "cancelling", "{meanwhile}");
    let done = s.app.wait_for_run(&s.admin, &run, ended).await;
    assert_eq!(done["state"], "cancelled", "{done}");
    assert_eq!(task(&done, "W_long")["state"], "cancelled");
    let steps = s.aws.read("emr/steps").await;
    assert_eq!(steps[0]["state"], "CANCELLED");
    assert_eq!(s.aws.read("calls").await["CancelSteps"], 1);
}

async fn when_emr_refuses_to_cancel_the_task_log_says_so(backend: Backend) {
    let s = setup(backend, json!({"enabled": true, "pending_seconds": 0.05, "running_seconds": 1.5, "refuse_cancel": true})).await;
    let graph = json!({"connection": s.connection, "nodes": [{"id": "a", "component": "noop"}], "edges": []});
    let path = published(&s, graph).await;
    let run = s.app.start_run(&s.admin, &path).await;
    s.app
        .wait_for_run(&s.admin, &run, |r| task(r, "W_a")["state"] == "running")
        .await;
    let stop = s
        .app
        .as_user(
            &s.admin,
            Method::POST,
            &format!("{DEMO}/runs/{run}/stop"),
            None,
        )
        .await;
    assert_eq!(stop.status, StatusCode::ACCEPTED);
    let done = s.app.wait_for_run(&s.admin, &run, ended).await;
    // EMR ran the step to its end; the run still ends as stopped, and the
    // log tells why the work was not cut short.
    assert_eq!(done["state"], "cancelled", "{done}");
    assert_eq!(task(&done, "W_a")["state"], "succeeded");
    let log = s
        .app
        .get_as(&s.admin, &format!("{DEMO}/runs/{run}/tasks/C_a/log"))
        .await
        .text();
    assert!(log.contains("EMR refused to cancel step s-"), "{log}");
    assert!(
        log.contains("cancelling is refused (emulated); following the step to its end"),
        "{log}"
    );
}

async fn where_a_process_runs_is_checked_at_publish(backend: Backend) {
    let s = setup(backend, fast()).await;
    let local_only = json!({"key": "local.only", "name": "Local only", "category": "Testing", "description": "",
                            "icon": "circle", "params": [], "local": {"program": "true", "args": []}});
    let added = s
        .app
        .as_user(
            &s.admin,
            Method::POST,
            "/api/v1/admin/components",
            Some(local_only),
        )
        .await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.text());
    let emr_only = json!({"key": "emr.only", "name": "EMR only", "category": "Testing", "description": "",
                          "icon": "circle", "params": [], "emr": {"jar": "command-runner.jar", "args": ["true"]}});
    let added = s
        .app
        .as_user(
            &s.admin,
            Method::POST,
            "/api/v1/admin/components",
            Some(emr_only),
        )
        .await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.text());

    let publish = |graph: Value| {
        let s = &s;
        async move {
            let p = s
                .app
                .as_user(
                    &s.admin,
                    Method::POST,
                    &format!("{DEMO}/processes"),
                    Some(json!({"name": format!("p{}", rand_suffix()), "graph": graph})),
                )
                .await;
            let path = format!("{DEMO}/processes/{}", p.json()["id"].as_str().unwrap());
            s.app
                .as_user(
                    &s.admin,
                    Method::POST,
                    &format!("{path}/versions"),
                    Some(json!({})),
                )
                .await
        }
    };
    let unknown = publish(
        json!({"connection": "nope", "nodes": [{"id": "a", "component": "noop"}], "edges": []}),
    )
    .await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(unknown.json()["errors"][0]["field"], "connection");
    assert_eq!(unknown.json()["errors"][0]["code"], "not_found");

    let no_emr = publish(json!({"connection": s.connection, "nodes": [{"id": "a", "component": "local.only"}], "edges": []})).await;
    assert_eq!(no_emr.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(no_emr.json()["errors"][0]["node"], "a");
    assert_eq!(no_emr.json()["errors"][0]["code"], "no_emr");

    let needs =
        publish(json!({"nodes": [{"id": "a", "component": "emr.only"}], "edges": []})).await;
    assert_eq!(needs.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(needs.json()["errors"][0]["field"], "connection");
    assert_eq!(needs.json()["errors"][0]["code"], "required");

    let fine = publish(json!({"connection": s.connection, "nodes": [{"id": "a", "component": "emr.only"}], "edges": []})).await;
    assert_eq!(fine.status, StatusCode::CREATED, "{}", fine.text());
}

/// The EMR step id in a submit's external reference.
fn step_of(run: &Value, submit: &str) -> String {
    let reference = task(run, submit)["external_ref"].as_str().unwrap();
    reference.rsplit('/').next().unwrap().to_owned()
}

async fn a_retry_adds_steps_only_for_what_failed(backend: Backend) {
    // Steps run until the test ends them.
    let s = setup(
        backend,
        json!({"enabled": true, "pending_seconds": 0.05, "running_seconds": 600}),
    )
    .await;
    let graph = json!({"connection": s.connection, "nodes": [{"id": "a", "component": "noop"}, {"id": "b", "component": "noop"}],
                       "edges": [{"from": "a", "to": "b"}]});
    let path = published(&s, graph).await;
    let run = s.app.start_run(&s.admin, &path).await;
    let at_a = s
        .app
        .wait_for_run(&s.admin, &run, |r| task(r, "W_a")["state"] == "running")
        .await;
    s.aws
        .control(
            "emr/step",
            json!({"step_id": step_of(&at_a, "C_a"), "state": "COMPLETED"}),
        )
        .await;
    let at_b = s
        .app
        .wait_for_run(&s.admin, &run, |r| task(r, "W_b")["state"] == "running")
        .await;
    let failure = json!({"reason": "Out of memory", "message": "container killed", "log_file": "s3://logs/b"});
    s.aws
        .control(
            "emr/step",
            json!({"step_id": step_of(&at_b, "C_b"), "state": "FAILED", "failure": failure}),
        )
        .await;
    let failed = s.app.wait_for_run(&s.admin, &run, ended).await;
    assert_eq!(failed["state"], "failed", "{failed}");
    assert_eq!(s.aws.read("calls").await["AddJobFlowSteps"], 2);

    s.aws
        .control("emr/auto", json!({"running_seconds": 0.2}))
        .await;
    let retry = s
        .app
        .as_user(
            &s.admin,
            Method::POST,
            &format!("{DEMO}/runs/{run}/retry"),
            Some(json!({})),
        )
        .await;
    assert_eq!(retry.status, StatusCode::ACCEPTED, "{}", retry.text());
    let done = s.app.wait_for_run(&s.admin, &run, ended).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!(
        s.aws.read("calls").await["AddJobFlowSteps"],
        3,
        "one more step, for b alone"
    );
    let steps = s.aws.read("emr/steps").await;
    let mut names: Vec<String> = steps
        .as_array()
        .unwrap()
        .iter()
        .map(|st| {
            format!(
                "{} {}",
                st["name"].as_str().unwrap(),
                st["state"].as_str().unwrap()
            )
        })
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            format!("trellis:{run}:C_a:1 COMPLETED"),
            format!("trellis:{run}:C_b:1 FAILED"),
            format!("trellis:{run}:C_b:2 COMPLETED"),
        ]
    );
    assert_eq!(
        step_of(&done, "C_a"),
        step_of(&at_a, "C_a"),
        "a's step is kept"
    );
    assert_eq!(task(&done, "W_b")["attempt"], 2);
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::SeqCst)
}

/// The AssumeRole calls made so far, as (role, external id).
async fn assumed(aws: &Emulator) -> Vec<(String, String)> {
    aws.read("sts/assumed")
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["role_arn"].as_str().unwrap().to_owned(),
                a["external_id"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

async fn a_deleted_connection_stops_its_watches_at_once(backend: Backend) {
    let s = setup(
        backend,
        json!({"enabled": true, "pending_seconds": 0.05, "running_seconds": 600}),
    )
    .await;
    let graph = json!({"connection": s.connection, "nodes": [{"id": "long", "component": "sleep", "params": {"seconds": 3600}}], "edges": []});
    let path = published(&s, graph).await;
    let run = s.app.start_run(&s.admin, &path).await;
    s.app
        .wait_for_run(&s.admin, &run, |r| task(r, "W_long")["state"] == "running")
        .await;
    // The step is being watched.
    let started = std::time::Instant::now();
    while s.aws.read("calls").await["ListSteps"].as_u64().unwrap_or(0) < 2 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the step is never read"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let gone = s
        .app
        .as_user(
            &s.admin,
            Method::DELETE,
            &format!("{DEMO}/connections/{}", s.connection),
            None,
        )
        .await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT);
    let done = s
        .app
        .wait_for_run_within(&s.admin, &run, Duration::from_secs(3), ended)
        .await;
    assert_eq!(done["state"], "failed", "{done}");
    let error = task(&done, "W_long")["error"].as_str().unwrap();
    assert!(error.contains("the connection was deleted"), "{error}");

    // Nothing calls AWS with it any more.
    let (calls, assumes) = (s.aws.read("calls").await, assumed(&s.aws).await.len());
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(s.aws.read("calls").await, calls);
    assert_eq!(assumed(&s.aws).await.len(), assumes);
}

async fn a_changed_connection_is_used_as_changed_from_its_next_call(backend: Backend) {
    let s = setup(backend, fast()).await;
    let external_id = s
        .app
        .get_as(&s.admin, &format!("{DEMO}/connections/external-id"))
        .await
        .json()["external_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let graph = json!({"connection": s.connection, "nodes": [{"id": "a", "component": "noop"}], "edges": []});
    let path = published(&s, graph).await;
    let first = s.app.start_run(&s.admin, &path).await;
    let done = s.app.wait_for_run(&s.admin, &first, ended).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    let role = crate::common::emulator::ROLE_ARN;
    assert_eq!(
        assumed(&s.aws).await,
        [(role.to_owned(), external_id.clone())],
        "one AssumeRole, its credentials kept for the whole run"
    );

    let other = "arn:aws:iam::123456789012:role/trellis-other";
    let mut body = s.aws.connection_body(&s.cluster);
    body["role_arn"] = json!(other);
    let changed = s
        .app
        .as_user(
            &s.admin,
            Method::PUT,
            &format!("{DEMO}/connections/{}", s.connection),
            Some(body),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.text());
    let second = s.app.start_run(&s.admin, &path).await;
    let done = s.app.wait_for_run(&s.admin, &second, ended).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!(
        assumed(&s.aws).await.last().cloned(),
        Some((other.to_owned(), external_id)),
        "the changed role, with the same tenant external id"
    );

    // A role AWS refuses: the next submit says so, without stale credentials.
    s.aws.control("sts/deny", json!({"role_arn": role})).await;
    let mut body = s.aws.connection_body(&s.cluster);
    body["role_arn"] = json!(role);
    let back = s
        .app
        .as_user(
            &s.admin,
            Method::PUT,
            &format!("{DEMO}/connections/{}", s.connection),
            Some(body),
        )
        .await;
    assert_eq!(back.status, StatusCode::OK, "{}", back.text());
    let third = s.app.start_run(&s.admin, &path).await;
    let done = s.app.wait_for_run(&s.admin, &third, ended).await;
    assert_eq!(done["state"], "failed", "{done}");
    let error = task(&done, "C_a")["error"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
        + task(&done, "W_a")["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("not authorized to perform: sts:AssumeRole"),
        "{done}"
    );
}

/// Gzips `text`, as EMR ships a log.
fn gzipped(text: &str) -> Vec<u8> {
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(text.as_bytes()).unwrap();
    gz.finish().unwrap()
}

async fn an_emr_tasks_log_is_what_the_cluster_shipped(backend: Backend) {
    let s = setup(
        backend,
        json!({"enabled": true, "pending_seconds": 0.1, "running_seconds": 0.2, "final": "FAILED"}),
    )
    .await;
    let s3 = s.aws.s3("us-east-1");
    s3.create_bucket()
        .bucket("trellis-emr-logs")
        .send()
        .await
        .unwrap();
    let graph = json!({"connection": s.connection, "nodes": [{"id": "a", "component": "noop"}], "edges": []});
    let path = published(&s, graph).await;
    let run = s.app.start_run(&s.admin, &path).await;
    let done = s.app.wait_for_run(&s.admin, &run, ended).await;
    assert_eq!(done["state"], "failed");
    let step = step_of(&done, "C_a");
    let log_path = format!("{DEMO}/runs/{run}/tasks/W_a/log");
    let folder = format!("s3://trellis-emr-logs/clusters/{}/steps/{step}/", s.cluster);

    // Minutes pass before EMR ships a step's logs: the panel says so.
    let log = s.app.as_user(&s.admin, Method::GET, &log_path, None).await;
    assert_eq!(log.status, StatusCode::OK);
    let text = log.text();
    assert!(
        text.contains(&format!("EMR has not shipped the logs of step {step} yet")),
        "{text}"
    );
    assert!(text.contains(&folder), "{text}");

    // Shipped: stderr, stdout and (the step failed) EMR's controller log,
    // each under its location; the submit task shows the same.
    let key = format!("clusters/{}/steps/{step}", s.cluster);
    for (file, text) in [
        ("stderr", "Traceback: ValueError: bad row 17\n"),
        ("stdout", "read 1200 rows\n"),
        ("controller", "INFO Step failed with exitCode 1\n"),
    ] {
        s3.put_object()
            .bucket("trellis-emr-logs")
            .key(format!("{key}/{file}.gz"))
            .body(gzipped(text).into())
            .send()
            .await
            .unwrap();
    }
    for task in ["W_a", "C_a"] {
        let log_path = format!("{DEMO}/runs/{run}/tasks/{task}/log");
        let log = s.app.as_user(&s.admin, Method::GET, &log_path, None).await;
        assert_eq!(log.status, StatusCode::OK);
        let text = log.text();
        let stderr = text.find(&format!(
            "=== stderr ({folder}stderr.gz) ===\nTraceback: ValueError: bad row 17\n"
        ));
        let stdout = text.find(&format!(
            "=== stdout ({folder}stdout.gz) ===\nread 1200 rows\n"
        ));
        let controller = text.find("=== controller (");
        assert!(
            stderr.is_some() && stdout > stderr && controller > stdout,
            "{text}"
        );
        assert!(text.contains("INFO Step failed with exitCode 1"), "{text}");
        assert!(
            text.find("submitted as EMR step") < stderr,
            "Trellis's own notes come first: {text}"
        );
    }
}
