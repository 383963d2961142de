//! What the benchmarks share: the application over a fresh SQLite database
//! with the demo tenant and `admin`/`pw`.

use server::config::HttpSettings;
use std::path::Path;
use std::time::Duration;

pub async fn app_state(dir: &Path, max_running_per_tenant: usize) -> server::AppState {
    let url = format!("sqlite://{}?mode=rwc", dir.join("bench.db").display());
    let db = server::open_db(&url).await.unwrap();
    server::db::bootstrap::bootstrap(&db, Some("pw".into()))
        .await
        .unwrap();
    let leptos =
        server::state::leptos_options("127.0.0.1:0".parse().unwrap(), Path::new("target/site"));
    let engine = server::engine::EngineSettings {
        data_dir: dir.to_owned(),
        stop_grace: Duration::from_secs(10),
        trellis_bin: env!("CARGO_BIN_EXE_trellis").into(),
        log_limit: 1 << 20,
        max_running: 64,
        max_running_per_tenant,
        fetch_max_bytes: 1 << 30,
        fetch_timeout: Duration::from_secs(300),
        sealer: std::sync::Arc::new(server::secrets::Sealer::random()),
        emr_polling: Default::default(),
    };
    server::AppState::new(db, leptos, HttpSettings::default(), engine)
}
