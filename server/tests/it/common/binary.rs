//! The real `trellis` binary as a child process, and a tiny HTTP/1.1 client
//! for it (tests that kill and restart servers).

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Server {
    pub child: Child,
    pub addr: String,
}

/// A server a test leaves behind (it failed, or did not stop it) is killed,
/// so it holds no port, database connection or task process after the test.
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn start(data: &Path) -> Server {
    start_with(data, &[])
}

/// Starts the server with extra environment (such as `TRELLIS_FAULT`).
pub fn start_with(data: &Path, env: &[(&str, &str)]) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_trellis"))
        .env_remove("DATABASE_URL")
        .env("TRELLIS_EMR_POLL_MIN_SECONDS", "0.05")
        .env("TRELLIS_EMR_POLL_MAX_SECONDS", "0.2")
        .env("TRELLIS_OUTBOUND_ALLOW", super::LOOPBACK_ALLOWED)
        // The AWS emulator's keys are the server's own credentials (they
        // only assume the connections' roles).
        .env("AWS_ACCESS_KEY_ID", super::emulator::ACCESS_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", super::emulator::SECRET_ACCESS_KEY)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("TRELLIS_AWS_PRINCIPAL_ARN", super::PRINCIPAL_ARN)
        .envs(env.iter().copied())
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--admin-password",
            "pw",
            "--data-dir",
        ])
        .arg(data)
        .stdout(Stdio::piped())
        // TRELLIS_TEST_SERVER_LOG=<file> keeps the server's log (debugging).
        .stderr(match std::env::var_os("TRELLIS_TEST_SERVER_LOG") {
            Some(path) => Stdio::from(std::fs::File::create(path).unwrap()),
            None => Stdio::null(),
        })
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut addr = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(rest) = line.strip_prefix("Trellis is running at http://") {
            addr = Some(rest.trim().to_owned());
            break;
        }
    }
    // Keep reading, so the server never writes into a closed pipe.
    std::thread::spawn(move || lines.for_each(drop));
    Server {
        child,
        addr: addr.expect("the server prints its URL"),
    }
}

/// Signs in as `admin` (password `pw`, as `start` sets it); the cookies.
pub fn sign_in(addr: &str) -> String {
    let (status, cookie, _) = call(
        addr,
        "POST",
        "/api/v1/auth/login",
        "",
        Some(serde_json::json!({"username": "admin", "password": "pw"})),
    );
    assert_eq!(status, 200, "signing in at {addr}");
    cookie
}

/// One HTTP/1.1 request; answers (status, Set-Cookie, JSON body).
pub fn call(
    addr: &str,
    method: &str,
    path: &str,
    cookie: &str,
    body: Option<Value>,
) -> (u16, String, Value) {
    try_call(addr, method, path, cookie, body)
        .unwrap_or_else(|| panic!("{method} {path}: the server closed the connection unanswered"))
}

/// [`call`], or `None` when the server closed the connection without an
/// answer (it died while handling the request).
pub fn try_call(
    addr: &str,
    method: &str,
    path: &str,
    cookie: &str,
    body: Option<Value>,
) -> Option<(u16, String, Value)> {
    let mut stream = TcpStream::connect(addr).ok()?;
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let csrf = cookie
        .split("; ")
        .find_map(|c| c.strip_prefix("trellis_csrf="))
        .unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nCookie: {cookie}\r\n\
         X-CSRF-Token: {csrf}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    let status = head[9..12].parse().unwrap();
    let cookie = head
        .lines()
        .filter_map(|l| l.strip_prefix("set-cookie: "))
        .map(|c| c.split(';').next().unwrap().to_owned())
        .collect::<Vec<_>>()
        .join("; ");
    Some((
        status,
        cookie,
        serde_json::from_str(body).unwrap_or(Value::Null),
    ))
}

