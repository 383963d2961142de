//! A process orchestrated by a real Airflow 3.3 (API server, scheduler and
//! DAG processor on loopback, LocalExecutor, SQLite, DAG files read from the
//! AWS emulator's S3 through `S3DagBundle`), driven by the real `trellis`
//! binary: publish uploads the DAG file and the version is `deploying` until
//! Airflow has parsed it, then `ready`; a run is triggered on Airflow, its
//! steps run on the (emulated) EMR cluster, every task's state arrives over
//! the run's SSE stream; a second run is stopped: Airflow's run is failed,
//! the EMR step cancelled, the run ends `cancelled`. A process whose nodes
//! refer to run parameters gets each run value to EMR as one argument, and
//! a retry of its failed run re-runs only the failed node in the same
//! Airflow run. Prints the latencies the closing note reports (publish →
//! ready, trigger → first task running, whole run, retry).

use crate::common;
use crate::common::airflow::{self, Airflow};
use crate::common::binary::{self, call, sign_in, wait_until};
use crate::common::emulator::{self, Emulator};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

const DEMO: &str = "/api/v1/tenants/demo";

/// Reads a run's SSE stream in a thread until the run ends; every event with
/// when it arrived.
fn follow(addr: &str, cookie: &str, run: &str) -> std::thread::JoinHandle<Vec<(Instant, Value)>> {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET {DEMO}/runs/{run}/events HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookie}\r\n\
         Accept: text/event-stream\r\n\r\n"
    )
    .unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(240)))
        .unwrap();
    std::thread::spawn(move || {
        let mut events = Vec::new();
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            let Some(data) = line.strip_prefix("data:") else {
                continue;
            };
            let Ok(event) = serde_json::from_str::<Value>(data.trim()) else {
                continue;
            };
            let ended = event["task"].is_null()
                && ["succeeded", "failed", "cancelled"]
                    .contains(&event["state"].as_str().unwrap_or(""));
            events.push((Instant::now(), event));
            if ended {
                break;
            }
        }
        events
    })
}

/// How long after `since` the run's `PEntry` was seen running.
fn entry_running(events: &[(Instant, Value)], since: Instant) -> Option<Duration> {
    events
        .iter()
        .find(|(_, e)| e["task"] == "PEntry" && e["state"] == "running")
        .map(|(at, _)| at.duration_since(since))
}

