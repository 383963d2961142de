//! Configuration, read once from flags and environment into typed settings.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

/// A configured secret (a password, a client secret, a key, a database URL
/// with its password): usable through [`Secret::expose`], never printed —
/// `Debug` shows `***`, so settings can be logged whole.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"***\"")
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Ok(Self::new(value))
    }
}

/// Trellis: self-service data-pipeline orchestration.
#[derive(Debug, Parser)]
#[command(name = "trellis", version, about)]
pub struct Cli {
    /// Log output format.
    #[arg(long, env = "TRELLIS_LOG_FORMAT", value_enum, default_value_t = LogFormat::Human, global = true)]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the server (applies pending migrations first).
    Serve(Box<ServeArgs>),
    /// Apply pending database migrations and exit.
    Migrate(DbArgs),
    /// Run one built-in component step (what the local executor spawns).
    #[command(subcommand)]
    Step(Step),
    /// The PySpark scripts of the data components: upload them to S3, write
    /// them out, or print what each component runs on EMR.
    #[command(subcommand)]
    Spark(crate::spark::SparkCommand),
}

/// The built-in components that run as `trellis step …`.
#[derive(Debug, Clone, Subcommand)]
pub enum Step {
    /// Do nothing and succeed.
    Noop,
    /// Wait, then succeed.
    Sleep {
        /// How long to wait, in seconds.
        #[arg(long, allow_negative_numbers = true)]
        seconds: f64,
    },
    /// Fail at once with a message on stderr.
    Fail {
        /// The error to report.
        #[arg(long, default_value = "failed on purpose")]
        message: String,
    },
    /// Read a CSV or JSON Lines file into a dataset.
    #[command(name = "ingest.file")]
    IngestFile(crate::components::ingest::IngestArgs),
    /// Check a dataset against quality rules.
    #[command(name = "quality.check")]
    QualityCheck(crate::components::quality::QualityArgs),
    /// Write the result of a SQL query over datasets as a dataset.
    #[command(name = "transform.sql")]
    TransformSql(crate::components::transform::TransformArgs),
    /// Write a dataset as CSV or JSON Lines to a file or URL.
    #[command(name = "export.file")]
    ExportFile(crate::components::export::ExportArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Human,
    /// One JSON object per line.
    Json,
}

/// Where the data lives.
#[derive(Debug, Clone, Args)]
pub struct DbArgs {
    /// Directory for the embedded database, task logs and datasets.
    #[arg(long, env = "TRELLIS_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,

    /// Database URL: `postgres://…` for PostgreSQL, `sqlite://…` for a
    /// specific SQLite file. Defaults to `<data-dir>/trellis.db`.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<Secret>,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub db: DbArgs,

    /// Address to listen on.
    #[arg(long, env = "TRELLIS_LISTEN", default_value = "127.0.0.1:3000")]
    pub listen: SocketAddr,

    /// Directory holding the built browser bundle (`pkg/…`), as written by
    /// `cargo leptos build`.
    #[arg(long, env = "TRELLIS_SITE_ROOT", default_value = "target/site")]
    pub site_root: PathBuf,

    /// Largest request body accepted, in bytes; larger bodies get 413.
    #[arg(long, env = "TRELLIS_MAX_BODY_BYTES", default_value_t = 2 * 1024 * 1024)]
    pub max_body_bytes: usize,

    /// Largest file accepted by an upload into a tenant's data folder, in
    /// bytes (the tenant's disk quota applies too); larger ones get 413.
    #[arg(long, env = "TRELLIS_UPLOAD_MAX_BYTES", default_value_t = 1 << 30)]
    pub upload_max_bytes: u64,

    /// Days ended runs (their events and task logs) are kept, unless a
    /// tenant has its own retention; 0 keeps them forever.
    #[arg(long, env = "TRELLIS_RETENTION_DAYS", default_value_t = 0)]
    pub retention_days: u32,

    /// Seconds between retention sweeps.
    #[arg(long, env = "TRELLIS_RETENTION_SWEEP_SECONDS", default_value_t = 3600)]
    pub retention_sweep_seconds: u64,

    /// When set, `GET /metrics` answers only `Authorization: Bearer <this>`.
    #[arg(long, env = "TRELLIS_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,

    /// Seconds a graceful stop waits after SIGTERM before it kills a task.
    #[arg(long, env = "TRELLIS_STOP_GRACE_SECONDS", default_value_t = 10)]
    pub stop_grace_seconds: u64,

