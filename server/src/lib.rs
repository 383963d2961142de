//! The Trellis server: configuration, HTTP API, storage, and (in later
//! modules) the engine and executors. `router(state)` is exactly what
//! production serves, so tests build and call it.

// Rendering the app's pages on the server walks their whole view type.
#![recursion_limit = "256"]

pub mod access;
pub mod airflow;
pub mod alerts;
pub mod aws;
pub mod client_ip;
pub mod components;
pub mod config;
pub mod datasets;
pub mod db;
pub mod demo;
pub mod engine;
pub mod error;
pub mod events;
pub mod executors;
pub mod http;
pub mod launch;
pub mod limiter;
pub mod metrics;
pub mod oidc_provider;
pub mod outbound;
pub mod quota;
pub mod scheduler;
pub mod secrets;
pub mod spark;
pub mod state;
pub mod streams;
pub mod telemetry;
pub mod templates;
pub mod time;

pub use error::{Error, Result};
pub use http::router;
pub use state::AppState;

use config::{HttpSettings, LogFormat, Secret, ServeArgs};
use db::bootstrap::{bootstrap, Bootstrap, ADMIN_USER};
use db::Db;
use tokio_util::sync::CancellationToken;

/// Sets up `tracing`: human-readable lines or JSON, filtered by `RUST_LOG`;
/// with an OTLP collector configured (see [`telemetry`]), the spans (each
/// request's) are exported to it too. Called inside the Tokio runtime.
pub fn init_tracing(format: LogFormat) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=info"));
    let (tracer, problem) = match telemetry::init() {
        Ok(tracer) => (tracer, None),
        Err(e) => (None, Some(e)),
    };
    let otel = tracer.map(|tracer| {
        tracing_opentelemetry::layer()
            .with_tracer(tracer)
            // A span is built when it closes, so that a request's is named
            // by its route, which is known only once it is routed.
            .with_context_activation(false)
            .with_threads(false)
            .with_location(false)
    });
    let registry = tracing_subscriber::registry().with(filter).with(otel);
    match format {
        LogFormat::Human => registry.with(tracing_subscriber::fmt::layer()).init(),
        LogFormat::Json => registry
            .with(tracing_subscriber::fmt::layer().json().flatten_event(true))
            .init(),
    }
    if let Some(e) = problem {
        tracing::error!(error = %e, "traces are not exported: the OTLP exporter could not be built");
    }
}

/// Connects to the database and applies pending migrations.
pub async fn open_db(url: &str) -> anyhow::Result<Db> {
    let db = Db::connect(url)
        .await
        .map_err(|e| anyhow::anyhow!("connecting to {}: {e}", db::redact(url)))?;
    db.migrate().await?;
    Ok(db)
}

