//! Running versions on Airflow / Amazon MWAA: the DAG file renderer, the
//! deployment of files to the DAGs bucket, Airflow's REST API, and runs
//! orchestrated by Airflow.

pub mod api;
pub mod aws_connections;
mod deploy;
mod mwaa;
mod python;
pub mod render;

pub use deploy::{Airflow, AirflowSettings, Door, Folder};
pub use render::{dag_id, hash_tag, render, AirflowError, EmrTarget, Source};

use crate::db::processes::VersionRow;
use crate::db::{connections, Db};
use crate::{Error, Result};
use app::types::{ProcessId, TenantId};

/// The DAG file of a stored version: 409 naming `connection` when the
/// version does not run on EMR or its connection is gone.
pub async fn dag_file(
    db: &Db,
    tenant: &TenantId,
    slug: &str,
    process: &ProcessId,
    row: &VersionRow,
) -> Result<String> {
    let n = row.summary.number;
    let Some(connection) = row.graph.emr_connection() else {
        return Err(Error::Conflict {
            field: Some("connection".into()),
            message: format!(
                "version {n} runs on the embedded engine; on Airflow its steps run on EMR, \
                 so choose a connection for the process and publish again"
            ),
        });
    };
    let connection = connections::get(db, tenant, connection)
        .await?
        .ok_or_else(|| Error::Conflict {
            field: Some("connection".into()),
            message: format!("the connection of version {n} no longer exists"),
        })?
        .public;
    let components = crate::db::processes::components_of(db, row).await?;
    let emr = EmrTarget {
        cluster_id: connection.cluster_id,
        aws_conn_id: connection.airflow_conn_id,
    };
    render(&Source {
        tenant: slug,
        process,
        version: n,
        content_hash: &row.summary.content_hash,
        message: &row.summary.message,
        graph: &row.graph,
        dag: &row.dag,
        components: &components,
        emr: &emr,
    })
    .map_err(|e| Error::Conflict {
        field: Some("graph".into()),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod golden {
    //! The checked-in golden files (`server/tests/airflow/golden`): each
    //! fixture's rendered file, and what Airflow must make of it (task ids,
    //! upstream tasks, step arguments, tags). `tests/it/airflow_import.rs` has a
    //! real Airflow import every file and compare. Regenerate after an
    //! intended change with `TRELLIS_UPDATE_GOLDEN=1 cargo test -p server golden`.
    use super::*;
    use crate::airflow::render::run_args;
    use crate::db::processes::content_hash;
    use crate::executors::render::render_args;
    use app::types::dag::compile;
    use app::types::graph::{Edge, Node, Position, ProcessGraph};
    use serde_json::{json, Map, Value};
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    const PROCESS: &str = "019ac3f0-8d1e-7b51-9a2c-5e4f3a2b1c0d";

    /// A message and a parameter that try every way out of a string literal,
    /// into a Jinja template, or into the program.
    pub const HOSTILE: &str =
        "\"\"\"'''\\\" ); __import__('pathlib').Path('/tmp/trellis-pwned').touch() #\n\
        {{ var.value.get('secret') }} {% raw %}{% endraw %} \r\t\u{0} é€😀 \\N{BULLET} \\x41";

    fn node(id: &str, component: &str, params: Value) -> Node {
        Node {
            id: id.into(),
            component: component.into(),
            label: format!("The {id} step"),
            params: params.as_object().cloned().unwrap_or_default(),
            position: Position::default(),
        }
    }

    struct Fixture {
        name: &'static str,
        tenant: &'static str,
        version: i64,
        message: &'static str,
        graph: ProcessGraph,
    }

    fn fixtures() -> Vec<Fixture> {
        vec![
            Fixture {
                name: "single_sleep",
                tenant: "acme",
                version: 1,
                message: "First version",
                graph: ProcessGraph {
                    nodes: vec![node("wait", "sleep", json!({"seconds": 2}))],
                    edges: vec![],
                    connection: Some("prod-emr".into()),
                    orchestrator: None,
                    local_steps: false,
                    params: vec![],
                },
            },
            Fixture {
                name: "daily_orders",
                tenant: "acme",
                version: 7,
                message: "",
                graph: ProcessGraph {
                    nodes: vec![
                        node(
                            "ingest",
                            "ingest.file",
                            json!({"source": "s3://acme-raw/orders.csv", "dataset": "orders"}),
                        ),
                        node(
                            "check",
                            "quality.check",
                            json!({"dataset": "orders", "rules": "not_null(id)\nunique(id)"}),
                        ),
                        node(
                            "totals",
                            "transform.sql",
                            json!({"inputs": "orders", "dataset": "totals",
                                   "sql": "SELECT day, sum(amount) AS total FROM orders GROUP BY day"}),
                        ),
                        node(
                            "export",
                            "export.file",
                            json!({"dataset": "totals", "destination": "s3://acme-reports/totals.csv"}),
                        ),
                        node("cool_down", "sleep", json!({"seconds": 0.5})),
                    ],
                    edges: vec![
                        Edge::new("ingest", "check"),
                        Edge::new("ingest", "totals"),
                        Edge::new("check", "export"),
                        Edge::new("totals", "export"),
                    ],
                    connection: Some("prod-emr".into()),
                    orchestrator: None,
                    local_steps: false,
                    params: vec![],
                },
            },
            Fixture {
                name: "hostile_values",
                tenant: "evil-corp",
                version: 3,
                message: HOSTILE,
                graph: ProcessGraph {
                    nodes: vec![
                        node("boom", "fail", json!({ "message": HOSTILE })),
                        node("after", "noop", json!({})),
                    ],
                    edges: vec![Edge::new("boom", "after")],
                    connection: Some("prod-emr".into()),
                    orchestrator: None,
                    local_steps: false,
                    params: vec![],
                },
            },
        ]
    }

    fn dir() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/airflow/golden")
    }

    /// What Airflow must make of the file, derived from the compiled DAG
    /// and the catalog, not from the renderer.
    fn expectation(f: &Fixture, dag: &app::types::dag::Dag, hash: &str) -> Value {
        let components = app::catalog::builtin();
        let upstream: BTreeMap<&str, Vec<&str>> = dag
            .tasks
            .iter()
            .map(|t| {
                let mut ups: Vec<&str> = t
                    .depends_on
                    .iter()
                    .map(app::types::TaskKey::as_str)
                    .collect();
                ups.sort();
                (t.key.as_str(), ups)
            })
            .collect();
        let mut steps = Map::new();
        for n in &f.graph.nodes {
            let c = components.iter().find(|c| c.key == n.component).unwrap();
            let emr = c.emr.as_ref().unwrap();
            let args = render_args(c, &emr.args, &n.params).unwrap();
            steps.insert(
                n.id.clone(),
                json!({"Jar": emr.jar, "Args": args, "ActionOnFailure": emr.action_on_failure}),
            );
        }
        json!({
            "dag_id": dag_id(f.tenant, &ProcessId::from(PROCESS), f.version),
            "description": if f.message.is_empty() { format!("Trellis process {PROCESS} v{}", f.version) } else { f.message.trim().to_owned() },
            "tags": ["trellis", format!("tenant:{}", f.tenant), format!("process:{PROCESS}"),
                     format!("version:{}", f.version), hash_tag(hash)],
            "upstream": upstream,
            "steps": steps,
            "cluster_id": "j-2AXXXXXXGAPLF",
            "aws_conn_id": "trellis_prod_emr",
            "exit_trigger_rule": "all_done",
        })
    }

    fn rendered(f: &Fixture) -> (String, Value) {
        let dag = compile(&f.graph).unwrap();
        let hash = content_hash(&f.graph, &[]);
        let components = app::catalog::builtin();
        let emr = EmrTarget {
            cluster_id: "j-2AXXXXXXGAPLF".into(),
            aws_conn_id: "trellis_prod_emr".into(),
        };
        let file = render(&Source {
            tenant: f.tenant,
            process: &ProcessId::from(PROCESS),
            version: f.version,
            content_hash: &hash,
            message: f.message,
            graph: &f.graph,
            dag: &dag,
            components: &components,
            emr: &emr,
        })
        .unwrap();
        let expected = expectation(f, &dag, &hash);
        (file, expected)
    }

    #[test]
    fn golden_files_match_the_renderer() {
        let update = std::env::var_os("TRELLIS_UPDATE_GOLDEN").is_some();
        for f in fixtures() {
            let (file, expected) = rendered(&f);
            let expected = serde_json::to_string_pretty(&expected).unwrap() + "\n";
            let py = dir().join(format!("{}.py", f.name));
            let json = dir().join(format!("{}.json", f.name));
            if update {
                std::fs::create_dir_all(dir()).unwrap();
                std::fs::write(&py, &file).unwrap();
                std::fs::write(&json, &expected).unwrap();
                continue;
            }
            let golden = std::fs::read_to_string(&py).unwrap_or_default();
            assert!(
                golden == file,
                "{} differs from the renderer's output; if the change is intended, \
                 regenerate with TRELLIS_UPDATE_GOLDEN=1",
                py.display()
            );
            assert_eq!(std::fs::read_to_string(&json).unwrap_or_default(), expected);
        }
    }

    #[test]
    fn rendering_is_deterministic_and_ascii() {
        for f in fixtures() {
            let (a, _) = rendered(&f);
            let (b, _) = rendered(&f);
            assert_eq!(a, b);
            assert!(a.is_ascii(), "{} has non-ASCII bytes", f.name);
            assert!(a.contains(&content_hash(&f.graph, &[])));
        }
    }

    #[test]
    fn hostile_values_stay_inside_string_literals() {
        let f = fixtures().pop().unwrap();
        let (file, _) = rendered(&f);
        // No line of the file starts with the value's "code": every
        // newline in it was escaped, so it cannot start a statement.
        assert!(!file.lines().any(|l| l.trim_start().starts_with("{{ var")));
        assert!(!file.contains("\n{{"));
        assert!(file.contains(
            r#"\"\"\"'''\\\" ); __import__('pathlib').Path('/tmp/trellis-pwned').touch() #\n{{ var.value.get('secret') }}"#
        ));
    }

    #[test]
    fn a_node_that_refers_to_the_run_takes_its_arguments_from_the_runs_conf() {
        let mut f = fixtures().remove(0);
        f.graph.params =
            serde_json::from_value(json!([{"name": "wait", "type": "number"}])).unwrap();
        f.graph.nodes[0]
            .params
            .insert("seconds".into(), json!("{{ params.wait }}"));
        f.graph.nodes.push(node(
            "boom",
            "fail",
            json!({"message": "{{ var.value.get('x') }}"}),
        ));
        let (file, _) = rendered(&f);
        // The reference is text in a literal; only the run's conf fills it.
        assert!(
            file.contains(r#""Args": ["sleep", "{{ params.wait }}"]"#),
            "{file}"
        );
        let nodes = &file[file.find("NODES = {").unwrap()..file.find("STEPS = {").unwrap()];
        let from_run: Vec<&str> = nodes
            .lines()
            .filter(|l| l.contains("\"from_run\""))
            .map(str::trim)
            .collect();
        assert_eq!(
            from_run,
            ["\"from_run\": False,", "\"from_run\": True,"],
            "boom's Jinja is not a reference of ours; wait's is (nodes by id)"
        );
        assert!(file.contains("tasks[\"C_\" + node] = TrellisAddSteps("));
    }

    #[test]
    fn run_args_are_the_resolved_values_one_argument_each() {
        let f = &fixtures()[2];
        let dag = compile(&f.graph).unwrap();
        let components = app::catalog::builtin();
        let run_value = "{{ var.value.get('secret') }}'; rm -rf / #\n--flag";
        let values = BTreeMap::from([(
            "boom".to_owned(),
            json!({ "message": run_value })
                .as_object()
                .cloned()
                .unwrap(),
        )]);
        let args = run_args(&f.graph, &dag, &components, &values).unwrap();
        assert_eq!(
            args["boom"],
            ["bash", "-c", "echo \"$0\" >&2; exit 1", run_value]
        );
        assert_eq!(args["after"], ["true"], "a node the run has no values for");
        assert_eq!(args.len(), 2);
    }

    #[test]
    fn components_that_cannot_run_on_emr_are_refused() {
        let mut f = fixtures().remove(0);
        f.graph.nodes[0].component = "nope".into();
        let dag = compile(&f.graph).unwrap();
        let components = app::catalog::builtin();
        let emr = EmrTarget {
            cluster_id: "j-1".into(),
            aws_conn_id: "aws_default".into(),
        };
        let source = |graph: &ProcessGraph, components: &[_]| {
            render(&Source {
                tenant: "acme",
                process: &ProcessId::from(PROCESS),
                version: 1,
                content_hash: "sha256:0",
                message: "",
                graph,
                dag: &dag,
                components,
                emr: &emr,
            })
        };
        assert_eq!(
            source(&f.graph, &components).unwrap_err().to_string(),
            "node `wait`: component `nope` is not in the catalog"
        );
        f.graph.nodes[0].component = "sleep".into();
        let mut local_only = components.clone();
        local_only.iter_mut().for_each(|c| c.emr = None);
        assert_eq!(
            source(&f.graph, &local_only).unwrap_err().to_string(),
            "node `wait`: `sleep` cannot run on EMR"
        );
        f.graph.nodes[0].params.clear();
        assert_eq!(
            source(&f.graph, &components).unwrap_err().to_string(),
            "node `wait`: parameter `seconds` has no value and no default"
        );
    }
}