    /// Tasks running at once on this server, all tenants together.
    #[arg(long, env = "TRELLIS_MAX_RUNNING_TASKS", default_value_t = 64)]
    pub max_running_tasks: usize,

    /// Tasks running at once for any one tenant (tenants take turns).
    #[arg(
        long,
        env = "TRELLIS_MAX_RUNNING_TASKS_PER_TENANT",
        default_value_t = 16
    )]
    pub max_running_tasks_per_tenant: usize,

    /// Live streams (run and tenant event streams, log following) one user
    /// may have open at once on this server; more answer 429.
    #[arg(long, env = "TRELLIS_MAX_STREAMS_PER_USER", default_value_t = 20)]
    pub max_streams_per_user: usize,

    /// How often an open live stream checks again that its caller may still
    /// read it (session or token live, user enabled, still a member), in
    /// seconds; a stream whose access is gone ends.
    #[arg(long, env = "TRELLIS_STREAM_RECHECK_SECONDS", default_value_t = 30)]
    pub stream_recheck_seconds: u64,

    /// Largest task log, in bytes; further output is cut off with a marker.
    #[arg(long, env = "TRELLIS_TASK_LOG_MAX_BYTES", default_value_t = 10 * 1024 * 1024)]
    pub task_log_max_bytes: u64,

    /// Largest file a data step downloads from a URL, in bytes.
    #[arg(long, env = "TRELLIS_FETCH_MAX_BYTES", default_value_t = 1 << 30)]
    pub fetch_max_bytes: u64,

    /// Bytes each tenant's folder (datasets, data files, exports, task logs)
    /// may hold, unless a platform admin gives the tenant its own quota; a
    /// data step that would go past it fails. 0: unlimited. Default 50 GiB.
    #[arg(long, env = "TRELLIS_TENANT_QUOTA_BYTES", default_value_t = 50 << 30)]
    pub tenant_quota_bytes: u64,

    /// Longest a data step's download or upload may take, in seconds.
    #[arg(long, env = "TRELLIS_FETCH_TIMEOUT_SECONDS", default_value_t = 300)]
    pub fetch_timeout_seconds: u64,

    /// Longest any task may run, in seconds: the timeout of every component
    /// that sets none, and the cap of those that set a longer one.
    #[arg(long, env = "TRELLIS_TASK_TIMEOUT_SECONDS", default_value_t = 6 * 3600)]
    pub task_timeout_seconds: u64,

    #[command(flatten)]
    pub process_limits: ProcessLimitArgs,

    #[command(flatten)]
    pub sql_limits: SqlLimitArgs,
    /// Internal addresses that data steps' URLs and connections' AWS
    /// endpoints may reach, comma-separated: address ranges, addresses, host
    /// names (e.g. `127.0.0.1/32,10.0.0.0/8,internal.example`). Loopback,
    /// link-local (cloud metadata), private, carrier-grade NAT, unique-local,
    /// multicast and other special addresses are refused otherwise.
    #[arg(long, env = "TRELLIS_OUTBOUND_ALLOW", default_value = "")]
    pub outbound_allow: crate::outbound::Allow,

    /// The SMTP server alert emails go through: `smtp://host:25` (no TLS),
    /// `smtp://host:587?tls=required` (STARTTLS), `smtps://user:password@host`
    /// (TLS). Without it, email channels cannot be made.
    #[arg(long, env = "TRELLIS_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<Secret>,

    /// The sender of alert emails, such as `Trellis <alerts@example.com>`.
    #[arg(long, env = "TRELLIS_SMTP_FROM")]
    pub smtp_from: Option<String>,

    /// The address users reach Trellis at, e.g. `https://trellis.example.com`.
    /// With `https` the session cookie is marked `Secure`; single sign-on
    /// redirects back to it. Defaults to `http://<listen address>`.
    #[arg(long, env = "TRELLIS_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Hours a sign-in lasts at most.
    #[arg(long, env = "TRELLIS_SESSION_HOURS", default_value_t = 12)]
    pub session_hours: u32,

    /// Minutes without a request after which a session ends.
    #[arg(long, env = "TRELLIS_SESSION_IDLE_MINUTES", default_value_t = 60)]
    pub session_idle_minutes: u32,

    /// Sign-in attempts allowed per minute for one username, and (five
    /// times as many) for one client address; more answer 429.
    #[arg(long, env = "TRELLIS_LOGIN_ATTEMPTS_PER_MINUTE", default_value_t = 10)]
    pub login_attempts_per_minute: u32,

    /// Proxies whose `X-Forwarded-For` is believed, comma-separated CIDR
    /// blocks or addresses (`10.0.0.0/8,192.0.2.7`). A request from one of
    /// them counts as coming from the right-most forwarded address that is
    /// not itself listed; any other request counts as coming from its
    /// socket's address, whatever it forwards. Empty: no proxy is trusted.
    #[arg(
        long,
        env = "TRELLIS_TRUSTED_PROXIES",
        value_delimiter = ',',
        value_parser = crate::client_ip::parse_proxy
    )]
    pub trusted_proxies: Vec<ipnet::IpNet>,

    #[command(flatten)]
    pub oidc: OidcArgs,

    #[command(flatten)]
    pub airflow: AirflowArgs,

    /// Seconds before a watched EMR step's state is first read; each step's
    /// interval then grows by half per read up to `--emr-poll-max-seconds`.
    /// One poller per cluster reads the steps that are due, ten per
    /// `ListSteps` call.
    #[arg(long, env = "TRELLIS_EMR_POLL_MIN_SECONDS", default_value_t = 2.0)]
    pub emr_poll_min_seconds: f64,

    /// Longest interval between reads of a watched EMR step's state.
    #[arg(long, env = "TRELLIS_EMR_POLL_MAX_SECONDS", default_value_t = 30.0)]
    pub emr_poll_max_seconds: f64,

    /// How long a server may miss heartbeats before another server on the
    /// same database takes over its unfinished runs.
    #[arg(long, env = "TRELLIS_SERVER_LEASE_SECONDS", default_value_t = 30)]
    pub server_lease_seconds: u64,

    /// How late a schedule's fire may still start a run when catch-up is
    /// `none` (after a restart, say); older fires are recorded as missed.
    #[arg(long, env = "TRELLIS_SCHEDULE_GRACE_SECONDS", default_value_t = 60)]
    pub schedule_grace_seconds: u64,

    /// Most missed fires one schedule starts runs for with catch-up `all`
    /// (the newest are kept).
    #[arg(long, env = "TRELLIS_SCHEDULE_CATCHUP_MAX", default_value_t = 50)]
    pub schedule_catchup_max: usize,

    /// Let tenant connections carry static AWS keys, which then call
    /// `AssumeRole` in place of the server's own credentials. Off: a
    /// connection with keys is refused when saved, and one stored with keys
    /// is refused when used. Either way every connection assumes a role.
    #[arg(long, env = "TRELLIS_ALLOW_STATIC_AWS_KEYS")]
    pub allow_static_aws_keys: bool,

    /// The Trellis server's AWS principal (the IAM role or user whose
    /// credentials the server runs with), e.g.
    /// `arn:aws:iam::111111111111:role/trellis-server`: tenants' roles must
    /// trust it. Shown in the trust policy on the Connections page; without
    /// it the policy holds a placeholder. The server's credentials come from
    /// AWS's default chain (`AWS_ACCESS_KEY_ID`…, a profile, an instance or
    /// task role) and are used for nothing but assuming tenants' roles (and
    /// the platform's own Airflow uploads).
    #[arg(long, env = "TRELLIS_AWS_PRINCIPAL_ARN")]
    pub aws_principal_arn: Option<String>,

    /// Key for secrets at rest (connection keys): base64 of 32 random bytes,
    /// e.g. `openssl rand -base64 32`. Without it, one is made on first
    /// start in `<data-dir>/secret.key`; servers sharing a database must
    /// share the key, so set it for them.
    #[arg(long, env = "TRELLIS_SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<Secret>,

    /// Password for the `admin` user created on first start. When unset, one
    /// is generated and printed once.
    #[arg(long, env = "TRELLIS_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<Secret>,
}

