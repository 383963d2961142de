//! Traces over OTLP from the real binary, as a collector on a local socket
//! receives them (protobuf over HTTP): a run is one trace whose id is the run
//! id's bits, with the run's root span and one span per task beneath it at
//! the task's stored times; requests have spans named by their routes.

use crate::common::binary::{published, sign_in, start_run, start_with, wait_for};
use crate::common::ended;
use crate::common::receivers::HttpReceiver;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Every span the collector (a receiver on loopback) got, with the service
/// that sent it: each request's body decoded as OTLP protobuf.
fn spans_of(collector: &HttpReceiver) -> Vec<(String, Span)> {
    let mut spans = Vec::new();
    for request in collector.received() {
        assert_eq!(request.path, "/v1/traces");
        let request = ExportTraceServiceRequest::decode(request.body.as_slice())
            .expect("an OTLP protobuf body");
        for resource in request.resource_spans {
            let service = resource
                .resource
                .as_ref()
                .and_then(|r| attribute(&r.attributes, "service.name"))
                .unwrap_or_default();
            for scope in resource.scope_spans {
                spans.extend(scope.spans.into_iter().map(|s| (service.clone(), s)));
            }
        }
    }
    spans
}

/// An attribute's value as text.
fn attribute(attributes: &[KeyValue], key: &str) -> Option<String> {
    let value = attributes.iter().find(|a| a.key == key)?.value.as_ref()?;
    match value.value.as_ref()? {
        AnyValue::StringValue(s) => Some(s.clone()),
        AnyValue::IntValue(i) => Some(i.to_string()),
        AnyValue::BoolValue(b) => Some(b.to_string()),
        _ => None,
    }
}

fn attr(span: &Span, key: &str) -> String {
    attribute(&span.attributes, key).unwrap_or_else(|| panic!("{}: no {key}", span.name))
}

/// A stored time in nanoseconds since the epoch, as OTLP writes times.
fn nanos(stored: &Value) -> u64 {
    let at = chrono::DateTime::parse_from_rfc3339(stored.as_str().unwrap()).unwrap();
    at.timestamp_nanos_opt().unwrap() as u64
}

