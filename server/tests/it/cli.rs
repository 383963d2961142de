//! The `trellis` binary as an operator uses it: help, migrate, serve, and a
//! graceful stop on SIGTERM.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn trellis() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_trellis"));
    c.env_remove("DATABASE_URL")
        .env_remove("TRELLIS_ADMIN_PASSWORD")
        .env_remove("TRELLIS_LISTEN");
    c
}

#[test]
fn help_lists_every_command_and_setting() {
    let out = trellis().arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for word in ["serve", "migrate", "--log-format"] {
        assert!(
            help.contains(word),
            "`trellis --help` mentions {word}:\n{help}"
        );
    }
    let out = trellis().args(["serve", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for word in [
        "--listen",
        "TRELLIS_LISTEN",
        "--data-dir",
        "TRELLIS_DATA_DIR",
        "--database-url",
        "DATABASE_URL",
        "TRELLIS_FETCH_MAX_BYTES",
        "TRELLIS_FETCH_TIMEOUT_SECONDS",
        "TRELLIS_TASK_TIMEOUT_SECONDS",
        "TRELLIS_TASK_MAX_ADDRESS_SPACE_BYTES",
        "TRELLIS_TASK_MAX_CPU_SECONDS",
        "TRELLIS_TASK_MAX_FILE_BYTES",
        "TRELLIS_TASK_MAX_OPEN_FILES",
        "TRELLIS_TASK_MAX_PROCESSES",
        "TRELLIS_SQL_TIMEOUT_SECONDS",
        "TRELLIS_SQL_MAX_ROWS",
        "TRELLIS_SQL_MAX_BYTES",
        "TRELLIS_OUTBOUND_ALLOW",
    ] {
        assert!(
            help.contains(word),
            "`trellis serve --help` mentions {word}:\n{help}"
        );
    }
    let out = trellis().args(["step", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for word in [
        "ingest.file",
        "quality.check",
        "transform.sql",
        "export.file",
    ] {
        assert!(
            help.contains(word),
            "`trellis step --help` mentions {word}:\n{help}"
        );
    }
}

#[test]
fn migrate_creates_the_sqlite_database_under_the_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = trellis()
        .args(["migrate", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(data.join("trellis.db").exists());
    assert!(String::from_utf8_lossy(&out.stdout).contains("migrations applied"));
}

#[test]
fn a_bad_database_url_fails_with_a_clear_message() {
    let out = trellis()
        .args(["migrate", "--database-url", "mysql://nope"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("unsupported database URL scheme"), "{text}");
}

fn http_get(addr: &str, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

#[test]
fn serve_prints_how_to_sign_in_answers_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = trellis()
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--log-format",
            "json",
            "--data-dir",
        ])
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut addr = None;
    let mut password_line = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(rest) = line.strip_prefix("Trellis is running at http://") {
            addr = Some(rest.trim().to_owned());
        }
        if line.starts_with("Sign in as `admin` with password `") {
            password_line = Some(line.clone());
        }
        if line.starts_with("Press Ctrl+C") {
            break;
        }
    }
    let addr = addr.expect("the URL is printed");
    assert!(
        password_line.is_some(),
        "a generated password is printed on first start"
    );

    let ready = http_get(&addr, "/readyz");
    assert!(ready.starts_with("HTTP/1.1 200"), "{ready}");

    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the server stops within 10 s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "a graceful stop exits 0, got {status}");
}

#[test]
fn built_in_steps_report_through_exit_codes() {
    let noop = trellis().args(["step", "noop"]).output().unwrap();
    assert!(noop.status.success());

    let started = Instant::now();
    let sleep = trellis()
        .args(["step", "sleep", "--seconds", "0.3"])
        .output()
        .unwrap();
    assert!(sleep.status.success());
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert!(String::from_utf8_lossy(&sleep.stdout).contains("sleep: done"));

    let fail = trellis()
        .args(["step", "fail", "--message", "rows missing"])
        .output()
        .unwrap();
    assert_eq!(fail.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&fail.stderr).trim(), "rows missing");

    let bad = trellis()
        .args(["step", "sleep", "--seconds", "-1"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("non-negative"));
}

fn launch(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_trellis-launch"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn the_launcher_sets_limits_then_starts_the_program() {
    let out = launch(&[
        "--nofile=64:64",
        "--cpu=30:30",
        "--",
        "/bin/sh",
        "-c",
        "ulimit -n; ulimit -t",
    ]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "64\n30\n");

    let out = launch(&["--", "/no/such/program"]);
    assert_eq!(out.status.code(), Some(126));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot start /no/such/program"));
    let out = launch(&["--stack=1:2", "--", "/bin/true"]);
    assert_eq!(out.status.code(), Some(126));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown option --stack=1:2"));
}

#[test]
fn the_launcher_runs_builtin_steps_itself_as_trellis_would() {
    let trellis = env!("CARGO_BIN_EXE_trellis");
    // An address space far too small for the whole `trellis` binary to
    // start in: the built-in steps still run, because the launcher runs them.
    let small = "--as=67108864:67108864";
    let whole = launch(&[small, "--", trellis, "--help"]);
    assert!(
        !whole.status.success(),
        "trellis itself cannot start in 64 MiB: {whole:?}"
    );

    let out = launch(&[small, "--", trellis, "step", "noop"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "noop: nothing to do\n"
    );
    let out = launch(&[small, "--", trellis, "step", "sleep", "--seconds=0.01"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "sleep: waiting 0.01 s\nsleep: done\n"
    );
    let out = launch(&[
        small,
        "--",
        trellis,
        "step",
        "fail",
        "--message=broken on purpose",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "broken on purpose\n");

    // The same answers as `trellis step` gives, wrong input included.
    for args in [
        &["step", "sleep", "--seconds=-1"][..],
        &["step", "noop"],
        &["step", "fail", "--message=x"],
    ] {
        let direct = trellis_step(args);
        let launched = launch(&[&["--", trellis][..], args].concat());
        assert_eq!(launched.status.code(), direct.status.code(), "{args:?}");
        assert_eq!(launched.stdout, direct.stdout, "{args:?}");
        assert_eq!(launched.stderr, direct.stderr, "{args:?}");
    }
}

fn trellis_step(args: &[&str]) -> std::process::Output {
    trellis().args(args).output().unwrap()
}
