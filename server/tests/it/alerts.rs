//! Alerts end to end, with real receivers on loopback: a failed run reaches
//! a signed webhook, a process's own rules replace the tenant default,
//! streaks and recoveries fire once, a refusing receiver is tried again and
//! the log shows each attempt, an overdue run alerts once by the clock, an
//! email goes through SMTP as plain text and HTML, bad input is refused by
//! field, and a server killed while delivering delivers after its restart.

use crate::common::binary::{self, call, sign_in, start};
use crate::common::receivers::{Answer, HttpReceiver, SmtpReceiver};
use crate::common::{ended, Backend, Session, TestApp};
use axum::http::{Method, StatusCode};
use hmac::Mac;
use serde_json::{json, Value};
use std::time::Duration;

on_both_backends!(
    a_failed_run_reaches_a_signed_webhook,
    a_processs_own_rules_replace_the_default_and_streaks_fire_once,
    a_refusing_receiver_is_tried_again_and_the_log_shows_each_attempt,
    an_overdue_run_alerts_once_by_the_clock,
    an_email_goes_out_as_plain_text_and_html,
    bad_alert_input_is_refused_by_field,
);

const ALERTS: &str = "/api/v1/tenants/demo/alerts";
/// Long enough for a loaded machine (a limit only costs time when the test fails).
const WAIT: Duration = Duration::from_secs(60);

fn verify(secret: &str, body: &[u8], signature: &str) -> bool {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    let hex = signature.strip_prefix("sha256=").unwrap_or("");
    mac.verify_slice(&hex::decode(hex).unwrap_or_default())
        .is_ok()
}

async fn post(app: &TestApp, s: &Session, path: &str, body: Value) -> Value {
    let reply = app
        .as_user(s, Method::POST, &format!("{ALERTS}/{path}"), Some(body))
        .await;
    assert_eq!(
        reply.status,
        StatusCode::CREATED,
        "{path}: {}",
        reply.text()
    );
    reply.json()
}

async fn channel(app: &TestApp, s: &Session, name: &str, kind: &str, target: &str) -> Value {
    post(
        app,
        s,
        "channels",
        json!({"name": name, "kind": kind, "target": target}),
    )
    .await
}

async fn rule(app: &TestApp, s: &Session, body: Value) -> Value {
    post(app, s, "rules", body).await
}

