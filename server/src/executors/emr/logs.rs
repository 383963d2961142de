//! An EMR step's logs as the cluster ships them to its log location
//! (`<LogUri>/<cluster>/steps/<step>/{stderr,stdout,controller}.gz`, a few
//! minutes after the step ends), read with the tenant's role — never the
//! server's — and bounded like a local task's log.

use super::{EmrExecutor, StepRef};
use app::types::TenantId;
use std::io::Read;

/// Where a step's logs are: the bucket and the key prefix of its folder.
#[derive(Debug, PartialEq)]
struct Folder {
    bucket: String,
    prefix: String,
}

impl Folder {
    /// The folder of `step` under the cluster's `LogUri` (`s3://`, `s3n://`
    /// or `s3a://`); `None` for a location that is not on S3.
    fn of(log_uri: &str, step: &StepRef) -> Option<Folder> {
        let rest = ["s3://", "s3n://", "s3a://"]
            .iter()
            .find_map(|scheme| log_uri.strip_prefix(scheme))?;
        let (bucket, base) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return None;
        }
        let base = base.trim_matches('/');
        let folder = format!("{}/steps/{}/", step.cluster, step.step);
        Some(Folder {
            bucket: bucket.to_owned(),
            prefix: if base.is_empty() {
                folder
            } else {
                format!("{base}/{folder}")
            },
        })
    }

    fn url(&self, file: &str) -> String {
        format!("s3://{}/{}{file}", self.bucket, self.prefix)
    }
}

/// Gunzips at most `limit` bytes of `gz`, saying where it was cut.
fn gunzip(gz: &[u8], limit: u64) -> String {
    let mut text = Vec::new();
    let mut reader = flate2::read::MultiGzDecoder::new(gz).take(limit + 1);
    // A log cut short while EMR writes it still shows what arrived.
    let _ = reader.read_to_end(&mut text);
    let cut = text.len() as u64 > limit;
    text.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let mut text = String::from_utf8_lossy(&text).into_owned();
    if cut {
        text.push_str(&format!("\n[… cut off at {limit} bytes]\n"));
    }
    text
}

impl EmrExecutor {
    /// The step's `stderr` and `stdout` (and, when it failed, EMR's
    /// `controller` log) as text for the task's log panel, each under a
    /// heading with its S3 location; a note when the cluster keeps no logs
    /// or has not shipped them yet. `Err` when AWS refused or could not be
    /// reached (in words).
    pub async fn step_log(
        &self,
        tenant: &TenantId,
        step: &StepRef,
        failed: bool,
        limit: u64,
    ) -> Result<String, String> {
        let (target, assumed) = self.access(tenant, &step.connection).await?;
        let emr = crate::aws::emr(&target, &assumed).map_err(|f| f.message)?;
        let cluster = emr
            .describe_cluster()
            .cluster_id(&step.cluster)
            .send()
            .await
            .map_err(|e| {
                format!(
                    "describing cluster {}: {}",
                    step.cluster,
                    aws_sdk_emr::error::DisplayErrorContext(&e)
                )
            })?;
        let log_uri = cluster.cluster().and_then(|c| c.log_uri());
        let Some(folder) = log_uri.and_then(|uri| Folder::of(uri, step)) else {
            return Ok(format!(
                "Cluster {} keeps no step logs on S3 (it was started without a log location, \
                 LogUri{}), so Trellis cannot show what step {} wrote.\n",
                step.cluster,
                log_uri.map(|u| format!(" `{u}`")).unwrap_or_default(),
                step.step
            ));
        };
        let s3 = crate::aws::s3(&target, &assumed).map_err(|f| f.message)?;
        let mut files = vec!["stderr", "stdout"];
        if failed {
            files.push("controller");
        }
        let mut text = String::new();
        for file in files {
            let name = format!("{file}.gz");
            let Some(gz) = read_capped(&s3, &folder, &name, limit).await? else {
                continue;
            };
            text.push_str(&format!("=== {file} ({}) ===\n", folder.url(&name)));
            text.push_str(&gunzip(&gz, limit));
            if !text.ends_with('\n') {
                text.push('\n');
            }
        }
        if text.is_empty() {
            text = format!(
                "EMR has not shipped the logs of step {} yet: they arrive in {} a few minutes \
                 after the step ends. Look again then.\n",
                step.step,
                folder.url("")
            );
        }
        Ok(text)
    }
}

