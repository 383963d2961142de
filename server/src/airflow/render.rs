//! Renders a version's DAG as an Airflow 3 DAG file, task for task:
//! `PEntry`/`PExit` report the run to Trellis, `C_<node>` adds the node's
//! EMR step (`TrellisAddSteps`, an `EmrAddStepsOperator`), `W_<node>` is an
//! `EmrStepSensor` (poke mode), and every task reports its state changes
//! through task callbacks.
//!
//! The file is a fixed program plus data: every value that comes from the
//! version (parameters, messages, ids) is written as an escaped Python
//! literal, and the EMR step's jar and arguments are wrapped in `literal()`
//! so Airflow's Jinja never evaluates them. A run's own values travel in its
//! conf as the step arguments Trellis rendered ([`run_args`]); the submit
//! task puts them into the step after Airflow has rendered its templates,
//! so they are never templates either. Equal inputs give equal bytes.

use super::python;
use crate::executors::render::{render_args, RenderError};
use app::types::component::{ComponentType, EmrStepTemplate};
use app::types::dag::{Dag, ENTRY, EXIT};
use app::types::graph::{Node, ProcessGraph};
use app::types::state::TaskKind;
use app::types::{ComponentKey, ProcessId};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// Where the `C_`/`W_` tasks send their steps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmrTarget {
    pub cluster_id: String,
    /// The Airflow connection that holds the AWS credentials.
    pub aws_conn_id: String,
}

/// Everything a DAG file is made of.
pub struct Source<'a> {
    /// The tenant's slug.
    pub tenant: &'a str,
    pub process: &'a ProcessId,
    pub version: i64,
    pub content_hash: &'a str,
    pub message: &'a str,
    pub graph: &'a ProcessGraph,
    pub dag: &'a Dag,
    pub components: &'a [ComponentType],
    pub emr: &'a EmrTarget,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AirflowError {
    #[error("node `{node}`: component `{component}` is not in the catalog")]
    UnknownComponent {
        node: String,
        component: ComponentKey,
    },
    #[error("node `{node}`: `{component}` cannot run on EMR")]
    NoEmr {
        node: String,
        component: ComponentKey,
    },
    #[error("node `{node}`: {error}")]
    Args { node: String, error: RenderError },
    #[error("task `{0}` of the DAG names no node of the version")]
    NoNode(String),
}

/// The Airflow `dag_id` of a version: `trellis.<tenant>.<process>.v<n>`.
pub fn dag_id(tenant: &str, process: &ProcessId, version: i64) -> String {
    format!("trellis.{tenant}.{process}.v{version}")
}

/// The tag that carries the version's content hash; readiness looks for it.
pub fn hash_tag(content_hash: &str) -> String {
    format!("trellis-hash:{content_hash}")
}

/// How often a `W_` sensor asks EMR about its step, in seconds.
const POKE_SECONDS: u32 = 10;

/// The shared part of every file: imports and the functions the tasks and
/// their callbacks call. It reads only the data constants above it.
const PROGRAM: &str = r#"

def _callback(context):
    """Where this run reports to: set by Trellis in the run's conf when it
    triggers the run. A run started in Airflow itself reports nowhere."""
    conf = context["dag_run"].conf or {}
    callback = conf.get("trellis")
    return callback if isinstance(callback, dict) else None