/// The delivery log until `done` holds of it.
async fn log_until(
    app: &TestApp,
    s: &Session,
    query: &str,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let start = std::time::Instant::now();
    loop {
        let reply = app.get_as(s, &format!("{ALERTS}/deliveries{query}")).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        let log = reply.json().as_array().unwrap().clone();
        if done(&log) {
            return log;
        }
        assert!(start.elapsed() < WAIT, "the log never got there: {log:#?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn failing() -> Value {
    json!({"nodes": [{"id": "load", "component": "fail", "params": {"message": "orders.csv is missing\nsecond line"}}], "edges": []})
}

async fn a_failed_run_reaches_a_signed_webhook(backend: Backend) {
    let app = TestApp::start(backend).await;
    app.alerts_running().await;
    let admin = app.admin().await;
    let hook = HttpReceiver::start();
    let made = channel(
        &app,
        &admin,
        "ops",
        "webhook",
        &format!("{}/hook", hook.url),
    )
    .await;
    let secret = made["signing_secret"]
        .as_str()
        .expect("the first webhook shows the secret")
        .to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");
    // Shown once: never again.
    let listed = app
        .get_as(&admin, &format!("{ALERTS}/channels"))
        .await
        .json();
    assert!(listed[0].get("signing_secret").is_none(), "{listed}");
    let second = channel(
        &app,
        &admin,
        "ops-2",
        "webhook",
        &format!("{}/other", hook.url),
    )
    .await;
    assert!(second.get("signing_secret").is_none(), "{second}");
    let state = app
        .get_as(&admin, &format!("{ALERTS}/signing-secret"))
        .await
        .json();
    assert!(
        state["created_at"].is_string() && state.get("secret").is_none(),
        "{state}"
    );

    rule(
        &app,
        &admin,
        json!({"trigger": "failure", "channel": made["id"]}),
    )
    .await;
    let process = app
        .published(&admin, "Orders daily", failing(), json!({}))
        .await;
    let run = app.start_run(&admin, &process).await;
    app.wait_for_run(&admin, &run, ended).await;

    let got = hook.arrived(1, WAIT).await;
    let request = &got[0];
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("POST", "/hook")
    );
    assert!(
        verify(
            &secret,
            &request.body,
            request.header("x-trellis-signature-256").unwrap()
        ),
        "the signature verifies with the secret shown"
    );
    assert!(!verify(
        "whsec_other",
        &request.body,
        request.header("x-trellis-signature-256").unwrap()
    ));
    assert_eq!(request.header("x-trellis-event"), Some("failure"));
    let body = request.json();
    assert_eq!(body["trigger"], "failure");
    assert_eq!(body["process"]["name"], "Orders daily");
    assert_eq!(body["run"]["id"], run.as_str());
    assert_eq!(body["run"]["number"], 1);
    assert_eq!(body["run"]["state"], "failed");
    assert_eq!(body["version"], 1);
    assert_eq!(body["tenant"]["slug"], "demo");
    assert_eq!(body["failed_tasks"][0]["node"], "load");
    assert!(body["failed_tasks"][0]["error"]
        .as_str()
        .unwrap()
        .contains("orders.csv is missing"));
    assert_eq!(body["link"], format!("http://127.0.0.1:3000/runs/{run}"));
    assert_eq!(
        body["summary"],
        "Orders daily #1 failed (version 1): load — orders.csv is missing"
    );
    assert_eq!(
        Some(body["delivery"].as_str().unwrap()),
        request.header("x-trellis-delivery")
    );

    let log = log_until(&app, &admin, "", |log| {
        log.iter().any(|d| d["status"] == "delivered")
    })
    .await;
    assert_eq!(log.len(), 1, "one rule, one delivery: {log:#?}");
    assert_eq!(log[0]["id"], body["delivery"]);
    assert_eq!(log[0]["attempts"], 1);
    assert_eq!(log[0]["trigger"], "failure");
    assert_eq!(log[0]["run"], run.as_str());
    assert_eq!(log[0]["run_number"], 1);
    assert_eq!(log[0]["channel_name"], "ops");

    // A new secret signs from now on; the old one no longer verifies.
    let rotated = post(&app, &admin, "signing-secret", json!({})).await;
    let new_secret = rotated["secret"].as_str().unwrap();
    assert_ne!(new_secret, secret);
    let test = app
        .as_user(
            &admin,
            Method::POST,
            &format!("{ALERTS}/channels/{}/test", made["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(test.status, StatusCode::ACCEPTED, "{}", test.text());
    assert_eq!(test.json()["status"], "pending");
    let got = hook.arrived(2, WAIT).await;
    let signature = got[1].header("x-trellis-signature-256").unwrap();
    assert!(verify(new_secret, &got[1].body, signature));
    assert!(!verify(&secret, &got[1].body, signature));
    assert_eq!(got[1].header("x-trellis-event"), Some("test"));
}

async fn a_processs_own_rules_replace_the_default_and_streaks_fire_once(backend: Backend) {
    let app = TestApp::start(backend).await;
    app.alerts_running().await;
    let admin = app.admin().await;
    let (hook, slack) = (HttpReceiver::start(), HttpReceiver::start());
    let default = channel(&app, &admin, "everyone", "webhook", &hook.url).await;
    let team = channel(&app, &admin, "team", "slack", &slack.url).await;
    rule(
        &app,
        &admin,
        json!({"trigger": "failure", "channel": default["id"]}),
    )
    .await;

    // Version 1 fails, version 2 succeeds.
    let process = app.published(&admin, "Billing", failing(), json!({})).await;
    let id = process.rsplit('/').next().unwrap().to_owned();
    let noop = json!({"nodes": [{"id": "load", "component": "noop"}], "edges": []});
    let revision = app.get_as(&admin, &process).await.json()["revision"].clone();
    let draft = app
        .as_user(
            &admin,
            Method::PUT,
            &process,
            Some(json!({"revision": revision, "graph": noop})),
        )
        .await;
    assert!(draft.status.is_success(), "{}", draft.text());
    let v2 = app
        .as_user(
            &admin,
            Method::POST,
            &format!("{process}/versions"),
            Some(json!({})),
        )
        .await;
    assert_eq!(v2.status, StatusCode::CREATED, "{}", v2.text());

    let streak = rule(
        &app,
        &admin,
        json!({"process": id, "trigger": "failure_streak", "threshold": 2, "channel": team["id"]}),
    )
    .await;
    assert_eq!(streak["process_name"], "Billing");
    rule(
        &app,
        &admin,
        json!({"process": id, "trigger": "recovery", "channel": team["id"]}),
    )
    .await;
    let rules = app.get_as(&admin, &format!("{ALERTS}/rules")).await.json();
    assert_eq!(
        rules[0]["process"],
        Value::Null,
        "the default first: {rules}"
    );

    let run_version = |version: i64| {
        let (app, admin, process) = (&app, &admin, &process);
        async move {
            let r = app
                .as_user(
                    admin,
                    Method::POST,
                    &format!("{process}/runs"),
                    Some(json!({"version": version})),
                )
                .await;
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
            let run = r.json()["id"].as_str().unwrap().to_owned();
            app.wait_for_run(admin, &run, ended).await;
            // Let the loop turn the ending into its deliveries before the next run.
            log_until(app, admin, &format!("?run={run}"), |_| true).await;
            tokio::time::sleep(Duration::from_millis(700)).await;
            run
        }
    };
    run_version(1).await;
    let second = run_version(1).await;
    run_version(1).await;
    let recovered = run_version(2).await;

    let got = slack.arrived(2, WAIT).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got_now = slack.received();
    assert_eq!(got_now.len(), 2, "one streak, one recovery: {got_now:?}");
    let texts: Vec<String> = got
        .iter()
        .map(|r| r.json()["text"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        texts[0].starts_with("Billing has failed 2 runs in a row (latest Billing #2)"),
        "{texts:?}"
    );
    assert!(
        texts[0].contains(&format!("/runs/{second}|Open in Trellis>")),
        "{texts:?}"
    );
    assert!(
        texts[1].starts_with("Billing #4 succeeded after a failure"),
        "{texts:?}"
    );
    assert!(texts[1].contains(&recovered), "{texts:?}");
    assert!(
        hook.received().is_empty(),
        "the process's own rules replace the default"
    );

    // Another process, without rules of its own, gets the default.
    let other = app.published(&admin, "Other", failing(), json!({})).await;
    let run = app.start_run(&admin, &other).await;
    app.wait_for_run(&admin, &run, ended).await;
    let got = hook.arrived(1, WAIT).await;
    assert_eq!(got[0].json()["process"]["name"], "Other");
}

async fn a_refusing_receiver_is_tried_again_and_the_log_shows_each_attempt(backend: Backend) {
    let app = TestApp::start(backend).await;
    app.alerts_running().await;
    let admin = app.admin().await;
    let flaky = HttpReceiver::answering(vec![Answer::Status(503)]);
    let gone = HttpReceiver::answering(vec![Answer::Status(404)]);
    let flaky_channel = channel(&app, &admin, "flaky", "webhook", &flaky.url).await;
    let gone_channel = channel(&app, &admin, "gone", "slack", &gone.url).await;
    for c in [&flaky_channel, &gone_channel] {
        let test = app
            .as_user(
                &admin,
                Method::POST,
                &format!("{ALERTS}/channels/{}/test", c["id"].as_str().unwrap()),
                None,
            )
            .await;
        assert_eq!(test.status, StatusCode::ACCEPTED, "{}", test.text());
    }
    let log = log_until(&app, &admin, "", |log| {
        log.len() == 2 && log.iter().all(|d| d["status"] != "pending")
    })
    .await;
    let of = |name: &str| {
        log.iter()
            .find(|d| d["channel_name"] == name)
            .unwrap()
            .clone()
    };
    let (retried, failed) = (of("flaky"), of("gone"));
    assert_eq!(retried["status"], "delivered", "{retried}");
    assert_eq!(retried["attempts"], 2, "{retried}");
    assert_eq!(retried["trigger"], Value::Null, "a test has no trigger");
    assert!(retried["summary"]
        .as_str()
        .unwrap()
        .starts_with("Test alert from Trellis"));
    assert_eq!(
        failed["status"], "failed",
        "a 404 is not tried again: {failed}"
    );
    assert_eq!(failed["attempts"], 1);
    assert!(
        failed["last_error"]
            .as_str()
            .unwrap()
            .starts_with("HTTP 404"),
        "{failed}"
    );
    let twice = flaky.received();
    assert_eq!(twice.len(), 2);
    assert_eq!(
        twice[0].header("x-trellis-delivery"),
        twice[1].header("x-trellis-delivery"),
        "the same delivery, recognisable by its id"
    );
    let filtered = app
        .get_as(&admin, &format!("{ALERTS}/deliveries?status=failed"))
        .await
        .json();
    assert_eq!(filtered.as_array().unwrap().len(), 1, "{filtered}");
    let metrics = app.get("/metrics").await.text();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("trellis_notifications_total")
                && l.contains("channel=\"slack\"")
                && l.contains("outcome=\"failed\"")),
        "{metrics}"
    );
}

async fn an_overdue_run_alerts_once_by_the_clock(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let hook = HttpReceiver::start();
    let c = channel(&app, &admin, "late", "webhook", &hook.url).await;
    rule(
        &app,
        &admin,
        json!({"trigger": "overdue", "threshold": 30, "channel": c["id"]}),
    )
    .await;
    let nap = json!({"nodes": [{"id": "nap", "component": "sleep", "params": {"seconds": 60}}], "edges": []});
    let process = app.published(&admin, "Slow", nap, json!({})).await;
    let run = app.start_run(&admin, &process).await;
    app.wait_for_run(&admin, &run, |r| r["state"] == "running")
        .await;

    let now = server::time::Timestamp::now();
    let later = |minutes| {
        server::time::Timestamp::from(now.as_datetime() + chrono::Duration::minutes(minutes))
    };
    assert_eq!(
        app.state.alerts.check_overdue(later(29)).await.unwrap(),
        0,
        "not yet"
    );
    assert_eq!(app.state.alerts.check_overdue(later(31)).await.unwrap(), 1);
    assert_eq!(
        app.state.alerts.check_overdue(later(45)).await.unwrap(),
        0,
        "once per run"
    );
    app.alerts_running().await;
    let got = hook.arrived(1, WAIT).await;
    let body = got[0].json();
    assert_eq!(body["trigger"], "overdue");
    assert_eq!(body["summary"], "Slow #1 is still running after 30 minutes");
    assert_eq!(body["threshold"], 30);
    let stop = app
        .as_user(
            &admin,
            Method::POST,
            &format!("/api/v1/tenants/demo/runs/{run}/stop?mode=force"),
            None,
        )
        .await;
    assert!(stop.status.is_success(), "{}", stop.text());
}

async fn an_email_goes_out_as_plain_text_and_html(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let refused = app
        .as_user(
            &admin,
            Method::POST,
            &format!("{ALERTS}/channels"),
            Some(json!({"name": "mail", "kind": "email", "target": "ops@example.com"})),
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        refused.json()["errors"][0]["field"],
        "kind",
        "{}",
        refused.text()
    );

    let smtp = SmtpReceiver::start();
    let app = app.with_alerts(server::alerts::AlertSettings {
        smtp_url: Some(smtp.url.clone()),
        smtp_from: Some("Trellis <alerts@trellis.test>".into()),
        public_url: "https://trellis.example.com".into(),
    });
    app.alerts_running().await;
    let admin = app.admin().await;
    let mail = channel(
        &app,
        &admin,
        "mail",
        "email",
        "ops@example.com, lead@example.com",
    )
    .await;
    rule(
        &app,
        &admin,
        json!({"trigger": "failure", "channel": mail["id"]}),
    )
    .await;
    let process = app
        .published(&admin, "Revenue <daily>", failing(), json!({}))
        .await;
    let run = app.start_run(&admin, &process).await;
    app.wait_for_run(&admin, &run, ended).await;

    let got = smtp.arrived(1, WAIT).await;
    let email = &got[0];
    assert!(email.from.contains("alerts@trellis.test"), "{email:?}");
    assert_eq!(email.to.len(), 2, "{email:?}");
    // Quoted-printable bodies, read back: soft line breaks out, `=3D` as `=`.
    let data = &email.data.replace("=\r\n", "").replace("=3D", "=");
    assert!(
        data.contains("Subject: [Trellis] Revenue <daily> #1 failed (version 1): load"),
        "{data}"
    );
    assert!(data.contains("multipart/alternative"), "{data}");
    assert!(data.contains("Content-Type: text/plain"), "{data}");
    assert!(data.contains("Content-Type: text/html"), "{data}");
    assert!(
        data.contains(&format!("https://trellis.example.com/runs/{run}")),
        "{data}"
    );
    assert!(
        data.contains("Revenue &lt;daily&gt;"),
        "the HTML escapes the name: {data}"
    );
    log_until(&app, &admin, "", |log| {
        log.iter().any(|d| d["status"] == "delivered")
    })
    .await;
}

async fn bad_alert_input_is_refused_by_field(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.admin().await;
    let hook = HttpReceiver::start();
    let refused = |body: Value, field: &'static str, path: &'static str| {
        let (app, admin) = (&app, &admin);
        async move {
            let reply = app
                .as_user(
                    admin,
                    Method::POST,
                    &format!("{ALERTS}/{path}"),
                    Some(body.clone()),
                )
                .await;
            assert_eq!(
                reply.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{body}: {}",
                reply.text()
            );
            assert_eq!(reply.header("content-type"), "application/problem+json");
            let fields: Vec<String> = reply.json()["errors"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["field"].as_str().unwrap().to_owned())
                .collect();
            assert!(fields.contains(&field.to_owned()), "{body}: {fields:?}");
        }
    };
    refused(
        json!({"name": " ", "kind": "webhook", "target": hook.url}),
        "name",
        "channels",
    )
    .await;
    refused(
        json!({"name": "x", "kind": "pager", "target": hook.url}),
        "kind",
        "channels",
    )
    .await;
    refused(
        json!({"name": "x", "kind": "webhook", "target": "ftp://example.com"}),
        "target",
        "channels",
    )
    .await;
    refused(
        json!({"name": "x", "kind": "slack", "target": "not a url"}),
        "target",
        "channels",
    )
    .await;
    let c = channel(&app, &admin, "ops", "webhook", &hook.url).await;
    let conflict = app
        .as_user(
            &admin,
            Method::POST,
            &format!("{ALERTS}/channels"),
            Some(json!({"name": "ops", "kind": "slack", "target": hook.url})),
        )
        .await;
    assert_eq!(conflict.status, StatusCode::CONFLICT, "{}", conflict.text());

    let id = c["id"].clone();
    refused(
        json!({"trigger": "overdue", "channel": id}),
        "threshold",
        "rules",
    )
    .await;
    refused(
        json!({"trigger": "failure_streak", "threshold": 1, "channel": id}),
        "threshold",
        "rules",
    )
    .await;
    refused(
        json!({"trigger": "failure", "threshold": 3, "channel": id}),
        "threshold",
        "rules",
    )
    .await;
    refused(
        json!({"trigger": "failure", "channel": "nope"}),
        "channel",
        "rules",
    )
    .await;
    refused(
        json!({"trigger": "failure", "process": "nope", "channel": id}),
        "process",
        "rules",
    )
    .await;
    refused(
        json!({"trigger": "sometimes", "channel": id}),
        "trigger",
        "rules",
    )
    .await;
    let made = rule(&app, &admin, json!({"trigger": "failure", "channel": id})).await;
    let twice = app
        .as_user(
            &admin,
            Method::POST,
            &format!("{ALERTS}/rules"),
            Some(json!({"trigger": "failure", "channel": id})),
        )
        .await;
    assert_eq!(twice.status, StatusCode::CONFLICT, "{}", twice.text());
    let bad_limit = app
        .get_as(&admin, &format!("{ALERTS}/deliveries?limit=0"))
        .await;
    assert_eq!(bad_limit.status, StatusCode::UNPROCESSABLE_ENTITY);

    // Tenant admins only.
    let editor = app.member("demo", "eddie", "editor").await;
    let forbidden = app.get_as(&editor, &format!("{ALERTS}/rules")).await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);

    // Deleting the channel deletes its rules; unknown ids are 404.
    let path = format!("{ALERTS}/channels/{}", id.as_str().unwrap());
    assert_eq!(
        app.as_user(&admin, Method::DELETE, &path, None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.as_user(&admin, Method::DELETE, &path, None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let rules = app.get_as(&admin, &format!("{ALERTS}/rules")).await.json();
    assert_eq!(rules, json!([]), "{made}");
    let missing = format!("{ALERTS}/rules/{}", made["id"].as_str().unwrap());
    assert_eq!(
        app.as_user(&admin, Method::DELETE, &missing, None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

/// The server is killed (SIGKILL) while its webhook is in flight: the
/// delivery is not recorded as made, and the restarted server delivers it
/// (the same delivery id: at least once, recognisably).
#[test]
fn a_server_killed_while_delivering_delivers_after_its_restart() {
    let data = tempfile::tempdir().unwrap();
    let hook = HttpReceiver::answering(vec![Answer::Hang]);
    let mut first = start(data.path());
    let addr = first.addr.clone();
    let cookie = sign_in(&addr);
    let (status, _, made) = call(
        &addr,
        "POST",
        &format!("{ALERTS}/channels"),
        &cookie,
        Some(json!({"name": "ops", "kind": "webhook", "target": hook.url})),
    );
    assert_eq!(status, 201, "{made}");
    let (status, _, _) = call(
        &addr,
        "POST",
        &format!("{ALERTS}/rules"),
        &cookie,
        Some(json!({"trigger": "failure", "channel": made["id"]})),
    );
    assert_eq!(status, 201);
    let process = binary::published(&addr, &cookie, "p", failing());
    let run = binary::start_run(&addr, &cookie, &process);
    binary::wait_for(&addr, &cookie, &run, ended);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let first_try = runtime.block_on(hook.arrived(1, WAIT));

    first.child.kill().unwrap();
    first.child.wait().unwrap();

    let second = start(data.path());
    let cookie = sign_in(&second.addr);
    let got = runtime.block_on(hook.arrived(2, WAIT));
    assert_eq!(
        got[1].header("x-trellis-delivery"),
        first_try[0].header("x-trellis-delivery")
    );
    assert_eq!(got[1].json()["run"]["id"], run.as_str());
    let log = binary::wait_until(
        &second.addr,
        &cookie,
        &format!("{ALERTS}/deliveries"),
        WAIT,
        |log| log[0]["status"] == "delivered",
    );
    assert_eq!(log.as_array().unwrap().len(), 1, "{log}");
    assert_eq!(
        log[0]["attempts"], 1,
        "the killed attempt was never recorded: {log}"
    );
}
