//! Data component benchmark (release build): generates a CSV of about 1 GB
//! (`TRELLIS_BENCH_MB` to change), then runs `ingest.file` and `quality.check`
//! on it exactly as the local executor does (child processes of the real
//! binary) and then a `transform.sql` aggregate over it, and reports
//! throughput and each step's peak RSS (target ≤ 100 MB).
//! Run: `cargo bench -p server --bench data`.

use std::io::{BufWriter, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

const STATUSES: [&str; 4] = ["new", "paid", "shipped", "cancelled"];

/// Orders with a few problems mixed in: a missing e-mail every 997 rows, a
/// repeated id every 100,003 rows, a negative amount every 50,021 rows.
fn generate(path: &Path, target_bytes: u64) -> (u64, u64) {
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(path).unwrap());
    writeln!(
        out,
        "order_id,customer_id,ordered_on,status,amount,email,note"
    )
    .unwrap();
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let (mut rows, mut bytes) = (0u64, 0u64);
    while bytes < target_bytes {
        rows += 1;
        let r = next();
        let id = if rows % 100_003 == 0 { rows - 1 } else { rows };
        let amount = if rows % 50_021 == 0 {
            -1.0
        } else {
            (r % 1_000_000) as f64 / 100.0
        };
        let email = if rows % 997 == 0 {
            String::new()
        } else {
            format!("customer{}@example.com", r % 500_000)
        };
        let line = format!(
            "{id},{},2024-{:02}-{:02},{},{amount:.2},{email},\"free text, with a comma {}\"\n",
            r % 500_000,
            1 + (r >> 20) % 12,
            1 + (r >> 24) % 28,
            STATUSES[(r >> 32) as usize % 4],
            r >> 40
        );
        bytes += line.len() as u64;
        out.write_all(line.as_bytes()).unwrap();
    }
    out.flush().unwrap();
    (rows, bytes)
}

/// Runs a step to its end; answers seconds taken and its peak RSS in MiB.
fn step(tenant: &Path, args: &[&str]) -> (f64, f64) {
    let started = Instant::now();
    // Reaped below by wait4, which std's `wait` cannot replace: it alone
    // reports this child's own peak RSS.
    #[allow(clippy::zombie_processes)]
    let child = Command::new(env!("CARGO_BIN_EXE_trellis"))
        .arg("step")
        .args(args)
        .env("TRELLIS_TENANT_DIR", tenant)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // wait4 reports the peak RSS of exactly this child.
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as i32);
    let status = std::process::ExitStatus::from_raw(status);
    assert!(status.success(), "{args:?}: {status}");
    (
        started.elapsed().as_secs_f64(),
        usage.ru_maxrss as f64 / 1024.0,
    )
}

fn main() {
    let mb: u64 = std::env::var("TRELLIS_BENCH_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    let root = tempfile::tempdir_in(
        std::env::var("TRELLIS_BENCH_DIR").unwrap_or_else(|_| "/var/tmp".into()),
    )
    .unwrap();
    std::fs::create_dir_all(root.path().join("data")).unwrap();
    let csv = root.path().join("data/orders.csv");
    let started = Instant::now();
    let (rows, bytes) = generate(&csv, mb << 20);
    let size_mb = bytes as f64 / 1e6;
    println!(
        "generated {rows} rows, {size_mb:.0} MB in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let (secs, rss) = step(
        root.path(),
        &["ingest.file", "--source=orders.csv", "--dataset=orders"],
    );
    println!(
        "ingest.file:   {secs:6.1} s  {:6.1} MB/s  {:8.0} rows/s  peak RSS {rss:5.1} MiB",
        size_mb / secs,
        rows as f64 / secs
    );

    let rules = "not_null(order_id, email)\nunique(order_id)\nrange(amount, 0, 10000)\n\
                 regex(email, '^[^@ ]+@[^@ ]+$')\nallowed_values(status, 'new', 'paid', 'shipped', 'cancelled')\n\
                 row_count(1, 1000000000)";
    let (secs, rss) = step(
        root.path(),
        &[
            "quality.check",
            "--dataset=orders",
            &format!("--rules={rules}"),
            "--threshold=1%",
        ],
    );
    println!(
        "quality.check: {secs:6.1} s  {:6.1} MB/s  {:8.0} rows/s  peak RSS {rss:5.1} MiB",
        size_mb / secs,
        rows as f64 / secs
    );

    let sql =
        "SELECT status, COUNT(*) AS orders, SUM(amount) AS amount FROM orders GROUP BY status";
    let (secs, rss) = step(
        root.path(),
        &[
            "transform.sql",
            "--inputs=orders",
            &format!("--sql={sql}"),
            "--dataset=by_status",
        ],
    );
    println!(
        "transform.sql: {secs:6.1} s  {:6.1} MB/s  {:8.0} rows/s  peak RSS {rss:5.1} MiB",
        size_mb / secs,
        rows as f64 / secs
    );

    let report: serde_json::Value = serde_json::from_slice(
        &std::fs::read(root.path().join("datasets/orders/quality.json")).unwrap(),
    )
    .unwrap();
    for rule in report["rules"].as_array().unwrap() {
        println!(
            "  {}: {} violations in {} checked",
            rule["rule"], rule["violations"], rule["checked"]
        );
    }
}
