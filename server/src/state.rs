//! The state every handler shares.

use crate::config::HttpSettings;
use crate::db::Db;
use crate::engine::{Engine, EngineSettings};
use crate::events::EventBus;
use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use tokio_util::sync::CancellationToken;

#[derive(Clone, FromRef)]
pub struct AppState {
    pub db: Db,
    pub leptos: LeptosOptions,
    pub http: HttpSettings,
    pub engine: Engine,
    pub bus: EventBus,
    pub auth: std::sync::Arc<crate::access::AuthState>,
    pub scheduler: crate::scheduler::Scheduler,
    /// Open live streams per user, bounded by `http.streams`.
    pub streams: crate::streams::Streams,
    /// Cancelled when the server shuts down; long-lived tasks watch it.
    pub shutdown: CancellationToken,
}

impl AppState {
    pub fn new(db: Db, leptos: LeptosOptions, http: HttpSettings, engine: EngineSettings) -> Self {
        // Counting starts before anything happens (see `metrics`).
        crate::metrics::handle();
        let bus = EventBus::new(4096);
        let engine = Engine::new(db.clone(), bus.clone(), engine);
        let auth = crate::access::AuthState::new(http.auth.clone());
        let scheduler = crate::scheduler::Scheduler::new(
            db.clone(),
            engine.clone(),
            bus.clone(),
            std::sync::Arc::new(crate::scheduler::SystemClock),
            crate::scheduler::SchedulerSettings::default(),
        );
        let streams = crate::streams::Streams::new(http.streams.clone());
        Self {
            auth,
            scheduler,
            streams,
            db,
            leptos,
            http,
            engine,
            bus,
            shutdown: CancellationToken::new(),
        }
    }

    /// Opens a live stream for `access`: one of the caller's stream slots
    /// (429 when none is left), its access re-checked while it is open.
    pub fn stream_lease(
        &self,
        access: &crate::access::TenantAccess,
    ) -> crate::Result<crate::streams::Lease> {
        self.streams
            .lease(access, &self.db, &self.auth, &self.shutdown)
    }

    /// Replaces the scheduler: another clock (tests), other settings.
    pub fn with_scheduler(
        mut self,
        clock: std::sync::Arc<dyn crate::scheduler::Clock>,
        settings: crate::scheduler::SchedulerSettings,
    ) -> Self {
        self.scheduler = crate::scheduler::Scheduler::new(
            self.db.clone(),
            self.engine.clone(),
            self.bus.clone(),
            clock,
            settings,
        );
        self
    }
}

/// Leptos settings for a server listening on `addr` and serving the browser
/// bundle from `site_root`.
pub fn leptos_options(addr: std::net::SocketAddr, site_root: &std::path::Path) -> LeptosOptions {
    LeptosOptions::builder()
        .output_name("trellis")
        .site_root(site_root.to_string_lossy().into_owned())
        .site_pkg_dir("pkg")
        .site_addr(addr)
        .env(leptos::config::Env::PROD)
        .build()
}
