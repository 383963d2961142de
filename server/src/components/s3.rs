//! `s3://` sources and destinations of the data steps, reached with the
//! short-lived credentials of the process's connection (see
//! [`crate::aws::step_env`]): objects and prefixes are downloaded into the
//! work folder in chunks (never whole in memory) within the step's limits,
//! and exports are multipart uploads completed only when every part is in,
//! aborted otherwise, so a failed export leaves no object behind.

use super::env::StepEnv;
use crate::quota::Budget;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use std::path::Path;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Size of each uploaded part (S3's minimum is 5 MiB, but for the last).
const PART_BYTES: usize = 8 << 20;

/// `s3://bucket/key`; a key that is empty or ends with `/` is a prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Url {
    pub bucket: String,
    pub key: String,
}

impl S3Url {
    pub fn parse(url: &str) -> Result<S3Url, String> {
        let rest = url
            .get(..5)
            .filter(|s| s.eq_ignore_ascii_case("s3://"))
            .map(|_| &url[5..])
            .ok_or_else(|| format!("`{url}` is not an s3://bucket/key location"))?;
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        let valid_bucket = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-');
        if !valid_bucket {
            return Err(format!(
                "`{url}`: `{bucket}` is not an S3 bucket name (3 to 63 lower-case letters, digits, `.` and `-`)"
            ));
        }
        Ok(S3Url {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
        })
    }

    pub fn is_prefix(&self) -> bool {
        self.key.is_empty() || self.key.ends_with('/')
    }

    fn of(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }
}

impl std::fmt::Display for S3Url {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)
    }
}

/// The S3 client of the step's connection, or why there is none.
fn client(env: &StepEnv, url: &str) -> Result<aws_sdk_s3::Client, String> {
    let Some(aws) = &env.aws else {
        return Err(format!(
            "`{url}`: S3 locations are reached through the process's AWS connection, and this \
             process has none: under Runs on, choose \"This server, S3 data through\" a connection \
             (or run it on a connection's EMR cluster), or use a path in the tenant's folder or an \
             http(s) URL"
        ));
    };
    aws.s3(&env.outbound)
}

/// What S3 said, in words naming the object and what the role may lack.
fn describe<E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static>(
    err: SdkError<E, aws_smithy_runtime_api::http::Response>,
    what: &str,
    needs: &str,
) -> String {
    if let Some(refusal) = crate::outbound::refusal_in(&err) {
        return format!("{what}: {refusal}");
    }
    let status = match &err {
        SdkError::ServiceError(e) => Some(e.raw().status().as_u16()),
        _ => None,
    };
    match (err.code(), status) {
        (Some("NoSuchKey"), _) | (Some("NotFound"), _) | (None, Some(404)) => {
            format!("{what} does not exist")
        }
        (Some("NoSuchBucket"), _) => format!("{what}: the bucket does not exist"),
        (Some("AccessDenied" | "Forbidden"), _) | (None, Some(403)) => format!(
            "{what}: access denied; the connection's role needs {needs} on it"
        ),
        (Some("ExpiredToken" | "InvalidAccessKeyId" | "InvalidToken"), _) => format!(
            "{what}: S3 refused the connection's credentials ({}); run the task again for fresh ones",
            err.code().unwrap_or_default()
        ),
        (Some(code), _) => format!(
            "{what}: S3 answered {code}: {}",
            err.message().unwrap_or_default()
        ),
        (None, _) => match &err {
            SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => format!(
                "{what}: S3 could not be reached ({})",
                DisplayErrorContext(&err)
            ),
            _ => format!("{what}: {}", DisplayErrorContext(&err)),
        },
    }
}