/// The spans received once `done` holds of them (20 s at most).
fn received_until(
    collector: &HttpReceiver,
    done: impl Fn(&[(String, Span)]) -> bool,
) -> Vec<(String, Span)> {
    let started = Instant::now();
    loop {
        let spans = spans_of(collector);
        if done(&spans) {
            return spans;
        }
        let names: Vec<&str> = spans.iter().map(|(_, s)| s.name.as_str()).collect();
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the collector received only {names:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_run_is_one_trace_with_a_span_per_task_and_requests_are_traced() {
    let collector = HttpReceiver::start();
    let url = collector.url.clone();
    let data = tempfile::tempdir().unwrap();
    let server = start_with(
        data.path(),
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", url.as_str()),
            ("OTEL_SERVICE_NAME", "trellis-traces-test"),
            ("OTEL_BSP_SCHEDULE_DELAY", "200"),
            // Request spans are `info`: a quieter filter would drop them.
            ("RUST_LOG", "info"),
        ],
    );
    let addr = server.addr.clone();
    let cookie = sign_in(&addr);
    let graph = json!({"nodes": [{"id": "first", "component": "noop"}, {"id": "second", "component": "noop"}],
                       "edges": [{"from": "first", "to": "second"}]});
    let path = published(&addr, &cookie, "traced", graph);
    let run = start_run(&addr, &cookie, &path);
    let done = wait_for(&addr, &cookie, &run, ended);
    assert_eq!(done["state"], "succeeded", "{done}");
    let stored = done["tasks"].as_array().unwrap();
    let mut keys: Vec<&str> = stored.iter().map(|t| t["key"].as_str().unwrap()).collect();
    keys.sort_unstable();
    let mut expected = [
        "PEntry", "C_first", "W_first", "C_second", "W_second", "PExit",
    ];
    expected.sort_unstable();
    assert_eq!(keys, expected);

    // The run's trace is the run id's 128 bits; its root span their low 64.
    let id = uuid::Uuid::parse_str(&run).expect("run ids are UUIDs");
    let trace = id.as_bytes().to_vec();
    let root_id = trace[8..].to_vec();
    let start_route = "POST /api/v1/tenants/{tenant}/processes/{process}/runs";
    let spans = received_until(&collector, |spans| {
        let in_run = spans.iter().filter(|(_, s)| s.trace_id == trace).count();
        in_run == 1 + keys.len() && spans.iter().any(|(_, s)| s.name == start_route)
    });
    assert!(
        spans
            .iter()
            .all(|(service, _)| service == "trellis-traces-test"),
        "every span comes from the service OTEL_SERVICE_NAME names"
    );

    let tenant: String = rusqlite::Connection::open(data.path().join("trellis.db"))
        .unwrap()
        .query_row("SELECT id FROM tenants WHERE slug = 'demo'", [], |r| {
            r.get(0)
        })
        .unwrap();
    let in_run: Vec<&Span> = spans
        .iter()
        .map(|(_, s)| s)
        .filter(|s| s.trace_id == trace)
        .collect();
    let roots: Vec<&&Span> = in_run
        .iter()
        .filter(|s| s.parent_span_id.is_empty())
        .collect();
    assert_eq!(roots.len(), 1, "one root span");
    let root = roots[0];
    assert_eq!(root.span_id, root_id);
    assert_eq!(root.name, "run traced");
    assert_eq!(attr(root, "trellis.run"), run);
    assert_eq!(attr(root, "trellis.tenant"), tenant);
    assert_eq!(attr(root, "trellis.state"), "succeeded");
    assert_eq!(root.status.as_ref().unwrap().code, StatusCode::Ok as i32);
    assert!(root.start_time_unix_nano <= nanos(&done["started_at"]));
    assert!(root.end_time_unix_nano >= nanos(&done["finished_at"]));

    for task in stored {
        let key = task["key"].as_str().unwrap();
        let matching: Vec<&&Span> = in_run.iter().filter(|s| s.name == key).collect();
        assert_eq!(matching.len(), 1, "one span for {key}");
        let span = matching[0];
        assert_eq!(
            span.parent_span_id, root_id,
            "{key} is under the run's root"
        );
        assert_eq!(
            span.start_time_unix_nano,
            nanos(&task["started_at"]),
            "{key}"
        );
        assert_eq!(
            span.end_time_unix_nano,
            nanos(&task["finished_at"]),
            "{key}"
        );
        assert!(
            root.start_time_unix_nano <= span.start_time_unix_nano,
            "{key}"
        );
        assert!(span.end_time_unix_nano <= root.end_time_unix_nano, "{key}");
        assert_eq!(attr(span, "trellis.task"), key);
        assert_eq!(attr(span, "trellis.run"), run);
        assert_eq!(attr(span, "trellis.tenant"), tenant);
        assert_eq!(attr(span, "trellis.state"), task["state"].as_str().unwrap());
        assert_eq!(attr(span, "trellis.attempt"), task["attempt"].to_string());
        assert_eq!(span.status.as_ref().unwrap().code, StatusCode::Ok as i32);
        if let Some(node) = task["node"].as_str() {
            assert_eq!(attr(span, "trellis.node"), node);
            assert_eq!(attr(span, "trellis.component"), "noop");
            assert_eq!(attr(span, "trellis.executor"), "local");
        }
    }

    // The request that started the run, named by its route, in a trace of its own.
    let started: Vec<&Span> = spans
        .iter()
        .map(|(_, s)| s)
        .filter(|s| s.name == start_route)
        .collect();
    assert_eq!(started.len(), 1, "one run was started");
    assert_eq!(attr(started[0], "path"), format!("{path}/runs"));
    assert_eq!(attr(started[0], "method"), "POST");
    assert_ne!(started[0].trace_id, trace);
}