impl DbArgs {
    /// The database URL to connect to.
    pub fn url(&self) -> String {
        match &self.database_url {
            Some(url) => url.expose().to_owned(),
            None => format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("trellis.db").display()
            ),
        }
    }
}

/// Resource limits (rlimits) of each process the local executor starts,
/// set in the child before it runs the component's program; 0 is unlimited.
#[derive(Debug, Clone, Args)]
pub struct ProcessLimitArgs {
    /// Largest address space (virtual memory) of a task's process, in bytes.
    /// JVM-based components (Spark, Java) reserve far more than they use:
    /// raise it, or 0 for unlimited, when they run locally.
    #[arg(long, env = "TRELLIS_TASK_MAX_ADDRESS_SPACE_BYTES", default_value_t = 4 << 30)]
    pub task_max_address_space_bytes: u64,

    /// CPU seconds a task's process may use (all its threads together);
    /// past it the process gets SIGXCPU.
    #[arg(long, env = "TRELLIS_TASK_MAX_CPU_SECONDS", default_value_t = 6 * 3600)]
    pub task_max_cpu_seconds: u64,

    /// Largest file a task's process may write, in bytes; past it the
    /// process gets SIGXFSZ.
    #[arg(long, env = "TRELLIS_TASK_MAX_FILE_BYTES", default_value_t = 10 << 30)]
    pub task_max_file_bytes: u64,

