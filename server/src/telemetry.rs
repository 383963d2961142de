//! Traces for operators, over OTLP (HTTP, protobuf): with
//! `OTEL_EXPORTER_OTLP_ENDPOINT` set, the server's request spans and the
//! runs it ends are exported to that collector; without it nothing is built.
//!
//! Each run is one trace whose ids derive from the run's id, so every server
//! that drove a part of it (after a restart, a takeover) writes into the same
//! trace. Its spans are written when the run ends, from the run as stored —
//! every task's times, whichever server ran it: the run's root span and one
//! span per task beneath it. A retried run's later pass gets a span of its
//! own under the root, with the tasks it ran again.

use crate::db::{processes, runs, Db};
use crate::time::Timestamp;
use app::api::runs::{Run, TaskRun};
use app::types::graph::{Orchestrator, ProcessGraph};
use app::types::{RunId, RunState, TaskState, TenantId};
use opentelemetry::trace::{
    Span as _, SpanContext, SpanId, Status, TraceContextExt as _, TraceFlags, TraceId, TraceState,
    Tracer as _, TracerProvider as _,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::runtime::Tokio;
use opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use opentelemetry_sdk::Resource;
use std::sync::OnceLock;
use std::time::SystemTime;
use xxhash_rust::xxh3::{xxh3_128, xxh3_64};

/// The instrumentation scope of every span Trellis writes.
const SCOPE: &str = "trellis";

/// The process's pipeline, once built. Like the metrics recorder, one per
/// process: the environment that configures it is the process's.
static PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();

/// Builds the OTLP pipeline when `OTEL_EXPORTER_OTLP_ENDPOINT` (or
/// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) names a collector, and answers the
/// tracer request spans go to; `None`, and nothing built, without one. The
/// exporter reads the other standard variables itself (headers, timeout,
/// compression; `OTEL_BSP_*` for batching); the service is
/// `OTEL_SERVICE_NAME`, `trellis` by default. Called inside the Tokio
/// runtime: the batch processor is a task on it.
pub fn init() -> Result<Option<SdkTracer>, opentelemetry_otlp::ExporterBuildError> {
    let configured = [
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    ]
    .iter()
    .any(|name| std::env::var(name).is_ok_and(|v| !v.trim().is_empty()));
    if !configured {
        return Ok(None);
    }
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .build()?;
    // On Tokio, where the exporter's (async) HTTP client runs.
    let processor = BatchSpanProcessor::builder(exporter, Tokio).build();
    let mut resource = Resource::builder();
    if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
        resource = resource.with_service_name("trellis");
    }
    let provider = SdkTracerProvider::builder()
        .with_span_processor(processor)
        .with_resource(resource.build())
        .build();
    let tracer = provider.tracer(SCOPE);
    let _ = PROVIDER.set(provider);
    Ok(Some(tracer))
}

/// Exports what is still queued and stops the pipeline (the server stops).
pub async fn shutdown() {
    let Some(provider) = PROVIDER.get().cloned() else {
        return;
    };
    // The batch processor answers from the runtime while this waits for it.
    let stopped = tokio::task::spawn_blocking(move || provider.shutdown()).await;
    if let Ok(Err(e)) = stopped {
        tracing::warn!(error = %e, "flushing the last traces failed");
    }
}

/// `run` just ended on this server: exports its trace in the background
/// (never holding up the engine), from the run as stored. Nothing without a
/// pipeline.
pub fn run_ended(db: &Db, tenant: &TenantId, run: &RunId) {
    let Some(provider) = PROVIDER.get() else {
        return;
    };
    let tracer = provider.tracer(SCOPE);
    let (db, tenant, run) = (db.clone(), tenant.clone(), run.clone());
    tokio::spawn(async move {
        if let Err(e) = export_run(&db, &tracer, &tenant, &run).await {
            tracing::warn!(run = %run, error = %e, "exporting the run's trace failed");
        }
    });
}

async fn export_run(
    db: &Db,
    tracer: &SdkTracer,
    tenant: &TenantId,
    run: &RunId,
) -> sqlx::Result<()> {
    let Some(run) = runs::get(db, tenant, run).await? else {
        return Ok(());
    };
    let version = processes::version_get(db, tenant, &run.process, run.version).await?;
    write_run(tracer, tenant, &run, version.as_ref().map(|v| &v.graph));
    Ok(())
}

/// The ids of a run's trace, the same on every server: the trace is the run
/// id's 128 bits (a UUID; a hash of any other id), its root span their low
/// 64 bits.
struct RunIds {
    trace: TraceId,
    root: SpanId,
}

impl RunIds {
    fn of(run: &RunId) -> Self {
        let bits = uuid::Uuid::parse_str(run.as_str())
            .map_or_else(|_| xxh3_128(run.as_str().as_bytes()), |id| id.as_u128())
            .max(1);
        Self {
            trace: TraceId::from(bits),
            root: SpanId::from((bits as u64).max(1)),
        }
    }

    /// The span of the run's `n`th retry.
    fn retry(&self, n: i64) -> SpanId {
        SpanId::from(xxh3_64(format!("{}/retry/{n}", self.trace).as_bytes()).max(1))
    }

    /// A context whose (remote) span is `span` of this trace, sampled: the
    /// parent of spans written by whichever server.
    fn parent(&self, span: SpanId) -> Context {
        let context = SpanContext::new(
            self.trace,
            span,
            TraceFlags::SAMPLED,
            true,
            TraceState::default(),
        );
        Context::new().with_remote_span_context(context)
    }
}