fn states_of(events: &[(Instant, Value)], task: &str) -> Vec<String> {
    events
        .iter()
        .filter(|(_, e)| e["task"] == task)
        .map(|(_, e)| e["state"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_on_airflow_deploys_runs_live_and_stops() {
    if airflow::skipped("a_process_on_airflow_deploys_runs_live_and_stops") {
        return;
    }
    let aws = Emulator::start();
    aws.control(
        "emr/auto",
        json!({"enabled": true, "pending_seconds": 0.2, "running_seconds": 1.0, "final": "COMPLETED"}),
    )
    .await;
    let cluster = aws.cluster("us-east-1").await;
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new("us-east-1"))
            .endpoint_url(&aws.url)
            .force_path_style(true)
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                emulator::ACCESS_KEY_ID,
                emulator::SECRET_ACCESS_KEY,
                None,
                None,
                "tests",
            ))
            .build(),
    );
    s3.create_bucket().bucket("dags").send().await.unwrap();
    // The data components' scripts where their default `script_location` says.
    s3.create_bucket()
        .bucket("trellis-components")
        .send()
        .await
        .unwrap();
    for (name, text) in crate::spark_scripts::scripts() {
        s3.put_object()
            .bucket("trellis-components")
            .key(format!("v1/{name}"))
            .body(text.into_bytes().into())
            .send()
            .await
            .unwrap();
    }

    let af = tokio::task::spawn_blocking({
        let url = aws.url.clone();
        move || Airflow::start(&url, "dags", "trellis")
    })
    .await
    .unwrap();
    let af = std::sync::Arc::new(af);
    let data = tempfile::tempdir().unwrap();
    let server = binary::start_with(
        data.path(),
        &[
            ("TRELLIS_AIRFLOW_URL", &af.url),
            ("TRELLIS_AIRFLOW_USERNAME", airflow::USERNAME),
            ("TRELLIS_AIRFLOW_PASSWORD", airflow::PASSWORD),
            ("TRELLIS_AIRFLOW_DAGS", "s3://dags/trellis"),
            ("TRELLIS_AIRFLOW_S3_ENDPOINT_URL", &aws.url),
            ("TRELLIS_AIRFLOW_POLL_SECONDS", "0.5"),
            ("AWS_ACCESS_KEY_ID", emulator::ACCESS_KEY_ID),
            ("AWS_SECRET_ACCESS_KEY", emulator::SECRET_ACCESS_KEY),
        ],
    );
    let addr = server.addr.clone();
    let connection_body = aws.connection_body(&cluster);
    let report = tokio::task::spawn_blocking({
        let af = af.clone();
        move || {
            let cookie = sign_in(&addr);
            let (status, _, connection) = call(
                &addr,
                "POST",
                &format!("{DEMO}/connections"),
                &cookie,
                Some(connection_body),
            );
            assert_eq!(status, 201, "{connection}");
            let graph = json!({
                "connection": connection["id"], "orchestrator": "airflow",
                "nodes": [{"id": "first", "component": "noop"},
                          {"id": "second", "component": "sleep", "params": {"seconds": 1}}],
                "edges": [{"from": "first", "to": "second"}],
                "params": [{"name": "day", "type": "date"}],
            });
            let (status, _, process) = call(
                &addr,
                "POST",
                &format!("{DEMO}/processes"),
                &cookie,
                Some(json!({"name": "on airflow", "graph": graph})),
            );
            assert_eq!(status, 201, "{process}");
            let path = format!("{DEMO}/processes/{}", process["id"].as_str().unwrap());

            // Publish: the file goes to the DAGs bucket, the version deploys.
            let published = Instant::now();
            let (status, _, version) = call(
                &addr,
                "POST",
                &format!("{path}/versions"),
                &cookie,
                Some(json!({})),
            );
            assert_eq!(status, 201, "{version}");
            assert_eq!(version["deployment"]["state"], "deploying", "{version}");
            let dag_id = version["deployment"]["dag_id"].as_str().unwrap().to_owned();
            // Not runnable until Airflow has parsed it.
            let (status, _, refused) = call(
                &addr,
                "POST",
                &format!("{path}/runs"),
                &cookie,
                Some(json!({})),
            );
            assert_eq!(status, 409, "{refused}");
            assert_eq!(refused["errors"][0]["field"], "version");
            let ready = wait_until(
                &addr,
                &cookie,
                &format!("{path}/versions/1"),
                Duration::from_secs(120),
                |v| v["deployment"]["state"] != "deploying",
            );
            let publish_to_ready = published.elapsed();
            assert_eq!(
                ready["deployment"]["state"],
                "ready",
                "{ready}\n{}",
                af.log("dag-processor")
            );
            let (status, dag) = af.api("GET", &format!("/api/v2/dags/{dag_id}"), None);
            assert_eq!(status, 200, "{dag}");
            // The tenant's own Airflow connection, kept by Trellis, which
            // the DAG file's tasks use to assume the tenant's role.
            let conn_id = connection["airflow_conn_id"].as_str().unwrap().to_owned();
            assert_eq!(
                conn_id,
                format!("trellis_demo_{}", connection["id"].as_str().unwrap())
            );
            let (status, kept) = af.api("GET", &format!("/api/v2/connections/{conn_id}"), None);
            assert_eq!(status, 200, "{kept}");
            assert_eq!(kept["conn_type"], "aws", "{kept}");
            let extra: Value = serde_json::from_str(kept["extra"].as_str().unwrap()).unwrap();
            assert_eq!(extra["role_arn"], emulator::ROLE_ARN, "{extra}");
            assert!(
                extra["assume_role_kwargs"]["ExternalId"]
                    .as_str()
                    .is_some_and(|e| e.len() > 20),
                "{extra}"
            );
            assert!(dag["tags"].as_array().unwrap().iter().any(|t| t["name"]
                == format!("trellis-hash:{}", ready["content_hash"].as_str().unwrap())));

            // A run: triggered on Airflow, every task's state live over SSE.
            let triggered = Instant::now();
            let (status, _, run) = call(
                &addr,
                "POST",
                &format!("{path}/runs"),
                &cookie,
                Some(json!({"params": {"day": "2026-11-26"}})),
            );
            assert_eq!(status, 201, "{run}");
            let run_id = run["id"].as_str().unwrap().to_owned();
            let events = follow(&addr, &cookie, &run_id).join().unwrap();
            let finished = triggered.elapsed();
            let first_running = entry_running(&events, triggered).expect("PEntry ran");
            let ended = wait_until(
                &addr,
                &cookie,
                &format!("{DEMO}/runs/{run_id}"),
                Duration::from_secs(120),
                |r| r["state"] == "succeeded" || r["state"] == "failed",
            );
            assert_eq!(
                ended["state"],
                "succeeded",
                "{ended}\n{}",
                af.log("scheduler")
            );
            for task in [
                "PEntry", "C_first", "W_first", "C_second", "W_second", "PExit",
            ] {
                let states = states_of(&events, task);
                assert_eq!(
                    states.last().map(String::as_str),
                    Some("succeeded"),
                    "{task}: {states:?}"
                );
                assert!(states.contains(&"running".to_owned()), "{task}: {states:?}");
                assert_eq!(common::task(&ended, task)["state"], "succeeded");
            }
            assert!(common::task(&ended, "C_second")["external_ref"]
                .as_str()
                .unwrap()
                .starts_with(&format!("emr:{}/", connection["id"].as_str().unwrap())));
            let (_, airflow_run) = af.api(
                "GET",
                &format!("/api/v2/dags/{dag_id}/dagRuns?limit=5"),
                None,
            );
            let conf = &airflow_run["dag_runs"][0]["conf"];
            assert_eq!(conf["trellis"]["run"], run_id.as_str());
            assert_eq!(conf["params"]["day"], "2026-11-26");
            (
                addr,
                cookie,
                path,
                dag_id,
                publish_to_ready,
                first_running,
                finished,
            )
        }
    })
    .await
    .unwrap();
    let (addr, cookie, path, dag_id, publish_to_ready, first_running, finished) = report;
    let steps = aws.read("emr/steps").await;
    let names: Vec<&str> = steps
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "{steps}");
    assert!(
        names
            .iter()
            .all(|n| n.ends_with(":1") && n.starts_with("trellis:")),
        "{names:?}"
    );

    // A second run, stopped while its long step runs.
    aws.control(
        "emr/auto",
        json!({"enabled": true, "pending_seconds": 0.2, "running_seconds": 600.0, "final": "COMPLETED"}),
    )
    .await;
    let stopped = tokio::task::spawn_blocking({
        let (addr, cookie, path) = (addr.clone(), cookie.clone(), path.clone());
        move || {
            let run_id = binary::start_run(&addr, &cookie, &path);
            let run_path = format!("{DEMO}/runs/{run_id}");
            wait_until(&addr, &cookie, &run_path, Duration::from_secs(120), |r| {
                common::task(r, "W_first")["state"] == "running"
            });
            let stopping = Instant::now();
            let (status, _, _) = call(&addr, "POST", &format!("{run_path}/stop"), &cookie, None);
            assert_eq!(status, 202);
            let ended = wait_until(&addr, &cookie, &run_path, Duration::from_secs(120), |r| {
                r["state"] == "cancelled" || r["state"] == "failed" || r["state"] == "succeeded"
            });
            (run_id, ended, stopping.elapsed())
        }
    })
    .await
    .unwrap();
    let (run_id, ended, stop_took) = stopped;
    assert_eq!(ended["state"], "cancelled", "{ended}");
    assert_eq!(
        common::task(&ended, "C_second")["state"],
        "cancelled",
        "{ended}"
    );
    let (_, airflow_runs) = af.api(
        "GET",
        &format!("/api/v2/dags/{dag_id}/dagRuns?limit=5"),
        None,
    );
    let theirs = airflow_runs["dag_runs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["conf"]["trellis"]["run"] == run_id.as_str())
        .expect("the stopped run is on Airflow")
        .clone();
    assert_eq!(theirs["state"], "failed", "{theirs}");
    let steps = aws.read("emr/steps").await;
    let step = steps
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == format!("trellis:{run_id}:C_first:1"))
        .expect("the stopped run's step")
        .clone();
    assert_eq!(step["state"], "CANCELLED", "{step}");

    // The same process orchestrated by Trellis itself (steps on the same
    // emulated cluster), for comparison.
    aws.control(
        "emr/auto",
        json!({"enabled": true, "pending_seconds": 0.2, "running_seconds": 1.0, "final": "COMPLETED"}),
    )
    .await;
    let (embedded_first, embedded_finished) = tokio::task::spawn_blocking({
        let (addr, cookie, path) = (addr.clone(), cookie.clone(), path.clone());
        move || {
            let (_, _, process) = call(&addr, "GET", &path, &cookie, None);
            let mut graph = process["graph"].clone();
            graph.as_object_mut().unwrap().remove("orchestrator");
            let (status, _, copy) = call(
                &addr,
                "POST",
                &format!("{DEMO}/processes"),
                &cookie,
                Some(json!({"name": "embedded", "graph": graph})),
            );
            assert_eq!(status, 201, "{copy}");
            let path = format!("{DEMO}/processes/{}", copy["id"].as_str().unwrap());
            let (status, _, _) = call(
                &addr,
                "POST",
                &format!("{path}/versions"),
                &cookie,
                Some(json!({})),
            );
            assert_eq!(status, 201);
            let triggered = Instant::now();
            let (status, _, run) = call(
                &addr,
                "POST",
                &format!("{path}/runs"),
                &cookie,
                Some(json!({})),
            );
            assert_eq!(status, 201, "{run}");
            let events = follow(&addr, &cookie, run["id"].as_str().unwrap())
                .join()
                .unwrap();
            let first = entry_running(&events, triggered).unwrap_or(Duration::ZERO);
            assert_eq!(events.last().unwrap().1["state"], "succeeded");
            (first, triggered.elapsed())
        }
    })
    .await
    .unwrap();

    let retry_took = run_values_and_retry(&aws, &addr, &cookie).await;
    dropping_a_connection_drops_its_airflow_connection(&addr, &cookie, &af).await;
    let (mwaa_ready, mwaa_first, mwaa_finished) = through_mwaa(&aws, &af, &cluster).await;

    println!(
        "airflow: publish -> ready {publish_to_ready:?}; trigger -> PEntry running {first_running:?}; \
         trigger -> run ended {finished:?}; stop -> cancelled {stop_took:?}\n\
         embedded: trigger -> PEntry running {embedded_first:?}; trigger -> run ended {embedded_finished:?}\n\
         airflow retry: request -> failed step's next attempt added {retry_took:?}\n\
         through MWAA (InvokeRestApi): publish -> ready {mwaa_ready:?}; trigger -> PEntry running {mwaa_first:?}; \
         trigger -> run ended {mwaa_finished:?}"
    );
    let mut server = server;
    let _ = server.child.kill();
    let _ = server.child.wait();
    drop(af);
}