/// The objects a source names: the object itself, or every object under a
/// prefix (folder markers left out), in key order with their sizes.
async fn objects(s3: &aws_sdk_s3::Client, url: &S3Url) -> Result<Vec<(String, u64)>, String> {
    if !url.is_prefix() {
        let head = s3
            .head_object()
            .bucket(&url.bucket)
            .key(&url.key)
            .send()
            .await
            .map_err(|e| describe(e, &url.to_string(), "s3:GetObject"))?;
        let size = head.content_length().unwrap_or(0).max(0) as u64;
        return Ok(vec![(url.key.clone(), size)]);
    }
    let mut found = Vec::new();
    let mut pages = s3
        .list_objects_v2()
        .bucket(&url.bucket)
        .prefix(&url.key)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| describe(e, &url.to_string(), "s3:ListBucket"))?;
        for object in page.contents() {
            let key = object.key().unwrap_or_default();
            if !key.is_empty() && !key.ends_with('/') {
                found.push((key.to_owned(), object.size().unwrap_or(0).max(0) as u64));
            }
        }
    }
    if found.is_empty() {
        return Err(format!("there are no objects under {url}"));
    }
    found.sort();
    Ok(found)
}

/// The objects of a download, in the order they were written.
pub struct Downloaded {
    pub objects: Vec<(String, u64)>,
    pub bytes: u64,
}

/// Downloads the object `url` names, or every object under the prefix, one
/// after the other into `dest`, within the step's download limit, disk
/// quota and time limit. `join` sees each object's name and first line
/// (without its line end) and answers whether to leave that line out (a
/// header repeated in every part), or why the object does not fit.
pub async fn download(
    env: &StepEnv,
    url: &str,
    dest: &Path,
    budget: &Budget,
    join: impl Fn(&str, &[u8]) -> Result<bool, String>,
) -> Result<Downloaded, String> {
    let parsed = S3Url::parse(url)?;
    let s3 = client(env, url)?;
    let max_bytes = env.fetch_max_bytes;
    let too_big = || format!("{url} is larger than the download limit of {max_bytes} bytes");
    let work = async {
        let objects = objects(&s3, &parsed).await?;
        let total: u64 = objects.iter().map(|(_, size)| size).sum();
        if total > max_bytes {
            return Err(too_big());
        }
        budget.fits("download", total)?;
        let mut file = tokio::fs::File::create(dest)
            .await
            .map_err(|e| format!("cannot write the download: {e}"))?;
        let mut written = 0u64;
        for (index, (key, _)) in objects.iter().enumerate() {
            let name = parsed.of(key);
            let object = s3
                .get_object()
                .bucket(&parsed.bucket)
                .key(key)
                .send()
                .await
                .map_err(|e| describe(e, &name, "s3:GetObject"))?;
            let mut body = object.body;
            let mut first = true;
            let mut head = Vec::new();
            let mut last = b'\n';
            while let Some(chunk) = body
                .try_next()
                .await
                .map_err(|e| format!("{name}: the download broke off: {e}"))?
            {
                let mut chunk = &chunk[..];
                if first {
                    // Hold the object's first line until it is whole.
                    head.extend_from_slice(chunk);
                    let Some(end) = head.iter().position(|b| *b == b'\n') else {
                        continue;
                    };
                    let line = head[..end].strip_suffix(b"\r").unwrap_or(&head[..end]);
                    let skip = if join(&name, line)? { end + 1 } else { 0 };
                    first = false;
                    let rest = std::mem::take(&mut head);
                    written += write(&mut file, &rest[skip..], budget, &mut last).await?;
                    if written > max_bytes {
                        return Err(too_big());
                    }
                    chunk = &[];
                }
                written += write(&mut file, chunk, budget, &mut last).await?;
                if written > max_bytes {
                    return Err(too_big());
                }
            }
            if first && !head.is_empty() {
                // A one-line object without a line end.
                let skip = if join(&name, &head)? { head.len() } else { 0 };
                written += write(&mut file, &head[skip..], budget, &mut last).await?;
            }
            if last != b'\n' && index + 1 < objects.len() {
                // The next object starts on a line of its own.
                written += write(&mut file, b"\n", budget, &mut last).await?;
            }
        }
        file.flush()
            .await
            .map_err(|e| format!("cannot write the download: {e}"))?;
        Ok(Downloaded {
            objects: objects
                .into_iter()
                .map(|(key, size)| (parsed.of(&key), size))
                .collect(),
            bytes: written,
        })
    };
    tokio::time::timeout(env.fetch_timeout, work)
        .await
        .map_err(|_| format!("{url}: not downloaded within the time limit"))?
}