/// Writes the spans of `run`'s latest pass: the first under the run's root
/// span; a retry's under a span of its own, child of the root, with the
/// tasks it ended (a retry clears the times of the tasks it runs again).
fn write_run(tracer: &SdkTracer, tenant: &TenantId, run: &Run, graph: Option<&ProcessGraph>) {
    let ids = RunIds::of(&run.id);
    let retried = match run.retries {
        0 => None,
        _ => run.retried_at.as_deref().and_then(at),
    };
    let tasks: Vec<(&TaskRun, SystemTime, SystemTime)> = run
        .tasks
        .iter()
        .filter(|t| t.state.is_terminal())
        .filter_map(|t| {
            let end = t.finished_at.as_deref().and_then(at);
            let start = t.started_at.as_deref().and_then(at).or(end)?;
            Some((t, start, end.unwrap_or(start)))
        })
        .filter(|(_, _, end)| retried.is_none_or(|since| *end >= since))
        .collect();
    let begun = retried.or_else(|| at(run.started_at.as_deref().unwrap_or(&run.created_at)));
    // Servers' clocks differ: the pass's span covers its tasks whichever
    // server wrote their times.
    let start = tasks.iter().map(|(_, start, _)| *start).chain(begun).min();
    let end = tasks
        .iter()
        .map(|(_, _, end)| *end)
        .chain(run.finished_at.as_deref().and_then(at))
        .max();
    let (Some(start), Some(end)) = (start, end) else {
        return;
    };

    let common = [
        KeyValue::new("trellis.tenant", tenant.as_str().to_owned()),
        KeyValue::new("trellis.run", run.id.as_str().to_owned()),
        KeyValue::new("trellis.process", run.process.as_str().to_owned()),
        KeyValue::new("trellis.version", run.version),
    ];
    let (pass, name, parent) = match retried {
        None => (
            ids.root,
            format!("run {}", run.process_name),
            Context::new(),
        ),
        Some(_) => (
            ids.retry(run.retries),
            format!("retry {} of run {}", run.retries, run.process_name),
            ids.parent(ids.root),
        ),
    };
    let failed: Vec<&str> = tasks
        .iter()
        .filter(|(t, _, _)| t.state == TaskState::Failed)
        .map(|(t, _, _)| t.key.as_str())
        .collect();
    let status = match run.state {
        RunState::Succeeded => Status::Ok,
        RunState::Failed if failed.is_empty() => Status::error("the run failed"),
        RunState::Failed => Status::error(format!("failed: {}", failed.join(", "))),
        _ => Status::Unset,
    };
    let mut attributes = common.to_vec();
    attributes.extend([
        KeyValue::new("trellis.state", run.state.as_str()),
        KeyValue::new("trellis.number", run.number),
        KeyValue::new("trellis.retries", run.retries),
    ]);
    let mut span = tracer
        .span_builder(name)
        .with_trace_id(ids.trace)
        .with_span_id(pass)
        .with_start_time(start)
        .with_attributes(attributes)
        .with_status(status)
        .start_with_context(tracer, &parent);
    span.end_with_timestamp(end);

    let parent = ids.parent(pass);
    let executor = graph.map(executor_of);
    for (task, start, end) in tasks {
        let mut attributes = common.to_vec();
        attributes.extend([
            KeyValue::new("trellis.task", task.key.as_str().to_owned()),
            KeyValue::new("trellis.attempt", task.attempt),
            KeyValue::new("trellis.state", task.state.as_str()),
        ]);
        if let Some(node) = &task.node {
            attributes.push(KeyValue::new("trellis.node", node.clone()));
            if let Some(n) = graph.and_then(|g| g.node(node)) {
                attributes.push(KeyValue::new("trellis.component", n.component.to_string()));
            }
            if let Some(executor) = executor {
                attributes.push(KeyValue::new("trellis.executor", executor));
            }
        }
        let status = match task.state {
            TaskState::Succeeded => Status::Ok,
            TaskState::Failed => Status::error(task.error.clone().unwrap_or_default()),
            _ => Status::Unset,
        };
        let mut span = tracer
            .span_builder(task.key.as_str().to_owned())
            .with_start_time(start)
            .with_attributes(attributes)
            .with_status(status)
            .start_with_context(tracer, &parent);
        span.end_with_timestamp(end);
    }
}

/// Where a process's node work runs.
fn executor_of(graph: &ProcessGraph) -> &'static str {
    if graph.orchestrator == Some(Orchestrator::Airflow) {
        "airflow"
    } else if graph.emr_connection().is_some() {
        "emr"
    } else {
        "local"
    }
}

/// A stored time as the tracer takes it.
fn at(text: &str) -> Option<SystemTime> {
    Timestamp::parse(text).map(|t| t.as_datetime().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_runs_trace_is_its_ids_bits_and_its_root_their_low_half() {
        let run = RunId::new("01a22cdc-6bad-72c2-a8ac-016498021e34");
        let ids = RunIds::of(&run);
        assert_eq!(ids.trace.to_string(), "01a22cdc6bad72c2a8ac016498021e34");
        assert_eq!(ids.root.to_string(), "a8ac016498021e34");
        let again = RunIds::of(&run);
        assert_eq!((again.trace, again.root), (ids.trace, ids.root));
        assert_ne!(ids.retry(1), ids.root);
        assert_ne!(ids.retry(1), ids.retry(2));
        assert_eq!(
            ids.retry(1),
            again.retry(1),
            "every server derives the same"
        );

        let other = RunIds::of(&RunId::new("not-a-uuid"));
        assert_ne!(other.trace, TraceId::INVALID);
        assert_ne!(other.root, SpanId::INVALID);
    }
}
