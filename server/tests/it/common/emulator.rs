//! The AWS emulator (`tests/emulator/aws.py`: moto's server plus what its EMR
//! lacks), started on a free loopback port for one test and stopped with it.

use aws_sdk_emr::config::{BehaviorVersion, Credentials, Region};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

pub struct Emulator {
    child: Child,
    pub url: String,
}

/// The keys the tests give the server as its own AWS credentials (moto
/// accepts any); connections assume a role with them.
pub const ACCESS_KEY_ID: &str = "AKIAEMULATORTESTKEY1";
pub const SECRET_ACCESS_KEY: &str = "emulator-secret";

/// Where the tests' clusters ship their logs.
pub const LOG_URI: &str = "s3://trellis-emr-logs/clusters/";

/// The role the tests' connections assume (moto assumes any).
pub const ROLE_ARN: &str = "arn:aws:iam::123456789012:role/trellis";

/// The server's own keys, as a credentials provider.
fn server_keys() -> Credentials {
    Credentials::new(ACCESS_KEY_ID, SECRET_ACCESS_KEY, None, None, "test")
}

impl Emulator {
    pub fn start() -> Emulator {
        let python = std::env::var("TRELLIS_EMULATOR_PYTHON").unwrap_or_else(|_| {
            format!(
                "{}/.cache/trellis/tools/moto-venv/bin/python",
                std::env::var("HOME").unwrap_or_default()
            )
        });
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/emulator/aws.py");
        let mut child = Command::new(&python)
            .arg(script)
            .arg("--port")
            .arg("0")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("starting the AWS emulator with {python} (run scripts/test.sh once to install it): {e}")
            });
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .strip_prefix("ready ")
            .map(|p| p.trim().to_owned())
            .unwrap_or_else(|| panic!("the emulator said {line:?}"));
        Emulator {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    /// Calls the emulator's control API.
    pub async fn control(&self, path: &str, body: serde_json::Value) -> serde_json::Value {
        let reply = reqwest::Client::new()
            .post(format!("{}/trellis-emulator/{path}", self.url))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert!(
            reply.status().is_success(),
            "control {path}: {}",
            reply.status()
        );
        serde_json::from_str(&reply.text().await.unwrap()).unwrap()
    }

    /// Reads the emulator's control API (`calls`, `emr/steps`,
    /// `sts/assumed`: every AssumeRole with its role, external id and
    /// signing key; `signers`: the key that signed each EMR call).
    pub async fn read(&self, path: &str) -> serde_json::Value {
        let reply = reqwest::get(format!("{}/trellis-emulator/{path}", self.url))
            .await
            .unwrap();
        serde_json::from_str(&reply.text().await.unwrap()).unwrap()
    }

    /// The calls the emulator recorded whose action starts with `prefix`
    /// (`s3:`, `mwaa:`, or an EMR operation), in order, with the key that
    /// signed each.
    pub async fn signed(&self, prefix: &str) -> Vec<serde_json::Value> {
        self.read("signers")
            .await
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["action"].as_str().unwrap_or("").starts_with(prefix))
            .cloned()
            .collect()
    }

    /// A connection to `cluster` through the emulator: a role to assume,
    /// no keys (the server's own credentials assume it).
    pub fn connection_body(&self, cluster: &str) -> serde_json::Value {
        serde_json::json!({
            "name": "emulated-emr", "region": "us-east-1",
            "role_arn": ROLE_ARN,
            "cluster_id": cluster, "endpoint_url": self.url,
        })
    }

    pub fn emr(&self, region: &str) -> aws_sdk_emr::Client {
        let config = aws_sdk_emr::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(region.to_owned()))
            .credentials_provider(server_keys())
            .endpoint_url(&self.url)
            .build();
        aws_sdk_emr::Client::from_conf(config)
    }

    /// An S3 client with the server's keys (path-style, as the emulator needs).
    pub fn s3(&self, region: &str) -> aws_sdk_s3::Client {
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new(region.to_owned()))
            .credentials_provider(server_keys())
            .endpoint_url(&self.url)
            .force_path_style(true)
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }

    /// Starts an EMR cluster in `region` that waits for steps and ships its
    /// logs to [`LOG_URI`]; its id.
    pub async fn cluster(&self, region: &str) -> String {
        use aws_sdk_emr::types::JobFlowInstancesConfig;
        let out = self
            .emr(region)
            .run_job_flow()
            .name("trellis-test")
            .release_label("emr-7.0.0")
            .job_flow_role("EMR_EC2_DefaultRole")
            .service_role("EMR_DefaultRole")
            .log_uri(LOG_URI)
            .instances(
                JobFlowInstancesConfig::builder()
                    .master_instance_type("m5.xlarge")
                    .slave_instance_type("m5.xlarge")
                    .instance_count(1)
                    .keep_job_flow_alive_when_no_steps(true)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        out.job_flow_id().unwrap().to_owned()
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
