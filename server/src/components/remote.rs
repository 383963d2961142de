//! Sources and destinations outside the tenant's folders: http(s) URLs
//! (bounded in size and time, through the outbound guard) and S3 (through
//! the process's connection, in [`super::s3`]).

use super::env::StepEnv;
use crate::outbound;
use futures::StreamExt;
use std::path::Path;
use tokio::io::AsyncWriteExt;

/// Where a user's location string points.
#[derive(Debug, PartialEq, Eq)]
pub enum Location<'a> {
    Http(&'a str),
    S3(&'a str),
    /// A path inside one of the tenant's folders.
    Local(&'a str),
}

pub fn locate(text: &str) -> Location<'_> {
    let lower = text.get(..8).unwrap_or(text).to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        Location::Http(text)
    } else if lower.starts_with("s3://") {
        Location::S3(text)
    } else {
        Location::Local(text)
    }
}

/// The guarded client, with `url` checked; its host is checked as it is
/// resolved, and every redirect again.
fn client(env: &StepEnv, url: &str) -> Result<reqwest::Client, String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("`{url}` is not a URL: {e}"))?;
    env.outbound
        .check_url(&parsed)
        .map_err(|refusal| format!("{url}: {refusal}"))?;
    env.outbound
        .http_client(env.fetch_timeout)
        .map_err(|e| format!("cannot make an HTTP client: {e}"))
}

/// What went wrong, without the remote's answer: a refusal as it is, a
/// timeout or connection failure in a few words.
fn describe(url: &str, e: reqwest::Error) -> String {
    if let Some(refusal) = outbound::refusal_in(&e) {
        format!("{url}: {refusal}")
    } else if e.is_timeout() {
        format!("{url}: no complete answer within the time limit")
    } else if e.is_connect() {
        format!("{url}: cannot connect ({})", root_cause(&e))
    } else {
        format!("{url}: {}", root_cause(&e))
    }
}

fn root_cause(e: &dyn std::error::Error) -> String {
    let mut cause = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// Downloads `url` into `dest`, refusing more than the step's download limit,
/// more than its disk quota `budget` allows, or more than its time limit in
/// all; answers the bytes written.
pub async fn download(
    env: &StepEnv,
    url: &str,
    dest: &Path,
    budget: &crate::quota::Budget,
) -> Result<u64, String> {
    let max_bytes = env.fetch_max_bytes;
    let response = client(env, url)?
        .get(url)
        .send()
        .await
        .map_err(|e| describe(url, e))?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("GET {url} answered {status}"));
    }
    let too_big = || format!("{url} is larger than the download limit of {max_bytes} bytes");
    if let Some(length) = response.content_length() {
        if length > max_bytes {
            return Err(too_big());
        }
        budget.fits("download", length)?;
    }
    let mut file = tokio::fs::File::create(dest)
        .await
        .map_err(|e| format!("cannot write the download: {e}"))?;
    let mut written = 0u64;
    let mut body = response.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| describe(url, e))?;
        written += chunk.len() as u64;
        if written > max_bytes {
            return Err(too_big());
        }
        if !budget.add(chunk.len() as u64) {
            budget.check("download", false)?;
        }
        file.write_all(&chunk)
            .await
            .map_err(|e| format!("cannot write the download: {e}"))?;
    }
    file.flush()
        .await
        .map_err(|e| format!("cannot write the download: {e}"))?;
    Ok(written)
}

/// POSTs the file at `path` to `url` as `content_type`, streaming it. A
/// refusing answer is reported by its status only: its body is the remote's.
pub async fn upload(
    env: &StepEnv,
    url: &str,
    path: &Path,
    content_type: &str,
) -> Result<u16, String> {
    let file = tokio::fs::File::open(path)
        .await
        .map_err(|e| format!("cannot read the export: {e}"))?;
    let length = file
        .metadata()
        .await
        .map_err(|e| format!("cannot read the export: {e}"))?
        .len();
    let body = reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::new(file));
    let response = client(env, url)?
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, content_type)
        .header(reqwest::header::CONTENT_LENGTH, length)
        .body(body)
        .send()
        .await
        .map_err(|e| describe(url, e))?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("POST {url} answered {status}"));
    }
    Ok(status.as_u16())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations() {
        assert_eq!(locate("https://x/y.csv"), Location::Http("https://x/y.csv"));
        assert_eq!(locate("HTTP://x"), Location::Http("HTTP://x"));
        assert_eq!(locate("s3://b/k"), Location::S3("s3://b/k"));
        assert_eq!(locate("samples/a.csv"), Location::Local("samples/a.csv"));
        assert_eq!(locate("h"), Location::Local("h"));
    }
}