    /// Files a task's process may hold open at once.
    #[arg(long, env = "TRELLIS_TASK_MAX_OPEN_FILES", default_value_t = 1024)]
    pub task_max_open_files: u64,

    /// Processes and threads the server's user may have when a task's
    /// process starts another (RLIMIT_NPROC counts all of that user's, not
    /// the task's own, and does not apply to root).
    #[arg(long, env = "TRELLIS_TASK_MAX_PROCESSES", default_value_t = 4096)]
    pub task_max_processes: u64,
}

impl ProcessLimitArgs {
    pub fn limits(&self) -> crate::executors::local::ProcessLimits {
        crate::executors::local::ProcessLimits {
            address_space_bytes: self.task_max_address_space_bytes,
            cpu_seconds: self.task_max_cpu_seconds,
            file_bytes: self.task_max_file_bytes,
            open_files: self.task_max_open_files,
            processes: self.task_max_processes,
        }
    }
}

/// Bounds of one `transform.sql` query.
#[derive(Debug, Clone, Args)]
pub struct SqlLimitArgs {
    /// Longest a `transform.sql` query may run (writing its result
    /// included), in seconds.
    #[arg(long, env = "TRELLIS_SQL_TIMEOUT_SECONDS", default_value_t = 600)]
    pub sql_timeout_seconds: u64,

    /// Most rows a `transform.sql` query may write.
    #[arg(long, env = "TRELLIS_SQL_MAX_ROWS", default_value_t = 100_000_000)]
    pub sql_max_rows: u64,

    /// Largest dataset a `transform.sql` query may write, in bytes.
    #[arg(long, env = "TRELLIS_SQL_MAX_BYTES", default_value_t = 4 << 30)]
    pub sql_max_bytes: u64,
}

impl SqlLimitArgs {
    pub fn limits(&self) -> crate::components::env::SqlLimits {
        crate::components::env::SqlLimits {
            timeout: std::time::Duration::from_secs(self.sql_timeout_seconds.max(1)),
            max_rows: self.sql_max_rows.max(1),
            max_bytes: self.sql_max_bytes.max(1),
        }
    }
}