/// At most `limit` bytes of the object `name` in `folder` (`None`: there is
/// none yet).
async fn read_capped(
    s3: &aws_sdk_s3::Client,
    folder: &Folder,
    name: &str,
    limit: u64,
) -> Result<Option<Vec<u8>>, String> {
    let key = format!("{}{name}", folder.prefix);
    let reply = s3
        .get_object()
        .bucket(&folder.bucket)
        .key(&key)
        .send()
        .await;
    let mut body = match reply {
        Ok(out) => out.body,
        Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => return Ok(None),
        Err(e) => {
            return Err(format!(
                "reading {}: {}",
                folder.url(name),
                aws_sdk_s3::error::DisplayErrorContext(&e)
            ))
        }
    };
    let mut gz = Vec::new();
    while let Some(chunk) = body
        .try_next()
        .await
        .map_err(|e| format!("reading {}: {e}", folder.url(name)))?
    {
        gz.extend_from_slice(&chunk);
        if gz.len() as u64 > limit {
            break;
        }
    }
    Ok(Some(gz))
}

impl EmrExecutor {
    /// Which of the S3 files `urls` (`s3://bucket/key`) the connection's role
    /// cannot read, each with why; `Err` when AWS could not be asked.
    pub async fn unreadable(
        &self,
        tenant: &TenantId,
        connection: &app::types::ConnectionId,
        urls: &[String],
    ) -> Result<Vec<(String, String)>, String> {
        let (target, assumed) = self.access(tenant, connection).await?;
        let s3 = crate::aws::s3(&target, &assumed).map_err(|f| f.message)?;
        let mut missing = Vec::new();
        for url in urls {
            let Some((bucket, key)) = url
                .strip_prefix("s3://")
                .and_then(|rest| rest.split_once('/'))
                .filter(|(b, k)| !b.is_empty() && !k.is_empty())
            else {
                missing.push((url.clone(), "is not an s3://bucket/key location".into()));
                continue;
            };
            match s3.head_object().bucket(bucket).key(key).send().await {
                Ok(_) => {}
                Err(e) => match e.raw_response().map(|r| r.status().as_u16()) {
                    Some(404) => missing.push((url.clone(), "does not exist".into())),
                    Some(403) => missing.push((
                        url.clone(),
                        "cannot be read by the connection's role (it needs s3:GetObject there)"
                            .into(),
                    )),
                    _ => {
                        return Err(format!(
                            "reading {url}: {}",
                            aws_sdk_s3::error::DisplayErrorContext(&e)
                        ))
                    }
                },
            }
        }
        Ok(missing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn step() -> StepRef {
        StepRef {
            connection: "c1".into(),
            cluster: "j-1ABC".into(),
            step: "s-2DEF".into(),
        }
    }

    #[test]
    fn a_step_folder_is_under_the_cluster_log_location() {
        let at = |uri| Folder::of(uri, &step()).map(|f| f.url("stderr.gz"));
        let expected = "s3://logs/emr/j-1ABC/steps/s-2DEF/stderr.gz";
        assert_eq!(at("s3://logs/emr/").as_deref(), Some(expected));
        assert_eq!(at("s3n://logs/emr").as_deref(), Some(expected));
        assert_eq!(
            at("s3://logs").as_deref(),
            Some("s3://logs/j-1ABC/steps/s-2DEF/stderr.gz")
        );
        assert_eq!(at("hdfs:///logs"), None);
        assert_eq!(at("s3:///x"), None);
    }

    #[test]
    fn a_log_is_gunzipped_up_to_its_limit() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all("line one\nline two\n".as_bytes()).unwrap();
        let gz = gz.finish().unwrap();
        assert_eq!(gunzip(&gz, 1 << 20), "line one\nline two\n");
        assert_eq!(gunzip(&gz, 8), "line one\n[… cut off at 8 bytes]\n");
        // A file still being written shows what arrived.
        assert!(gunzip(&gz[..gz.len() - 4], 1 << 20).starts_with("line one"));
    }
}
