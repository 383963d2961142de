//! The PySpark side of the built-in data components (`spark/` in the
//! repository), carried inside the binary so that a server and the scripts
//! it submits to EMR always match: `trellis spark upload s3://…` puts them
//! at a `script_location`, `trellis spark write <dir>` into a folder, and
//! `trellis spark catalog` prints what each component runs on EMR.

use anyhow::{bail, Context};
use app::catalog::SPARK_COMMON_MODULE;
use clap::{Args, Subcommand};
use std::path::PathBuf;

/// Every script, by the file name the catalog's step templates use.
pub const SCRIPTS: [(&str, &str); 5] = [
    (
        SPARK_COMMON_MODULE,
        include_str!("../../spark/trellis_common.py"),
    ),
    ("ingest_file.py", include_str!("../../spark/ingest_file.py")),
    (
        "quality_check.py",
        include_str!("../../spark/quality_check.py"),
    ),
    (
        "transform_sql.py",
        include_str!("../../spark/transform_sql.py"),
    ),
    ("export_file.py", include_str!("../../spark/export_file.py")),
];

#[derive(Debug, Clone, Subcommand)]
pub enum SparkCommand {
    /// Upload the scripts to an S3 folder (a `script_location`), with the
    /// standard AWS credentials of whoever runs it.
    Upload(UploadArgs),
    /// Write the scripts into a local folder.
    Write {
        /// The folder (created if missing).
        dir: PathBuf,
    },
    /// Print the built-in data components (parameters, local and EMR argv) as JSON.
    Catalog,
}

#[derive(Debug, Clone, Args)]
pub struct UploadArgs {
    /// Where: `s3://bucket/folder`, the value of the components' `script_location`.
    pub to: String,
    /// The bucket's region (default: the AWS configuration's).
    #[arg(long, env = "AWS_REGION")]
    pub region: Option<String>,
    /// Another S3 endpoint (an emulator or a private endpoint); path-style.
    #[arg(long, env = "AWS_ENDPOINT_URL_S3")]
    pub endpoint_url: Option<String>,
}

pub async fn run(command: SparkCommand) -> anyhow::Result<()> {
    match command {
        SparkCommand::Upload(args) => upload(args).await,
        SparkCommand::Write { dir } => {
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            for (name, text) in SCRIPTS {
                let path = dir.join(name);
                std::fs::write(&path, text)
                    .with_context(|| format!("writing {}", path.display()))?;
                println!("wrote {}", path.display());
            }
            Ok(())
        }
        SparkCommand::Catalog => {
            let components: Vec<_> = app::catalog::builtin()
                .into_iter()
                .filter(|c| !app::catalog::spark_files(c).is_empty())
                .collect();
            println!("{}", serde_json::to_string_pretty(&components)?);
            Ok(())
        }
    }
}

/// `s3://bucket/folder/` → (`bucket`, `folder/`).
fn split(url: &str) -> anyhow::Result<(&str, String)> {
    let Some(rest) = url.strip_prefix("s3://") else {
        bail!("`{url}` is not an S3 location: write s3://bucket/folder");
    };
    let (bucket, folder) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        bail!("`{url}` names no bucket: write s3://bucket/folder");
    }
    let folder = folder.trim_end_matches('/');
    Ok((
        bucket,
        if folder.is_empty() {
            String::new()
        } else {
            format!("{folder}/")
        },
    ))
}

async fn upload(args: UploadArgs) -> anyhow::Result<()> {
    let (bucket, folder) = split(&args.to)?;
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(region) = args.region {
        loader = loader.region(aws_config::Region::new(region));
    }
    let base = loader.load().await;
    let mut config = aws_sdk_s3::config::Builder::from(&base);
    if let Some(url) = args.endpoint_url {
        config = config.endpoint_url(url).force_path_style(true);
    }
    let s3 = aws_sdk_s3::Client::from_conf(config.build());
    for (name, text) in SCRIPTS {
        let key = format!("{folder}{name}");
        s3.put_object()
            .bucket(bucket)
            .key(&key)
            .content_type("text/x-python; charset=utf-8")
            .body(text.as_bytes().to_vec().into())
            .send()
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "uploading s3://{bucket}/{key}: {}",
                    aws_sdk_s3::error::DisplayErrorContext(&e)
                )
            })?;
        println!("uploaded s3://{bucket}/{key} ({} bytes)", text.len());
    }
    println!(
        "the data components run from here when their `script_location` is s3://{bucket}/{}",
        folder.trim_end_matches('/')
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_script_the_catalog_names_is_carried() {
        for component in app::catalog::builtin() {
            for file in app::catalog::spark_files(&component) {
                assert!(
                    super::SCRIPTS.iter().any(|(name, _)| *name == file),
                    "{}: {file} is not carried",
                    component.key
                );
            }
        }
    }

    #[test]
    fn locations_split_into_bucket_and_folder() {
        assert_eq!(super::split("s3://b/v1").unwrap(), ("b", "v1/".into()));
        assert_eq!(super::split("s3://b/a/v1/").unwrap(), ("b", "a/v1/".into()));
        assert_eq!(super::split("s3://b").unwrap(), ("b", String::new()));
        assert!(super::split("/tmp/x").is_err());
        assert!(super::split("s3:///x").is_err());
    }
}
