//! The real Airflow the tests use (installed by `scripts/env.sh` into a
//! virtualenv of its own): its Python, and a whole local Airflow — the API
//! server, the scheduler (LocalExecutor) and the DAG processor as separate
//! processes on loopback, SQLite in a temporary home, reading DAG files from
//! the AWS emulator's S3 through `S3DagBundle`. Each process runs in its own
//! process group, and the group is stopped with the test.

use std::io::Read;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The Python of Airflow's virtualenv.
pub fn python() -> String {
    std::env::var("TRELLIS_AIRFLOW_PYTHON").unwrap_or_else(|_| {
        format!(
            "{}/.cache/trellis/tools/airflow-venv/bin/python",
            std::env::var("HOME").unwrap_or_default()
        )
    })
}

/// Whether what needs a real Airflow is turned away
/// (`TRELLIS_TEST_SKIP_AIRFLOW=1`, for the inner loop); prints a "skipped"
/// line naming `what` when it is.
pub fn skipped(what: &str) -> bool {
    let skip = std::env::var("TRELLIS_TEST_SKIP_AIRFLOW").is_ok_and(|v| !v.is_empty() && v != "0");
    if skip {
        println!("skipped: {what} (TRELLIS_TEST_SKIP_AIRFLOW)");
    }
    skip
}

pub const USERNAME: &str = "trellis";
pub const PASSWORD: &str = "airflow-test-password";