/// Orchestration on Airflow 3 / Amazon MWAA for processes that choose it. Off
/// unless a URL or an MWAA environment is given.
#[derive(Debug, Clone, Args)]
pub struct AirflowArgs {
    /// Airflow's API server, e.g. `https://airflow.example.com` (its REST
    /// API v2 and `/auth/token` live under it), for a self-managed Airflow.
    #[arg(
        long = "airflow-url",
        env = "TRELLIS_AIRFLOW_URL",
        conflicts_with = "mwaa_environment"
    )]
    pub url: Option<String>,

    /// An Amazon MWAA environment's name: its REST API is called through
    /// the AWS API (`InvokeRestApi`, signed with the server's own AWS
    /// credentials) and its DAGs folder read from `GetEnvironment`.
    #[arg(
        long = "airflow-mwaa-environment",
        env = "TRELLIS_AIRFLOW_MWAA_ENVIRONMENT"
    )]
    pub mwaa_environment: Option<String>,

    /// The MWAA environment's region (its DAGs bucket is in the same one).
    #[arg(
        long = "airflow-mwaa-region",
        env = "TRELLIS_AIRFLOW_MWAA_REGION",
        default_value = "us-east-1"
    )]
    pub mwaa_region: String,

    /// The MWAA API's endpoint, when not AWS's own (a private endpoint, or
    /// an emulator): its host is used as given.
    #[arg(
        long = "airflow-mwaa-endpoint-url",
        env = "TRELLIS_AIRFLOW_MWAA_ENDPOINT_URL"
    )]
    pub mwaa_endpoint_url: Option<String>,

    /// The Airflow user Trellis signs in as (it deploys, triggers and stops).
    #[arg(
        long = "airflow-username",
        env = "TRELLIS_AIRFLOW_USERNAME",
        requires = "url"
    )]
    pub username: Option<String>,

    #[arg(
        long = "airflow-password",
        env = "TRELLIS_AIRFLOW_PASSWORD",
        hide_env_values = true
    )]
    pub password: Option<Secret>,

    /// Where Airflow reads DAG files from (an `S3DagBundle`, or to override
    /// an MWAA environment's DAGs folder): `s3://bucket/prefix`. Uploads use
    /// the server's own AWS credentials (the default chain).
    #[arg(long = "airflow-dags", env = "TRELLIS_AIRFLOW_DAGS")]
    pub dags: Option<String>,

    /// S3 endpoint for the uploads, when not AWS's own (path-style).
    #[arg(
        long = "airflow-s3-endpoint-url",
        env = "TRELLIS_AIRFLOW_S3_ENDPOINT_URL"
    )]
    pub s3_endpoint_url: Option<String>,

    /// The DAGs bucket's region.
    #[arg(
        long = "airflow-s3-region",
        env = "TRELLIS_AIRFLOW_S3_REGION",
        default_value = "us-east-1"
    )]
    pub s3_region: String,

    /// How long a version superseded by a later one keeps its DAG file in
    /// the bucket and its DAG unpaused (seconds); then, once it has no
    /// active run and no schedule pinned to it, it is retired.
    #[arg(
        long = "airflow-retire-after-seconds",
        env = "TRELLIS_AIRFLOW_RETIRE_AFTER_SECONDS",
        default_value_t = 3600.0
    )]
    pub retire_after_seconds: f64,

    /// How often Trellis asks Airflow whether a deployed file is parsed yet,
    /// and reconciles the state of runs on Airflow (seconds).
    #[arg(
        long = "airflow-poll-seconds",
        env = "TRELLIS_AIRFLOW_POLL_SECONDS",
        default_value_t = 2.0
    )]
    pub poll_seconds: f64,
}

/// Single sign-on through an OpenID Connect provider (authorization code
/// flow with PKCE). Off unless an issuer is given.
#[derive(Debug, Clone, Args)]
pub struct OidcArgs {
    /// The provider's issuer URL (its discovery document is read from
    /// `<issuer>/.well-known/openid-configuration` at the first sign-in).
    #[arg(long = "oidc-issuer", env = "TRELLIS_OIDC_ISSUER")]
    pub issuer: Option<String>,

    /// The client id Trellis is registered under at the provider.
    #[arg(
        long = "oidc-client-id",
        env = "TRELLIS_OIDC_CLIENT_ID",
        requires = "issuer"
    )]
    pub client_id: Option<String>,

    /// The client secret (leave out for a public client).
    #[arg(
        long = "oidc-client-secret",
        env = "TRELLIS_OIDC_CLIENT_SECRET",
        hide_env_values = true
    )]
    pub client_secret: Option<Secret>,

    /// A claim listing memberships as `<tenant slug>:<role>` strings; on each
    /// sign-in the user's memberships are set to exactly these.
    #[arg(long = "oidc-roles-claim", env = "TRELLIS_OIDC_ROLES_CLAIM")]
    pub roles_claim: Option<String>,

    /// Just-in-time membership: a user signing in for the first time joins
    /// this tenant (with `--oidc-default-role`) when the roles claim is not used.
    #[arg(long = "oidc-default-tenant", env = "TRELLIS_OIDC_DEFAULT_TENANT")]
    pub default_tenant: Option<String>,

    /// The role of just-in-time members.
    #[arg(
        long = "oidc-default-role",
        env = "TRELLIS_OIDC_DEFAULT_ROLE",
        default_value = "viewer"
    )]
    pub default_role: String,

    /// The claim whose value becomes the Trellis username.
    #[arg(
        long = "oidc-username-claim",
        env = "TRELLIS_OIDC_USERNAME_CLAIM",
        default_value = "preferred_username"
    )]
    pub username_claim: String,

    /// The sign-in button's label.
    #[arg(
        long = "oidc-label",
        env = "TRELLIS_OIDC_LABEL",
        default_value = "Sign in with single sign-on"
    )]
    pub label: String,

    /// How often the provider's metadata and signing keys are read again
    /// (they are also read again, at most every 30 s, when an ID token's
    /// signature does not verify with the keys held).
    #[arg(
        long = "oidc-refresh-seconds",
        env = "TRELLIS_OIDC_REFRESH_SECONDS",
        default_value_t = 3600
    )]
    pub refresh_seconds: u64,
}