/// Deleting a Trellis connection removes the Airflow connection kept for it.
async fn dropping_a_connection_drops_its_airflow_connection(
    addr: &str,
    cookie: &str,
    af: &std::sync::Arc<Airflow>,
) {
    let (addr, cookie, af) = (addr.to_owned(), cookie.to_owned(), af.clone());
    tokio::task::spawn_blocking(move || {
        let (_, _, list) = call(&addr, "GET", &format!("{DEMO}/connections"), &cookie, None);
        let first = &list.as_array().unwrap()[0];
        let conn_id = first["airflow_conn_id"].as_str().unwrap().to_owned();
        assert_eq!(
            af.api("GET", &format!("/api/v2/connections/{conn_id}"), None)
                .0,
            200
        );
        let path = format!("{DEMO}/connections/{}", first["id"].as_str().unwrap());
        let (status, _, _) = call(&addr, "DELETE", &path, &cookie, None);
        assert_eq!(status, 204);
        let gone = Instant::now();
        while af
            .api("GET", &format!("/api/v2/connections/{conn_id}"), None)
            .0
            != 404
        {
            assert!(
                gone.elapsed() < Duration::from_secs(60),
                "{conn_id} is still in Airflow"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    })
    .await
    .unwrap();
}

/// The same Airflow as an Amazon MWAA environment of the emulator: a second
/// server configured with only the environment's name reads the DAGs folder
/// from `GetEnvironment` and drives Airflow through `InvokeRestApi` (signed
/// with its own keys) from publish to a run's end. Publish → ready, trigger
/// → `PEntry` running and trigger → run ended.
async fn through_mwaa(
    aws: &Emulator,
    af: &Airflow,
    cluster: &str,
) -> (Duration, Duration, Duration) {
    aws.control(
        "emr/auto",
        json!({"enabled": true, "pending_seconds": 0.2, "running_seconds": 1.0, "final": "COMPLETED"}),
    )
    .await;
    aws.control(
        "mwaa/environment",
        json!({"name": "trellis-e2e", "source_bucket_arn": "arn:aws:s3:::dags", "dag_s3_path": "trellis",
               "airflow_url": af.url, "username": airflow::USERNAME, "password": airflow::PASSWORD}),
    )
    .await;
    let data = tempfile::tempdir().unwrap();
    let mut server = binary::start_with(
        data.path(),
        &[
            ("TRELLIS_AIRFLOW_MWAA_ENVIRONMENT", "trellis-e2e"),
            ("TRELLIS_AIRFLOW_MWAA_ENDPOINT_URL", &aws.url),
            ("TRELLIS_AIRFLOW_S3_ENDPOINT_URL", &aws.url),
            ("TRELLIS_AIRFLOW_POLL_SECONDS", "0.5"),
            ("TRELLIS_AIRFLOW_RETIRE_AFTER_SECONDS", "0"),
            ("AWS_ACCESS_KEY_ID", emulator::ACCESS_KEY_ID),
            ("AWS_SECRET_ACCESS_KEY", emulator::SECRET_ACCESS_KEY),
        ],
    );
    let addr = server.addr.clone();
    let connection_body = aws.connection_body(cluster);
    let s3 = aws.s3("us-east-1");
    let figures = tokio::task::spawn_blocking(move || {
        let cookie = sign_in(&addr);
        let (status, _, connection) = call(
            &addr,
            "POST",
            &format!("{DEMO}/connections"),
            &cookie,
            Some(connection_body),
        );
        assert_eq!(status, 201, "{connection}");
        let graph = json!({
            "connection": connection["id"], "orchestrator": "airflow",
            "nodes": [{"id": "only", "component": "noop"}], "edges": [],
        });
        let (status, _, process) = call(
            &addr,
            "POST",
            &format!("{DEMO}/processes"),
            &cookie,
            Some(json!({"name": "through mwaa", "graph": graph})),
        );
        assert_eq!(status, 201, "{process}");
        let path = format!("{DEMO}/processes/{}", process["id"].as_str().unwrap());
        let published = Instant::now();
        let (status, _, version) = call(
            &addr,
            "POST",
            &format!("{path}/versions"),
            &cookie,
            Some(json!({})),
        );
        assert_eq!(status, 201, "{version}");
        let ready = wait_until(
            &addr,
            &cookie,
            &format!("{path}/versions/1"),
            Duration::from_secs(120),
            |v| v["deployment"]["state"] != "deploying",
        );
        let publish_to_ready = published.elapsed();
        assert_eq!(ready["deployment"]["state"], "ready", "{ready}");
        let triggered = Instant::now();
        let run_id = binary::start_run(&addr, &cookie, &path);
        let events = follow(&addr, &cookie, &run_id).join().unwrap();
        let first = entry_running(&events, triggered).expect("PEntry ran");
        let ended = wait_until(
            &addr,
            &cookie,
            &format!("{DEMO}/runs/{run_id}"),
            Duration::from_secs(120),
            |r| r["state"] == "succeeded" || r["state"] == "failed",
        );
        assert_eq!(ended["state"], "succeeded", "{ended}");
        let finished = triggered.elapsed();

        // Housekeeping (no grace here): v2 replaces v1, a schedule pins v2,
        // v3 replaces v2. v1 — superseded, idle — is retired: its DAG
        // paused, its file gone; v2 stays deployed for its schedule.
        let publish = |nodes: Value| {
            let graph = json!({"connection": connection["id"], "orchestrator": "airflow", "nodes": nodes, "edges": []});
            let (_, _, draft) = call(&addr, "GET", &path, &cookie, None);
            let body = json!({"revision": draft["revision"], "graph": graph});
            let (status, _, saved) = call(&addr, "PUT", &path, &cookie, Some(body));
            assert_eq!(status, 200, "{saved}");
            let (status, _, version) = call(&addr, "POST", &format!("{path}/versions"), &cookie, Some(json!({})));
            assert_eq!(status, 201, "{version}");
            let n = version["number"].as_i64().unwrap();
            wait_until(&addr, &cookie, &format!("{path}/versions/{n}"), Duration::from_secs(120), |v| {
                v["deployment"]["state"] == "ready"
            })
        };
        publish(json!([{"id": "only", "component": "noop"}, {"id": "more", "component": "noop"}]));
        let (status, _, schedule) = call(&addr, "PUT", &format!("{path}/schedule"), &cookie,
            Some(json!({"cron": "0 3 * * *", "timezone": "UTC", "enabled": false, "version": 2})));
        assert_eq!(status, 201, "{schedule}");
        publish(json!([{"id": "only", "component": "noop"}, {"id": "third", "component": "noop"}]));
        let v1 = wait_until(&addr, &cookie, &format!("{path}/versions/1"), Duration::from_secs(120), |v| {
            v["deployment"]["state"] == "retired"
        });
        let dag_v1 = v1["deployment"]["dag_id"].as_str().unwrap().to_owned();
        std::thread::sleep(Duration::from_secs(2));
        let (_, _, v2) = call(&addr, "GET", &format!("{path}/versions/2"), &cookie, None);
        assert_eq!(v2["deployment"]["state"], "ready", "pinned by a schedule: {v2}");
        let (status, _, refused) = call(&addr, "POST", &format!("{path}/runs"), &cookie, Some(json!({"version": 1})));
        assert_eq!(status, 409, "{refused}");
        assert!(refused["errors"][0]["message"].as_str().unwrap().contains("retired"), "{refused}");
        (publish_to_ready, first, finished, dag_v1)
    })
    .await
    .unwrap();
    let (ready, first, finished, dag_v1) = figures;
    let figures = (ready, first, finished);
    let gone = s3
        .head_object()
        .bucket("dags")
        .key(format!("trellis/{dag_v1}.py"))
        .send()
        .await;
    assert!(gone.is_err(), "the retired version's file is removed");
    let (_, dag) = af.api("GET", &format!("/api/v2/dags/{dag_v1}"), None);
    assert_eq!(dag["is_paused"], true, "{dag}");
    // Everything went through MWAA's API, signed with the server's keys.
    let mwaa = aws.signed("mwaa:").await;
    assert!(
        mwaa.iter().any(|s| s["action"] == "mwaa:GetEnvironment"),
        "{mwaa:?}"
    );
    for (method, path) in [("GET", "/dags/"), ("POST", "/dagRuns")] {
        assert!(
            mwaa.iter()
                .any(|s| s["method"] == method && s["path"].as_str().unwrap_or("").contains(path)),
            "{method} {path}: {mwaa:?}"
        );
    }
    assert!(
        mwaa.iter()
            .all(|s| s["access_key_id"] == emulator::ACCESS_KEY_ID),
        "{mwaa:?}"
    );
    let _ = server.child.kill();
    let _ = server.child.wait();
    figures
}

/// A run value that would do harm if anything evaluated, templated or split it.
const HOSTILE_RUN_VALUE: &str = "{{ var.value.get('secret') }}'; rm -rf / # $(id) {% raw %}";

/// The steps the emulator was given for run `run`: name → (step id, args).
async fn steps_of(aws: &Emulator, run: &str) -> Vec<(String, String, Value)> {
    let prefix = format!("trellis:{run}:");
    aws.read("emr/steps")
        .await
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["name"].as_str().unwrap().starts_with(&prefix))
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_owned(),
                s["step_id"].as_str().unwrap().to_owned(),
                s["args"].clone(),
            )
        })
        .collect()
}

