//! Real receivers on loopback for what the server sends out: an HTTP
//! server that records every request (webhooks, Slack-style hooks) and an
//! SMTP server that records every message. Each runs on threads of its own,
//! whatever runtime the test has.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One request as received.
#[derive(Clone, Debug)]
pub struct Received {
    pub method: String,
    pub path: String,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

/// How the HTTP receiver answers its n-th request.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Answer {
    Status(u16),
    /// Never answers (the connection stays open until the sender goes).
    Hang,
}

/// An HTTP/1.1 server on 127.0.0.1 recording every request.
pub struct HttpReceiver {
    pub url: String,
    got: Arc<Mutex<Vec<Received>>>,
}

impl HttpReceiver {
    /// Answers 200 to everything.
    pub fn start() -> HttpReceiver {
        HttpReceiver::answering(Vec::new())
    }

    /// Answers the first requests as `script` says, then 200.
    pub fn answering(script: Vec<Answer>) -> HttpReceiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let got = Arc::new(Mutex::new(Vec::new()));
        let seen = got.clone();
        std::thread::spawn(move || {
            let mut script = script.into_iter();
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let answer = script.next().unwrap_or(Answer::Status(200));
                let seen = seen.clone();
                std::thread::spawn(move || serve(stream, answer, &seen));
            }
        });
        HttpReceiver { url, got }
    }

    pub fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// Waits (up to `limit`) until at least `n` requests arrived; all of
    /// them. It sleeps on the test's runtime, whose tasks may be the sender.
    pub async fn arrived(&self, n: usize, limit: Duration) -> Vec<Received> {
        let start = Instant::now();
        loop {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            assert!(
                start.elapsed() < limit,
                "{} of {n} requests arrived in {limit:?}",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Reads one request from `stream` (no keep-alive), records it, answers.
fn serve(stream: std::net::TcpStream, answer: Answer, seen: &Mutex<Vec<Received>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_owned();
    let path = parts.next().unwrap_or("").to_owned();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    if std::io::Read::read_exact(&mut reader, &mut body).is_err() {
        return;
    }
    seen.lock().unwrap().push(Received {
        method,
        path,
        headers,
        body,
    });
    let mut stream = stream;
    match answer {
        Answer::Status(code) => {
            let _ = write!(
                stream,
                "HTTP/1.1 {code} Answer\r\ncontent-type: text/plain\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"
            );
        }
        Answer::Hang => {
            // Until the sender closes the connection (or gives up).
            let mut rest = Vec::new();
            let _ = std::io::Read::read_to_end(&mut reader, &mut rest);
        }
    }
}

/// One email as the SMTP server received it.
#[derive(Clone, Debug)]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    /// The message as sent (headers and body), dot-unstuffed.
    pub data: String,
}

/// An SMTP server on 127.0.0.1 that accepts every message (no TLS, no
/// authentication) and records it.
pub struct SmtpReceiver {
    pub url: String,
    got: Arc<Mutex<Vec<Mail>>>,
}

impl SmtpReceiver {
    pub fn start() -> SmtpReceiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("smtp://{}", listener.local_addr().unwrap());
        let got = Arc::new(Mutex::new(Vec::new()));
        let seen = got.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let seen = seen.clone();
                std::thread::spawn(move || smtp_session(stream, &seen));
            }
        });
        SmtpReceiver { url, got }
    }

    /// Waits (up to `limit`) until at least `n` messages arrived.
    pub async fn arrived(&self, n: usize, limit: Duration) -> Vec<Mail> {
        let start = Instant::now();
        loop {
            let got = self.got.lock().unwrap().clone();
            if got.len() >= n {
                return got;
            }
            assert!(
                start.elapsed() < limit,
                "{} of {n} emails arrived",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn smtp_session(stream: std::net::TcpStream, seen: &Mutex<Vec<Mail>>) {
    let mut out = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    let mut say = |text: &str| {
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    };
    say("220 receiver.test ESMTP\r\n");
    let (mut from, mut to) = (String::new(), Vec::new());
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let command = line.trim_end().to_owned();
        let upper = command.to_ascii_uppercase();
        if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            say("250-receiver.test\r\n250 8BITMIME\r\n");
        } else if upper.starts_with("MAIL FROM:") {
            from = command[10..].trim().to_owned();
            say("250 OK\r\n");
        } else if upper.starts_with("RCPT TO:") {
            to.push(command[8..].trim().to_owned());
            say("250 OK\r\n");
        } else if upper == "DATA" {
            say("354 go ahead\r\n");
            let mut data = String::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    return;
                }
                if line == ".\r\n" {
                    break;
                }
                data.push_str(line.strip_prefix('.').unwrap_or(&line));
            }
            seen.lock().unwrap().push(Mail {
                from: std::mem::take(&mut from),
                to: std::mem::take(&mut to),
                data,
            });
            say("250 queued\r\n");
        } else if upper == "QUIT" {
            say("221 bye\r\n");
            return;
        } else {
            say("250 OK\r\n");
        }
    }
}
