//! The demo tenant's sample data and processes, installed on first start so
//! a newcomer can run a real pipeline at once: orders and customers CSVs with
//! a few deliberate quality problems, one published process that succeeds
//! despite them (ingest → quality check → SQL transform → export), and one
//! whose strict check fails on them.

use crate::db::processes::{self, content_hash, NewVersion};
use crate::db::Db;
use app::types::dag::compile;
use app::types::graph::{Edge, Node, Position, ProcessGraph};
use app::types::params::{ParamType, ProcessParam};
use app::types::{TenantId, UserId};
use serde_json::{json, Value};
use std::path::Path;

pub const ORDERS_CSV: &str = include_str!("../demo/orders.csv");
pub const CUSTOMERS_CSV: &str = include_str!("../demo/customers.csv");

pub const REVENUE_PROCESS: &str = "Daily revenue by country";
pub const STRICT_PROCESS: &str = "Customer contacts (strict check)";

pub const REVENUE_SQL: &str =
    "SELECT c.country, COUNT(*) AS orders, ROUND(SUM(o.amount), 2) AS revenue
FROM orders o
JOIN customers c ON c.customer_id = o.customer_id
WHERE o.status IN ('paid', 'shipped') AND o.amount >= {{ params.min_amount }}
GROUP BY c.country
ORDER BY revenue DESC, c.country";

fn node(id: &str, component: &str, label: &str, x: f64, y: f64, params: Value) -> Node {
    Node {
        id: id.into(),
        component: component.into(),
        label: label.into(),
        params: params.as_object().cloned().unwrap_or_default(),
        position: Position { x, y },
    }
}

/// Ingest both files, check the orders (tolerating up to 5% bad rows per
/// rule), join and aggregate, export the result.
pub fn revenue_graph() -> ProcessGraph {
    ProcessGraph {
        connection: None,
        orchestrator: None,
        local_steps: false,
        params: vec![ProcessParam {
            name: "min_amount".into(),
            kind: ParamType::Number,
            values: vec![],
            default: Some(json!(0)),
            required: false,
            description: "Only orders of at least this amount count towards the revenue".into(),
        }],
        nodes: vec![
            node(
                "ingest_orders",
                "ingest.file",
                "Ingest orders",
                0.0,
                0.0,
                json!({"source": "samples/orders.csv", "dataset": "orders"}),
            ),
            node(
                "ingest_customers",
                "ingest.file",
                "Ingest customers",
                0.0,
                160.0,
                json!({"source": "samples/customers.csv", "dataset": "customers"}),
            ),
            node(
                "check_orders",
                "quality.check",
                "Check orders",
                260.0,
                0.0,
                json!({
                    "dataset": "orders",
                    "rules": "not_null(order_id, customer_id, amount)\nunique(order_id)\nrange(amount, 0, 10000)\n\
                              allowed_values(status, 'new', 'paid', 'shipped', 'cancelled')\nrow_count(1, 1000000)",
                    "threshold": "5%",
                }),
            ),
            node(
                "revenue",
                "transform.sql",
                "Revenue by country",
                520.0,
                80.0,
                json!({
                    "inputs": "orders, customers",
                    "sql": REVENUE_SQL,
                    "dataset": "revenue_by_country",
                }),
            ),
            node(
                "export",
                "export.file",
                "Export revenue",
                780.0,
                80.0,
                json!({
                    "dataset": "revenue_by_country",
                    "format": "csv",
                    "destination": "revenue_by_country.csv",
                }),
            ),
        ],
        edges: vec![
            Edge::new("ingest_orders", "check_orders"),
            Edge::new("check_orders", "revenue"),
            Edge::new("ingest_customers", "revenue"),
            Edge::new("revenue", "export"),
        ],
    }
}

/// Ingest customers and insist every e-mail address is present and well formed.
pub fn strict_graph() -> ProcessGraph {
    ProcessGraph {
        connection: None,
        orchestrator: None,
        local_steps: false,
        params: vec![],
        nodes: vec![
            node(
                "ingest_customers",
                "ingest.file",
                "Ingest customers",
                0.0,
                0.0,
                json!({"source": "samples/customers.csv", "dataset": "customers"}),
            ),
            node(
                "check_contacts",
                "quality.check",
                "Check contacts",
                260.0,
                0.0,
                json!({
                    "dataset": "customers",
                    "rules": "unique(customer_id)\nnot_null(email)\nregex(email, '^[^@ ]+@[^@ ]+\\.[a-z]+$')",
                    "threshold": "0",
                }),
            ),
        ],
        edges: vec![Edge::new("ingest_customers", "check_contacts")],
    }
}

/// Writes the sample files into the tenant's data folder (keeping any that exist).
pub fn write_samples(tenant_dir: &Path) -> std::io::Result<()> {
    let samples = tenant_dir.join("data").join("samples");
    std::fs::create_dir_all(&samples)?;
    for (name, text) in [("orders.csv", ORDERS_CSV), ("customers.csv", CUSTOMERS_CSV)] {
        let path = samples.join(name);
        if !path.exists() {
            std::fs::write(path, text)?;
        }
    }
    Ok(())
}

/// Creates and publishes the demo processes in `tenant` (as `by`) and writes
/// the sample files under `data_dir`.
pub async fn install(
    db: &Db,
    data_dir: &Path,
    tenant: &TenantId,
    by: &UserId,
) -> anyhow::Result<()> {
    write_samples(&data_dir.join("tenants").join(tenant.as_str()))?;
    for (name, description, graph) in [
        (REVENUE_PROCESS, "Orders and customers from the sample files: checked, joined, totalled per country and exported.", revenue_graph()),
        (STRICT_PROCESS, "Fails on purpose: two sample customers have a missing or malformed e-mail address.", strict_graph()),
    ] {
        let id = processes::create(db, tenant, name, description, &graph, by).await?;
        let dag = compile(&graph)?;
        let frozen = processes::used_components(&graph, &crate::db::catalog::list(db).await?);
        processes::insert_version(
            db,
            NewVersion {
                tenant,
                process: &id,
                number: 1,
                content_hash: &content_hash(&graph, &frozen),
                message: "Demo",
                graph: &graph,
                dag: &dag,
                components: &frozen,
                by,
            },
        )
        .await?;
    }
    Ok(())
}