pub struct Airflow {
    pub url: String,
    home: tempfile::TempDir,
    children: Vec<(String, Child)>,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Airflow {
    /// Starts Airflow reading `s3://<bucket>/<prefix>` from the emulator at
    /// `aws_url`; its `aws_default` connection (the DAG files' EMR calls)
    /// points at the emulator too. Answers once `/auth/token` works.
    pub fn start(aws_url: &str, bucket: &str, prefix: &str) -> Airflow {
        let home = tempfile::tempdir().unwrap();
        let port = free_port();
        let url = format!("http://127.0.0.1:{port}");
        let h = home.path().display().to_string();
        std::fs::write(
            home.path().join("passwords.json"),
            serde_json::json!({ USERNAME: PASSWORD }).to_string(),
        )
        .unwrap();
        let aws = |extra: serde_json::Value| {
            serde_json::json!({
                "conn_type": "aws", "login": super::emulator::ACCESS_KEY_ID,
                "password": super::emulator::SECRET_ACCESS_KEY, "extra": extra,
            })
            .to_string()
        };
        let bundles = serde_json::json!([{
            "name": "trellis",
            "classpath": "airflow.providers.amazon.aws.bundles.s3.S3DagBundle",
            "kwargs": {"aws_conn_id": "trellis_dags", "bucket_name": bucket, "prefix": prefix,
                       "refresh_interval": 1},
        }]);
        let env: Vec<(String, String)> = [
            ("AIRFLOW_HOME", h.clone()),
            ("AIRFLOW__CORE__EXECUTOR", "LocalExecutor".into()),
            ("AIRFLOW__CORE__LOAD_EXAMPLES", "False".into()),
            (
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
                format!("sqlite:///{h}/airflow.db"),
            ),
            ("AIRFLOW__API__HOST", "127.0.0.1".into()),
            ("AIRFLOW__API__PORT", port.to_string()),
            (
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
                format!("{url}/execution/"),
            ),
            (
                "AIRFLOW__API_AUTH__JWT_SECRET",
                "trellis-test-jwt-secret-0123456789abcdef".into(),
            ),
            (
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS",
                format!("{USERNAME}:admin"),
            ),
            (
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE",
                format!("{h}/passwords.json"),
            ),
            (
                "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST",
                bundles.to_string(),
            ),
            (
                "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_STORAGE_PATH",
                format!("{h}/bundles"),
            ),
            ("AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL", "1".into()),
            (
                "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL",
                "1".into(),
            ),
            ("AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC", "1".into()),
            (
                "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME",
                "0.2".into(),
            ),
            ("AIRFLOW__LOGGING__BASE_LOG_FOLDER", format!("{h}/logs")),
            (
                "AIRFLOW_CONN_TRELLIS_DAGS",
                aws(serde_json::json!({"endpoint_url": aws_url, "region_name": "us-east-1"})),
            ),
            (
                "AIRFLOW_CONN_AWS_DEFAULT",
                aws(serde_json::json!({"endpoint_url": aws_url, "region_name": "us-east-1"})),
            ),
            // Airflow's own AWS identity (MWAA's execution role), with
            // which the per-tenant connections assume the tenants' roles.
            ("AWS_ACCESS_KEY_ID", super::emulator::ACCESS_KEY_ID.into()),
            (
                "AWS_SECRET_ACCESS_KEY",
                super::emulator::SECRET_ACCESS_KEY.into(),
            ),
            ("NO_PROXY", "*".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let bin = PathBuf::from(python()).with_file_name("airflow");
        let migrate = Command::new(&bin)
            .args(["db", "migrate"])
            .envs(env.iter().cloned())
            .output()
            .unwrap_or_else(|e| {
                panic!(
                    "running {}: {e} (source scripts/env.sh first)",
                    bin.display()
                )
            });
        assert!(
            migrate.status.success(),
            "airflow db migrate: {}",
            String::from_utf8_lossy(&migrate.stderr)
        );
        let mut airflow = Airflow {
            url,
            home,
            children: Vec::new(),
        };
        for args in [
            &["api-server"][..],
            &["scheduler", "--skip-serve-logs"],
            &["dag-processor"],
        ] {
            let log = std::fs::File::create(airflow.home.path().join(format!("{}.log", args[0])))
                .unwrap();
            let child = Command::new(&bin)
                .args(args)
                .envs(env.iter().cloned())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .stdin(Stdio::null())
                .process_group(0)
                .spawn()
                .unwrap();
            airflow.children.push((args[0].to_owned(), child));
        }
        let started = Instant::now();
        while airflow.token().is_none() {
            assert!(
                started.elapsed() < Duration::from_secs(180),
                "Airflow's API server did not start: {}",
                airflow.log("api-server")
            );
            std::thread::sleep(Duration::from_millis(500));
        }
        airflow
    }

    /// A JWT from `POST /auth/token`, once the API server answers.
    pub fn token(&self) -> Option<String> {
        let reply = super::binary::request(
            &self.url,
            "POST",
            "/auth/token",
            &[],
            Some(serde_json::json!({"username": USERNAME, "password": PASSWORD})),
        )?;
        reply.1["access_token"].as_str().map(str::to_owned)
    }

    /// `GET` (or another method) on Airflow's REST API with a fresh token.
    pub fn api(
        &self,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let token = self.token().expect("an Airflow token");
        super::binary::request(
            &self.url,
            method,
            path,
            &[("Authorization", &format!("Bearer {token}"))],
            body,
        )
        .expect("Airflow answers")
    }

    /// The log of one of the processes so far (for failure messages).
    pub fn log(&self, process: &str) -> String {
        let mut text = String::new();
        if let Ok(mut f) = std::fs::File::open(self.home.path().join(format!("{process}.log"))) {
            let _ = f.read_to_string(&mut text);
        }
        let start = text.len().saturating_sub(4000);
        let start = (start..text.len())
            .find(|i| text.is_char_boundary(*i))
            .unwrap_or(0);
        text[start..].to_owned()
    }
}

impl Drop for Airflow {
    /// Stops every process group: SIGTERM, then SIGKILL after 10 seconds.
    fn drop(&mut self) {
        let groups: Vec<i32> = self.children.iter().map(|(_, c)| c.id() as i32).collect();
        for group in &groups {
            unsafe { libc::kill(-group, libc::SIGTERM) };
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        for (_, child) in &mut self.children {
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        for group in &groups {
            // Workers and servers the processes started are in their groups.
            unsafe { libc::kill(-group, libc::SIGKILL) };
        }
        for (_, child) in &mut self.children {
            let _ = child.wait();
        }
    }
}