/// Creates the demo tenant's process `name` with `graph` and publishes it;
/// its API path.
pub fn published(addr: &str, cookie: &str, name: &str, graph: Value) -> String {
    let processes = "/api/v1/tenants/demo/processes";
    let body = serde_json::json!({"name": name, "graph": graph});
    let (status, _, process) = call(addr, "POST", processes, cookie, Some(body));
    assert_eq!(status, 201, "{process}");
    let path = format!("{processes}/{}", process["id"].as_str().unwrap());
    let versions = format!("{path}/versions");
    let (status, _, version) = call(addr, "POST", &versions, cookie, Some(serde_json::json!({})));
    assert_eq!(status, 201, "{version}");
    path
}

/// Starts a run of the process at `path`; the run's id.
pub fn start_run(addr: &str, cookie: &str, path: &str) -> String {
    let runs = format!("{path}/runs");
    let (status, _, run) = call(addr, "POST", &runs, cookie, Some(serde_json::json!({})));
    assert_eq!(status, 201, "{run}");
    run["id"].as_str().unwrap().to_owned()
}

/// Reads the demo tenant's run `run` until `done` holds of it (30 s at most).
pub fn wait_for(addr: &str, cookie: &str, run: &str, done: impl Fn(&Value) -> bool) -> Value {
    let path = format!("/api/v1/tenants/demo/runs/{run}");
    wait_until(addr, cookie, &path, Duration::from_secs(30), done)
}

/// Reads `GET path` until `done` holds of it (`limit` at most).
pub fn wait_until(
    addr: &str,
    cookie: &str,
    path: &str,
    limit: Duration,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let started = Instant::now();
    loop {
        let (_, _, value) = call(addr, "GET", path, cookie, None);
        if done(&value) {
            return value;
        }
        assert!(
            started.elapsed() < limit,
            "waited {limit:?} for {path}: {value}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One HTTP/1.1 request to `base` (`http://host:port`) with extra headers;
/// answers (status, JSON body or `null`), or `None` when nothing listens.
pub fn request(
    base: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> Option<(u16, Value)> {
    let addr = base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .ok()?;
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    write!(stream, "{head}\r\n{body}").ok()?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).ok()?;
    let response = String::from_utf8_lossy(&response).into_owned();
    let (head, mut body) = response.split_once("\r\n\r\n")?;
    let status = head.get(9..12)?.parse().ok()?;
    let decoded;
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        let mut out = String::new();
        let mut rest = body;
        while let Some((size, tail)) = rest.split_once("\r\n") {
            let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            if size == 0 || tail.len() < size {
                break;
            }
            out.push_str(&tail[..size]);
            rest = tail[size..].trim_start_matches("\r\n");
        }
        decoded = out;
        body = &decoded;
    }
    Some((status, serde_json::from_str(body).unwrap_or(Value::Null)))
}

/// A fresh PostgreSQL database for the servers of `test`; `None` when the
/// PostgreSQL tests are skipped.
pub fn postgres_for(test: &str) -> Option<String> {
    if super::skipped(super::Backend::Postgres, test) {
        return None;
    }
    let url = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(super::pg::fresh_database());
    Some(url)
}

/// A server on the database `url` and the data folder `data`, as one of
/// several sharing them (the same secret key), with `env` besides.
pub fn start_sharing(data: &Path, url: &str, env: &[(&str, &str)]) -> Server {
    let shared = [
        ("DATABASE_URL", url),
        (
            "TRELLIS_SECRET_KEY",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        ),
    ];
    let all: Vec<(&str, &str)> = shared.iter().chain(env).copied().collect();
    start_with(data, &all)
}

/// The run's event stream (`text/event-stream`) as read from `addr` until
/// the server ends it, or for `max` at most.
pub fn event_stream(addr: &str, cookie: &str, run: &str, max: Duration) -> String {
    let host = addr.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    write!(
        stream,
        "GET /api/v1/tenants/demo/runs/{run}/events HTTP/1.1\r\nHost: {host}\r\n\
         Cookie: {cookie}\r\nAccept: text/event-stream\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let (mut body, mut buf) = (Vec::new(), [0u8; 4096]);
    let deadline = Instant::now() + max;
    while Instant::now() < deadline {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => body.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            // The server went away (killed): what came is what there is.
            Err(_) => break,
        }
    }
    String::from_utf8_lossy(&body).into_owned()
}
