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
    /// Alert rules, channels and deliveries (see `alerts`).
    pub alerts: crate::alerts::Alerts,
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
        let alerts = crate::alerts::Alerts::new(
            engine.clone(),
            crate::alerts::AlertSettings {
                public_url: http.auth.public_url.clone(),
                ..Default::default()
            },
        )
        .expect("alerts without email need no settings");
        Self {
            auth,
            scheduler,
            alerts,
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

    /// Replaces the alerts' settings (the platform's SMTP server).
    pub fn with_alerts(mut self, settings: crate::alerts::AlertSettings) -> anyhow::Result<Self> {
        self.alerts = crate::alerts::Alerts::new(self.engine.clone(), settings)?;
        Ok(self)
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

/// What is wrong with the browser bundle under `site_root`, if it cannot
/// work: pages after the first are loaded on demand, which needs the bundle
/// split (`cargo leptos build --split`); built without it, the browser
/// cannot load the app at all.
pub fn bundle_problem(site_root: &std::path::Path) -> Option<String> {
    let pkg = site_root.join("pkg");
    let glue = std::fs::read_to_string(pkg.join("trellis.js")).ok()?;
    let split = pkg.join("__wasm_split_manifest.json").exists();
    (glue.contains("__wasm_split") && !split).then(|| {
        "the browser bundle was built without --split, so pages will not load in the browser: \
         build it with `cargo leptos build --split` (make run does)"
            .to_owned()
    })
}

#[cfg(test)]
mod tests {
    use super::bundle_problem;

    #[test]
    fn a_bundle_built_without_split_is_reported() {
        let site = tempfile::tempdir().unwrap();
        let pkg = site.path().join("pkg");
        std::fs::create_dir(&pkg).unwrap();
        // No bundle at all (an API-only server) is not a problem of this kind.
        assert_eq!(bundle_problem(site.path()), None);
        std::fs::write(
            pkg.join("trellis.js"),
            "import * as s from './__wasm_split.______________________.js';",
        )
        .unwrap();
        assert!(bundle_problem(site.path()).unwrap().contains("--split"));
        std::fs::write(pkg.join("__wasm_split_manifest.json"), "{}").unwrap();
        assert_eq!(bundle_problem(site.path()), None);
    }
}