def _post(callback, body):
    request = urllib.request.Request(
        callback["url"],
        data=json.dumps(body).encode("utf-8"),
        headers={
            "Authorization": "Bearer " + callback["token"],
            "Content-Type": "application/json",
        },
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()


def _task_state(state):
    """A task callback that tells Trellis the task reached `state`."""

    def report(context):
        callback = _callback(context)
        if callback is None:
            return
        ti = context["ti"]
        body = {"kind": "task", "task": ti.task_id, "state": state, "attempt": ti.try_number}
        exception = context.get("exception")
        if exception is not None:
            body["error"] = str(exception)[:4000]
        if state == "succeeded" and ti.task_id.startswith("C_"):
            body["steps"] = ti.xcom_pull(task_ids=ti.task_id)
        _post(callback, body)

    return report


def _run_event(event):
    """The body of PEntry and PExit: the run started or finished."""
    callback = _callback(get_current_context())
    if callback is not None:
        _post(callback, {"kind": "run", "event": event})


def _steps(node):
    """The node's EMR step, named `trellis:<run>:C_<node>:<attempt>` as the
    embedded engine names it; its jar and arguments are never templated."""
    step = STEPS[node]
    return [
        {
            "Name": "trellis:{{ (dag_run.conf.get('trellis') or {}).get('run') or run_id }}:C_"
            + node
            + ":{{ ti.try_number }}",
            "ActionOnFailure": step["ActionOnFailure"],
            "HadoopJarStep": literal(step["HadoopJarStep"]),
        }
    ]


class TrellisAddSteps(EmrAddStepsOperator):
    """Adds a node's EMR step with the arguments Trellis rendered from the
    run's values (`trellis.args` in the run's conf). They replace the file's
    own after Airflow has rendered the templates, so a value is never one.
    A run started in Airflow itself sends the file's arguments, unless the
    node's values refer to the run's parameters."""

    def __init__(self, *, node, **kwargs):
        super().__init__(**kwargs)
        self.trellis_node = node

    def run_steps(self, context):
        """The (rendered) steps with the run's arguments in them."""
        node = self.trellis_node
        args = ((_callback(context) or {}).get("args") or {}).get(node)
        [step] = self.steps
        if args is None:
            if NODES[node]["from_run"]:
                raise ValueError(
                    "the values of node " + node + " refer to the run's parameters; "
                    "start the run from Trellis"
                )
            return [step]
        if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
            raise ValueError("the run's arguments for node " + node + " are not a list of strings")
        jar_step = dict(step["HadoopJarStep"], Args=list(args))
        return [dict(step, HadoopJarStep=jar_step)]

    def execute(self, context):
        self.steps = self.run_steps(context)
        return super().execute(context)


with DAG(
    dag_id=DAG_ID,
    description=DESCRIPTION,
    schedule=None,
    catchup=False,
    tags=TAGS,
    is_paused_upon_creation=False,
    default_args={
        "on_execute_callback": _task_state("running"),
        "on_success_callback": _task_state("succeeded"),
        "on_failure_callback": _task_state("failed"),
        "on_retry_callback": _task_state("up_for_retry"),
        "on_skipped_callback": _task_state("skipped"),
    },
) as dag:
    tasks = {}

    @task(task_id="PEntry", retries=3, retry_delay=timedelta(seconds=5))
    def entry():
        _run_event("started")

    @task(task_id="PExit", trigger_rule="all_done", retries=3, retry_delay=timedelta(seconds=5))
    def exit_():
        _run_event("finished")

    tasks["PEntry"] = entry()
    tasks["PExit"] = exit_()
    for node, policy in NODES.items():
        tasks["C_" + node] = TrellisAddSteps(
            task_id="C_" + node,
            node=node,
            job_flow_id=literal(CLUSTER_ID),
            aws_conn_id=AWS_CONN_ID,
            steps=_steps(node),
            retries=policy["retries"],
            retry_delay=timedelta(seconds=policy["retry_delay_seconds"]),
            retry_exponential_backoff=True,
        )
        tasks["W_" + node] = EmrStepSensor(
            task_id="W_" + node,
            job_flow_id=literal(CLUSTER_ID),
            step_id="{{ ti.xcom_pull(task_ids='C_" + node + "')[0] }}",
            aws_conn_id=AWS_CONN_ID,
            mode="poke",
            poke_interval=POKE_SECONDS,
            timeout=policy["timeout_seconds"] or 7 * 24 * 3600,
        )
    for upstream, downstream in EDGES:
        tasks[upstream] >> tasks[downstream]
"#;

/// A node that runs as an EMR step: the node, its component and its step.
struct Submit<'a> {
    node: &'a Node,
    component: &'a ComponentType,
    emr: &'a EmrStepTemplate,
}

/// The nodes of `dag`'s submit tasks, in DAG order, each with the component
/// it runs and its EMR step; or why one cannot run on EMR.
fn submits<'a>(
    graph: &'a ProcessGraph,
    dag: &Dag,
    components: &'a [ComponentType],
) -> Result<Vec<Submit<'a>>, AirflowError> {
    let mut out = Vec::new();
    for task in dag.tasks.iter().filter(|t| t.kind == TaskKind::Submit) {
        let node = task
            .node
            .as_deref()
            .and_then(|id| graph.node(id))
            .ok_or_else(|| AirflowError::NoNode(task.key.to_string()))?;
        let component = components
            .iter()
            .find(|c| c.key == node.component)
            .ok_or_else(|| AirflowError::UnknownComponent {
                node: node.id.clone(),
                component: node.component.clone(),
            })?;
        let emr = component.emr.as_ref().ok_or_else(|| AirflowError::NoEmr {
            node: node.id.clone(),
            component: component.key.clone(),
        })?;
        out.push(Submit {
            node,
            component,
            emr,
        });
    }
    Ok(out)
}

impl Submit<'_> {
    fn args(&self, values: &Map<String, Value>) -> Result<Vec<String>, AirflowError> {
        render_args(self.component, &self.emr.args, values).map_err(|error| AirflowError::Args {
            node: self.node.id.clone(),
            error,
        })
    }

    /// Whether the node's values refer to the run (`{{ params.x }}` …): its
    /// step takes its arguments from the run's conf alone.
    fn refers_to_run(&self) -> bool {
        self.node.params.values().any(app::params::is_template)
    }
}

