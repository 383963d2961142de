//! A tenant's datasets, as the data components left them: every member reads them.

use super::doc::{NotFound, TenantPath, Unauthorized};
use crate::access::TenantAccess;
use crate::datasets::{self, OpenError, StoredDataset};
use crate::state::AppState;
use crate::{Error, Result};
use app::api::datasets::{Dataset, DatasetDetail};
use axum::extract::{Path, State};
use utoipa_axum::{router::OpenApiRouter, routes};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(read))
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Internal(anyhow::anyhow!("reading datasets: {e}")))?
}

/// The tenant's datasets by name, with schema, size and which run task wrote each.
#[utoipa::path(get, path = "/tenants/{tenant}/datasets", tag = "datasets", params(TenantPath),
    responses((status = 200, body = [Dataset]), Unauthorized, NotFound))]
async fn list(
    State(state): State<AppState>,
    access: TenantAccess,
) -> Result<axum::Json<Vec<Dataset>>> {
    let root = state.engine.tenant_dir(&access.tenant).join("datasets");
    let list = blocking(move || Ok(datasets::list(&root).map_err(anyhow::Error::from)?)).await?;
    Ok(axum::Json(list))
}

/// One dataset: its schema, its first 50 rows, its first 50 rejected rows and its latest quality report.
#[utoipa::path(get, path = "/tenants/{tenant}/datasets/{name}", tag = "datasets",
    params(TenantPath, ("name" = String, Path, description = "The dataset's name")),
    responses((status = 200, body = DatasetDetail), Unauthorized, NotFound))]
async fn read(
    State(state): State<AppState>,
    access: TenantAccess,
    Path((_, name)): Path<(String, String)>,
) -> Result<axum::Json<DatasetDetail>> {
    let root = state.engine.tenant_dir(&access.tenant).join("datasets");
    let detail = blocking(move || {
        let dataset = StoredDataset::open(&root, &name).map_err(|e| match e {
            OpenError::Missing(name) => Error::NotFound(format!("dataset `{name}`")),
            broken => Error::Internal(anyhow::anyhow!("{broken}")),
        })?;
        Ok(dataset.detail().map_err(anyhow::Error::from)?)
    })
    .await?;
    Ok(axum::Json(detail))
}
