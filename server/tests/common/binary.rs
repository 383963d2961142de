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

pub fn start(data: &Path) -> Server {
    start_with(data, &[])
}

/// Starts the server with extra environment (such as `TRELLIS_FAULT`).
pub fn start_with(data: &Path, env: &[(&str, &str)]) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_trellis"))
        .env_remove("DATABASE_URL")
        .env("TRELLIS_EMR_POLL_MIN_SECONDS", "0.05")
        .env("TRELLIS_EMR_POLL_MAX_SECONDS", "0.2")
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
        .stderr(Stdio::null())
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

/// One HTTP/1.1 request; answers (status, Set-Cookie, JSON body).
pub fn call(
    addr: &str,
    method: &str,
    path: &str,
    cookie: &str,
    body: Option<Value>,
) -> (u16, String, Value) {
    let mut stream = TcpStream::connect(addr).unwrap();
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
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    let status = head[9..12].parse().unwrap();
    let cookie = head
        .lines()
        .filter_map(|l| l.strip_prefix("set-cookie: "))
        .map(|c| c.split(';').next().unwrap().to_owned())
        .collect::<Vec<_>>()
        .join("; ");
    (
        status,
        cookie,
        serde_json::from_str(body).unwrap_or(Value::Null),
    )
}

pub fn wait_for(addr: &str, cookie: &str, run: &str, done: impl Fn(&Value) -> bool) -> Value {
    let started = Instant::now();
    loop {
        let (_, _, r) = call(
            addr,
            "GET",
            &format!("/api/v1/tenants/demo/runs/{run}"),
            cookie,
            None,
        );
        if done(&r) {
            return r;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "stuck: {r}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn task<'a>(run: &'a Value, key: &str) -> &'a Value {
    run["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["key"] == key)
        .unwrap()
}