/// The EMR step arguments of every node of a run on Airflow, by node id,
/// rendered from the values the run resolved (`values`, by node; a node
/// missing there uses its own): what the run's conf carries as
/// `trellis.args`, and what its submit tasks send to EMR.
pub fn run_args(
    graph: &ProcessGraph,
    dag: &Dag,
    components: &[ComponentType],
    values: &BTreeMap<String, Map<String, Value>>,
) -> Result<BTreeMap<String, Vec<String>>, AirflowError> {
    submits(graph, dag, components)?
        .iter()
        .map(|s| {
            let values = values.get(&s.node.id).unwrap_or(&s.node.params);
            Ok((s.node.id.clone(), s.args(values)?))
        })
        .collect()
}

/// Renders the DAG file of one version.
pub fn render(source: &Source) -> Result<String, AirflowError> {
    let mut steps = Map::new();
    let mut nodes = Map::new();
    let mut edges = Vec::new();
    for task in &source.dag.tasks {
        for upstream in &task.depends_on {
            edges.push(json!([upstream, task.key]));
        }
    }
    for submit in submits(source.graph, source.dag, source.components)? {
        let (node, component, emr) = (submit.node, submit.component, submit.emr);
        // A value that refers to the run is kept as its text: the file's
        // arguments then only show where the run's values go.
        let args = submit.args(&node.params)?;
        steps.insert(
            node.id.clone(),
            json!({
                "ActionOnFailure": emr.action_on_failure,
                "HadoopJarStep": { "Args": args, "Jar": emr.jar },
            }),
        );
        nodes.insert(
            node.id.clone(),
            json!({
                "component": component.key,
                "from_run": submit.refers_to_run(),
                "label": node.label,
                "retries": component.retries,
                "retry_delay_seconds": component.retry_delay_seconds,
                "timeout_seconds": component.timeout_seconds,
            }),
        );
    }
    let tags = json!([
        "trellis",
        format!("tenant:{}", source.tenant),
        format!("process:{}", source.process),
        format!("version:{}", source.version),
        hash_tag(source.content_hash),
    ]);
    let description = if source.message.trim().is_empty() {
        format!("Trellis process {} v{}", source.process, source.version)
    } else {
        source.message.trim().to_owned()
    };

    let mut out = String::with_capacity(8 * 1024);
    out.push_str(
        "# Generated by Trellis from a published version. Do not edit it: publish a new\n\
         # version instead. The constants below are data; the program after them is the\n\
         # same in every file.\n\
         from __future__ import annotations\n\n\
         import json\n\
         import urllib.request\n\
         from datetime import timedelta\n\n\
         from airflow.providers.amazon.aws.operators.emr import EmrAddStepsOperator\n\
         from airflow.providers.amazon.aws.sensors.emr import EmrStepSensor\n\
         from airflow.sdk import DAG, get_current_context, literal, task\n\n",
    );
    let constant = |out: &mut String, name: &str, value: Value| {
        out.push_str(name);
        out.push_str(" = ");
        out.push_str(&python::literal(&value, 0));
        out.push('\n');
    };
    constant(
        &mut out,
        "DAG_ID",
        json!(dag_id(source.tenant, source.process, source.version)),
    );
    constant(
        &mut out,
        "TRELLIS",
        json!({
            "content_hash": source.content_hash,
            "process": source.process,
            "tenant": source.tenant,
            "version": source.version,
        }),
    );
    constant(&mut out, "DESCRIPTION", json!(description));
    constant(&mut out, "TAGS", tags);
    constant(&mut out, "CLUSTER_ID", json!(source.emr.cluster_id));
    constant(&mut out, "AWS_CONN_ID", json!(source.emr.aws_conn_id));
    constant(&mut out, "POKE_SECONDS", json!(POKE_SECONDS));
    out.push_str(
        "# The component, label and retry policy of each node, by node id, and whether\n\
         # its values refer to the run (its step arguments then come from the run's conf).\n",
    );
    constant(&mut out, "NODES", Value::Object(nodes));
    out.push_str(
        "# The EMR step of each node (its name is given per run and attempt, its\n\
         # arguments by the run's conf when Trellis started the run).\n",
    );
    constant(&mut out, "STEPS", Value::Object(steps));
    out.push_str("# Task dependencies, (upstream, downstream): the version's DAG.\n");
    constant(&mut out, "EDGES", Value::Array(edges));
    out.push_str(PROGRAM);
    debug_assert!(ENTRY == "PEntry" && EXIT == "PExit");
    Ok(out)
}
