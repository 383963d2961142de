//! What a server counts for its operators, scraped as Prometheus text at
//! `GET /metrics` (the `metrics` crate's macros where things happen, its
//! Prometheus exporter rendering them). One recorder per process.
//!
//! | metric | kind | labels |
//! |---|---|---|
//! | `trellis_http_requests_total` | counter | `method`, `route` (the template, `/runs/:run`), `status` |
//! | `trellis_http_request_duration_seconds` | histogram | `method`, `route` |
//! | `trellis_runs_started_total` | counter | `tenant` |
//! | `trellis_runs_finished_total` | counter | `tenant`, `state` |
//! | `trellis_task_duration_seconds` | histogram | `component`, `executor`, `outcome` |
//! | `trellis_task_queue_wait_seconds` | histogram | `component`, `executor` |
//! | `trellis_task_slots_in_use` | gauge | `tenant` |
//! | `trellis_schedule_lag_seconds` | histogram | (fire time → run stored) |
//! | `trellis_live_streams` | gauge | |
//! | `trellis_aws_api_calls_total` | counter | `service`, `operation`, `outcome` |
//! | `trellis_airflow_api_calls_total` | counter | `method`, `operation`, `outcome` |
//! | `trellis_db_connections` | gauge | `state` (`in_use`, `idle`) |
//! | `trellis_notifications_total` | counter | `channel` (kind), `outcome` (`delivered`, `retry`, `failed`) |
//!
//! Counters count what this server did (a run's start and end are counted
//! by the server that stored them), so the sum over servers is the whole.

use app::api::runs::{EventState, RunEvent};
use app::types::{RunState, TenantId};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Duration;

/// Buckets of every `…_seconds` histogram: 1 ms to 6 h.
const SECONDS: &[f64] = &[
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0,
    3600.0, 21600.0,
];

/// The process's recorder, installed on first use.
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS)
            .expect("the buckets are not empty")
            .build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("a metrics recorder was installed already; /metrics stays empty");
        }
        describe();
        handle
    })
}

/// Keeps the recorder's histograms compact between scrapes (its exporter
/// leaves this to whoever renders).
pub fn spawn_upkeep(shutdown: tokio_util::sync::CancellationToken) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tick.tick() => handle().run_upkeep(),
            }
        }
    });
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!(
        "trellis_http_requests_total",
        "HTTP requests answered, by route template and status"
    );
    describe_histogram!(
        "trellis_http_request_duration_seconds",
        Unit::Seconds,
        "Time to answer an HTTP request (until its headers)"
    );
    describe_counter!("trellis_runs_started_total", "Runs stored by this server");
    describe_counter!(
        "trellis_runs_finished_total",
        "Runs this server ended, by final state"
    );
    describe_histogram!(
        "trellis_task_duration_seconds",
        Unit::Seconds,
        "How long one attempt of a node's work ran"
    );
    describe_histogram!(
        "trellis_task_queue_wait_seconds",
        Unit::Seconds,
        "How long a ready submit waited for a slot"
    );
    describe_gauge!("trellis_task_slots_in_use", "Task slots held, by tenant");
    describe_histogram!(
        "trellis_schedule_lag_seconds",
        Unit::Seconds,
        "From a schedule's fire time to its run stored"
    );
    describe_gauge!(
        "trellis_live_streams",
        "Open live streams (run and tenant events, log following)"
    );
    describe_counter!(
        "trellis_aws_api_calls_total",
        "Calls to AWS (EMR, S3, STS), by operation and outcome"
    );
    describe_counter!(
        "trellis_airflow_api_calls_total",
        "Calls to Airflow's REST API, by operation and outcome"
    );
    describe_counter!(
        "trellis_notifications_total",
        "Alert delivery attempts by channel kind and outcome"
    );
    describe_gauge!(
        "trellis_db_connections",
        "Database pool connections, in use and idle"
    );
}

/// One answered HTTP request; `route` is its template (`/runs/{run}`),
/// labelled as `/runs/:run`: braces inside label values trip up some
/// scrapers' parsers.
pub fn http_request(method: &str, route: &str, status: u16, took: Duration) {
    let (method, route) = (method.to_owned(), route.replace('{', ":").replace('}', ""));
    metrics::counter!("trellis_http_requests_total",
        "method" => method.clone(), "route" => route.clone(), "status" => status.to_string())
    .increment(1);
    metrics::histogram!("trellis_http_request_duration_seconds", "method" => method, "route" => route)
        .record(took.as_secs_f64());
}

/// Counts a run event this server committed: a run's first event is its
/// start, a final state its end.
pub fn run_event(tenant: &TenantId, event: &RunEvent) {
    if event.task.is_some() {
        return;
    }
    let tenant = tenant.as_str().to_owned();
    match event.state {
        EventState::Run(RunState::Queued) if event.seq == 1 => {
            metrics::counter!("trellis_runs_started_total", "tenant" => tenant).increment(1);
        }
        EventState::Run(state) if state.is_terminal() => {
            metrics::counter!("trellis_runs_finished_total", "tenant" => tenant, "state" => state.as_str())
                .increment(1);
        }
        _ => {}
    }
}

