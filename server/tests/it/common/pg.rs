//! A throwaway PostgreSQL 15 cluster for every test of the test binary (`it`),
//! started by the first test that asks for one: a temp dir, loopback, a free
//! port. A watchdog process stops it and removes the dir when the test
//! process exits. Each test gets a database of its own.

use sqlx::{Connection, Executor, PgConnection};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

static ADMIN_URL: OnceLock<String> = OnceLock::new();

/// A URL to a new, empty database.
pub async fn fresh_database() -> String {
    let admin = ADMIN_URL.get_or_init(admin_url).clone();
    let name = format!("trellis_test_{}", uuid::Uuid::new_v4().simple());
    let mut conn = PgConnection::connect(&admin)
        .await
        .expect("connect to the test PostgreSQL server");
    conn.execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .unwrap();
    conn.close().await.ok();
    let (without_query, query) = admin.split_once('?').unwrap_or((&admin, ""));
    let (base, _) = without_query
        .rsplit_once('/')
        .expect("database URL has a path");
    match query {
        "" => format!("{base}/{name}"),
        q => format!("{base}/{name}?{q}"),
    }
}

fn admin_url() -> String {
    match std::env::var("DATABASE_URL") {
        Ok(url) if url.starts_with("postgres") => url,
        _ => start_cluster(),
    }
}

fn bin_dir() -> PathBuf {
    std::env::var_os("TRELLIS_PG_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/lib/postgresql/15/bin"))
}

/// As root, PostgreSQL's tools must run as the `postgres` user.
fn pg_command(program: &str, as_postgres: bool) -> Command {
    let path = bin_dir().join(program);
    if as_postgres {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(path);
        c
    } else {
        Command::new(path)
    }
}

fn run(mut command: Command, what: &str) {
    let out = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn start_cluster() -> String {
    let as_root = std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false);
    let dir = tempfile::Builder::new()
        .prefix("trellis-pg-")
        .tempdir()
        .unwrap()
        .keep();
    let data = dir.join("data");
    if as_root {
        let id = |flag: &str| {
            let out = Command::new("id")
                .args([flag, "postgres"])
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stdout)
                .trim()
                .parse::<u32>()
                .expect("a `postgres` user")
        };
        std::os::unix::fs::chown(&dir, Some(id("-u")), Some(id("-g"))).unwrap();
    }

    let mut initdb = pg_command("initdb", as_root);
    initdb
        .args([
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-sync",
            "-D",
        ])
        .arg(&data);
    run(initdb, "initdb");

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let options = format!(
        "-c listen_addresses=127.0.0.1 -p {port} -k {} -c fsync=off -c synchronous_commit=off -c max_connections=300",
        dir.display()
    );
    let mut pg_ctl = pg_command("pg_ctl", as_root);
    pg_ctl
        .args(["-w", "-t", "60", "-o", &options, "-l"])
        .arg(dir.join("log"))
        .arg("-D")
        .arg(&data)
        .arg("start");
    run(pg_ctl, "pg_ctl start");

    // Stop the cluster once this test process is gone (tests have no global teardown).
    let stop = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; {runuser} {bin}/pg_ctl -D {data} -m immediate stop; rm -rf {dir}",
        pid = std::process::id(),
        runuser = if as_root { "runuser -u postgres --" } else { "" },
        bin = bin_dir().display(),
        data = data.display(),
        dir = dir.display(),
    );
    // The watchdog outlives this process on purpose; nobody is left to reap it.
    #[allow(clippy::zombie_processes)]
    Command::new("setsid")
        .args(["sh", "-c", &stop])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the cluster watchdog");

    format!("postgres://postgres@127.0.0.1:{port}/postgres")
}