/// What the HTTP layer needs to know, independent of how it was configured.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    pub max_body_bytes: usize,
    /// Largest upload into a tenant's data folder.
    pub upload_max_bytes: u64,
    pub auth: AuthSettings,
    pub streams: StreamSettings,
    /// The bearer token `GET /metrics` asks for; open without one.
    pub metrics_token: Option<String>,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            max_body_bytes: 2 * 1024 * 1024,
            upload_max_bytes: 1 << 30,
            auth: AuthSettings::default(),
            streams: StreamSettings::default(),
            metrics_token: None,
        }
    }
}

/// Bounds of live streams (run and tenant events, log following).
#[derive(Debug, Clone)]
pub struct StreamSettings {
    /// Streams one user may have open at once on this server.
    pub max_per_user: usize,
    /// How often an open stream checks its caller's access again.
    pub recheck: std::time::Duration,
}

impl Default for StreamSettings {
    fn default() -> Self {
        Self {
            max_per_user: 20,
            recheck: std::time::Duration::from_secs(30),
        }
    }
}

/// Sessions, sign-in limits and single sign-on.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    pub session_lifetime: std::time::Duration,
    pub idle_timeout: std::time::Duration,
    /// Mark cookies `Secure` (Trellis is reached over https).
    pub secure_cookies: bool,
    pub login_attempts_per_minute: u32,
    /// Most usernames (and, apart, client addresses) the sign-in limits
    /// track at once.
    pub login_tracked_keys: usize,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Where users reach Trellis, without a trailing `/`.
    pub public_url: String,
    pub oidc: Option<OidcSettings>,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            session_lifetime: std::time::Duration::from_secs(12 * 3600),
            idle_timeout: std::time::Duration::from_secs(3600),
            secure_cookies: false,
            login_attempts_per_minute: 10,
            login_tracked_keys: 10_000,
            trusted_proxies: Vec::new(),
            public_url: "http://127.0.0.1:3000".into(),
            oidc: None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct OidcSettings {
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Option<Secret>,
    pub roles_claim: Option<String>,
    pub default_tenant: Option<String>,
    pub default_role: app::types::Role,
    pub username_claim: String,
    pub label: String,
    /// How often the provider's metadata and keys are read again.
    pub refresh: std::time::Duration,
}

impl ServeArgs {
    /// The Airflow settings these flags describe (`None`: no Airflow), for
    /// a server users reach at `public_url`.
    pub fn airflow_settings(
        &self,
        public_url: &str,
    ) -> anyhow::Result<Option<crate::airflow::AirflowSettings>> {
        use crate::airflow::{Door, Folder};
        let a = &self.airflow;
        let dags = a
            .dags
            .as_deref()
            .map(|dags| {
                Folder::parse(dags).ok_or_else(|| {
                    anyhow::anyhow!("TRELLIS_AIRFLOW_DAGS `{dags}` is not s3://bucket/prefix")
                })
            })
            .transpose()?;
        let (door, dags, s3_region) = match (&a.url, &a.mwaa_environment) {
            (None, None) => return Ok(None),
            (Some(url), _) => {
                let (Some(username), Some(password), Some(dags)) = (&a.username, &a.password, dags)
                else {
                    anyhow::bail!(
                        "TRELLIS_AIRFLOW_URL needs TRELLIS_AIRFLOW_USERNAME, TRELLIS_AIRFLOW_PASSWORD and TRELLIS_AIRFLOW_DAGS"
                    );
                };
                let door = Door::Direct {
                    url: url.trim_end_matches('/').to_owned(),
                    username: username.clone(),
                    password: password.clone(),
                };
                (door, Some(dags), a.s3_region.clone())
            }
            (None, Some(environment)) => {
                let door = Door::Mwaa {
                    environment: environment.clone(),
                    region: a.mwaa_region.clone(),
                    endpoint_url: a.mwaa_endpoint_url.clone(),
                };
                // MWAA's bucket is in the environment's region.
                (door, dags, a.mwaa_region.clone())
            }
        };
        Ok(Some(crate::airflow::AirflowSettings {
            door,
            dags,
            credentials: None,
            s3_endpoint_url: a.s3_endpoint_url.clone(),
            s3_region,
            poll: std::time::Duration::from_secs_f64(a.poll_seconds.max(0.1)),
            retire_after: std::time::Duration::try_from_secs_f64(a.retire_after_seconds.max(0.0))
                .unwrap_or(std::time::Duration::MAX),
            public_url: public_url.to_owned(),
        }))
    }