/// One attempt of a node's work ended after `took`.
pub fn task_ended(component: &str, executor: &'static str, outcome: &'static str, took: Duration) {
    metrics::histogram!("trellis_task_duration_seconds",
        "component" => component.to_owned(), "executor" => executor, "outcome" => outcome)
    .record(took.as_secs_f64());
}

/// A ready submit got its slot after `waited`.
pub fn task_waited(component: &str, executor: &'static str, waited: Duration) {
    metrics::histogram!("trellis_task_queue_wait_seconds",
        "component" => component.to_owned(), "executor" => executor)
    .record(waited.as_secs_f64());
}

/// `tenant` holds `held` task slots now.
pub fn slots_in_use(tenant: &TenantId, held: usize) {
    metrics::gauge!("trellis_task_slots_in_use", "tenant" => tenant.as_str().to_owned())
        .set(held as f64);
}

/// A schedule's fire was stored as a run `lag` after its fire time.
pub fn schedule_lag(lag: Duration) {
    metrics::histogram!("trellis_schedule_lag_seconds").record(lag.as_secs_f64());
}

/// One attempt to deliver an alert to a channel of `kind`.
pub fn notification(kind: &'static str, outcome: &'static str) {
    metrics::counter!("trellis_notifications_total", "channel" => kind, "outcome" => outcome)
        .increment(1);
}

/// A live stream opened (`1`) or closed (`-1`).
pub fn live_streams(change: f64) {
    metrics::gauge!("trellis_live_streams").increment(change);
}

/// One call to Airflow's API.
pub fn airflow_call(method: &str, path: &str, outcome: &'static str) {
    metrics::counter!("trellis_airflow_api_calls_total",
        "method" => method.to_owned(), "operation" => airflow_operation(path), "outcome" => outcome)
    .increment(1);
}

/// An Airflow API path as its template: the resource names kept, the ids
/// in between (DAG ids, run ids, task ids) replaced by `{}`.
fn airflow_operation(path: &str) -> String {
    const NAMES: &[&str] = &[
        "api",
        "v1",
        "v2",
        "auth",
        "token",
        "dags",
        "dagRuns",
        "taskInstances",
        "clearTaskInstances",
        "importErrors",
        "connections",
        "variables",
        "pools",
        "monitor",
        "health",
        "version",
        "tries",
        "logs",
        "dagSources",
    ];
    let path = path.split('?').next().unwrap_or_default();
    path.split('/')
        .map(|segment| {
            if segment.is_empty() || NAMES.contains(&segment) {
                segment
            } else {
                "{}"
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The database pool's connections, as of now.
pub fn db_pool(db: &crate::db::Db) {
    let size = db.pool.size() as f64;
    let idle = db.pool.num_idle() as f64;
    metrics::gauge!("trellis_db_connections", "state" => "in_use").set(size - idle);
    metrics::gauge!("trellis_db_connections", "state" => "idle").set(idle);
}

/// Counts every call an AWS client makes (EMR, S3, STS): installed on each
/// client's configuration, it sees the operation and how it ended.
#[derive(Debug)]
pub struct AwsCalls;

impl aws_smithy_runtime_api::client::interceptors::Intercept for AwsCalls {
    fn name(&self) -> &'static str {
        "trellis-metrics"
    }

    fn read_after_execution(
        &self,
        context: &aws_smithy_runtime_api::client::interceptors::context::FinalizerInterceptorContextRef<'_>,
        _components: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponents,
        config: &mut aws_smithy_types::config_bag::ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        let (service, operation) = config
            .load::<aws_smithy_runtime_api::client::orchestrator::Metadata>()
            .map_or(("aws".to_owned(), "unknown".to_owned()), |m| {
                (m.service().to_owned(), m.name().to_owned())
            });
        let outcome = match context.output_or_error() {
            Some(Ok(_)) => "ok",
            _ => "error",
        };
        metrics::counter!("trellis_aws_api_calls_total",
            "service" => service, "operation" => operation, "outcome" => outcome)
        .increment(1);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn airflow_paths_become_templates() {
        assert_eq!(
            airflow_operation("/api/v2/dags/trellis_demo_orders_v3/dagRuns/manual__2026?x=1"),
            "/api/v2/dags/{}/dagRuns/{}"
        );
        assert_eq!(airflow_operation("/auth/token"), "/auth/token");
        assert_eq!(
            airflow_operation("/api/v2/dags/d/clearTaskInstances"),
            "/api/v2/dags/{}/clearTaskInstances"
        );
    }
}