async fn write(
    file: &mut tokio::fs::File,
    bytes: &[u8],
    budget: &Budget,
    last: &mut u8,
) -> Result<u64, String> {
    if bytes.is_empty() {
        return Ok(0);
    }
    if !budget.add(bytes.len() as u64) {
        budget.check("download", false)?;
    }
    file.write_all(bytes)
        .await
        .map_err(|e| format!("cannot write the download: {e}"))?;
    *last = bytes[bytes.len() - 1];
    Ok(bytes.len() as u64)
}

/// Uploads the file at `path` to the object `url` as `content_type` in
/// parts; the object appears only once every part is in, and a failed
/// upload is aborted, leaving nothing. Answers the bytes uploaded.
pub async fn upload(
    env: &StepEnv,
    url: &str,
    path: &Path,
    content_type: &str,
) -> Result<u64, String> {
    let parsed = S3Url::parse(url)?;
    if parsed.is_prefix() {
        return Err(format!(
            "`{url}` names a folder; give the object's key (e.g. {url}export.csv)"
        ));
    }
    let s3 = client(env, url)?;
    let created = s3
        .create_multipart_upload()
        .bucket(&parsed.bucket)
        .key(&parsed.key)
        .content_type(content_type)
        .send()
        .await
        .map_err(|e| describe(e, url, "s3:PutObject"))?;
    let upload_id = created
        .upload_id()
        .ok_or_else(|| format!("{url}: S3 started the upload without an id"))?
        .to_owned();
    let parts = async {
        let mut file = tokio::fs::File::open(path)
            .await
            .map_err(|e| format!("cannot read the export: {e}"))?;
        let mut parts = Vec::new();
        let mut sent = 0u64;
        for number in 1.. {
            let mut part = Vec::with_capacity(PART_BYTES);
            (&mut file)
                .take(PART_BYTES as u64)
                .read_to_end(&mut part)
                .await
                .map_err(|e| format!("cannot read the export: {e}"))?;
            if part.is_empty() && number > 1 {
                break;
            }
            let size = part.len();
            let out = s3
                .upload_part()
                .bucket(&parsed.bucket)
                .key(&parsed.key)
                .upload_id(&upload_id)
                .part_number(number)
                .body(ByteStream::from(part))
                .send()
                .await
                .map_err(|e| describe(e, url, "s3:PutObject"))?;
            sent += size as u64;
            parts.push(
                CompletedPart::builder()
                    .part_number(number)
                    .set_e_tag(out.e_tag().map(str::to_owned))
                    .build(),
            );
            if size < PART_BYTES {
                break;
            }
        }
        s3.complete_multipart_upload()
            .bucket(&parsed.bucket)
            .key(&parsed.key)
            .upload_id(&upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| describe(e, url, "s3:PutObject"))?;
        Ok::<u64, String>(sent)
    };
    let outcome = match tokio::time::timeout(env.fetch_timeout, parts).await {
        Ok(outcome) => outcome,
        Err(_) => Err(format!("{url}: not uploaded within the time limit")),
    };
    if outcome.is_err() {
        let aborted = s3
            .abort_multipart_upload()
            .bucket(&parsed.bucket)
            .key(&parsed.key)
            .upload_id(&upload_id)
            .send()
            .await;
        if let Err(e) = aborted {
            println!(
                "export.file: the unfinished upload {upload_id} could not be aborted ({}); \
                 it is not an object, and a lifecycle rule (AbortIncompleteMultipartUpload) removes it",
                describe(e, url, "s3:AbortMultipartUpload")
            );
        }
    }
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations() {
        let u = S3Url::parse("s3://acme-raw/orders/2024.csv").unwrap();
        assert_eq!(
            (u.bucket.as_str(), u.key.as_str()),
            ("acme-raw", "orders/2024.csv")
        );
        assert!(!u.is_prefix());
        assert!(S3Url::parse("S3://acme-raw/orders/").unwrap().is_prefix());
        assert!(S3Url::parse("s3://acme-raw").unwrap().is_prefix());
        for bad in ["s3://", "s3://A_B/x", "s3://ab/x", "http://acme/x"] {
            assert!(S3Url::parse(bad).is_err(), "{bad}");
        }
    }
}