/// Waits (off the runtime) until run `run` satisfies `done`; the run.
async fn wait_for(
    addr: &str,
    cookie: &str,
    run: &str,
    done: impl Fn(&Value) -> bool + Send + 'static,
) -> Value {
    let (addr, cookie, path) = (
        addr.to_owned(),
        cookie.to_owned(),
        format!("{DEMO}/runs/{run}"),
    );
    tokio::task::spawn_blocking(move || {
        wait_until(&addr, &cookie, &path, Duration::from_secs(180), done)
    })
    .await
    .unwrap()
}

/// A process on Airflow whose nodes take run parameters: the run's values
/// reach the EMR steps as single arguments (a hostile one as given); its
/// second node's step fails, and a retry clears only that node in the same
/// Airflow run: the first node's step is never added again, the second's
/// is added as its next attempt with the same values, and the run succeeds.
/// How long from the retry request until the failed node's step was added
/// again.
async fn run_values_and_retry(aws: &Emulator, addr: &str, cookie: &str) -> Duration {
    // Steps run until the test ends them.
    aws.control(
        "emr/auto",
        json!({"enabled": true, "pending_seconds": 0.2, "running_seconds": 600.0, "final": "COMPLETED"}),
    )
    .await;
    let run = tokio::task::spawn_blocking({
        let (addr, cookie) = (addr.to_owned(), cookie.to_owned());
        move || {
            let (_, _, connections) = call(&addr, "GET", &format!("{DEMO}/connections"), &cookie, None);
            let connection = connections
                .as_array()
                .and_then(|all| all.iter().find(|c| c["name"] == "emulated-emr"))
                .map(|c| c["id"].clone())
                .expect("the test's connection");
            let graph = json!({
                "connection": connection, "orchestrator": "airflow",
                "params": [{"name": "target", "type": "string", "required": true},
                           {"name": "wait", "type": "number", "default": 1}],
                "nodes": [{"id": "first", "component": "export.file",
                           "params": {"dataset": "totals", "destination": "{{ params.target }}"}},
                          {"id": "second", "component": "sleep", "params": {"seconds": "{{ params.wait }}"}}],
                "edges": [{"from": "first", "to": "second"}],
            });
            let (status, _, process) = call(
                &addr,
                "POST",
                &format!("{DEMO}/processes"),
                &cookie,
                Some(json!({"name": "run values on airflow", "graph": graph})),
            );
            assert_eq!(status, 201, "{process}");
            let path = format!("{DEMO}/processes/{}", process["id"].as_str().unwrap());
            let (status, _, version) = call(
                &addr,
                "POST",
                &format!("{path}/versions"),
                &cookie,
                Some(json!({})),
            );
            assert_eq!(status, 201, "a reference is published for Airflow: {version}");
            let ready = wait_until(
                &addr,
                &cookie,
                &format!("{path}/versions/1"),
                Duration::from_secs(120),
                |v| v["deployment"]["state"] != "deploying",
            );
            assert_eq!(ready["deployment"]["state"], "ready", "{ready}");
            let (status, _, run) = call(
                &addr,
                "POST",
                &format!("{path}/runs"),
                &cookie,
                Some(json!({"params": {"target": HOSTILE_RUN_VALUE, "wait": 2}})),
            );
            assert_eq!(status, 201, "{run}");
            run["id"].as_str().unwrap().to_owned()
        }
    })
    .await
    .unwrap();

    // The first node's step completes, the second's fails.
    for (node, state) in [("first", "COMPLETED"), ("second", "FAILED")] {
        let watch = format!("W_{node}");
        wait_for(addr, cookie, &run, move |r| {
            crate::common::task(r, &watch)["state"] == "running"
        })
        .await;
        let name = format!("trellis:{run}:C_{node}:1");
        let steps = steps_of(aws, &run).await;
        let (_, step, _) = steps
            .iter()
            .find(|(n, _, _)| *n == name)
            .unwrap_or_else(|| panic!("no step {name}: {steps:?}"));
        aws.control(
            "emr/step",
            json!({"step_id": step, "state": state,
                   "failure": {"reason": "emulated", "message": "failed on purpose"}}),
        )
        .await;
    }
    let failed = wait_for(addr, cookie, &run, |r| {
        ["succeeded", "failed", "cancelled"].contains(&r["state"].as_str().unwrap())
    })
    .await;
    assert_eq!(failed["state"], "failed", "{failed}");
    assert_eq!(
        crate::common::task(&failed, "W_first")["state"],
        "succeeded"
    );
    assert_eq!(crate::common::task(&failed, "W_second")["state"], "failed");

    let steps = steps_of(aws, &run).await;
    let args = |name: &str| {
        steps
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, _, a)| a.clone())
            .unwrap_or_else(|| panic!("no step {name}: {steps:?}"))
    };
    let first = args(&format!("trellis:{run}:C_first:1"));
    let first: Vec<&str> = first
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    let at = first
        .iter()
        .position(|a| *a == "--destination")
        .expect("--destination");
    assert_eq!(
        first[at + 1],
        HOSTILE_RUN_VALUE,
        "one argument, as given: {first:?}"
    );
    assert_eq!(
        first.iter().filter(|a| a.contains("rm -rf")).count(),
        1,
        "{first:?}"
    );
    assert_eq!(
        args(&format!("trellis:{run}:C_second:1")),
        json!(["sleep", "2"])
    );

    // The retry: only the failed node runs again, on the same Airflow run.
    aws.control(
        "emr/auto",
        json!({"enabled": true, "pending_seconds": 0.2, "running_seconds": 1.0, "final": "COMPLETED"}),
    )
    .await;
    let asked = std::time::Instant::now();
    let (status, _, retried) = tokio::task::spawn_blocking({
        let (addr, cookie, run) = (addr.to_owned(), cookie.to_owned(), run.clone());
        move || {
            call(
                &addr,
                "POST",
                &format!("{DEMO}/runs/{run}/retry"),
                &cookie,
                Some(json!({})),
            )
        }
    })
    .await
    .unwrap();
    assert_eq!(status, 202, "{retried}");
    let again = format!("trellis:{run}:C_second:2");
    let retry_took = loop {
        if steps_of(aws, &run)
            .await
            .iter()
            .any(|(n, _, _)| *n == again)
        {
            break asked.elapsed();
        }
        assert!(
            asked.elapsed() < Duration::from_secs(180),
            "no step {again}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let done = wait_for(addr, cookie, &run, |r| {
        ["succeeded", "failed", "cancelled"].contains(&r["state"].as_str().unwrap())
    })
    .await;
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!(done["retries"], 1);
    assert_eq!(
        crate::common::task(&done, "C_second")["attempt"],
        2,
        "{done}"
    );

    let mut names: Vec<String> = steps_of(aws, &run)
        .await
        .into_iter()
        .map(|(n, _, _)| n)
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            format!("trellis:{run}:C_first:1"),
            format!("trellis:{run}:C_second:1"),
            format!("trellis:{run}:C_second:2"),
        ],
        "no second AddJobFlowSteps for the kept node"
    );
    let steps = steps_of(aws, &run).await;
    let second = steps.iter().find(|(n, _, _)| *n == again).unwrap();
    assert_eq!(
        second.2,
        json!(["sleep", "2"]),
        "the same values on the next attempt"
    );
    retry_took
}