    /// The sign-in settings these flags describe, for a server at `addr`.
    pub fn auth_settings(&self, addr: SocketAddr) -> anyhow::Result<AuthSettings> {
        let public_url = self
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{addr}"))
            .trim_end_matches('/')
            .to_owned();
        let oidc = match (&self.oidc.issuer, &self.oidc.client_id) {
            (Some(issuer), Some(client_id)) => Some(OidcSettings {
                issuer: issuer.clone(),
                client_id: client_id.clone(),
                client_secret: self.oidc.client_secret.clone(),
                roles_claim: self.oidc.roles_claim.clone(),
                default_tenant: self.oidc.default_tenant.clone(),
                default_role: self.oidc.default_role.parse().map_err(|_| {
                    anyhow::anyhow!(
                        "TRELLIS_OIDC_DEFAULT_ROLE must be viewer, editor or tenant_admin, not `{}`",
                        self.oidc.default_role
                    )
                })?,
                username_claim: self.oidc.username_claim.clone(),
                label: self.oidc.label.clone(),
                refresh: std::time::Duration::from_secs(self.oidc.refresh_seconds.max(1)),
            }),
            (Some(_), None) => anyhow::bail!("TRELLIS_OIDC_ISSUER is set but TRELLIS_OIDC_CLIENT_ID is not"),
            _ => None,
        };
        Ok(AuthSettings {
            session_lifetime: std::time::Duration::from_secs(u64::from(self.session_hours) * 3600),
            idle_timeout: std::time::Duration::from_secs(u64::from(self.session_idle_minutes) * 60),
            secure_cookies: public_url.starts_with("https://"),
            login_attempts_per_minute: self.login_attempts_per_minute.max(1),
            login_tracked_keys: AuthSettings::default().login_tracked_keys,
            trusted_proxies: self.trusted_proxies.clone(),
            public_url,
            oidc,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_to_sqlite_under_the_data_dir() {
        let db = DbArgs {
            data_dir: "/tmp/x".into(),
            database_url: None,
        };
        assert_eq!(db.url(), "sqlite:///tmp/x/trellis.db?mode=rwc");
    }

    #[test]
    fn serve_flags_parse() {
        let cli = Cli::try_parse_from([
            "trellis",
            "serve",
            "--listen",
            "127.0.0.1:4000",
            "--database-url",
            "postgres://u@127.0.0.1/db",
            "--log-format",
            "json",
        ])
        .unwrap();
        assert_eq!(cli.log_format, LogFormat::Json);
        let Command::Serve(args) = cli.command else {
            panic!("expected serve")
        };
        assert_eq!(args.listen.port(), 4000);
        assert_eq!(args.db.url(), "postgres://u@127.0.0.1/db");
    }

    #[test]
    fn airflow_is_a_url_with_a_user_or_an_mwaa_environment() {
        let serve = |args: &[&str]| {
            let mut all = vec!["trellis", "serve"];
            all.extend_from_slice(args);
            match Cli::try_parse_from(all).map(|c| c.command) {
                Ok(Command::Serve(args)) => Ok(args),
                Ok(_) => panic!("expected serve"),
                Err(e) => Err(e.to_string()),
            }
        };
        let mwaa = serve(&[
            "--airflow-mwaa-environment",
            "analytics",
            "--airflow-mwaa-region",
            "eu-west-1",
        ])
        .unwrap()
        .airflow_settings("http://x")
        .unwrap()
        .unwrap();
        assert!(
            matches!(&mwaa.door, crate::airflow::Door::Mwaa { environment, region, .. }
                if environment == "analytics" && region == "eu-west-1"),
            "{mwaa:?}"
        );
        assert_eq!(mwaa.dags, None, "asked of the environment");
        assert_eq!(
            mwaa.s3_region, "eu-west-1",
            "the bucket is in the environment's region"
        );
        let both = serve(&[
            "--airflow-url",
            "http://a",
            "--airflow-mwaa-environment",
            "analytics",
        ])
        .unwrap_err();
        assert!(both.contains("cannot be used with"), "{both}");
        let bare = serve(&["--airflow-url", "http://a"])
            .unwrap()
            .airflow_settings("http://x");
        assert!(bare
            .unwrap_err()
            .to_string()
            .contains("needs TRELLIS_AIRFLOW_USERNAME"));
        let none = serve(&[]).unwrap().airflow_settings("http://x").unwrap();
        assert!(none.is_none());
    }

    #[test]
    fn settings_never_print_their_secrets() {
        let cli = Cli::try_parse_from([
            "trellis",
            "serve",
            "--database-url",
            "postgres://u:db-pw-1@127.0.0.1/db",
            "--secret-key",
            "c2VjcmV0LWtleS0y",
            "--admin-password",
            "admin-pw-3",
            "--airflow-url",
            "http://127.0.0.1:8080",
            "--airflow-username",
            "trellis",
            "--airflow-password",
            "airflow-pw-4",
            "--airflow-dags",
            "s3://dags/trellis",
            "--oidc-issuer",
            "http://127.0.0.1:9000",
            "--oidc-client-id",
            "trellis",
            "--oidc-client-secret",
            "client-secret-5",
        ])
        .unwrap();
        let Command::Serve(args) = &cli.command else {
            panic!("expected serve")
        };
        let addr: SocketAddr = "127.0.0.1:3000".parse().unwrap();
        let printed = [
            format!("{cli:?}"),
            format!("{:?}", args.auth_settings(addr).unwrap()),
            format!("{:?}", args.airflow_settings("http://x").unwrap()),
        ];
        for text in &printed {
            for secret in [
                "db-pw-1",
                "c2VjcmV0LWtleS0y",
                "admin-pw-3",
                "airflow-pw-4",
                "client-secret-5",
            ] {
                assert!(!text.contains(secret), "{secret} printed in {text}");
            }
        }
        assert!(printed[2].contains("password: \"***\""), "{}", printed[2]);
        // Still usable where they are needed.
        assert_eq!(args.db.url(), "postgres://u:db-pw-1@127.0.0.1/db");
        let oidc = args.auth_settings(addr).unwrap().oidc.unwrap();
        assert_eq!(oidc.client_secret.unwrap().expose(), "client-secret-5");
    }

    #[test]
    fn resource_limits_default_to_the_documented_values() {
        let cli = Cli::try_parse_from(["trellis", "serve"]).unwrap();
        let Command::Serve(args) = cli.command else {
            panic!("expected serve")
        };
        assert_eq!(args.task_timeout_seconds, 6 * 3600);
        assert_eq!(
            args.process_limits.limits(),
            crate::executors::local::ProcessLimits::default()
        );
        assert_eq!(
            args.sql_limits.limits(),
            crate::components::env::SqlLimits::default()
        );

        let cli = Cli::try_parse_from([
            "trellis",
            "serve",
            "--task-max-address-space-bytes",
            "0",
            "--sql-timeout-seconds",
            "60",
        ])
        .unwrap();
        let Command::Serve(args) = cli.command else {
            panic!("expected serve")
        };
        assert_eq!(args.process_limits.limits().address_space_bytes, 0);
        assert_eq!(
            args.sql_limits.limits().timeout,
            std::time::Duration::from_secs(60)
        );
    }

    #[test]
    fn trusted_proxies_are_a_list_of_blocks_checked_at_start() {
        let parse = |list: &str| {
            Cli::try_parse_from(["trellis", "serve", "--trusted-proxies", list]).map(|cli| {
                let Command::Serve(args) = cli.command else {
                    panic!("expected serve")
                };
                let addr: SocketAddr = "127.0.0.1:3000".parse().unwrap();
                args.auth_settings(addr).unwrap().trusted_proxies
            })
        };
        let proxies = parse("10.0.0.0/8, 192.0.2.7,fd00::/8").unwrap();
        let shown: Vec<String> = proxies.iter().map(|p| p.to_string()).collect();
        assert_eq!(shown, ["10.0.0.0/8", "192.0.2.7/32", "fd00::/8"]);
        let refused = parse("10.0.0.0/8,proxy.local").unwrap_err().to_string();
        assert!(refused.contains("proxy.local"), "{refused}");
    }

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