/// `trellis serve`: migrate, bootstrap, serve until SIGINT/SIGTERM.
pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let db = open_db(&args.db.url()).await?;
    let created = bootstrap(
        &db,
        args.admin_password.as_ref().map(|p| p.expose().to_owned()),
    )
    .await?;
    if matches!(created, Bootstrap::Created { .. }) {
        if let Some((tenant, admin)) = db::bootstrap::demo_owner(&db).await? {
            demo::install(&db, &args.db.data_dir, &tenant, &admin).await?;
        }
    }

    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| anyhow::anyhow!("listening on {}: {e}", args.listen))?;
    let addr = listener.local_addr()?;
    let leptos = state::leptos_options(addr, &args.site_root);
    if let Some(problem) = state::bundle_problem(&args.site_root) {
        tracing::error!(site_root = %args.site_root.display(), "{problem}");
    }
    let engine = engine::EngineSettings {
        data_dir: args.db.data_dir.clone(),
        stop_grace: std::time::Duration::from_secs(args.stop_grace_seconds),
        trellis_bin: std::env::current_exe()?,
        log_limit: args.task_log_max_bytes,
        max_running: args.max_running_tasks,
        max_running_per_tenant: args.max_running_tasks_per_tenant,
        fetch_max_bytes: args.fetch_max_bytes,
        tenant_quota_bytes: args.tenant_quota_bytes,
        fetch_timeout: std::time::Duration::from_secs(args.fetch_timeout_seconds),
        task_timeout: std::time::Duration::from_secs(args.task_timeout_seconds.max(1)),
        process_limits: args.process_limits.limits(),
        sql_limits: args.sql_limits.limits(),
        outbound: outbound::Guard::new(args.outbound_allow.clone()),
        sealer: std::sync::Arc::new(secrets::Sealer::load(
            args.secret_key.as_ref().map(Secret::expose),
            &args.db.data_dir,
        )?),
        emr_polling: executors::emr::Polling {
            min: std::time::Duration::from_secs_f64(args.emr_poll_min_seconds.max(0.01)),
            max: std::time::Duration::from_secs_f64(
                args.emr_poll_max_seconds
                    .max(args.emr_poll_min_seconds)
                    .max(0.01),
            ),
        },
        aws: aws::Platform {
            allow_static_keys: args.allow_static_aws_keys,
            principal_arn: args.aws_principal_arn.clone(),
            credentials: None,
        },
        db_retry: std::time::Duration::from_secs(120),
        retention_days: args.retention_days,
    };
    let state = AppState::new(
        db,
        leptos,
        HttpSettings {
            max_body_bytes: args.max_body_bytes,
            upload_max_bytes: args.upload_max_bytes,
            auth: args.auth_settings(addr)?,
            streams: config::StreamSettings {
                max_per_user: args.max_streams_per_user.max(1),
                recheck: std::time::Duration::from_secs(args.stream_recheck_seconds.max(1)),
            },
            metrics_token: args.metrics_token.clone().filter(|t| !t.is_empty()),
        },
        engine,
    )
    .with_scheduler(
        std::sync::Arc::new(scheduler::SystemClock),
        scheduler::SchedulerSettings {
            grace: std::time::Duration::from_secs(args.schedule_grace_seconds),
            catchup_max: args.schedule_catchup_max.max(1),
            ..Default::default()
        },
    );
    let public_url = state.http.auth.public_url.clone();
    let state = state.with_alerts(alerts::AlertSettings {
        smtp_url: args.smtp_url.as_ref().map(|u| u.expose().to_owned()),
        smtp_from: args.smtp_from.clone(),
        public_url,
    })?;
    if let Some(settings) = args.airflow_settings(&state.http.auth.public_url)? {
        let airflow = airflow::Airflow::new(settings);
        airflow.spawn_readiness(state.db.clone(), state.shutdown.clone());
        state.engine.set_airflow(airflow);
    }
    state.engine.load_tenant_limits().await?;
    let lease = std::time::Duration::from_secs(args.server_lease_seconds.max(1));
    state.engine.heartbeat(lease).await?;
    let resumed = state.engine.recover().await?;
    if resumed > 0 {
        tracing::info!(resumed, "resumed unfinished runs");
    }
    let shutdown = state.shutdown.clone();
    state.engine.spawn_lease(lease, shutdown.clone());
    // Events committed by other servers reach this one's live streams.
    events::spawn_pg_bridge(
        args.db.url(),
        state.db.clone(),
        state.bus.clone(),
        shutdown.clone(),
    );
    // Stops received by another server reach the runs this one drives.
    state
        .engine
        .spawn_stop_watch(std::time::Duration::from_millis(500), shutdown.clone());
    state.scheduler.spawn(shutdown.clone());
    metrics::spawn_upkeep(shutdown.clone());
    state.alerts.spawn(shutdown.clone());
    state.engine.spawn_retention(
        std::time::Duration::from_secs(args.retention_sweep_seconds.max(1)),
        shutdown.clone(),
    );
    if let Some(provider) = &state.auth.oidc {
        provider.clone().spawn_refresh(shutdown.clone());
    }

    let engine = state.engine.clone();
    print_welcome(addr, &created);
    tracing::info!(%addr, "listening");
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(wait_for_signal(shutdown))
    .await?;
    engine.sign_off().await;
    telemetry::shutdown().await;
    tracing::info!("stopped");
    Ok(())
}

/// Tells the operator where Trellis runs and how to sign in. Written to
/// stdout without panicking if nobody reads it any more.
fn print_welcome(addr: std::net::SocketAddr, created: &Bootstrap) {
    use std::io::Write;
    let how = match created {
        Bootstrap::Created { generated_password: Some(password) } => format!(
            "Sign in as `{ADMIN_USER}` with password `{password}` (generated now and shown only this once; \
             set TRELLIS_ADMIN_PASSWORD before the first start to choose it)."
        ),
        Bootstrap::Created { generated_password: None } => {
            format!("Sign in as `{ADMIN_USER}` with the password from TRELLIS_ADMIN_PASSWORD.")
        }
        Bootstrap::AlreadyDone => format!("Sign in as `{ADMIN_USER}` with the password chosen at the first start."),
    };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "\nTrellis is running at http://{addr}\n{how}\nPress Ctrl+C to stop.\n"
    );
    let _ = out.flush();
}

/// Resolves on SIGINT or SIGTERM and cancels `token`, so background tasks end too.
async fn wait_for_signal(token: CancellationToken) {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
        _ = token.cancelled() => {},
    }
    tracing::info!("shutting down");
    token.cancel();
}
